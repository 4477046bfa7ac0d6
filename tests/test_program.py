"""The compiled program's behaviour: divergence guard, early stopping, full batch, the 2-D
surfaces, and one executable shared by the trials of a group."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trainlab.config import compose
from trainlab.plan import Job, train_many

SMALL = ["data=moons", "data.n_samples=200", "model.widths=[8]", "progress=false"]


def test_a_diverging_trial_is_frozen_and_flagged_without_stopping_the_others(tmp_path):
    jobs = [Job(compose([*SMALL, "optimizer=sgd", f"optimizer.lr={lr}", "epochs=5"]),
                tmp_path / str(i)) for i, lr in enumerate([0.1, 1e8])]
    good, bad = train_many(jobs, progress=False)
    assert good["status"] == "ok" and np.isfinite(good["final_train_loss"])
    assert bad["status"] == "diverged"
    metrics = pd.read_csv(tmp_path / "1" / "metrics.csv")
    assert metrics.train_loss.isna().iloc[-1]  # NaN from the divergence on, not stale numbers
    # Its step count froze where it diverged, while the good trial's went on to the end.
    frozen = metrics.step[metrics.train_loss.isna()]
    assert frozen.nunique() == 1
    good_steps = pd.read_csv(tmp_path / "0" / "metrics.csv").step
    assert frozen.iloc[0] < good_steps.iloc[-1] == 5 * good_steps.iloc[1]
    # Its net is the one it began the diverging epoch with: finite, not the NaN it reached.
    with np.load(tmp_path / "1" / "params_final.npz") as params:
        assert all(np.isfinite(params[name]).all() for name in params)


def test_early_stopping_stops_and_restores_the_best_params(tmp_path):
    cfg = compose([*SMALL, "data.n_samples=60", "model.widths=[64,64]", "optimizer=adam",
                   "optimizer.lr=0.03", "batch_size=full", "epochs=300",
                   "early_stopping.enabled=true", "early_stopping.patience=10",
                   "data.noise=0.4", "dtype=float64"])
    [summary] = train_many([Job(cfg, tmp_path)], progress=False)
    assert summary["status"] == "stopped_early"
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    best = int(metrics.val_loss.idxmin())
    assert summary["best_epoch"] == metrics.epoch[best]
    assert summary["best_val_loss"] == pytest.approx(metrics.val_loss[best])
    # training stopped `patience` checks after the best epoch
    assert metrics.step.iloc[-1] == summary["best_epoch"] + 10
    with np.load(tmp_path / "params_best.npz") as best_params, \
            np.load(tmp_path / "params_final.npz") as final:
        for name in best_params.files:
            np.testing.assert_array_equal(best_params[name], final[name])


def test_full_batch_is_one_step_per_epoch_in_data_order(tmp_path):
    cfg = compose([*SMALL, "batch_size=full", "epochs=4"])
    [summary] = train_many([Job(cfg, tmp_path)], progress=False)
    assert list(pd.read_csv(tmp_path / "metrics.csv").step) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("lr, converges", [(0.009, True), (0.011, False)])
def test_gradient_descent_on_the_quadratic_surface(tmp_path, lr, converges):
    """f = 10x^2 + 100y^2: GD converges iff lr < 2/200 (lecture 004)."""
    cfg = compose(["data=surface", "optimizer=sgd", f"optimizer.lr={lr}", "epochs=200",
                   "progress=false", "dtype=float64"])
    [summary] = train_many([Job(cfg, tmp_path)], progress=False)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert {"train_x", "train_y"} <= set(metrics.columns)  # the trajectory
    assert metrics[["train_x", "train_y"]].iloc[0].tolist() == [-1.0, 1.0]
    final = metrics.train_loss.iloc[-1]
    assert (final < 1e-6) if converges else (final > 100 or summary["status"] == "diverged")


def test_trials_of_one_signature_share_one_executable(tmp_path):
    from trainlab.program import _PROGRAMS

    _PROGRAMS.clear()
    jobs = [Job(compose([*SMALL, f"optimizer.lr={lr}", "epochs=2", "seeds=2"]))
            for lr in (1e-3, 1e-2, 1e-1)]
    summaries = train_many(jobs, progress=False)
    assert len(_PROGRAMS) == 1
    [program] = _PROGRAMS.values()
    assert len(program._compiled) == 1
    losses = [s["final_train_loss"] for s in summaries]
    assert len(set(losses)) == 3  # the lrs really differ inside the one program


def test_a_vmapped_trial_equals_the_same_trial_alone():
    args = [*SMALL, "epochs=3", "optimizer=momentum", "dtype=float64"]
    together = train_many([Job(compose([*args, f"optimizer.lr={lr}"])) for lr in (0.01, 0.1)],
                          progress=False)
    alone = train_many([Job(compose([*args, "optimizer.lr=0.1"]))], progress=False)
    assert together[1]["final_train_loss"] == pytest.approx(alone[0]["final_train_loss"],
                                                            rel=1e-10)


def test_param_average_is_the_ema_of_the_weights_over_steps(tmp_path):
    """One full-batch step with decay 0.25: average = 0.25 w_0 + 0.75 w_1."""
    cfg = compose([*SMALL, "batch_size=full", "epochs=1", "optimizer=sgd", "optimizer.lr=0.5",
                   "param_average=0.25", "dtype=float64"])
    [summary] = train_many([Job(cfg, tmp_path)], progress=False)
    assert {"test_avg_loss", "test_avg_acc"} <= summary.keys()
    assert "val_avg_loss" in pd.read_csv(tmp_path / "metrics.csv").columns
    load = lambda name: np.load(tmp_path / f"params_{name}.npz")  # noqa: E731
    with load("init") as w0, load("final") as w1, load("average") as average:
        for name in w0.files:
            np.testing.assert_allclose(average[name], 0.25 * w0[name] + 0.75 * w1[name],
                                       rtol=1e-12)


@pytest.mark.parametrize("overrides", [
    ["init=he_normal"], ["init=orthogonal", "optimizer=momentum"],
    ["init=xavier_uniform", "normalization=batchnorm", "param_average=0.99"],
], ids=["he_normal", "orthogonal", "batchnorm"])
def test_init_compiled_for_a_quick_compile_draws_what_the_default_compile_draws(overrides):
    import jax

    from trainlab import plan, program

    cfg = compose([*SMALL, "model.widths=[32,32]", *overrides])
    [group] = plan.plan([Job(cfg)] * 2, chunk_size=2)
    values, seeds, _ = plan.trial_values([cfg] * 2)
    values = jax.device_put({k: np.asarray(v, np.float32) for k, v in values.items()})
    seeds = jax.device_put(np.asarray(seeds, np.int32) + np.arange(2, dtype=np.int32))
    lowered = group.program.init.lower(values, seeds, group.data)
    quick = lowered.compile(program.INIT_COMPILER_OPTIONS)(values, seeds, group.data)
    default = lowered.compile()(values, seeds, group.data)
    for a, b in zip(jax.tree_util.tree_leaves(quick), jax.tree_util.tree_leaves(default),
                    strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_init_looped_over_trials_draws_what_the_vmapped_init_draws():
    import jax

    from trainlab import plan

    cfg = compose([*SMALL, "model.widths=[32,32]", "optimizer=adam"])
    [group] = plan.plan([Job(cfg)] * 3, chunk_size=3)
    values, seeds, _ = plan.trial_values([cfg] * 3)
    values = jax.device_put({k: np.asarray(v, np.float32) for k, v in values.items()})
    seeds = jax.device_put(np.asarray(seeds, np.int32) + np.arange(3, dtype=np.int32))
    looped = group.program.init(values, seeds, group.data)
    vmapped = group.program.init_spread(values, seeds, group.data)
    leaves = jax.tree_util.tree_leaves(looped)
    assert len(leaves) == len(jax.tree_util.tree_leaves(vmapped))
    for a, b in zip(leaves, jax.tree_util.tree_leaves(vmapped), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    weights = np.asarray(looped.net.params["layers"][0]["w"])
    assert not np.array_equal(weights[0], weights[1])  # each trial its own seed


def test_the_compile_cache_keeps_programs_of_a_fifth_of_a_second_unless_told(monkeypatch):
    import jax

    from trainlab import plan

    name = "jax_persistent_cache_min_compile_time_secs"
    before = getattr(jax.config, name)
    try:
        for env, kept in ((None, 0.2), ("1.0", 1.0)):  # JAX's own default is 1 s
            jax.config.update(name, 1.0)
            if env is None:
                monkeypatch.delenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", raising=False)
            else:
                monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", env)
            plan.use_compilation_cache()
            assert getattr(jax.config, name) == kept
    finally:
        jax.config.update(name, before)
