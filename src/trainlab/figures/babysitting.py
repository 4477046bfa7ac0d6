"""Babysitting the learning process (lecture 001): the sanity checks before a long run."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band

LN10 = math.log(10)
LR = "optimizer.lr"
KAPPA = "regularizer.kappa"


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)
    for key in (LR, KAPPA):
        if key not in frame:
            frame[key] = np.nan
    # the initial-loss arm, split by kappa: no_reg (kappa = 0) and with_reg
    initial = frame.arm == "initial"
    frame.loc[initial, "arm"] = np.where(frame.loc[initial, KAPPA] > 0, "with_reg", "no_reg")
    keep = ["arm", KAPPA, LR, "seed", "epoch", "train_loss", "train_objective", "train_acc",
            "val_loss", "val_acc"]
    return frame[keep]


def sanity(table: pd.DataFrame) -> pd.DataFrame:
    """The three checks' numbers, mean over seeds."""
    start = table[table.epoch == 0].groupby("arm")[["train_loss", "train_objective"]].mean()
    rows = []
    for arm in ("no_reg", "with_reg"):
        if arm in start.index:
            rows.append({"check": f"initial loss, {arm.replace('_', ' ')}",
                         "value": start.loc[arm, "train_objective"],
                         "reference": LN10, "unit": "nats (ln 10 = 2.303)"})
    fit = table[table.arm == "overfit_20"]
    if len(fit):
        last = fit[fit.epoch == fit.epoch.max()]
        rows.append({"check": "20 samples: final train accuracy",
                     "value": last.train_acc.min(), "reference": 1.0, "unit": "fraction"})
        rows.append({"check": "20 samples: final train loss", "value": last.train_loss.mean(),
                     "reference": 0.0, "unit": "nats"})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return sanity(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    start = table[table.epoch == 0].groupby("arm").train_objective.mean()
    fit = table[table.arm == "overfit_20"]
    last = fit[fit.epoch == fit.epoch.max()]
    first_full = fit.groupby("seed").apply(
        lambda p: p.epoch[p.train_acc >= 1].min(), include_groups=False)
    return [
        Check("initial loss (no regularization) within 0.1 of ln(10)",
              abs(start["no_reg"] - LN10) < 0.1,
              f"{start['no_reg']:.4f} vs ln 10 = {LN10:.4f}"),
        Check("with regularization the initial loss is higher",
              start["with_reg"] > start["no_reg"],
              f"{start['with_reg']:.4f} > {start['no_reg']:.4f}"),
        Check("20 samples reach 100% train accuracy (every seed)",
              bool(len(last) and (last.train_acc >= 1).all()),
              f"final accuracy {', '.join(f'{a:.0%}' for a in last.train_acc)}; first at "
              f"epoch {', '.join(str(int(e)) for e in first_full)}"),
    ]


def draw(table: pd.DataFrame, options: dict):
    has_search = (table.arm == "lr_search").any()
    fig, axes = plt.subplots(1, 3 if has_search else 2, figsize=(15 if has_search else 10, 4.4))
    ax = axes[0]
    start = table[table.epoch == 0].groupby("arm")
    names = [a for a in ("no_reg", "with_reg") if a in start.groups]
    loss = start.train_loss.mean()[names]
    penalty = start.train_objective.mean()[names] - loss
    x = np.arange(len(names))
    ax.bar(x, loss, 0.5, color="C0", label="data loss (cross-entropy)")
    ax.bar(x, penalty, 0.5, bottom=loss, color="C1", label="L2 penalty (kappa/2 ||W||²)")
    ax.axhline(LN10, color="k", ls="--", lw=1, label="ln 10 (uniform over 10 classes)")
    kappas = table[table.arm == "with_reg"][KAPPA].unique()
    ax.set(xticks=x, xticklabels=["no regularization",
                                  f"L2, kappa = {kappas[0]:g}" if len(kappas) else "L2"],
           ylabel="loss at initialization (nats)", title="1-2. Initial loss",
           ylim=(0, 1.35 * (loss + penalty).max()))
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[1]
    fit = table[table.arm == "overfit_20"]
    band(ax, fit, "epoch", "train_loss", color="C0", label="train loss")
    ax.set(yscale="log", xlabel="epoch (full batch: 1 step)", ylabel="train loss (nats)",
           title="3. Overfit 20 training samples")
    twin = ax.twinx()
    band(twin, fit, "epoch", "train_acc", color="C2", label="train accuracy")
    twin.set(ylabel="train accuracy", ylim=(0, 1.05))
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="center right")
    if has_search:
        ax = axes[2]
        search = table[table.arm == "lr_search"]
        top = 1.5 * LN10
        for i, (lr, part) in enumerate(search.groupby(LR)):
            peak = part.train_loss.max()
            exploded = not np.isfinite(part.train_loss).all() or peak > top
            label = f"lr {lr:g}" + (f": exploded (max {peak:.0e}), then NaN" if exploded else "")
            band(ax, part, "epoch", "train_loss", color=f"C{i}", label=label)
        ax.set(ylim=(0, top), xlabel="epoch", ylabel="train loss (nats)",
               title="4. Find an lr that makes the loss go down (SGD)")
        ax.legend(fontsize=8, loc="lower left")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Babysitting the learning process: MNIST-1D, 1 hidden layer of 50 ReLU units, "
                 "weights N(0, 0.01²)", fontsize=13)
    fig.tight_layout()
    return fig
