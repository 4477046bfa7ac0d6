"""Batch and layer normalization (lectures 001, 003, 004): higher learning rates, less care
for the init scale, and what small batches do to BatchNorm but not to LayerNorm."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.config import batch_size_of
from trainlab.figures.common import Check

NORMS = ("none", "batchnorm", "layernorm")
NAMES = {"none": "no normalization", "batchnorm": "BatchNorm", "layernorm": "LayerNorm"}
COLORS = {"none": "C7", "batchnorm": "C0", "layernorm": "C1"}


def table(runs, options) -> pd.DataFrame:
    """One row per run and seed: where it sits in its sweep and how it ended."""
    rows = []
    for run in runs:
        cfg = run.cfg
        last = run.metrics[run.metrics.epoch == run.metrics.epoch.max()]
        per_seed = run.summary.get("per_seed", [run.summary])
        for seed, summary in zip(run.summary["seeds"], per_seed, strict=True):
            end = last[last.seed == seed].iloc[0]
            rows.append({
                "sweep": run.arm.split("_", 1)[0], "arm": run.arm,
                "normalization": cfg.normalization.name, "lr": cfg.optimizer.lr,
                "gain": cfg.init.gain, "batch_size": batch_size_of(cfg.batch_size),
                "seed": seed, "status": summary["status"],
                "final_train_loss": end.train_loss, "final_val_acc": end.val_acc,
                "val_error": 1 - end.val_acc if np.isfinite(end.val_acc) else np.nan,
            })
    return pd.DataFrame(rows)


def _outcome(part: pd.DataFrame, trains: float, stalls: float) -> str:
    """diverged (a seed's loss went non-finite) | stalled | trains | poor."""
    if (part.status == "diverged").any() or not np.isfinite(part.final_train_loss).all():
        return "diverged"
    if (part.final_train_loss >= stalls).any():
        return "stalled"
    return "trains" if (part.final_val_acc >= trains).all() else "poor"


def sweep(table: pd.DataFrame, name: str, key: str, options: dict) -> pd.DataFrame:
    """One sweep's points per normalization and value: mean over seeds, and the outcome
    (options' ``trains`` and ``stalls`` say which)."""
    trains, stalls = float(options["trains"]), float(options["stalls"])
    rows = []
    for (norm, value), part in table[table.sweep == name].groupby(["normalization", key],
                                                                  sort=False):
        rows.append({"normalization": norm, key: value,
                     "final_train_loss": part.final_train_loss.mean(),
                     "val_error": part.val_error.mean(), "val_error_min": part.val_error.min(),
                     "val_error_max": part.val_error.max(),
                     "outcome": _outcome(part, trains, stalls), "seeds": len(part)})
    return pd.DataFrame(rows)


def batch_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Per normalization and batch size: the validation error at the best lr."""
    b = table[table.sweep == "batch"]
    rows = []
    for (norm, size), part in b.groupby(["normalization", "batch_size"]):
        by_lr = part.groupby("lr").val_error.mean()
        lr = by_lr.idxmin() if by_lr.notna().any() else np.nan
        best = part[part.lr == lr]
        rows.append({"normalization": norm, "batch_size": size, "best_lr": lr,
                     "val_error": best.val_error.mean(), "val_error_min": best.val_error.min(),
                     "val_error_max": best.val_error.max()})
    return pd.DataFrame(rows)


def _large_lr(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    s = sweep(table, "lr", "lr", options).pivot(index="lr", columns="normalization",
                                                values="outcome")
    return s[(s["none"].isin(["diverged", "stalled"])) & (s["batchnorm"] == "trains")]


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    rows = []
    for name, key in (("lr", "lr"), ("gain", "gain")):
        s = sweep(table, name, key, options)
        for value, part in s.groupby(key):
            row = {"sweep": f"{key} = {value:g}"}
            for _, r in part.iterrows():
                row[NAMES[r.normalization]] = (f"{r.val_error:.0%} err" if r.outcome != "diverged"
                                               else "diverged") + (
                    f" ({r.outcome})" if r.outcome not in ("trains", "diverged") else "")
            rows.append(row)
    for size, part in batch_sizes(table).groupby("batch_size"):
        row = {"sweep": f"batch = {size} (best lr)"}
        for _, r in part.iterrows():
            row[NAMES[r.normalization]] = f"{r.val_error:.0%} err (lr {r.best_lr:g})"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    lr = sweep(table, "lr", "lr", options)
    ok = _large_lr(table, options)
    outcomes = lr.pivot(index="lr", columns="normalization", values="outcome")
    checks = [Check(
        "at a large lr the plain MLP diverges or stalls where BatchNorm trains",
        bool(len(ok) > 0),
        (", ".join(f"lr {v:g}: none {ok.loc[v, 'none']}, BN trains" for v in ok.index)
         if len(ok) else "no such lr: " + ", ".join(
             f"lr {v:g}: none {outcomes.loc[v, 'none']}, BN {outcomes.loc[v, 'batchnorm']}"
             for v in outcomes.index)))]
    b = batch_sizes(table).pivot(index="batch_size", columns="normalization",
                                 values="val_error")
    sizes = sorted(b.index)
    large, small = sizes[-1], [s for s in sizes if s <= 4]
    grows, flat = float(options["grows"]), float(options["flat"])
    if small and "batchnorm" in b:
        checks.append(Check(
            f"BatchNorm's validation error grows as the batch shrinks to 2-4 (by >= "
            f"{grows:.0%} over batch {large})",
            bool(all(b.batchnorm[s] >= b.batchnorm[large] + grows for s in small)),
            ", ".join(f"batch {s}: {b.batchnorm[s]:.1%}" for s in sizes)))
    if small and "layernorm" in b:
        checks.append(Check(
            f"LayerNorm's does not (at most {flat:.0%} over batch {large})",
            bool(all(b.layernorm[s] <= b.layernorm[large] + flat for s in small)),
            ", ".join(f"batch {s}: {b.layernorm[s]:.1%}" for s in sizes)))
    return checks


def _top(ax) -> float:
    return ax.get_ylim()[1]


def draw(table: pd.DataFrame, options: dict):
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    (ax_loss, ax_err), (ax_gain, ax_batch) = axes
    lr = sweep(table, "lr", "lr", options)
    gain = sweep(table, "gain", "gain", options)
    chance = 0.9
    for norm in NORMS:
        color = COLORS[norm]
        part = lr[lr.normalization == norm]
        if not len(part):
            continue
        finite = part[part.outcome != "diverged"]
        ax_loss.plot(finite.lr, finite.final_train_loss, "o-", color=color, label=NAMES[norm])
        ax_err.plot(finite.lr, finite.val_error, "o-", color=color, label=NAMES[norm])
        ax_err.fill_between(finite.lr, finite.val_error_min, finite.val_error_max,
                            color=color, alpha=0.15, lw=0)
        bad = part[part.outcome == "diverged"]
        for ax, y in ((ax_loss, 12.0), (ax_err, 1.02)):
            ax.plot(bad.lr, np.full(len(bad), y), "X", color=color, ms=11, mec="k", mew=0.6,
                    label=f"{NAMES[norm]}: diverged" if len(bad) else None)
        g = gain[gain.normalization == norm]
        g_ok = g[g.outcome != "diverged"]
        ax_gain.plot(g_ok.gain, g_ok.val_error, "o-", color=color, label=NAMES[norm])
        ax_gain.fill_between(g_ok.gain, g_ok.val_error_min, g_ok.val_error_max, color=color,
                             alpha=0.15, lw=0)
        g_bad = g[g.outcome == "diverged"]
        ax_gain.plot(g_bad.gain, np.full(len(g_bad), 1.02), "X", color=color, ms=11, mec="k",
                     mew=0.6, label=f"{NAMES[norm]}: diverged" if len(g_bad) else None)
    stalls = float(options["stalls"])
    ax_loss.axhline(math.log(10), color="k", ls=":", lw=1, label="ln 10: chance-level loss")
    ax_loss.axhspan(stalls, 14, color="0.85", alpha=0.5, lw=0,
                    label=f"stalled (>= {stalls:g}) or diverged (X)")
    ax_loss.set(xscale="log", yscale="log", ylim=(None, 14),
                xlabel="learning rate (plain SGD, batch 32; log)",
                ylabel="final training loss (log)",
                title="Training loss after the budget vs learning rate")
    ax_err.axhline(chance, color="k", ls=":", lw=1, label="chance (90% error)")
    ax_err.set(xscale="log", ylim=(0, 1.06), xlabel="learning rate (plain SGD, batch 32; log)",
               ylabel="final validation error", title="Validation error vs learning rate")
    ax_gain.axhline(chance, color="k", ls=":", lw=1, label="chance (90% error)")
    ax_gain.set(xscale="log", ylim=(0, 1.06),
                xlabel="init scale: init.gain x He init (lr 0.1, batch 32; log)",
                ylabel="final validation error",
                title="Validation error vs init scale")
    b = batch_sizes(table)
    for norm in NORMS:
        part = b[b.normalization == norm].sort_values("batch_size")
        if not len(part):
            continue
        ax_batch.plot(part.batch_size, part.val_error, "o-", color=COLORS[norm], lw=2,
                      label=f"{NAMES[norm]} (each batch size at its best lr)")
        ax_batch.fill_between(part.batch_size, part.val_error_min, part.val_error_max,
                              color=COLORS[norm], alpha=0.15, lw=0)
        for _, r in part.iterrows():
            ax_batch.annotate(f"lr {r.best_lr:g}", (r.batch_size, r.val_error), fontsize=8,
                              textcoords="offset points", xytext=(5, 6), color=COLORS[norm])
    ax_batch.axhline(chance, color="k", ls=":", lw=1, label="chance (90% error)")
    sizes = sorted(set(b.batch_size))
    ax_batch.set(xscale="log", xticks=sizes, xticklabels=[str(s) for s in sizes],
                 ylim=(0, 1.06), xlabel="batch size (log)", ylabel="final validation error",
                 title="Small batches: BatchNorm's statistics fail, LayerNorm's do not")
    ax_batch.xaxis.set_minor_formatter(plt.NullFormatter())
    for ax, values in ((ax_loss, lr.lr), (ax_err, lr.lr), (ax_gain, gain.gain)):
        ticks = sorted(set(values))
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    for ax in axes.flat:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Normalization: MLP 40-100-100-100-10 (ReLU, He) on 1000 MNIST-1D samples, "
                 "plain SGD (mean over seeds, band: min-max)", fontsize=12)
    fig.tight_layout()
    return fig
