"""What goes wrong around a run, through the real `train` command in a subprocess: an output
location that cannot be written, a full disk, Ctrl-C, an earlier run's results in the run
directory, a path Hydra's grammar cannot read unquoted, and sweeps into used, shared, busy or
rejected directories. Each ends with one line and no traceback, and leaves no file that looks
like a finished result.

The write failures use what tests here can rely on as root (where chmod denies nothing): a
read-only tmpfs, ``chattr +i``, a 64 KiB tmpfs for a full disk. A test skips, saying why,
where the machine allows neither."""

from __future__ import annotations

import json
import os
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

TRAIN = [sys.executable, "-m", "trainlab.cli"]
# The same command with Python's own SIGINT handler: a shell's background job ignores SIGINT,
# and its children (this test's too) inherit that.
TRAIN_INTERRUPTIBLE = [
    sys.executable, "-c", "import runpy, signal, sys; sys.argv[0] = 'train'; "
    "signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('trainlab.cli', run_name='__main__')"]
SMALL = ["epochs=3", "batch_size=32", "diagnostics=off", "progress=false", "model.widths=[8]"]
TINY = ["data=moons", "data.n_samples=200", *SMALL]
RESULTS = ("summary.json", "metrics.csv", "params_init.npz", "params_final.npz")


def train(*args: str, **popen) -> subprocess.CompletedProcess:
    return subprocess.run([*TRAIN, *args], capture_output=True, text=True, timeout=300,
                          **popen)


def one_line_error(result: subprocess.CompletedProcess, code: int) -> str:
    """The single line a failure printed (checked: exit code, one line, no traceback)."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")) if path.exists() else []


def _mount_tmpfs(where: Path, options: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
                          capture_output=True)
    return done.returncode == 0


def _unmount(where: Path) -> None:
    subprocess.run(["umount", str(where)], capture_output=True)


@pytest.fixture
def full_disk(tmp_path):
    """A 64 KiB file system: room for Hydra's config copies, not for a run's results."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "size=64k"):
        pytest.skip("cannot mount a tmpfs here (needs root): no full disk to test on")
    yield disk
    _unmount(disk)


@pytest.fixture(params=["read-only", "immutable"])
def unwritable(request, tmp_path):
    """A directory nothing can be written in, even by root."""
    place = tmp_path / "locked"
    if request.param == "read-only":
        if not _mount_tmpfs(place, "ro,size=64k"):
            pytest.skip("cannot mount a read-only tmpfs here (needs root)")
        yield place
        _unmount(place)
    else:
        place.mkdir()
        if subprocess.run(["chattr", "+i", str(place)], capture_output=True).returncode:
            pytest.skip("chattr +i is not available on this file system")
        yield place
        subprocess.run(["chattr", "-i", str(place)], capture_output=True)


# ------------------------------------------------------------------------ output locations
@pytest.mark.parametrize("mode", ["run", "sweep"])
def test_an_unwritable_output_dir_is_one_line(unwritable, mode):
    target = unwritable / "out"
    args = ([f"hydra.run.dir={target}"] if mode == "run"
            else ["-m", f"hydra.sweep.dir={target}", "optimizer.lr=0.01,0.1"])
    line = one_line_error(train(*args, *TINY), 1)
    assert line.startswith("train: error: cannot write ")
    assert str(target) in line
    assert line.endswith(("Read-only file system", "Operation not permitted"))


def test_a_file_in_the_way_of_the_run_dir_is_one_line(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a directory")
    line = one_line_error(train(f"hydra.run.dir={blocker / 'run'}", *TINY), 1)
    assert line == (f"train: error: cannot create {blocker / 'run'}: {blocker} is a file, "
                    "not a directory")


@pytest.mark.parametrize("mode", ["run", "sweep"])
def test_a_full_disk_is_one_line_and_leaves_no_result(full_disk, mode):
    target = full_disk / "out"
    args = ([f"hydra.run.dir={target}"] if mode == "run"
            else ["-m", f"hydra.sweep.dir={target}", "optimizer.lr=0.01,0.1"])
    # 17k parameters: params_init.npz alone (68 KB) does not fit.
    line = one_line_error(train(*args, *TINY, "model.widths=[128,128]"), 1)
    assert line.startswith(f"train: error: cannot write {target}")
    assert line.endswith("No space left on device")
    left = files_under(full_disk)
    assert not [f for f in left if Path(f).name in RESULTS or f.endswith(".tmp")], left
    if mode == "run":
        assert left == []  # the run directory held nothing but Hydra's copies: gone


# --------------------------------------------------------------------------------- Ctrl-C
def test_ctrl_c_is_one_line_exit_130_and_saves_nothing(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [*TRAIN_INTERRUPTIBLE, f"hydra.run.dir={run_dir}", *TINY, "epochs=1000000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / ".hydra" / "config.yaml").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(3)  # into the training loop, usually (a compile still running is fine too)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in out + err
    [line] = err.strip().splitlines()
    assert re.fullmatch(r"train: interrupted (at epoch \d+ of 1000000|before training started)"
                        r", nothing saved", line), line
    assert files_under(run_dir) == []


def test_the_training_loop_reports_the_epoch_it_is_in(monkeypatch):
    """What Ctrl-C says: the epoch the loop was in (here stopped in epoch 3 of 5)."""
    from trainlab import interrupt, report, run
    from trainlab.config import compose

    calls = []

    class Stop(BaseException):
        pass

    def progress(*args, **kwargs):
        def advance(loss):
            calls.append(loss)
            if len(calls) == 3:
                raise Stop

        import contextlib
        return contextlib.nullcontext(advance)

    monkeypatch.setattr(report, "epoch_progress", progress)
    interrupt.reset()
    assert interrupt.where() == "before training started"
    with pytest.raises(Stop):
        run.train(compose([*TINY, "epochs=5"]))
    assert interrupt.where() == "at epoch 3 of 5"


# ------------------------------------------------------------------- stale results, leftovers
def test_a_run_clears_an_earlier_runs_results_and_temporaries(tmp_path):
    run_dir = tmp_path / "run"
    first = train(f"hydra.run.dir={run_dir}", *TINY, "early_stopping.enabled=true")
    assert first.returncode == 0, first.stderr
    assert (run_dir / "params_best.npz").is_file()
    (run_dir / ".metrics.csv.k3x_9q2a.tmp").write_text("seed,epoch\n0,")  # a kill -9 mid-write
    (run_dir / "notes.txt").write_text("mine")
    second = train(f"hydra.run.dir={run_dir}", *TINY, "seed=5")
    assert second.returncode == 0, second.stderr
    assert not (run_dir / "params_best.npz").exists()  # the first run's: gone
    assert not list(run_dir.glob("*.tmp"))
    assert (run_dir / "notes.txt").read_text() == "mine"  # not a result: kept
    assert "seed=5" in json.loads((run_dir / "summary.json").read_text())["overrides"]


@pytest.mark.slow
def test_a_run_killed_in_a_used_dir_leaves_no_earlier_summary(tmp_path):
    run_dir = tmp_path / "run"
    assert train(f"hydra.run.dir={run_dir}", *TINY).returncode == 0
    process = subprocess.Popen([*TRAIN, f"hydra.run.dir={run_dir}", *TINY, "epochs=1000000",
                                "seed=1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while (run_dir / "summary.json").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        process.kill()  # SIGKILL: no handler runs
        process.wait()
    assert "seed=1" in yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text())
    # The earlier summary went first (the rest of its files may still be there if the kill
    # came within the clearing): nothing there looks finished.
    assert not (run_dir / "summary.json").exists()


# ----------------------------------------------------------------------- non-ASCII paths
def test_a_path_the_grammar_cannot_read_says_quote_it_and_quoted_it_runs(tmp_path):
    folder = tmp_path / "dätä"
    folder.mkdir()
    path = folder / "naïve 日本.npz"
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.normal(size=(40, 2)), y_train=np.arange(40) % 2)
    run_dir = tmp_path / "run"
    args = [f"hydra.run.dir={run_dir}", *SMALL, "data=npz"]
    line = one_line_error(train(*args, f"data.path={path}"), 2)
    assert line.endswith(f"quote the value: data.path='{path}'")
    assert not run_dir.exists()
    quoted = train(*args, f"data.path='{path}'")
    assert quoted.returncode == 0, quoted.stderr
    assert (run_dir / "summary.json").is_file()


# -------------------------------------------------------------------------------- sweeps
def sweep(sweep_dir: Path, *overrides: str, data=TINY) -> subprocess.CompletedProcess:
    return train("-m", f"hydra.sweep.dir={sweep_dir}", *data, *overrides)


def multirun(sweep_dir: Path, *overrides: str, data=TINY) -> None:
    """``train -m`` in this process (a finished sweep: faster than a subprocess)."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab import cli

    argv = sys.argv
    sys.argv = ["train", "-m", f"hydra.sweep.dir={sweep_dir}", *data, *overrides]
    try:
        cli._train()
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()


def summary_stamps(sweep_dir: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in sweep_dir.glob("*/summary.json")}


def test_a_sweep_into_a_used_dir_reports_only_its_own_jobs(tmp_path):
    import contextlib
    import io

    from trainlab import sweep_report

    multirun(tmp_path, "optimizer.lr=0.01,0.02,0.03,0.04")
    (tmp_path / "0" / ".metrics.csv.k3x_9q2a.tmp").write_text("")  # left by a kill -9
    (tmp_path / "0" / "summary.json").unlink()  # so that job 0 runs again
    # Not capsys: a sweep in this process reconfigures logging, and a logging handler absl
    # attached earlier in the session then closes pytest's own (replaced) stderr stream.
    again = sweep(tmp_path, "optimizer.lr=0.01,0.02")
    assert again.returncode == 0, again.stderr
    out = again.stdout
    table = pd.read_csv(tmp_path / "summary.csv")
    assert sorted(table["optimizer.lr"]) == [0.01, 0.02] and len(table) == 2
    assert re.search(r"2 job directories are in \S+ from an earlier sweep, not in this table: "
                     r"2, 3", out), out
    assert not list((tmp_path / "0").glob("*.tmp"))

    # `trainlab report` rebuilds the same table, and names the others; --all shows them all.
    with contextlib.redirect_stdout(io.StringIO()) as shown:
        assert sweep_report.main([str(tmp_path)]) == 0
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 2
    assert "from an earlier sweep" in shown.getvalue()
    assert sweep_report.main([str(tmp_path), "--all"]) == 0
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 4


def test_two_jobs_mapped_to_one_dir_stop_before_anything_runs(tmp_path):
    line = one_line_error(sweep(tmp_path / "sweep", "seed=0,1",
                                "hydra.sweep.subdir=lr${optimizer.lr}"), 2)
    assert "`seed=0` and `seed=1` both write to" in line
    assert str(tmp_path / "sweep" / "lr0.001") in line
    assert not (tmp_path / "sweep").exists()


@pytest.mark.parametrize("bad", ["optimizer.lrr=0.1,0.2", "optimizer.lr=0.1,-1"])
def test_a_rejected_sweep_leaves_no_directory(tmp_path, bad):
    sweep_dir = tmp_path / "multirun" / "day" / "time"
    one_line_error(sweep(sweep_dir, bad), 2)
    assert list(tmp_path.iterdir()) == []


HOLDER = """
import sys, time
from trainlab import sweep_lock
sweep_lock.acquire(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_sweep_into_a_busy_dir_stops_naming_the_first(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        line = one_line_error(sweep(tmp_path, "optimizer.lr=0.01,0.1"), 1)
        assert f"another sweep is running there (pid {holder.pid}, started " in line
        assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # nothing ran
    finally:
        holder.kill()  # kill -9: the kernel drops its lock
        holder.wait()
    after = sweep(tmp_path, "optimizer.lr=0.01,0.1")
    assert after.returncode == 0, after.stderr
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 2


def test_resume_reruns_the_jobs_whose_data_file_changed(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "data.npz"
    arrays = {"x_train": rng.normal(size=(60, 2)), "y_train": np.arange(60) % 2}
    np.savez(data, **arrays)
    args = ["data=npz", f"data.path={data}", "optimizer.lr=0.01,0.1"]
    multirun(tmp_path / "s", *args, data=SMALL)
    stamps = summary_stamps(tmp_path / "s")
    assert len(stamps) == 2

    os.utime(data)  # touched, the same bytes: still the same data, nothing runs again
    multirun(tmp_path / "s", *args, data=SMALL)
    assert summary_stamps(tmp_path / "s") == stamps

    arrays["x_train"][0, 0] += 1.0  # rewritten: another data set, of the very same size
    size = data.stat().st_size
    np.savez(data, **arrays)
    assert data.stat().st_size == size
    multirun(tmp_path / "s", *args, data=SMALL)
    assert all(summary_stamps(tmp_path / "s")[k] > v for k, v in stamps.items())


@pytest.mark.slow
def test_ctrl_c_in_a_sweep_keeps_the_finished_jobs(tmp_path):
    process = subprocess.Popen(
        [*TRAIN_INTERRUPTIBLE, "-m", f"hydra.sweep.dir={tmp_path}", *TINY, "epochs=300",
         "optimizer.lr=0.01,0.02,0.03,0.04", "hydra.launcher.chunk_size=1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 240
        while not list(tmp_path.glob("*/summary.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in out + err
    done = len(list(tmp_path.glob("*/summary.json")))
    assert 1 <= done < 4
    line = err.strip().splitlines()[-1]
    assert line == (f"train: interrupted, {done} finished job{'s' * (done != 1)} kept in "
                    f"{tmp_path} (the same command runs the others)")
