"""Input preprocessing: raw features against centered and standardized ones, trained at the
same learning rates (lectures 001 and 004)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band, plain_log_y

LR = "optimizer.lr"
COLORS = {"raw": "C3", "centered": "C1", "standardized": "C0"}


def table(runs, options) -> pd.DataFrame:
    # the swept lr replaces the recorded one (the same number: constant schedule)
    frame = runs_table(runs).drop(columns="lr").rename(columns={"arm": "inputs", LR: "lr"})
    return frame[["inputs", "lr", "seed", "epoch", "train_loss", "val_loss", "val_acc"]]


def speed(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per inputs and lr: epochs until the mean training loss over seeds falls below the
    options' target (inf: not within the run), and the final losses."""
    target = float(options["target"])
    rows = []
    for (inputs, lr), part in table.groupby(["inputs", "lr"], sort=False):
        mean = part.groupby("epoch").train_loss.mean()
        below = mean.index[mean < target]
        rows.append({"inputs": inputs, "lr": lr,
                     f"epochs to loss < {target:g}": float(below[0]) if len(below) else np.inf,
                     "final train loss": mean.iloc[-1],
                     "final val acc": part[part.epoch == part.epoch.max()].val_acc.mean()})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return speed(table, options)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    s = speed(table, options)
    col = s.columns[2]
    raw = s[s.inputs == "raw"].set_index("lr")[col]
    std = s[s.inputs == "standardized"].set_index("lr")[col]
    lrs = [lr for lr in raw.index if np.isfinite(raw[lr]) or np.isfinite(std[lr])]
    faster = [lr for lr in lrs if std[lr] < raw[lr]]
    fmt = lambda v: f"{v:.0f}" if np.isfinite(v) else "never"  # noqa: E731
    return [Check(
        f"standardized trains faster at the same lr (fewer epochs to {col.split('to ')[1]}, "
        "at every lr where either gets there)",
        len(lrs) > 0 and len(faster) == len(lrs),
        ", ".join(f"lr {lr:g}: {fmt(std[lr])} vs {fmt(raw[lr])} epochs" for lr in raw.index))]


def draw(table: pd.DataFrame, options: dict):
    shown = sorted(table[table.lr.isin(options["show_lr"])].lr.unique())
    fig, axes = plt.subplots(1, len(shown) + 1, figsize=(5.2 * (len(shown) + 1), 4.4))
    target = float(options["target"])
    for ax, lr in zip(axes, shown, strict=False):
        for inputs, part in table[table.lr == lr].groupby("inputs", sort=False):
            band(ax, part, "epoch", "train_loss", color=COLORS.get(inputs), label=inputs)
        ax.axhline(target, color="k", ls=":", lw=1, label="target")
        ax.set(xlabel="epoch (full-batch GD)", ylabel="training loss (nats)",
               title=f"Same lr = {lr:g}")
        plain_log_y(ax)
        ax.legend(fontsize=8)
    ax = axes[-1]
    s = speed(table, options)
    col = s.columns[2]
    top = table.epoch.max() + 1
    for inputs, part in s.groupby("inputs", sort=False):
        y = part[col].replace(np.inf, top)
        ax.plot(part.lr, y, "o-", color=COLORS.get(inputs), label=inputs)
    ax.axhline(top, color="0.5", ls="--", lw=1)
    ax.text(s.lr.min(), top, " not reached", va="bottom", fontsize=8, color="0.4")
    ax.set(xscale="log", xlabel="learning rate (same for all inputs)",
           ylabel=f"epochs to training loss < {target:g}", ylim=(0, top * 1.12),
           title="Epochs to reach the target")
    ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Digits 8x8: raw pixel intensities vs centered vs standardized inputs "
                 "(MLP 64-64-10, mean and min-max over seeds)", fontsize=13)
    fig.tight_layout()
    return fig
