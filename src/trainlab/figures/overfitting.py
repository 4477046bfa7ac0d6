"""Overfitting and early stopping (lectures 000, 003, 004): a large MLP on 300 samples, train
vs validation loss over 1000 full-batch epochs, and what early stopping gives back."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.data import load_dataset
from trainlab.figures import common
from trainlab.figures.common import Check, predict, runs_table
from trainlab.figures.plots import band


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def _returned(run) -> dict:
    """Early stopping's returned net (the stored final params: the best epoch's, restored),
    scored again on the validation split, for the run's first seed."""
    data = load_dataset(run.cfg.data, run.cfg.dtype)
    logits = predict(run, data.x_val, "final")
    return {"returned_val_loss": _cross_entropy(logits, data.y_val),
            "returned_val_acc": float((logits.argmax(-1) == data.y_val).mean())}


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)[["arm", "seed", "epoch", "step", "train_loss", "train_acc",
                              "val_loss", "val_acc"]].copy()
    for run in runs:
        for seed, summary in common.seed_summaries(run):
            rows = (frame.arm == run.arm) & (frame.seed == seed)
            frame.loc[rows, "best_epoch"] = summary["best_epoch"]
            frame.loc[rows, "status"] = summary["status"]
            frame.loc[rows, "test_acc"] = summary["test_acc"]
        if run.cfg.early_stopping.enabled:
            rows = (frame.arm == run.arm) & (frame.seed == run.cfg.seed)
            for key, value in _returned(run).items():
                frame.loc[rows, key] = value
            frame.loc[frame.arm == run.arm, "patience"] = run.cfg.early_stopping.patience
    return frame


def _stop_epoch(part: pd.DataFrame) -> int:
    """The last epoch that trained (a stopped trial's step count stops growing)."""
    return int(part.epoch[part.step == part.step.max()].min())


def per_seed(table: pd.DataFrame) -> pd.DataFrame:
    """The overfitting numbers of each seed of the long run, and early stopping's."""
    rows = []
    long = table[table.arm == "no_stopping"]
    stopping = table[table.arm == "early_stopping"]
    for seed, part in long.groupby("seed"):
        part = part.set_index("epoch")
        best = int(part.val_loss.idxmin())
        last = int(part.index.max())
        row = {
            "seed": seed, "val_min_epoch": best, "val_loss_min": part.val_loss[best],
            "val_loss_final": part.val_loss[last],
            "val_ratio": part.val_loss[last] / part.val_loss[best],
            "train_loss_at_min": part.train_loss[best], "train_loss_final": part.train_loss[last],
            "val_acc_at_min": part.val_acc[best], "val_acc_final": part.val_acc[last],
            "val_acc_max_epoch": int(part.val_acc.idxmax()),
            "test_acc_final": part.test_acc.iloc[0], "epochs": last,
        }
        es = stopping[stopping.seed == seed]
        if len(es):
            row |= {"es_best_epoch": int(es.best_epoch.iloc[0]), "es_stop_epoch": _stop_epoch(es),
                    "es_status": es.status.iloc[0], "es_test_acc": es.test_acc.iloc[0],
                    "long_val_loss_at_es_best": part.val_loss[int(es.best_epoch.iloc[0])]}
            if es.returned_val_loss.notna().any():
                row |= {"es_returned_val_loss": es.returned_val_loss.iloc[0],
                        "es_returned_val_acc": es.returned_val_acc.iloc[0]}
        rows.append(row)
    return pd.DataFrame(rows)


BRIEF = {"seed": "seed", "val_min_epoch": "val min at", "val_loss_min": "val loss min",
         "val_loss_final": "val loss end", "val_ratio": "end/min",
         "train_loss_at_min": "train loss at min", "train_loss_final": "train loss end",
         "val_acc_at_min": "val acc at min", "val_acc_final": "val acc end",
         "es_best_epoch": "ES best", "es_stop_epoch": "ES stop",
         "es_returned_val_loss": "ES net val loss", "test_acc_final": "test acc end",
         "es_test_acc": "test acc ES"}


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    s = per_seed(table)
    return s[[c for c in BRIEF if c in s]].rename(columns=BRIEF)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    s = per_seed(table)
    ratio = float(options["ratio"])
    epochs = int(s.epochs.iloc[0])
    checks = [
        Check("validation loss has an interior minimum (every seed)",
              bool(((s.val_min_epoch > 0) & (s.val_min_epoch < epochs)).all()),
              "at epochs " + ", ".join(str(e) for e in s.val_min_epoch) + f" of {epochs}"),
        Check(f"validation loss ends >= {ratio:g}x above its minimum (every seed)",
              bool((s.val_ratio >= ratio).all()),
              ", ".join(f"{r:.2f}x" for r in s.val_ratio)),
        Check("training loss keeps falling: final < 1/10 of its value at the validation minimum",
              bool((s.train_loss_final < 0.1 * s.train_loss_at_min).all()),
              ", ".join(f"{a:.3f} -> {b:.1e}" for a, b in
                        zip(s.train_loss_at_min, s.train_loss_final, strict=True))),
    ]
    if "es_best_epoch" in s:
        checks.append(Check(
            "early stopping stops, at the long run's best validation epoch + patience",
            bool(((s.es_status == "stopped_early")
                  & (s.es_best_epoch == s.val_min_epoch)).all()),
            ", ".join(f"best {b}, stopped {e}" for b, e in
                      zip(s.es_best_epoch, s.es_stop_epoch, strict=True))))
    if "es_returned_val_loss" in s:
        first = s.dropna(subset=["es_returned_val_loss"]).iloc[0]
        rel = abs(first.es_returned_val_loss - first.val_loss_min) / first.val_loss_min
        checks.append(Check(
            "early stopping returns the best epoch's params: the stored net, scored again, "
            "has the minimum validation loss (first seed)",
            bool(rel < 1e-4),
            f"{first.es_returned_val_loss:.5f} vs minimum {first.val_loss_min:.5f} "
            f"(epoch {int(first.val_min_epoch)}); the long run ends at {first.val_loss_final:.3f}"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    s = per_seed(table)
    fig, (ax_loss, ax_val, ax_acc) = plt.subplots(1, 3, figsize=(18, 5.8))
    long = table[(table.arm == "no_stopping") & (table.epoch >= 1)]
    band(ax_loss, long, "epoch", "train_loss", color="C0", label="training loss (300 samples)")
    band(ax_loss, long, "epoch", "val_loss", color="C3", label="validation loss (800 samples)")
    band(ax_val, long, "epoch", "val_loss", color="C3", label="validation loss")
    band(ax_acc, long, "epoch", "train_acc", color="C0", label="training accuracy")
    band(ax_acc, long, "epoch", "val_acc", color="C3", label="validation accuracy")
    best = int(round(s.val_min_epoch.median()))
    ratio = float(options["ratio"])
    shared = []  # the markers every panel has: one legend under the figure
    for ax in (ax_loss, ax_val, ax_acc):
        line = ax.axvline(best, color="k", ls="--", lw=1.2)
    shared.append((line, f"validation-loss minimum (epoch {best}, median over seeds)"))
    line = ax_val.axhline(ratio * s.val_loss_min.mean(), color="0.4", ls="-.", lw=1)
    shared.append((line, f"{ratio:g}x the minimum validation loss"))
    if "es_stop_epoch" in s:
        stop = int(round(s.es_stop_epoch.median()))
        patience = int(table.patience.dropna().iloc[0])
        for ax in (ax_loss, ax_val, ax_acc):
            line = ax.axvline(stop, color="C2", ls=":", lw=1.5)
        shared.append((line, f"early stopping halts (patience {patience}, epoch {stop}) and "
                             "returns the best epoch's params"))
        if "es_returned_val_loss" in s:
            first = s.dropna(subset=["es_returned_val_loss"]).iloc[0]
            for ax in (ax_loss, ax_val):
                (star,) = ax.plot(first.es_best_epoch, first.es_returned_val_loss, "*",
                                  color="C2", ms=14)
            shared.append((star, "the returned net's validation loss (seed 0, scored again)"))
    ax_loss.set(xscale="log", yscale="log", xlabel="epoch (full batch: 1 Adam step each)",
                ylabel="cross-entropy loss", title="Training loss keeps falling")
    ax_loss.legend(fontsize=9, loc="lower left")
    ax_val.set(xscale="log", xlabel="epoch", ylabel="validation cross-entropy loss",
               title=f"Validation loss: interior minimum, ends {s.val_ratio.mean():.1f}x above it")
    ax_val.legend(fontsize=9, loc="upper left")
    acc_at_min, acc_final = s.val_acc_at_min.mean(), s.val_acc_final.mean()
    note = (f"validation accuracy: {acc_at_min:.1%} at the\n"
            f"loss minimum, {acc_final:.1%} at the end,\n"
            f"while the loss rose {s.val_ratio.mean():.1f}x: the net\ngrows over-confident on "
            "what it\ngets wrong; the loss sees it,\nthe accuracy does not")
    if "es_test_acc" in s:
        note += (f"\n\ntest accuracy: early-stopped net\n{s.es_test_acc.mean():.1%}, "
                 f"last epoch's net {s.test_acc_final.mean():.1%}")
    ax_acc.text(0.97, 0.6, note, transform=ax_acc.transAxes, ha="right", va="center",
                fontsize=8.5, bbox={"facecolor": "white", "alpha": 0.9, "edgecolor": "0.7"})
    ax_acc.set(xscale="log", xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
               title="Accuracy: validation accuracy need not fall")
    ax_acc.legend(fontsize=9, loc="upper left")
    for ax in (ax_loss, ax_val, ax_acc):
        ax.grid(alpha=0.3, which="both")
    fig.legend(*zip(*shared, strict=True), loc="lower center", ncol=2, fontsize=9,
               frameon=False)
    fig.suptitle("Overfitting: MLP 40-256-256-10 on 300 MNIST-1D samples, full-batch Adam "
                 "(mean over seeds, band: min-max)", fontsize=12)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig
