"""L1 selects features, L2 keeps the irrelevant ones with small weights (lecture 000): a linear
model on 16 Legendre features of x, fitted to a curve that uses two of them, with each
penalty over a sweep of kappa."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, load_params

LABELS = {"none": "no penalty", "l1": "L1", "l2": "L2"}
COLORS = {"none": "0.55", "l1": "C3", "l2": "C0"}


def table(runs, options) -> pd.DataFrame:
    """One row per (run, input feature): the fitted weight, its true value, whether the input
    is relevant (or ignored: the bias's twin), and the run's train and test MSE."""
    relevant = {int(k): float(v) for k, v in options["relevant"].items()}
    ignored = {int(i) for i in options["ignored"]}
    rows = []
    for run in runs:
        w = np.asarray(load_params(run)["layers"][0]["w"])[:, 0]
        kappa = run.cfg.regularizer.kappa if run.arm != "none" else 0.0
        for feature, weight in enumerate(w):
            rows.append({"penalty": run.arm, "kappa": kappa, "feature": feature,
                         "weight": float(weight), "true_weight": relevant.get(feature, 0.0),
                         "role": "relevant" if feature in relevant else
                         "ignored" if feature in ignored else "irrelevant",
                         "train_mse": run.summary["final_train_loss"],
                         "test_mse": run.summary["test_loss"]})
    return pd.DataFrame(rows)


def fits(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per run: its test MSE, how many irrelevant weights are 0, and whether both relevant
    weights are kept (same sign, at least ``kept`` of their true size)."""
    zero, kept = float(options["zero"]), float(options["kept"])
    rows = []
    for (penalty, kappa), part in table.groupby(["penalty", "kappa"], sort=False):
        irrelevant = part[part.role == "irrelevant"]
        relevant = part[part.role == "relevant"]
        share = relevant.weight / relevant.true_weight
        rows.append({"penalty": penalty, "kappa": kappa, "test_mse": part.test_mse.iloc[0],
                     "irrelevant": len(irrelevant),
                     "zeroed": int((irrelevant.weight.abs() < zero).sum()),
                     "largest_irrelevant": irrelevant.weight.abs().max(),
                     "smallest_relevant": relevant.weight.abs().min(),
                     "relevant_kept": bool((share >= kept).all()),
                     "relevant_share": float(share.min())})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return fits(table, options)


def _strongest_kept(f: pd.DataFrame, penalty: str) -> pd.Series | None:
    kept = f[(f.penalty == penalty) & f.relevant_kept]
    return kept.loc[kept.kappa.idxmax()] if len(kept) else None


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    f = fits(table, options)
    l1, l2 = f[f.penalty == "l1"].sort_values("kappa"), f[f.penalty == "l2"]
    strong = _strongest_kept(f, "l1")
    l2_kept = l2[l2.relevant_kept]
    selects, keeps = float(options["l1_selects"]), float(options["l2_keeps"])
    zero = float(options["zero"])
    best1, best2 = l1.loc[l1.test_mse.idxmin()], l2.loc[l2.test_mse.idxmin()]
    return [
        Check(f"L1 selects features: at its strongest kappa that keeps both relevant weights "
              f"(>= {options['kept']:.0%} of their true size), >= {selects:.0%} of the "
              f"irrelevant weights are 0 (|w| < {zero:g})",
              bool(strong is not None and strong.zeroed >= selects * strong.irrelevant),
              f"kappa {strong.kappa:g}: {strong.zeroed} of {strong.irrelevant} zeroed, relevant "
              f"kept at >= {strong.relevant_share:.0%}" if strong is not None else
              "no kappa keeps the relevant weights"),
        Check(f"L2 keeps irrelevant inputs with small weights: at every kappa that keeps the "
              f"relevant weights, <= {keeps:.0%} of the irrelevant weights are 0, and every "
              "relevant weight is larger than every irrelevant one",
              bool(len(l2_kept) and (l2_kept.zeroed <= keeps * l2_kept.irrelevant).all()
                   and (l2_kept.smallest_relevant > l2_kept.largest_irrelevant).all()),
              f"kappa {', '.join(f'{k:g}' for k in l2_kept.kappa)}: zeroed "
              f"{', '.join(map(str, l2_kept.zeroed))} of {l2.irrelevant.max()}; largest "
              f"irrelevant |w| {l2_kept.largest_irrelevant.min():.3f}-"
              f"{l2_kept.largest_irrelevant.max():.3f}, smallest relevant "
              f"{l2_kept.smallest_relevant.min():.3f}-{l2_kept.smallest_relevant.max():.3f}"
              if len(l2_kept) else "no kappa keeps the relevant weights"),
        Check("L1's count of zeroed irrelevant weights never falls as kappa grows",
              bool(len(l1) > 1 and (np.diff(l1.zeroed.to_numpy()) >= 0).all()),
              ", ".join(f"kappa {r.kappa:g}: {r.zeroed}" for r in l1.itertuples())),
        Check("where the truth is sparse, L1's best test error is below L2's best",
              bool(best1.test_mse < best2.test_mse),
              f"L1 {best1.test_mse:.4f} (kappa {best1.kappa:g}) vs L2 {best2.test_mse:.4f} "
              f"(kappa {best2.kappa:g}); no penalty "
              + ", ".join(f"{v:.4f}" for v in f[f.penalty == "none"].test_mse)),
    ]


def draw(table: pd.DataFrame, options: dict):
    f = fits(table, options)
    zero = float(options["zero"])
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.2), gridspec_kw={"width_ratios": [1.5, 1, 1]})
    ax = axes[0]
    shown = [("none", 0.0)] + [(p, float(r.kappa)) for p in ("l2", "l1")
                                if (r := _strongest_kept(f, p)) is not None]
    width = 0.8 / len(shown)
    features = np.sort(table.feature.unique())
    for i, (penalty, kappa) in enumerate(shown):
        part = table[(table.penalty == penalty) & (table.kappa == kappa)].set_index("feature")
        label = LABELS[penalty] + (f" (kappa {kappa:g})" if penalty != "none" else "")
        ax.bar(features + (i - (len(shown) - 1) / 2) * width,
               part.weight.abs().reindex(features).clip(lower=zero / 3), width=width,
               color=COLORS[penalty], label=label)
    truth = table.drop_duplicates("feature").set_index("feature").true_weight.abs()
    relevant = truth[truth > 0]
    ax.scatter(relevant.index, relevant, marker="_", s=600, color="k", lw=2, zorder=3,
               label="true weight (relevant inputs)")
    ax.axhline(zero, color="k", ls=":", lw=1)
    ax.text(features.max() + 0.5, zero * 1.15, f"0 (|w| < {zero:g})", ha="right", fontsize=8)
    roles = table.drop_duplicates("feature").set_index("feature").role
    ax.set_xticks(features, [f"φ{k}" + ("\nrel." if roles[k] == "relevant" else
                                        "\nbias" if roles[k] == "ignored" else "")
                             for k in features], fontsize=8)
    ax.set(yscale="log", ylim=(zero / 4, 2), ylabel="|weight| (log scale; bars at the floor: 0)",
           xlabel="input: Legendre feature φ_k of x (the curve uses φ1 and φ3)",
           title="The fitted weights: L1 sets the irrelevant inputs to 0,\nL2 keeps them all "
                 "with small weights (each at its strongest kappa that keeps φ1, φ3)")
    ax.legend(fontsize=8, loc="upper right", ncol=2)

    for ax, column, ylabel, title in (
            (axes[1], "zeroed", "irrelevant weights that are 0 (of "
             f"{int(f.irrelevant.iloc[0])})", "Feature selection as kappa grows"),
            (axes[2], "test_mse", "test MSE against the noise-free curve (log scale)",
             "The fit: a sparse truth favours L1")):
        for penalty in ("l1", "l2"):
            part = f[f.penalty == penalty].sort_values("kappa")
            ax.plot(part.kappa, part[column], color=COLORS[penalty], marker="o", lw=2,
                    label=LABELS[penalty])
            lost = part[~part.relevant_kept]
            ax.scatter(lost.kappa, lost[column], s=140, facecolor="none",
                       edgecolor=COLORS[penalty], lw=1.5)
        ax.plot([], [], "o", mfc="none", color="k", label="a relevant weight < "
                f"{float(options['kept']):.0%} of its true size")
        if column == "test_mse":
            none = f[f.penalty == "none"].test_mse
            if len(none):
                ax.axhline(none.iloc[0], color=COLORS["none"], ls="--",
                           label=f"no penalty ({none.iloc[0]:.3f})")
            ax.set_yscale("log")
        ax.set(xscale="log", xlabel="kappa (log scale)", ylabel=ylabel, title=title)
        ax.legend(fontsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("L1 vs L2 on inputs known to be irrelevant: 40 noisy samples of "
                 "4x³ - 3x = -0.49 φ1 + 0.86 φ3, a linear model on φ0..φ15", fontsize=13)
    fig.tight_layout()
    return fig
