"""Weight initializers of the lectures, as ``(key, (fan_in, fan_out), dtype) -> array``.

The variance-scaling family uses untruncated distributions so that the standard deviations are
exactly those of the lecture formulas (jax's own ``he_normal`` and ``lecun_normal`` truncate).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.nn import initializers as jinit

from trainlab.config import Init

Initializer = Callable[[jax.Array, tuple[int, ...], jnp.dtype], jax.Array]

_VARIANCE_SCALING = {
    # name: (scale, fan mode, distribution) so that Var(w) = scale / fan
    "lecun_normal": (1.0, "fan_in", "normal"),  # std 1/sqrt(fan_in)
    "xavier_uniform": (1.0, "fan_avg", "uniform"),  # bound sqrt(6/(fan_in+fan_out))
    "xavier_normal": (1.0, "fan_avg", "normal"),  # std sqrt(2/(fan_in+fan_out))
    "he_normal": (2.0, "fan_in", "normal"),  # std sqrt(2/fan_in)
    "he_uniform": (2.0, "fan_in", "uniform"),  # bound sqrt(6/fan_in)
}


def _unscaled(cfg: Init) -> Initializer:
    if cfg.name == "zeros":
        return jinit.zeros
    if cfg.name == "constant":
        return lambda key, shape, dtype: jnp.full(shape, cfg.value, dtype)
    if cfg.name == "uniform":
        return lambda key, shape, dtype: jax.random.uniform(
            key, shape, dtype, minval=-1.0, maxval=1.0
        ) * cfg.scale
    if cfg.name == "normal":
        return lambda key, shape, dtype: jax.random.normal(key, shape, dtype) * cfg.std
    if cfg.name == "orthogonal":
        return jinit.orthogonal()
    scale, mode, distribution = _VARIANCE_SCALING[cfg.name]
    return jinit.variance_scaling(scale, mode, distribution)


def weight_initializer(cfg: Init) -> Initializer:
    """The initializer for weight matrices: the chosen family, times ``cfg.gain``."""
    base = _unscaled(cfg)
    return lambda key, shape, dtype: base(key, shape, dtype) * jnp.asarray(cfg.gain, dtype)
