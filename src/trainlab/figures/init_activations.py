"""Activation statistics through a deep net at initialization (lectures 001 and 004).

Every number is the epoch-0 row of a run's diagnostics: the per-layer mean, std and
saturation of the hidden layers' outputs on the probe batch, and (diagnostics=full) their
histograms, for tanh and ReLU nets of 10 layers x 500 units under different inits.
"""

from __future__ import annotations

import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from trainlab.diagnostics import histogram_edges
from trainlab.figures.common import Check

STATS = ("act_mean", "act_std", "act_sat", "pre_std")
_HIST = re.compile(r"^act_hist_(\d+)/(\d+)$")
COLORS = {"tanh_small": "C0", "tanh_large": "C3", "tanh_xavier": "C2", "relu_xavier": "C1",
          "relu_he": "C4"}


def _config(cfg) -> tuple[str, str]:
    """(a key for the configuration, its label)."""
    act = cfg.activation.name
    if cfg.init.name == "normal":
        size = "small" if cfg.init.std < 0.1 else "large"
        return f"{act}_{size}", f"{act}, N(0, {cfg.init.std:g}²)"
    init = {"xavier_normal": "xavier", "he_normal": "he"}.get(cfg.init.name, cfg.init.name)
    return f"{act}_{init}", f"{act}, {init.capitalize()}"


def table(runs, options) -> pd.DataFrame:
    frames = []
    for run in runs:
        key, label = _config(run.cfg)
        start = run.metrics[run.metrics.epoch == 0]
        layers = sorted({int(c.split("/")[1]) for c in start if c.startswith("act_std/")})
        for k in layers:
            frame = pd.DataFrame({"part": "stats", "config": key, "label": label,
                                  "activation": run.cfg.activation.name, "seed": start.seed,
                                  "layer": k})
            for stat in STATS:
                column = f"{stat}/{k}"
                frame[stat] = start[column].to_numpy() if column in start else np.nan
            frames.append(frame)
        hist = [(int(m[1]), int(m[2]), c) for c in start
                if (m := _HIST.match(c)) is not None]
        if hist:  # mean over seeds of the fraction in each bin
            edges = histogram_edges(run.cfg)
            frames.append(pd.DataFrame({
                "part": "hist", "config": key, "label": label,
                "activation": run.cfg.activation.name,
                "layer": [k for _, k, _ in hist], "bin": [b for b, _, _ in hist],
                "lo": [edges[b] for b, _, _ in hist], "hi": [edges[b + 1] for b, _, _ in hist],
                "fraction": [start[c].mean() for _, _, c in hist],
            }))
    return pd.concat(frames, ignore_index=True)


def profiles(table: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and layer: the statistics, mean (and min, max) over seeds."""
    stats = table[table.part == "stats"]
    grouped = stats.groupby(["config", "label", "layer"], sort=False)
    out = grouped[list(STATS)].mean()
    out["act_std_min"] = grouped.act_std.min()
    out["act_std_max"] = grouped.act_std.max()
    return out.reset_index()


def _per_two_layers(p: pd.DataFrame) -> float:
    """The factor by which std changes every 2 layers, from a least-squares line through
    log2(std) over the layers."""
    slope = np.polyfit(p.layer, np.log2(p.act_std), 1)[0]
    return float(2 ** (2 * slope))


def ratios(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """One row per configuration: std at the first and last layer, their ratio, the factor
    per 2 layers, and the saturation of the deep layers (from options' ``deep_from`` on)."""
    deep = int(options["deep_from"])
    rows = []
    for (key, label), p in profiles(table).groupby(["config", "label"], sort=False):
        first, last = p.iloc[0], p.iloc[-1]
        rows.append({"config": key, "label": label, "std layer 1": first.act_std,
                     "last layer": int(last.layer), "std last layer": last.act_std,
                     "last / first": last.act_std / first.act_std,
                     "factor per 2 layers": _per_two_layers(p),
                     f"min saturated, layers {deep}+": p[p.layer >= deep].act_sat.min()})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return ratios(table, options)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    r = ratios(table, options).set_index("config")
    deep = int(options["deep_from"])
    sat = f"min saturated, layers {deep}+"
    p = profiles(table)
    checks = []
    if "tanh_small" in r.index:
        x = r.loc["tanh_small"]
        checks.append(Check(f"tanh + N(0, 0.01²): act std falls by > {options['collapse']:g}x from "
                            "layer 1 to 10", bool(1 / x["last / first"] > options["collapse"]),
                            f"{x['std layer 1']:.3g} -> {x['std last layer']:.3g}: "
                            f"{1 / x['last / first']:.3g}x"))
    if "tanh_large" in r.index:
        x = r.loc["tanh_large"]
        deep_sat = p[(p.config == "tanh_large") & (p.layer >= deep)].act_sat
        checks.append(Check(f"tanh + N(0, 1): > {options['saturated']:.0%} of units saturated "
                            f"(|a| > 0.99) in every deep layer ({deep}+)",
                            bool(x[sat] > options["saturated"]),
                            f"{deep_sat.min():.1%}..{deep_sat.max():.1%}"))
    for key, name, within in (("tanh_xavier", "Xavier (tanh)", options["xavier_within"]),
                              ("relu_he", "He (relu)", options["he_within"])):
        if key in r.index:
            x = r.loc[key]
            checks.append(Check(f"{name}: std at layer 10 within {within:g}x of layer 1",
                                bool(1 / within <= x["last / first"] <= within),
                                f"{x['std layer 1']:.3g} -> {x['std last layer']:.3g}: "
                                f"ratio {x['last / first']:.3g}"))
    if "relu_xavier" in r.index:
        x = r.loc["relu_xavier"]
        f = x["factor per 2 layers"]
        low, high = options["halves"]
        checks.append(Check(f"relu + Xavier: std roughly halves every 2 layers (factor in "
                            f"[{low:g}, {high:g}])",
                            bool(low <= f <= high),
                            f"x{f:.3f} per 2 layers; {x['std layer 1']:.3g} -> "
                            f"{x['std last layer']:.3g}"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    p = profiles(table)
    hist = table[table.part == "hist"]
    configs = list(dict.fromkeys(p.config))
    labels = dict(zip(p.config, p.label, strict=False))
    fig = plt.figure(figsize=(17, 10.5), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1, 1], hspace=0.05)
    ax_std, ax_sat, ax_pre = top.subplots(1, 3)
    seeds = table[table.part == "stats"].seed.nunique()
    for key in configs:
        q = p[p.config == key]
        ax_std.plot(q.layer, q.act_std, "o-", color=COLORS.get(key), label=labels[key])
        ax_std.fill_between(q.layer, q.act_std_min, q.act_std_max, color=COLORS.get(key),
                            alpha=0.2, lw=0)
        ax_pre.plot(q.layer, q.pre_std, "o-", color=COLORS.get(key), label=labels[key])
        if q.act_sat.notna().any():
            ax_sat.plot(q.layer, q.act_sat, "o-", color=COLORS.get(key), label=labels[key])
    layers = sorted(p.layer.unique())
    band = f"; band: min-max over {seeds} seeds" if seeds > 1 else ""
    ax_std.set(yscale="log", xlabel="hidden layer", ylabel="std of the layer's outputs (log)",
               title=f"Activation std per layer at init{band}")
    ax_pre.set(yscale="log", xlabel="hidden layer",
               ylabel="std of the pre-activations z = hW + b (log)",
               title="Pre-activation std per layer at init")
    deep = int(options["deep_from"])
    ax_sat.axhline(float(options["saturated"]), color="k", ls=":", lw=1,
                   label="50% of units")
    ax_sat.axvspan(deep - 0.5, max(layers) + 0.5, color="0.9", lw=0,
                   label=f"deep layers ({deep}+)")
    ax_sat.set(ylim=(-0.03, 1.03), xlabel="hidden layer",
               ylabel="fraction saturated, |a| > 0.99 (tanh)",
               title="Saturated tanh units per layer at init")
    for ax in (ax_std, ax_sat, ax_pre):
        ax.set_xticks(layers)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    shown = [k for k in configs if (hist.config == k).any()]
    if shown:
        axes = np.atleast_1d(bottom.subplots(1, len(shown)))
        norm = LogNorm(vmin=1e-4, vmax=1)
        image = None
        for ax, key in zip(axes, shown, strict=True):
            h = hist[hist.config == key]
            grid = h.pivot(index="layer", columns="bin", values="fraction")
            edges = np.append(h.groupby("bin").lo.first().to_numpy(), h.hi.max())
            image = ax.pcolormesh(edges, np.arange(len(grid) + 1) + 0.5,
                                  grid.to_numpy().clip(1e-4), norm=norm, cmap="viridis")
            ax.set(yticks=grid.index, xlabel="layer output a", title=labels[key],
                   ylabel="hidden layer" if ax is axes[0] else None)
            if h.activation.iloc[0] == "relu":  # nothing below 0
                ax.set_xlim(-0.5, edges[-1])
            ax.invert_yaxis()
        bottom.colorbar(image, ax=list(axes), shrink=0.9,
                        label="fraction of the layer's outputs in the bin (log)")
        bottom.suptitle("Histograms of each layer's outputs at init (probe batch: 256 "
                        "samples x 500 units; 50 bins over [-1, 1] for tanh, over [-5, 5] "
                        "for relu, the last bin holding all above 5)")
    fig.suptitle("Activations through a 10-layer x 500-unit MLP at initialization "
                 "(MNIST-1D inputs)", fontsize=14)
    return fig
