"""Gradient descent on f(x, y) = 10 x^2 + 100 y^2 across learning rates (lecture 004):
converges below lr = 2/200, oscillates at it, diverges above."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check
from trainlab.figures.surface import contours, path, trajectories

LR = "optimizer.lr"
CRITICAL = 2 / 200  # the largest curvature is 200 (along y)


def table(runs, options) -> pd.DataFrame:
    return trajectories(runs)


def regimes(table: pd.DataFrame) -> pd.DataFrame:
    """Per lr: how |y| (the stiff direction) evolved, and the verdict."""
    rows = []
    for lr, part in table.groupby(LR):
        y0, y_end = abs(part.y.iloc[0]), abs(part.y.iloc[-1])
        finite = bool(np.isfinite(part.loss).all())
        ratio = y_end / y0 if finite else np.inf
        flips = float((np.sign(part.y).diff().abs() == 2).mean())  # y changed sign
        verdict = ("diverges" if ratio > 2 else "oscillates" if ratio > 0.5 else "converges")
        rows.append({"lr": lr, "steps": int(part.step.max()), "|y_T| / |y_0|": ratio,
                     "y sign flips per step": flips,
                     "final distance": part.distance.iloc[-1] if finite else np.inf,
                     "final loss": part.loss.iloc[-1] if finite else np.inf,
                     "verdict": verdict})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return regimes(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    r = regimes(table)
    below, at, above = r[r.lr < CRITICAL - 1e-9], r[np.isclose(r.lr, CRITICAL)], \
        r[r.lr > CRITICAL + 1e-9]
    fmt = lambda part: ", ".join(f"{lr:g}: {v}" for lr, v in zip(part.lr, part.verdict))  # noqa: E731
    checks = [Check("converges for every lr < 0.01", bool((below.verdict == "converges").all())
                    and len(below) > 0, fmt(below))]
    if len(at):
        ok = bool((at.verdict == "oscillates").all() and (at["y sign flips per step"] > 0.95).all())
        checks.append(Check("oscillates at lr = 0.01 (y flips sign every step, |y| stays)", ok,
                            f"|y_T|/|y_0| = {at['|y_T| / |y_0|'].iloc[0]:.3f}, flips per step "
                            f"{at['y sign flips per step'].iloc[0]:.2f}"))
    checks.append(Check("diverges for lr > 0.01", bool((above.verdict == "diverges").all())
                        and len(above) > 0, fmt(above)))
    return checks


def draw(table: pd.DataFrame, options: dict):
    lrs = sorted(table[LR].unique())
    cols = 4
    rows = -(-(len(lrs) + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.3 * rows), squeeze=False)
    verdicts = regimes(table).set_index("lr").verdict
    colors = {"converges": "C0", "oscillates": "C1", "diverges": "C3"}
    for ax, lr in zip(axes.flat, lrs, strict=False):
        part = table[table[LR] == lr]
        contours(ax, table, (-1.2, 1.2), (-1.3, 1.3), levels=[1, 5, 20, 50, 100, 150])
        path(ax, part, color=colors[verdicts[lr]])
        ax.set_title(f"lr = {lr:g}: {verdicts[lr]}", color=colors[verdicts[lr]])
    ax = axes.flat[len(lrs)]
    for i, lr in enumerate(lrs):
        part = table[table[LR] == lr]
        ax.plot(part.step, part.loss, color=plt.cm.viridis(i / max(1, len(lrs) - 1)),
                label=f"{lr:g}")
    ax.set(yscale="log", xlabel="step", ylabel="f(x, y)", title="loss per step",
           ylim=(1e-8, 1e6))
    ax.legend(title="lr", fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    for ax in axes.flat[len(lrs) + 1:]:
        ax.axis("off")
    fig.suptitle("Gradient descent on f(x, y) = 10x² + 100y² from (-1, 1): "
                 "stable while lr < 2/200 = 0.01", fontsize=14)
    fig.tight_layout()
    return fig
