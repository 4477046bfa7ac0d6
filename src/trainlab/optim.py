"""Optimizers and learning-rate schedules from config, as optax gradient transformations.

Every numeric hyperparameter enters through ``optax.inject_hyperparams``, so it may be a traced
array: trials that differ only in such numbers share one compiled program. Weight decay is
``optax.add_decayed_weights`` masked to the weight matrices (biases and normalization
parameters are not decayed).

Where the lectures and optax differ, both forms are offered and named:
- momentum ``form=classic`` (v = mu v - lr g; optax.sgd's trace, identical for a constant lr)
  and ``form=ema`` (u = b u + (1-b) g, w -= lr u; lecture 004);
- Adam's epsilon outside the root (``eps``, optax's and the paper's) or inside it
  (``eps_root``); RMSprop's outside the root, as in lecture 004 (optax's default: inside);
- decoupled decay not scaled by lr (``weight_decay`` on any optimizer: w -= wd w, so plain SGD
  with decay lr*kappa equals L2 with kappa) and adamw's lr-scaled one (``decay_scaled_by_lr``).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from trainlab.config import Optimizer, Schedule
from trainlab.objectives import weight_mask


def make_schedule(cfg: Schedule, lr, steps_per_epoch: int, total_steps: int) -> optax.Schedule:
    """lr(step) for the lecture schedules, with t counted in epochs or in steps.

    In epochs, t = floor(step / steps_per_epoch): the rate is constant within an epoch and
    follows the formula exactly at each epoch."""
    per_unit = steps_per_epoch if cfg.unit == "epoch" else 1
    total = max(1, total_steps // per_unit)

    def units(count):
        # A float of the default precision: optax counts steps in int32, and in jax an int32
        # divided by an int is float32 even in float64 mode (the warm-up would lose digits).
        return jnp.floor_divide(count, per_unit).astype(jnp.result_type(float))

    if cfg.name == "constant":
        return lambda count: lr * jnp.ones_like(count, dtype=jnp.result_type(lr, float))
    if cfg.name == "step":  # lr * factor^(t // every)
        return lambda count: lr * cfg.factor ** jnp.floor_divide(units(count), cfg.every)
    if cfg.name == "exponential":  # a0 exp(-k t)
        return lambda count: lr * jnp.exp(-cfg.k * units(count))
    if cfg.name == "inverse_time":  # a0 / (1 + k t)
        return lambda count: lr / (1.0 + cfg.k * units(count))
    if cfg.name == "cosine":
        cosine = optax.cosine_decay_schedule(lr, total, alpha=cfg.final_fraction)
        return lambda count: cosine(units(count))
    if cfg.name == "warmup_cosine":
        # optax.warmup_cosine_decay_schedule branches on the peak value, which may be traced.
        warmup_cosine = optax.join_schedules([
            optax.linear_schedule(0.0, lr, max(cfg.warmup, 1)),
            optax.cosine_decay_schedule(lr, max(total - cfg.warmup, 1), cfg.final_fraction),
        ], [cfg.warmup])
        return lambda count: warmup_cosine(units(count))
    raise ValueError(f"unknown schedule {cfg.name}")


def _momentum(learning_rate, momentum, form: str):
    if form == "ema":
        return optax.chain(
            optax.ema(decay=momentum, debias=False), optax.scale_by_learning_rate(learning_rate)
        )
    return optax.sgd(learning_rate, momentum=momentum)


def _rmsprop(learning_rate, decay, eps):
    # Lecture 004's rule, w -= lr g / (sqrt(v) + eps): eps outside the root, as for Adam
    # (optax's rmsprop puts it inside by default, a much larger effective eps).
    return optax.rmsprop(learning_rate, decay=decay, eps=eps, eps_in_sqrt=False)


def _adamw(learning_rate, b1, b2, eps, eps_root, weight_decay, scaled: bool):
    if scaled:
        return optax.adamw(learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root,
                           weight_decay=weight_decay, mask=weight_mask)
    return optax.chain(
        optax.adam(learning_rate, b1=b1, b2=b2, eps=eps, eps_root=eps_root),
        optax.add_decayed_weights(-weight_decay, mask=weight_mask),
    )


# name -> (factory of optax transformations, the config fields it takes besides lr)
_FACTORIES: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "sgd": (optax.sgd, ()),
    "nesterov": (lambda learning_rate, momentum: optax.sgd(learning_rate, momentum, True),
                 ("momentum",)),
    "adagrad": (lambda learning_rate, initial_accumulator, eps: optax.adagrad(
        learning_rate, initial_accumulator, eps), ("initial_accumulator", "eps")),
    "rmsprop": (_rmsprop, ("decay", "eps")),
    "adadelta": (optax.adadelta, ("rho", "eps")),
    "adam": (optax.adam, ("b1", "b2", "eps", "eps_root")),
    "adamax": (optax.adamax, ("b1", "b2", "eps")),
    "nadam": (optax.nadam, ("b1", "b2", "eps", "eps_root")),
}


def make_optimizer(
    cfg: Optimizer, schedule_cfg: Schedule, steps_per_epoch: int, total_steps: int
) -> optax.GradientTransformation:
    """The optax chain: optional clipping, the optimizer with injected hyperparameters and
    the learning-rate schedule, then decoupled weight decay on weight matrices."""
    if cfg.name == "lstsq":  # solved in closed form by the program (closed_form.py)
        return optax.set_to_zero()  # no gradient steps (identity would step along +g)
    schedule = make_schedule(schedule_cfg, cfg.lr, steps_per_epoch, total_steps)
    if cfg.name == "momentum":
        core = optax.inject_hyperparams(_momentum, static_args=("form",))(
            schedule, cfg.momentum, cfg.form
        )
    elif cfg.name == "adamw":
        core = optax.inject_hyperparams(_adamw, static_args=("scaled",))(
            schedule, cfg.b1, cfg.b2, cfg.eps, cfg.eps_root, cfg.weight_decay,
            cfg.decay_scaled_by_lr,
        )
    else:
        factory, fields = _FACTORIES[cfg.name]
        core = optax.inject_hyperparams(factory)(
            schedule, **{name: getattr(cfg, name) for name in fields}
        )
    chain = []
    if _on(cfg.clip_norm):
        chain.append(optax.clip_by_global_norm(cfg.clip_norm))
    chain.append(core)
    if cfg.name != "adamw" and _on(cfg.weight_decay):
        chain.append(optax.add_decayed_weights(-cfg.weight_decay, mask=weight_mask))
    return optax.chain(*chain)


def train_output_layer_only(tx: optax.GradientTransformation) -> optax.GradientTransformation:
    """``tx`` on the last layer, no update at all elsewhere (frozen random features)."""
    def labels(params):
        layers = params["layers"]
        names = ["frozen"] * (len(layers) - 1) + ["trained"]
        return {"layers": [jax.tree_util.tree_map(lambda _, n=name: n, layer)
                           for name, layer in zip(names, layers)]}

    return optax.multi_transform({"trained": tx, "frozen": optax.set_to_zero()}, labels)


def _on(value) -> bool:
    # Zero is kept a Python float in the static config (config.ZERO_IS_STATIC): no-op skipped.
    return not (isinstance(value, float) and value == 0.0)
