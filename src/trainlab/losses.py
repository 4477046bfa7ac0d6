"""The loss choices (lecture 001): the mean loss of a batch of outputs against its labels (or
targets), the classes they predict, and how many outputs the network needs.

``n_classes`` is 0 for regression: then ``y`` holds real targets, one column per output.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from trainlab.config.fields import ConfigError, positive
from trainlab.config.registry import choice
from trainlab.config.schema import Loss


class Criterion(Loss):
    """What every loss provides; the defaults fit a loss over one score per class."""

    def __call__(self, out: jax.Array, y: jax.Array, n_classes: int) -> jax.Array:
        """The mean loss of the batch ``out`` against ``y``."""
        raise NotImplementedError

    def n_outputs(self, n_classes: int, n_targets: int) -> int:
        """Output units: one per class (or per target column in regression)."""
        return n_classes or n_targets

    def predictions(self, out: jax.Array) -> jax.Array:
        """Predicted classes: the argmax, or a threshold for a single output."""
        if out.shape[-1] > 1:
            return out.argmax(-1)
        return (out[:, 0] > self.threshold).astype(jnp.int32)

    threshold = 0.5  # for a single output: class 1 above it

    def kinks(self, out: jax.Array, y: jax.Array):
        """Where the loss is not differentiable (see Nonlinearity.kinks), or None."""
        return None

    def check_data(self, task: str, n_classes: int) -> None:
        """Raise ConfigError if the loss cannot score this task."""
        if task == "regression" and not self.regression:
            raise ConfigError(f"loss={self.name}: a regression task takes loss=mse")


@choice
class CrossEntropy(Criterion):
    """Softmax cross-entropy, -log p(y)."""

    name: str = "cross_entropy"

    def __call__(self, out, y, n_classes):
        return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()


@choice
class Hinge(Criterion):
    """The multiclass SVM loss (Weston-Watkins): sum over wrong classes j of
    max(0, s_j - s_y + margin)."""

    name: str = "hinge"
    margin: float = positive(1.0)

    def __call__(self, out, y, n_classes):
        correct = jnp.take_along_axis(out, y[:, None], axis=-1)
        margins = jnp.maximum(0.0, out - correct + self.margin)
        return (margins.sum(-1) - self.margin).mean()  # the j = y term is exactly margin

    def kinks(self, out, y):
        if out.ndim != 2 or out.shape[-1] < 2:
            return None
        correct = jnp.take_along_axis(out, y[:, None], axis=-1)
        return out - correct + self.margin > 0


@choice
class Mse(Criterion):
    """Mean squared error: against real targets, a 0/1 column (two classes, one output) or
    one-hot labels."""

    regression = True
    name: str = "mse"

    def __call__(self, out, y, n_classes):
        if n_classes == 0:  # regression: over samples and outputs
            return jnp.mean((out - y) ** 2)
        target = y[:, None] if out.shape[-1] == 1 else jax.nn.one_hot(y, n_classes)
        return jnp.mean((out - target.astype(out.dtype)) ** 2)

    def n_outputs(self, n_classes, n_targets):
        return 1 if n_classes == 2 else n_classes or n_targets


@choice
class Bce(Criterion):
    """Binary cross-entropy of one logit per sample, for two classes."""

    threshold = 0.0  # the logit's sign
    name: str = "bce"

    def __call__(self, out, y, n_classes):
        return optax.sigmoid_binary_cross_entropy(out[:, 0], y.astype(out.dtype)).mean()

    def n_outputs(self, n_classes, n_targets):
        return 1

    def check_data(self, task, n_classes):
        super().check_data(task, n_classes)
        if n_classes != 2:
            raise ConfigError(f"loss=bce: needs two classes, data has {n_classes}")
