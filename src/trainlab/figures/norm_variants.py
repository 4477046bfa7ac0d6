"""BatchNorm, LayerNorm and GroupNorm as the batch shrinks (lecture 003: normalizing along the
batch dimension makes the error grow as the mini-batch shrinks; the variants that normalize
each sample do not depend on the batch).

Each normalization is trained at every batch size over a small lr grid; a batch size is
judged at its best lr (by mean validation accuracy over the seeds), on the test split, in
evaluation mode (BatchNorm with its running averages)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.config import batch_size_of
from trainlab.figures import common
from trainlab.figures.common import Check

NORMS = ("batchnorm", "layernorm", "groupnorm")
NAMES = {"batchnorm": "BatchNorm", "layernorm": "LayerNorm", "groupnorm": "GroupNorm"}
COLORS = {"batchnorm": "C0", "layernorm": "C1", "groupnorm": "C2"}
MARKERS = {"batchnorm": "o", "layernorm": "s", "groupnorm": "^"}
STYLES = {"batchnorm": "-", "layernorm": "--", "groupnorm": ":"}


def table(runs, options) -> pd.DataFrame:
    """One row per run and seed: its normalization, batch size and lr, and how it ended."""
    rows = []
    for run in runs:
        cfg = run.cfg
        for seed, summary in common.seed_summaries(run):
            rows.append({
                "normalization": cfg.normalization.name,
                "groups": getattr(cfg.normalization, "groups", np.nan),
                "batch_size": batch_size_of(cfg.batch_size), "lr": cfg.optimizer.lr,
                "seed": seed, "status": summary["status"],
                "final_val_acc": summary["final_val_acc"], "test_acc": summary["test_acc"],
            })
    return pd.DataFrame(rows)


def best_lr(table: pd.DataFrame) -> pd.DataFrame:
    """Per normalization and batch size: the lr of the best mean validation accuracy, and the
    test accuracy there (mean, min and max over the seeds)."""
    rows = []
    for (norm, size), part in table.groupby(["normalization", "batch_size"]):
        by_lr = part.groupby("lr").final_val_acc.mean()
        lr = by_lr.idxmax() if by_lr.notna().any() else np.nan
        best = part[part.lr == lr]
        rows.append({"normalization": norm, "batch_size": size, "best_lr": lr,
                     "test_acc": best.test_acc.mean(), "test_acc_min": best.test_acc.min(),
                     "test_acc_max": best.test_acc.max(), "seeds": len(best)})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return best_lr(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    b = best_lr(table).pivot(index="batch_size", columns="normalization", values="test_acc")
    small, large = int(b.index.min()), int(b.index.max())
    bn = b["batchnorm"]
    drop = bn[large] - bn[small]
    others = [n for n in NORMS[1:] if n in b]

    def spread(norm: str) -> float:
        return float(b[norm].max() - b[norm].min())

    def row(norm: str) -> str:
        return ", ".join(f"batch {s}: {b[norm][s]:.1%}" for s in sorted(b.index, reverse=True))

    checks = [
        Check(f"BatchNorm degrades as the batch shrinks: at batch {small} its test accuracy is "
              f">= {options['bn_drop'] * 100:g} points below its batch-{large} accuracy",
              bool(drop >= options["bn_drop"]), f"BatchNorm {row('batchnorm')}"),
        Check(f"BatchNorm is not simply worse: at batch {large} it is within "
              f"{options['bn_large'] * 100:g} points of the best per-sample normalization",
              bool(bn[large] >= max(b[n][large] for n in others) - options["bn_large"]),
              ", ".join(f"{NAMES[n]} {b[n][large]:.1%}" for n in NORMS if n in b)),
        Check(f"at batch {small} the per-sample normalizations beat BatchNorm by >= "
              f"{options['small_gap'] * 100:g} points",
              bool(all(b[n][small] >= bn[small] + options["small_gap"] for n in others)),
              ", ".join(f"{NAMES[n]} {b[n][small]:.1%}" for n in NORMS if n in b)),
    ]
    for norm in others:
        checks.append(Check(
            f"{NAMES[norm]} holds up as the batch shrinks: its test accuracy spans <= "
            f"{options['flat'] * 100:g} points over batch sizes {small}..{large}",
            bool(spread(norm) <= options["flat"]),
            f"spread {spread(norm) * 100:.1f} points (BatchNorm's "
            f"{spread('batchnorm') * 100:.1f}); {row(norm)}"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    b = best_lr(table)
    sizes = sorted(b.batch_size.unique())
    fig, grid = plt.subplots(2, 2, figsize=(14, 10))
    axes = grid.ravel()
    ax = axes[0]
    for i, norm in enumerate(NORMS):
        part = b[b.normalization == norm].sort_values("batch_size")
        if not len(part):
            continue
        x = part.batch_size * 1.06 ** (i - 1)  # side by side where the curves coincide
        ax.plot(x, (1 - part.test_acc) * 100, marker=MARKERS[norm], color=COLORS[norm], lw=2,
                ms=8, ls=STYLES[norm], label=NAMES[norm])
        ax.fill_between(x, (1 - part.test_acc_max) * 100, (1 - part.test_acc_min) * 100,
                        color=COLORS[norm], alpha=0.15, lw=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.minorticks_off()
    ax.set_xlim(max(sizes) * 1.4, min(sizes) / 1.4)  # the batch shrinks to the right
    ax.set(xlabel="batch size (log scale, shrinking to the right)",
           ylabel="test error, % (at the best lr of each batch size; band: seeds)",
           title="Normalizing over the batch fails as the batch shrinks;\n"
                 "normalizing each sample does not")
    ax.legend()

    shades = plt.get_cmap("viridis")(np.linspace(0.0, 0.85, len(sizes)))
    for ax, norm in zip(axes[1:], NORMS, strict=True):
        for size, shade in zip(sizes, shades, strict=True):
            part = table[(table.normalization == norm) & (table.batch_size == size)]
            acc = part.groupby("lr").test_acc.mean().sort_index()
            ax.plot(acc.index, (1 - acc) * 100, marker="o", ms=4, color=shade, lw=1.8,
                    label=f"batch {size}")
            best = b[(b.normalization == norm) & (b.batch_size == size)].iloc[0]
            ax.scatter([best.best_lr], [(1 - acc[best.best_lr]) * 100], s=160,
                       facecolors="none", edgecolors=shade, lw=2, zorder=3)
        ax.set_xscale("log")
        ax.set(xlabel="learning rate (log scale)", ylim=(-3, 100),
               ylabel="test error, % (mean over seeds)",
               title=f"{NAMES[norm]}: test error over the lr grid\n"
                     "(circled: each batch size's best lr, by validation accuracy)")
        ax.legend(fontsize=9, loc="upper left")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
