"""The init choices: how a weight matrix (fan_in, fan_out) starts, times ``gain``.

The variance-scaling family uses untruncated distributions so that the standard deviations are
exactly those of the lecture formulas (jax's own ``he_normal`` and ``lecun_normal`` truncate).
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp
from jax.nn import initializers as jinit

from trainlab.config.fields import non_negative
from trainlab.config.registry import choice
from trainlab.config.schema import Init


class Initializer(Init):
    """What every initializer does: draw the matrix, then multiply it by ``gain``."""

    def __call__(self, key: jax.Array, shape: tuple[int, ...], dtype) -> jax.Array:
        return self.draw(key, shape, dtype) * jnp.asarray(self.gain, dtype)

    def draw(self, key: jax.Array, shape: tuple[int, ...], dtype) -> jax.Array:
        raise NotImplementedError


@choice
class Zeros(Initializer):
    """The beginner's trap (lecture 000): every unit of a layer stays the same."""

    name: str = "zeros"

    def draw(self, key, shape, dtype):
        return jinit.zeros(key, shape, dtype)


@choice
class Constant(Initializer):
    name: str = "constant"
    value: float = 0.1

    def draw(self, key, shape, dtype):
        return jnp.full(shape, self.value, dtype)


@choice
class Uniform(Initializer):
    name: str = "uniform"
    scale: float = non_negative(0.05)  # U(-scale, scale)

    def draw(self, key, shape, dtype):
        return jax.random.uniform(key, shape, dtype, minval=-1.0, maxval=1.0) * self.scale


@choice
class Normal(Initializer):
    """Small random numbers, N(0, std^2) (lecture 001)."""

    name: str = "normal"
    std: float = non_negative(0.01)

    def draw(self, key, shape, dtype):
        return jax.random.normal(key, shape, dtype) * self.std


@choice
class Orthogonal(Initializer):
    name: str = "orthogonal"

    def draw(self, key, shape, dtype):
        return jinit.orthogonal()(key, shape, dtype)


class VarianceScaling(Initializer):
    """Var(w) = scale / fan, for a fan of fan_in, fan_out or their mean."""

    scale: ClassVar[float]
    mode: ClassVar[str]  # fan_in | fan_avg
    distribution: ClassVar[str]  # normal | uniform

    def draw(self, key, shape, dtype):
        return jinit.variance_scaling(self.scale, self.mode, self.distribution)(key, shape, dtype)


@choice
class LecunNormal(VarianceScaling):
    """std 1/sqrt(fan_in)."""

    scale, mode, distribution = 1.0, "fan_in", "normal"
    name: str = "lecun_normal"


@choice
class LecunUniform(VarianceScaling):
    """bound sqrt(3/fan_in): the variance of lecun_normal, uniformly."""

    scale, mode, distribution = 1.0, "fan_in", "uniform"
    name: str = "lecun_uniform"


@choice
class XavierUniform(VarianceScaling):
    """bound sqrt(6/(fan_in+fan_out)) (Glorot & Bengio, 2010)."""

    scale, mode, distribution = 1.0, "fan_avg", "uniform"
    name: str = "xavier_uniform"


@choice
class XavierNormal(VarianceScaling):
    """std sqrt(2/(fan_in+fan_out))."""

    scale, mode, distribution = 1.0, "fan_avg", "normal"
    name: str = "xavier_normal"


@choice
class HeNormal(VarianceScaling):
    """std sqrt(2/fan_in) (He et al., 2015): for ReLU."""

    scale, mode, distribution = 2.0, "fan_in", "normal"
    name: str = "he_normal"


@choice
class HeUniform(VarianceScaling):
    """bound sqrt(6/fan_in)."""

    scale, mode, distribution = 2.0, "fan_in", "uniform"
    name: str = "he_uniform"
