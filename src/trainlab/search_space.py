"""A search space written in Hydra's override grammar, and the trials drawn from it.

    optimizer.lr='tag(log, interval(1e-5, 1e-1))'    log-uniform on [1e-5, 1e-1]
    model.hidden_dropout='interval(0, 0.5)'          uniform
    seeds='tag(int, interval(1, 5))'                 integers 1..5 (``log, int`` works too)
    optimizer=sgd,adam   'choice(sgd,adam)'   'range(1,4)'   categorical, equally likely
    epochs=5                                         fixed, the same in every trial

A trial is a point of the unit cube [0, 1)^d, one coordinate per swept dimension, mapped onto
the dimensions. The method decides how the points are drawn:

    random   independent uniform draws; trial i from its own generator seeded (seed, i)
    sobol    scrambled Sobol' points: every coordinate is balanced (n = 2^k points put one in
             each interval [j/n, (j+1)/n)), so few trials cover the space evenly
    halton   scrambled Halton points, for any n

With the same seed, the first n trials of a longer sweep are the n trials of a shorter one: a
sweep is extended by asking for more trials, and the finished ones are kept (see resume).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import IntervalSweep, Override
from hydra.errors import HydraException

METHODS = ("random", "sobol", "halton")
_TAGS = {"log", "int"}


@dataclass(frozen=True)
class Dimension:
    """One swept key: an interval (``low``, ``high``; log and/or integer) or a list of
    ``choices`` (override strings, as the user wrote them)."""

    key: str
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False
    choices: tuple[str, ...] = ()

    def value(self, u: float) -> str:
        """The override value at the unit-interval coordinate ``u``."""
        if self.choices:
            return self.choices[min(int(u * len(self.choices)), len(self.choices) - 1)]
        if self.integer:  # every integer of [low, high] equally likely (log: equally per log)
            low, high = self.low, self.high + 1
            x = math.exp(math.log(low) + u * math.log(high / low)) if self.log else (
                low + u * (high - low))
            return str(int(min(math.floor(x), self.high)))
        if self.log:
            x = math.exp(math.log(self.low) + u * math.log(self.high / self.low))
        else:
            x = self.low + u * (self.high - self.low)
        # repr: the shortest text that reads back as the very same float. Rounded (to 6
        # digits, say), 2000 draws repeat values, and a value in the file is not the one run.
        return repr(float(x))


@dataclass(frozen=True)
class SearchSpace:
    """The overrides of a sweep in command-line order: a Dimension for each swept key, the
    override string itself for each fixed one."""

    items: tuple[Dimension | str, ...]

    @property
    def dimensions(self) -> tuple[Dimension, ...]:
        return tuple(item for item in self.items if isinstance(item, Dimension))

    def trials(self, method: str, n_trials: int, seed: int) -> list[list[str]]:
        """The overrides of the first ``n_trials`` trials."""
        points = unit_points(method, n_trials, len(self.dimensions), seed)
        trials = []
        for point in points:
            coordinate = iter(point)
            trials.append([
                f"{item.key}={item.value(next(coordinate))}" if isinstance(item, Dimension)
                else item for item in self.items
            ])
        return trials


def _dimension(override: Override) -> Dimension:
    key = override.get_key_element()
    if override.is_interval_sweep():
        sweep = override.value()
        assert isinstance(sweep, IntervalSweep)
        unknown = sweep.tags - _TAGS
        if unknown:
            raise HydraException(f"{key}: unknown tag {sorted(unknown)}; use log and/or int")
        low, high, log = float(sweep.start), float(sweep.end), "log" in sweep.tags
        if not low < high:
            raise HydraException(f"{key}: interval({low:g}, {high:g}) needs start < end")
        if log and low <= 0:
            raise HydraException(f"{key}: a log interval needs start > 0, got {low:g}")
        integer = "int" in sweep.tags
        if integer and (low != int(low) or high != int(high)):
            raise HydraException(f"{key}: an int interval needs integer ends")
        return Dimension(key, low, high, log, integer)
    if override.is_discrete_sweep():
        choices = tuple(override.sweep_string_iterator())  # glob() reads the config loader
        if not choices:
            raise HydraException(f"{key}: nothing to choose from")
        return Dimension(key, choices=choices)
    raise HydraException(f"{key}: cannot sweep {override.value_type}")


def parse(overrides: list[str], config_loader=None) -> SearchSpace:
    """The search space of command-line (or ``hydra.sweeper.params``) overrides."""
    parser = OverridesParser.create(config_loader=config_loader)
    items: list[Dimension | str] = []
    for override in parser.parse_overrides(list(overrides)):
        if override.is_sweep_override():
            items.append(_dimension(override))
        else:
            items.append(f"{override.get_key_element()}={override.get_value_element_as_str()}")
    return SearchSpace(tuple(items))


def _qmc(method: str, d: int, seed: int):
    from scipy.stats import qmc

    sampler = qmc.Sobol if method == "sobol" else qmc.Halton
    try:
        return sampler(d, scramble=True, rng=np.random.default_rng(seed))
    except TypeError:  # scipy < 1.15 names it seed
        return sampler(d, scramble=True, seed=np.random.default_rng(seed))


def unit_points(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``n`` points of [0, 1)^d; the first k of them do not depend on n."""
    if method not in METHODS:
        raise HydraException(f"method={method}: must be one of {', '.join(METHODS)}")
    if d == 0 or n == 0:
        return np.zeros((n, d))
    if method == "random":
        return np.stack([np.random.default_rng([seed, i]).random(d) for i in range(n)])
    with warnings.catch_warnings():  # Sobol' warns when n is not a power of two: allowed
        warnings.simplefilter("ignore", UserWarning)
        return _qmc(method, d, seed).random(n)
