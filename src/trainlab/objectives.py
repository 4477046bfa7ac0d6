"""Losses, weight penalties and the max-norm constraint (lectures 000, 001 and 003).

Penalties and the constraint touch weight matrices only (the leaves named ``w``), never
biases, normalization parameters or PReLU slopes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from trainlab.config import Config, Regularizer


def is_weight(path, _leaf) -> bool:
    return getattr(path[-1], "key", None) == "w"


def weight_mask(params):
    """A pytree of booleans, True on weight matrices: what penalties and decay act on."""
    return jax.tree_util.tree_map_with_path(is_weight, params)


def _weights(params) -> list[jax.Array]:
    return [layer["w"] for layer in params["layers"]] if "layers" in params else []


def n_outputs(loss_name: str, n_classes: int, n_targets: int) -> int:
    """Output units: one per class, or one for a two-class task scored by bce or mse."""
    if n_classes == 0:
        return n_targets
    if loss_name == "bce" or (loss_name == "mse" and n_classes == 2):
        return 1
    return n_classes


def data_loss(cfg: Config, out: jax.Array, y: jax.Array, n_classes: int) -> jax.Array:
    """Mean loss of a batch of outputs ``out`` against labels or targets ``y``."""
    name = cfg.loss.name
    if n_classes == 0:  # regression: mean squared error over samples and outputs
        return jnp.mean((out - y) ** 2)
    if name == "cross_entropy":
        return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()
    if name == "hinge":  # multiclass SVM (Weston-Watkins): sum over wrong classes j
        correct = jnp.take_along_axis(out, y[:, None], axis=-1)
        margins = jnp.maximum(0.0, out - correct + cfg.loss.margin)
        return (margins.sum(-1) - cfg.loss.margin).mean()  # the j = y term is exactly margin
    if name == "bce":
        return optax.sigmoid_binary_cross_entropy(out[:, 0], y.astype(out.dtype)).mean()
    if name == "mse":
        target = y[:, None] if out.shape[-1] == 1 else jax.nn.one_hot(y, n_classes)
        return jnp.mean((out - target.astype(out.dtype)) ** 2)
    raise ValueError(f"unknown loss {name}")


def predictions(cfg: Config, out: jax.Array) -> jax.Array:
    """Predicted classes: argmax, or a threshold for a single output (at 0 for bce's logits,
    at 0.5 for mse on 0/1 targets)."""
    if out.shape[-1] > 1:
        return out.argmax(-1)
    threshold = 0.0 if cfg.loss.name == "bce" else 0.5
    return (out[:, 0] > threshold).astype(jnp.int32)


def penalty(reg: Regularizer, params) -> jax.Array:
    """Lecture 000: l2 = kappa/2 sum ||W||^2, l1 = kappa sum |W|,
    elastic_net = kappa (mix sum |W| + (1-mix)/2 sum ||W||^2)."""
    weights = _weights(params)
    if reg.name in ("none", "max_norm") or not weights:
        return jnp.zeros(())
    l1 = sum(jnp.abs(w).sum() for w in weights)
    l2 = sum((w**2).sum() for w in weights)
    if reg.name == "l1":
        return reg.kappa * l1
    if reg.name == "l2":
        return reg.kappa / 2 * l2
    if reg.name == "elastic_net":
        return reg.kappa * (reg.mix * l1 + (1 - reg.mix) / 2 * l2)
    raise ValueError(f"unknown regularizer {reg.name}")


def constrain(reg: Regularizer, params):
    """Max-norm: rescale each weight matrix so that its Frobenius norm is at most c."""
    if reg.name != "max_norm":
        return params

    def project(path, leaf):
        if not is_weight(path, leaf):
            return leaf
        norm = jnp.sqrt((leaf**2).sum())
        return leaf * jnp.minimum(1.0, reg.c / jnp.maximum(norm, 1e-12))

    return jax.tree_util.tree_map_with_path(project, params)
