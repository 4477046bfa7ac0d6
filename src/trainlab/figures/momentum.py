"""Momentum (EMA form) against plain gradient descent on f(x, y) = 10 x^2 + 100 y^2, at the
same learning rates (lecture 004)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check
from trainlab.figures.surface import contours, path, trajectories

LR = "optimizer.lr"
LABELS = {"gd": "plain GD", "momentum_ema": "momentum, EMA form (beta 0.9)",
          "momentum_classic": "momentum, classic form (beta 0.9)"}
COLORS = {"gd": "C0", "momentum_ema": "C3", "momentum_classic": "C2"}


def table(runs, options) -> pd.DataFrame:
    return trajectories(runs)


def _first(mask: pd.Series, steps: pd.Series) -> float:
    return float(steps[mask].iloc[0]) if mask.any() else np.inf


def arrivals(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per optimizer and lr: steps to reach the options' tolerance (and 0.01), whether it
    overshot (crossed an axis through the minimum: x or y changed sign)."""
    tol = float(options["tolerance"])
    rows = []
    for (name, lr), part in table.groupby(["optimizer", LR], sort=False):
        crossed = (np.sign(part.x) * np.sign(part.x.iloc[0]) < 0).any() or \
                  (np.sign(part.y) * np.sign(part.y.iloc[0]) < 0).any()
        rows.append({"optimizer": name, "lr": lr,
                     f"steps to {tol:g}": _first(part.distance < tol, part.step),
                     "steps to 0.01": _first(part.distance < 0.01, part.step),
                     "overshoots": bool(crossed),
                     "final distance": float(part.distance.iloc[-1])})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return arrivals(table, options)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    a = arrivals(table, options)
    tol = float(options["tolerance"])
    col = f"steps to {tol:g}"
    gd, mom = a[a.optimizer == "gd"].set_index("lr"), a[a.optimizer == "momentum_ema"] \
        .set_index("lr")
    lrs = gd.index.intersection(mom.index)
    swinging = [lr for lr in lrs if lr >= 5e-4]  # at 1e-4 the EMA form is over-damped
    faster = [lr for lr in lrs if mom.loc[lr, col] < gd.loc[lr, col]]
    return [
        Check("momentum (EMA form) overshoots: crosses an axis through the minimum "
              "(lr >= 0.0005), plain GD never does at these rates",
              bool(mom.loc[swinging, "overshoots"].all() and not gd.overshoots.any()),
              ", ".join(f"{lr:g}: {'yes' if mom.loc[lr, 'overshoots'] else 'no'}"
                        for lr in lrs)),
        Check(f"yet it gets within {tol:g} of the minimum in fewer steps than GD at every lr",
              len(faster) == len(lrs) > 0,
              ", ".join(f"{lr:g}: {mom.loc[lr, col]:.0f} vs {gd.loc[lr, col]:.0f}"
                        for lr in lrs)),
    ]


def draw(table: pd.DataFrame, options: dict):
    lrs = sorted(table[LR].unique())
    names = list(dict.fromkeys(table.optimizer))
    fig = plt.figure(figsize=(3.2 * max(len(lrs), 4), 8.2))
    grid = fig.add_gridspec(2, 2 * len(lrs))
    for i, lr in enumerate(lrs):
        ax = fig.add_subplot(grid[0, 2 * i: 2 * i + 2])
        contours(ax, table, (-1.15, 0.5), (-0.8, 1.15), levels=[1, 5, 20, 50, 100])
        for name in names:
            part = table[(table.optimizer == name) & (table[LR] == lr)]
            path(ax, part, color=COLORS.get(name), alpha=0.85)
        ax.set_title(f"lr = {lr:g}")
    half = len(lrs)
    ax = fig.add_subplot(grid[1, :half])
    lr_show = lrs[len(lrs) // 2]
    for name in names:
        part = table[(table.optimizer == name) & (table[LR] == lr_show)]
        ax.plot(part.step, part.distance, color=COLORS.get(name), label=LABELS.get(name, name))
    ax.axhline(options["tolerance"], color="k", ls=":", lw=1, label="tolerance")
    ax.set(yscale="log", xlabel="step", ylabel="distance to the minimum",
           title=f"Distance to the minimum at lr = {lr_show:g}",
           xlim=(0, 4 * arrivals(table, options).query("lr == @lr_show").iloc[:, 2].replace(
               np.inf, np.nan).max()), ylim=(1e-4, 3))
    ax.legend(fontsize=8)
    ax = fig.add_subplot(grid[1, half:])
    a = arrivals(table, options)
    col = a.columns[2]
    for name in names:
        part = a[a.optimizer == name]
        ax.plot(part.lr, part[col], "o-", color=COLORS.get(name), label=LABELS.get(name, name))
    ax.set(xscale="log", yscale="log", xlabel="learning rate",
           ylabel=f"steps to reach the minimum (distance < {options['tolerance']:g})",
           title="Steps to reach the minimum at the same lr")
    ax.legend(fontsize=8)
    for ax in fig.axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Momentum vs plain GD on f(x, y) = 10x² + 100y² from (-1, 1)", fontsize=14)
    fig.tight_layout()
    return fig
