"""The momentum ramp (optimizer.momentum_ramp, lecture 001's "annealed from 0.5 to 0.99"):
trainlab's optimizers against hand-written loops given the momentum of each step, in both
momentum forms and Nesterov's; through the compiled program; one program for ramps that differ
only in their traced numbers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainlab.config import GROUPS, compose
from trainlab.plan import Job, train_many

CURVATURE = np.array([1.0, 10.0, 40.0])  # f(w) = sum(a w^2) / 2: gradient a * w
W0 = np.array([1.0, -0.5, 0.2])
LR = 0.02


def momenta(start, end, ramp, steps_per_epoch, steps, shift=0):
    """The momentum of each step: the formula, in epochs (``shift``: the ramp started that many
    epochs late - a deliberately wrong schedule)."""
    epoch = np.arange(steps) // steps_per_epoch - shift
    return start + (end - start) * np.clip(epoch / ramp, 0.0, 1.0)


def hand_written(form, mus):
    """The path of w under each form's update rule, with momentum ``mus[k]`` at step k."""
    w, v, path = W0.copy(), np.zeros_like(W0), []
    for mu in mus:
        g = CURVATURE * w
        if form == "classic":  # lecture 001: V = mu V - lr g, W += V (optax: the same at fixed lr)
            v = mu * v - LR * g
            w = w + v
        elif form == "ema":  # lecture 004: u = b u + (1 - b) g, w -= lr u
            v = mu * v + (1 - mu) * g
            w = w - LR * v
        else:  # nesterov, as optax: t = g + mu t, w -= lr (g + mu t)
            v = g + mu * v
            w = w - LR * (g + mu * v)
        path.append(w)
    return np.array(path)


def trainlab_path(name, steps_per_epoch, steps, **fields):
    import jax.numpy as jnp
    import optax

    cfg = GROUPS["optimizer"][name](name=name, lr=LR, **fields)
    tx = cfg.make(optax.constant_schedule(LR), steps_per_epoch=steps_per_epoch)
    w = jnp.asarray(W0)
    state, path = tx.init(w), []
    for _ in range(steps):
        updates, state = tx.update(jnp.asarray(CURVATURE) * w, state, w)
        w = optax.apply_updates(w, updates)
        path.append(np.asarray(w))
    return np.array(path)


RAMP = {"momentum": 0.99, "momentum_start": 0.5, "momentum_ramp": 4}
CASES = {"classic": ("momentum", {"form": "classic"}), "ema": ("momentum", {"form": "ema"}),
         "nesterov": ("nesterov", {})}


@pytest.mark.parametrize("form", CASES)
def test_a_ramped_momentum_follows_the_hand_written_loop(form, x64):
    name, fields = CASES[form]
    spe, steps = 3, 20  # the ramp ends at step 12: both the ramp and the plateau are tested
    ours = trainlab_path(name, spe, steps, **fields, **RAMP)
    mus = momenta(0.5, 0.99, 4, spe, steps)
    np.testing.assert_allclose(ours, hand_written(form, mus), rtol=1e-12, atol=1e-14)
    # deliberately wrong: the same ramp one epoch late, or counted in steps, or constant
    for wrong in (momenta(0.5, 0.99, 4, spe, steps, shift=1), momenta(0.5, 0.99, 4, 1, steps),
                  np.full(steps, 0.99)):
        assert np.abs(ours - hand_written(form, wrong)).max() > 1e-6


def test_no_ramp_is_the_constant_momentum(x64):
    ours = trainlab_path("momentum", 3, 10, momentum=0.9, momentum_start=0.1)
    np.testing.assert_allclose(ours, hand_written("classic", np.full(10, 0.9)), rtol=1e-12)


def test_a_ramp_in_epochs_needs_the_steps_per_epoch():
    import optax

    cfg = GROUPS["optimizer"]["momentum"](name="momentum", momentum_ramp=2)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        cfg.make(optax.constant_schedule(0.1))


def surface_path(lr, mus):
    """Lecture 001's loop on the quadratic surface f = 10x^2 + 100y^2 from (-1, 1)."""
    w, v, path = np.array([-1.0, 1.0]), np.zeros(2), []
    for mu in mus:
        v = mu * v - lr * np.array([20.0, 200.0]) * w
        w = w + v
        path.append(w)
    return np.array(path)


def test_the_program_ramps_the_momentum_per_epoch(tmp_path):
    """On the quadratic surface (one step per epoch) the program's trajectory is the loop's."""
    lr, ramp, epochs = 0.004, 5, 12
    cfg = compose(["data=surface", "optimizer=momentum", f"optimizer.lr={lr}",
                   "optimizer.momentum=0.95", "optimizer.momentum_start=0.3",
                   f"optimizer.momentum_ramp={ramp}", f"epochs={epochs}", "progress=false",
                   "dtype=float64", "diagnostics=off"])
    train_many([Job(cfg, tmp_path)], progress=False)
    path = pd.read_csv(tmp_path / "metrics.csv")[["train_x", "train_y"]].to_numpy()[1:]
    np.testing.assert_allclose(path, surface_path(lr, momenta(0.3, 0.95, ramp, 1, epochs)),
                               rtol=1e-10)
    shifted = surface_path(lr, momenta(0.3, 0.95, ramp, 1, epochs, shift=1))
    assert np.abs(path - shifted).max() > 1e-6  # deliberately wrong: one epoch late


def test_trials_differing_in_the_ramps_numbers_share_one_program():
    from trainlab.program import _PROGRAMS

    _PROGRAMS.clear()
    small = ["data=moons", "data.n_samples=200", "model.widths=[8]", "progress=false",
             "epochs=3", "optimizer=momentum", "optimizer.momentum_ramp=2", "diagnostics=off"]
    ramps = [(0.0, 0.99), (0.5, 0.99), (0.9, 0.99), (0.5, 0.9)]  # (start, end)
    jobs = [Job(compose([*small, f"optimizer.momentum_start={start}",
                         f"optimizer.momentum={end}"])) for start, end in ramps]
    summaries = train_many(jobs, progress=False)
    assert len(_PROGRAMS) == 1
    [program] = _PROGRAMS.values()
    assert len(program._compiled) == 1
    # the ramps really differ inside the one program
    assert len({s["final_train_loss"] for s in summaries}) == len(ramps)
