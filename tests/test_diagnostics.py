"""Per-layer diagnostics: each statistic on a hand-built network whose answer is known, then
the columns of real runs (zero-init symmetry, an all-dead layer, a known gradient norm, off)."""

from __future__ import annotations

import contextlib
import io
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from trainlab import diagnostics
from trainlab.config import compose
from trainlab.data import load_dataset
from trainlab.nn import mlp
from trainlab.run import train

X = jnp.asarray(np.random.default_rng(0).normal(size=(16, 2)), jnp.float32)


def layer(w, b, **extra):
    return {"w": jnp.asarray(w, jnp.float32), "b": jnp.asarray(b, jnp.float32), **extra}


def taps_of(cfg, params):
    state = {"layers": [{} for _ in params["layers"]]}
    _, _, taps = mlp.apply(cfg, params, state, X, train=False)
    return taps


def cfg_of(*overrides):
    return compose(["data=moons", *overrides])


# ------------------------------------------------------------------ hand-built networks
def dead_network():
    """Layer 1: every pre-activation is -1 (all units dead). Layer 2 sees only zeros, so its
    pre-activations are its biases: the unit with bias -1 is dead, the two others live."""
    return {"layers": [
        layer(np.zeros((2, 4)), -np.ones(4)),
        layer(np.ones((4, 3)), [1.0, -1.0, 0.5]),
        layer(np.ones((3, 2)), np.zeros(2)),
    ]}


def test_an_all_dead_relu_layer():
    cfg, params = cfg_of("activation=relu"), dead_network()
    taps = taps_of(cfg, params)
    dead = diagnostics.dead_units(diagnostics.unit_codes(cfg, params, taps))
    assert dead == pytest.approx({"dead_frac/1": 1.0, "dead_frac/2": 1 / 3,
                                  "stuck_frac/1": 1.0, "stuck_frac/2": 1 / 3})
    stats = diagnostics.activation_stats(cfg, params, taps)
    assert (int(stats["dead_probe/1"]), int(stats["dead_probe/2"])) == (4, 1)


def test_a_leaky_unit_is_stuck_without_being_dead():
    cfg, params = cfg_of("activation=leaky_relu"), dead_network()
    dead = diagnostics.dead_units(diagnostics.unit_codes(cfg, params, taps_of(cfg, params)))
    assert float(dead["dead_frac/1"]) == 0.0  # outputs -0.01, never exactly 0
    assert float(dead["stuck_frac/1"]) == 1.0  # ... and never positive


def saturating_network():
    """One hidden layer of 4 units with zero weights: biases 10, -10, 0, 0."""
    return {"layers": [layer(np.zeros((2, 4)), [10.0, -10.0, 0.0, 0.0]),
                       layer(np.ones((4, 2)), np.zeros(2))]}


def test_a_half_saturated_tanh_layer():
    cfg, params = cfg_of("activation=tanh"), saturating_network()
    stats = diagnostics.activation_stats(cfg, params, taps_of(cfg, params))
    t = math.tanh(10.0)
    assert float(stats["act_sat/1"]) == 0.5
    assert float(stats["act_mean/1"]) == pytest.approx(0.0, abs=1e-7)
    assert float(stats["act_std/1"]) == pytest.approx(t / math.sqrt(2), rel=1e-6)
    assert float(stats["pre_mean/1"]) == pytest.approx(0.0, abs=1e-7)
    assert float(stats["pre_std/1"]) == pytest.approx(math.sqrt(50.0), rel=1e-6)
    assert int(stats["dead_probe/1"]) == 2  # tanh(0) = 0 on every sample


def test_sigmoid_saturates_at_both_ends():
    cfg, params = cfg_of("activation=sigmoid"), saturating_network()
    stats = diagnostics.activation_stats(cfg, params, taps_of(cfg, params))
    assert float(stats["act_sat/1"]) == 0.5


def test_saturation_is_reported_for_tanh_and_sigmoid_only():
    cfg, params = cfg_of("activation=relu"), saturating_network()
    assert "act_sat/1" not in diagnostics.activation_stats(cfg, params, taps_of(cfg, params))


@pytest.mark.parametrize("init", ["zeros", "constant"])
def test_identical_units_after_a_constant_init_count_as_one(init):
    cfg = cfg_of(f"init={init}", "model.widths=[5,7]")
    params, _ = mlp.init(cfg, jax.random.PRNGKey(0), 2, 2, jnp.float32)
    assert diagnostics.distinct_units(cfg, params) == {"distinct/1": 1, "distinct/2": 1}


def test_random_units_are_all_distinct():
    cfg = cfg_of("init=he_normal", "model.widths=[5,7]")
    params, _ = mlp.init(cfg, jax.random.PRNGKey(0), 2, 2, jnp.float32)
    assert diagnostics.distinct_units(cfg, params) == {"distinct/1": 5, "distinct/2": 7}


def test_distinct_counts_groups_within_the_tolerance():
    a, b, c = np.array([1.0, 2.0, 3.0]), np.array([-1.0, 0.5, 2.0]), np.array([0.0, 0.0, 1.0])
    near = a * (1 + 1e-5)  # within 1e-3 of the rms norm: the same unit
    far = a * (1 + 1e-2)  # beyond it: another unit
    rows = jnp.asarray(np.stack([a, b, a, near, c, b]), jnp.float32)
    assert int(diagnostics.count_distinct(rows)) == 3
    rows = jnp.asarray(np.stack([a, far]), jnp.float32)
    assert int(diagnostics.count_distinct(rows)) == 2


def test_distinct_compares_long_units_through_a_projection():
    rng = np.random.default_rng(0)
    units = rng.normal(size=(40, 300))  # longer than DISTINCT_DIMS: projected
    units[10:20] = units[0] * (1 + 1e-6 * rng.normal(size=(10, 300)))  # 10 copies of unit 0
    units[30] = units[31] + 0.05 * np.linalg.norm(units[31]) / np.sqrt(300)  # near, not equal
    assert int(diagnostics.count_distinct(jnp.asarray(units, jnp.float32))) == 30


def test_maxout_units_are_their_pieces_together():
    cfg = cfg_of("activation=maxout", "activation.pieces=2")
    # pre-activation columns (u0p0, u0p1, u1p0, u1p1, u2p0, u2p1): units 0 and 2 are equal
    w = np.array([[1.0, 2.0, 1.0, 5.0, 1.0, 2.0], [3.0, 4.0, 3.0, 6.0, 3.0, 4.0]])
    params = {"layers": [layer(w, np.zeros(6)), layer(np.ones((3, 2)), np.zeros(2))]}
    assert diagnostics.distinct_units(cfg, params) == {"distinct/1": 2}


def test_weight_norm_and_sparsity():
    params = {"layers": [layer([[3.0, 4.0], [0.0, 1e-4]], np.zeros(2))]}
    stats = diagnostics.weight_stats(params, threshold=1e-3)
    assert float(stats["weight_norm/1"]) == pytest.approx(5.0)
    assert float(stats["sparsity/1"]) == 0.5
    assert float(diagnostics.weight_stats(params, threshold=1e-5)["sparsity/1"]) == 0.25


def test_update_norms_and_ratios_per_layer():
    params = {"layers": [layer([[3.0, 4.0]], [0.0, 0.0]), layer([[1.0], [0.0]], [0.0])]}
    updates = {"layers": [layer([[0.3, 0.4]], [9.0, 9.0]), layer([[0.0], [-2.0]], [9.0])]}
    stats = diagnostics.update_stats(updates, params)  # weights only, never biases
    assert float(stats["update_norm/1"]) == pytest.approx(0.5)
    assert float(stats["update_norm/2"]) == pytest.approx(2.0)
    assert float(stats["update_ratio/1"]) == pytest.approx(0.1)
    assert float(stats["update_ratio/2"]) == pytest.approx(2.0)


@pytest.mark.parametrize("train_metrics", ["running", "eval"])
def test_running_accumulators_remember_units_active_on_some_step(train_metrics):
    cfg = cfg_of("model.widths=[3]", f"train_metrics={train_metrics}")
    params = {"layers": [layer(np.ones((2, 3)), np.zeros(3)), layer(np.ones((3, 2)), [0, 0])]}
    acc = diagnostics.start_epoch(diagnostics.init_accumulators(cfg, params))
    steps = [([[1.0, 0.0, 0.0]], True), ([[0.0, -1.0, 0.0]], True), ([[0.0, 0.0, 5.0]], False)]
    for act, active in steps:  # a step that did not count (a frozen trial) is ignored
        taps = [{"pre": jnp.asarray(act), "act": jnp.asarray(act)}]
        acc = diagnostics.accumulate(cfg, acc, params, taps, jnp.asarray(active))
    dead = diagnostics.dead_units(acc["unit_codes"])
    if train_metrics == "running":
        assert dead == pytest.approx({"dead_frac/1": 1 / 3, "stuck_frac/1": 2 / 3})
    else:  # nothing accumulated: the evaluation pass over the training split tells
        assert dead == pytest.approx({"dead_frac/1": 1.0, "stuck_frac/1": 1.0})


def test_histograms_have_fixed_bins_and_sum_to_one():
    cfg, params = cfg_of("activation=tanh"), saturating_network()
    edges = diagnostics.histogram_edges(cfg)
    assert (edges[0], edges[-1], len(edges)) == (-1.0, 1.0, diagnostics.HIST_BINS + 1)
    hist = diagnostics.activation_histograms(cfg, taps_of(cfg, params))
    fractions = np.asarray(hist["act_hist/1"])  # one vector a layer, split on the host
    assert fractions.shape == (len(edges) - 1,)
    assert fractions.sum() == pytest.approx(1.0)
    # tanh(+-10) falls in the end bins, tanh(0) = 0 in the bin starting at 0
    middle = int(np.searchsorted(edges, 0.0, side="right")) - 1
    assert (fractions[0], fractions[-1], fractions[middle]) == (0.25, 0.25, 0.5)


def test_split_histograms_moves_them_to_a_long_table():
    edges = np.array([0.0, 0.5, 1.0])
    table = pd.DataFrame({"seed": [0, 0], "epoch": [0, 1], "act_std/1": [1.0, 2.0],
                          "act_hist_00/1": [0.25, 1.0], "act_hist_01/1": [0.75, 0.0]})
    metrics, hist = diagnostics.split_histograms(table, edges)
    assert list(metrics.columns) == ["seed", "epoch", "act_std/1"]
    assert list(hist.columns) == ["seed", "epoch", "layer", "bin", "lo", "hi", "fraction"]
    assert hist.fraction.tolist() == [0.25, 0.75, 1.0, 0.0]
    assert hist.hi.tolist() == [0.5, 1.0, 0.5, 1.0]


def test_generalization_gap():
    row = {"train_loss": 0.5, "val_loss": 0.75, "train_acc": 0.9, "val_acc": 0.8}
    gap = diagnostics.generalization_gap(row)
    assert gap == pytest.approx({"gap_loss": 0.25, "gap_acc": 0.1})


# ----------------------------------------------------------------------------- real runs
def run(tmp_path, *overrides) -> pd.DataFrame:
    with contextlib.redirect_stdout(io.StringIO()):
        train(compose([*overrides, "progress=false"]), tmp_path)
    return pd.read_csv(tmp_path / "metrics.csv")


def test_known_gradient_and_update_norms_of_linear_regression(tmp_path):
    """J = mean (x w + b - y)^2 at w = b = 0: dJ/dw = -2 mean(x y), dJ/db = -2 mean(y). SGD's
    next update is -lr times that gradient; with full batch it is the first step taken (the
    probe is the whole training set: 21 samples)."""
    lr = 0.1
    overrides = ["data=regression1d", "model=linear", "loss=mse", "init=zeros", "optimizer=sgd",
                 f"optimizer.lr={lr}", "batch_size=full", "epochs=1", "dtype=float64"]
    metrics = run(tmp_path, *overrides)
    data = load_dataset(compose(overrides).data, "float64")
    x, y = data.x_train[:, 0], data.y_train[:, 0]
    grad_w, grad_b = abs(-2 * np.mean(x * y)), abs(-2 * np.mean(y))
    init, first = metrics.iloc[0], metrics.iloc[1]
    assert init["grad_norm/1"] == pytest.approx(grad_w, rel=1e-9)
    assert init["grad_norm_b/1"] == pytest.approx(grad_b, rel=1e-9)
    assert init["update_norm/1"] == pytest.approx(lr * grad_w, rel=1e-9)
    assert init["update_ratio/1"] == math.inf  # from w = 0
    assert first["weight_norm/1"] == pytest.approx(lr * grad_w, rel=1e-9)


def test_zero_init_keeps_one_distinct_unit_per_layer_and_full_adds_histograms(tmp_path):
    metrics = run(tmp_path, "data=moons", "data.n_samples=300", "model.widths=[8,6]",
                  "init=zeros", "epochs=3", "diagnostics=full")
    assert (metrics["distinct/1"] == 1).all() and (metrics["distinct/2"] == 1).all()
    for stat in ("act_mean", "act_std", "pre_mean", "pre_std", "dead_frac", "stuck_frac",
                 "dead_probe", "distinct"):
        assert {f"{stat}/1", f"{stat}/2"} <= set(metrics.columns)
        assert f"{stat}/3" not in metrics.columns  # the output layer has no activations
    for stat in ("grad_norm", "grad_norm_b", "weight_norm", "sparsity", "update_norm",
                 "update_ratio"):
        assert {f"{stat}/1", f"{stat}/2", f"{stat}/3"} <= set(metrics.columns)
    np.testing.assert_allclose(metrics.gap_loss, metrics.val_loss - metrics.train_loss,
                               rtol=1e-5, atol=1e-6)
    assert not any(c.startswith("act_hist") for c in metrics.columns)  # in their own file
    hist = pd.read_csv(tmp_path / "histograms.csv")
    sums = hist.groupby(["epoch", "layer"]).fraction.sum()
    np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
    assert len(sums) == 4 * 2  # rows 0..3, two hidden layers


@pytest.mark.slow
def test_dead_units_stay_dead_with_running_train_metrics(tmp_path):
    """A bias of -100 kills every ReLU unit at init; no gradient reaches them, so they stay
    dead - counted on the epoch's batches when there is no pass over the training split."""
    metrics = run(tmp_path, "data=moons", "data.n_samples=300", "model.widths=[8]",
                  "init.bias=-100", "epochs=2", "train_metrics=running")
    assert (metrics["dead_frac/1"] == 1.0).all()
    assert (metrics["dead_probe/1"] == 8).all()


def test_diagnostics_off_writes_no_diagnostics_columns(tmp_path):
    metrics = run(tmp_path, "data=moons", "data.n_samples=300", "model.widths=[8]",
                  "epochs=1", "diagnostics=off")
    assert not [c for c in metrics.columns if "/" in c or c.startswith("gap_")]
