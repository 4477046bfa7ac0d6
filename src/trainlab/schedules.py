"""The learning-rate schedule choices (lectures 001 and 004): lr(t) from the initial rate a0.

t counts epochs or steps (``unit``). In epochs, t = floor(step / steps_per_epoch): the rate is
constant within an epoch and follows the formula exactly at each epoch. ``make`` turns a
schedule into optax's form, a function of the step count; a0 may be a traced value.
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from trainlab.config.fields import at_least, checked, fraction, non_negative
from trainlab.config.registry import choice
from trainlab.config.schema import Schedule


class RateSchedule(Schedule):
    """What every schedule provides: the rate at t (in units) for a total of ``total``."""

    def rate(self, a0, t, total: int):
        raise NotImplementedError

    def make(self, a0, steps_per_epoch: int, total_steps: int) -> optax.Schedule:
        per_unit = steps_per_epoch if self.unit == "epoch" else 1
        total = max(1, total_steps // per_unit)

        def schedule(count):
            # A float of the default precision: optax counts steps in int32, and in jax an
            # int32 divided by an int is float32 even in float64 mode (the warm-up would lose
            # digits).
            t = jnp.floor_divide(count, per_unit).astype(jnp.result_type(float))
            return self.rate(a0, t, total)

        return schedule


@choice
class Constant(RateSchedule):
    name: str = "constant"

    def rate(self, a0, t, total):
        return a0 * jnp.ones_like(t, dtype=jnp.result_type(a0, float))


@choice
class StepDecay(RateSchedule):
    """a0 * factor^floor(t / every)."""

    name: str = "step"
    every: int = at_least(10, 1)  # units between drops
    factor: float = checked(0.5, lambda x: 0 < x <= 1, "a number in (0, 1]")

    def rate(self, a0, t, total):
        return a0 * self.factor ** jnp.floor_divide(t, self.every)


@choice
class Exponential(RateSchedule):
    """a0 exp(-k t)."""

    name: str = "exponential"
    k: float = non_negative(0.05)

    def rate(self, a0, t, total):
        return a0 * jnp.exp(-self.k * t)


@choice
class InverseTime(RateSchedule):
    """a0 / (1 + k t)."""

    name: str = "inverse_time"
    k: float = non_negative(0.05)

    def rate(self, a0, t, total):
        return a0 / (1.0 + self.k * t)


@choice
class Cosine(RateSchedule):
    """a0 ((1 - f) (1 + cos(pi t / T)) / 2 + f), f = final_fraction, T the whole run."""

    name: str = "cosine"
    final_fraction: float = fraction(0.0)  # lr at the end, as a fraction of a0

    def rate(self, a0, t, total):
        return optax.cosine_decay_schedule(a0, total, alpha=self.final_fraction)(t)


@choice
class WarmupCosine(Cosine):
    """A linear warm-up from 0 to a0 over ``warmup`` units, then the cosine decay."""

    name: str = "warmup_cosine"
    warmup: int = at_least(5, 0)

    def rate(self, a0, t, total):
        # optax.warmup_cosine_decay_schedule branches on the peak value, which may be traced.
        return optax.join_schedules([
            optax.linear_schedule(0.0, a0, max(self.warmup, 1)),
            optax.cosine_decay_schedule(a0, max(total - self.warmup, 1), self.final_fraction),
        ], [self.warmup])(t)
