"""The lecture's 11-line two-layer sigmoid network on XOR, as a trainlab run (lecture 001)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, predict, runs_table
from trainlab.figures.plots import band

INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
TARGETS = np.array([0, 1, 1, 0])
COLUMNS = [f"out({a},{b})" for a, b in INPUTS.astype(int)]


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)[["seed", "epoch", "train_loss", "train_acc"]].copy()
    last = frame.epoch == frame.epoch.max()
    for run in runs:  # one run per seed: each stores its own params
        out = predict(run, INPUTS)[:, 0]
        row = last & (frame.seed == run.cfg.seed)
        for column, value in zip(COLUMNS, out, strict=True):
            frame.loc[row, column] = value
    return frame


def finals(table: pd.DataFrame) -> pd.DataFrame:
    last = table[table.epoch == table.epoch.max()]
    return last.drop(columns="epoch").reset_index(drop=True)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return finals(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    f = finals(table)
    near = float(options["near_zero"])
    start = table[table.epoch == 0].train_loss.mean()
    outs = f[COLUMNS].to_numpy(float)
    return [
        Check(f"loss falls to near 0 (below {near:g}) for every seed",
              bool((f.train_loss < near).all()),
              f"from {start:.3f} to " + ", ".join(f"{v:.1e}" for v in f.train_loss)),
        Check("all four outputs correct (train accuracy 100%, every seed)",
              bool((f.train_acc == 1).all()), ", ".join(f"{a:.0%}" for a in f.train_acc)),
        Check("the stored nets' outputs on the four inputs on the right side of 0.5",
              bool(((outs > 0.5) == TARGETS.astype(bool)).all()),
              ", ".join(f"{c} in [{lo:.3f}, {hi:.3f}]" for c, lo, hi
                        in zip(COLUMNS, outs.min(0), outs.max(0), strict=True))),
    ]


def draw(table: pd.DataFrame, options: dict):
    fig, (ax_loss, ax_out) = plt.subplots(1, 2, figsize=(12, 4.6),
                                          gridspec_kw={"width_ratios": [1.6, 1]})
    curves = table[table.epoch >= 1]
    for _, part in curves.groupby("seed"):
        ax_loss.plot(part.epoch, part.train_loss, lw=1, alpha=0.5, color="C0")
    band(ax_loss, curves, "epoch", "train_loss", color="C3", lw=2,
         label="mean over seeds (band: min-max)")
    ax_loss.axhline(options["near_zero"], color="k", ls=":", lw=1, label="'near 0'")
    ax_loss.plot([], [], color="C0", alpha=0.5, label="each seed")
    ax_loss.set(xscale="log", yscale="log", xlabel="GD step (full batch = 1 step per epoch)",
                ylabel="mean squared error", title="Training loss of the 2-4-1 sigmoid net")
    ax_loss.legend()
    f = finals(table)
    x = np.arange(4)
    ax_out.bar(x - 0.2, TARGETS, 0.4, color="0.7", label="target y")
    ax_out.bar(x + 0.2, f[COLUMNS].mean(), 0.4, color="C2", label="output, mean over seeds")
    for _, row in f.iterrows():
        ax_out.plot(x + 0.2, row[COLUMNS].to_numpy(float), "k.", ms=5)
    ax_out.plot([], [], "k.", label="each seed")
    ax_out.axhline(0.5, color="k", ls=":", lw=1, label="decision threshold")
    ax_out.set(xticks=x, xticklabels=[f"x = ({a}, {b})" for a, b in INPUTS.astype(int)],
               ylim=(0, 1.35), ylabel="output", title="The four XOR outputs after training")
    ax_out.legend(fontsize=8, loc="upper center", ncol=2)
    for ax in (ax_loss, ax_out):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
