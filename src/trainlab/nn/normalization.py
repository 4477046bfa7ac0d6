"""Batch and layer normalization, as pure functions.

BatchNorm normalizes each feature over the batch in training (biased variance, as in the
lectures) and keeps running averages beside the params, in ``state``; evaluation uses them.
LayerNorm normalizes each sample over its features, the same in training and evaluation.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trainlab.config import Normalization


def init(cfg: Normalization, width: int, dtype) -> tuple[dict, dict]:
    """(params, state) of one normalization layer: scale gamma, shift beta, running stats."""
    if cfg.name == "none":
        return {}, {}
    params = {"gamma": jnp.ones((width,), dtype), "beta": jnp.zeros((width,), dtype)}
    state = {}
    if cfg.name == "batchnorm":
        state = {"mean": jnp.zeros((width,), dtype), "var": jnp.ones((width,), dtype)}
    return params, state


def apply(
    cfg: Normalization, layer: dict, state: dict, z: jax.Array, *, train: bool
) -> tuple[jax.Array, dict]:
    """Normalize ``z`` (batch, width); returns the output and the updated running stats."""
    if cfg.name == "none":
        return z, state
    if cfg.name == "layernorm":
        mean, var = z.mean(axis=-1, keepdims=True), z.var(axis=-1, keepdims=True)
    elif train:
        mean, var = z.mean(axis=0), z.var(axis=0)
        m = cfg.momentum
        state = {
            "mean": m * state["mean"] + (1 - m) * mean,
            "var": m * state["var"] + (1 - m) * var,
        }
    else:
        mean, var = state["mean"], state["var"]
    z_hat = (z - mean) * jax.lax.rsqrt(var + cfg.eps)
    return layer["gamma"] * z_hat + layer["beta"], state
