"""The activation choices of the lectures, each with the facts the diagnostics and the
gradient check need: its output range (saturation, histograms) and its kinks.

PReLU learns a slope per unit; maxout takes the max of ``pieces`` linear units, so its layer
computes ``pieces`` times as many pre-activations.
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from trainlab.config.fields import at_least
from trainlab.config.registry import choice
from trainlab.config.schema import Activation

SATURATION = 0.99  # a bounded unit within 1% of its range's end is saturated


class Nonlinearity(Activation):
    """What every activation provides; the defaults fit an elementwise function."""

    # Where the output counts as saturated (below the first or above the second number),
    # for bounded activations; None for the others.
    saturated_outside: ClassVar[tuple[float, float] | None] = None
    output_range: ClassVar[tuple[float, float] | None] = None  # histograms' bins, if bounded
    kinked: ClassVar[bool] = False  # not differentiable where the pre-activation is 0
    pieces: ClassVar[int] = 1  # pre-activations per unit (a field of maxout's)

    def __call__(self, z: jax.Array, layer: dict) -> jax.Array:
        """The activation of pre-activations ``z`` of one layer with parameters ``layer``."""
        raise NotImplementedError

    def params(self, units: int, dtype) -> dict:
        """Learned parameters of the activation of a layer of ``units`` units."""
        return {}

    def kinks(self, pre: jax.Array):
        """The side of each kink every pre-activation is on (None: smooth). A finite
        difference whose two ends disagree here crossed a kink and says nothing of the
        gradient."""
        return pre > 0 if self.kinked else None


@choice
class Linear(Nonlinearity):
    """The identity: a deep linear net."""

    name: str = "linear"

    def __call__(self, z, layer):
        return z


@choice
class Sigmoid(Nonlinearity):
    """1 / (1 + exp(-z)), in (0, 1); its slope is at most 1/4."""

    saturated_outside = (1 - SATURATION, SATURATION)
    output_range = (0.0, 1.0)
    name: str = "sigmoid"

    def __call__(self, z, layer):
        return jax.nn.sigmoid(z)


@choice
class Tanh(Nonlinearity):
    """A zero-centred sigmoid, in (-1, 1)."""

    saturated_outside = (-SATURATION, SATURATION)
    output_range = (-1.0, 1.0)
    name: str = "tanh"

    def __call__(self, z, layer):
        return jnp.tanh(z)


@choice
class Relu(Nonlinearity):
    """max(0, z) (Krizhevsky et al., 2012)."""

    kinked = True
    name: str = "relu"

    def __call__(self, z, layer):
        return jax.nn.relu(z)


@choice
class Gelu(Nonlinearity):
    """z Phi(z), exactly (jax's default is the tanh approximation, off by up to 5e-4)."""

    name: str = "gelu"

    def __call__(self, z, layer):
        return jax.nn.gelu(z, approximate=False)


@choice
class Silu(Nonlinearity):
    """z sigmoid(z) (swish)."""

    name: str = "silu"

    def __call__(self, z, layer):
        return jax.nn.silu(z)


@choice
class Softplus(Nonlinearity):
    """log(1 + exp(z)), a smooth ReLU."""

    name: str = "softplus"

    def __call__(self, z, layer):
        return jax.nn.softplus(z)


@choice
class Selu(Nonlinearity):
    """Scaled ELU (Klambauer et al., 2017): self-normalizing with lecun_normal init."""

    kinked = True
    name: str = "selu"

    def __call__(self, z, layer):
        return jax.nn.selu(z)


@choice
class LeakyRelu(Nonlinearity):
    """max(alpha z, z): a small slope keeps negative units learning."""

    kinked = True
    name: str = "leaky_relu"
    alpha: float = 0.01

    def __call__(self, z, layer):
        return jax.nn.leaky_relu(z, negative_slope=self.alpha)


@choice
class Prelu(Nonlinearity):
    """Leaky ReLU whose slope is learned, one per unit (He et al., 2015)."""

    kinked = True
    name: str = "prelu"
    alpha: float = 0.25  # initial value of the learned slope

    def __call__(self, z, layer):
        return jnp.where(z >= 0, z, layer["alpha"] * z)

    def params(self, units, dtype):
        return {"alpha": jnp.full((units,), self.alpha, dtype)}


@choice
class Elu(Nonlinearity):
    """z for z > 0, alpha (exp(z) - 1) below."""

    kinked = True
    name: str = "elu"
    alpha: float = 1.0

    def __call__(self, z, layer):
        return jax.nn.elu(z, alpha=self.alpha)


@choice
class Maxout(Nonlinearity):
    """The max of ``pieces`` linear units (Goodfellow et al., 2013)."""

    name: str = "maxout"
    pieces: int = at_least(2, 2)

    def __call__(self, z, layer):
        return z.reshape(*z.shape[:-1], -1, self.pieces).max(axis=-1)

    def kinks(self, pre):
        return pre.reshape(*pre.shape[:-1], -1, self.pieces).argmax(-1)  # which piece wins
