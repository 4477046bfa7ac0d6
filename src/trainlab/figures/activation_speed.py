"""How fast each activation trains (lectures 000, 001): epochs to a target training loss for
ReLU (He init), tanh and sigmoid (Xavier init), each at its own best learning rate."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band

LR = "optimizer.lr"
ORDER = ("relu", "tanh", "sigmoid")
INIT = {"relu": "He", "tanh": "Xavier", "sigmoid": "Xavier"}


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)[["arm", LR, "seed", "epoch", "train_loss", "train_acc",
                              "val_loss", "val_acc"]].copy()
    return frame.rename(columns={"arm": "activation", LR: "lr"})


def reach(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per activation, lr and seed: the first epoch whose training loss is at or below the
    options' target (NaN: not reached within the budget)."""
    target = float(options["target"])
    rows = []
    for (activation, lr, seed), part in table.groupby(["activation", "lr", "seed"], sort=False):
        hit = part[(part.epoch >= 1) & (part.train_loss <= target)]
        rows.append({"activation": activation, "lr": lr, "seed": seed,
                     "epochs_to_target": float(hit.epoch.min()) if len(hit) else np.nan,
                     "final_train_loss": float(part.train_loss.iloc[-1])})
    return pd.DataFrame(rows)


def per_lr(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Mean epochs to the target over seeds, per activation and lr; inf where a seed never
    reached it."""
    r = reach(table, options)
    out = r.groupby(["activation", "lr"], sort=False).agg(
        epochs_to_target=("epochs_to_target",
                          lambda e: e.mean() if e.notna().all() else np.inf),
        reached=("epochs_to_target", lambda e: int(e.notna().sum())),
        seeds=("seed", "count"), final_train_loss=("final_train_loss", "mean"))
    return out.reset_index()


def best(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Each activation at its best learning rate (fewest epochs to the target; the lowest final
    training loss where none reached it)."""
    p = per_lr(table, options)
    rows = []
    for activation in [a for a in ORDER if a in set(p.activation)]:
        part = p[p.activation == activation].sort_values(["epochs_to_target", "final_train_loss"])
        rows.append(part.iloc[0])
    return pd.DataFrame(rows).reset_index(drop=True)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    b = best(table, options)
    budget = int(table.epoch.max())
    b["epochs_to_target"] = [f"{e:.1f}" if np.isfinite(e) else f"not in {budget}"
                             for e in b.epochs_to_target]
    b.insert(1, "init", b.activation.map(INIT))
    return b.rename(columns={"lr": "best lr", "reached": "seeds reached"})


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    b = best(table, options).set_index("activation")
    target = float(options["target"])
    e = b.epochs_to_target
    fmt = lambda v: f"{v:.1f}" if np.isfinite(v) else "never"  # noqa: E731
    measured = ", ".join(f"{a} {fmt(e[a])} (lr {b.lr[a]:g})" for a in ORDER if a in e)
    p = per_lr(table, options)
    edges = {a: (part.lr.min(), part.lr.max()) for a, part in p.groupby("activation")}
    inside = {a: edges[a][0] < b.lr[a] < edges[a][1] for a in b.index}
    return [
        Check(f"epochs to training loss {target:g}, each at its best lr: relu < tanh < sigmoid",
              # sigmoid may never get there (inf); relu and tanh must
              bool(np.isfinite(e["tanh"]) and e["relu"] < e["tanh"] < e["sigmoid"]),
              measured),
        Check("each activation's best lr lies inside its grid (not its smallest or largest "
              "rate), so that none loses for want of a larger or smaller one",
              bool(inside and all(inside.values())),
              ", ".join(f"{a}: {b.lr[a]:g} in [{edges[a][0]:g}, {edges[a][1]:g}]"
                        + ("" if inside[a] else " (at the edge)") for a in b.index)),
    ]


def draw(table: pd.DataFrame, options: dict):
    b = best(table, options).set_index("activation")
    p = per_lr(table, options)
    target = float(options["target"])
    budget = int(table.epoch.max())
    fig, (ax_loss, ax_lr) = plt.subplots(1, 2, figsize=(13, 5))
    for i, activation in enumerate(a for a in ORDER if a in b.index):
        color = f"C{i}"
        lr = b.lr[activation]
        part = table[(table.activation == activation) & (table.lr == lr) & (table.epoch >= 1)]
        e = b.epochs_to_target[activation]
        reached = f"target at epoch {e:.1f}" if np.isfinite(e) else "target not reached"
        band(ax_loss, part, "epoch", "train_loss", color=color,
             label=f"{activation} ({INIT[activation]} init), lr {lr:g}: {reached}")
        if np.isfinite(e):
            ax_loss.plot(e, target, "o", color=color, ms=7)
        lrs = p[p.activation == activation]
        y = lrs.epochs_to_target.replace(np.inf, np.nan)
        ax_lr.plot(lrs.lr, y, "o-", color=color, label=activation)
        missing = lrs[~np.isfinite(lrs.epochs_to_target)]
        ax_lr.plot(missing.lr, np.full(len(missing), budget + 2 + 1.5 * i), "x", color=color,
                   ms=9, mew=2)
    ax_loss.axhline(target, color="k", ls=":", lw=1.2, label=f"target training loss {target:g}")
    ax_loss.set(yscale="log", xlabel="epoch", ylabel="training loss (cross-entropy)",
                title="Training loss, each activation at its best learning rate\n"
                      "(mean over seeds, band: min-max)")
    ax_loss.legend(fontsize=8.5)
    ax_lr.axhline(budget, color="0.5", ls="--", lw=1)
    ax_lr.text(p.lr.min(), budget + 0.5,
               f"budget: {budget} epochs (x: target not reached)", fontsize=8.5, va="bottom")
    lrs = sorted(set(p.lr))
    ax_lr.set(xscale="log", ylim=(0, budget + 7), xticks=lrs, xticklabels=[f"{v:g}" for v in lrs],
              xlabel="learning rate (SGD, momentum 0.9)",
              ylabel=f"epochs to training loss {target:g} (mean over seeds)",
              title="Epochs to the target vs learning rate")
    ax_lr.xaxis.set_minor_formatter(plt.NullFormatter())
    ax_lr.legend(fontsize=9, loc="lower left")
    for ax in (ax_loss, ax_lr):
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return fig
