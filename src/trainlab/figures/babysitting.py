"""Babysitting the learning process (lecture 001): the sanity checks before a long run."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, load_params, runs_table
from trainlab.figures.plots import band

LN10 = math.log(10)
LR = "optimizer.lr"
KAPPA = "regularizer.kappa"


def _expected_penalty(run) -> float:
    """kappa/2 times the sum of the squared weight matrices (not the biases) of the run's
    stored initial net (its first seed), computed here in numpy: what "turning regularization
    on" must add to the initial loss."""
    layers = load_params(run, "init")["layers"]
    return run.cfg.regularizer.kappa / 2 * float(sum((np.asarray(layer["w"], np.float64) ** 2)
                                                     .sum() for layer in layers))


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)
    for key in (LR, KAPPA):
        if key not in frame:
            frame[key] = np.nan
    frame["expected_penalty"] = np.nan
    for run in runs:
        if run.arm == "initial":
            rows = ((frame.arm == "initial") & (frame[KAPPA] == run.cfg.regularizer.kappa)
                    & (frame.seed == run.cfg.seed) & (frame.epoch == 0))
            frame.loc[rows, "expected_penalty"] = _expected_penalty(run)
    # the initial-loss arm, split by kappa: no_reg (kappa = 0) and with_reg
    initial = frame.arm == "initial"
    frame.loc[initial, "arm"] = np.where(frame.loc[initial, KAPPA] > 0, "with_reg", "no_reg")
    keep = ["arm", KAPPA, LR, "seed", "epoch", "train_loss", "train_objective", "train_acc",
            "val_loss", "val_acc", "expected_penalty"]
    return frame[keep]


def sanity(table: pd.DataFrame) -> pd.DataFrame:
    """The three checks' numbers, mean over seeds."""
    start = table[table.epoch == 0].groupby("arm")[["train_loss", "train_objective"]].mean()
    rows = []
    for arm in ("no_reg", "with_reg"):
        if arm in start.index:
            rows.append({"check": f"initial loss, {arm.replace('_', ' ')}",
                         "value": start.loc[arm, "train_objective"],
                         "reference": LN10, "unit": "nats (ln 10 = 2.303)"})
    fit = table[table.arm == "overfit_20"]
    if len(fit):
        last = fit[fit.epoch == fit.epoch.max()]
        rows.append({"check": "20 samples: final train accuracy",
                     "value": last.train_acc.min(), "reference": 1.0, "unit": "fraction"})
        rows.append({"check": "20 samples: final train loss", "value": last.train_loss.mean(),
                     "reference": 0.0, "unit": "nats"})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return sanity(table)


def lr_search(table: pd.DataFrame) -> pd.DataFrame:
    """Per lr of the search: the initial and final training loss (mean over seeds; NaN once
    a seed's loss is not finite) and their ratio."""
    search = table[table.arm == "lr_search"]
    rows = []
    for lr, part in search.groupby(LR):
        start = part[part.epoch == 0].train_loss.mean()
        end = part[part.epoch == part.epoch.max()].train_loss
        final = end.mean() if np.isfinite(end).all() else np.nan
        rows.append({"lr": lr, "initial": start, "final": final,
                     "peak": part.train_loss.max(),
                     "ratio": final / start if np.isfinite(final) else np.nan})
    return pd.DataFrame(rows)


def _lr_check(table: pd.DataFrame, options: dict) -> Check:
    s = lr_search(table).sort_values("lr").reset_index(drop=True)
    still, falls = float(options["still"]), float(options["falls"])
    criterion = (f"4. an lr that makes the loss go down (lecture 001): the best lr of the "
                 f"search (lowest final training loss) is inside it and ends below "
                 f"{falls:.0%} of the start, while at the smallest lr the loss barely moves "
                 f"(< {still:.1%}) and at the largest it explodes (not finite, or above the "
                 "start)")
    if len(s) < 3:
        return Check(criterion, False, f"{len(s)} learning rates searched, need 3 or more")
    small, large = s.iloc[0], s.iloc[-1]
    best = s.loc[s.final.idxmin()] if s.final.notna().any() else None
    ok = bool(best is not None and 0 < best.name < len(s) - 1 and best.ratio < falls
              and abs(1 - small.ratio) < still
              and (not np.isfinite(large.final) or large.final > large.initial))
    fmt = lambda r: (f"{r.final:.4g} ({r.ratio - 1:+.3%})" if np.isfinite(r.final)  # noqa: E731
                     else f"exploded (max {r.peak:.0e}), then NaN")
    return Check(criterion, ok, ", ".join(f"lr {r.lr:g}: {fmt(r)}" for r in s.itertuples())
                 + (f"; best lr {best.lr:g}" if best is not None else ""))


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    start = table[table.epoch == 0].groupby("arm").train_objective.mean()
    initial = table[(table.arm == "with_reg") & table.expected_penalty.notna()].iloc[0]
    rise = initial.train_objective - initial.train_loss
    plain = table[(table.arm == "no_reg") & (table.seed == initial.seed)
                  & (table.epoch == 0)].iloc[0]
    fit = table[table.arm == "overfit_20"]
    last = fit[fit.epoch == fit.epoch.max()]
    first_full = fit.groupby("seed").apply(
        lambda p: p.epoch[p.train_acc >= 1].min(), include_groups=False)
    checks = [
        Check("1. initial loss (no regularization) within 0.1 of ln(10)",
              abs(start["no_reg"] - LN10) < 0.1,
              f"{start['no_reg']:.4f} vs ln 10 = {LN10:.4f}"),
        Check("2. turning regularization on raises the initial loss by its penalty: the rise "
              "is kappa/2 ||W||^2 of the initial weight matrices (computed from the stored "
              "init, biases excluded; within 0.1%), the data loss unchanged (same init)",
              bool(abs(rise / initial.expected_penalty - 1) < 1e-3
                   and abs(initial.train_loss - plain.train_loss) < 1e-6 * plain.train_loss),
              f"{plain.train_objective:.4f} -> {initial.train_objective:.4f}: rise {rise:.4f} "
              f"vs kappa/2 ||W||^2 = {initial.expected_penalty:.4f} (seed {int(initial.seed)}); "
              f"data loss {initial.train_loss:.4f} vs {plain.train_loss:.4f}"),
        Check("3. 20 samples reach 100% train accuracy (every seed)",
              bool(len(last) and (last.train_acc >= 1).all()),
              f"final accuracy {', '.join(f'{a:.0%}' for a in last.train_acc)}; first at "
              f"epoch {', '.join(str(int(e)) for e in first_full)}"),
    ]
    if (table.arm == "lr_search").any():
        checks.append(_lr_check(table, options))
    return checks


def draw(table: pd.DataFrame, options: dict):
    has_search = (table.arm == "lr_search").any()
    fig, axes = plt.subplots(1, 4 if has_search else 2, figsize=(20 if has_search else 10, 4.6))
    ax = axes[0]
    start = table[table.epoch == 0].groupby("arm")
    names = [a for a in ("no_reg", "with_reg") if a in start.groups]
    loss = start.train_loss.mean()[names]
    penalty = start.train_objective.mean()[names] - loss
    x = np.arange(len(names))
    ax.bar(x, loss, 0.5, color="C0", label="data loss (cross-entropy)")
    ax.bar(x, penalty, 0.5, bottom=loss, color="C1", label="L2 penalty (kappa/2 ||W||²)")
    ax.axhline(LN10, color="k", ls="--", lw=1, label="ln 10 (uniform over 10 classes)")
    kappas = table[table.arm == "with_reg"][KAPPA].unique()
    ax.set(xticks=x, xticklabels=["no regularization",
                                  f"L2, kappa = {kappas[0]:g}" if len(kappas) else "L2"],
           ylabel="loss at initialization (nats)", title="1-2. Initial loss",
           ylim=(0, 1.35 * (loss + penalty).max()))
    ax.legend(fontsize=8, loc="upper left")
    ax = axes[1]
    fit = table[table.arm == "overfit_20"]
    band(ax, fit, "epoch", "train_loss", color="C0", label="train loss")
    ax.set(yscale="log", xlabel="epoch (full batch: 1 step)", ylabel="train loss (nats)",
           title="3. Overfit 20 training samples")
    twin = ax.twinx()
    band(twin, fit, "epoch", "train_acc", color="C2", label="train accuracy")
    twin.set(ylabel="train accuracy", ylim=(0, 1.05))
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="center right")
    if has_search:
        ax, ax_drop = axes[2], axes[3]
        search = table[table.arm == "lr_search"]
        top = 1.5 * LN10
        styles = [{"lw": 6, "alpha": 0.35}, {"lw": 2, "ls": "--"}, {"lw": 2}, {"lw": 2}]
        for i, (lr, part) in enumerate(search.groupby(LR)):
            peak = part.train_loss.max()
            exploded = not np.isfinite(part.train_loss).all() or peak > top
            label = f"lr {lr:g}" + (f": exploded (max {peak:.0e}), then NaN" if exploded else "")
            style = styles[min(i, len(styles) - 1)]
            band(ax, part, "epoch", "train_loss", color=f"C{i}", label=label, **style)
            # the same curves as the drop from the start, on a log scale: the small rates'
            # curves lie on top of each other above, not here
            start = part[part.epoch == 0].set_index("seed").train_loss
            drop = part.assign(drop=part.seed.map(start) - part.train_loss)
            drop = drop[(drop.epoch >= 1) & (drop["drop"] > 0)]
            if len(drop):
                band(ax_drop, drop, "epoch", "drop", color=f"C{i}", label=f"lr {lr:g}",
                     **style)
        ax.set(ylim=(0, top), xlabel="epoch", ylabel="train loss (nats)",
               title="4. Find an lr that makes the loss go down (SGD)")
        ax.legend(fontsize=8, loc="lower left")
        ax_drop.set(yscale="log", xlabel="epoch", ylabel="initial loss - train loss (nats, log)",
                    title="4. The same runs: how far the loss went down\n"
                          "(the small rates coincide on the left)")
        ax_drop.legend(fontsize=8, loc="lower right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Babysitting the learning process: MNIST-1D, 1 hidden layer of 50 ReLU units, "
                 "weights N(0, 0.01²)", fontsize=13)
    fig.tight_layout()
    return fig
