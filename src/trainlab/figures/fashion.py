"""Fashion-MNIST against its published benchmark (Xiao, Rasul & Vollgraf 2017, Table 3: the
scikit-learn results Zalando's README links): an MLP 784-100-10 and logistic regression
rebuilt with scikit-learn's recipe, our test accuracy beside the benchmark's row."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band

MODEL_NAMES = {"mlp": "MLP 784-100-10", "linear": "logistic regression"}


def _per_seed(summary: dict, key: str) -> list[float]:
    if "per_seed" in summary:
        return [float(s[key]) for s in summary["per_seed"]]
    return [float(summary[key])]


def table(runs, options) -> pd.DataFrame:
    """One row per (arm, seed): the final net's test accuracy with the benchmark row beside
    it; then the training curves (the epochs' mini-batch means)."""
    rows = []
    for run in runs:
        model = run.cfg.model.name
        reference = options["benchmark"][model]
        for seed, test_acc, train_acc in zip(run.summary["seeds"],
                                             _per_seed(run.summary, "test_acc"),
                                             _per_seed(run.summary, "final_train_acc"),
                                             strict=True):
            rows.append({
                "arm": run.arm, "model": MODEL_NAMES.get(model, model), "seed": seed,
                # images an epoch trains on: its steps' batches (the remainder is dropped)
                "train_samples": int(run.metrics.step.max()) // run.cfg.epochs
                * run.cfg.batch_size,
                "epochs": run.cfg.epochs, "train_acc": train_acc, "test_acc": test_acc,
                "benchmark_row": reference["row"], "benchmark_test_acc": reference["test_acc"],
            })
    curves = runs_table(runs)[["arm", "seed", "epoch", "train_loss", "train_acc"]]
    return pd.concat([pd.DataFrame(rows).assign(kind="final"), curves.assign(kind="curve")],
                     ignore_index=True)


def finals(table: pd.DataFrame) -> pd.DataFrame:
    f = table[table.kind == "final"].dropna(axis=1, how="all")
    return f.astype({"seed": int, "train_samples": int, "epochs": int})


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    rows = []
    for _, part in finals(table).groupby("arm", sort=False):
        acc, ref = part.test_acc, part.benchmark_test_acc.iloc[0]
        rows.append({
            "model": part.model.iloc[0], "benchmark row": part.benchmark_row.iloc[0],
            "seeds": len(part), "ours: test acc": f"{acc.mean():.1%} +- {acc.std(ddof=0):.2%}",
            "benchmark": f"{ref:.1%}", "ours - benchmark": f"{acc.mean() - ref:+.1%}",
            "train acc": f"{part.train_acc.mean():.1%}",
        })
    return pd.DataFrame(rows)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    """The must-show criteria, with the experiment's tolerance and margin."""
    f = finals(table)
    tolerance, margin = options["tolerance"], options["margin"]
    mean = f.groupby("model", sort=False).test_acc.mean()
    ref = f.groupby("model", sort=False).benchmark_test_acc.first()
    checks = []
    for model, part in f.groupby("model", sort=False):
        checks.append(Check(
            f"{model}: test accuracy within {tolerance:.0%} of the benchmark's "
            f"{part.benchmark_row.iloc[0]} ({ref[model]:.1%})",
            bool(abs(mean[model] - ref[model]) <= tolerance),
            f"ours {mean[model]:.1%} over {len(part)} seed(s), {part.train_samples.iloc[0]} "
            "train images"))
    mlp, linear = MODEL_NAMES["mlp"], MODEL_NAMES["linear"]
    if {mlp, linear} <= set(mean.index):
        checks.append(Check(
            f"the MLP beats logistic regression by at least {margin:.0%} "
            f"(benchmark: by {ref[mlp] - ref[linear]:.1%})",
            bool(mean[mlp] - mean[linear] >= margin),
            f"{mean[mlp]:.1%} vs {mean[linear]:.1%}"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    f = finals(table)
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(13, 5.6),
                                           gridspec_kw={"width_ratios": [1, 1.3]})
    arms = list(dict.fromkeys(f.arm))
    for i, arm in enumerate(arms):
        part = f[f.arm == arm]
        ours, ref = part.test_acc.mean(), part.benchmark_test_acc.iloc[0]
        ax_bar.bar(i, ours, 0.6, color=f"C{i}", alpha=0.8)
        ax_bar.plot(np.full(len(part), i), part.test_acc, "k.", ms=6,
                    label="each seed" if i == 0 else None)
        ax_bar.hlines(ref, i - 0.38, i + 0.38, colors="k", lw=2.5,
                      label="benchmark (Xiao et al. 2017, Table 3)" if i == 0 else None)
        ax_bar.text(i, 0.35, f"ours\n{ours:.1%}\n\nbenchmark\n{ref:.1%}", ha="center",
                    va="center", fontsize=9, color="white", fontweight="bold")
    ax_bar.legend(fontsize=8, loc="upper center", ncol=2)
    ax_bar.set(xticks=range(len(arms)),
               xticklabels=[f"{f[f.arm == a].model.iloc[0]}\n"
                            f"{f[f.arm == a].benchmark_row.iloc[0].split(' ')[0]}"
                            for a in arms],
               ylim=(0, 1.08), ylabel="test accuracy (10000 test images)",
               title="Fashion-MNIST test accuracy: ours (bars) vs the benchmark (black lines)")
    curves = table[(table.kind == "curve") & (table.epoch >= 1)]
    for i, arm in enumerate(arms):
        label = f[f.arm == arm].model.iloc[0]
        band(ax_curve, curves[curves.arm == arm], "epoch", "train_acc", color=f"C{i}",
             label=f"{label}: train accuracy (epoch's mini-batches)")
        ax_curve.axhline(f[f.arm == arm].test_acc.mean(), color=f"C{i}", ls="--",
                         label=f"{label}: test accuracy of the final net")
    n = f.train_samples.iloc[0]
    ax_curve.set(xlabel="epoch", ylabel="accuracy", ylim=(0.7, 1.0),
                 title=f"Training on {n} images (mean, band: min-max over seeds)")
    ax_curve.legend(fontsize=8, loc="lower right")
    for ax in (ax_bar, ax_curve):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
