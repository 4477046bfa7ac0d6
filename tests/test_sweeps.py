"""Sweeps end to end: ``train -m`` with the vectorized launcher against Hydra's basic launcher,
one compile per group, a diverging trial among good ones, kill -9 and resume, extending a
random sweep, a bad value in one job, and the trial axis over 2 (fake) CPU devices.

Tiny jobs (moons, 200 samples, 3 epochs, no diagnostics): the time goes to compiling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import sweep_runs
from sweep_runs import job_dirs
from trainlab import program

TINY = ["data=moons", "data.n_samples=200", "epochs=3", "batch_size=32", "diagnostics=off",
        "progress=false"]
TRAIN = [sys.executable, "-m", "trainlab.cli"]


def multirun(sweep_dir: Path, *overrides: str) -> list:
    """``train -m OVERRIDES`` with this file's tiny base, in this process."""
    return sweep_runs.multirun(sweep_dir, *TINY, *overrides)


def overrides_of(job_dir: Path) -> list[str]:
    return yaml.safe_load((job_dir / ".hydra" / "overrides.yaml").read_text())


def same_metrics(a: Path, b: Path) -> None:
    """Two runs' metrics.csv agree to float tolerance (time_s, a wall clock, aside)."""
    ma, mb = (pd.read_csv(d / "metrics.csv").drop(columns="time_s", errors="ignore")
              for d in (a, b))
    assert list(ma.columns) == list(mb.columns)
    np.testing.assert_allclose(ma.to_numpy(float), mb.to_numpy(float), rtol=2e-4, atol=1e-6)


def compiled_programs() -> int:
    """Executables built so far (Program.compile cache misses), over every program."""
    return sum(len(p._compiled) for p in program._PROGRAMS.values())


@pytest.fixture
def fresh_programs(monkeypatch):
    monkeypatch.setattr(program, "_PROGRAMS", {})


def test_vectorized_launcher_matches_basic_and_compiles_once_per_group(
        tmp_path, fresh_programs):
    multirun(tmp_path / "vec", "model.widths=[8],[16]", "optimizer.lr=0.01,0.1,0.3",
             "hydra.launcher.chunk_size=0")
    assert compiled_programs() == 2  # two widths: two groups, one executable each
    assert all(len(p._compiled) == 1 for p in program._PROGRAMS.values())
    table = pd.read_csv(tmp_path / "vec" / "summary.csv")
    assert len(table) == 6
    assert list(table.columns[:4]) == ["job", "model.widths", "optimizer.lr", "objective"]
    assert table.objective.is_monotonic_increasing
    assert sorted(zip(table["model.widths"], table["optimizer.lr"])) == [  # the grid, all of it
        (w, lr) for w in ("[16]", "[8]") for lr in (0.01, 0.1, 0.3)]

    # The same jobs of the first group, one by one under Hydra's basic launcher.
    multirun(tmp_path / "basic", "model.widths=[8]", "optimizer.lr=0.01,0.1,0.3",
             "hydra/launcher=basic")
    vec, basic = job_dirs(tmp_path / "vec")[:3], job_dirs(tmp_path / "basic")
    assert len(basic) == 3
    for a, b in zip(vec, basic, strict=True):
        assert overrides_of(a) == overrides_of(b)
        assert {p.name for p in (a / ".hydra").iterdir()} >= {
            "config.yaml", "hydra.yaml", "overrides.yaml"}
        assert (a / ".hydra" / "config.yaml").read_text() == \
            (b / ".hydra" / "config.yaml").read_text()
        for name in ("params_init.npz", "params_final.npz"):
            assert (a / name).is_file()
        same_metrics(a, b)
        sa = json.loads((a / "summary.json").read_text())
        sb = json.loads((b / "summary.json").read_text())
        assert sa["status"] == sb["status"] == "ok"
        assert sa["overrides"] == sb["overrides"]
        assert sa["config_hash"] == sb["config_hash"]


class RecordReturns:
    """A Hydra callback keeping the JobReturn of every job (what a sweeper gets back)."""

    returns: list = []

    def on_job_end(self, config, job_return, **kwargs):
        RecordReturns.returns.append(job_return)

    def __getattr__(self, name):  # every other callback: nothing to do
        return lambda *args, **kwargs: None


def test_a_diverging_trial_is_flagged_and_the_others_finish(tmp_path, fresh_programs):
    RecordReturns.returns = []
    multirun(tmp_path, "optimizer=sgd", "optimizer.lr=0.05,100,0.5",
             "hydra.launcher.chunk_size=0",
             f"+hydra.callbacks.record._target_={__name__}.RecordReturns")
    assert compiled_programs() == 1  # all three in one vmapped call
    statuses = [json.loads((d / "summary.json").read_text())["status"]
                for d in job_dirs(tmp_path)]
    assert statuses == ["ok", "diverged", "ok"]
    objectives = [r.return_value for r in RecordReturns.returns]  # the app's objective
    summaries = [json.loads((d / "summary.json").read_text()) for d in job_dirs(tmp_path)]
    # a diverged job ranks last, whatever it reached before diverging
    assert objectives == [pytest.approx(s["best_val_loss"]) if s["status"] == "ok"
                          else float("inf") for s in summaries]
    diverged = pd.read_csv(job_dirs(tmp_path)[1] / "metrics.csv")
    assert diverged.train_loss.isna().iloc[-1]
    good = pd.read_csv(job_dirs(tmp_path)[0] / "metrics.csv")
    assert good.train_loss.notna().all() and good.step.iloc[-1] == 3 * (128 // 32)
    assert diverged.step.max() < 3 * (128 // 32)  # frozen where it diverged
    table = pd.read_csv(tmp_path / "summary.csv")
    assert table.status.iloc[-1] == "diverged"


def test_a_random_sweep_extended_keeps_its_finished_trials(tmp_path):
    search = ["hydra/sweeper=random", "hydra.sweeper.seed=3",
              "optimizer.lr=tag(log, interval(1e-3, 1e-1))"]
    multirun(tmp_path, *search, "hydra.sweeper.n_trials=2")
    first = {d.name: (d / "summary.json").stat().st_mtime_ns for d in job_dirs(tmp_path)}
    first_overrides = [overrides_of(d) for d in job_dirs(tmp_path)]
    multirun(tmp_path, *search, "hydra.sweeper.n_trials=4")
    dirs = job_dirs(tmp_path)
    assert len(dirs) == 4
    assert [overrides_of(d) for d in dirs[:2]] == first_overrides
    for d in dirs[:2]:  # not run again
        assert (d / "summary.json").stat().st_mtime_ns == first[d.name]
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 4


def test_basic_launcher_skips_finished_jobs_too(tmp_path):
    sweep = ["model.widths=[8]", "optimizer.lr=0.01,0.1", "hydra/launcher=basic"]
    multirun(tmp_path, *sweep)
    stamps = [(d / "summary.json").stat().st_mtime_ns for d in job_dirs(tmp_path)]
    (job_dirs(tmp_path)[1] / "summary.json").unlink()  # as if killed during job 1
    multirun(tmp_path, *sweep)
    assert (job_dirs(tmp_path)[0] / "summary.json").stat().st_mtime_ns == stamps[0]
    assert (job_dirs(tmp_path)[1] / "summary.json").stat().st_mtime_ns > stamps[1]
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 2


def test_a_bad_value_in_one_job_stops_the_sweep_before_anything_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        multirun(tmp_path, "optimizer.lr=0.1,-1")
    assert stop.value.code == 2
    assert "optimizer.lr=-1" in capsys.readouterr().err
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]



def test_the_grid_sweeper_still_checks_every_job_first_for_hydras_launchers(tmp_path):
    """hydra/sweeper=grid (the default) leaves the check of each job to a launcher that
    composes them all before running any (the vectorized one); with Hydra's basic launcher,
    a job that cannot be composed still stops the sweep before the first job trains."""
    with pytest.raises(SystemExit) as stop:
        multirun(tmp_path, "model.widths=[8]", "optimizer.lr=0.1,abc", "hydra/launcher=basic")
    assert stop.value.code != 0
    assert not list(tmp_path.glob("*/summary.json"))

def test_kill_minus_9_then_resume_loses_and_repeats_nothing(tmp_path):
    lrs = ",".join(str(x) for x in np.round(np.logspace(-3, -1, 8), 6))
    args = [*TRAIN, "-m", f"hydra.sweep.dir={tmp_path}", *TINY, "epochs=12",
            "data.n_samples=1000", f"optimizer.lr={lrs}", "hydra.launcher.chunk_size=1"]
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if len(list(tmp_path.glob("*/summary.json"))) >= 2:
                break
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    finished = {p.parent.name: p.read_text() for p in tmp_path.glob("*/summary.json")}
    assert 2 <= len(finished) < 8, "the sweep was not killed in the middle"
    stamps = {name: (tmp_path / name / "summary.json").stat().st_mtime_ns for name in finished}

    result = subprocess.run(args, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished)} of 8 jobs already finished" in result.stderr + result.stdout
    summaries = sorted(tmp_path.glob("*/summary.json"))
    assert len(summaries) == 8 and len(job_dirs(tmp_path)) == 8
    for name, text in finished.items():  # kept as they were, not rerun
        assert (tmp_path / name / "summary.json").read_text() == text
        assert (tmp_path / name / "summary.json").stat().st_mtime_ns == stamps[name]
    table = pd.read_csv(tmp_path / "summary.csv")
    assert len(table) == 8 and table.job.is_unique and (table.status == "ok").all()
    assert sorted(table["optimizer.lr"]) == sorted(float(x) for x in lrs.split(","))


SHARDED = """
import json, sys
import jax
from hydra.core.global_hydra import GlobalHydra
from trainlab import cli, program
sys.argv = ["train", "-m", *sys.argv[1:]]
try:
    cli._train()
except SystemExit:
    pass
[prog] = program._PROGRAMS.values()
[compiled] = prog._compiled.values()
values, seeds = compiled.init.input_shardings[0][:2]  # init(values, seeds, data)
print(json.dumps({"devices": len(jax.devices()), "seed_devices": len(seeds.device_set),
                  "spec": [str(axis) for axis in seeds.spec]}))
"""


def test_trials_sharded_over_two_cpu_devices(tmp_path, fresh_programs):
    sweep = ["optimizer.lr=0.003,0.03,0.3"]
    env = os.environ | {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    result = subprocess.run(
        [sys.executable, "-c", SHARDED, f"hydra.sweep.dir={tmp_path / 'sharded'}", *TINY,
         *sweep, "hydra.launcher.chunk_size=0"],
        capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts == {"devices": 2, "seed_devices": 2, "spec": ["trials"]}
    assert "chunks of 4 on 2 cpu device(s)" in result.stdout  # 3 trials padded to 2 x 2

    multirun(tmp_path / "single", *sweep, "hydra.launcher.chunk_size=1")
    for a, b in zip(job_dirs(tmp_path / "sharded"), job_dirs(tmp_path / "single"), strict=True):
        same_metrics(a, b)


@pytest.mark.slow
def test_joblib_launcher_runs_the_same_app(tmp_path):
    result = subprocess.run(
        [*TRAIN, "-m", f"hydra.sweep.dir={tmp_path}", *TINY, "optimizer.lr=0.01,0.1",
         "hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
        capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "Joblib" in result.stderr + result.stdout
    table = pd.read_csv(tmp_path / "summary.csv")
    assert len(table) == 2 and (table.status == "ok").all()
    for job in job_dirs(tmp_path):
        assert (job / "metrics.csv").is_file() and (job / ".hydra" / "config.yaml").is_file()


def test_a_2000_job_sweep_finishes_with_a_row_per_job(tmp_path):
    """Scale as a user meets it: 2000 random-search jobs of a tiny model, each with its
    directory, its .hydra files and its run files, and one row each in summary.csv."""
    sweep = tmp_path / "sweep"
    subprocess.run([*TRAIN, "-m", "hydra/sweeper=random", "hydra.sweeper.n_trials=2000",
                    "optimizer.lr=tag(log, interval(1e-4, 1))", "data=moons",
                    "data.n_samples=100", "model.widths=[4]", "epochs=1", "batch_size=32",
                    "progress=false", "diagnostics=off", f"hydra.sweep.dir={sweep}",
                    "hydra.callbacks.sweep_summary.html=false"],
                   check=True, capture_output=True, env={**os.environ, "TRAINLAB_CALIBRATE": "0"})
    table = pd.read_csv(sweep / "summary.csv")
    assert len(table) == 2000
    assert table["optimizer.lr"].nunique() == 2000
    dirs = job_dirs(sweep)
    assert len(dirs) == 2000
    for job in (dirs[0], dirs[999], dirs[-1]):
        assert {"metrics.csv", "summary.json"} <= {p.name for p in job.iterdir()}
        assert (job / ".hydra" / "config.yaml").is_file()
        assert len(pd.read_csv(job / "metrics.csv")) == 2  # epochs 0 and 1
