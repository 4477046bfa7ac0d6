"""The sweep table (summary.csv, `trainlab report`) and the config hash that resumption
matches, on job directories written by hand: no training here."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import yaml

from trainlab import fingerprint, sweep_report, sweep_table
from trainlab.config import compose


def make_job(sweep_dir, name, overrides, summary=None, objective="best_val_loss"):
    job = sweep_dir / name
    (job / ".hydra").mkdir(parents=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"objective": objective}))
    if summary is not None:  # a finished job's summary holds its overrides, as outcome writes
        (job / "summary.json").write_text(json.dumps({**summary, "overrides": overrides}))
    return job


def summary(status="ok", loss=1.0, acc=0.5):
    return {"status": status, "best_epoch": 3, "best_val_loss": loss, "best_val_acc": acc,
            "test_acc": acc, "wall_s": 0.1, "seeds": [0],
            "config_hash": "abc"}


@pytest.fixture
def sweep(tmp_path):
    make_job(tmp_path, "0", ["epochs=2", "optimizer.lr=0.1"], summary(loss=0.9))
    make_job(tmp_path, "1", ["epochs=2", "optimizer.lr=100"], summary("diverged", None, None))
    make_job(tmp_path, "2", ["epochs=2", "optimizer.lr=0.01"], summary(loss=0.5))
    make_job(tmp_path, "3", ["epochs=2", "optimizer.lr=0.001"])  # killed before it finished
    make_job(tmp_path, "10", ["epochs=2", "optimizer.lr=0.3"], summary(loss=0.7))
    (tmp_path / "multirun.yaml").write_text("{}")
    return tmp_path


def test_rows_sorted_by_objective_with_swept_columns(sweep):
    frame, objective = sweep_table.write(sweep)
    assert objective == "best_val_loss"
    assert list(frame.job) == ["2", "10", "0", "1", "3"]  # best first; diverged, unfinished last
    assert list(frame.columns[:3]) == ["job", "optimizer.lr", "objective"]
    assert "epochs" not in frame  # the same in every job: not swept
    assert frame["optimizer.lr"].dtype.kind == "f"
    assert list(frame.status) == ["ok", "ok", "ok", "diverged", "unfinished"]
    assert math.isnan(frame.objective.iloc[3])
    for column in ("overrides", "seeds", "config_hash"):
        assert column not in frame
    written = pd.read_csv(sweep / "summary.csv", dtype={"job": str})
    assert list(written.job) == list(frame.job)
    assert len(written) == 5


def test_objective_from_the_jobs_config(tmp_path):
    make_job(tmp_path, "0", ["optimizer.lr=0.1"], summary(acc=0.9), objective="test_error")
    make_job(tmp_path, "1", ["optimizer.lr=0.2"], summary(acc=0.6), objective="test_error")
    frame, objective = sweep_table.build(tmp_path)
    assert objective == "test_error"
    assert list(frame.job) == ["0", "1"]
    assert frame.objective.iloc[0] == pytest.approx(0.1)


def test_report_rebuilds_the_table(sweep, capsys, monkeypatch):
    # A fixed width (not the machine's); the title's phrases stay whole however long the path.
    monkeypatch.setenv("COLUMNS", "120")
    assert sweep_report.main([str(sweep), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert f"sweep {sweep}: 5 jobs (" in out and "diverged" in out and "optimizer.lr" in out
    assert (sweep / "summary.csv").is_file()


def test_report_refuses_what_is_not_a_sweep(tmp_path, capsys):
    assert sweep_report.main([str(tmp_path / "nothing")]) == 2
    assert sweep_report.main([str(tmp_path)]) == 2
    assert "no job directories" in capsys.readouterr().err


def test_config_hash_changes_with_results_not_with_display():
    base = compose(["epochs=2"])
    assert fingerprint.config_hash(base) == fingerprint.config_hash(compose(["epochs=2"]))
    assert fingerprint.config_hash(base) == fingerprint.config_hash(
        compose(["epochs=2", "progress=false"]))
    assert fingerprint.config_hash(base) != fingerprint.config_hash(
        compose(["epochs=2", "optimizer.lr=0.01"]))


def test_finished_summary_needs_the_same_hash_and_the_metrics(tmp_path):
    cfg = compose(["epochs=2"])
    assert fingerprint.finished_summary(tmp_path, cfg) is None
    (tmp_path / "summary.json").write_text(json.dumps({"config_hash": "other"}))
    (tmp_path / "metrics.csv").write_text("seed,epoch\n")
    assert fingerprint.finished_summary(tmp_path, cfg) is None
    (tmp_path / "summary.json").write_text(
        json.dumps({"config_hash": fingerprint.config_hash(cfg), "status": "ok"}))
    assert fingerprint.finished_summary(tmp_path, cfg)["status"] == "ok"
    (tmp_path / "metrics.csv").unlink()
    assert fingerprint.finished_summary(tmp_path, cfg) is None
