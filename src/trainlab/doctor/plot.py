"""doctor.png: the lr range test, the per-layer statistics at init, and the small-subset fit."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only, never a window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from trainlab.doctor import lr_range  # noqa: E402
from trainlab.doctor.checks import at_epoch, layer_values  # noqa: E402
from trainlab.doctor.trials import Measurements  # noqa: E402


def _lr_panel(ax, frame: pd.DataFrame | None, result: lr_range.RangeResult | None,
              m: Measurements, chance: float) -> None:
    ax.set_title("lr range test: train loss after the short run")
    if frame is None:
        ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
        return
    initial = float(at_epoch(m.own, 0)["train_loss"])
    top = 1.3 * max(initial, chance)
    shown = lambda v: np.minimum(np.where(np.isfinite(v), v, top), top)  # noqa: E731
    ax.fill_between(frame.lr, shown(frame["min"]), shown(frame["max"]), alpha=0.25,
                    color="C0", label=f"seeds' range ({m.budget.seeds} seeds)")
    ax.plot(frame.lr, shown(frame["median"]), "o-", color="C0", ms=3, label="median")
    best = result.best if result is not None else np.inf
    stalled = lr_range.no_progress(frame, chance)
    broken = lr_range.diverged(frame) | (stalled & (frame.lr > best))
    slow = stalled & ~broken
    ax.plot(frame.lr[broken], np.full(broken.sum(), top * 0.97), "x", color="C3", ms=8,
            label="diverged or collapsed to chance")
    ax.plot(frame.lr[slow], np.full(slow.sum(), top * 0.97), "v", color="0.4", ms=6,
            label="no better than chance yet: too slow")
    ax.axhline(chance, color="k", ls="--", lw=1, label=f"chance (best constant) {chance:.3g}")
    ax.axhline(initial, color="0.5", ls=":", lw=1, label=f"at init {initial:.3g}")
    if result is not None:
        ax.axvspan(result.low, result.high, color="C2", alpha=0.15,
                   label=f"good range {result.low:.2g}..{result.high:.2g}")
        at = frame.loc[np.isclose(frame.lr, result.suggested), "median"].to_numpy()
        ax.plot([result.suggested], shown(at[:1]), "*", color="C2", ms=14, zorder=5,
                label=f"suggested {lr_range.round_lr(result.suggested):g}")
        if result.divergent_from:
            ax.axvline(result.divergent_from, color="C3", lw=1,
                       label=f"divergent from {result.divergent_from:.2g}")
    own = m.cfg.optimizer.lr
    own_loss = m.own[m.own.epoch == m.own.epoch.max()].train_loss.max()
    ax.axvline(own, color="C1", lw=2, label=f"config's lr {own:g}")
    ax.plot([own], shown(np.array([own_loss])), "D", color="C1", ms=8, zorder=5)
    ax.set(xscale="log", ylim=(0, top), xlabel="optimizer.lr",
           ylabel=f"train loss after {int(m.own.step.max())} steps")
    ax.legend(fontsize=7, loc="lower left")


def _scale_panel(ax, m: Measurements) -> None:
    ax.set_title("per layer at init: scales (log)")
    row0, row1 = at_epoch(m.own, 0), at_epoch(m.own, 1)
    for stat, row, label, marker in (
            ("act_std", row0, "activation std", "o"),
            ("grad_norm", row0, "|dJ/dW|", "s"),
            ("update_ratio", row1, "update / weight after epoch 1", "^")):
        values = layer_values(row, stat)
        if values:
            ax.plot(list(values), list(values.values()), marker + "-", label=label)
    ax.axhline(1e-3, color="0.5", ls=":", lw=1, label="update ratio ~1e-3 (rule of thumb)")
    ax.set(yscale="log", xlabel="layer (the last is the output layer)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(fontsize=7)


def _fraction_panel(ax, m: Measurements) -> None:
    ax.set_title("per hidden layer at init: fractions")
    row = at_epoch(m.own, 0)
    widths = dict(enumerate(m.facts.widths, start=1))
    stats = {"dead": layer_values(row, "dead_frac"), "saturated": layer_values(row, "act_sat"),
             "distinct / width": {k: v / widths[k] for k, v in
                                  layer_values(row, "distinct").items() if k in widths}}
    stats = {k: v for k, v in stats.items() if v}
    if not stats:
        ax.text(0.5, 0.5, "no hidden layer", ha="center", transform=ax.transAxes)
        return
    layers = sorted({k for v in stats.values() for k in v})
    width = 0.8 / len(stats)
    for i, (name, values) in enumerate(stats.items()):
        ax.bar(np.array(layers) + (i - (len(stats) - 1) / 2) * width,
               [values.get(k, 0) for k in layers], width, label=name)
    ax.set(ylim=(0, 1.05), xticks=layers, xlabel="hidden layer")
    ax.legend(fontsize=7)


def _overfit_panel(ax, m: Measurements) -> None:
    samples = m.budget.overfit_samples
    ax.set_title(f"overfit {samples} samples (full batch)")
    if m.overfit is None:
        ax.text(0.5, 0.5, "not run", ha="center", transform=ax.transAxes)
        return
    column = "train_acc" if m.facts.task != "regression" else "train_loss"
    for factor, part in m.overfit.groupby("lr_factor"):
        curve = part.groupby("epoch")[column]
        label = f"lr x{factor:g} ({m.cfg.optimizer.lr * factor:.2g})"
        line, = ax.plot(curve.mean().index, curve.mean(), label=label,
                        lw=2 if factor == 1 else 1)
        ax.fill_between(curve.min().index, curve.min(), curve.max(), alpha=0.2,
                        color=line.get_color())
    if column == "train_loss":
        ax.set_yscale("log")
    ax.set(xlabel="step", ylabel=column.replace("_", " "))
    ax.legend(fontsize=7)


def draw(m: Measurements, frame: pd.DataFrame | None, result: lr_range.RangeResult | None,
         chance: float, title: str):
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    _lr_panel(axes[0, 0], frame, result, m, chance)
    _scale_panel(axes[0, 1], m)
    _fraction_panel(axes[1, 0], m)
    _overfit_panel(axes[1, 1], m)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    return fig
