"""The learning-rate range test, read: which lrs make the loss go down (lecture 001, step 4).

The data are independent short runs, one per (lr, seed), all for the same optimizer steps,
each ending with the loss over the whole training split (``train_loss`` of the last row of
metrics.csv). That differs on purpose from fastai's ``lr_find`` and Lightning's finder, which
raise the lr within ONE run and read each step's mini-batch loss: there, the loss at an lr
depends on everything the earlier lrs did, and the curve is so noisy that it has to be smoothed
before its steepest slope is taken - the suggestion its users report changing from run to run
(fastai issue 3295; pytorch-lr-finder issue 86: "differential is sensitive to high frequency
variations"). Here no smoothing is needed: each point is an exact loss, the seeds give its
spread, and the rule reads levels, not slopes:

- each lr is scored by its WORST seed (a lucky seed does not make an lr look safe);
- ``best`` is the lr with the lowest worst-seed loss;
- the good range is every lr whose worst seed gets within ``TOLERANCE`` of the best's progress
  below the chance loss (the loss of the best constant prediction: ln C for balanced classes),
  that is ``(chance - loss) >= (1 - TOLERANCE) * (chance - best loss)``;
- ``suggested`` is the middle grid point of the good range (the lower one of two), below its
  top: a short run favours an lr too large for a long one (tools/lr_rule.py measures the
  rules on full-length runs; its table is in README.md, "trainlab doctor");
- the divergent end is the first lr above ``best`` where a seed's loss is not finite, ended
  more than 1% above its own start, or is no better than chance (the net collapsed to
  predicting the class prior).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

TOLERANCE = 0.2  # a good lr gets at least 80% of the best lr's progress below chance
NO_BETTER = 0.01  # within 1% of chance (or above) is no progress at all


@dataclass
class RangeResult:
    best: float  # the lr with the lowest worst-seed loss
    best_loss: float
    low: float  # the good range
    high: float
    suggested: float
    divergent_from: float | None  # the first failing lr above best; None: none in the grid
    chance: float
    initial: float

    def as_dict(self) -> dict:
        return asdict(self)


def per_lr(range_table: pd.DataFrame) -> pd.DataFrame:
    """Per lr: the final train loss of its seeds (min, median, max; inf for a seed whose loss
    is not finite) and the largest rise of a seed's loss above its own start."""
    first = range_table[range_table.epoch == 0].set_index(["lr_value", "seed"]).train_loss
    last = range_table[range_table.epoch == range_table.epoch.max()] \
        .set_index(["lr_value", "seed"]).train_loss
    last = last.where(np.isfinite(last), np.inf)
    rise = (last / first).groupby(level="lr_value").max()
    grouped = last.groupby(level="lr_value")
    frame = pd.DataFrame({"min": grouped.min(), "median": grouped.median(),
                          "max": grouped.max(), "rise": rise})
    return frame.rename_axis("lr").reset_index()


def diverged(frame: pd.DataFrame) -> pd.Series:
    """Lrs where some seed's loss is not finite or ended above where it started (by more
    than 1%: a tiny lr's noise is not divergence)."""
    return ~np.isfinite(frame["max"]) | (frame["rise"] > 1 + NO_BETTER)


def no_progress(frame: pd.DataFrame, chance: float) -> pd.Series:
    """Lrs where some seed ended no better than chance (within 1%): too slow to tell on the
    low side, collapsed to the class prior on the high side."""
    return frame["max"] >= chance * (1 - NO_BETTER)


def failed(frame: pd.DataFrame, chance: float) -> pd.Series:
    return diverged(frame) | no_progress(frame, chance)


def analyze(frame: pd.DataFrame, chance: float, initial: float,
            tolerance: float = TOLERANCE) -> RangeResult | None:
    """The range test's reading; None when no lr made any progress below chance."""
    worst = frame["max"].to_numpy(float)
    lrs = frame["lr"].to_numpy(float)
    bad = failed(frame, chance).to_numpy()
    if bad.all():
        return None
    i_best = int(np.nanargmin(np.where(bad, np.inf, worst)))
    best_loss = worst[i_best]
    good = ~bad & (chance - worst >= (1 - tolerance) * (chance - best_loss))
    # The good range is the run of good lrs around the best (a lucky isolated lr far away
    # does not widen it).
    lo = hi = i_best
    while lo > 0 and good[lo - 1]:
        lo -= 1
    while hi < len(lrs) - 1 and good[hi + 1]:
        hi += 1
    above = [i for i in range(i_best + 1, len(lrs)) if bad[i]]
    return RangeResult(
        best=float(lrs[i_best]), best_loss=float(best_loss), low=float(lrs[lo]),
        high=float(lrs[hi]), suggested=float(lrs[(lo + hi) // 2]),
        divergent_from=float(lrs[above[0]]) if above else None, chance=chance,
        initial=initial)


def round_lr(lr: float) -> float:
    """An lr to type: one significant digit, on the 1-2-3-5 steps of a decade."""
    exponent = math.floor(math.log10(lr))
    mantissa = lr / 10**exponent
    step = min((1, 2, 3, 5, 10), key=lambda m: abs(math.log(mantissa / m)))
    return float(f"{step * 10**exponent:.1g}")
