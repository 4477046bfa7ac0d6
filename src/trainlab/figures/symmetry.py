"""The beginner's trap (lectures 000 and 001): all weights of a layer equal at init.

Equal weights make every unit of a layer compute the same output and receive the same
gradient, so the units stay copies of each other: the layer is one unit wide, however many
it has. The figure counts the distinct units per layer over training (``distinct/k``) and
compares the accuracy with a net that really is one unit wide.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, load_params
from trainlab.figures.plots import band

ORDER = ("zeros", "constant", "normal", "xavier", "width 1")
COLORS = {"zeros": "C3", "constant": "C1", "normal": "C2", "xavier": "C0", "width 1": "0.3"}
SYMMETRIC = ("zeros", "constant")
RANDOM = ("normal", "xavier")


def _init(run) -> tuple[str, str]:
    """(the init's short name, its label with the numbers)."""
    init = run.cfg.init
    if run.arm == "width1":
        return "width 1", f"width 1 (Xavier, lr {run.cfg.optimizer.lr:g})"
    if init.name in ("zeros", "constant") and getattr(init, "value", 0.0) == 0.0:
        return "zeros", "zeros (all weights 0)"
    if init.name == "constant":
        return "constant", f"constant (all weights {init.value:g})"
    if init.name == "normal":
        return "normal", f"normal N(0, {init.std:g}²)"
    return "xavier", "Xavier (normal)"


def table(runs, options) -> pd.DataFrame:
    frames = []
    for run in runs:
        name, label = _init(run)
        m = run.metrics
        hidden = len(run.cfg.model.widths)
        frame = pd.DataFrame({
            "part": "curve", "init": name, "label": label, "lr": run.cfg.optimizer.lr,
            "width": run.cfg.model.widths[0], "seed": m.seed, "epoch": m.epoch,
            "train_acc": m.train_acc, "val_acc": m.val_acc,
        })
        for k in range(1, hidden + 1):
            frame[f"distinct/{k}"] = m[f"distinct/{k}"]
        frames.append(frame)
        if name != "width 1":  # the first layer's weights after training (first seed)
            w = load_params(run)["layers"][0]["w"]
            inputs, units = np.meshgrid(np.arange(w.shape[0]), np.arange(w.shape[1]),
                                        indexing="ij")
            frames.append(pd.DataFrame({
                "part": "weights", "init": name, "label": label, "seed": run.cfg.seed,
                "input": inputs.ravel(), "unit": units.ravel(), "w": w.ravel(),
            }))
    return pd.concat(frames, ignore_index=True)


def _curves(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.part == "curve"]


def _width1(curves: pd.DataFrame) -> pd.DataFrame:
    """The width-1 net at its best learning rate (highest final val accuracy, seed mean)."""
    w1 = curves[curves.init == "width 1"]
    last = w1[w1.epoch == w1.epoch.max()]
    best = last.groupby("lr").val_acc.mean().idxmax()
    return w1[w1.lr == best]


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per init: distinct units over the whole run, final accuracies (seed means)."""
    curves = _curves(table)
    layers = [c for c in curves if c.startswith("distinct/")]
    rows = []
    for name in ORDER:
        part = _width1(curves) if name == "width 1" else curves[curves.init == name]
        if not len(part):
            continue
        last = part[part.epoch == part.epoch.max()]
        row = {"init": name, "label": part.label.iloc[0], "width": int(part.width.iloc[0])}
        for c in layers:
            row[f"{c} min"] = int(part[c].min())
            row[f"{c} max"] = int(part[c].max())
        row |= {"final train acc": last.train_acc.mean(), "final val acc": last.val_acc.mean(),
                "val acc min": last.val_acc.min(), "val acc max": last.val_acc.max()}
        rows.append(row)
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return summary(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    s = summary(table).set_index("init")
    layers = [c[:-4] for c in s.columns if c.startswith("distinct/") and c.endswith(" min")]
    margin, learns = float(options["margin"]), float(options["learns"])
    ref = s.loc["width 1"]
    checks = []
    for name in (n for n in SYMMETRIC if n in s.index):
        r = s.loc[name]
        counts = ", ".join(f"layer {c.split('/')[1]}: {r[c + ' min']}..{r[c + ' max']}"
                           for c in layers)
        checks.append(Check(
            f"{name}: 1 distinct unit per layer for the whole run (every epoch, every seed)",
            all(r[c + " min"] == 1 and r[c + " max"] == 1 for c in layers), counts))
        checks.append(Check(
            f"{name}: accuracy no better than a width-1 net (final train and val accuracy "
            f"at most {margin:.0%} above its best)",
            bool(r["final train acc"] <= ref["final train acc"] + margin
                 and r["final val acc"] <= ref["final val acc"] + margin),
            f"train {r['final train acc']:.1%}, val {r['final val acc']:.1%} vs width 1: "
            f"train {ref['final train acc']:.1%}, val {ref['final val acc']:.1%}"))
    for name in (n for n in RANDOM if n in s.index):  # the reduced build has one
        r = s.loc[name]
        width = r.width
        checks.append(Check(
            f"{name}: all {width} units of every layer distinct for the whole run",
            all(r[c + " min"] == width for c in layers),
            ", ".join(f"layer {c.split('/')[1]}: min {r[c + ' min']}" for c in layers)))
        checks.append(Check(
            f"{name}: learns (final train accuracy at least {learns:.0%} above the width-1 "
            "net's, val accuracy above it)",
            bool(r["final train acc"] >= ref["final train acc"] + learns
                 and r["final val acc"] > ref["final val acc"]),
            f"train {r['final train acc']:.1%}, val {r['final val acc']:.1%} vs width 1: "
            f"train {ref['final train acc']:.1%}, val {ref['final val acc']:.1%}"))
    return checks


def _accuracy(ax, curves: pd.DataFrame, column: str, split: str) -> None:
    for name in ORDER:
        part = _width1(curves) if name == "width 1" else curves[curves.init == name]
        if not len(part):
            continue
        label = part.label.iloc[0]
        if name == "width 1":
            label = f"width-1 net 40-1-1-10 (Xavier, its best lr {part.lr.iloc[0]:g})"
        band(ax, part, "epoch", column, color=COLORS[name], label=label,
             lw=2.5 if name == "width 1" else 1.8, ls=":" if name == "width 1" else "-")
    ax.axhline(0.1, color="k", lw=0.8, ls="--", label="chance (10 classes)")
    seeds = curves.seed.nunique()
    ax.set(xlabel="epoch", ylabel=f"{split} accuracy", ylim=(0, 1),
           title=f"{split.capitalize()} accuracy\n(mean, min-max band over {seeds} seeds)")
    ax.grid(alpha=0.3)


def draw(table: pd.DataFrame, options: dict):
    curves = _curves(table)
    weights = table[table.part == "weights"]
    shown = [n for n in ORDER[:4] if (weights.init == n).any()]
    fig = plt.figure(figsize=(17, 10.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1], hspace=0.04)
    ax_d, ax_t, ax_v = top.subplots(1, 3)
    layers = [c for c in curves if c.startswith("distinct/")]
    styles = ["-", "--", ":", "-."]
    for name in ORDER[:4]:
        part = curves[curves.init == name]
        if not len(part):
            continue
        for c, ls in zip(layers, styles, strict=False):
            lo = part.groupby("epoch")[c].min()
            ax_d.plot(lo.index, lo.values, ls=ls, color=COLORS[name],
                      lw=5 if name in ("zeros", "normal") else 1.8,
                      label=f"{part.label.iloc[0]}, layer {c.split('/')[1]}")
    width = int(curves[curves.init != "width 1"].width.max())
    ticks = sorted({2**i for i in range(int(np.log2(width)) + 1)} | {width})  # the width too
    ax_d.set_yscale("log", base=2)
    ax_d.set(ylim=(0.7, width * 1.6), yticks=ticks, yticklabels=[str(t) for t in ticks],
             xlabel="epoch", ylabel=f"distinct hidden units (of {width}; min over seeds)",
             title="Distinct units per hidden layer\n(thick lines lie under thin ones)")
    ax_d.legend(fontsize=7.5, loc="center right")
    ax_d.grid(alpha=0.3)
    _accuracy(ax_t, curves, "train_acc", "training")
    _accuracy(ax_v, curves, "val_acc", "validation")
    ax_v.legend(fontsize=8, loc="upper right")
    for i, (ax, name) in enumerate(zip(bottom.subplots(1, max(len(shown), 1)), shown,
                                       strict=False)):
        part = weights[weights.init == name]
        w = part.pivot(index="input", columns="unit", values="w").to_numpy()
        span = float(np.abs(w).max()) or 1.0
        image = ax.imshow(w, cmap="RdBu_r", vmin=-span, vmax=span, aspect="auto",
                          interpolation="nearest")
        same = np.allclose(w, w[:, :1], rtol=0, atol=1e-3 * span)
        note = ("all still exactly 0" if not np.any(w) else
                "every column the same" if same else "every column different")
        ax.set(title=f"{part.label.iloc[0]}: layer-1 weights\nafter training ({note})",
               xlabel=f"hidden unit (of {w.shape[1]})",
               ylabel="input feature (of 40)" if i == 0 else None)
        ax.title.set_fontsize(10)
        bottom.colorbar(image, ax=ax, shrink=0.85, label="weight (first seed)")
    fig.suptitle("The symmetry trap: a layer whose weights start equal stays one unit wide "
                 f"(MNIST-1D, MLP 40-{width}-{width}-10, tanh, Adam)", fontsize=14)
    return fig
