"""checkpoint.every=N: a run killed mid-training and resumed equals the run never stopped,
bit for bit; a sweep's killed chunk continues from its checkpoint; a checkpoint of other
trials is never resumed."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlab import interrupt, plan
from trainlab.config import ConfigError, compose
from trainlab.trials import Trials

BASE = ["data=moons", "data.n_samples=200", "model.widths=[8]", "batch_size=16",
        "progress=false", "epochs=8", "checkpoint.every=2"]


def metrics(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "metrics.csv").drop(columns="time_s")


def jobs_in(folder: Path, lrs=(0.001, 0.01, 0.1), base=BASE) -> list[plan.Job]:
    cfg = compose(base)
    return [plan.Job(dataclasses.replace(cfg, optimizer=dataclasses.replace(cfg.optimizer,
                                                                           lr=lr)),
                     folder / str(i), [f"optimizer.lr={lr}"]) for i, lr in enumerate(lrs)]


def run_jobs(jobs, *, resume=False):
    [group] = plan.plan(jobs, chunk_size=1)
    return plan.run(group, progress=False, resume=resume)


@pytest.fixture
def epochs_started(monkeypatch):
    """The epoch each call of Trials.train starts after (0: from scratch)."""
    started = []
    train = Trials.train

    def recording(self, until, **options):
        started.append(self.epoch)
        return train(self, until, **options)

    monkeypatch.setattr(Trials, "train", recording)
    return started


def crash_at(monkeypatch, saves: int):
    """Raise KeyboardInterrupt right after the ``saves``-th checkpoint is written."""
    count = {"n": 0}
    record = interrupt.checkpointed

    def crashing(epoch, path):
        record(epoch, path)
        count["n"] += 1
        if count["n"] == saves:
            raise KeyboardInterrupt

    monkeypatch.setattr(interrupt, "checkpointed", crashing)


def test_a_chunk_killed_resumes_from_its_checkpoint(tmp_path, monkeypatch, epochs_started):
    whole = tmp_path / "whole"
    run_jobs(jobs_in(whole))
    assert not list(whole.rglob("checkpoint*.npz"))  # finished chunks keep none

    killed = tmp_path / "killed"
    with monkeypatch.context() as patch:
        crash_at(patch, saves=5)  # chunk 0 saves at 2, 4, 6; chunk 1 at 2, then 4: killed
        with pytest.raises(KeyboardInterrupt):
            run_jobs(jobs_in(killed))
    assert (killed / "0" / "summary.json").is_file()
    assert (killed / "1" / "checkpoint.npz").is_file()
    assert not (killed / "1" / "summary.json").exists()

    epochs_started.clear()
    todo = jobs_in(killed)[1:]  # what the launcher's resume would hand over
    run_jobs(todo, resume=True)
    assert epochs_started == [4, 0]  # job 1 from its epoch-4 checkpoint, job 2 from scratch
    for job in ("0", "1", "2"):
        pd.testing.assert_frame_equal(metrics(killed / job), metrics(whole / job))
        final, again = (np.load(d / job / "params_final.npz") for d in (whole, killed))
        assert all(np.array_equal(final[k], again[k]) for k in final.files)
    assert not list(killed.rglob("checkpoint*.npz"))


def test_a_checkpoint_of_other_trials_is_not_resumed(tmp_path, monkeypatch, epochs_started):
    with monkeypatch.context() as patch:
        crash_at(patch, saves=1)
        with pytest.raises(KeyboardInterrupt):
            run_jobs(jobs_in(tmp_path, lrs=[0.001]))
    assert (tmp_path / "0" / "checkpoint.npz").is_file()
    epochs_started.clear()
    run_jobs(jobs_in(tmp_path, lrs=[0.3]), resume=True)  # another lr: another config
    assert epochs_started == [0]
    fresh = tmp_path / "fresh"
    run_jobs(jobs_in(fresh, lrs=[0.3]))
    pd.testing.assert_frame_equal(metrics(tmp_path / "0"), metrics(fresh / "0"))


def test_without_resume_a_checkpoint_is_not_used(tmp_path, monkeypatch, epochs_started):
    with monkeypatch.context() as patch:
        crash_at(patch, saves=2)
        with pytest.raises(KeyboardInterrupt):
            run_jobs(jobs_in(tmp_path, lrs=[0.01]))
    epochs_started.clear()
    run_jobs(jobs_in(tmp_path, lrs=[0.01]))
    assert epochs_started == [0]


def test_a_negative_interval_is_refused():
    with pytest.raises(ConfigError, match="checkpoint.every"):
        compose([*BASE, "checkpoint.every=-1"])


def test_the_interrupt_line_names_the_checkpoint(tmp_path):
    interrupt.reset()
    assert interrupt.saved() == "nothing saved"
    interrupt.checkpointed(6, tmp_path / "checkpoint.npz")
    assert "epoch 6" in interrupt.saved() and "resume=true" in interrupt.saved()
    interrupt.reset()


def test_train_killed_with_sigkill_resumes_bit_for_bit(tmp_path):
    """The command itself: kill -9 once a checkpoint is on disk, then resume=true."""
    args = [sys.executable, "-m", "trainlab.cli", "data=moons", "model.widths=[16]",
            "epochs=300", "batch_size=8", "progress=false", "checkpoint.every=5"]
    env = {**os.environ, "TRAINLAB_CALIBRATE": "0"}
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    subprocess.run([*args, f"hydra.run.dir={whole}"], check=True, env=env,
                   capture_output=True)
    process = subprocess.Popen([*args, f"hydra.run.dir={killed}"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (killed / "checkpoint.npz").is_file() and process.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (killed / "summary.json").exists(), "the run finished before it was killed"
    resumed = subprocess.run([*args, "resume=true", f"hydra.run.dir={killed}"], env=env,
                             capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resumed from the checkpoint of epoch" in resumed.stderr + resumed.stdout
    pd.testing.assert_frame_equal(metrics(killed), metrics(whole))
    final, again = (np.load(d / "params_final.npz") for d in (whole, killed))
    assert all(np.array_equal(final[k], again[k]) for k in final.files)
    assert not (killed / "checkpoint.npz").exists()
