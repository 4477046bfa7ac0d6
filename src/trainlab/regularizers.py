"""The regularizer choices (lectures 000 and 003): weight penalties added to the loss, and the
max-norm constraint applied after each update.

Both act on the weight matrices (the leaves named ``w``) of the layers that train, never on
biases, normalization parameters or PReLU slopes: ``weights(params, trainable)`` picks them.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trainlab.config.fields import ConfigError, fraction, non_negative, positive
from trainlab.config.registry import choice
from trainlab.config.schema import Regularizer


def is_weight(path, _leaf=None) -> bool:
    return getattr(path[-1], "key", None) == "w"


def weight_mask(params):
    """A pytree of booleans, True on weight matrices: what penalties and decay act on."""
    return jax.tree_util.tree_map_with_path(is_weight, params)


def weights(params, trainable) -> list[jax.Array]:
    """The weight matrices of the layers that train (``trainable``: a mask like params)."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    masks = jax.tree_util.tree_leaves(trainable)
    return [leaf for (path, leaf), on in zip(leaves, masks, strict=True)
            if on and is_weight(path)]


class Penalizer(Regularizer):
    """What every regularizer provides; the defaults do nothing."""

    def penalty(self, params, trainable) -> jax.Array:
        """The term added to the loss."""
        return jnp.zeros(())

    def constrain(self, params, trainable):
        """The params after the constraint (applied after each update)."""
        return params

    def kinks(self, params, trainable):
        """Where the penalty is not differentiable (see Nonlinearity.kinks), or None."""
        return None

    def ridge(self) -> float:
        """The kappa of ridge regression when the output layer is solved in closed form."""
        raise ConfigError(f"optimizer=lstsq: takes regularizer=none or l2 (ridge), "
                          f"not regularizer={self.name}")


@choice
class NoRegularizer(Penalizer):
    name: str = "none"

    def ridge(self) -> float:
        return 0.0


@choice
class L2(Penalizer):
    """kappa/2 sum ||W||^2: shrinks every weight (weight decay, for plain SGD)."""

    name: str = "l2"
    kappa: float = non_negative(1e-4)

    def penalty(self, params, trainable):
        return self.kappa / 2 * sum((w**2).sum() for w in weights(params, trainable))

    def ridge(self) -> float:
        return self.kappa


@choice
class L1(Penalizer):
    """kappa sum |W|: drives weights to exactly 0 (sparsity)."""

    name: str = "l1"
    kappa: float = non_negative(1e-4)

    def penalty(self, params, trainable):
        return self.kappa * sum(jnp.abs(w).sum() for w in weights(params, trainable))

    def kinks(self, params, trainable):
        return [jnp.sign(w) for w in weights(params, trainable)]


@choice
class ElasticNet(Penalizer):
    """kappa (mix sum |W| + (1 - mix)/2 sum ||W||^2): between L1 and L2."""

    name: str = "elastic_net"
    kappa: float = non_negative(1e-4)
    mix: float = fraction(0.5)  # weight of the L1 part

    def penalty(self, params, trainable):
        ws = weights(params, trainable)
        l1 = sum(jnp.abs(w).sum() for w in ws)
        l2 = sum((w**2).sum() for w in ws)
        return self.kappa * (self.mix * l1 + (1 - self.mix) / 2 * l2)

    def kinks(self, params, trainable):
        return [jnp.sign(w) for w in weights(params, trainable)]


@choice
class MaxNorm(Penalizer):
    """Every layer's ||W||_F <= c after each update (lecture 003): a bound, not a penalty."""

    name: str = "max_norm"
    c: float = positive(3.0)

    def constrain(self, params, trainable):
        def project(path, leaf, on):
            if not (on and is_weight(path)):
                return leaf
            norm = jnp.sqrt((leaf**2).sum())
            return leaf * jnp.minimum(1.0, self.c / jnp.maximum(norm, 1e-12))

        return jax.tree_util.tree_map_with_path(project, params, trainable)
