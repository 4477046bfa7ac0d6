"""Batch and layer normalization (lectures 001, 003, 004): higher learning rates, less care
for the init scale, and what small batches do to BatchNorm but not to LayerNorm."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.config import batch_size_of
from trainlab.figures import common
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
        for seed, summary in common.seed_summaries(run):
            end = last[last.seed == seed].iloc[0]
            rows.append({
                "sweep": run.arm.split("_", 1)[0], "arm": run.arm,
                "normalization": cfg.normalization.name, "lr": cfg.optimizer.lr,
                "gain": cfg.init.gain, "batch_size": batch_size_of(cfg.batch_size),
                "seed": seed, "status": summary["status"],
                "epochs": cfg.epochs,
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


def _inside(values, value) -> bool:
    return bool(min(values) < value < max(values))


def learning_rates(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per normalization, over the lr sweep (batch 32): the best lr (lowest mean final
    training loss, eval mode; a diverged lr counts as infinite), whether it lies inside the
    grid, its loss and validation error, and the largest lr that still trains."""
    s = sweep(table, "lr", "lr", options)
    rows = []
    for norm, part in s.groupby("normalization", sort=False):
        loss = part.final_train_loss.where(part.outcome != "diverged").fillna(np.inf)
        pick = part.loc[loss.idxmin()]
        trains = part[part.outcome == "trains"].lr
        rows.append({"normalization": norm, "best_lr": pick.lr,
                     "inside": _inside(part.lr, pick.lr),
                     "final_train_loss": pick.final_train_loss, "val_error": pick.val_error,
                     "largest_lr_that_trains": trains.max() if len(trains) else np.nan})
    return pd.DataFrame(rows)


def batch_sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Per normalization and batch size: the validation error (eval mode) at the best lr,
    and whether that lr lies inside the batch size's grid. Batch 32 is the lr sweep's."""
    normalized = table.normalization != "none"
    b = table[(table.sweep == "batch") | ((table.sweep == "lr") & normalized
                                          & (table.batch_size == 32))]
    rows = []
    for (norm, size), part in b.groupby(["normalization", "batch_size"]):
        by_lr = part.groupby("lr").val_error.mean()
        lr = by_lr.idxmin() if by_lr.notna().any() else np.nan
        best = part[part.lr == lr]
        rows.append({"normalization": norm, "batch_size": size, "best_lr": lr,
                     "inside": _inside(by_lr.index, lr) if np.isfinite(lr) else False,
                     "val_error": best.val_error.mean(), "val_error_min": best.val_error.min(),
                     "val_error_max": best.val_error.max()})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    rows = []
    for name, key in (("lr", "lr"), ("gain", "gain")):
        s = sweep(table, name, key, options)
        for value, part in s.groupby(key):
            row = {"sweep": f"{key} = {value:g}"}
            for _, r in part.iterrows():
                row[NAMES[r.normalization]] = (
                    f"loss {r.final_train_loss:.3f}, {r.val_error:.0%} err"
                    if r.outcome != "diverged" else "diverged") + (
                    f" ({r.outcome})" if r.outcome not in ("trains", "diverged") else "")
            rows.append(row)
    row = {"sweep": "best lr (lowest train loss)"}
    for _, r in learning_rates(table, options).iterrows():
        row[NAMES[r.normalization]] = f"lr {r.best_lr:g}: loss {r.final_train_loss:.3f}"
    rows.append(row)
    for size, part in batch_sizes(table).groupby("batch_size"):
        row = {"sweep": f"batch = {size} (best lr)"}
        for _, r in part.iterrows():
            row[NAMES[r.normalization]] = f"{r.val_error:.0%} err (lr {r.best_lr:g})"
        rows.append(row)
    return pd.DataFrame(rows).fillna("")


EVAL = "eval mode: BatchNorm with its running averages"


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    lrs = learning_rates(table, options).set_index("normalization")
    higher, faster = float(options["higher"]), float(options["faster"])
    largest = lrs.largest_lr_that_trains
    epochs = int(table.epochs.max()) if "epochs" in table else None
    checks = [
        Check("lr sweep: each normalization's best lr (lowest final training loss) lies inside "
              "its grid", bool(lrs.inside.all()),
              ", ".join(f"{NAMES[n]} {r.best_lr:g}" + ("" if r.inside else " (at the edge)")
                        for n, r in lrs.iterrows())),
        Check(f"BatchNorm allows higher learning rates (lecture 001): it still trains at an lr "
              f">= {higher:g}x the largest at which the plain MLP trains",
              bool(largest["batchnorm"] >= higher * largest["none"]),
              f"largest lr that trains: BN {largest['batchnorm']:g}, none {largest['none']:g}"),
        Check(f"faster training (lecture 003): at each one's best lr, BatchNorm's final training "
              f"loss ({EVAL}, on the whole training split) is <= {faster:g}x the plain MLP's",
              bool(lrs.final_train_loss["batchnorm"]
                   <= faster * lrs.final_train_loss["none"]),
              f"BN {lrs.final_train_loss['batchnorm']:.3f} (lr {lrs.best_lr['batchnorm']:g}) vs "
              f"none {lrs.final_train_loss['none']:.3f} (lr {lrs.best_lr['none']:g})"
              + (f" after {epochs} epochs" if epochs else "")
              + f"; validation error {lrs.val_error['batchnorm']:.1%} vs "
                f"{lrs.val_error['none']:.1%}"),
    ]
    batches = batch_sizes(table)
    b = batches.pivot(index="batch_size", columns="normalization", values="val_error")
    sizes = sorted(b.index)
    large, small = sizes[-1], [s for s in sizes if s <= 4]
    grows, flat = float(options["grows"]), float(options["flat"])
    checks.append(Check(
        "batch sweep: each normalization's and batch size's best lr (lowest validation error) "
        "lies inside its grid", bool(batches.inside.all()),
        ", ".join(f"{NAMES[r.normalization]} batch {r.batch_size}: {r.best_lr:g}"
                  + ("" if r.inside else " (at the edge)") for r in batches.itertuples())))
    if small and "batchnorm" in b:
        checks.append(Check(
            f"BatchNorm's validation error ({EVAL}) grows as the batch shrinks to 2-4 (by >= "
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
    for r in learning_rates(table, options).itertuples():
        ax_loss.plot(r.best_lr, r.final_train_loss, "*", color=COLORS[r.normalization], ms=16,
                     mec="k", mew=0.6)
    stalls = float(options["stalls"])
    ax_loss.axhline(math.log(10), color="k", ls=":", lw=1, label="ln 10: chance-level loss")
    ax_loss.axhspan(stalls, 14, color="0.85", alpha=0.5, lw=0,
                    label=f"stalled (>= {stalls:g}) or diverged (X)")
    ax_loss.set(xscale="log", yscale="log", ylim=(None, 14),
                xlabel="learning rate (plain SGD, batch 32; log)",
                ylabel="final training loss, eval mode, whole training split (log)",
                title="Training loss after the budget vs learning rate (star: best lr)")
    ax_err.axhline(chance, color="k", ls=":", lw=1, label="chance (90% error)")
    ax_err.set(xscale="log", ylim=(0, 1.06), xlabel="learning rate (plain SGD, batch 32; log)",
               ylabel="final validation error (eval mode)",
               title="Validation error vs learning rate")
    ax_gain.axhline(chance, color="k", ls=":", lw=1, label="chance (90% error)")
    ax_gain.set(xscale="log", ylim=(0, 1.06),
                xlabel="init scale: init.gain x He init (lr 0.1, batch 32; log)",
                ylabel="final validation error (eval mode)",
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
                 ylim=(0, 1.06), xlabel="batch size (log)",
                 ylabel="final validation error (eval mode)",
                 title="Small batches: BatchNorm's error grows, LayerNorm's does not\n"
                       "(eval mode; train mode against eval mode: figure bn-modes)")
    ax_batch.xaxis.set_minor_formatter(plt.NullFormatter())
    for ax, values in ((ax_loss, lr.lr), (ax_err, lr.lr), (ax_gain, gain.gain)):
        ticks = sorted(set(values))
        ax.set_xticks(ticks, [f"{v:g}" for v in ticks])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    for ax in axes.flat:
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
    fig.suptitle("Normalization: MLP 40-(100 x 6)-10 (ReLU, He) on 1000 MNIST-1D samples, "
                 "plain SGD (mean over seeds, band: min-max)\nevery number in eval mode: "
                 "BatchNorm with its running averages", fontsize=12)
    fig.tight_layout()
    return fig
