"""GD, momentum, RMSprop and Adam on the Rosenbrock function (x-1)^2 + 10 (y-x^2)^2, across
learning rates (lecture 004): trajectories and the distance to (1, 1) after N steps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check
from trainlab.figures.surface import contours, path, trajectories

LR = "optimizer.lr"
NAMES = {"gd": "GD", "momentum": "momentum (EMA, beta 0.9)", "rmsprop": "RMSprop (beta 0.99)",
         "adam": "Adam"}


def table(runs, options) -> pd.DataFrame:
    return trajectories(runs)


def distances(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Distance to (1, 1) after each number of steps options' ``report_steps`` names, per
    optimizer and lr (inf: the run diverged, trainlab froze it)."""
    rows = table[table.step.isin(options["report_steps"])].copy()
    rows["distance"] = rows.distance.fillna(np.inf)
    wide = rows.pivot_table(index=["optimizer", LR], columns="step", values="distance",
                            sort=False)
    wide.columns = [f"distance after {n} steps" for n in wide.columns]
    return wide.reset_index().rename(columns={LR: "lr"})


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return distances(table, options)


def gd_stability(table: pd.DataFrame) -> pd.DataFrame:
    """GD per lr: its closest approach to (1, 1) and where it ended. Below lr = 2/101.6 (the
    largest curvature at the minimum) GD keeps closing in; above, the minimum repels it into a
    2-cycle around it, or it diverges."""
    rows = []
    for lr, part in table[table.optimizer == "gd"].groupby(LR):
        final = part.distance.iloc[-1]
        rows.append({"lr": lr, "closest": part.distance.min(),
                     "final": final if np.isfinite(final) else np.inf})
    return pd.DataFrame(rows).set_index("lr")


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    d = distances(table, options)
    last = d.columns[-1]
    expected = len(table.optimizer.unique()) * len(table[LR].unique())
    checks = [Check("table: distance to (1, 1) after N steps for every optimizer and lr",
                    len(d) == expected and d[last].notna().all(),
                    f"{len(d)} of {expected} (optimizer, lr) rows")]
    gd = gd_stability(table)
    critical = 2 / 101.6
    stable, unstable = gd[gd.index < critical], gd[gd.index > critical]
    if len(stable) and len(unstable):
        ok = bool((stable.final <= 1.01 * stable.closest).all()
                  and (unstable.final > 5 * unstable.closest).all())
        checks.append(Check(
            "GD still closing in on (1, 1) below lr = 2/101.6, thrown back or diverged above",
            ok, ", ".join(f"lr {lr:g}: closest {r.closest:.2g}, final {r.final:.2g}"
                          for lr, r in gd.iterrows())))
    return checks


def draw(table: pd.DataFrame, options: dict):
    names = list(dict.fromkeys(table.optimizer))
    lrs = sorted(table[LR].unique())
    fig = plt.figure(figsize=(3.3 * len(lrs), 2.9 * len(names) + 3.6))
    grid = fig.add_gridspec(len(names) + 1, len(lrs), height_ratios=[1] * len(names) + [1.25])
    for i, name in enumerate(names):
        for j, lr in enumerate(lrs):
            ax = fig.add_subplot(grid[i, j])
            contours(ax, table, (-1.6, 1.8), (-0.9, 2.6),
                     levels=[0.05, 0.3, 1, 3, 10, 30, 100])
            part = table[(table.optimizer == name) & (table[LR] == lr)]
            final = part.distance.iloc[-1]
            path(ax, part, color=f"C{i}")
            ax.set_title(f"{NAMES.get(name, name)}, lr {lr:g}\n"
                         + (f"distance {final:.2g}" if np.isfinite(final) else "diverged"),
                         fontsize=9)
            ax.set(xlabel="x" if i == len(names) - 1 else "", ylabel="y" if j == 0 else "")
    ax = fig.add_subplot(grid[-1, :])
    d = distances(table, options)
    last = d.columns[-1]
    width = 0.8 / len(names)
    cap = 10.0  # diverged runs drawn at the top
    for i, name in enumerate(names):
        part = d[d.optimizer == name].set_index("lr").reindex(lrs)
        values = part[last].fillna(np.inf).clip(upper=cap)
        x = np.arange(len(lrs)) + (i - (len(names) - 1) / 2) * width
        bars = ax.bar(x, values, width, color=f"C{i}", label=NAMES.get(name, name))
        for bar, v in zip(bars, part[last], strict=True):
            if not np.isfinite(v) or v > cap:
                bar.set_hatch("//")
    ax.set(yscale="log", ylim=(1e-7, cap * 1.5), xticks=np.arange(len(lrs)),
           xticklabels=[f"lr {lr:g}" for lr in lrs],
           ylabel=last.replace("distance", "distance to (1, 1)"),
           title=f"Distance to the minimum (1, 1) {last.removeprefix('distance ')} "
                 f"(hatched: diverged, or farther than {cap:g})")
    ax.legend(fontsize=8, ncol=len(names))
    ax.grid(alpha=0.3, axis="y")
    fig.suptitle("Rosenbrock f(x, y) = (x - 1)² + 10 (y - x²)² from (-1, -0.5)", fontsize=14)
    fig.tight_layout()
    return fig
