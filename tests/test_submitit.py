"""``hydra.launcher.executor=submitit``: each chunk of a group trained by a submitit job in a
worker process of its own (submitit's local executor: real processes), against the in-process
launcher file by file; a worker killed with -9 and a chunk that raises fail only their own
jobs, and a rerun resumes; the Slurm parameters reach sbatch; Hydra's own submitit_local
launcher runs the app job by job.

The slow tests start worker processes that import JAX and compile (seconds each, more on a
loaded machine): tiny moons jobs, 2 epochs, as few chunks as each check needs."""

from __future__ import annotations

import dataclasses
import json
import os
import pickle
import re
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
from trainlab.sweep_lock import MARK_NAME

TINY = ["data=moons", "data.n_samples=120", "epochs=2", "batch_size=32", "diagnostics=off",
        "progress=false", "hydra.callbacks.sweep_summary.html=false"]
TRAIN = [sys.executable, "-m", "trainlab.cli"]
SUBMITIT = ["hydra.launcher.executor=submitit"]
WALL_CLOCK = ("wall_s", "compile_s", "steps_per_s")  # summary fields that time, not compute


def multirun(sweep_dir: Path, *overrides: str) -> list:
    """``train -m OVERRIDES`` with this file's tiny base, in this process."""
    return sweep_runs.multirun(sweep_dir, *TINY, *overrides)


# ------------------------------------------------------------------ same files, both ways
def _metrics_without_time(path: Path) -> list[list[str]]:
    """metrics.csv as text cells, the time_s column (a wall clock) left out."""
    rows = [line.split(",") for line in path.read_text().splitlines()]
    keep = [i for i, name in enumerate(rows[0]) if name != "time_s"]
    assert len(keep) == len(rows[0]) - 1, "no time_s column"
    return [[row[i] for i in keep] for row in rows]


def _summary_without_clock(path: Path) -> dict:
    summary = json.loads(path.read_text())
    for name in WALL_CLOCK:
        summary.pop(name)
    return summary


def _hydra_yaml(path: Path, sweep_dir: Path) -> dict:
    """hydra.yaml but for what differs by design: the sweep dir, and the launcher's executor
    (its value and its override)."""
    hydra = yaml.safe_load(path.read_text().replace(str(sweep_dir), "SWEEP"))["hydra"]
    hydra["launcher"].pop("executor")
    hydra["overrides"]["hydra"] = [o for o in hydra["overrides"]["hydra"]
                                   if not o.startswith("hydra.launcher.executor=")]
    return hydra


def assert_same_job_files(a_sweep: Path, b_sweep: Path) -> None:
    """Every file of every job dir of two sweeps the same: metrics.csv as text but time_s,
    summary.json but its wall-clock fields, the params arrays bit for bit, the .hydra files
    (hydra.yaml but the sweep dir and the executor), the sweep mark (each sweep's own id)
    present in both, anything else byte for byte."""
    a_jobs, b_jobs = job_dirs(a_sweep), job_dirs(b_sweep)
    assert [d.name for d in a_jobs] == [d.name for d in b_jobs] and a_jobs
    for a_job, b_job in zip(a_jobs, b_jobs):
        files = sorted(p.relative_to(a_job) for p in a_job.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(b_job) for p in b_job.rglob("*") if p.is_file())
        assert Path("summary.json") in files and Path(".hydra/hydra.yaml") in files
        for name in files:
            a, b = a_job / name, b_job / name
            if name.name == "metrics.csv":
                assert _metrics_without_time(a) == _metrics_without_time(b), a
            elif name.name == "summary.json":
                assert _summary_without_clock(a) == _summary_without_clock(b), a
            elif name.suffix == ".npz":
                with np.load(a) as x, np.load(b) as y:
                    assert sorted(x.files) == sorted(y.files), a
                    for key in x.files:
                        assert x[key].dtype == y[key].dtype, (a, key)
                        np.testing.assert_array_equal(x[key], y[key], err_msg=f"{a} {key}")
            elif name == Path(".hydra/hydra.yaml"):
                assert _hydra_yaml(a, a_sweep) == _hydra_yaml(b, b_sweep), a
            elif name.name == MARK_NAME:  # marks the job as one of its sweep's
                assert a.read_text() != b.read_text(), a
            else:
                assert a.read_bytes() == b.read_bytes(), a


# 5 jobs of 2 seeds, 4 trials a call: chunks of 2, 2 and 1 jobs (the last padded), whose jobs
# share their chunk's time and have per-seed summaries.
EQUAL_SWEEP = ["optimizer.lr=0.01,0.03,0.1,0.3,1", "seeds=2", "hydra.launcher.chunk_size=4"]


@pytest.mark.slow
def test_submitit_chunks_write_the_files_of_the_in_process_launcher(tmp_path):
    multirun(tmp_path / "local", *EQUAL_SWEEP)
    multirun(tmp_path / "submitit", *EQUAL_SWEEP, *SUBMITIT)
    chunk_logs = sorted((tmp_path / "submitit" / ".submitit").glob("*/*_log.out"))
    assert len(chunk_logs) == 3  # one submitit job a chunk, each its own process
    trained = sorted(re.search(r"trainlab chunk: (\d) of (\d) jobs trained", p.read_text())
                     .groups() for p in chunk_logs)
    assert trained == [("1", "1"), ("2", "2"), ("2", "2")]
    assert_same_job_files(tmp_path / "local", tmp_path / "submitit")
    assert len(pd.read_csv(tmp_path / "submitit" / "summary.csv")) == 5

    # The comparison sees one params value, one metrics cell changed (then put back).
    job = job_dirs(tmp_path / "submitit")[1]

    def changed(path: Path, change) -> None:
        before = path.read_bytes()
        change(path)
        with pytest.raises(AssertionError):
            assert_same_job_files(tmp_path / "local", tmp_path / "submitit")
        path.write_bytes(before)

    def nudge_a_weight(path: Path) -> None:
        with np.load(path) as params:
            arrays = {k: params[k].copy() for k in params.files}
        arrays["layers.0.w"].flat[0] = np.nextafter(arrays["layers.0.w"].flat[0], np.inf)
        np.savez(path, **arrays)

    def change_a_loss(path: Path) -> None:
        lines = path.read_text().splitlines()
        cells = lines[2].split(",")
        assert lines[0].split(",")[4] == "train_loss"
        cells[4] = "0.25" if cells[4] != "0.25" else "0.5"
        lines[2] = ",".join(cells)
        path.write_text("\n".join(lines) + "\n")

    changed(job / "params_final.npz", nudge_a_weight)
    changed(job / "metrics.csv", change_a_loss)
    assert_same_job_files(tmp_path / "local", tmp_path / "submitit")

    # Run again: every job finished, so nothing is submitted (no new submitit job).
    multirun(tmp_path / "submitit", *EQUAL_SWEEP, *SUBMITIT)
    assert sorted((tmp_path / "submitit" / ".submitit").glob("*/*_log.out")) == chunk_logs


# --------------------------------------------------------------- a worker dies, a chunk raises
def _worker_of(controller: int) -> int | None:
    """The task process (the worker) that submitit's local controller ``controller`` started."""
    try:
        children = Path(f"/proc/{controller}/task/{controller}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _controller_of(sweep_dir: Path, job_dir: Path) -> int | None:
    """The local submitit job (its controller's pid) whose chunk trains ``job_dir``."""
    for pickled in (sweep_dir / ".submitit").glob("*/*_submitted.pkl"):
        try:
            delayed = pickle.loads(pickled.read_bytes())
        except (EOFError, pickle.UnpicklingError):
            continue  # being written
        if any(Path(job.out_dir) == job_dir.absolute() for job in delayed.args[0]):
            return int(pickled.parent.name)
    return None


@pytest.mark.slow
def test_a_killed_worker_and_a_raising_chunk_fail_only_their_jobs_and_a_rerun_resumes(
        tmp_path):
    args = [*TRAIN, "-m", f"hydra.sweep.dir={tmp_path}", *TINY, *SUBMITIT,
            "optimizer.lr=0.01,0.1,0.3", "hydra.launcher.chunk_size=1"]  # 3 chunks
    # Job 1's metrics.csv cannot be written (a directory is in its place): its chunk raises.
    (tmp_path / "1" / "metrics.csv").mkdir(parents=True)
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    killed = None
    try:
        deadline = time.monotonic() + 240
        while killed is None and time.monotonic() < deadline and process.poll() is None:
            controller = _controller_of(tmp_path, tmp_path / "0")
            worker = _worker_of(controller) if controller else None
            if worker is not None:
                os.kill(worker, signal.SIGKILL)  # job 0's worker, while its chunk runs
                killed = worker
            time.sleep(0.05)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert killed is not None, output
    assert process.returncode != 0  # Hydra reports the failed jobs at the end
    assert "jobs [0] failed" in output and "jobs [1] failed" in output, output
    lines = output.splitlines()
    assert [line for line in lines if "jobs [0] failed" in line and  # the killed one
            "ended without a result" in line], output
    assert [line for line in lines if "jobs [1] failed" in line and  # the raising one
            "raised IsADirectoryError" in line], output
    assert not (tmp_path / "0" / "summary.json").exists()
    assert not (tmp_path / "1" / "summary.json").exists()
    finished = (tmp_path / "2" / "summary.json")
    assert json.loads(finished.read_text())["status"] == "ok"  # the third chunk went on
    stamp = finished.stat().st_mtime_ns

    (tmp_path / "1" / "metrics.csv").rmdir()
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 of 3 jobs already finished" in result.stdout + result.stderr
    assert finished.stat().st_mtime_ns == stamp  # not trained again
    table = pd.read_csv(tmp_path / "summary.csv")
    assert len(table) == 3 and (table.status == "ok").all()


# ------------------------------------------------------------------------ no worker needed
def test_the_schema_has_hydra_submitit_launchers_names_and_defaults():
    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf

    from hydra_plugins.trainlab_launcher.config import SubmititConf

    theirs = {f.name: f for f in dataclasses.fields(SlurmQueueConf)}
    ours = {f.name: f for f in dataclasses.fields(SubmititConf)}
    theirs["folder"] = theirs.pop("submitit_folder")
    theirs.pop("_target_")
    assert set(theirs) <= set(ours), set(theirs) - set(ours)

    def default(f):
        return f.default_factory() if f.default_factory is not dataclasses.MISSING \
            else f.default

    assert {k: default(ours[k]) for k in theirs} == {k: default(f) for k, f in theirs.items()}
    # newer hydra-submitit-launcher releases have these too
    assert {"srun_args", "python", "cluster"} <= set(ours)


def test_the_slurm_parameters_reach_sbatch(tmp_path, monkeypatch):
    from hydra_plugins.trainlab_launcher import submitit_chunks
    from hydra_plugins.trainlab_launcher.config import SubmititConf

    params = dataclasses.asdict(SubmititConf()) | {"cluster": "slurm"}
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "no srun on the PATH" in submitit_chunks.problem(params)
    (tmp_path / "srun").write_text("#!/bin/sh\n")  # what submitit looks for: a Slurm node
    (tmp_path / "srun").chmod(0o755)

    params = dataclasses.asdict(SubmititConf()) | {
        "cluster": "slurm", "folder": str(tmp_path / "%j"), "name": "sweep", "partition": "gpu",
        "gpus_per_node": 1, "cpus_per_task": 4, "mem_gb": 16, "timeout_min": 30,
        "account": "course", "constraint": "h100", "array_parallelism": 8,
        "additional_parameters": {"mail-type": "END"}, "setup": ["module load cuda"],
        "srun_args": ["--cpu-bind=none"], "max_num_timeout": 2}
    assert submitit_chunks.problem(params) is None
    executor = submitit_chunks.make_executor(params)
    assert executor.cluster == "slurm" and executor._executor.max_num_timeout == 2
    slurm = executor._executor
    text = slurm._make_submission_file_text("python -m x", "uid")
    for line in ("--job-name=sweep", "--partition=gpu", "--gpus-per-node=1",
                 "--cpus-per-task=4", "--mem=16GB", "--time=30", "--account=course",
                 "--constraint=h100", "--mail-type=END", "--signal=USR2@120"):
        assert f"#SBATCH {line}\n" in text, line
    assert "module load cuda\n" in text and "--cpu-bind=none" in text
    assert slurm.parameters["array_parallelism"] == 8
    assert "#SBATCH --partition=cpu\n" not in text  # (the check itself can fail)


@pytest.mark.parametrize(("override", "message"), [
    ("hydra.launcher.executor=ray", "hydra.launcher.executor=ray: must be local or submitit"),
    ("hydra.launcher.submitit.cluster=pbs",
     "hydra.launcher.submitit.cluster=pbs: must be one of local, slurm, auto"),
    ("hydra.launcher.submitit.tasks_per_node=2",
     "hydra.launcher.submitit.tasks_per_node=2: must be 1"),
])
def test_bad_executor_values_stop_with_one_line(tmp_path, capsys, override, message):
    overrides = [override] if "executor=" in override else [*SUBMITIT, override]
    with pytest.raises(SystemExit) as stop:
        multirun(tmp_path, "optimizer.lr=0.1,0.2", *overrides)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]


# ----------------------------------------------------------------- Hydra's own launcher
@pytest.mark.slow
def test_hydras_submitit_local_launcher_runs_the_app_job_by_job(tmp_path):
    result = subprocess.run(
        [*TRAIN, "-m", f"hydra.sweep.dir={tmp_path}", *TINY, "optimizer.lr=0.01,0.1",
         "hydra/launcher=submitit_local"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Submitit 'local' sweep output dir" in result.stdout + result.stderr
    jobs = job_dirs(tmp_path)
    assert [d.name for d in jobs] == ["0", "1"]
    for job in jobs:
        assert json.loads((job / "summary.json").read_text())["status"] == "ok"
    assert len(list((tmp_path / ".submitit").glob("*/*_log.out"))) == 2  # a process a job
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 2
