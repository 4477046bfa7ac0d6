"""The pieces behind "nothing lost, nothing stale", without training: clearing a job
directory, the temporaries of atomic writes, an OSError said in one line, jobs sharing a
directory, the sweep lock (and a holder killed with -9), the data file's identity in the
config hash, and the labels an npz file may have."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trainlab import fingerprint, outputs, records, sweep_lock
from trainlab.config import ConfigError, compose


def test_clear_results_removes_results_and_temporaries_only(tmp_path):
    names = ["summary.json", "metrics.csv", "histograms.csv", "params_init.npz",
             "params_best.npz", ".metrics.csv.k3x_9q2a.tmp", "notes.txt", "metrics.csv.bak",
             "cli.log"]
    for name in names:
        (tmp_path / name).write_text("x")
    (tmp_path / ".hydra").mkdir()
    outputs.clear_results(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".hydra", "cli.log", "metrics.csv.bak", "notes.txt"]
    outputs.clear_results(tmp_path / "nowhere")  # nothing to clear: no error


def test_the_temporary_pattern_is_what_atomic_write_leaves(tmp_path, monkeypatch):
    seen = []

    def write(tmp: Path) -> None:
        seen.append(tmp.name)
        raise KeyboardInterrupt  # stopped mid-write

    with pytest.raises(KeyboardInterrupt):
        records.atomic_write(tmp_path / "metrics.csv", write)
    [name] = seen
    assert records.is_temporary(name), name
    assert not records.is_temporary("metrics.csv") and not records.is_temporary(".hidden.tmp")


def test_a_write_error_names_the_file(tmp_path, monkeypatch):
    def full(tmp: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(OSError) as error:
        records.atomic_write(tmp_path / "summary.json", full)
    assert outputs.describe(error.value) == (
        f"cannot write {tmp_path / 'summary.json'}: No space left on device")
    assert list(tmp_path.iterdir()) == []  # the temporary went too


def test_describe_names_a_file_in_the_way(tmp_path):
    (tmp_path / "a").write_text("")
    try:
        (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    except OSError as error:
        message = outputs.describe(error)
    assert message == (f"cannot create {tmp_path / 'a' / 'b' / 'c'}: {tmp_path / 'a'} is a "
                       "file, not a directory")


def test_discard_job_dir_only_removes_bookkeeping(tmp_path):
    (tmp_path / "a" / ".hydra").mkdir(parents=True)
    (tmp_path / "a" / "cli.log").write_text("")
    (tmp_path / "b" / ".hydra").mkdir(parents=True)
    (tmp_path / "b" / "notes.txt").write_text("")
    outputs.discard_job_dir(tmp_path / "a")
    outputs.discard_job_dir(tmp_path / "b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]


def test_shared_dirs_are_refused_naming_the_overrides(tmp_path):
    outputs.refuse_shared_dirs([(tmp_path / "0", ["seed=0"]), (tmp_path / "1", ["seed=1"])])
    with pytest.raises(ConfigError, match=r"`seed=0` and `seed=1` both write to .*lr0\.1"):
        outputs.refuse_shared_dirs([(tmp_path / "lr0.1", ["seed=0", "epochs=3"]),
                                    (tmp_path / "x" / ".." / "lr0.1", ["seed=1", "epochs=3"])])


# ------------------------------------------------------------------------------ the lock
HOLDER = """
import sys, time
from trainlab import sweep_lock
sweep_lock.acquire(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


def test_the_lock_stops_a_second_holder_and_dies_with_the_first(tmp_path):
    sweep_lock.release_all()  # an in-process sweep that failed before keeps its lock
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(sweep_lock.SweepBusy, match=f"pid {holder.pid}, started "):
            sweep_lock.acquire(tmp_path)
        assert sweep_lock.held() == []
    finally:
        holder.kill()  # SIGKILL: no cleanup runs, the kernel drops the flock
        holder.wait()
    sweep_lock.acquire(tmp_path)
    try:
        assert sweep_lock.held() == [tmp_path]
        assert (tmp_path / sweep_lock.LOCK_NAME).read_text().startswith(f"pid {os.getpid()},")
    finally:
        sweep_lock.release(tmp_path)
    assert sweep_lock.held() == []


def test_an_unused_sweep_dir_is_given_back_a_used_one_kept(tmp_path):
    unused = tmp_path / "multirun" / "day" / "time"
    sweep_lock.acquire(unused)
    (unused / "multirun.yaml").write_text("{}")
    sweep_lock.release(unused, discard_unused=True)
    assert list(tmp_path.iterdir()) == []  # with the parents it made

    used = tmp_path / "used"
    sweep_lock.acquire(used)
    (used / "0").mkdir()
    sweep_lock.release(used, discard_unused=True)
    assert (used / "0").is_dir()

    before = tmp_path / "before"  # there already: not this sweep's to remove
    before.mkdir()
    sweep_lock.acquire(before)
    sweep_lock.release(before, discard_unused=True)
    assert before.is_dir()


# ----------------------------------------------------------------------- data identity
def test_the_config_hash_follows_the_data_files_bytes(tmp_path):
    data = tmp_path / "data.npz"
    np.savez(data, x_train=np.zeros((4, 2)), y_train=np.arange(4) % 2)
    cfg = compose(["data=npz", f"data.path={data}"])
    first = fingerprint.config_hash(cfg)
    hashed = fingerprint._content_hash.cache_info().misses
    assert fingerprint.config_hash(cfg) == first  # cached: the file is not read again
    assert fingerprint._content_hash.cache_info().misses == hashed
    os.utime(data, ns=(1, 1))  # touched: read again, the same bytes, the same identity
    assert fingerprint.config_hash(cfg) == first
    np.savez(data, x_train=np.ones((4, 2)), y_train=np.arange(4) % 2)  # same size, new bytes
    assert fingerprint.config_hash(cfg) != first
    assert fingerprint.config_hash(compose(["data=moons"])) == fingerprint.config_hash(
        compose(["data=moons"]))  # no file: as before


def test_a_data_folder_is_known_by_its_files(tmp_path):
    (tmp_path / "a.gz").write_bytes(b"12")
    first = fingerprint.file_identity(str(tmp_path))
    assert first == fingerprint.file_identity(str(tmp_path))
    (tmp_path / "a.gz").write_bytes(b"123")
    assert fingerprint.file_identity(str(tmp_path)) != first
    assert fingerprint.file_identity(str(tmp_path / "nothing")) is None


# ----------------------------------------------------------------------------- npz labels
def _load(tmp_path, dtype="float32", **arrays):
    from trainlab.data import load_dataset

    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return load_dataset(compose(["data=npz", f"data.path={path}"]).data, dtype)


X = np.random.default_rng(0).normal(size=(20, 3))


def test_dense_labels_give_the_classes_sparse_ones_are_refused(tmp_path):
    assert _load(tmp_path, x_train=X, y_train=np.arange(20) % 4).n_classes == 4
    with pytest.raises(ConfigError, match=r"not 0..C-1 \(2 distinct labels, largest "
                                          r"1000000000; missing 1, 2, 3, \.\.\.\)"):
        _load(tmp_path, x_train=X, y_train=np.where(np.arange(20) % 2, 10**9, 0))
    with pytest.raises(ConfigError, match="missing 2"):
        _load(tmp_path, x_train=X, y_train=np.arange(20) % 4 * (np.arange(20) % 4 != 2))
    # Given n_classes, a class may be absent; beyond the bound, refused.
    assert _load(tmp_path, x_train=X, y_train=np.arange(20) % 2 * 3, n_classes=5).n_classes == 5
    with pytest.raises(ConfigError, match="n_classes=1000000000, more than"):
        _load(tmp_path, x_train=X, y_train=np.arange(20) % 2, n_classes=10**9)


def test_values_beyond_float32_are_refused_after_the_cast_only(tmp_path):
    huge = np.where(X > 1.5, 1e39, X)
    with pytest.raises(ConfigError, match=r"x_train has values beyond the float32 range"):
        _load(tmp_path, x_train=huge, y_train=np.arange(20) % 2)
    assert np.isfinite(_load(tmp_path, "float64", x_train=huge,
                             y_train=np.arange(20) % 2).x_train).all()
    with pytest.raises(ConfigError, match=r"y_val has values beyond"):  # regression targets
        _load(tmp_path, x_train=X, y_train=X[:, :1], x_val=X[:2], y_val=np.full((2, 1), 1e40))


def test_empty_splits_load(tmp_path):
    ds = _load(tmp_path, x_train=X, y_train=np.arange(20) % 2, x_val=np.zeros((0, 3)),
               y_val=np.zeros(0, int), x_test=np.zeros((0, 1, 3)), y_test=np.zeros(0, int))
    assert ds.x_val.shape == (0, 3) and ds.x_test.shape == (0, 3)
    with pytest.raises(ConfigError, match="x_train has 0 rows"):
        _load(tmp_path, x_train=X[:0], y_train=np.zeros(0, int))
