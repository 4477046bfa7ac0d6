"""The diagnostics lecture figures (symmetry, init-activations, vanishing, dead-relu,
penalties, gradcheck) built at their reduced size: the must-show criteria of docs/figures.md,
asserted from the table behind each figure."""

from __future__ import annotations

import pytest

import figure_checks


def build(name, tmp_path):
    built = figure_checks.build(name, tmp_path)
    figure_checks.assert_shows(built)
    return built


@pytest.mark.slow  # three compiled programs
def test_symmetry(tmp_path):
    from trainlab.figures.symmetry import summary

    s = summary(build("symmetry", tmp_path).table).set_index("init")
    for name in ("zeros", "constant"):  # one distinct unit in every layer, at every epoch
        assert s.loc[name, "distinct/1 max"] == s.loc[name, "distinct/2 max"] == 1
    assert s.loc["xavier", "distinct/1 min"] == s.loc["xavier", "distinct/2 min"] == 30
    assert s.loc["zeros", "final val acc"] == pytest.approx(0.1, abs=0.02)  # never moves
    assert s.loc["constant", "final val acc"] <= s.loc["width 1", "final val acc"] + 0.03
    assert s.loc["xavier", "final train acc"] > s.loc["width 1", "final train acc"] + 0.3


@pytest.mark.slow  # four compiled programs of a 10 x 500 net
def test_init_activations(tmp_path):
    from trainlab.figures.init_activations import ratios

    built = build("init-activations", tmp_path)
    r = ratios(built.table, built.options).set_index("config")
    assert r.loc["tanh_small", "last / first"] < 1e-2  # collapses to ~0
    assert r.loc["tanh_large", "min saturated, layers 6+"] > 0.5
    assert 1 / 3 <= r.loc["tanh_xavier", "last / first"] <= 3
    assert 1 / 2 <= r.loc["relu_he", "last / first"] <= 2
    assert r.loc["relu_xavier", "factor per 2 layers"] == pytest.approx(0.5, abs=0.1)


def test_vanishing(tmp_path):
    from trainlab.figures.vanishing import ratios

    r = ratios(build("vanishing", tmp_path).table).set_index("activation")
    assert r.loc["sigmoid", "init: max"] < 1e-2 and r.loc["sigmoid", "trained: max"] < 1e-2
    assert 0.1 <= r.loc["relu", "init: min"] <= r.loc["relu", "init: max"] <= 10


@pytest.mark.slow  # three compiled programs
def test_dead_relu(tmp_path):
    from trainlab.figures.dead_relu import finals

    built = build("dead-relu", tmp_path)
    f = finals(built.table, built.options)
    relu = f[(f.activation == "relu") & f.trains].sort_values("lr")
    assert relu.dead.iloc[0] == 0 and relu.dead.iloc[-1] > 0.02  # dies at large lr only
    for activation in ("leaky_relu", "elu"):
        assert (f[f.activation == activation]["dead max"].fillna(0) == 0).all()
    assert f[f.activation == "leaky_relu"]["stuck ever"].max() > 0  # stuck, never dead
    # deliberately wrong: leaky units that die like ReLU's (stuck where ReLU's are dead, the
    # same validation accuracy), and ELU outputs with ReLU's means
    t = built.table
    relu_rows, leaky, elu = (t.activation == a for a in ("relu", "leaky_relu", "elu"))
    wrong = t.copy()
    wrong.loc[leaky, ["stuck", "val_acc"]] = t.loc[relu_rows, ["dead", "val_acc"]].to_numpy()
    figure_checks.assert_fails(built, wrong, "leaky ReLU will not die")
    wrong = t.copy()
    means = [c for c in t if c.startswith("act_mean/")]
    wrong.loc[elu, means] = t.loc[relu_rows, means].to_numpy()
    figure_checks.assert_fails(built, wrong, "ELU's outputs are closer to zero mean")


@pytest.mark.slow  # four compiled programs
def test_penalties(tmp_path):
    from trainlab.figures.penalties import finals, matched

    built = build("penalties", tmp_path)
    pick = matched(built.table, built.options)
    assert pick["l1"].near_zero > 10 * pick["l2"].near_zero
    f = finals(built.table)
    l2 = f[f.penalty.isin(["none", "l2"])].sort_values("kappa")
    assert (l2.weight_norm.diff().dropna() < 0).all()
    mx = f[f.penalty == "max_norm"]
    for k in (1, 2, 3):  # the final norms, every layer at its bound c (or below)
        assert (mx[f"weight_norm/{k}"] <= mx.c * (1 + 1e-5)).all()
    # deliberately wrong: a max-norm that acts below its bound (c = 16 trains like c = 1)
    t = built.table
    curve = t.part == "curve"
    wrong = t.copy()
    wrong.loc[curve & (t.c == 16), "train_loss"] = t.loc[curve & (t.c == 1),
                                                          "train_loss"].to_numpy()
    figure_checks.assert_fails(built, wrong, "max-norm is a bound, not a penalty")


def test_gradcheck(tmp_path):
    built = build("gradcheck", tmp_path)
    t = built.table
    assert (t.error < 1e-6).all()
    assert {"alpha", "gamma", "beta"} <= set(t.leaf)  # PReLU's slopes, BatchNorm's scale/shift
    assert set(t.family) == {"activation", "normalization", "dropout", "penalty", "loss"}
