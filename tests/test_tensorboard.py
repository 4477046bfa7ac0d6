"""logger=tensorboard's files read back with TensorBoard's own event reader: the scalars equal
metrics.csv, the HParams equal summary.csv. On tables and sweeps written by hand (no
training); test_sweep_callback.py runs the logger in a real sweep."""

from __future__ import annotations

import math
import sys

import numpy as np
import pandas as pd
import pytest

from event_files import assert_same_scalars, hparams_data, scalars
from report_fixtures import make_sweep, metrics
from trainlab import sweep_table
from trainlab.report import loggers, tensorboard

pytest.importorskip("tensorboard", reason="the tensorboard package (dev extra) reads the "
                    "event files back")


# ------------------------------------------------------------------------------ scalars
def test_every_column_is_a_scalar_by_epoch(tmp_path):
    table = metrics(1e-2, 0.1, [0])
    table.loc[3, "val_loss"] = np.inf  # a diverging epoch stays what it was
    table["train_acc"] = np.nan  # a regression's accuracy: no scalar at all
    event_dir = tensorboard.write_run(tmp_path, table)
    assert event_dir == tmp_path / "tensorboard"
    assert_same_scalars(event_dir, table)
    assert "train_acc" not in scalars(event_dir)
    assert {"grad_norm/1", "act_std/2", "lr", "step"} <= set(scalars(event_dir))
    assert [p.name for p in tmp_path.iterdir()] == ["tensorboard"]  # nothing left half-made


def test_one_event_dir_per_seed(tmp_path):
    table = metrics(1e-2, 0.1, [3, 4])
    event_dir = tensorboard.write_run(tmp_path, table)
    assert sorted(p.name for p in event_dir.iterdir()) == ["seed_3", "seed_4"]
    for seed in (3, 4):
        assert_same_scalars(event_dir / f"seed_{seed}", table[table.seed == seed])


def test_the_check_sees_a_wrong_value(tmp_path):
    table = metrics(1e-2, 0.1, [0])
    event_dir = tensorboard.write_run(tmp_path, table)
    wrong = table.copy()
    wrong.loc[2, "val_loss"] += 1e-3
    with pytest.raises(AssertionError):
        assert_same_scalars(event_dir, wrong)


def test_a_rerun_replaces_the_events(tmp_path):
    tensorboard.write_run(tmp_path, metrics(1e-2, 0.1, [0, 1]))
    table = metrics(1e-3, 0.1, [0])
    tensorboard.write_run(tmp_path, table)
    assert not (tmp_path / "tensorboard" / "seed_0").exists()
    assert_same_scalars(tmp_path / "tensorboard", table)


def test_logger_none_writes_nothing(tmp_path):
    loggers.NoLogger().log_run(tmp_path, metrics(1e-2, 0.1, [0]), {})
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------ HParams
@pytest.fixture
def logged_sweep(tmp_path):
    """A sweep whose jobs but the last two were run with logger=tensorboard."""
    sweep = make_sweep(tmp_path / "sweep", diverged=(1,))
    jobs = sweep_table.job_dirs(sweep)
    for job in jobs[:-2]:
        tensorboard.write_run(job, pd.read_csv(job / "metrics.csv"))
    frame, _ = sweep_table.write(sweep)
    return sweep, frame, [j.name for j in jobs[-2:]]


def test_hparams_match_the_sweep_table(logged_sweep):
    sweep, frame, unlogged = logged_sweep
    swept = sweep_table.swept_columns(frame)
    assert loggers.log_sweep(sweep, frame, swept) == {"tensorboard": len(frame) - 2}
    [experiment] = hparams_data(sweep).values()
    infos = {info.name: info for info in experiment.experiment.hparam_infos}
    assert list(infos) == swept == ["optimizer.lr", "model.hidden_dropout", "seed"]
    assert infos["optimizer.lr"].domain_interval.min_value == frame["optimizer.lr"].min()
    metric_tags = [m.name.tag for m in experiment.experiment.metric_infos]
    assert metric_tags[0] == "summary/objective"

    table = pd.read_csv(sweep / "summary.csv", dtype={"job": str})
    for _, row in table.iterrows():
        event_dir = sweep / row.job / "tensorboard"
        if row.job in unlogged:
            assert not event_dir.exists()
            continue
        data = hparams_data(event_dir)
        start = data["_hparams_/session_start_info"].session_start_info
        assert {k: v.number_value for k, v in start.hparams.items()} == {
            key: pytest.approx(row[key]) for key in swept}
        end = data["_hparams_/session_end_info"].session_end_info
        assert end.status == (2 if row.status == "diverged" else 1)  # FAILURE, SUCCESS
        values = scalars(event_dir)
        if math.isfinite(row.objective):
            assert values["summary/objective"].dropna().item() == pytest.approx(row.objective)
        else:
            assert "summary/objective" not in values  # diverged: no number to compare
        assert values["summary/test_acc"].dropna().item() == pytest.approx(row.test_acc)


def test_hparams_written_again_replace_the_old(logged_sweep):
    sweep, frame, _ = logged_sweep
    swept = sweep_table.swept_columns(frame)
    loggers.log_sweep(sweep, frame, swept)
    loggers.log_sweep(sweep, frame, swept)
    job = sweep_table.job_dirs(sweep)[0]
    assert len(list(sweep.glob("*.hparams"))) == 1
    assert len(list((job / "tensorboard").glob("*.hparams"))) == 1
    assert_same_scalars(job / "tensorboard", pd.read_csv(job / "metrics.csv"))  # untouched


def test_no_hparams_for_a_sweep_without_event_dirs(tmp_path):
    sweep = make_sweep(tmp_path)
    frame, _ = sweep_table.write(sweep)
    assert loggers.log_sweep(sweep, frame, sweep_table.swept_columns(frame)) == {}
    assert not list(sweep.rglob("*.hparams"))


def test_a_sweep_end_imports_no_logger_the_sweep_did_not_use(tmp_path, monkeypatch):
    sweep = make_sweep(tmp_path)
    frame, _ = sweep_table.write(sweep)
    imported = []
    monkeypatch.setattr(loggers.importlib, "import_module",
                        lambda name: imported.append(name) or sys.modules[name])
    assert loggers.log_sweep(sweep, frame, sweep_table.swept_columns(frame)) == {}
    assert imported == []  # mlflow alone takes seconds to import
    (sweep / str(frame["job"][0]) / tensorboard.EVENT_DIR).mkdir()
    loggers.log_sweep(sweep, frame, sweep_table.swept_columns(frame))
    assert imported == ["trainlab.report.tensorboard"]
    assert loggers.GROUPS["logger"]["tensorboard"].job_folder == tensorboard.EVENT_DIR


def test_string_and_bool_hparams(tmp_path):
    sweep = make_sweep(tmp_path)
    jobs = sweep_table.job_dirs(sweep)
    for job in jobs:
        tensorboard.write_run(job, pd.read_csv(job / "metrics.csv"))
    frame, _ = sweep_table.build(sweep)
    frame["optimizer"] = ["adam", "sgd"] * (len(frame) // 2)
    frame["flag"] = [True, False] * (len(frame) // 2)
    tensorboard.write_sweep(sweep, frame, ["optimizer", "flag"])
    [experiment] = hparams_data(sweep).values()
    infos = {i.name: i for i in experiment.experiment.hparam_infos}
    assert list(infos["optimizer"].domain_discrete) == ["adam", "sgd"]
    row = frame[frame.job == jobs[0].name].iloc[0]
    start = hparams_data(jobs[0] / "tensorboard")["_hparams_/session_start_info"]
    assert start.session_start_info.hparams["optimizer"].string_value == row.optimizer
    assert start.session_start_info.hparams["flag"].bool_value == row.flag
