"""Gradient checking (lecture 001): autodiff against centered finite differences, in
float64, for every layer kind trainlab has. Trains nothing: each configuration goes through
trainlab's own check (``trainlab.gradcheck``, what ``trainlab gradcheck`` prints)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab import gradcheck as checker
from trainlab.config import GROUPS, default_choices
from trainlab.figures.common import Check

FAMILIES = ("activation", "normalization", "dropout", "penalty", "loss")
PLURALS = {"activation": "activations", "normalization": "normalizations",
           "dropout": "dropout", "penalty": "penalties", "loss": "losses"}
LEAVES = {"w": "C0", "b": "C1", "alpha": "C2", "gamma": "C4", "beta": "C5"}


def _family(cfg) -> str:
    """What a configuration varies from the defaults: the layer kind it checks."""
    default = default_choices()
    if cfg.normalization.name != default["normalization"]:
        return "normalization"
    if cfg.model.input_dropout or cfg.model.hidden_dropout:
        return "dropout"
    if cfg.regularizer.name != default["regularizer"]:
        return "penalty"
    if cfg.loss.name != default["loss"]:
        return "loss"
    return "activation"


def _kind(cfg) -> str:
    """The layer kind a configuration stands for, as its config choice names it."""
    family = _family(cfg)
    if family == "normalization":
        return f"{cfg.normalization.name} ({cfg.normalization.position})"
    if family == "dropout":
        return f"dropout {cfg.model.input_dropout:g} / {cfg.model.hidden_dropout:g}"
    return {"activation": cfg.activation.name, "penalty": cfg.regularizer.name,
            "loss": cfg.loss.name}[family]


def table(runs, options) -> pd.DataFrame:
    rows = []
    for run in runs:
        results = checker.run(run.overrides, samples=int(options["samples"]),
                              entries=int(options["entries"]),
                              directions=int(options["directions"]),
                              eps=float(options["eps"]))
        for r in results:
            layer, leaf = r.name.split(".")[1:3]
            rows.append({"family": _family(run.cfg), "config": _kind(run.cfg),
                         "arm": run.arm, "group": r.name, "layer": int(layer) + 1,
                         "leaf": leaf, "shape": "x".join(map(str, r.shape)),
                         "coordinates": r.coordinates, "directions": r.directions,
                         "skipped": r.skipped, "grad_norm": r.grad_norm, "error": r.error})
    frame = pd.DataFrame(rows)
    frame["tolerance"] = checker.TOLERANCE
    return frame


def worst(table: pd.DataFrame) -> pd.DataFrame:
    """One row per configuration: its groups, checks, skipped differences, worst error."""
    rows = []
    for (family, config), part in table.groupby(["family", "config"], sort=False):
        top = part.loc[part.error.fillna(np.inf).idxmax()]
        rows.append({"family": family, "config": config, "groups": len(part),
                     "checks": int((part.coordinates + part.directions).sum()),
                     "skipped at kinks": int(part.skipped.sum()),
                     "worst group": top.group, "worst rel. error": top.error})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return worst(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    tol = float(table.tolerance.iloc[0])
    checks = []
    for family in FAMILIES:
        part = table[table.family == family]
        if not len(part):
            continue
        bad = part[~(part.error <= tol)]  # NaN (no usable check) fails too
        top = part.loc[part.error.fillna(np.inf).idxmax()]
        configs = part.config.nunique()
        checks.append(Check(
            f"{family}: relative error < {tol:g} for every parameter group",
            bool(len(bad) == 0),
            f"{len(part)} groups in {configs} configurations; worst {top.error:.2e} "
            f"({top.config}, {top.group})"
            + (f"; failing: {', '.join(bad.config + ' ' + bad.group)}" if len(bad) else "")))
    full = len(table.arm.unique()) > 12  # the reduced build checks a sample of the kinds
    if full:
        have = set(table.config)
        want = [*GROUPS["activation"], *(f"{n} ({p})" for n in GROUPS["normalization"]
                                         if n != "none" for p in ("before", "after")),
                *(n for n in GROUPS["regularizer"] if n not in ("none", "max_norm")),
                *GROUPS["loss"]]
        missing = [k for k in want if k not in have and k != "cross_entropy"]
        checks.append(Check(
            "every layer kind is checked (every activation, normalization before/after, "
            "penalty and loss; cross-entropy in every activation's check)",
            not missing, "missing: " + ", ".join(missing) if missing
            else f"{len(have)} configurations"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    tol = float(table.tolerance.iloc[0])
    panels = [("activation",), ("normalization", "dropout", "penalty", "loss")]
    panels = [p for p in panels if table.family.isin(p).any()]
    fig, axes = plt.subplots(len(panels), 1, figsize=(17, 5.2 * len(panels)), squeeze=False)
    low = max(float(table.error[table.error > 0].min()) / 10, 1e-16)
    for ax, families in zip(axes[:, 0], panels, strict=True):
        part = table[table.family.isin(families)]
        configs = list(dict.fromkeys(part.config))
        x0, ticks, seen = 0.0, [], set()
        for config in configs:
            groups = part[part.config == config].sort_values(["layer", "leaf"],
                                                             ascending=[True, False])
            n = len(groups)
            width = 0.8 / max(n, 1)
            xs = x0 + (np.arange(n) - (n - 1) / 2) * width
            for x, g in zip(xs, groups.itertuples(), strict=True):
                label = g.leaf if g.leaf not in seen else None
                seen.add(g.leaf)
                value = g.error if np.isfinite(g.error) and g.error > 0 else low
                ax.bar(x, value - low, width * 0.9, bottom=low,
                       color=LEAVES.get(g.leaf, "0.5"), alpha=1.0 - 0.22 * (g.layer - 1),
                       label=label)
            ticks.append(x0)
            x0 += 1.0
        ax.axhline(tol, color="C3", ls="--", lw=1.5, label=f"tolerance {tol:g}")
        ax.set_yscale("log")
        ax.set(xticks=ticks, xlim=(-0.6, x0 - 0.4), ylim=(low, max(tol * 30, low * 10)),
               ylabel="relative error |autodiff - numeric| (log)",
               title="Gradient check per parameter group: "
                     + ", ".join(PLURALS[f] for f in families))
        ax.set_xticklabels(configs, rotation=20, ha="right")
        ax.grid(alpha=0.3, axis="y")
        handles, labels = ax.get_legend_handles_labels()
        names = {"w": "weights W", "b": "biases b", "alpha": "PReLU slopes alpha",
                 "gamma": "norm. scale gamma", "beta": "norm. shift beta"}
        ax.legend(handles, [names.get(lbl, lbl) for lbl in labels], fontsize=9, ncol=3,
                  loc="upper right", title="bars left to right: layer 1, 2, output "
                  "(lighter = deeper)", title_fontsize=9)
    fig.suptitle(f"Gradient checking in float64 (centered differences, h = "
                 f"{float(options['eps']):g}): every parameter group of every layer kind "
                 f"far below {tol:g}", fontsize=14)
    fig.tight_layout()
    return fig
