"""Weight penalties (lectures 000 and 003): L2 shrinks, L1 sparsifies, elastic net lies
between; max-norm bounds each layer's Frobenius norm. kappa (and max-norm's c) swept in log
space; the weights' histograms come from each run's params_final.npz."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, load_params, runs_table
from trainlab.figures.plots import band, plain_log_y

KAPPA, C = "regularizer.kappa", "regularizer.c"
NAMES = {"none": "no penalty", "l2": "L2", "l1": "L1", "elastic_net": "elastic net (mix 0.5)",
         "max_norm": "max-norm"}
COLORS = {"none": "0.3", "l2": "C0", "l1": "C3", "elastic_net": "C4", "max_norm": "C2"}
PENALTIES = ("l2", "l1", "elastic_net")


def _layers(frame: pd.DataFrame) -> list[int]:
    return sorted(int(c.split("/")[1]) for c in frame if c.startswith("weight_norm/"))


def _histogram(run, edges: np.ndarray) -> pd.DataFrame:
    """Fractions of all weights (every layer's W, first seed) in bins of log10|w|."""
    layers = load_params(run)["layers"]
    w = np.abs(np.concatenate([layer["w"].ravel() for layer in layers]))
    index = np.clip(np.searchsorted(edges, np.log10(np.maximum(w, 1e-30)), side="right") - 1,
                    0, len(edges) - 2)
    counts = np.bincount(index, minlength=len(edges) - 1)
    return pd.DataFrame({"bin": np.arange(len(edges) - 1), "lo": edges[:-1], "hi": edges[1:],
                         "fraction": counts / w.size})


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs)
    for key in (KAPPA, C):
        if key not in frame:
            frame[key] = np.nan
    layers = _layers(frame)
    sizes = [layer["w"].size for layer in load_params(runs[0])["layers"]]
    name = np.where((frame.arm == "l2") & (frame[KAPPA] == 0), "none", frame.arm)
    curves = pd.DataFrame({"part": "curve", "penalty": name, "kappa": frame[KAPPA],
                           "c": frame[C], "seed": frame.seed, "epoch": frame.epoch,
                           "train_loss": frame.train_loss, "val_acc": frame.val_acc})
    for k in layers:
        curves[f"weight_norm/{k}"] = frame[f"weight_norm/{k}"]
    curves["weight_norm"] = np.sqrt(sum(frame[f"weight_norm/{k}"] ** 2 for k in layers))
    curves["near_zero"] = sum(frame[f"sparsity/{k}"] * n for k, n in zip(layers, sizes,
                                                                       strict=True)) / sum(sizes)
    start, stop, bins = options["hist_bins"]
    edges = np.linspace(start, stop, int(bins) + 1)
    hists = []
    for run in runs:
        kappa = run.values.get(KAPPA, np.nan)
        h = _histogram(run, edges)
        h.insert(0, "part", "hist")
        h.insert(1, "penalty", "none" if run.arm == "l2" and kappa == 0 else run.arm)
        h.insert(2, "kappa", kappa)
        h.insert(3, "c", run.values.get(C, np.nan))
        hists.append(h)
    out = pd.concat([curves, *hists], ignore_index=True)
    out["threshold"] = runs[0].cfg.sparsity_threshold
    return out


def finals(table: pd.DataFrame) -> pd.DataFrame:
    """Per penalty and kappa (or c): the last epoch's numbers, mean over seeds."""
    curves = table[table.part == "curve"]
    last = curves[curves.epoch == curves.epoch.max()]
    columns = ["val_acc", "weight_norm", "near_zero",
               *(c for c in curves if c.startswith("weight_norm/"))]
    grouped = last.groupby(["penalty", "kappa", "c"], dropna=False, sort=False)
    out = grouped[columns].mean()
    out["val_acc_min"] = grouped.val_acc.min()
    out["val_acc_max"] = grouped.val_acc.max()
    return out.reset_index()


def matched(table: pd.DataFrame, options: dict) -> dict[str, pd.Series]:
    """The no-penalty net and each penalty at its strongest kappa whose val accuracy is
    within options' ``match`` of the no-penalty net's (so all of them within it of each
    other)."""
    f = finals(table)
    tol = float(options["match"])
    none = f[f.penalty == "none"].iloc[0]
    pick = {"none": none}
    for name in PENALTIES:
        ok = f[(f.penalty == name) & (f.kappa > 0) & ((f.val_acc - none.val_acc).abs() <= tol)]
        if len(ok):
            pick[name] = ok.loc[ok.kappa.idxmax()]
    return pick


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    f = finals(table)
    rows = []
    for (penalty, value), part in f.groupby(
            ["penalty", np.where(f.penalty == "max_norm", f.c, f.kappa)], sort=False):
        r = part.iloc[0]
        rows.append({"penalty": NAMES[penalty],
                     "kappa or c": "-" if penalty == "none" else f"{value:g}",
                     "val acc": r.val_acc, "near-zero weights": r.near_zero,
                     "||W|| (all layers)": r.weight_norm,
                     **{f"||W_{c.split('/')[1]}||": r[c] for c in f if c.startswith("weight_")
                        and "/" in c}})
    return pd.DataFrame(rows)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    f = finals(table)
    checks = []
    pick = matched(table, options)
    threshold = float(table.threshold.iloc[0])
    tol, sparser = float(options["match"]), float(options["sparser"])
    if "l1" in pick and "l2" in pick:
        l1, l2 = pick["l1"], pick["l2"]
        ratio = l1.near_zero / max(l2.near_zero, 1e-12)
        checks.append(Check(
            f"at matched val accuracy (each at its strongest kappa within {tol:.0%} of no "
            f"penalty) L1's fraction of near-zero weights (|w| < {threshold:g}) >> L2's (at "
            f"least {sparser:g}x)",
            bool(ratio >= sparser),
            f"L1 kappa {l1.kappa:g}: {l1.near_zero:.1%} near zero, val {l1.val_acc:.1%}; L2 "
            f"kappa {l2.kappa:g}: {l2.near_zero:.1%}, val {l2.val_acc:.1%} ({ratio:.0f}x); "
            f"no penalty: {pick['none'].near_zero:.1%}, val {pick['none'].val_acc:.1%}"))
    else:
        checks.append(Check("at matched val accuracy L1's near-zero fraction >> L2's", False,
                            "no L1 or L2 net within the no-penalty net's val accuracy"))
    l2 = f[f.penalty.isin(["none", "l2"])].sort_values("kappa")
    norms = l2.weight_norm.to_numpy()
    checks.append(Check(
        "L2's weight norm falls with kappa (every step of the sweep, kappa = 0 first)",
        bool(len(norms) >= 2 and (np.diff(norms) < 0).all()),
        ", ".join(f"{k:g}: {n:.3g}" for k, n in zip(l2.kappa, norms, strict=True))))
    curves = table[(table.part == "curve") & (table.penalty == "max_norm")]
    if len(curves):
        layers = _layers(curves)
        trained = curves[curves.epoch >= 1]
        ratios = pd.concat([trained[f"weight_norm/{k}"] / trained.c for k in layers])
        start = curves[curves.epoch == 0]
        above = pd.concat([start[f"weight_norm/{k}"] / start.c for k in layers]).max()
        checks.append(Check(
            "by construction (a projection after every update): max-norm keeps every layer's "
            "Frobenius norm <= c (every c, layer, seed and epoch after the first update)",
            bool((ratios <= 1 + 1e-5).all()),
            f"max ||W_l||_F / c = {ratios.max():.6f} over {len(ratios)} (c, layer, seed, "
            f"epoch); at init, before any projection, up to {above:.3g}"))
        checks.append(_bound_not_penalty(table))
    return checks


def untouched(table: pd.DataFrame) -> pd.DataFrame:
    """Per max-norm c and seed: the epochs before any layer of the unpenalized run (same
    seed) first exceeds c - where the bound is never reached and max-norm should change
    nothing - and the largest relative difference of the two runs' training losses there."""
    curves = table[table.part == "curve"]
    none = curves[curves.penalty == "none"].set_index(["seed", "epoch"])
    layers = _layers(curves)
    rows = []
    for (c, seed), part in curves[curves.penalty == "max_norm"].groupby(["c", "seed"]):
        free = none.loc[seed]
        above = free[[f"weight_norm/{k}" for k in layers]].max(axis=1) > c
        before = free.index[: int(np.argmax(above.to_numpy()))] if above.any() else free.index
        mine = part.set_index("epoch").loc[before]
        diff = ((mine.train_loss - free.loc[before].train_loss).abs()
                / free.loc[before].train_loss).max() if len(before) else np.nan
        rows.append({"c": c, "seed": seed, "epochs": len(before), "max_rel_diff": diff})
    return pd.DataFrame(rows)


def _bound_not_penalty(table: pd.DataFrame) -> Check:
    """Lecture 003: max-norm is a bound, not a penalty: while no layer of the unpenalized
    run is above c it must leave the net as it is (a penalty would shrink it anyway)."""
    u = untouched(table)
    free = u[u.epochs > 0]
    return Check(
        "max-norm is a bound, not a penalty (lecture 003): for a c above every layer's norm "
        "in the unpenalized run, the constrained run IS that run (same seed: training loss "
        "within 1e-5 relative at every epoch before a layer first exceeds c)",
        bool(len(free) and (free.max_rel_diff < 1e-5).all()),
        "; ".join(f"c {c:g}: {int(p.epochs.min())}-{int(p.epochs.max())} epochs below the bound, "
                  f"max difference {p.max_rel_diff.max():.1e}"
                  for c, p in free.groupby("c"))
        or "no c above the unpenalized run's norms (every c binds from the first update)")


def _log_kappa(ax, f: pd.DataFrame, column: str, ylabel: str, title: str) -> None:
    curves_ok = False
    for name in PENALTIES:
        part = f[(f.penalty == name) & (f.kappa > 0)]
        if len(part):
            ax.plot(part.kappa, part[column], "o-", color=COLORS[name], label=NAMES[name])
            curves_ok = True
    none = f[f.penalty == "none"]
    if len(none):
        ax.axhline(none[column].iloc[0], color=COLORS["none"], ls="--", lw=1,
                   label="no penalty (kappa = 0)")
    ax.set(xscale="log", xlabel="kappa (log)", ylabel=ylabel, title=title)
    if curves_ok:
        ax.legend(fontsize=8)


def draw(table: pd.DataFrame, options: dict):
    f = finals(table)
    curves = table[table.part == "curve"]
    last = curves[curves.epoch == curves.epoch.max()]
    seeds = curves.seed.nunique()
    fig, axes = plt.subplots(2, 3, figsize=(18, 10.5))
    (ax_acc, ax_zero, ax_norm), (ax_hist, ax_max, ax_max_acc) = axes
    for name in PENALTIES:
        part = last[(last.penalty == name) & (last.kappa > 0)]
        if len(part):
            band(ax_acc, part, "kappa", "val_acc", color=COLORS[name], marker="o",
                 label=NAMES[name])
    none = f[f.penalty == "none"]
    if len(none):
        ax_acc.axhline(none.val_acc.iloc[0], color=COLORS["none"], ls="--", lw=1,
                       label="no penalty (kappa = 0)")
    ax_acc.set(xscale="log", ylim=(0, None), xlabel="kappa (log)",
               ylabel=f"final validation accuracy ({seeds} seeds: mean, min-max)",
               title="Validation accuracy vs penalty strength")
    ax_acc.legend(fontsize=8)
    threshold = float(table.threshold.iloc[0])
    _log_kappa(ax_zero, f, "near_zero", f"fraction of weights with |w| < {threshold:g}",
               "Near-zero weights: L1 sparsifies, L2 does not")
    ax_zero.set_yscale("log")
    _log_kappa(ax_norm, f, "weight_norm", "weight norm sqrt(sum_l ||W_l||_F²) (log)",
               "Weight norm: every penalty shrinks it")
    plain_log_y(ax_norm)
    pick = matched(table, options)
    hist = table[table.part == "hist"]
    for name, r in pick.items():
        h = hist[(hist.penalty == name) & ((hist.kappa == r.kappa) | (name == "none"))]
        h = h.groupby("bin").first()
        label = (f"{NAMES[name]}" + ("" if name == "none" else f", kappa {r.kappa:g}")
                 + f" (val {r.val_acc:.1%}, {r.near_zero:.1%} near 0)")
        ax_hist.stairs(h.fraction, np.append(h.lo.to_numpy(), h.hi.iloc[-1]),
                       color=COLORS[name], lw=2, label=label)
    ax_hist.axvline(np.log10(threshold), color="k", ls=":", lw=1,
                    label=f"|w| = {threshold:g}: 'near zero' below")
    ax_hist.set(xlabel="log10 |w| (all layers' weights, first seed)",
                ylabel="fraction of weights per bin",
                title="Weights at matched validation accuracy\n(each penalty at its strongest "
                      f"kappa within {float(options['match']):.0%} of no penalty)")
    ax_hist.legend(fontsize=8, loc="upper left")
    mx = last[last.penalty == "max_norm"]
    if len(mx):
        layers = _layers(curves)
        trained = curves[(curves.penalty == "max_norm") & (curves.epoch >= 1)]
        for i, k in enumerate(layers):
            top = trained.groupby("c")[f"weight_norm/{k}"].max()
            ax_max.plot(top.index, top.values, "o", ms=11 - 3 * i, color=f"C{i}",
                        label=f"||W_{k}||_F, max over epochs >= 1 and seeds")
            if len(none):
                ax_max.axhline(none[f"weight_norm/{k}"].iloc[0], color=f"C{i}", ls="--",
                               lw=1, label=f"||W_{k}||_F without a penalty")
        cs = np.sort(mx.c.unique())
        ax_max.plot(cs, cs, "k-", lw=1, label="||W||_F = c")
        plain_log_y(ax_max)
        ax_max.set(xscale="log", xlabel="c (log)",
                   ylabel="Frobenius norm of the layer's W (log)",
                   title="Max-norm: every layer's ||W||_F <= c")
        ax_max.legend(fontsize=8)
        band(ax_max_acc, mx, "c", "val_acc", color=COLORS["max_norm"], marker="o",
             label="max-norm")
        if len(none):
            ax_max_acc.axhline(none.val_acc.iloc[0], color=COLORS["none"], ls="--", lw=1,
                               label="no penalty")
        ax_max_acc.set(xscale="log", ylim=(0, None), xlabel="c (log)",
                       ylabel="final validation accuracy",
                       title="Max-norm: validation accuracy vs the bound c")
        ax_max_acc.legend(fontsize=8)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle("Weight penalties: L1 vs L2 vs elastic net, and the max-norm bound "
                 "(MNIST-1D, MLP 40-100-100-10, plain SGD)", fontsize=14)
    fig.tight_layout()
    return fig
