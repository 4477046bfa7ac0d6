"""`trainlab doctor RUN_DIR`: the verdicts on a run's curves, each recognized on a metrics table
made to show it (and not raised on a healthy one), then the command on stored run dirs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trainlab import doctor, records
from trainlab.doctor import curves
from trainlab.doctor.findings import FAIL, PASS, WARN

EPOCHS = np.arange(61)


def metrics(train, val=None, *, seeds=2, lr=0.01, train_acc=None, val_acc=None, steps=None,
            **columns) -> pd.DataFrame:
    """A metrics table with the given curves (arrays over epochs), the seeds a hair apart."""
    train = np.asarray(train, float)
    frames = []
    for seed in range(seeds):
        wiggle = 1 + 1e-4 * seed
        frame = {"seed": seed, "epoch": np.arange(len(train)),
                 "step": steps if steps is not None else 10 * np.arange(len(train)),
                 "lr": lr, "train_loss": train * wiggle}
        if val is not None:
            frame["val_loss"] = np.asarray(val, float) * wiggle
        if train_acc is not None:
            frame["train_acc"], frame["val_acc"] = train_acc, val_acc
        frame |= columns
        frames.append(pd.DataFrame(frame))
    return pd.concat(frames, ignore_index=True)


def healthy() -> pd.DataFrame:
    train = 0.3 + 2.0 * np.exp(-EPOCHS / 8)
    val = 0.36 + 1.95 * np.exp(-EPOCHS / 8)
    return metrics(train, val, train_acc=0.9 - 0.8 * np.exp(-EPOCHS / 8),
                   val_acc=0.88 - 0.78 * np.exp(-EPOCHS / 8),
                   **{"dead_frac/1": 0.02 + 0.0 * EPOCHS})


def by_check(found) -> dict:
    return {f.check: f for f in found}


def test_a_healthy_run_passes_every_verdict():
    found = curves.verdicts(healthy(), {"status": "ok"},
                            {"early_stopping": {"enabled": False}})
    assert {f.check: f.status for f in found} == {f.check: PASS for f in found}, found


def test_overfitting_is_the_val_loss_turning_with_the_gap_in_numbers():
    train = 0.02 + 2.3 * np.exp(-EPOCHS / 6)
    val = 1.0 + 1.3 * np.exp(-EPOCHS / 5) + 0.004 * np.maximum(EPOCHS - 12, 0) ** 1.2
    found = by_check(curves.verdicts(metrics(train, val), config={
        "regularizer": {"name": "l2", "kappa": 1e-4}}))
    over = found["overfitting"]
    assert over.status == WARN
    turn = curves.val_turn(metrics(train, val))
    assert over.numbers["best_epoch"] == turn["best_epoch"] < 30
    assert over.numbers["gap_loss"] > 1.0
    assert "regularizer.kappa=0.001" in over.advice  # ten times the run's kappa
    assert found["early stopping"].status == WARN  # it ran long past its best epoch
    assert "early_stopping.enabled=true" in found["early stopping"].advice
    assert found["underfitting"].status == PASS


def test_underfitting_is_no_gap_and_a_high_loss_that_stopped_falling():
    train = 1.5 + 0.8 * np.exp(-EPOCHS / 4)
    found = by_check(curves.verdicts(metrics(train, train + 0.02),
                                     config={"model": {"widths": [16]}}))
    assert found["underfitting"].status == WARN
    assert "model.widths=[32]" in found["underfitting"].advice
    assert found["overfitting"].status == PASS


def test_divergence_fails_and_names_the_epoch():
    train = np.r_[2.3, 2.0, 1.9, 5.0, np.full(57, np.nan)]
    found = by_check(curves.verdicts(metrics(train, train), {"status": "diverged"}))
    assert found["lr too high"].status == FAIL
    assert found["lr too high"].numbers["diverged_epoch"] == 4
    assert "optimizer.lr=0.001" in found["lr too high"].advice  # a tenth of the run's lr


def test_a_loss_that_goes_back_up_or_oscillates_says_lr_too_high():
    back_up = np.r_[2.3 - 0.1 * np.arange(16), 0.8 + 0.015 * np.arange(45)]  # 44% back
    assert curves.lr_too_high(metrics(back_up)).status == WARN
    rng = np.random.default_rng(0)
    zigzag = 1.2 + 0.3 * (EPOCHS % 2) + 0.01 * rng.random(61)
    assert curves.lr_too_high(metrics(np.r_[2.3, zigzag[1:]])).status == WARN
    assert curves.lr_too_high(healthy()).status == PASS


def test_a_crawl_says_lr_too_low_and_suggests_ten_times_it():
    train = 2.3 - 0.004 * EPOCHS
    found = by_check(curves.verdicts(metrics(train, train + 0.01, lr=1e-4)))
    assert found["lr too low"].status == WARN
    assert "optimizer.lr=0.001" in found["lr too low"].advice
    assert curves.lr_too_low(healthy()).status == PASS


def test_a_plateau_then_a_fall_is_a_saddle_and_a_flat_start_never_learned():
    saddle = np.r_[np.full(20, 2.30), 2.3 - 1.8 * (1 - np.exp(-np.arange(41) / 4))]
    assert "saddle" in curves.plateau(metrics(saddle)).measured
    assert curves.plateau(metrics(saddle)).status == WARN
    stuck = np.full(61, 2.302)
    assert curves.plateau(metrics(stuck)).status == WARN
    assert curves.plateau(healthy()).status == PASS  # it flattens at the end: converged


def test_dead_units_growing():
    table = metrics(0.3 + 2 * np.exp(-EPOCHS / 8), **{"dead_frac/1": 0.4 * EPOCHS / 60,
                                                      "dead_frac/2": 0.0 * EPOCHS})
    found = curves.dead_units(table)
    assert found.status == WARN and "layer 1" in found.measured
    assert found.numbers["final"]["1"] == pytest.approx(0.4)


def test_early_stopping_too_early_and_too_late():
    # Stopped at epoch 12 while the train loss still fell fast and the val loss had not
    # risen: the patience was too short.
    train = 2.3 * np.exp(-EPOCHS[:13] / 10)
    val = np.r_[2.3 * np.exp(-np.arange(9) / 10), np.full(4, 2.3 * np.exp(-0.8))]
    early = metrics(np.r_[train, np.full(5, train[-1])], np.r_[val, np.full(5, val[-1])],
                    steps=np.r_[10 * np.arange(13), np.full(5, 120)])
    found = curves.early_stopping(early, {"status": "stopped_early"},
                                  {"early_stopping": {"enabled": True, "patience": 3}})
    assert found.status == WARN and "too early" in found.measured
    assert found.advice == "early_stopping.patience=6"
    # Stopped, but 40 epochs after the best: too late.
    val = np.r_[np.linspace(2.3, 1.0, 11), np.linspace(1.0, 1.5, 50)]
    late = metrics(0.5 + 1.8 * np.exp(-EPOCHS / 5), val)
    found = curves.early_stopping(late, {"status": "stopped_early"},
                                  {"early_stopping": {"enabled": True, "patience": 40}})
    assert found.status == WARN and "too late" in found.measured


def test_live_rows_drop_the_rows_written_after_early_stopping():
    steps = np.r_[np.arange(10), np.full(5, 9)]
    table = metrics(np.linspace(2, 1, 15), steps=steps, seeds=1)
    assert curves.live_rows(table).epoch.max() == 9


def test_the_gap_table_is_val_minus_train():
    gap = curves.generalization_gap(healthy())
    assert np.allclose(gap.gap_loss, gap.val_loss - gap.train_loss)
    assert np.allclose(gap.gap_acc, gap.train_acc - gap.val_acc)


# --------------------------------------------------------------------------- the command
def _run_dir(path, table, status="ok", config=None):
    path.mkdir(parents=True)
    records.write_csv(table, path / "metrics.csv")
    records.write_json({"status": status}, path / "summary.json")
    (path / ".hydra").mkdir()
    (path / ".hydra" / "overrides.yaml").write_text("- optimizer.lr=0.01\n")
    (path / ".hydra" / "config.yaml").write_text(json.dumps(config or {}))
    return path


def test_the_command_on_a_run_and_on_a_sweep(tmp_path, capsys):
    run = _run_dir(tmp_path / "sweep" / "0", healthy())
    diverged = np.r_[2.3, 2.0, np.full(59, np.nan)]
    _run_dir(tmp_path / "sweep" / "1", metrics(diverged, diverged), "diverged")
    assert doctor.main([str(run)]) == 0
    assert json.loads((run / "doctor.json").read_text())["verdict"] == PASS
    assert doctor.main([str(tmp_path / "sweep")]) == 1  # job 1 diverged
    sweep = json.loads((tmp_path / "sweep" / "doctor.json").read_text())
    assert [job["verdict"] for job in sweep["jobs"]] == [PASS, FAIL]
    assert json.loads((tmp_path / "sweep" / "1" / "doctor.json").read_text())["verdict"] == FAIL


def test_bad_directories_exit_2_in_one_line(tmp_path, capsys):
    assert doctor.main([str(tmp_path / "missing")]) == 2
    assert doctor.main([str(tmp_path)]) == 2  # neither a run nor a sweep
    (tmp_path / "metrics.csv").write_text("a,b\n1,2\n")
    assert doctor.main([str(tmp_path)]) == 2  # not a trainlab metrics table
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("trainlab doctor: error:") for line in err)
    assert "train_loss" in err[-1]


@pytest.mark.slow
def test_real_runs_made_to_overfit_diverge_and_crawl_are_recognized(tmp_path, capsys):
    from trainlab import plan
    from trainlab.config import compose

    runs = {  # the two SGD runs differ only in lr: one program
        "overfit": ["data.train_size=100", "model.widths=[128,128]", "optimizer.lr=0.003",
                    "epochs=60", "batch_size=full"],
        "diverge": ["data.train_size=256", "model.widths=[32]", "optimizer=sgd",
                    "optimizer.lr=50", "epochs=30", "batch_size=64"],
        "crawl": ["data.train_size=256", "model.widths=[32]", "optimizer=sgd",
                  "optimizer.lr=0.001", "epochs=30", "batch_size=64"],
    }
    plan.train_many([plan.Job(compose(o), tmp_path / name, o) for name, o in runs.items()],
                    progress=False)
    expected = {"overfit": ("overfitting", WARN), "diverge": ("lr too high", FAIL),
                "crawl": ("lr too low", WARN)}
    for name, (check, wanted) in expected.items():
        doctor.main([str(tmp_path / name)])
        report = json.loads((tmp_path / name / "doctor.json").read_text())
        found = {f["check"]: f["status"] for f in report["findings"]}
        assert found[check] == wanted, (name, found)
        others = {c for c, s in found.items() if s in (WARN, FAIL)} - {check, "early stopping"}
        assert not others, (name, found)  # nothing else raised
