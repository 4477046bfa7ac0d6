"""The gap diagnosis (lectures 001 and 004): a big train/val gap calls for more regularization,
no gap for more capacity. Each arm's curves are read by trainlab doctor's own verdicts."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.doctor import curves
from trainlab.doctor.findings import PASS, WARN
from trainlab.figures.common import Check

LABELS = {"small": "small net 40-4-10", "small_wider": "more capacity: 40-32-10",
          "small_l2": "more regularization: L2 0.01",
          "big": "big net 40-256-256-10", "big_dropout": "more regularization: dropout 0.35",
          "big_l2": "more regularization: L2 0.003"}
COLORS = {"small": "C0", "small_wider": "C2", "small_l2": "C1",
          "big": "C3", "big_dropout": "C2", "big_l2": "C1"}


def table(runs, options) -> pd.DataFrame:
    """Every arm's metrics per (seed, epoch): train and val loss and accuracy."""
    frames = []
    for run in runs:
        frame = run.metrics[["seed", "epoch", "step", "train_loss", "val_loss", "train_acc",
                             "val_acc"]].copy()
        frame.insert(0, "arm", run.arm)
        frame.insert(1, "n_params", run.summary["n_params"])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def finals(table: pd.DataFrame) -> pd.DataFrame:
    """Per arm, the last epoch of the mean curves (doctor's generalization_gap) and the
    doctor's overfitting and underfitting verdicts with their advice."""
    rows = []
    for arm, part in table.groupby("arm", sort=False):
        end = curves.generalization_gap(part).iloc[-1]
        over, under = curves.overfitting(part), curves.underfitting(part)
        rows.append({"arm": arm, "n_params": int(part.n_params.iloc[0]),
                     "train_loss": end.train_loss, "val_loss": end.val_loss,
                     "gap_loss": end.gap_loss, "val_over_train": end.val_loss / end.train_loss,
                     "train_acc": end.train_acc, "val_acc": end.val_acc,
                     "overfitting": over.status, "underfitting": under.status,
                     "advice": over.advice or under.advice})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    f = finals(table)
    f["advice"] = f.advice.str.split(":").str[0]  # the full line is in the doctor's report
    return f


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    f = finals(table).set_index("arm")
    small, wider, small_l2, big = (f.loc[a] for a in ("small", "small_wider", "small_l2",
                                                      "big"))
    o = options
    regularized = f.loc[[a for a in ("big_dropout", "big_l2") if a in f.index]]

    def numbers(row) -> str:
        return (f"train {row.train_loss:.3g} / val {row.val_loss:.3g}, "
                f"val acc {row.val_acc:.1%}")

    no_gap = small.val_loss <= (1 + o["no_gap"]) * small.train_loss
    big_gap = big.val_loss >= o["big_gap"] * big.train_loss
    gap_shrink = regularized.gap_loss <= o["gap_shrink"] * big.gap_loss
    reg_loss = regularized.val_loss <= (1 - o["reg_loss"]) * big.val_loss
    reg_acc = regularized.val_acc >= big.val_acc + o["reg_acc"]
    return [
        Check(f"no gap: the small net's val loss is within {o['no_gap']:.0%} of its train loss, "
              "and trainlab doctor reads its curves as underfitting -> more capacity",
              bool(no_gap and small.underfitting == WARN and small.overfitting == PASS
                   and small.advice.startswith("more capacity")),
              f"{numbers(small)} (gap {small.gap_loss:.3g}); doctor: underfitting "
              f"{small.underfitting}, overfitting {small.overfitting}, advice "
              f"'{small.advice.split(':')[0]}'"),
        Check(f"big gap: the big net's val loss is >= {o['big_gap']:g}x its train loss, and "
              "trainlab doctor reads its curves as overfitting -> more regularization",
              bool(big_gap and big.overfitting == WARN and big.underfitting == PASS
                   and big.advice.startswith("more regularization")),
              f"{numbers(big)} ({big.val_over_train:.0f}x); doctor: overfitting "
              f"{big.overfitting}, underfitting {big.underfitting}, advice "
              f"'{big.advice.split(':')[0]}'"),
        Check(f"more capacity fixes the no-gap net: val loss >= {o['capacity_loss']:.0%} lower "
              f"and val accuracy >= {o['capacity_acc'] * 100:g} points higher",
              bool(wider.val_loss <= (1 - o["capacity_loss"]) * small.val_loss
                   and wider.val_acc >= small.val_acc + o["capacity_acc"]),
              f"wider: {numbers(wider)} vs {numbers(small)}"),
        Check(f"regularizing the no-gap net does not fix it: val accuracy no more than "
              f"{o['wrong_acc'] * 100:g} point higher",
              bool(small_l2.val_acc <= small.val_acc + o["wrong_acc"]),
              f"with L2: {numbers(small_l2)} vs {numbers(small)}"),
        Check(f"more regularization fixes the big gap: each regularizer (dropout, L2) "
              f"shrinks the gap to <= {o['gap_shrink']:.0%} of the big net's, lowers the final "
              f"val loss by >= {o['reg_loss']:.0%} and raises val accuracy by >= "
              f"{o['reg_acc'] * 100:g} points",
              bool(gap_shrink.all() and reg_loss.all() and reg_acc.all()),
              "; ".join(f"{a.split('_')[1]}: gap {r.gap_loss:.3g} vs {big.gap_loss:.3g}, "
                        f"{numbers(r)}" for a, r in regularized.iterrows())
              + f"; big net: {numbers(big)}"),
    ]


def _curves(ax, table: pd.DataFrame, arms: tuple[str, ...], title: str) -> None:
    for i, arm in enumerate(arms):
        gap = curves.generalization_gap(table[table.arm == arm])
        width = 4 if i == 0 else 1.8  # the diagnosed net wide, so a remedy on top of it shows
        ax.plot(gap.epoch, gap.train_loss, color=COLORS[arm], lw=width, ls="--")
        ax.plot(gap.epoch, gap.val_loss, color=COLORS[arm], lw=width,
                label=f"{LABELS[arm]}: val {gap.val_loss.iloc[-1]:.2f}, train "
                      f"{gap.train_loss.iloc[-1]:.2f}")
    ax.plot([], [], color="k", lw=2, label="solid: validation loss")
    ax.plot([], [], color="k", lw=2, ls="--", label="dashed: training loss")
    ax.set(xlabel="epoch", ylabel="loss (cross-entropy, nats; mean of the seeds)", title=title,
           ylim=(0, None))
    ax.legend(fontsize=8, loc="upper right")


def draw(table: pd.DataFrame, options: dict):
    f = finals(table).set_index("arm")
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.4), gridspec_kw={"width_ratios": [1, 1, 0.9]})
    small, big = f.loc["small"], f.loc["big"]
    _curves(axes[0], table, ("small", "small_wider", "small_l2"),
            f"No gap (val/train {small.val_over_train:.2f}): doctor says "
            f"{'underfitting' if small.underfitting == WARN else 'no underfitting'}\n"
            "-> more capacity helps, more regularization does not")
    _curves(axes[1], table, tuple(a for a in ("big", "big_dropout", "big_l2") if a in f.index),
            f"Big gap (val/train {big.val_over_train:.0f}x): doctor says "
            f"{'overfitting' if big.overfitting == WARN else 'no overfitting'}\n"
            "-> more regularization narrows it and lowers the val loss")
    top = max(a.get_ylim()[1] for a in axes[:2])
    for ax in axes[:2]:
        ax.set_ylim(0, min(top, 3.4))

    ax = axes[2]
    arms = [a for a in LABELS if a in f.index]
    y = np.arange(len(arms))[::-1]
    ax.barh(y + 0.18, [f.loc[a].train_acc for a in arms], height=0.36, color="0.75",
            label="train accuracy")
    ax.barh(y - 0.18, [f.loc[a].val_acc for a in arms], height=0.36,
            color=[COLORS[a] for a in arms], label="validation accuracy")
    for yi, arm in zip(y, arms, strict=True):
        ax.text(f.loc[arm].val_acc + 0.01, yi - 0.18, f"{f.loc[arm].val_acc:.1%}", va="center",
                fontsize=8)
    ax.set(yticks=y, yticklabels=[LABELS[a].replace(": ", ":\n") for a in arms], xlim=(0, 1.1),
           xlabel="accuracy after the last epoch (mean of the seeds)",
           title="The gap in accuracy: train (grey) vs validation")
    ax.legend(fontsize=8, loc="upper right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Read the gap: no gap -> more capacity, big gap -> more regularization "
                 "(MNIST-1D, Adam, 40 epochs)", fontsize=13)
    fig.tight_layout()
    return fig
