"""`trainlab doctor OVERRIDES`: every check before a run passes on a sound config and fails (or
warns) on a config made to break it; the lr range test's suggestion trains well and its
divergent end is found; bad input exits 2 in one line.

The real runs share compiled programs: the SOUND variants differ only in traced numbers (lr,
kappa, init gain), so they are trials of the program the first one compiled.
"""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from trainlab import doctor, gradcheck, plan
from trainlab.config import compose
from trainlab.doctor import checks, lr_range, trials
from trainlab.doctor.findings import FAIL, PASS, SKIP, WARN
from trainlab.nn import activations

SMALL = ["data.train_size=512", "batch_size=64", "model.widths=[32,32]"]
SOUND = [*SMALL, "activation=tanh", "init=xavier_normal", "regularizer=l2", "optimizer=sgd",
         "optimizer.lr=0.5"]
BUDGET = trials.Budget(seeds=2, per_decade=2, lr_min=1e-4, lr_max=10.0, range_steps=40,
                       overfit_steps=150, gradcheck=False)
FLAGS = ["--seeds", "2", "--per-decade", "2", "--lr-min", "1e-4", "--lr-max", "10",
         "--steps", "40", "--overfit-steps", "150", "--no-gradcheck"]


def diagnose(overrides, tmp_path, budget=BUDGET):
    m, found, result, _ = doctor.diagnose(compose(overrides), overrides, budget, tmp_path,
                                          progress=False)
    return m, {f.check: f for f in found}, result


def status(found, prefix):
    [finding] = [f for name, f in found.items() if name.startswith(prefix)]
    return finding.status


# ------------------------------------------------------------------------------ real runs
@pytest.mark.slow
def test_a_sound_config_passes_every_check(tmp_path):
    m, found, result = diagnose(SOUND, tmp_path, dataclasses.replace(BUDGET, gradcheck=True))
    assert {name: f.status for name, f in found.items()} == {name: PASS for name in found}
    # the short runs (own lr, regularization off, 11 lrs) are one program, the subset another
    assert m.programs == {"training": 2, "gradient check": 1}
    assert found["initial loss, regularization off"].numbers["expected"] == pytest.approx(
        math.log(10))
    assert (tmp_path / "runs" / "lr_00" / "metrics.csv").is_file()


@pytest.mark.slow
def test_zero_init_is_the_symmetry_trap_and_cannot_overfit(tmp_path):
    budget = dataclasses.replace(BUDGET, lr_range=False)
    _, found, _ = diagnose([*SMALL, "init=zeros"], tmp_path, budget)
    assert status(found, "distinct units") == FAIL
    assert found["distinct units (symmetry)"].numbers["init"] == {1: 1.0, 2: 1.0}
    assert "init=he_normal" in found["distinct units (symmetry)"].advice
    assert status(found, "overfit") == FAIL
    assert status(found, "activation std") == FAIL  # zero weights: no signal at all


@pytest.mark.slow
def test_lr_50_fails_and_the_range_test_finds_the_divergent_end(tmp_path, capsys):
    out = tmp_path / "doctor"
    code = doctor.main([*SOUND, "optimizer.lr=50", "--out", str(out), "--no-overfit", *FLAGS])
    assert code == 1
    report = json.loads((out / "doctor.json").read_text())
    found = {f["check"]: f for f in report["findings"]}
    assert found["learning rate (range test)"]["status"] == FAIL
    assert found["update / weight ratio, first steps"]["status"] == FAIL
    edge = report["lr_range"]["divergent_from"]
    assert edge is not None and report["lr_range"]["best"] < edge <= 10
    assert (out / "doctor.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "FAIL" in capsys.readouterr().out


@pytest.mark.slow
def test_a_huge_kappa_fails_the_regularization_check(tmp_path):
    budget = dataclasses.replace(BUDGET, overfit=False)
    _, found, _ = diagnose([*SOUND, "regularizer.kappa=100"], tmp_path, budget)
    reg = found["regularization raises the initial objective"]
    assert reg.status == FAIL and reg.numbers["penalty_over_loss"] > 10
    kappa = float(reg.advice.split("regularizer.kappa=")[1].split()[0])
    assert kappa < 1  # the advice lowers it
    assert status(found, "learning rate") == FAIL  # no lr gets the data loss down


@pytest.mark.slow
def test_a_large_init_fails_the_initial_loss_and_saturates_tanh(tmp_path):
    budget = dataclasses.replace(BUDGET, overfit=False)
    _, found, _ = diagnose([*SOUND, "init.gain=8"], tmp_path, budget)
    assert status(found, "initial loss") == FAIL
    assert status(found, "saturated units") == FAIL


@pytest.mark.slow
def test_ten_sigmoid_layers_with_small_weights_vanish(tmp_path):
    deep = ["data.train_size=512", "batch_size=64", f"model.widths=[{','.join(['32'] * 10)}]",
            "activation=sigmoid", "init=normal"]
    budget = dataclasses.replace(BUDGET, lr_range=False, overfit=False)
    _, found, _ = diagnose(deep, tmp_path, budget)
    flow = found["gradient norm, output -> first layer"]
    assert flow.status == FAIL  # to exactly 0 in float32, or nearly
    assert flow.numbers["ratio"] is None or flow.numbers["ratio"] < 1e-3
    assert "barely moves" in found["update / weight ratio, first steps"].advice


@pytest.mark.slow
def test_a_negative_bias_kills_relu_units(tmp_path):
    budget = dataclasses.replace(BUDGET, lr_range=False, overfit=False)
    _, found, _ = diagnose([*SMALL, "init.bias=-5"], tmp_path, budget)
    assert status(found, "dead units") == FAIL
    assert "activation=leaky_relu" in found["dead units at init"].advice


@pytest.fixture(scope="module")
def slow_lr(tmp_path_factory):
    """The doctor on SOUND at an lr 10^4 too small: the range test below the range."""
    budget = dataclasses.replace(BUDGET, overfit=False)
    return diagnose([*SOUND, "optimizer.lr=5e-5"], tmp_path_factory.mktemp("slow"), budget)


@pytest.mark.slow
def test_a_tiny_lr_is_below_the_range_and_barely_updates(slow_lr):
    _, found, result = slow_lr
    lr = found["learning rate (range test)"]
    assert lr.status == WARN and "below the good range" in lr.advice
    assert f"optimizer.lr={lr_range.round_lr(result.suggested):g}" in lr.advice
    assert status(found, "update / weight") == WARN


@pytest.mark.slow
def test_the_suggested_lr_trains_well_and_the_divergent_end_diverges(slow_lr):
    m, _, result = slow_lr
    assert result.low <= result.suggested <= result.high
    full = dataclasses.replace(m.cfg, epochs=15, seeds=2, progress=False, save_params=False,
                               early_stopping=dataclasses.replace(m.cfg.early_stopping,
                                                                  enabled=False))
    lrs = [result.suggested / 10, result.suggested, result.divergent_from]
    summaries = plan.train_many([plan.Job(trials.with_lr(full, lr)) for lr in lrs],
                                progress=False)
    chance = checks.chance_loss(m.cfg, m.facts)
    below, suggested, edge = (s["final_train_loss"] for s in summaries)
    assert suggested < 0.7 * chance  # it learns
    assert suggested < below  # and better than ten times slower
    assert summaries[2]["status"] == "diverged" or edge >= 0.99 * chance


@pytest.mark.slow
def test_a_wrong_backward_pass_fails_the_gradient_check(monkeypatch):
    @jax.custom_vjp
    def tanh(z):
        return jnp.tanh(z)

    tanh.defvjp(lambda z: (jnp.tanh(z), jnp.tanh(z)),
                lambda y, g: (g * (1 - y**2) * 1.01,))  # 1% off
    monkeypatch.setattr(activations.Tanh, "__call__", lambda self, z, layer: tanh(z))
    cfg = compose(SOUND)
    m = _measured(cfg, gradcheck=gradcheck.run_config(cfg, entries=5, directions=1))
    found = checks.gradient_check(m)
    assert found.status == FAIL and "layers." in found.measured
    # 1% off in each of the two tanh layers the first layer's gradient goes through
    assert 0.005 < found.numbers["errors"]["layers.0.w"] < 0.05


# ------------------------------------------------------------- the checks on made tables
def _facts(**changes) -> trials.DataFacts:
    facts = trials.DataFacts("classification", 10, 512, 8, 0.1, 0.0, [0.1] * 10, [32, 32])
    return dataclasses.replace(facts, **changes)


def _measured(cfg, **fields) -> trials.Measurements:
    return trials.Measurements(**({"cfg": cfg, "facts": _facts(), "budget": BUDGET,
                                   "own": None, "off": None, "lr_range": None,
                                   "overfit": None, "gradcheck": None} | fields))


def _rows(**columns) -> pd.DataFrame:
    """A metrics table of two epochs (0 and 1) and one seed."""
    return pd.DataFrame({"seed": 0, "epoch": [0, 1], "step": [0, 8]} | columns)


@pytest.mark.parametrize(("overrides", "expected"), [
    ([], math.log(10)),
    (["loss=hinge"], 9.0),
    (["loss=hinge", "loss.margin=0.5"], 4.5),
    (["loss=mse"], 0.1),
])
def test_the_expected_initial_loss_of_each_loss(overrides, expected):
    value, _ = checks.expected_initial_loss(compose(overrides), _facts())
    assert value == pytest.approx(expected)


def test_expected_and_chance_losses_for_two_classes_and_regression():
    two = _facts(n_classes=2, prior=[0.7, 0.3], target_square=0.3)
    assert checks.expected_initial_loss(compose(["loss=bce"]), two)[0] == pytest.approx(
        math.log(2))
    assert checks.chance_loss(compose(["loss=bce"]), two) == pytest.approx(
        -(0.7 * math.log(0.7) + 0.3 * math.log(0.3)))
    assert checks.expected_initial_loss(compose(["loss=mse"]), two)[0] == pytest.approx(0.3)
    regression = _facts(task="regression", n_classes=0, prior=[], target_square=2.0,
                        target_variance=1.5)
    cfg = compose(["data=regression1d", "loss=mse"])
    assert checks.expected_initial_loss(cfg, regression)[0] == 2.0
    assert checks.chance_loss(cfg, regression) == 1.5


def test_the_initial_loss_check_fails_far_from_the_expected_value():
    cfg = compose([])
    for loss, wanted in ((2.31, PASS), (3.1, WARN), (9.0, FAIL), (1.5, WARN), (0.5, FAIL),
                         (float("nan"), FAIL)):
        own = _rows(train_loss=[loss, loss], train_objective=[loss, loss])
        assert checks.initial_loss(_measured(cfg, own=own)).status == wanted, loss


def test_a_penalty_that_adds_nothing_fails():
    cfg = compose(["regularizer=l2", "regularizer.kappa=0.1"])
    same = _rows(train_loss=[2.3, 2.0], train_objective=[2.3, 2.0])
    found = checks.regularization(_measured(cfg, own=same, off=same))
    assert found.status == FAIL and "not wired" in found.advice
    more = _rows(train_loss=[2.3, 2.0], train_objective=[2.6, 2.2])
    assert checks.regularization(_measured(cfg, own=more, off=same)).status == PASS
    assert checks.regularization(_measured(compose([]))).status == SKIP
    assert checks.regularization(_measured(compose(["regularizer=max_norm"]))).status == SKIP


def test_overfit_warns_when_only_another_lr_fits_the_subset():
    def fit(factor, accuracy):
        return pd.DataFrame({"seed": 0, "epoch": [0, 1, 2], "lr_factor": factor,
                             "train_loss": [2.3, 1.0, 0.5], "train_acc": [0.1, 0.5, accuracy]})

    cfg = compose([])
    table = pd.concat([fit(1.0, 0.8), fit(10.0, 1.0), fit(0.1, 0.3)])
    found = checks.overfit_subset(_measured(cfg, overfit=table))
    assert found.status == WARN and "optimizer.lr=0.01" in found.advice
    table = pd.concat([fit(1.0, 1.0), fit(10.0, 1.0), fit(0.1, 0.3)])
    assert checks.overfit_subset(_measured(cfg, overfit=table)).status == PASS


def test_the_update_ratio_names_an_lr_that_gives_the_rule_of_thumb():
    own = _rows(**{"update_ratio/1": [0.05, 0.5], "update_ratio/2": [0.02, 0.2],
                   "weight_norm/1": [1.0, 1.0], "weight_norm/2": [1.0, 1.0]})
    found = checks.update_ratio(_measured(compose(["optimizer.lr=1"]), own=own))
    assert found.status == WARN and "optimizer.lr=0.002" in found.advice  # 1 * 1e-3 / 0.5


# ------------------------------------------------------------------------ the range rule
def _range(losses, lrs=None) -> pd.DataFrame:
    lrs = lrs if lrs is not None else np.geomspace(1e-4, 10, len(losses))
    frame = pd.DataFrame({"lr": lrs, "min": losses, "median": losses, "max": losses})
    frame["rise"] = frame["max"] / 2.35
    return frame


def test_the_range_rule_reads_levels_and_finds_the_divergent_end():
    losses = [2.3, 2.2, 1.8, 1.1, 0.8, 0.75, 0.9, 2.0, 2.4, np.inf, np.inf]
    result = lr_range.analyze(_range(losses), chance=2.3, initial=2.35)
    lrs = np.geomspace(1e-4, 10, 11)
    assert result.best == pytest.approx(lrs[5])
    # good: within 20% of the best's progress below chance (2.3 - 0.75 = 1.55)
    assert (result.low, result.high) == (pytest.approx(lrs[4]), pytest.approx(lrs[6]))
    assert result.suggested == pytest.approx(lrs[5])
    assert result.divergent_from == pytest.approx(lrs[8])  # no better than chance
    assert lr_range.analyze(_range([2.3] * 5), chance=2.3, initial=2.3) is None


def test_the_worst_seed_scores_an_lr():
    frame = _range([1.5, 1.0, 1.2])
    frame.loc[1, "max"] = 2.0  # one seed of the lowest median did badly
    assert lr_range.analyze(frame, chance=2.3, initial=2.3).best == frame.lr[2]


def test_lr_grid_and_rounding():
    grid = trials.lr_grid(trials.Budget(lr_min=1e-5, lr_max=10, per_decade=3))
    assert len(grid) == 19 and grid[0] == pytest.approx(1e-5) and grid[-1] == pytest.approx(10)
    assert [lr_range.round_lr(x) for x in (0.00464, 0.0215, 0.316, 0.7)] == [
        0.005, 0.02, 0.3, 0.5]


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("argv", [
    ["optimizer.lr=-1"], ["data=surface"], ["activation=nonsense"], ["no_such_dir"],
    ["optimizer.lr=0.1", "a_dir"], ["--seeds", "0"], ["--lr-min", "1", "--lr-max", "0.1"],
])
def test_bad_input_exits_2_in_one_line_and_leaves_no_folder(argv, tmp_path, capsys):
    out = tmp_path / "out"
    assert doctor.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("trainlab doctor: error:"), err
    assert not out.exists()


def test_the_report_page_shows_doctor_json(tmp_path):
    from trainlab import records
    from trainlab.report import html

    records.write_csv(pd.DataFrame({"seed": 0, "epoch": [0, 1], "step": [0, 1],
                                    "train_loss": [2.3, 2.0], "val_loss": [2.3, 2.1]}),
                      tmp_path / "metrics.csv")
    page = (html.write_run(tmp_path)).read_text()
    assert 'id="doctor"' not in page
    records.write_json({"kind": "after", "findings": [
        {"check": "overfitting", "status": "WARN", "measured": "gap 0.8",
         "advice": "regularizer.kappa=1e-3"}]}, tmp_path / "doctor.json")
    page = (html.write_run(tmp_path)).read_text()
    assert 'id="doctor"' in page and "regularizer.kappa=1e-3" in page
    assert 'class="doctor-WARN"' in page
