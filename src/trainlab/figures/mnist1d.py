"""MNIST-1D benchmark (Greydanus 2020): logistic regression and an MLP, our test accuracy
beside the paper's, on the paper's split (all 4000 training samples) and on trainlab's
default one (20% of them carved out for validation)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band

MODEL_NAMES = {"linear": "logistic regression", "mlp": "MLP"}


def _per_seed(summary: dict, key: str) -> list[float]:
    if "per_seed" in summary:
        return [float(s[key]) for s in summary["per_seed"]]
    return [float(summary[key])]


def table(runs, options) -> pd.DataFrame:
    """One row per (arm, seed): test accuracy of the final net, the paper's number beside it."""
    rows = []
    for run in runs:
        model = run.cfg.model.name
        for seed, test_acc, train_acc in zip(run.summary["seeds"],
                                             _per_seed(run.summary, "test_acc"),
                                             _per_seed(run.summary, "final_train_acc"),
                                             strict=True):
            rows.append({
                "arm": run.arm, "model": MODEL_NAMES.get(model, model),
                "split": "paper" if run.cfg.data.val_fraction == 0 else "default",
                "train_samples": round(4000 * (1 - run.cfg.data.val_fraction)),
                "val_fraction": run.cfg.data.val_fraction, "seed": seed,
                "steps": int(run.metrics.step.max()), "train_acc": train_acc,
                "test_acc": test_acc, "paper_test_acc": options["paper"][model],
            })
    curves = runs_table(runs)[["arm", "seed", "epoch", "train_loss", "train_acc", "val_acc"]]
    curves = curves.assign(kind="curve")
    return pd.concat([pd.DataFrame(rows).assign(kind="final"), curves], ignore_index=True)


def finals(table: pd.DataFrame) -> pd.DataFrame:
    f = table[table.kind == "final"].dropna(axis=1, how="all")
    return f.astype({"train_samples": int, "seed": int, "steps": int})


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    rows = []
    for _, part in finals(table).groupby("arm", sort=False):
        acc = part.test_acc
        rows.append({
            "model": part.model.iloc[0], "trained on": f"{part.train_samples.iloc[0]} samples",
            "seeds": len(part), "ours: test acc": f"{acc.mean():.1%} +- {acc.std(ddof=0):.1%}",
            "paper": f"{part.paper_test_acc.iloc[0]:.0%}",
            "ours - paper": f"{acc.mean() - part.paper_test_acc.iloc[0]:+.1%}",
            "train acc": f"{part.train_acc.mean():.1%}",
        })
    return pd.DataFrame(rows)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    f = finals(table)
    checks = []
    for (model, split), part in f.groupby(["model", "split"], sort=False):
        if split != "paper":
            continue
        ours, paper, tol = part.test_acc.mean(), part.paper_test_acc.iloc[0], options["tolerance"]
        checks.append(Check(
            f"{model}, the paper's split ({part.train_samples.iloc[0]} train): test accuracy "
            f"within {tol:.0%} of the paper's {paper:.0%}",
            bool(abs(ours - paper) <= tol), f"ours {ours:.1%} over {len(part)} seeds"))
    mlp = f[f.model == "MLP"].groupby("split").test_acc.mean()
    if {"paper", "default"} <= set(mlp.index):
        checks.append(Check(
            "the MLP trained on trainlab's default 80% of the training set scores below the one "
            "trained on all of it (the gap is the carved-out validation data)",
            bool(mlp["default"] < mlp["paper"]),
            f"{mlp['default']:.1%} vs {mlp['paper']:.1%}"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    f = finals(table)
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(13, 5.6),
                                           gridspec_kw={"width_ratios": [1, 1.3]})
    arms = list(dict.fromkeys(f.arm))
    x = np.arange(len(arms))
    colors = {"paper": "C0", "default": "C1"}
    for i, arm in enumerate(arms):
        part = f[f.arm == arm]
        split = part.split.iloc[0]
        ax_bar.bar(i, part.test_acc.mean(), 0.6, color=colors[split], alpha=0.8,
                   label=(f"ours, trained on {part.train_samples.iloc[0]} "
                          f"({'paper' if split == 'paper' else 'trainlab default'} split)"))
        ax_bar.plot(np.full(len(part), i), part.test_acc, "k.", ms=6)
        ax_bar.hlines(part.paper_test_acc.iloc[0], i - 0.38, i + 0.38, colors="k", lw=2.5,
                      label="paper (Greydanus 2020)")
        ax_bar.text(i, part.test_acc.mean() / 2, f"ours\n{part.test_acc.mean():.1%}\n\npaper\n"
                    f"{part.paper_test_acc.iloc[0]:.0%}", ha="center", va="center", fontsize=9,
                    color="white", fontweight="bold")
    handles, labels = ax_bar.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    unique["each seed"] = ax_bar.plot([], [], "k.")[0]
    ax_bar.legend(unique.values(), unique.keys(), fontsize=8, loc="upper left")
    ax_bar.set(xticks=x, xticklabels=[f"{f[f.arm == a].model.iloc[0]}\n"
                                      f"{f[f.arm == a].train_samples.iloc[0]} train"
                                      for a in arms],
               ylim=(0, 1), ylabel="test accuracy (1000 test samples)",
               title="MNIST-1D test accuracy: ours (bars) vs the paper (black lines)")
    curves = table[(table.kind == "curve") & (table.epoch >= 1)]
    for i, arm in enumerate(arms):
        part = curves[curves.arm == arm]
        color = f"C{i}"
        label = f"{f[f.arm == arm].model.iloc[0]}, {f[f.arm == arm].train_samples.iloc[0]} train"
        band(ax_curve, part, "epoch", "train_acc", color=color, label=f"{label}: train")
        if part.val_acc.notna().any():
            band(ax_curve, part, "epoch", "val_acc", color=color, ls="--",
                 label=f"{label}: validation")
    ax_curve.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
                 title="Training curves (mean, band: min-max over seeds)")
    ax_curve.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    for ax in (ax_bar, ax_curve):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
