"""Momentum (EMA form) against plain gradient descent on f(x, y) = 10 x^2 + 100 y^2, at the
same learning rates (lecture 004): at the lecture's small rates it overshoots and arrives
sooner; at the rates where plain GD zig-zags across the narrow valley (lr > 1/200) it damps
the zig-zag."""

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
STEEP = 200.0  # f's curvature along y: GD's y-step flips sign above lr 1/200, grows above 2/200


def table(runs, options) -> pd.DataFrame:
    return trajectories(runs)


def _first(mask: pd.Series, steps: pd.Series) -> float:
    return float(steps[mask].iloc[0]) if mask.any() else np.inf


def _reversals(part: pd.DataFrame, tol: float) -> float:
    """The fraction of steps whose move along y (the steep direction) points the other way
    from the step before: 1 for a zig-zag. Counted on the way in, until the point is within
    ``tol`` of the minimum (after that the moves are round-off); NaN before two moves."""
    arrived = _first(part.distance < tol, part.step)
    way = part[part.step <= arrived] if np.isfinite(arrived) else part
    moves = np.diff(way.y.to_numpy())
    moves = moves[np.isfinite(moves)]
    if len(moves) < 2:
        return np.nan
    return float((np.sign(moves[1:]) * np.sign(moves[:-1]) < 0).mean())


def arrivals(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per optimizer and lr: steps to reach the options' tolerance (and 0.01), whether it
    overshot (crossed an axis through the minimum: x or y changed sign), whether it diverged
    and how often its y-step reversed on the way in."""
    tol = float(options["tolerance"])
    rows = []
    for (name, lr), part in table.groupby(["optimizer", LR], sort=False):
        crossed = (np.sign(part.x) * np.sign(part.x.iloc[0]) < 0).any() or \
                  (np.sign(part.y) * np.sign(part.y.iloc[0]) < 0).any()
        final = float(part.distance.iloc[-1])
        rows.append({"optimizer": name, "lr": lr,
                     f"steps to {tol:g}": _first(part.distance < tol, part.step),
                     "steps to 0.01": _first(part.distance < 0.01, part.step),
                     "overshoots": bool(crossed),
                     "diverged": bool(not np.isfinite(final) or final > part.distance.iloc[0]),
                     "y reversals": _reversals(part, tol),
                     "final distance": final})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return arrivals(table, options)


def _by_lr(a: pd.DataFrame, name: str) -> pd.DataFrame:
    return a[a.optimizer == name].set_index("lr")


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    a = arrivals(table, options)
    tol = float(options["tolerance"])
    col = f"steps to {tol:g}"
    gd, mom = _by_lr(a, "gd"), _by_lr(a, "momentum_ema")
    lrs = gd.index.intersection(mom.index)
    lecture = [lr for lr in lrs if lr <= float(options["lecture_max_lr"])]
    swinging = [lr for lr in lecture if lr >= 5e-4]  # at 1e-4 the EMA form is over-damped
    zigzag = [lr for lr in lrs if 1 / STEEP < lr < 2 / STEEP]
    beyond = [lr for lr in lrs if lr > 2 / STEEP]
    slow = [lr for lr in zigzag if lr >= float(options["slow_zigzag_lr"])]
    damp = float(options["damped"])
    fmt = lambda v: f"{v:.0f}" if np.isfinite(v) else "never"  # noqa: E731
    checks = [
        Check("at the lecture's rates (lr <= 0.004) momentum (EMA form) overshoots: crosses "
              "an axis through the minimum (lr >= 0.0005), plain GD never does",
              bool(swinging and mom.loc[swinging, "overshoots"].all()
                   and not gd.loc[lecture, "overshoots"].any()),
              ", ".join(f"{lr:g}: {'yes' if mom.loc[lr, 'overshoots'] else 'no'}"
                        for lr in lecture)),
        Check("plain GD zig-zags across the narrow valley above lr = 1/200 (its y-step reverses "
              "at every step) and diverges above 2/200",
              bool(zigzag and (gd.loc[zigzag, "y reversals"] == 1).all() and beyond
                   and gd.loc[beyond, "diverged"].all()),
              ", ".join(f"{lr:g}: reverses {gd.loc[lr, 'y reversals']:.0%}" for lr in zigzag)
              + "; " + ", ".join(f"{lr:g}: {'diverges' if gd.loc[lr, 'diverged'] else 'stays'}"
                                 for lr in beyond)),
        Check(f"momentum damps the oscillation in the narrow valley (lecture 004): at the same "
              f"rates its y-step reverses on < {damp:.0%} of the steps on the way in, and it "
              "converges where GD diverges",
              bool(zigzag and (mom.loc[zigzag, "y reversals"] < damp).all() and beyond
                   and not mom.loc[beyond, "diverged"].any()),
              ", ".join(f"{lr:g}: {mom.loc[lr, 'y reversals']:.0%} vs GD "
                        f"{gd.loc[lr, 'y reversals']:.0%}" for lr in zigzag + beyond)),
        Check(f"where GD's zig-zag barely decays (lr >= {float(options['slow_zigzag_lr']):g}) "
              f"or grows (lr > 2/200), momentum gets within {tol:g} of the minimum in fewer "
              "steps", bool(slow + beyond and all(mom.loc[lr, col] < gd.loc[lr, col]
                                                     for lr in slow + beyond)),
              ", ".join(f"{lr:g}: {fmt(mom.loc[lr, col])} vs GD {fmt(gd.loc[lr, col])}"
                        for lr in slow + beyond)
              + "; not below: " + ", ".join(f"{lr:g}: {fmt(mom.loc[lr, col])} vs GD "
                                            f"{fmt(gd.loc[lr, col])}"
                                            for lr in zigzag if lr not in slow)
              + " (GD's zig-zag dies out fast there; beta 0.9 spirals in)"),
    ]
    return checks


def draw(table: pd.DataFrame, options: dict):
    shown = [lr for lr in options["show_lr"] if lr in set(table[LR])]
    names = list(dict.fromkeys(table.optimizer))
    fig = plt.figure(figsize=(3.3 * max(len(shown), 4), 8.4))
    grid = fig.add_gridspec(2, 2 * len(shown))
    for i, lr in enumerate(shown):
        ax = fig.add_subplot(grid[0, 2 * i: 2 * i + 2])
        contours(ax, table, (-1.15, 0.5), (-1.15, 1.15), levels=[1, 5, 20, 50, 100])
        for name in names:
            if name == "momentum_classic":  # its 10x longer steps hide the other two paths
                continue
            part = table[(table.optimizer == name) & (table[LR] == lr)]
            part = part[part.distance < 3]  # a diverging GD leaves the picture
            path(ax, part, color=COLORS.get(name), alpha=0.85, label=LABELS.get(name, name))
        if i == 0:
            ax.legend(fontsize=7, loc="lower left",
                      title="classic form: only below", title_fontsize=7)
        regime = ("GD zig-zags" if 1 / STEEP < lr < 2 / STEEP
                  else "GD diverges" if lr > 2 / STEEP else "the lecture's rates")
        ax.set_title(f"lr = {lr:g} ({regime})", fontsize=10)
    half = len(shown)
    a = arrivals(table, options)
    ax = fig.add_subplot(grid[1, :half])
    col = a.columns[2]
    for name in names:
        part = a[a.optimizer == name]
        ax.plot(part.lr, part[col].replace(np.inf, np.nan), "o-", color=COLORS.get(name),
                label=LABELS.get(name, name))
        never = part[~np.isfinite(part[col])]
        ax.plot(never.lr, np.full(len(never), 2000.0), "x", color=COLORS.get(name), ms=9,
                mew=2)
    for x in (1 / STEEP, 2 / STEEP):
        ax.axvline(x, color="k", ls=":", lw=1)
    ax.text(1 / STEEP, 1.2, " GD zig-zags", fontsize=8)
    ax.text(2 / STEEP, 1.2, " GD diverges (x: never)", fontsize=8)
    ax.set(xscale="log", yscale="log", xlabel="learning rate", ylim=(1, 3000),
           ylabel=f"steps to reach the minimum (distance < {options['tolerance']:g})",
           title="Steps to reach the minimum at the same lr")
    ax.legend(fontsize=8, loc="lower left")
    ax = fig.add_subplot(grid[1, half:])
    for name in names:
        part = a[a.optimizer == name]
        ax.plot(part.lr, part["y reversals"], "o-", color=COLORS.get(name),
                label=LABELS.get(name, name))
    ax.axvline(1 / STEEP, color="k", ls=":", lw=1)
    ax.axvline(2 / STEEP, color="k", ls=":", lw=1)
    ax.set(xscale="log", ylim=(-0.03, 1.05), xlabel="learning rate",
           ylabel="fraction of steps whose y-move reverses\n(on the way in)",
           title="The zig-zag across the narrow valley: GD reverses at every step above 1/200")
    ax.legend(fontsize=8)
    for ax in fig.axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Momentum vs plain GD on f(x, y) = 10x² + 100y² from (-1, 1)", fontsize=14)
    fig.tight_layout()
    return fig
