"""Optimizers and learning-rate schedules: trainlab's optax chains against optax used directly,
against the update rules of the lectures, and the schedules against their formulas."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from trainlab.config import GROUPS
from trainlab.regularizers import weight_mask

STEPS = 6


def opt_cfg(name: str, **fields):
    return GROUPS["optimizer"][name](name=name, **fields)


def sched_cfg(name: str = "constant", **fields):
    return GROUPS["schedule"][name](name=name, **fields)


def make_optimizer(cfg, schedule_cfg, steps_per_epoch, total_steps):
    """What the program builds: the optimizer with its schedule."""
    return cfg.make(schedule_cfg.make(cfg.lr, steps_per_epoch, total_steps))


def make_schedule(cfg, a0, steps_per_epoch, total_steps):
    return cfg.make(a0, steps_per_epoch, total_steps)


def trainlab_tx(name: str, steps_per_epoch=1, total_steps=STEPS, schedule=None, **fields):
    return make_optimizer(opt_cfg(name, **fields), schedule or sched_cfg(), steps_per_epoch,
                          total_steps)


# A small quadratic over an MLP-shaped pytree: f = sum a/2 p^2 + c p, a different curvature
# per leaf, so that adaptive methods and momentum take visibly different paths.
A = {"w": 3.0, "b": 0.5}
C = {"w": -1.0, "b": 2.0}


def start() -> dict:
    key = jax.random.PRNGKey(0)
    return {"layers": [
        {"w": jax.random.normal(key, (3, 2), jnp.float64), "b": jnp.array([0.5, -1.0])},
        {"w": jnp.array([[2.0], [-0.3]]), "b": jnp.array([0.1])},
    ]}


def loss(params) -> jax.Array:
    return sum((A[name] / 2 * v**2 + C[name] * v).sum()
               for layer in params["layers"] for name, v in layer.items())


def trajectory(tx, params=None, steps=STEPS, grad=None) -> list[dict]:
    """The params after each of ``steps`` updates of ``tx`` on the quadratic (or with
    gradients from ``grad``)."""
    params = start() if params is None else params
    grad = grad or jax.grad(loss)
    state, path = tx.init(params), []
    for _ in range(steps):
        updates, state = tx.update(grad(params), state, params)
        params = optax.apply_updates(params, updates)
        path.append(params)
    return path


def assert_same_path(a: list, b: list, rtol=1e-12, atol=1e-14):
    assert len(a) == len(b)
    for step, (pa, pb) in enumerate(zip(a, b, strict=True)):
        for x, y in zip(jax.tree_util.tree_leaves(pa), jax.tree_util.tree_leaves(pb),
                        strict=True):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {step}")


def assert_different_path(a: list, b: list):
    last = [jnp.abs(x - y).max() for x, y in zip(jax.tree_util.tree_leaves(a[-1]),
                                                  jax.tree_util.tree_leaves(b[-1]), strict=True)]
    assert max(last) > 1e-6


# ---------------------------------------------------------------- optimizers against optax
LR = 0.03
# name -> (trainlab fields besides lr, the optax optimizer built directly). Every field gets a
# non-default value, so a hyperparameter wired to the wrong argument shows.
AGAINST_OPTAX = {
    "sgd": ({}, lambda: optax.sgd(LR)),
    "momentum": ({"momentum": 0.7}, lambda: optax.sgd(LR, momentum=0.7)),
    "nesterov": ({"momentum": 0.7}, lambda: optax.sgd(LR, momentum=0.7, nesterov=True)),
    "adagrad": ({"initial_accumulator": 0.3, "eps": 1e-3},
                lambda: optax.adagrad(LR, initial_accumulator_value=0.3, eps=1e-3)),
    # eps outside the root, as in lecture 004 (optax's default puts it inside).
    "rmsprop": ({"decay": 0.8, "eps": 1e-3},
                lambda: optax.rmsprop(LR, decay=0.8, eps=1e-3, eps_in_sqrt=False)),
    "adadelta": ({"rho": 0.8, "eps": 1e-3}, lambda: optax.adadelta(LR, rho=0.8, eps=1e-3)),
    "adam": ({"b1": 0.8, "b2": 0.95, "eps": 1e-3, "eps_root": 1e-4},
             lambda: optax.adam(LR, b1=0.8, b2=0.95, eps=1e-3, eps_root=1e-4)),
    "adamw": ({"b1": 0.8, "b2": 0.95, "eps": 1e-3, "eps_root": 1e-4, "decoupled_decay": 0.2},
              lambda: optax.adamw(LR, b1=0.8, b2=0.95, eps=1e-3, eps_root=1e-4,
                                  weight_decay=0.2, mask=weight_mask)),
    "adamax": ({"b1": 0.8, "b2": 0.95, "eps": 1e-3},
               lambda: optax.adamax(LR, b1=0.8, b2=0.95, eps=1e-3)),
    "nadam": ({"b1": 0.8, "b2": 0.95, "eps": 1e-3, "eps_root": 1e-4},
              lambda: optax.nadam(LR, b1=0.8, b2=0.95, eps=1e-3, eps_root=1e-4)),
    "lion": ({"b1": 0.99, "b2": 0.5}, lambda: optax.lion(LR, b1=0.99, b2=0.5)),
}


CLOSED_FORM = {"lstsq"}  # solved by the program, not stepped by optax


def test_every_optimizer_is_in_the_table():
    assert set(AGAINST_OPTAX) | CLOSED_FORM == set(GROUPS["optimizer"])


def test_closed_form_optimizer_takes_no_gradient_steps(x64):
    path = trajectory(trainlab_tx("lstsq"), steps=2)
    assert_same_path(path, [start(), start()])


@pytest.mark.parametrize("name", AGAINST_OPTAX)
def test_optimizer_matches_optax(name, x64):
    fields, reference = AGAINST_OPTAX[name]
    ours = trajectory(trainlab_tx(name, lr=LR, **fields))
    assert_same_path(ours, trajectory(reference()))
    if fields:  # ... and the defaults are not what we test with (a dropped field would pass)
        # Lion steps by the sign of its momentum, which its b1 and b2 change only when the
        # gradient's sign does: feed it gradients that flip sign every other step.
        tried, default = (trainlab_tx(name, lr=LR, **fields), trainlab_tx(name, lr=LR))
        if name == "lion":
            tried = trajectory(tried, grad=flipping())
            default = trajectory(default, grad=flipping())
        else:
            tried, default = trajectory(tried), trajectory(default)
        assert_different_path(tried, default)


def flipping():
    """The quadratic's gradient times +1, +1, -1, -1, +1, ... step by step: a gradient whose
    sign turns."""
    signs = iter([1.0, 1.0, -1.0, -1.0] * STEPS)

    def grad(params):
        sign = next(signs)
        return jax.tree_util.tree_map(lambda g: sign * g, jax.grad(loss)(params))

    return grad


# Optimizers that trainlab assembles itself, two with a static form (optax's own are vmap-safe,
# and every optimizer runs traced in test_groups).
@pytest.mark.parametrize("name, form", [("momentum", {"form": "ema"}), ("rmsprop", {}),
                                        ("adamw", {"decay_scaled_by_lr": False})])
def test_hyperparameters_may_be_traced(name, form, x64):
    # The program vmaps trials over numeric hyperparameters: a batch of lrs in one call must
    # give what each lr gives alone.
    fields = AGAINST_OPTAX[name][0] | form
    lrs = jnp.array([0.01, 0.05])

    def final(lr):
        cfg = dataclasses.replace(opt_cfg(name, **fields), lr=lr)
        return trajectory(make_optimizer(cfg, sched_cfg(), 1, STEPS), steps=3)[-1]

    batched = jax.jit(jax.vmap(final))(lrs)
    for i, lr in enumerate([0.01, 0.05]):
        alone = trajectory(trainlab_tx(name, lr=lr, **fields), steps=3)[-1]
        assert_same_path([jax.tree_util.tree_map(lambda x: x[i], batched)], [alone], rtol=1e-10)  # noqa: B023


# ------------------------------------------------------------ the lectures' update rules
def test_sgd_is_w_minus_lr_g(x64):
    p0 = start()
    p1 = trajectory(trainlab_tx("sgd", lr=LR), steps=1)[0]
    expected = jax.tree_util.tree_map(lambda p, g: p - LR * g, p0, jax.grad(loss)(p0))
    assert_same_path([p1], [expected])


def hand_loop(update, steps=STEPS):
    """The path of a hand-written rule ``update(w, g, state, t) -> (w, state)`` on one leaf
    (the first layer's w), t counting from 1."""
    w, state, path = start()["layers"][0]["w"], None, []
    for t in range(1, steps + 1):
        w, state = update(w, A["w"] * w + C["w"], state, t)
        path.append(w)
    return path


def first_w(path):
    return [p["layers"][0]["w"] for p in path]


def test_momentum_classic_is_the_lectures_velocity(x64):
    # Lecture 001: v = mu v - lr g; w += v.
    def rule(w, g, v, t):
        v = 0.7 * (0 if v is None else v) - LR * g
        return w + v, v

    ours = trajectory(trainlab_tx("momentum", lr=LR, momentum=0.7))
    assert_same_path(first_w(ours), hand_loop(rule))


def test_momentum_ema_is_the_lectures_average(x64):
    # Lecture 004: u = b u + (1 - b) g; w -= lr u (no bias correction).
    def rule(w, g, u, t):
        u = 0.7 * (0 if u is None else u) + 0.3 * g
        return w - LR * u, u

    ours = trajectory(trainlab_tx("momentum", lr=LR, momentum=0.7, form="ema"))
    assert_same_path(first_w(ours), hand_loop(rule))


@pytest.mark.parametrize("b", [0.5, 0.9])
def test_momentum_ema_with_lr_is_classic_with_lr_times_1_minus_b(b, x64):
    ema = trajectory(trainlab_tx("momentum", lr=LR, momentum=b, form="ema"))
    classic = trajectory(trainlab_tx("momentum", lr=LR * (1 - b), momentum=b))
    assert_same_path(ema, classic)
    assert_different_path(ema, trajectory(trainlab_tx("momentum", lr=LR, momentum=b)))


def test_rmsprop_is_the_lectures_rule(x64):
    # Lecture 004: v = b v + (1 - b) g^2; w -= lr g / (sqrt(v) + eps), v0 = 0.
    def rule(w, g, v, t):
        v = 0.8 * (0 if v is None else v) + 0.2 * g**2
        return w - LR * g / (jnp.sqrt(v) + 0.05), v

    ours = trajectory(trainlab_tx("rmsprop", lr=LR, decay=0.8, eps=0.05))
    assert_same_path(first_w(ours), hand_loop(rule))


@pytest.mark.parametrize("eps, eps_root", [(0.05, 0.0), (1e-12, 0.05), (0.05, 0.02)],
                         ids=["eps", "eps_root", "both"])
def test_adam_is_the_lectures_rule_with_named_eps(eps, eps_root, x64):
    # Lecture 004 with bias correction; eps outside the root (optax, the paper) or eps_root
    # inside it (some slides): w -= lr u_hat / (sqrt(v_hat + eps_root) + eps).
    def rule(w, g, state, t):
        u, v = (0, 0) if state is None else state
        u, v = 0.8 * u + 0.2 * g, 0.95 * v + 0.05 * g**2
        u_hat, v_hat = u / (1 - 0.8**t), v / (1 - 0.95**t)
        return w - LR * u_hat / (jnp.sqrt(v_hat + eps_root) + eps), (u, v)

    ours = trajectory(trainlab_tx("adam", lr=LR, b1=0.8, b2=0.95, eps=eps, eps_root=eps_root))
    assert_same_path(first_w(ours), hand_loop(rule))


def test_adam_eps_and_eps_root_are_different_forms(x64):
    outside = trajectory(trainlab_tx("adam", lr=LR, eps=0.05))
    inside = trajectory(trainlab_tx("adam", lr=LR, eps=1e-12, eps_root=0.05))
    assert_different_path(outside, inside)


# -------------------------------------------------------------------------- weight decay
def zero_grad(params):
    return jax.tree_util.tree_map(jnp.zeros_like, params)


@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "rmsprop"])
def test_decoupled_decay_shrinks_weights_by_1_minus_wd_not_biases(name, x64):
    # With no gradient, w <- w - wd w at every step (not scaled by lr), biases untouched.
    path = trajectory(trainlab_tx(name, lr=LR, decoupled_decay=0.1), steps=3, grad=zero_grad)
    for layer0, layer3 in zip(start()["layers"], path[-1]["layers"], strict=True):
        np.testing.assert_allclose(layer3["w"], 0.9**3 * layer0["w"], rtol=1e-12)
        np.testing.assert_array_equal(layer3["b"], layer0["b"])


@pytest.mark.parametrize("name", ["sgd", "nesterov", "adagrad", "adam", "nadam"])
def test_weight_decay_chains_after_the_optimizer(name, x64):
    fields, reference = AGAINST_OPTAX[name]
    ours = trajectory(trainlab_tx(name, lr=LR, decoupled_decay=0.05, **fields))
    decayed = optax.chain(reference(), optax.add_decayed_weights(-0.05, mask=weight_mask))
    assert_same_path(ours, trajectory(decayed))


def test_adamw_unscaled_is_adam_with_weight_decay(x64):
    # decay_scaled_by_lr=false: Loshchilov & Hutter's w <- w - wd w, the same as adam + decay.
    adamw = trajectory(trainlab_tx("adamw", lr=LR, decoupled_decay=0.1, decay_scaled_by_lr=False))
    adam = trajectory(trainlab_tx("adam", lr=LR, decoupled_decay=0.1))
    assert_same_path(adamw, adam)
    reference = optax.chain(optax.adam(LR), optax.add_decayed_weights(-0.1, mask=weight_mask))
    assert_same_path(adamw, trajectory(reference))


def test_adamw_scaled_by_lr_is_unscaled_with_lr_times_wd(x64):
    # w <- w - lr (adam + wd w) = w - lr adam - (lr wd) w, for a constant lr.
    scaled = trajectory(trainlab_tx("adamw", lr=LR, decoupled_decay=0.1))
    unscaled = trajectory(trainlab_tx("adamw", lr=LR, decoupled_decay=LR * 0.1,
                                      decay_scaled_by_lr=False))
    assert_same_path(scaled, unscaled)
    assert_different_path(scaled, trajectory(trainlab_tx("adamw", lr=LR, decoupled_decay=0.1,
                                                         decay_scaled_by_lr=False)))


def test_adamw_does_not_decay_biases(x64):
    path = trajectory(trainlab_tx("adamw", lr=LR, decoupled_decay=0.1), steps=3, grad=zero_grad)
    for layer0, layer3 in zip(start()["layers"], path[-1]["layers"], strict=True):
        np.testing.assert_allclose(layer3["w"], (1 - LR * 0.1) ** 3 * layer0["w"], rtol=1e-12)
        np.testing.assert_array_equal(layer3["b"], layer0["b"])


# ------------------------------------------------------------------------------ clipping
def test_clip_norm_clips_the_global_gradient_norm(x64):
    p0 = start()
    g = jax.grad(loss)(p0)
    norm = math.sqrt(sum(float((leaf**2).sum()) for leaf in jax.tree_util.tree_leaves(g)))
    assert norm > 1.0
    p1 = trajectory(trainlab_tx("sgd", lr=LR, clip_norm=1.0), steps=1)[0]
    expected = jax.tree_util.tree_map(lambda p, g: p - LR * g / norm, p0, g)
    assert_same_path([p1], [expected])
    # A bound above the norm changes nothing.
    assert_same_path(trajectory(trainlab_tx("sgd", lr=LR, clip_norm=10 * norm)),
                     trajectory(trainlab_tx("sgd", lr=LR)))


# ----------------------------------------------------------------------------- schedules
A0, SPE, EPOCHS = 0.2, 3, 12
TOTAL = SPE * EPOCHS


def cosine(t, T, final):
    t = min(t, T)
    return A0 * (final + (1 - final) * 0.5 * (1 + math.cos(math.pi * t / T)))


def warmup_cosine(t, T, final, warmup):
    if t < warmup:
        return A0 * t / warmup
    return cosine(t - warmup, T - warmup, final)


# (name, fields, formula of t in units): t = step // steps_per_epoch for unit=epoch.
FORMULAS = [
    ("constant", {}, lambda t, T: A0),
    ("step", {"every": 4, "factor": 0.5}, lambda t, T: A0 * 0.5 ** (t // 4)),
    ("step", {"every": 1, "factor": 0.9}, lambda t, T: A0 * 0.9**t),
    ("exponential", {"k": 0.1}, lambda t, T: A0 * math.exp(-0.1 * t)),
    ("inverse_time", {"k": 0.5}, lambda t, T: A0 / (1 + 0.5 * t)),
    ("cosine", {}, lambda t, T: cosine(t, T, 0.0)),
    ("cosine", {"final_fraction": 0.1}, lambda t, T: cosine(t, T, 0.1)),
    ("warmup_cosine", {"warmup": 3}, lambda t, T: warmup_cosine(t, T, 0.0, 3)),
    ("warmup_cosine", {"warmup": 2, "final_fraction": 0.2},
     lambda t, T: warmup_cosine(t, T, 0.2, 2)),
]


def test_every_schedule_has_a_formula():
    assert {name for name, _, _ in FORMULAS} == set(GROUPS["schedule"])


@pytest.mark.parametrize("unit", ["epoch", "step"])
@pytest.mark.parametrize("name, fields, formula", FORMULAS,
                         ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(FORMULAS)])
def test_schedule_equals_its_formula(name, fields, formula, unit, x64):
    schedule = make_schedule(sched_cfg(name, unit=unit, **fields), A0, SPE, TOTAL)
    per_unit = SPE if unit == "epoch" else 1
    steps = range(TOTAL + 5)  # a few steps past the end too
    expected = [formula(step // per_unit, TOTAL // per_unit) for step in steps]
    values = jax.vmap(schedule)(jnp.asarray(steps, jnp.int32))  # int32, as optax counts
    np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-15)


# name, fields -> optax's own schedule of the same law, counted in steps.
OPTAX_SCHEDULES = [
    ("constant", {}, lambda: optax.constant_schedule(A0)),
    ("step", {"every": 4, "factor": 0.5},
     lambda: optax.exponential_decay(A0, 4, 0.5, staircase=True)),
    ("exponential", {"k": 0.1}, lambda: optax.exponential_decay(A0, 1, math.exp(-0.1))),
    ("cosine", {"final_fraction": 0.1}, lambda: optax.cosine_decay_schedule(A0, TOTAL, 0.1)),
    ("warmup_cosine", {"warmup": 5, "final_fraction": 0.2},
     lambda: optax.warmup_cosine_decay_schedule(0.0, A0, 5, TOTAL, end_value=0.2 * A0)),
]


@pytest.mark.parametrize("name, fields, reference", OPTAX_SCHEDULES,
                         ids=[n for n, _, _ in OPTAX_SCHEDULES])
def test_schedule_in_steps_matches_optax(name, fields, reference, x64):
    ours = make_schedule(sched_cfg(name, unit="step", **fields), A0, SPE, TOTAL)
    steps = jnp.arange(TOTAL + 5, dtype=jnp.int32)
    # optax's schedules compute in float32 from int32 counts: give them float64 counts.
    expected = jax.vmap(reference())(steps.astype(jnp.float64))
    np.testing.assert_allclose(jax.vmap(ours)(steps), expected, rtol=1e-10, atol=1e-15)


def test_schedule_in_epochs_is_constant_within_an_epoch(x64):
    ours = make_schedule(sched_cfg("exponential", k=0.3), A0, SPE, TOTAL)
    values = np.asarray(jax.vmap(ours)(jnp.arange(TOTAL, dtype=jnp.int32))).reshape(EPOCHS, SPE)
    np.testing.assert_array_equal(values, np.repeat(values[:, :1], SPE, axis=1))
    np.testing.assert_allclose(values[:, 0], A0 * np.exp(-0.3 * np.arange(EPOCHS)), rtol=1e-12)


@pytest.mark.parametrize("name, fields", [("step", {"every": 2, "factor": 0.5}),
                                          ("inverse_time", {"k": 1.0}),
                                          ("warmup_cosine", {"warmup": 2})])
def test_the_optimizer_steps_with_the_scheduled_lr(name, fields, x64):
    # Step t of SGD moves by lr(t) g: the schedule is read at the optimizer's count, from 0.
    schedule_cfg = sched_cfg(name, unit="step", **fields)
    tx = make_optimizer(opt_cfg("sgd", lr=A0), schedule_cfg, SPE, TOTAL)
    lr = make_schedule(schedule_cfg, A0, SPE, TOTAL)
    params, state = start(), None
    state = tx.init(params)
    for t in range(8):
        g = jax.grad(loss)(params)
        updates, state = tx.update(g, state, params)
        expected = jax.tree_util.tree_map(lambda g: -lr(t) * g, g)  # noqa: B023
        assert_same_path([updates], [expected])
        params = optax.apply_updates(params, updates)
