"""Activation functions of the lectures. PReLU learns a slope per unit; maxout takes the max
of ``pieces`` linear units, so its layer computes ``pieces`` times as many pre-activations."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from trainlab.config import Activation

_ELEMENTWISE = {
    "linear": lambda z: z,
    "sigmoid": jax.nn.sigmoid,
    "tanh": jnp.tanh,
    "relu": jax.nn.relu,
    # The exact GELU, x Phi(x) (jax's default is the tanh approximation, off by up to 5e-4).
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "silu": jax.nn.silu,
    "softplus": jax.nn.softplus,
}


def pre_activation_width(cfg: Activation, units: int) -> int:
    """How many pre-activations a layer of ``units`` outputs needs."""
    return units * cfg.pieces if cfg.name == "maxout" else units


def activation_params(cfg: Activation, units: int, dtype) -> dict:
    """Learned parameters of the activation of one layer (PReLU's slopes), else none."""
    if cfg.name == "prelu":
        return {"alpha": jnp.full((units,), cfg.alpha, dtype)}
    return {}


def activate(cfg: Activation, z: jax.Array, layer: dict) -> jax.Array:
    """Apply the activation to pre-activations ``z`` of one layer with parameters ``layer``."""
    if cfg.name in _ELEMENTWISE:
        return _ELEMENTWISE[cfg.name](z)
    if cfg.name == "leaky_relu":
        return jax.nn.leaky_relu(z, negative_slope=cfg.alpha)
    if cfg.name == "elu":
        return jax.nn.elu(z, alpha=cfg.alpha)
    if cfg.name == "prelu":
        return jnp.where(z >= 0, z, layer["alpha"] * z)
    if cfg.name == "maxout":
        return z.reshape(*z.shape[:-1], -1, cfg.pieces).max(axis=-1)
    raise ValueError(f"unknown activation {cfg.name}")


def output_activation(name: str, z: jax.Array) -> jax.Array:
    return _ELEMENTWISE[name](z)
