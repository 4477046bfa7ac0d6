"""Full-batch GD vs SGD (B = 1) vs mini-batches, for the same epochs: loss against epochs
and against wall time (lecture 004)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band, plain_log_y


def _label(batch) -> str:
    return "full batch (GD)" if str(batch) in ("full", "0") else f"B = {batch}"


def table(runs, options) -> pd.DataFrame:
    frames = []
    for run in runs:
        frame = runs_table([run])
        epochs = run.cfg.epochs
        run_s = run.summary["wall_s"] - run.summary["compile_s"]
        frame["batch"] = _label(run.values["batch_size"])
        frame["steps_per_epoch"] = frame.step.max() / epochs
        frame["wall_s"] = frame.epoch * run_s / epochs  # evenly spread: epochs cost the same
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    return frame[["batch", "steps_per_epoch", "seed", "epoch", "step", "wall_s", "train_loss",
                  "val_loss", "val_acc"]]


def noise(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for batch, part in table.groupby("batch", sort=False):
        curves = part[part.epoch >= 1].pivot(index="epoch", columns="seed",
                                             values="train_loss")
        rough = np.log(curves).diff().diff().std().mean()
        spread = ((curves.max(axis=1) - curves.min(axis=1)) / curves.mean(axis=1)).mean()
        last = curves.iloc[-1]
        rows.append({"batch": batch, "steps per epoch": part.steps_per_epoch.iloc[0],
                     "roughness (std of 2nd diff of log loss)": rough,
                     "final train loss": last.mean(),
                     "spread over seeds (range / mean, per epoch)": spread,
                     "train time (s)": part.wall_s.max(),
                     "final val acc": part[part.epoch == part.epoch.max()].val_acc.mean()})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return noise(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    n = noise(table).set_index("batch")
    rough = n["roughness (std of 2nd diff of log loss)"]
    spread = n["spread over seeds (range / mean, per epoch)"]
    sgd = _label(1)
    return [
        Check("loss recorded per epoch and per second of training for every batch size",
              bool(table.wall_s.notna().all() and (table.groupby("batch").wall_s.max() > 0)
                   .all()), ", ".join(f"{b}: {t:.2f} s" for b, t in
                                      n["train time (s)"].items())),
        Check("B=1 noisiest: roughest loss curve", rough.idxmax() == sgd,
              ", ".join(f"{b}: {v:.3f}" for b, v in rough.items())),
        Check("B=1 noisiest: widest spread over seeds (relative, mean over epochs)",
              spread.idxmax() == sgd,
              ", ".join(f"{b}: {v:.3f}" for b, v in spread.items())),
    ]


def draw(table: pd.DataFrame, options: dict):
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8))
    batches = list(dict.fromkeys(table.batch))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(batches)))
    for color, batch in zip(colors, batches, strict=True):
        part = table[table.batch == batch]
        steps = int(part.steps_per_epoch.iloc[0])
        label = f"{batch} ({steps} step{'s' if steps > 1 else ''}/epoch)"
        band(axes[0], part, "epoch", "train_loss", color=color, label=label)
        mean = part.groupby("epoch")[["wall_s", "train_loss"]].mean()
        axes[1].plot(mean.wall_s, mean.train_loss, "o-", ms=2.5, color=color, label=batch)
    axes[0].set(xlabel="epoch (one pass over the training set)", ylabel="training loss (nats)",
                title="Training loss per epoch (mean, min-max over seeds)")
    axes[1].set(xlabel="wall time of training (s, compile excluded)",
                ylabel="training loss (nats)", title="Training loss against wall time (mean)")
    for ax in axes:
        plain_log_y(ax)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Batch size: full-batch GD, mini-batches and SGD (B = 1), same lr, same "
                 "epochs", fontsize=13)
    fig.tight_layout()
    return fig
