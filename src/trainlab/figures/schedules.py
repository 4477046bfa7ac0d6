"""Learning-rate schedules: the rate each epoch used, against the lecture's formula, and the
training loss it gave (lectures 001 and 004)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band


def describe(cfg) -> str:
    """The formula with this run's numbers, as the legend shows it."""
    a0, s = f"{cfg.optimizer.lr:g}", cfg.schedule
    if s.name == "step":
        return f"{a0} * {s.factor:g}^floor(t/{s.every})"
    if s.name == "exponential":
        return f"{a0} * exp(-{s.k:g} t)"
    if s.name == "inverse_time":
        return f"{a0} / (1 + {s.k:g} t)"
    if s.name == "cosine":
        return f"{a0} * (1 + cos(pi t/{cfg.epochs})) / 2"
    return a0


def formula(cfg, t: np.ndarray) -> np.ndarray:
    """The lecture's closed form of lr(t), written independently of trainlab's optax code."""
    a0, s = cfg.optimizer.lr, cfg.schedule
    if s.name == "constant":
        return np.full(t.shape, a0)
    if s.name == "step":
        return a0 * s.factor ** np.floor(t / s.every)
    if s.name == "exponential":
        return a0 * np.exp(-s.k * t)
    if s.name == "inverse_time":
        return a0 / (1 + s.k * t)
    if s.name == "cosine":
        T = cfg.epochs
        cosine = 0.5 * (1 + np.cos(np.pi * np.minimum(t, T) / T))
        return a0 * ((1 - s.final_fraction) * cosine + s.final_fraction)
    raise ValueError(f"no formula for schedule {s.name}")


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)
    frame = frame[frame.epoch >= 1].copy()  # the row of epoch e holds the rate epoch e used
    frame["t"] = frame.epoch - 1
    expected = {run.arm: run.cfg for run in runs}
    frame["lr_formula"] = np.concatenate([
        formula(expected[arm], part.t.to_numpy(float))
        for arm, part in frame.groupby("arm", sort=False)
    ])
    frame["schedule"] = frame.arm
    frame["formula"] = frame.arm.map({arm: describe(cfg) for arm, cfg in expected.items()})
    return frame[["schedule", "formula", "seed", "epoch", "t", "lr", "lr_formula", "train_loss",
                  "val_loss", "val_acc"]].reset_index(drop=True)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    rows = []
    for name, part in table.groupby("schedule", sort=False):
        last = part[part.epoch == part.epoch.max()]
        err = (part.lr - part.lr_formula).abs().max() / part.lr_formula.iloc[0]
        rows.append({"schedule": name, "formula": part.formula.iloc[0],
                     "lr first": part.lr.iloc[0], "lr last": last.lr.iloc[0],
                     "max error / a0": err, "final train loss": last.train_loss.mean(),
                     "final val acc": last.val_acc.mean()})
    return pd.DataFrame(rows)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    checks = []
    for name, part in table.groupby("schedule", sort=False):
        # Relative to a0: float32 rates hold ~7 digits of a0, and 1 + cos(pi t/T) near t = T
        # cancels, so a tiny final rate carries a0's rounding, not an error of the schedule.
        a0 = float(part.lr_formula.iloc[0])
        err = float((part.lr - part.lr_formula).abs().max() / a0)
        checks.append(Check(f"{name}: recorded lr matches {part.formula.iloc[0]}",
                            err < 1e-6, f"max |lr - formula| = {err:.1e} a0"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    fig, (ax_lr, ax_loss) = plt.subplots(1, 2, figsize=(12, 4.6))
    for i, (name, part) in enumerate(table.groupby("schedule", sort=False)):
        color = f"C{i}"
        one = part[part.seed == part.seed.min()]
        # The rate is constant within an epoch: a step line is the formula's true shape.
        ax_lr.plot(one.t, one.lr_formula, color=color, lw=1.2, alpha=0.7, drawstyle="steps-post")
        ax_lr.plot(one.t, one.lr, "o", color=color, ms=3.5,
                   label=f"{name}: {one.formula.iloc[0]}")
        band(ax_loss, part, "epoch", "train_loss", color=color, label=name)
    ax_lr.set(title="Learning rate: recorded per epoch (dots) vs formula (line)",
              xlabel="t (epochs)", ylabel="learning rate")
    ax_lr.legend(fontsize=8)
    ax_loss.set(title="Training loss (mean and min-max over seeds)", xlabel="epoch",
                ylabel="training loss (cross-entropy)")
    ax_loss.legend(fontsize=8)
    for ax in (ax_lr, ax_loss):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
