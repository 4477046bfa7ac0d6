"""Loss curves at a very high, a high, a low and a good learning rate (lecture 001, CS231n's
picture), and where each sits in a scan of rates; trainlab doctor's verdict on each curve."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.doctor import curves
from trainlab.doctor.findings import FAIL, PASS, WARN
from trainlab.figures.common import Check

ARMS = ("very_high", "high", "low", "good")  # the lecture's four curves
LABELS = {"very_high": "very high", "high": "high", "low": "low", "good": "good"}
COLORS = {"very_high": "C3", "high": "C1", "low": "C0", "good": "C2"}
DOCTOR = {"very_high": FAIL, "high": WARN, "low": PASS, "good": PASS}  # "lr too high"


def table(runs, options) -> pd.DataFrame:
    """Every run's train and val loss per (seed, epoch), with its arm, lr and status; a
    diverged run's loss is NaN from the epoch it stopped being finite (the run froze there)."""
    frames = []
    for run in runs:
        frame = run.metrics[["seed", "epoch", "step", "train_loss", "val_loss"]].copy()
        frame.insert(0, "arm", run.arm)
        frame.insert(1, "lr", run.cfg.optimizer.lr)
        frame["status"] = run.summary["status"]
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    frame.loc[~np.isfinite(frame.train_loss), ["train_loss", "val_loss"]] = np.nan
    return frame


def mean_curve(table: pd.DataFrame, arm: str, lr: float | None = None) -> pd.Series:
    """The train loss per epoch, mean over seeds (NaN once a seed diverged)."""
    part = table[table.arm == arm]
    if lr is not None:
        part = part[np.isclose(part.lr, lr)]
    return part.groupby("epoch").train_loss.apply(lambda s: s.mean(skipna=False))


def finals(table: pd.DataFrame) -> pd.DataFrame:
    """Per arm (and each rate of the scan): the lr, the epoch-0 and final train loss (NaN:
    diverged) and the first epoch whose loss was not finite."""
    rows = []
    for (arm, lr), part in table.groupby(["arm", "lr"], sort=False):
        curve = part.groupby("epoch").train_loss.apply(lambda s: s.mean(skipna=False))
        bad = curve.index[curve.isna()]
        rows.append({"arm": arm, "lr": lr, "initial": curve.iloc[0], "final": curve.iloc[-1],
                     "diverged_epoch": int(bad.min()) if len(bad) else np.nan,
                     "epochs": int(curve.index.max())})
    return pd.DataFrame(rows)


def doctor(table: pd.DataFrame) -> dict[str, str]:
    """trainlab doctor's "lr too high" verdict on each of the four curves (its own code)."""
    return {arm: curves.lr_too_high(table[table.arm == arm]).status for arm in ARMS}


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    f = finals(table)
    verdicts = doctor(table)
    f["doctor: lr too high"] = f.arm.map(verdicts).fillna("")
    return f


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    f = finals(table)
    four = f[f.arm != "scan"].set_index("arm")
    good, high, low, very = (mean_curve(table, a) for a in ("good", "high", "low", "very_high"))
    g = float(good.iloc[-1])
    k = int(options["early_epoch"])
    tolerance, stall, best = (float(options[o]) for o in ("early_tolerance", "stall_ratio",
                                                           "best_ratio"))
    early = float(high[k] / good[k] - 1)
    very_row = four.loc["very_high"]
    exploded = bool(np.isnan(very_row.final) or very_row.final > very_row.initial)
    falls = np.diff(low.to_numpy())
    scan = f[(f.arm == "scan") & np.isfinite(f.final)]
    lowest = scan.loc[scan.final.idxmin()] if len(scan) else None
    verdicts = doctor(table)
    others = four.drop(index="good").final
    return [
        Check("very high lr: the loss explodes (not finite, or above its initial value)",
              exploded,
              f"lr {very_row.lr:g}: " + (f"not finite from epoch {int(very_row.diverged_epoch)}"
                                         if np.isfinite(very_row.diverged_epoch) else
                                         f"{very_row.initial:.3g} -> {very_row.final:.3g}")),
        Check(f"high lr: as fast as the good lr at first (epoch {k} within "
              f"{tolerance:.0%}), then stalls: ends >= {stall:g}x above it",
              bool(abs(early) <= tolerance and high.iloc[-1] >= stall * g),
              f"lr {four.loc['high'].lr:g}: epoch {k} {high[k]:.3f} vs good {good[k]:.3f} "
              f"({early:+.1%}); final {high.iloc[-1]:.3g} vs good {g:.3g} "
              f"({high.iloc[-1] / g:.0f}x)"),
        Check(f"low lr: slow and steady, the loss falls in every epoch yet ends >= {stall:g}x "
              "above the good lr",
              bool((falls < 0).all() and low.iloc[-1] >= stall * g),
              f"lr {four.loc['low'].lr:g}: rose in {int((falls >= 0).sum())} of {len(falls)} "
              f"epochs; final {low.iloc[-1]:.3g} vs good {g:.3g} ({low.iloc[-1] / g:.0f}x)"),
        Check(f"good lr: the lowest final train loss of the four, and no rate of the scan ends "
              f"more than {best:g}x lower",
              bool(np.isfinite(g) and (others.isna() | (others > g)).all()
                   and lowest is not None and lowest.final * best >= g),
              f"lr {four.loc['good'].lr:g}: {g:.3g}; the others "
              + ", ".join(f"{LABELS[a]} {v:.3g}" for a, v in others.items())
              + (f"; the scan's lowest {lowest.final:.3g} at lr {lowest.lr:g}"
                 if lowest is not None else "; no scan")),
        Check("trainlab doctor's 'lr too high' verdict reads the four curves the same way "
              "(very high FAIL, high WARN, low and good PASS)",
              verdicts == DOCTOR,
              ", ".join(f"{LABELS[a]} {s}" for a, s in verdicts.items())),
    ]


def draw(table: pd.DataFrame, options: dict):
    f = finals(table)
    fig, axes = plt.subplots(1, 2, figsize=(14, 5.2), gridspec_kw={"width_ratios": [1.3, 1]})
    ax = axes[0]
    initial = float(f.initial.iloc[0])
    top = 1.12 * initial
    for arm in ARMS:
        curve = mean_curve(table, arm)
        lr = float(f[f.arm == arm].lr.iloc[0])
        label = f"{LABELS[arm]} lr ({lr:g})"
        ax.plot(curve.index, curve.to_numpy(), color=COLORS[arm], lw=2, marker=".", ms=5,
                label=label)
        bad = curve.index[curve.isna()]
        if len(bad):  # draw the explosion: up and off the axis in the epoch it went NaN
            first = int(bad.min())
            ax.annotate("", xy=(first, top * 0.99), xytext=(first - 1, curve[first - 1]),
                        arrowprops={"arrowstyle": "->", "color": COLORS[arm], "lw": 2})
            ax.text(first + 0.3, top * 0.95, f"{LABELS[arm]}: not finite in epoch {first}",
                    color=COLORS[arm], fontsize=9, va="top")
    ax.set(xlabel="epoch", ylabel="training loss (cross-entropy, nats; mean of the seeds)",
           ylim=(0, top), title="Loss curves at four learning rates (plain SGD, batch 32)")
    ax.legend(loc="center right")

    ax = axes[1]
    scan = f[f.arm == "scan"]
    ok = scan[np.isfinite(scan.final)]
    ax.plot(ok.lr, ok.final, color="0.4", marker="o", ms=5, lw=1, label="final train loss")
    gone = scan[~np.isfinite(scan.final)]
    ceiling = 1.5 * initial
    ax.scatter(gone.lr, np.full(len(gone), ceiling), marker="^", s=70, color="0.4",
               label="diverged (loss not finite)")
    for arm in ARMS:
        row = f[f.arm == arm].iloc[0]
        y = row.final if np.isfinite(row.final) else ceiling
        ax.scatter([row.lr], [y], s=150, facecolor="none", edgecolor=COLORS[arm], lw=2.5,
                   label=f"{LABELS[arm]} ({row.lr:g})", zorder=3)
    ax.axhline(np.log(10), color="0.6", ls=":", lw=1)
    ax.text(ok.lr.min(), np.log(10) * 1.08, "ln 10: chance", fontsize=8, color="0.4")
    ax.set(xscale="log", yscale="log", xlabel="learning rate (log scale)",
           ylabel=f"train loss after {int(f.epochs.max())} epochs (log scale)",
           title="Where the four sit: the final loss over a scan of rates")
    ax.legend(fontsize=8, loc="lower left")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
