"""The normalization choices, as pure functions of a layer's params and state.

BatchNorm normalizes each feature over the batch in training (biased variance, as in the
lectures) and keeps running averages beside the params, in ``state``; evaluation uses them.
LayerNorm normalizes each sample over its features, the same in training and evaluation;
GroupNorm over groups of its features (one group: LayerNorm; one feature a group: each unit
alone, "instance" norm).
"""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from trainlab.config.fields import ConfigError, at_least, rate
from trainlab.config.registry import choice
from trainlab.config.schema import Config, Normalization


class Normalizer(Normalization):
    """What every normalization provides; the defaults change nothing."""

    identity: ClassVar[bool] = True  # changes nothing: its position does not matter
    stateful: ClassVar[bool] = False  # keeps running statistics (evaluation depends on them)

    def init(self, width: int, dtype) -> tuple[dict, dict]:
        """(params, state) of the normalization of a layer of ``width`` features."""
        return {}, {}

    def apply(self, layer: dict, state: dict, z: jax.Array, *, train: bool) -> tuple:
        """Normalize ``z`` (batch, width): the output and the updated running statistics."""
        return z, state

    @property
    def after_activation(self) -> bool:
        """Whether it normalizes the activation's output rather than its input."""
        return not self.identity and self.position == "after"


@choice
class NoNormalization(Normalizer):
    name: str = "none"


class _Affine(Normalizer):
    """Normalize with some mean and variance, then scale by gamma and shift by beta."""

    identity = False

    def init(self, width, dtype):
        return {"gamma": jnp.ones((width,), dtype), "beta": jnp.zeros((width,), dtype)}, {}

    def statistics(self, state: dict, z: jax.Array, train: bool) -> tuple:
        raise NotImplementedError

    def apply(self, layer, state, z, *, train):
        mean, var, state = self.statistics(state, z, train)
        z_hat = (z - mean) * jax.lax.rsqrt(var + self.eps)
        return layer["gamma"] * z_hat + layer["beta"], state


@choice
class BatchNorm(_Affine):
    """Ioffe & Szegedy (2015): each feature over the batch; running averages for evaluation."""

    stateful = True
    name: str = "batchnorm"
    momentum: float = rate(0.9)  # running = momentum * running + (1 - momentum) * batch

    def init(self, width, dtype):
        params, _ = super().init(width, dtype)
        return params, {"mean": jnp.zeros((width,), dtype), "var": jnp.ones((width,), dtype)}

    def statistics(self, state, z, train):
        if not train:
            return state["mean"], state["var"], state
        mean, var = z.mean(axis=0), z.var(axis=0)
        m = self.momentum
        running = {"mean": m * state["mean"] + (1 - m) * mean,
                   "var": m * state["var"] + (1 - m) * var}
        return mean, var, running


@choice
class LayerNorm(_Affine):
    """Ba et al. (2016): each sample over its features, the same in training and evaluation."""

    name: str = "layernorm"

    def statistics(self, state, z, train):
        return z.mean(axis=-1, keepdims=True), z.var(axis=-1, keepdims=True), state


@choice
class GroupNorm(_Affine):
    """Wu & He (2018): each sample over groups of consecutive units, the same in training and
    evaluation; gamma and beta per unit."""

    name: str = "groupnorm"
    groups: int = at_least(4, 1)  # groups per layer; each layer's width must divide into them

    def check(self, cfg: Config) -> None:
        pieces = 1 if self.after_activation else cfg.activation.pieces  # maxout: per piece
        hidden = cfg.model.hidden_widths()
        widths = [units * pieces for units in hidden]
        uneven = [w for w in widths if w % self.groups]
        if uneven:
            what = f"hidden widths {hidden}"
            if pieces > 1:
                what += f" x {pieces} maxout pieces = {widths}"
            raise ConfigError(f"normalization.groups={self.groups}: must divide the width of "
                              f"every normalized layer ({what}); {uneven[0]} does not")

    def statistics(self, state, z, train):
        grouped = z.reshape(*z.shape[:-1], self.groups, -1)
        size = grouped.shape[-1]
        mean = jnp.repeat(grouped.mean(axis=-1), size, axis=-1)  # back to one per unit
        var = jnp.repeat(grouped.var(axis=-1), size, axis=-1)
        return mean, var, state
