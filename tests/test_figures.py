"""Each lecture figure built at its reduced size: the must-show criteria of docs/figures.md,
asserted from the table behind the figure."""

from __future__ import annotations

import numpy as np
import pytest

from figure_checks import assert_fails, assert_shows, build


def _replaced(table, rows, **columns):
    wrong = table.copy()
    for column, values in columns.items():
        wrong.loc[rows, column] = values(wrong[rows]) if callable(values) else values
    return wrong


def test_activations(tmp_path):
    built = build("activations", tmp_path)
    assert_shows(built)
    t = built.table
    sigmoid, tanh = t.activation == "sigmoid", t.activation == "tanh"
    assert t[sigmoid].df.max() == pytest.approx(0.25, abs=1e-4)
    derivative = "f' (autodiff) is the derivative"
    # tanh' written as 1 - |tanh| (a square forgotten): its maximum is still 1 at z = 0
    assert_fails(built, _replaced(t, tanh, df=lambda p: 1 - p.f.abs()), derivative)
    # sigmoid' = sigma (1 - sigma) scaled by 1.02: the maximum check fails too
    assert_fails(built, _replaced(t, sigmoid, df=lambda p: 1.02 * p.df), "sigmoid' max",
                 derivative)
    # a kink that is not where the activation's kinks say: PReLU's slope two grid points late
    # (h = 0.02; the stencils that straddle z = 0 are skipped, the next one is not)
    prelu = t.activation.str.startswith("prelu")
    late = prelu & t.z.between(0.01, 0.05)
    assert_fails(built, _replaced(t, late, df=0.25), derivative)


@pytest.mark.slow  # five schedules, five compiled programs
def test_schedules(tmp_path):
    built = build("schedules", tmp_path)
    assert_shows(built)
    assert set(built.table.schedule) == {"constant", "step", "exponential", "inverse_time",
                                         "cosine"}


def test_ema(tmp_path):
    built = build("ema", tmp_path)
    assert_shows(built)
    day1 = built.table[built.table.t == 1]
    # v_1 = (1 - beta) theta_1 without correction, theta_1 itself with it
    assert (day1.ema_corrected - day1.temperature).abs().max() < 1e-4
    t = built.table
    no_dip = "bias-corrected EMA has no start-up dip"
    # deliberately wrong: no bias correction at all, and a correction shifted by one step
    assert_fails(built, t.assign(ema_corrected=t.ema, trend_ema_corrected=t.trend_ema), no_dip)
    late = 1 - t.beta ** (t.t + 1)
    assert_fails(built, t.assign(ema_corrected=t.ema / late,
                                 trend_ema_corrected=t.trend_ema / late), no_dip)


def test_gd_lr(tmp_path):
    built = build("gd-lr", tmp_path)
    assert_shows(built)
    from trainlab.figures.gd_lr import regimes

    verdict = regimes(built.table).set_index("lr").verdict
    assert verdict[0.009] == "converges" and verdict[0.011] == "diverges"


def test_momentum(tmp_path):
    built = build("momentum", tmp_path)
    assert_shows(built)
    # deliberately wrong: "momentum" that is plain GD (beta = 0: GD's trajectories)
    t = built.table
    gd, mom = t.optimizer == "gd", t.optimizer == "momentum_ema"
    wrong = t.copy()
    wrong.loc[mom, ["x", "y", "distance"]] = t.loc[gd, ["x", "y", "distance"]].to_numpy()
    assert_fails(built, wrong, "at the lecture's rates", "momentum damps the oscillation",
                 "where GD's zig-zag barely decays")


def test_rosenbrock(tmp_path):
    built = build("rosenbrock", tmp_path)
    assert_shows(built)
    from trainlab.figures.rosenbrock import distances

    table = distances(built.table, built.options)
    assert len(table) == 4 * 2  # every optimizer at every lr


def test_xor(tmp_path):
    built = build("xor", tmp_path)
    assert_shows(built)


@pytest.mark.slow  # two compiled programs, one of 200 epochs
def test_babysitting(tmp_path):
    built = build("babysitting", tmp_path)
    assert_shows(built)
    t = built.table
    # deliberately wrong: a penalty twice what kappa/2 ||W||^2 says (kappa ||W||^2)
    reg = t.arm == "with_reg"
    assert_fails(built, _replaced(t, reg, train_objective=lambda p: 2 * p.train_objective
                                  - p.train_loss), "2. turning regularization on")
    # ... and an lr search whose largest lr does not explode (it trains like lr 0.1)
    lr = t["optimizer.lr"]
    assert_fails(built, _replaced(t, lr == 10.0, train_loss=t[lr == 0.1].train_loss.to_numpy()),
                 "4. an lr that makes the loss go down")


@pytest.mark.slow  # five compiled programs, 60 and 200 epochs
def test_preprocessing(tmp_path):
    built = build("preprocessing", tmp_path)
    assert_shows(built)
    t = built.table

    def curves(problem, inputs, lr=None):
        rows = (t.kind == "curve") & (t.problem == problem) & (t.inputs == inputs)
        return rows if lr is None else rows & (t.lr == lr)

    def copied(rows, source, scale=1.0):
        loss = t[source].train_loss.to_numpy()
        return _replaced(t, rows, train_loss=(scale * loss).astype(loss.dtype))

    lowest = t[t.kind == "curve"].lr.min()
    # standardized at its smallest rate as fast as at lr 1: its best lr is the grid's edge
    assert_fails(built, copied(curves("digits", "standardized", lowest),
                               curves("digits", "standardized", 1.0), 0.99),
                 "digits: each inputs' best lr")
    # centering that changes nothing (centered trains as raw) ...
    assert_fails(built, copied(curves("digits", "centered"), curves("digits", "raw")),
                 "digits: centering alone")
    # ... and scaling that slows it down again (standardized trains as raw)
    assert_fails(built, copied(curves("digits", "standardized"), curves("digits", "raw")),
                 "digits: scaling")
    # centered updates whose two components agree in sign, as the raw ones do
    path = (t.kind == "path") & (t.inputs == "centered")
    assert_fails(built, _replaced(t, path, u2=lambda p: p.u2.abs() * np.sign(p.u1)),
                 "two inputs, always positive")
    # raw weights that go straight to where they end: no zig-zag
    raw = t[(t.kind == "path") & (t.inputs == "raw")]
    line = np.linspace(0, 1, len(raw))
    straight = {c: (raw[c].iloc[0] + line * (raw[c].iloc[-1] - raw[c].iloc[0]))
                .astype(raw[c].dtype) for c in ("w1", "w2")}
    assert_fails(built, _replaced(t, raw.index, **straight), "so the raw weights zig-zag")
    # raw two-input runs best at the smallest rate
    assert_fails(built, copied(curves("two", "raw", lowest), curves("two", "raw", 0.1), 0.99),
                 "two: each inputs' best lr")
    # centering that does not help the two-input runs
    assert_fails(built, copied(curves("two", "centered"), curves("two", "raw")),
                 "two inputs, trainlab runs")


@pytest.mark.slow  # three batch sizes, three compiled programs
def test_batch_size(tmp_path):
    built = build("batch-size", tmp_path)
    assert_shows(built)


@pytest.mark.slow  # one compiled program per degree and width
def test_capacity(tmp_path):
    built = build("capacity", tmp_path)
    assert_shows(built)
    # least squares interpolates the 21 points at degree 20 (solved in float64)
    from trainlab.figures.capacity import errors

    assert errors(built.table).query("model == 'lstsq' and size == 20").train_mse.iloc[0] < 1e-9
