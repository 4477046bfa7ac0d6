"""Double descent (lecture 003, Belkin et al. 2019): test error against model size peaks where
the model first fits its training set exactly, then falls again. (a) one-hidden-layer ReLU
MLPs on noisy labels, trained by full-batch Adam; (b) random features with the
minimum-norm least-squares fit."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from trainlab.data import load_dataset
from trainlab.figures.common import Check
from trainlab.figures.plots import band

DATA = {"digits": "8x8 digits", "mnist1d": "MNIST-1D"}
ZERO = 0.0  # train error counted as zero: not one training sample misclassified


def _size(run) -> int:
    return int(run.cfg.model.hidden_widths()[0])


def _trained(run) -> int:
    """The weights training sets: all of an MLP's, only the output layer of random features
    (n_params also counts their frozen hidden layer, (inputs + 1) x width)."""
    s = run.summary
    if all(run.cfg.model.trainable(2)):
        return s["n_params"]
    inputs = load_dataset(run.cfg.data).x_train.shape[1]
    return s["n_params"] - (inputs + 1) * _size(run)


def table(runs, options) -> pd.DataFrame:
    """One row per (model, size, seed): final train and test error and loss."""
    rows = []
    for run in runs:
        s = run.summary
        for seed, one in zip(s["seeds"], s.get("per_seed", [s]), strict=True):
            rows.append({"model": run.arm, "data": DATA.get(run.cfg.data.name,
                                                            run.cfg.data.name),
                         "size": _size(run), "seed": seed,
                         "trained_params": _trained(run), "n_train": run.cfg.data.train_size,
                         "label_noise": run.cfg.data.label_noise,
                         "loss": run.cfg.loss.name, "epochs": run.cfg.epochs,
                         "train_error": 1 - one["final_train_acc"],
                         "test_error": 1 - one["test_acc"],
                         "train_loss": one["final_train_loss"], "test_loss": one["test_loss"],
                         "status": one["status"]})
    return pd.DataFrame(rows)


def sizes(table: pd.DataFrame) -> pd.DataFrame:
    """Per (model, size): the means over seeds (and the seeds' worst train error)."""
    means = table.groupby(["model", "size"], sort=False).agg(
        seeds=("seed", "size"), trained_params=("trained_params", "first"),
        train_error=("train_error", "mean"), worst_train_error=("train_error", "max"),
        test_error=("test_error", "mean"), test_error_std=("test_error", "std"),
        test_error_min=("test_error", "min"), test_error_max=("test_error", "max"),
        train_loss=("train_loss", "mean"), test_loss=("test_loss", "mean"))
    return means.reset_index().sort_values(["model", "size"], kind="stable",
                                           ignore_index=True)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return sizes(table)


def _threshold(part: pd.DataFrame) -> int | None:
    """The smallest size at which every seed fits every training sample."""
    fits = part[part.worst_train_error <= ZERO]
    return int(fits["size"].min()) if len(fits) else None


SPREAD = "by more than the seeds' spread (its worst seed below the peak's best one)"


def _above(peak: pd.Series, side: pd.Series, name: str) -> Check:
    """The peak's min-max band over seeds lies wholly above ``side``'s."""
    gap = (peak.test_error - side.test_error) * 100
    return Check(
        f"(a) the peak stands above {name} {SPREAD}",
        bool(peak.test_error_min > side.test_error_max),
        f"width {int(peak['size'])}: {peak.test_error:.1%} ({peak.test_error_min:.1%}-"
        f"{peak.test_error_max:.1%}) vs width {int(side['size'])}: {side.test_error:.1%} "
        f"({side.test_error_min:.1%}-{side.test_error_max:.1%}), {gap:.1f} points apart")


def _mlp_checks(s: pd.DataFrame) -> list[Check]:
    s = s.reset_index(drop=True)
    widths = list(s["size"])
    threshold = _threshold(s)
    peak = int(s.loc[s.test_error.idxmax(), "size"])
    at = widths.index(peak)
    near = threshold is not None and abs(widths.index(threshold) - at) <= 1
    before = s.iloc[widths.index(threshold) - 1] if threshold and widths.index(threshold) else None
    checks = [Check(
        "(a) test error peaks where train error first reaches 0 (that width or a "
        "neighbouring one tried)", near,
        f"peak at width {peak} ({s.test_error[at]:.1%}); train error first 0 (all seeds) at "
        f"width {threshold}" + (f", {before.train_error:.1%} at width {int(before['size'])}"
                                if before is not None else ""))]
    smaller = s.iloc[:at]
    if len(smaller):
        left = smaller.loc[smaller.test_error.idxmin()]
        checks.append(_above(s.iloc[at], left, "the best smaller width"))
    else:
        checks.append(Check(f"(a) the peak stands above the best smaller width {SPREAD}",
                            False, "no smaller width"))
    checks.append(_above(s.iloc[at], s.iloc[-1], "the largest width"))
    ce_peak = int(s.loc[s.test_loss.idxmax(), "size"])
    ce_at = widths.index(ce_peak)
    sharp = s.test_loss[ce_at] / max(s.test_loss.iloc[0], s.test_loss.iloc[-1])
    checks.append(Check(
        "(a) test cross-entropy peaks sharply there (within one width of the error peak, "
        ">= 2x both ends)", abs(ce_at - at) <= 1 and sharp >= 2,
        f"peak {s.test_loss[ce_at]:.2f} nats at width {ce_peak}; width {widths[0]}: "
        f"{s.test_loss.iloc[0]:.2f}, width {widths[-1]}: {s.test_loss.iloc[-1]:.2f} "
        f"({sharp:.1f}x)"))
    return checks


def _features_checks(s: pd.DataFrame, n: int) -> list[Check]:
    s = s.reset_index(drop=True)
    peak = s.loc[s.test_error.idxmax()]
    ratio = peak["size"] / n
    checks = [Check("(b) test error peaks near #features = #samples (within 1.5x)",
                    bool(1 / 1.5 <= ratio <= 1.5),
                    f"peak at {int(peak['size'])} features, {n} samples")]
    chance = 0.9
    checks.append(Check("(b) the peak is close to chance (test error >= 80%, chance 90%)",
                        bool(peak.test_error >= 0.8), f"{peak.test_error:.1%}"))
    over = s[s["size"] >= n]
    checks.append(Check("(b) from #features = #samples on, the minimum-norm fit interpolates "
                        "(train MSE < 1e-8)", bool((over.train_loss < 1e-8).all()),
                        f"largest train MSE {over.train_loss.max():.1e}; the largest model's "
                        f"test error {s.test_error.iloc[-1]:.1%} (chance {chance:.0%})"))
    return checks


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    s = sizes(table)
    checks = []
    if "mlp" in set(s.model):
        checks += _mlp_checks(s[s.model == "mlp"])
    if "random_features" in set(s.model):
        n = int(table[table.model == "random_features"].n_train.iloc[0])
        checks += _features_checks(s[s.model == "random_features"], n)
    return checks


def _size_axis(ax, part: pd.DataFrame) -> None:
    ticks = sorted(set(part["size"]))
    ax.set_xscale("log")
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=8)
    ax.minorticks_off()


def draw(table: pd.DataFrame, options: dict):
    fig, axes = plt.subplots(2, 2, figsize=(15, 10))
    s = sizes(table)
    part = table[table.model == "mlp"]
    if not part.empty:
        threshold = _threshold(s[s.model == "mlp"])
        first = part.iloc[0]
        ax = axes[0, 0]
        # test error on its own (left) scale: its peak is a few points high; train error on
        # the right one, from 0
        band(ax, part, "size", "test_error", color="C3", label="test error (left axis)",
             marker="o")
        ax.set(ylabel="test error (classification, zoomed)",
               title=f"(a) one hidden layer of ReLUs, {first.n_train} {first.data} samples with "
                     f"{first.label_noise:.0%} flipped labels,\nfull-batch Adam, {first.epochs} "
                     "steps (mean, min-max over seeds)")
        ax.yaxis.label.set_color("C3")
        right = ax.twinx()
        band(right, part, "size", "train_error", color="C0", label="train error (right axis)",
             marker="s", ls="--")
        right.set_ylim(-0.02, 1.0)
        right.set_ylabel("train error (classification)", color="C0")
        lines = right.get_legend_handles_labels()
        ax = axes[0, 1]
        band(ax, part, "size", "test_loss", color="C3", label="test cross-entropy", marker="o")
        band(ax, part, "size", "train_loss", color="C0", label="train cross-entropy",
             marker="s", ls="--")
        ax.set(yscale="log", ylabel="cross-entropy (nats, log scale)",
               title="(a) the same nets: test cross-entropy peaks sharply at interpolation")
        for ax in axes[0]:
            _size_axis(ax, part)
            ax.set_xlabel("hidden units (width, log scale)")
            if threshold is not None:
                ax.axvline(threshold, color="k", ls=":", lw=1.2,
                           label=f"train error first 0: width {threshold}")
        handles, labels = axes[0, 0].get_legend_handles_labels()
        axes[0, 0].legend(handles + lines[0], labels + lines[1], fontsize=8, loc="center right")
        axes[0, 1].legend(fontsize=8)
    part = table[table.model == "random_features"]
    if not part.empty:
        n = int(part.n_train.iloc[0])
        ax = axes[1, 0]
        band(ax, part, "size", "test_error", color="C3", label="test error", marker="o")
        band(ax, part, "size", "train_error", color="C0", label="train error", marker="s",
             ls="--")
        ax.axhline(0.9, color="gray", ls="-.", lw=1, label="chance (10 classes)")
        ax.set(ylabel="classification error", ylim=(-0.02, 1.0),
               title=f"(b) random ReLU features, minimum-norm least squares on one-hot targets"
                     f",\n{n} clean {part.data.iloc[0]} samples (Belkin's setting)")
        ax = axes[1, 1]
        band(ax, part, "size", "test_loss", color="C3", label="test MSE", marker="o")
        floor = 1e-12  # float64 round-off (~1e-28 for an exact interpolant) drawn here
        band(ax, part.assign(train_loss=part.train_loss.clip(lower=floor)), "size",
             "train_loss", color="C0", label="train MSE (below 1e-12 drawn at 1e-12)",
             marker="s", ls="--")
        ax.set(yscale="log", ylabel="mean squared error (log scale)",
               title="(b) the same fits: test MSE explodes at #features = #samples")
        for ax in axes[1]:
            _size_axis(ax, part)
            ax.set_xlabel("random features (log scale)")
            ax.axvline(n, color="k", ls=":", lw=1.2, label=f"#features = #samples = {n}")
            ax.legend(fontsize=8)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle("Double descent: test error against model size peaks where the model first "
                 "interpolates its training set (Belkin et al.)", fontsize=13)
    fig.tight_layout()
    return fig
