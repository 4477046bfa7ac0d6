"""The model choices: the shape of the network nn/mlp.py builds, its input features, and which
of its layers train.

Every model is the same MLP: ``mlp`` with hidden layers of ``widths``, ``linear`` with none
(softmax or linear regression), ``polynomial`` with none on polynomial features of a 1-D input,
and ``random_features`` with one hidden layer that never trains (only the output layer does).
"""

from __future__ import annotations

import math
from dataclasses import field

import jax
import jax.numpy as jnp

from trainlab.config.fields import ConfigError, at_least, one_of
from trainlab.config.registry import choice
from trainlab.config.schema import Model


@choice
class Mlp(Model):
    name: str = "mlp"
    widths: list[int] = field(default_factory=lambda: [256, 256])  # depth = its length

    def hidden_widths(self) -> list[int]:
        return list(self.widths)

    def check(self) -> None:
        widths = list(self.widths)
        if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ConfigError(
                f"model.widths={widths}: must be a non-empty list of positive integers "
                "(model=linear has no hidden layer)"
            )


@choice
class Linear(Model):
    """No hidden layer: logistic (softmax) regression, or linear regression with loss=mse."""

    linear_in_features = True
    name: str = "linear"


@choice
class RandomFeatures(Model):
    """One hidden layer of ``width`` random units (drawn by ``init``, through ``activation``)
    that is never trained: only the output layer learns (Belkin's random-features model)."""

    linear_in_features = True
    name: str = "random_features"
    width: int = at_least(1000, 1)

    def hidden_widths(self) -> list[int]:
        return [self.width]

    def trainable(self, n_layers: int) -> list[bool]:
        return [False] * (n_layers - 1) + [True]


@choice
class Polynomial(Model):
    """A linear model on polynomial features of a 1-D input (capacity lecture)."""

    linear_in_features = True
    name: str = "polynomial"
    degree: int = at_least(3, 0)
    basis: str = one_of("legendre", "monomial")  # legendre: orthonormal on [-1, 1]

    def n_inputs(self, n_features: int) -> int:
        return self.degree + 1

    def features(self, x: jax.Array) -> jax.Array:
        x = x[:, 0]
        if self.basis == "monomial":
            return jnp.stack([x**n for n in range(self.degree + 1)], axis=-1)
        # Legendre polynomials by Bonnet's recursion, scaled to be orthonormal on [-1, 1]:
        # unlike raw monomials they keep gradient descent well conditioned at high degree.
        columns = [jnp.ones_like(x), x][: self.degree + 1]
        for n in range(1, self.degree):
            columns.append(((2 * n + 1) * x * columns[n] - n * columns[n - 1]) / (n + 1))
        return jnp.stack([c * math.sqrt((2 * n + 1) / 2) for n, c in enumerate(columns)],
                         axis=-1)

    def check_data(self, n_features: int) -> None:
        if n_features != 1:
            raise ConfigError(
                f"model=polynomial: needs 1-D inputs, data has {n_features} features")
