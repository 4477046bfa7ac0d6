"""The end of a real sweep (`train -m`): the callback writes summary.csv, report.html (unless
`hydra.callbacks.sweep_summary.html=false`) and prints its path; with logger=tensorboard every
job has its event files and the sweep its HParams. Tiny jobs: the time goes to compiling."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from event_files import assert_same_scalars, hparams_data
from trainlab import sweep_table

TINY = ["data=moons", "data.n_samples=200", "epochs=3", "batch_size=32", "model.widths=[8]",
        "progress=false"]


def multirun(sweep_dir, *overrides: str) -> str:
    """``train -m OVERRIDES`` in a process of its own (Hydra then owns its streams and
    logging, whatever ran in this one before); its output."""
    result = subprocess.run(
        [sys.executable, "-m", "trainlab.cli", "-m", f"hydra.sweep.dir={sweep_dir}", *TINY,
         *overrides], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_tensorboard_sweep_ends_with_its_page_and_hparams(tmp_path):
    pytest.importorskip("tensorboard", reason="the tensorboard package reads the events back")
    sweep = tmp_path / "sweep"
    out = multirun(sweep, "optimizer.lr=0.01,0.1", "seeds=2", "logger=tensorboard")
    assert f"report: {sweep / 'report.html'}" in out
    assert (sweep / "report.html").is_file() and (sweep / "summary.csv").is_file()
    table = pd.read_csv(sweep / "summary.csv", dtype={"job": str})
    assert len(table) == 2
    for _, row in table.iterrows():
        job = sweep / row.job
        metrics = pd.read_csv(job / "metrics.csv")
        for seed in (0, 1):  # seeds=2: one event dir per seed
            assert_same_scalars(job / "tensorboard" / f"seed_{seed}",
                                metrics[metrics.seed == seed])
        start = hparams_data(job / "tensorboard")["_hparams_/session_start_info"]
        assert start.session_start_info.hparams["optimizer.lr"].number_value == row[
            "optimizer.lr"]
    assert len(list(sweep.glob("*.hparams"))) == 1  # the experiment: the swept keys


def test_the_page_is_one_override_away(tmp_path):
    sweep = tmp_path / "sweep"
    out = multirun(sweep, "optimizer.lr=0.01,0.1", "hydra.callbacks.sweep_summary.html=false")
    assert "report:" not in out
    assert (sweep / "summary.csv").is_file() and not (sweep / "report.html").exists()
    assert not list(sweep.rglob("tensorboard"))  # logger=none, the default
    assert len(sweep_table.job_dirs(sweep)) == 2
