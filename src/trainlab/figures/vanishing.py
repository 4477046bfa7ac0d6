"""Vanishing gradients (lecture 000): per-layer gradient norms of 10-layer nets, at init and
after training. Sigmoid's slope (at most 1/4) shrinks the error at every layer it passes
back through; tanh's less; ReLU with He init keeps it."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band

COLORS = {"sigmoid": "C3", "tanh": "C0", "relu": "C2"}
INITS = {"xavier_normal": "Xavier", "he_normal": "He"}


def _layers(frame: pd.DataFrame) -> list[int]:
    return sorted(int(c.split("/")[1]) for c in frame if c.startswith("grad_norm/"))


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)
    labels = {run.arm: run.cfg.activation.name + " + "
              + INITS.get(run.cfg.init.name, run.cfg.init.name) for run in runs}
    layers = _layers(frame)
    keep = ["arm", "seed", "epoch", "train_loss", "val_acc",
            *(f"grad_norm/{k}" for k in layers)]
    frame = frame[keep].rename(columns={"arm": "activation"})
    frame.insert(1, "label", frame.activation.map(labels))
    frame["first_over_last"] = frame[f"grad_norm/{layers[0]}"] / frame[f"grad_norm/{layers[-1]}"]
    return frame


def profiles(table: pd.DataFrame) -> pd.DataFrame:
    """Long form: per activation, moment (init / after training), seed and layer."""
    layers = _layers(table)
    last = table.epoch.max()
    rows = table[table.epoch.isin([0, last])]
    long = rows.melt(id_vars=["activation", "label", "seed", "epoch"],
                     value_vars=[f"grad_norm/{k}" for k in layers], var_name="column",
                     value_name="grad_norm")
    long["layer"] = long.column.str.split("/").str[1].astype(int)
    long["moment"] = np.where(long.epoch == 0, "init", f"after {last} epochs")
    return long.drop(columns="column")


def ratios(table: pd.DataFrame) -> pd.DataFrame:
    """First-layer over last-layer gradient norm, at init and after training (seed means
    of the ratio, and its min..max)."""
    last = table.epoch.max()
    rows = []
    for (activation, label), part in table.groupby(["activation", "label"], sort=False):
        row = {"activation": activation, "label": label}
        for epoch, name in ((0, "init"), (last, "trained")):
            r = part[part.epoch == epoch].first_over_last
            row |= {f"{name}: first/last": r.mean(), f"{name}: min": r.min(),
                    f"{name}: max": r.max()}
        row["final val acc"] = part[part.epoch == last].val_acc.mean()
        rows.append(row)
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return ratios(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    r = ratios(table).set_index("activation")
    vanishes, within = float(options["vanishes"]), float(options["within"])
    layers = _layers(table)
    checks = []

    def measured(row) -> str:
        return (f"||dJ/dW_1|| / ||dJ/dW_{layers[-1]}||: at init {row['init: first/last']:.2g} "
                f"(seeds {row['init: min']:.2g}..{row['init: max']:.2g}), after training "
                f"{row['trained: first/last']:.2g} ({row['trained: min']:.2g}.."
                f"{row['trained: max']:.2g})")

    if "sigmoid" in r.index:
        s = r.loc["sigmoid"]
        checks.append(Check(
            f"sigmoid: first-layer grad norm < {vanishes:g} of the last layer's (at init and "
            "after training, every seed)",
            bool(s["init: max"] < vanishes and s["trained: max"] < vanishes), measured(s)))
    if "relu" in r.index:
        s = r.loc["relu"]
        checks.append(Check(
            f"relu + He: first- and last-layer grad norms within {within:g}x (at init and "
            "after training, every seed)",
            bool(all(1 / within <= s[f"{m}: {e}"] <= within
                     for m in ("init", "trained") for e in ("min", "max"))), measured(s)))
    return checks


def draw(table: pd.DataFrame, options: dict):
    p = profiles(table)
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    (ax_init, ax_end), (ax_ratio, ax_acc) = axes
    moments = list(dict.fromkeys(p.moment))
    layers = sorted(p.layer.unique())
    seeds = table.seed.nunique()
    for ax, moment in zip((ax_init, ax_end), moments, strict=False):
        for activation, part in p[p.moment == moment].groupby("activation", sort=False):
            band(ax, part, "layer", "grad_norm", color=COLORS.get(activation), marker="o",
                 label=part.label.iloc[0])
        ax.set(yscale="log", xticks=layers, xlabel=f"layer (1 = first hidden, {layers[-1]} = "
               "output)", ylabel="gradient norm ||dJ/dW_k||_F (log)",
               title=f"Per-layer gradient norms {'at init' if moment == 'init' else moment}")
    sigmoid = p[(p.activation == "sigmoid") & (p.moment == "init")]
    if len(sigmoid):  # the lecture's bound: a factor sigma' <= 1/4 per layer passed through
        top = sigmoid[sigmoid.layer == layers[-2]].grad_norm.mean()
        ks = np.asarray(layers[:-1])
        ax_init.plot(ks, top * 0.25 ** (layers[-2] - ks), "k:", lw=1.5,
                     label="lecture's bound: x 1/4 per layer back (sigmoid' <= 1/4)")
    low = min(ax_init.get_ylim()[0], ax_end.get_ylim()[0])
    high = max(ax_init.get_ylim()[1], ax_end.get_ylim()[1])
    for ax in (ax_init, ax_end):
        ax.set_ylim(low, high)
        ax.legend(fontsize=9)
    for activation, part in table.groupby("activation", sort=False):
        band(ax_ratio, part, "epoch", "first_over_last", color=COLORS.get(activation),
             label=part.label.iloc[0])
        band(ax_acc, part, "epoch", "val_acc", color=COLORS.get(activation),
             label=part.label.iloc[0])
    vanishes, within = float(options["vanishes"]), float(options["within"])
    ax_ratio.axhline(vanishes, color="C3", ls="--", lw=1, label=f"{vanishes:g} (vanished)")
    ax_ratio.axhspan(1 / within, within, color="C2", alpha=0.1, lw=0,
                     label=f"within {within:g}x")
    ax_ratio.set(yscale="log", xlabel="epoch",
                 ylabel=f"||dJ/dW_1|| / ||dJ/dW_{layers[-1]}|| (log)",
                 title="First-layer over output-layer gradient norm during training")
    ax_ratio.legend(fontsize=9)
    ax_acc.axhline(0.1, color="k", ls=":", lw=1, label="chance (10 classes)")
    ax_acc.set(ylim=(0, 1), xlabel="epoch", ylabel="validation accuracy",
               title="Validation accuracy (plain SGD, lr 0.1)")
    ax_acc.legend(fontsize=9)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    band_note = f", bands: min-max over {seeds} seeds" if seeds > 1 else ""
    fig.suptitle("Vanishing gradients in a 10-hidden-layer MLP (MNIST-1D, 64 units a layer"
                 f"{band_note})", fontsize=14)
    fig.tight_layout()
    return fig
