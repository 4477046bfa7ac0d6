"""The optimizer choices, as optax gradient transformations.

Each optimizer names an optax ``factory`` whose arguments (besides the learning rate) are its
own fields: ``optax.inject_hyperparams`` turns them into traced values, so trials that differ
only in such numbers share one compiled program. ``make`` chains clipping, the optimizer with
its learning-rate schedule, and decoupled weight decay on the weight matrices (biases and
normalization parameters are not decayed); ``trainable`` masks out layers that never train.

Where the lectures and optax differ, both forms are offered and named:
- momentum ``form=classic`` (v = mu v - lr g; optax.sgd's trace, identical for a constant lr)
  and ``form=ema`` (u = b u + (1-b) g, w -= lr u; lecture 004);
- Adam's epsilon outside the root (``eps``, optax's and the paper's) or inside it
  (``eps_root``); RMSprop's outside the root, as in lecture 004 (optax's default: inside);
- a momentum annealed over epochs (lecture 001: "e.g. from 0.5 -> 0.99"): ``momentum_ramp``
  epochs from ``momentum_start`` to ``momentum``, the momentum scheduled as the lr is;
- L2 coupled with the gradient (``regularizer=l2``: g += kappa w, what PyTorch calls
  ``weight_decay``) and decay decoupled from it (``decoupled_decay`` on any optimizer: w -= d w
  after the step, not scaled by lr, so plain SGD with decay lr*kappa equals L2 with kappa), and
  adamw's lr-scaled one (``decay_scaled_by_lr``). ``optimizer.weight_decay``, the old name of
  ``decoupled_decay``, still works with a deprecation warning.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import ClassVar

import jax
import jax.numpy as jnp
import optax

from trainlab.config.fields import (
    ConfigError,
    at_least,
    checked,
    non_negative,
    one_of,
    positive,
    rate,
)
from trainlab.config.registry import GROUPS, choice
from trainlab.config.schema import Config, Optimizer
from trainlab.regularizers import weight_mask


class GradientOptimizer(Optimizer):
    """What every optimizer provides: an optax factory and the chain around it."""

    static: ClassVar[tuple[str, ...]] = ()  # factory arguments that change the code, not numbers
    decays_itself: ClassVar[bool] = False  # the factory applies decoupled_decay (adamw)

    @staticmethod
    def factory(learning_rate) -> optax.GradientTransformation:
        raise NotImplementedError

    def hyperparameters(self) -> dict:
        """The factory's arguments besides the learning rate, from this config's fields."""
        names = list(inspect.signature(self.factory).parameters)[1:]
        return {name: getattr(self, name) for name in names}

    def scheduled(self, steps_per_epoch: int | None) -> dict:
        """Hyperparameters that follow a schedule of their own: name -> function of the step
        count (none by default; the momentum's ramp)."""
        return {}

    def make(self, schedule, trainable=None,
             steps_per_epoch: int | None = None) -> optax.GradientTransformation:
        """The optax chain: optional clipping, the optimizer with injected hyperparameters
        and ``schedule`` as its rate, then decoupled weight decay on weight matrices; with a
        ``trainable`` mask (a function of params, or None: all), the rest are left alone.
        ``steps_per_epoch`` turns a hyperparameter's schedule in epochs into steps."""
        # Every hyperparameter as a function of the step count, like the learning rate: optax
        # then reads it at each update from this call's (traced) values, not once at init,
        # so a value changed between epochs - PBT's explore - takes effect.
        hyper = {name: value if name in self.static else _constant(value)
                 for name, value in self.hyperparameters().items()}
        hyper.update(self.scheduled(steps_per_epoch))
        core = optax.inject_hyperparams(self.factory, static_args=self.static)(
            schedule, **hyper)
        chain = []
        if _on(self.clip_norm):
            chain.append(optax.clip_by_global_norm(self.clip_norm))
        chain.append(core)
        if not self.decays_itself and _on(self.decoupled_decay):
            chain.append(optax.add_decayed_weights(-self.decoupled_decay, mask=weight_mask))
        return only_trainable(optax.chain(*chain), trainable)


def only_trainable(tx, trainable) -> optax.GradientTransformation:
    """``tx`` on the leaves where ``trainable(params)`` is True, no update at all elsewhere."""
    if trainable is None:
        return tx

    def labels(params):
        return jax.tree_util.tree_map(lambda on: "trained" if on else "frozen",
                                      trainable(params))

    return optax.multi_transform({"trained": tx, "frozen": optax.set_to_zero()}, labels)


def _constant(value):
    return lambda count: value


def _on(value) -> bool:
    # Zero is kept a Python float in the static config (signature.ZERO_IS_STATIC): no-op skipped.
    return not (isinstance(value, float) and value == 0.0)


@choice
class Sgd(GradientOptimizer):
    """w -= lr g."""

    name: str = "sgd"
    factory = staticmethod(optax.sgd)

    def hyperparameters(self):
        return {}


def momentum_ramp(start, end, ramp: int, steps_per_epoch: int):
    """The momentum as a function of the step count: from ``start`` in epoch 0 linearly to
    ``end`` at epoch ``ramp``, then ``end``; constant within an epoch, as the lr in epochs.
    ``start`` and ``end`` may be traced values."""

    def momentum(count):
        epoch = jnp.floor_divide(count, steps_per_epoch).astype(jnp.result_type(float))
        return start + (end - start) * jnp.minimum(epoch / ramp, 1.0)

    return momentum


@dataclass
class MomentumFamily(GradientOptimizer):
    """A momentum, constant or ramped (lecture 001: "sometimes annealed over time, e.g. from
    0.5 -> 0.99"): with ``momentum_ramp`` > 0 epochs it goes from ``momentum_start`` to
    ``momentum`` over that many epochs. Both values are traced, the ramp's length is not."""

    momentum: float = rate(0.9)
    momentum_start: float = checked(0.5, lambda x: 0 <= x < 1, "a number in [0, 1): the "
                                    "momentum in epoch 0 when momentum_ramp > 0")
    momentum_ramp: int = at_least(0, 0, " (epochs from momentum_start to momentum; 0: off)")

    def scheduled(self, steps_per_epoch):
        if self.momentum_ramp == 0:
            return {}
        if steps_per_epoch is None:
            raise ValueError("optimizer.momentum_ramp is in epochs: make() needs steps_per_epoch")
        return {"momentum": momentum_ramp(self.momentum_start, self.momentum,
                                          self.momentum_ramp, steps_per_epoch)}


@choice
class Momentum(MomentumFamily):
    """SGD with momentum, in the classic form or lecture 004's EMA form (see above)."""

    static = ("form",)
    name: str = "momentum"
    form: str = one_of("classic", "ema")

    @staticmethod
    def factory(learning_rate, momentum, form):
        if form == "ema":
            return optax.chain(optax.ema(decay=momentum, debias=False),
                               optax.scale_by_learning_rate(learning_rate))
        return optax.sgd(learning_rate, momentum=momentum)


@choice
class Nesterov(MomentumFamily):
    """Nesterov's accelerated gradient: the gradient at the look-ahead point."""

    name: str = "nesterov"

    @staticmethod
    def factory(learning_rate, momentum):
        return optax.sgd(learning_rate, momentum, True)


@choice
class Adagrad(GradientOptimizer):
    """Per-weight rates, divided by the root of the sum of all squared gradients."""

    name: str = "adagrad"
    initial_accumulator: float = 0.1
    eps: float = positive(1e-7)

    @staticmethod
    def factory(learning_rate, initial_accumulator, eps):
        return optax.adagrad(learning_rate, initial_accumulator, eps)


@choice
class Rmsprop(GradientOptimizer):
    """Adagrad with a moving average of squared gradients (lecture 004)."""

    name: str = "rmsprop"
    lr: float = 1e-3
    decay: float = rate(0.9)
    eps: float = positive(1e-8)

    @staticmethod
    def factory(learning_rate, decay, eps):
        # Lecture 004's rule, w -= lr g / (sqrt(v) + eps): eps outside the root, as for Adam
        # (optax's rmsprop puts it inside by default, a much larger effective eps).
        return optax.rmsprop(learning_rate, decay=decay, eps=eps, eps_in_sqrt=False)


@choice
class Adadelta(GradientOptimizer):
    """Adagrad's rates without a global lr scale (Zeiler, 2012)."""

    name: str = "adadelta"
    lr: float = 1.0
    rho: float = rate(0.9)
    eps: float = positive(1e-6)

    factory = staticmethod(optax.adadelta)

    def hyperparameters(self):
        return {"rho": self.rho, "eps": self.eps}


@dataclass
class AdamFamily(GradientOptimizer):
    lr: float = 1e-3
    b1: float = rate(0.9)
    b2: float = rate(0.999)
    eps: float = positive(1e-8)  # outside the root: m / (sqrt(v) + eps), as optax and the paper
    eps_root: float = non_negative(0.0)  # inside: m / sqrt(v + eps_root), as some slides


@choice
class Adam(AdamFamily):
    """Momentum and RMSprop, both bias-corrected (Kingma & Ba, 2015)."""

    name: str = "adam"

    @staticmethod
    def factory(learning_rate, b1, b2, eps, eps_root):
        return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root)


@choice
class AdamW(AdamFamily):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

    static = ("decay_scaled_by_lr",)
    decays_itself = True
    name: str = "adamw"
    decoupled_decay: float = 1e-2
    # true: w <- w - lr * decoupled_decay * w (optax.adamw, PyTorch's AdamW); false: as in
    # Loshchilov & Hutter, the decay is not multiplied by lr (the same as adam with
    # decoupled_decay)
    decay_scaled_by_lr: bool = True

    @staticmethod
    def factory(learning_rate, b1, b2, eps, eps_root, decoupled_decay, decay_scaled_by_lr):
        if decay_scaled_by_lr:
            return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root,
                               weight_decay=decoupled_decay, mask=weight_mask)
        return optax.chain(
            optax.adam(learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root),
            optax.add_decayed_weights(-decoupled_decay, mask=weight_mask),
        )


@choice
class Adamax(AdamFamily):
    """Adam with the infinity norm in place of the root of the second moment."""

    name: str = "adamax"
    lr: float = 2e-3

    @staticmethod
    def factory(learning_rate, b1, b2, eps):
        return optax.adamax(learning_rate, b1=b1, b2=b2, eps=eps)


@choice
class Nadam(AdamFamily):
    """Adam with Nesterov momentum (Dozat, 2016)."""

    name: str = "nadam"

    @staticmethod
    def factory(learning_rate, b1, b2, eps, eps_root):
        return optax.nadam(learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root)


@choice
class Lion(GradientOptimizer):
    """The sign of an interpolation of momentum and gradient (Chen et al., 2023): every
    weight moves by +-lr, so lr is about 10x smaller than Adam's."""

    name: str = "lion"
    lr: float = 1e-4
    b1: float = rate(0.9)
    b2: float = rate(0.99)

    @staticmethod
    def factory(learning_rate, b1, b2):
        return optax.lion(learning_rate, b1=b1, b2=b2)


@choice
class Lstsq(Optimizer):
    """Not iterative: the output layer of a model linear in its features is solved in closed
    form (minimum-norm least squares, or ridge with regularizer=l2) on the whole training set
    in the first epoch. Needs loss=mse; lr is unused."""

    solver = "closed_form"
    name: str = "lstsq"
    lr: float = 1.0

    def make(self, schedule, trainable=None, steps_per_epoch=None) -> optax.GradientTransformation:
        return optax.set_to_zero()  # no gradient steps (identity would step along +g)

    def check(self, cfg: Config) -> None:
        if not cfg.model.linear_in_features:
            linear = [n for n, m in GROUPS["model"].items() if m.linear_in_features]
            raise ConfigError(f"optimizer=lstsq: needs a model linear in its features "
                              f"({', '.join(linear)}), not model={cfg.model.name}")
        if not cfg.loss.regression:
            raise ConfigError(f"optimizer=lstsq: solves least squares, needs loss=mse, "
                              f"not loss={cfg.loss.name}")
        cfg.regularizer.ridge()  # raises for a regularizer ridge regression cannot take
