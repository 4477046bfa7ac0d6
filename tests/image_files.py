"""Image data for tests: IDX arrays written out byte by byte (an oracle independent of
trainlab.idx), a Fashion-MNIST folder in miniature, and the mark of the tests that need the
real Fashion-MNIST files (Debian's dataset-fashion-mnist, which .ci/run installs)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from trainlab import images

IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D,
             "float64": 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """The format written out by hand: 0x0000, type code, ndim, big-endian sizes and data."""
    header = struct.pack(">HBB", 0, IDX_CODES[array.dtype.name], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def fake_fashion(folder: Path, n_train: int = 40, n_test: int = 20, gz: bool = True,
                 seed: int = 0) -> Path:
    """A Fashion-MNIST folder in miniature: the four files, n/10 images of each class."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        y = np.arange(n, dtype=np.uint8) % 10
        for kind, array in (("images-idx3", x), ("labels-idx1", y)):
            data = idx_bytes(array)
            name = f"{split}-{kind}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return folder


_DEBIAN = Path(images.FASHION_DEBIAN_DIR)
needs_fashion = pytest.mark.skipif(
    not all((_DEBIAN / f"{stem}.gz").is_file() for stem in images.FASHION_FILES.values()),
    reason=f"Fashion-MNIST is not installed in {_DEBIAN} (apt-get install "
           "dataset-fashion-mnist; .ci/run does it where apt-get can)")
