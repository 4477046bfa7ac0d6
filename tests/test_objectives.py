"""Losses, weight penalties and max-norm (lectures 000, 001, 003), and the equivalence of L2
with decoupled weight decay under plain SGD (not under momentum)."""

from __future__ import annotations

import dataclasses
import importlib
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pandas as pd
import pytest

from trainlab.config import GROUPS, ConfigError, compose
from trainlab.regularizers import weight_mask
from trainlab.run import train


def everything(p):
    return jax.tree_util.tree_map(lambda _: True, p)


def penalty(regularizer, p, trainable=None):
    return regularizer.penalty(p, everything(p) if trainable is None else trainable)


def constrain(regularizer, p, trainable=None):
    return regularizer.constrain(p, everything(p) if trainable is None else trainable)


def data_loss(cfg, out, y, n_classes):
    return cfg.loss(out, y, n_classes)


def n_outputs(loss: str, n_classes: int, n_targets: int) -> int:
    return GROUPS["loss"][loss]().n_outputs(n_classes, n_targets)


def predictions(cfg, out):
    return cfg.loss.predictions(out)


def make_optimizer(cfg, schedule_cfg, steps_per_epoch, total_steps):
    return cfg.make(schedule_cfg.make(cfg.lr, steps_per_epoch, total_steps))


def reg(name: str, **fields):
    return GROUPS["regularizer"][name](name=name, **fields)


def loss_cfg(name: str, **fields):
    return SimpleNamespace(loss=GROUPS["loss"][name](name=name, **fields))


def params() -> dict:
    """Two layers with every kind of leaf; the non-weights are large, so a penalty or a
    projection that touched them would be far off."""
    w0 = jnp.array([[1.0, -2.0], [0.5, 0.0], [-3.0, 1.0]])
    w1 = jnp.array([[2.0], [-1.0]])
    big = lambda n: jnp.full((n,), 100.0)  # noqa: E731
    return {"layers": [
        {"w": w0, "b": big(2), "gamma": big(2), "beta": big(2), "alpha": big(2)},
        {"w": w1, "b": big(1)},
    ]}


L1 = 1 + 2 + 0.5 + 3 + 1 + 2 + 1  # sum |W| over both layers: 10.5
L2 = 1 + 4 + 0.25 + 9 + 1 + 4 + 1  # sum ||W||^2: 20.25


# ------------------------------------------------------------------------------ penalties
@pytest.mark.parametrize("name, fields, expected", [
    ("none", {}, 0.0),
    ("max_norm", {"c": 1.0}, 0.0),  # a constraint, not a penalty
    ("l2", {"kappa": 0.1}, 0.1 / 2 * L2),
    ("l1", {"kappa": 0.1}, 0.1 * L1),
    ("elastic_net", {"kappa": 0.1, "mix": 0.3}, 0.1 * (0.3 * L1 + 0.7 / 2 * L2)),
    ("elastic_net", {"kappa": 0.1, "mix": 1.0}, 0.1 * L1),
    ("elastic_net", {"kappa": 0.1, "mix": 0.0}, 0.1 / 2 * L2),
])
def test_penalty_values_on_weight_matrices_only(name, fields, expected):
    assert float(penalty(reg(name, **fields), params())) == pytest.approx(expected)


@pytest.mark.parametrize("name", ["l1", "l2", "elastic_net"])
def test_penalty_gradient_touches_weights_only(name):
    grads = jax.grad(lambda p: penalty(reg(name, kappa=0.1), p))(params())
    for layer in grads["layers"]:
        assert np.any(layer["w"] != 0)
        for leaf in set(layer) - {"w"}:
            np.testing.assert_array_equal(layer[leaf], 0.0)


def test_l2_gradient_is_kappa_w_and_l1_is_kappa_sign_w():
    # Lecture 000: L2 adds kappa * theta to the gradient, L1 kappa * sign(theta).
    p = params()
    g2 = jax.grad(lambda q: penalty(reg("l2", kappa=0.1), q))(p)
    g1 = jax.grad(lambda q: penalty(reg("l1", kappa=0.1), q))(p)
    for layer, l2, l1 in zip(p["layers"], g2["layers"], g1["layers"], strict=True):
        np.testing.assert_allclose(l2["w"], 0.1 * layer["w"], rtol=1e-6)
        nonzero = layer["w"] != 0
        np.testing.assert_allclose(l1["w"][nonzero], 0.1 * np.sign(layer["w"][nonzero]))


def test_weight_mask_marks_weight_matrices():
    mask = weight_mask(params())
    for layer in mask["layers"]:
        assert layer == {name: name == "w" for name in layer}


@pytest.mark.parametrize("c", [0.5, 2.0, 3.0, 10.0])
def test_max_norm_projects_each_layer(c):
    p = params()
    out = constrain(reg("max_norm", c=c), p)
    for before, after in zip(p["layers"], out["layers"], strict=True):
        norm = float(jnp.linalg.norm(before["w"]))  # layer norms: sqrt(15.25), sqrt(5)
        assert float(jnp.linalg.norm(after["w"])) == pytest.approx(min(norm, c), rel=1e-6)
        # Only rescaled: same direction; the other leaves untouched.
        np.testing.assert_allclose(after["w"], before["w"] * min(1.0, c / norm), rtol=1e-6)
        for leaf in set(before) - {"w"}:
            np.testing.assert_array_equal(after[leaf], before[leaf])


@pytest.mark.parametrize("name", ["none", "l1", "l2", "elastic_net"])
def test_other_regularizers_do_not_constrain(name):
    p = params()
    assert constrain(reg(name), p) is p


# --------------------------------------------------------------------------------- losses
# The three-example illustration of the multiclass SVM and softmax losses (lecture 001):
# scores for (cat, car, frog), correct classes cat, car, frog.
SCORES = jnp.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LABELS = jnp.array([0, 1, 2])


def test_hinge_is_the_multiclass_svm_loss():
    # L_i = sum_{j != y_i} max(0, s_j - s_y + 1): 2.9, 0 and 12.9.
    loss = data_loss(loss_cfg("hinge"), SCORES, LABELS, 3)
    assert float(loss) == pytest.approx((2.9 + 0.0 + 12.9) / 3, rel=1e-6)
    loss = data_loss(loss_cfg("hinge", margin=2.0), SCORES, LABELS, 3)
    assert float(loss) == pytest.approx((3.9 + 0.0 + 14.9) / 3, rel=1e-6)


def test_cross_entropy_is_the_softmax_loss():
    s = np.asarray(SCORES, np.float64)
    expected = np.mean(-np.log(np.exp(s[[0, 1, 2], [0, 1, 2]]) / np.exp(s).sum(1)))
    loss = data_loss(loss_cfg("cross_entropy"), SCORES, LABELS, 3)
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_bce_on_one_logit():
    logits, y = jnp.array([[2.0], [-1.0], [0.5]]), jnp.array([1, 0, 0])
    p = 1 / (1 + np.exp(-np.asarray(logits[:, 0])))
    expected = -np.mean(np.where(np.asarray(y) == 1, np.log(p), np.log(1 - p)))
    loss = data_loss(loss_cfg("bce"), logits, y, 2)
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_mse_on_one_hot_targets_one_output_and_regression():
    out = jnp.array([[0.2, 0.9, 0.1], [0.3, 0.3, 0.4]])
    expected = np.mean((np.asarray(out) - np.eye(3)[[1, 2]]) ** 2)
    loss = data_loss(loss_cfg("mse"), out, jnp.array([1, 2]), 3)
    assert float(loss) == pytest.approx(expected, rel=1e-6)
    single = jnp.array([[0.2], [0.9]])  # two classes, one output, 0/1 targets
    loss = data_loss(loss_cfg("mse"), single, jnp.array([0, 1]), 2)
    assert float(loss) == pytest.approx((0.04 + 0.01) / 2, rel=1e-6)
    targets = jnp.array([[1.0], [2.0]])  # regression (no classes)
    loss = data_loss(loss_cfg("mse"), single, targets, 0)
    assert float(loss) == pytest.approx((0.64 + 1.21) / 2, rel=1e-6)


@pytest.mark.parametrize("loss, n_classes, n_targets, expected", [
    ("cross_entropy", 3, 0, 3), ("hinge", 2, 0, 2), ("bce", 2, 0, 1), ("mse", 2, 0, 1),
    ("mse", 4, 0, 4), ("mse", 0, 2, 2),
])
def test_n_outputs(loss, n_classes, n_targets, expected):
    assert n_outputs(loss, n_classes, n_targets) == expected


def test_predictions():
    assert predictions(loss_cfg("cross_entropy"), SCORES).tolist() == [1, 1, 1]
    one = jnp.array([[-0.1], [0.2], [0.7]])
    assert predictions(loss_cfg("bce"), one).tolist() == [0, 1, 1]  # logit > 0
    assert predictions(loss_cfg("mse"), one).tolist() == [0, 0, 1]  # value > 0.5


# ------------------------------------------------- L2 penalty vs decoupled weight decay
# Lecture 000: with plain SGD, L2 with kappa gives theta <- (1 - lr kappa) theta - lr grad, which
# is decoupled decay with lambda = lr kappa (trainlab's decay is not scaled by lr). Under
# momentum the penalty's gradient is accumulated in the velocity, the decay is not: they differ.
LR, KAPPA = 0.1, 0.05


def sgd_path(optimizer: str, kappa: float, weight_decay: float, steps: int = 5) -> list:
    """Weights after each step on a smooth data loss of every leaf, plus an L2 penalty."""
    opt = GROUPS["optimizer"][optimizer](name=optimizer, lr=LR, decoupled_decay=weight_decay)
    tx = make_optimizer(opt, GROUPS["schedule"]["constant"](name="constant"), 1, steps)
    regularizer = reg("l2", kappa=kappa) if kappa else reg("none")

    def objective(p):
        data = sum(jnp.sin(leaf).sum() for leaf in jax.tree_util.tree_leaves(p))
        return data + penalty(regularizer, p)

    p = params()
    state, path = tx.init(p), []
    for _ in range(steps):
        updates, state = tx.update(jax.grad(objective)(p), state, p)
        p = jax.tree_util.tree_map(jnp.add, p, updates)
        path.append(p)
    return path


def largest_difference(a, b) -> float:
    return max(float(jnp.abs(x - y).max())
               for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b),
                               strict=True))


@pytest.mark.parametrize("optimizer", ["sgd", "momentum"])
def test_l2_step_equals_weight_decay_step_for_sgd_only(optimizer, x64):
    l2, decay = sgd_path(optimizer, KAPPA, 0.0), sgd_path(optimizer, 0.0, LR * KAPPA)
    differences = [largest_difference(a, b) for a, b in zip(l2, decay, strict=True)]
    if optimizer == "sgd":
        assert max(differences) < 1e-12
    else:
        assert differences[0] < 1e-12  # the first step is the same (no velocity yet) ...
        assert differences[-1] > 1e-3  # ... then the penalty's gradient builds up momentum
    # Both did regularize: the path left the unregularized one.
    assert largest_difference(l2[-1], sgd_path(optimizer, 0.0, 0.0)[-1]) > 1e-3


RUN = ["data=moons", "data.n_samples=80", "model.widths=[8]", "batch_size=16", "epochs=3",
       "dtype=float64", "diagnostics=off", "progress=false", f"optimizer.lr={LR}",
       "init=xavier_normal", "init.bias=0.1"]


def trained(tmp_path, name: str, *overrides) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """The final params and the metrics table of a run."""
    out = tmp_path / name
    out.mkdir()
    train(compose([*RUN, *overrides]), out_dir=out)
    with np.load(out / "params_final.npz") as f:
        return dict(f), pd.read_csv(out / "metrics.csv")


@pytest.mark.parametrize("optimizer", ["sgd", pytest.param("momentum", marks=pytest.mark.slow)])
def test_training_with_l2_equals_weight_decay_lr_kappa_for_sgd_only(optimizer, tmp_path, x64):
    l2, l2_metrics = trained(tmp_path, "l2", f"optimizer={optimizer}", "regularizer=l2",
                             f"regularizer.kappa={KAPPA}")
    decay, decay_metrics = trained(tmp_path, "decay", f"optimizer={optimizer}",
                                   f"optimizer.decoupled_decay={LR * KAPPA}")
    assert l2.keys() == decay.keys()
    assert l2["layers.0.w"].dtype == np.float64
    if optimizer == "sgd":
        for name in l2:
            np.testing.assert_allclose(l2[name], decay[name], rtol=1e-10, atol=1e-12,
                                       err_msg=name)
        # The same path epoch by epoch (train_loss is the data loss, without the penalty).
        np.testing.assert_allclose(l2_metrics["train_loss"], decay_metrics["train_loss"],
                                   rtol=1e-10)
    else:
        assert np.abs(l2["layers.0.w"] - decay["layers.0.w"]).max() > 1e-3


def frozen_first_layer(p):
    """The mask of a net whose first layer never trains (model=random_features)."""
    return {"layers": [jax.tree_util.tree_map(lambda _, on=on: on, layer)
                       for layer, on in zip(p["layers"], [False, True])]}


@pytest.mark.parametrize("name, fields, expected", [
    ("l2", {"kappa": 0.1}, 0.1 / 2 * (4 + 1)),
    ("l1", {"kappa": 0.1}, 0.1 * (2 + 1)),
    ("elastic_net", {"kappa": 0.1, "mix": 0.3}, 0.1 * (0.3 * 3 + 0.7 / 2 * 5)),
])
def test_penalty_reads_the_trainable_mask(name, fields, expected):
    p = params()
    assert float(penalty(reg(name, **fields), p, frozen_first_layer(p))) == pytest.approx(expected)


def test_max_norm_leaves_frozen_layers_alone():
    p = params()
    out = constrain(reg("max_norm", c=0.5), p, frozen_first_layer(p))
    np.testing.assert_array_equal(out["layers"][0]["w"], p["layers"][0]["w"])
    assert float(jnp.linalg.norm(out["layers"][1]["w"])) == pytest.approx(0.5, rel=1e-6)


def test_l2_is_pytorchs_coupled_weight_decay_under_adam(x64):
    """regularizer=l2 is what PyTorch's Adam(weight_decay=kappa) does: g += kappa w before
    Adam's scaling (on the weight matrices), unlike decoupled decay after it."""
    adam = GROUPS["optimizer"]["adam"](name="adam", lr=LR)
    ours = make_optimizer(adam, GROUPS["schedule"]["constant"](name="constant"), 1, 5)
    coupled = optax.chain(optax.add_decayed_weights(KAPPA, mask=weight_mask), optax.adam(LR))

    def path(tx, kappa):
        regularizer = reg("l2", kappa=kappa) if kappa else reg("none")

        def objective(p):
            data = sum(jnp.sin(leaf).sum() for leaf in jax.tree_util.tree_leaves(p))
            return data + penalty(regularizer, p)

        p, state, steps = params(), tx.init(params()), []
        for _ in range(5):
            updates, state = tx.update(jax.grad(objective)(p), state, p)
            p = optax.apply_updates(p, updates)
            steps.append(p)
        return steps

    l2, pytorch = path(ours, KAPPA), path(coupled, 0.0)
    assert max(largest_difference(a, b) for a, b in zip(l2, pytorch, strict=True)) < 1e-12
    decoupled = path(make_optimizer(dataclasses.replace(adam, decoupled_decay=KAPPA),
                                    GROUPS["schedule"]["constant"](name="constant"), 1, 5), 0.0)
    assert largest_difference(l2[-1], decoupled[-1]) > 1e-3  # the two kinds of decay differ


def test_the_old_name_weight_decay_still_works_with_a_warning(caplog):
    importlib.import_module("trainlab.config.compose")._warned.discard("weight_decay")
    with caplog.at_level("WARNING", logger="trainlab.config.compose"):
        cfg = compose(["optimizer=adam", "optimizer.weight_decay=0.003"])
    assert cfg.optimizer.decoupled_decay == 0.003 and cfg.optimizer.weight_decay is None
    assert "optimizer.weight_decay is deprecated: write optimizer.decoupled_decay" in caplog.text
    assert cfg == compose(["optimizer=adam", "optimizer.decoupled_decay=0.003"])
    with pytest.raises(ConfigError, match="write only optimizer.decoupled_decay"):
        compose(["optimizer.weight_decay=0.003", "optimizer.decoupled_decay=0.01"])
