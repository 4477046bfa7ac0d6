"""Dead ReLUs at large learning rates (lectures 000 and 001): the fraction of hidden units
whose output is 0 on every training sample, for ReLU, leaky ReLU and ELU over a log sweep of
plain SGD's learning rate. Leaky units cannot be exactly 0, but can be stuck below 0."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, runs_table
from trainlab.figures.plots import band

LR = "optimizer.lr"
NAMES = {"relu": "ReLU", "leaky_relu": "leaky ReLU (0.01)", "elu": "ELU (alpha 1)"}
COLORS = {"relu": "C3", "leaky_relu": "C0", "elu": "C2"}


def _layers(frame: pd.DataFrame) -> list[int]:
    return sorted(int(c.split("/")[1]) for c in frame if c.startswith("dead_frac/"))


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)
    layers = _layers(frame)
    widths = np.asarray(runs[0].cfg.model.widths, float)
    keep = ["arm", LR, "seed", "epoch", "train_loss", "val_acc",
            *(f"{s}/{k}" for s in ("dead_frac", "stuck_frac", "act_mean") for k in layers)]
    frame = frame[keep].rename(columns={"arm": "activation", LR: "lr"})
    for stat, name in (("dead_frac", "dead"), ("stuck_frac", "stuck")):  # all hidden units
        frame[name] = sum(frame[f"{stat}/{k}"] * w for k, w in zip(layers, widths,
                                                                    strict=True)) / widths.sum()
    return frame


def finals(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per activation and lr: the last epoch's dead and stuck fractions (seed mean, max),
    whether it trains (validation accuracy >= options' ``trains``), and the most ever dead or
    stuck at any epoch."""
    last = table.epoch.max()
    layers = _layers(table)
    trains = float(options["trains"])
    rows = []
    for (activation, lr), part in table.groupby(["activation", "lr"], sort=False):
        end = part[part.epoch == last]
        finite = end.train_loss.notna() & np.isfinite(end.train_loss)
        row = {"activation": activation, "lr": lr,
               "trains": bool(finite.all() and (end.val_acc >= trains).all()),
               "diverged seeds": int((~finite).sum()), "final val acc": end.val_acc.mean()}
        row |= {"dead": end.dead.mean(), "dead max": end.dead.max(),
                "stuck": end.stuck.mean(), "stuck max": end.stuck.max()}
        row |= {f"dead layer {k}": end[f"dead_frac/{k}"].mean() for k in layers}
        row |= {"dead ever": part.dead.max(), "stuck ever": part.stuck.max()}
        # how far from 0 the units' mean output is: |mean activation|, averaged over layers
        row["|act mean|"] = float(np.mean([abs(end[f"act_mean/{k}"].mean()) for k in layers]))
        rows.append(row)
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return finals(table, options)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    f = finals(table, options)
    rises, slack = float(options["rises"]), float(options["slack"])
    checks = []
    relu = f[f.activation == "relu"].sort_values("lr")
    if len(relu):
        ok = relu[relu.trains]
        dead = ok.dead.to_numpy()
        monotone = bool(len(dead) and (dead >= np.maximum.accumulate(dead) - slack).all())
        first = ok[ok.dead > 0].lr.min() if (ok.dead > 0).any() else np.nan
        checks.append(Check(
            f"relu: dead fraction rises with lr over the range where it trains (never "
            f"{slack:.0%} below an earlier lr's, >= {rises:.0%} at the largest)",
            bool(len(dead) >= 2 and monotone and dead[-1] >= rises and dead[-1] > dead[0]),
            "trains up to lr " + (f"{ok.lr.max():g}" if len(ok) else "none") + "; dead: "
            + ", ".join(f"{r.lr:g}: {r.dead:.1%}" for r in ok.itertuples())
            + (f"; first dead units at lr {first:g}" if np.isfinite(first) else "")
            + "".join(f"; lr {r.lr:g} does not train ({r.dead:.0%} dead)"
                      for r in relu[~relu.trains].itertuples())))
    for activation in ("leaky_relu", "elu"):
        part = f[f.activation == activation]
        if not len(part):
            continue
        dead = table[table.activation == activation].dead
        finite = dead[np.isfinite(dead)]
        worst = part.loc[part["stuck ever"].idxmax()] if part["stuck ever"].notna().any() \
            else None
        diverged = part[part["diverged seeds"] > 0]
        checks.append(Check(
            f"by construction: {NAMES[activation]} has no unit exactly 0 on every training "
            "sample (its output is 0 only at z = 0; any lr, epoch, seed)",
            bool(len(finite) and (finite == 0).all()),
            f"most dead: {finite.max():.1%} over {len(finite)} (lr, seed, epoch) rows"
            + (f"; stuck (never positive) up to {worst['stuck ever']:.1%} at lr "
               f"{worst.lr:g}" if worst is not None else "")
            + ("; diverged (NaN, not counted) at lr "
               + ", ".join(f"{r.lr:g} ({r['diverged seeds']} seeds)"
                           for _, r in diverged.iterrows())
               if len(diverged) else "")))
        if activation == "leaky_relu" and len(relu):
            checks.append(_leaky_keeps_units(relu, part, options))
        if activation == "elu" and len(relu):
            checks.append(_elu_mean_nearer_zero(relu, part))
    return checks


def _leaky_keeps_units(relu: pd.DataFrame, leaky: pd.DataFrame, options: dict) -> Check:
    """Lecture 001: leaky ReLU "will not die". Where ReLU ends with dead units and still
    trains, fewer leaky units end stuck (never positive: what dead is for a leaky unit, though
    it still passes a gradient) and the leaky net validates better."""
    losing = float(options["losing"])
    losing_units = relu[relu.trains & (relu.dead >= losing)]
    pairs = losing_units.merge(leaky, on="lr", suffixes=("", "_leaky")).set_index("lr")
    ok = bool(len(pairs) and (pairs.stuck_leaky < pairs.dead).all()
              and (pairs["final val acc_leaky"] > pairs["final val acc"]).all())
    return Check(
        f"leaky ReLU will not die (lecture 001): at every lr where ReLU trains but ends with "
        f">= {losing:.0%} of its units dead, fewer leaky units end stuck than ReLU's end dead, "
        "and the leaky net's validation accuracy is higher", ok,
        ", ".join(f"lr {lr:g}: stuck {r.stuck_leaky:.1%} vs dead {r.dead:.1%}, val "
                  f"{r['final val acc_leaky']:.1%} vs {r['final val acc']:.1%}"
                  for lr, r in pairs.iterrows()) or "no lr where ReLU trains and loses units")


def _elu_mean_nearer_zero(relu: pd.DataFrame, elu: pd.DataFrame) -> Check:
    """Lecture 001: ELU's outputs are "closer to zero mean" than ReLU's (its negative branch
    goes down to -alpha), at every lr where both train."""
    both = relu[relu.trains].merge(elu[elu.trains], on="lr",
                                   suffixes=("", "_elu")).set_index("lr")
    ok = bool(len(both) and (both["|act mean|_elu"] < both["|act mean|"]).all())
    return Check(
        "ELU's outputs are closer to zero mean (lecture 001): |mean activation| of the hidden "
        "units (after the last epoch, mean over layers) below ReLU's at every lr where both "
        "train", ok,
        ", ".join(f"lr {lr:g}: {r['|act mean|_elu']:.2f} vs {r['|act mean|']:.2f}"
                  for lr, r in both.iterrows()) or "no lr where both train")


def draw(table: pd.DataFrame, options: dict):
    f = finals(table, options)
    last = table.epoch[table.epoch == table.epoch.max()].iloc[0]
    fig, axes = plt.subplots(2, 2, figsize=(14, 10))
    (ax_dead, ax_stuck), (ax_acc, ax_time) = axes
    end = table[table.epoch == last]
    seeds = table.seed.nunique()
    layers = _layers(table)
    relu = end[end.activation == "relu"]
    for i, k in enumerate(layers):
        band(ax_dead, relu, "lr", f"dead_frac/{k}", color=f"C{i + 3}", marker="o",
             label=f"ReLU, hidden layer {k}")
    band(ax_dead, relu, "lr", "dead", color="k", marker="s", lw=2,
         label="ReLU, all hidden units")
    for activation in ("leaky_relu", "elu"):
        part = end[end.activation == activation]
        if len(part):
            band(ax_dead, part, "lr", "dead", color=COLORS[activation], marker="^", ls="--",
                 label=f"{NAMES[activation]}, all hidden units")
    no = f[(f.activation == "relu") & ~f.trains]
    for i, lr in enumerate(no.lr):
        ax_dead.axvspan(lr / 1.2, lr * 1.2, color="0.85", lw=0,
                        label="ReLU does not train there" if i == 0 else None)
    ax_dead.set(xscale="log", ylim=(-0.02, 1.02), xlabel="learning rate (plain SGD; log)",
                ylabel="fraction dead: output 0 on every training sample",
                title=f"Dead units after {last} epochs")
    for activation, part in end.groupby("activation", sort=False):
        band(ax_stuck, part, "lr", "stuck", color=COLORS[activation], marker="o",
             label=f"{NAMES[activation]}: stuck (never > 0)"
             + (" = dead" if activation == "relu" else ""))
        band(ax_stuck, part, "lr", "dead", color=COLORS[activation], marker="x", ls=":",
             label=f"{NAMES[activation]}: dead (exactly 0)")
    ax_stuck.set(xscale="log", ylim=(-0.02, 1.02), xlabel="learning rate (plain SGD; log)",
                 ylabel="fraction of all hidden units",
                 title="Dead (exactly 0 everywhere) vs stuck (never positive)")
    trains = float(options["trains"])
    for i, (activation, part) in enumerate(end.groupby("activation", sort=False)):
        band(ax_acc, part, "lr", "val_acc", color=COLORS[activation], marker="o",
             label=NAMES[activation])
        bad = f[(f.activation == activation) & (f["diverged seeds"] > 0)]
        ax_acc.plot(bad.lr, np.full(len(bad), 0.025 + 0.035 * i), "X",
                    color=COLORS[activation], ms=10, mec="k", mew=0.5,
                    label=f"{NAMES[activation]}: a seed diverged" if len(bad) else None)
    ax_acc.axhline(trains, color="k", ls=":", lw=1, label=f"'trains': >= {trains:.0%}")
    ax_acc.axhline(0.1, color="0.5", ls="--", lw=1, label="chance")
    ax_acc.set(xscale="log", ylim=(0, 1), xlabel="learning rate (plain SGD; log)",
               ylabel=f"validation accuracy after {last} epochs",
               title="Where each activation trains")
    lrs = sorted(relu.lr.unique())
    cmap = plt.get_cmap("viridis")
    curves = table[table.activation == "relu"]
    for i, lr in enumerate(lrs):
        band(ax_time, curves[curves.lr == lr], "epoch", "dead",
             color=cmap(i / max(len(lrs) - 1, 1)), label=f"lr {lr:g}")
    ax_time.set(ylim=(-0.02, 1.02), xlabel="epoch",
                ylabel="fraction of ReLU units dead (all hidden units)",
                title="ReLU units dying during training, by learning rate\n(a dead unit "
                      "of layer 2 can revive: the layer below it still learns)")
    ticks = [t for t in (0.01, 0.03, 0.1, 0.3, 0.5, 1, 2) if f.lr.min() <= t <= f.lr.max()]
    for ax in (ax_dead, ax_stuck, ax_acc):
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
    for ax in axes.flat:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    note = f"; lines: mean, bands: min-max over {seeds} seeds" if seeds > 1 else ""
    fig.suptitle(f"Dead ReLUs at large learning rates (MNIST-1D, MLP 40-100-100-10, He init"
                 f"{note})", fontsize=14)
    fig.tight_layout()
    return fig
