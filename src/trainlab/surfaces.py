"""2-D test surfaces of lecture 004: the params are a point, the loss is the function."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trainlab.datasets import Surface


def value(cfg: Surface, point: jax.Array) -> jax.Array:
    x, y = point[0], point[1]
    if cfg.function == "quadratic":  # f = 10 x^2 + 100 y^2: GD diverges above lr = 2/200
        return 10 * x**2 + 100 * y**2
    if cfg.function == "rosenbrock":  # minimum 0 at (1, 1)
        return (x - 1) ** 2 + cfg.b * (y - x**2) ** 2
    raise ValueError(f"unknown surface {cfg.function}")


def minimum(cfg: Surface) -> jax.Array:
    return jnp.array([0.0, 0.0] if cfg.function == "quadratic" else [1.0, 1.0])
