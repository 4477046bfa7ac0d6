"""The sets scikit-learn generates (moons, circles, blobs, digits) are cached: the same arrays
as sklearn's own call, one cache entry per call, a damaged entry built again, and a run whose
entry exists never imports sklearn (a second or more of every run's start)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import sklearn.datasets

from trainlab.config import compose
from trainlab.data import _from_sklearn, load_dataset


@pytest.fixture
def own_cache(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("TRAINLAB_CACHE", str(cache))
    return cache


CALLS = [
    ("make_moons", {"n_samples": 300, "noise": 0.2, "random_state": 3}),
    ("make_circles", {"n_samples": 200, "noise": 0.1, "factor": 0.5, "random_state": 1}),
    ("make_blobs", {"n_samples": 150, "n_features": 3, "centers": 4, "cluster_std": 1.5,
                    "random_state": 7}),
    ("load_digits", {"return_X_y": True}),
]


@pytest.mark.parametrize(("function", "kwargs"), CALLS, ids=[c[0] for c in CALLS])
def test_built_and_cached_arrays_are_sklearns(own_cache, function, kwargs):
    x_sklearn, y_sklearn = getattr(sklearn.datasets, function)(**kwargs)
    for _ in ("built", "cached"):
        x, y = _from_sklearn(function, **kwargs)
        np.testing.assert_array_equal(x, x_sklearn)
        np.testing.assert_array_equal(y, y_sklearn)
        assert (x.dtype, y.dtype) == (x_sklearn.dtype, y_sklearn.dtype)
    assert len(list(own_cache.glob(f"sklearn-{function}-*.npz"))) == 1


def test_another_call_is_another_entry(own_cache):
    a = load_dataset(compose(["data=moons", "data.noise=0.1"]).data)
    b = load_dataset(compose(["data=moons", "data.noise=0.3"]).data)
    assert not np.array_equal(a.x_train, b.x_train)
    assert len(list(own_cache.glob("sklearn-make_moons-*.npz"))) == 2


def test_a_damaged_entry_is_built_again(own_cache):
    first = load_dataset(compose(["data=moons"]).data)
    [entry] = own_cache.glob("sklearn-make_moons-*.npz")
    entry.write_bytes(b"not an npz")
    second = load_dataset(compose(["data=moons"]).data)
    np.testing.assert_array_equal(first.x_train, second.x_train)


def test_a_cached_set_loads_without_importing_sklearn(own_cache):
    script = ("import sys; from trainlab.config import compose; "
              "from trainlab.data import load_dataset; "
              "load_dataset(compose(['data=moons']).data); "
              "print('sklearn' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                           check=True).stdout.split()[-1] for _ in range(2)]
    assert runs == ["True", "False"]  # the first builds the entry; the second reads it
