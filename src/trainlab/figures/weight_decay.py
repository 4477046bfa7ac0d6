"""L2 regularization vs (decoupled) weight decay (lectures 000, 004; Loshchilov & Hutter):
the same thing for plain SGD, not with momentum, not with Adam."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import TwoSlopeNorm

from trainlab.figures.common import Check, load_params
from trainlab.figures.plots import band

MOMENTUM, KAPPA, WD, LR = ("optimizer.momentum", "regularizer.kappa", "optimizer.decoupled_decay",
                           "optimizer.lr")
HEATMAP_ARMS = ("adam_l2", "adamw")


def _relative_difference(a: dict, b: dict) -> float:
    """max |a - b| / max |a| over every parameter array of two nets."""
    diff = max(float(np.abs(x - y).max()) for la, lb in zip(a["layers"], b["layers"], strict=True)
               for x, y in ((la[k], lb[k]) for k in la))
    scale = max(float(np.abs(x).max()) for layer in a["layers"] for x in layer.values())
    return diff / scale


def _sgd_table(runs) -> pd.DataFrame:
    """Curves of the SGD pairs; each L2 run beside its decay run (same kappa, same momentum),
    the relative difference of their final params on every row of the pair."""
    found = {}
    frames = []
    for run in runs:
        if not run.arm.startswith(("l2_", "decay_")):
            continue
        rule, tag = run.arm.split("_", 1)
        momentum = run.cfg.optimizer.momentum
        found[tag, momentum, rule] = run
        frames.append(run.metrics[["epoch", "train_loss", "val_loss", "val_acc"]].assign(
            part="sgd", arm=run.arm, rule="L2" if rule == "l2" else "decay", pair=tag,
            momentum=momentum, lr=run.cfg.optimizer.lr,
            kappa=run.cfg.regularizer.kappa if rule == "l2" else np.nan,
            weight_decay=run.cfg.optimizer.decoupled_decay))
    if not frames:
        return pd.DataFrame()
    frame = pd.concat(frames, ignore_index=True)
    for (tag, momentum, rule), run in found.items():
        if rule == "l2" and (tag, momentum, "decay") in found:
            rows = (frame.pair == tag) & (frame.momentum == momentum)
            frame.loc[rows, "param_rel_diff"] = _relative_difference(
                load_params(run), load_params(found[tag, momentum, "decay"]))
            frame.loc[rows, "kappa"] = run.cfg.regularizer.kappa  # the pair's kappa, both rows
    return frame


def _norm(params: dict) -> float:
    """||W||_F over every weight matrix of a net (biases left out: they are not decayed)."""
    return float(np.sqrt(sum((np.asarray(layer["w"], np.float64) ** 2).sum()
                             for layer in params["layers"])))


def _heatmap_table(runs) -> pd.DataFrame:
    rows = []
    for run in runs:
        if run.arm not in HEATMAP_ARMS:
            continue
        last = run.metrics[run.metrics.epoch == run.metrics.epoch.max()]
        cfg = run.cfg
        decay = cfg.regularizer.kappa if run.arm == "adam_l2" else cfg.optimizer.decoupled_decay
        rows.append({"part": "adam", "arm": run.arm, "lr": run.cfg.optimizer.lr, "decay": decay,
                     "epoch": int(last.epoch.iloc[0]), "train_loss": last.train_loss.mean(),
                     "val_loss": last.val_loss.mean(), "val_acc": last.val_acc.mean(),
                     "val_error": 1 - last.val_acc.mean(), "status": run.summary["status"],
                     "weight_norm": _norm(load_params(run)),
                     "init_norm": _norm(load_params(run, "init"))})
    return pd.DataFrame(rows)


def table(runs, options) -> pd.DataFrame:
    return pd.concat([_sgd_table(runs), _heatmap_table(runs)], ignore_index=True)


def pairs(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (kappa, momentum): the SGD pair's final numbers and params difference."""
    sgd = table[table.part == "sgd"]
    last = sgd[sgd.epoch == sgd.epoch.max()]
    rows = []
    for (_, momentum), part in last.groupby(["pair", "momentum"], sort=False):
        l2, decay = part[part.rule == "L2"].iloc[0], part[part.rule == "decay"].iloc[0]
        rows.append({"momentum": momentum, "lr": l2.lr, "kappa": l2.kappa,
                     "weight_decay": decay.weight_decay,
                     "lr*kappa": l2.lr * l2.kappa, "val_loss L2": l2.val_loss,
                     "val_loss decay": decay.val_loss, "param_rel_diff": l2.param_rel_diff})
    return pd.DataFrame(rows)


def grids(table: pd.DataFrame, values: str = "val_error") -> dict[str, pd.DataFrame]:
    """Validation error (or another column), decay (rows) x lr (columns), for each heatmap
    arm."""
    adam = table[table.part == "adam"]
    return {arm: part.pivot(index="decay", columns="lr", values=values).sort_index()
            for arm, part in adam.groupby("arm")}


def saturation(table: pd.DataFrame) -> pd.DataFrame:
    """Per heatmap arm and lr: how much the final weight norm still moves between the two
    strongest decays of the grid, as a fraction of the initial norm."""
    norms, start = grids(table, "weight_norm"), grids(table, "init_norm")
    rows = []
    for arm in HEATMAP_ARMS:
        if arm not in norms or len(norms[arm]) < 2:
            continue
        n, n0 = norms[arm], start[arm]
        weaker, stronger = n.index[-2], n.index[-1]
        for lr in n.columns:
            rows.append({"arm": arm, "lr": lr, "weaker": weaker, "stronger": stronger,
                         "norm_weaker": n.loc[weaker, lr], "norm_stronger": n.loc[stronger, lr],
                         "moves": abs(n.loc[weaker, lr] - n.loc[stronger, lr])
                         / n0.loc[weaker, lr]})
    return pd.DataFrame(rows)


def _best_cell(grid: pd.DataFrame) -> tuple[float, float, float]:
    """(decay, lr, validation error) of a heatmap's best cell."""
    i, j = np.unravel_index(np.nanargmin(grid.to_numpy()), grid.shape)
    return grid.index[i], grid.columns[j], grid.iloc[i, j]


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    rows = []
    for _, r in pairs(table).iterrows():
        rows.append({
            "comparison": "plain SGD" if r.momentum == 0 else f"SGD, momentum {r.momentum:g}",
            "setting": f"lr {r.lr:g}, kappa {r.kappa:g}, wd {r.weight_decay:g}",
            "L2 / Adam+L2": f"val loss {r['val_loss L2']:.4f}",
            "decay / AdamW": f"val loss {r['val_loss decay']:.4f}",
            "difference": f"weights: {r.param_rel_diff:.1e} rel."})
    g = grids(table)
    if set(HEATMAP_ARMS) <= set(g):
        a, b = g["adam_l2"], g["adamw"]
        (da, la, ea), (db, lb, eb) = _best_cell(a), _best_cell(b)
        diff = np.abs((b - a).to_numpy())
        rows.append({
            "comparison": "Adam+L2 vs AdamW (optax)", "setting": "best cell of each heatmap",
            "L2 / Adam+L2": f"{ea:.1%} error (lr {la:g}, kappa {da:g})",
            "decay / AdamW": f"{eb:.1%} error (lr {lb:g}, wd {db:g})",
            "difference": f"up to {np.nanmax(diff):.1%} (mean {np.nanmean(diff):.1%})"})
    return pd.DataFrame(rows)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    p = pairs(table)
    agree, differ = float(options["agree"]), float(options["differ"])
    plain, heavy = p[p.momentum == 0], p[p.momentum > 0]
    checks = [
        Check("each decay run is paired with decay = lr*kappa",
              bool(np.allclose(p.weight_decay, p["lr*kappa"], rtol=1e-12, atol=0)),
              ", ".join(f"{w:g} = {lr:g}*{k:g}" for w, lr, k in
                        zip(p.weight_decay, p.lr, p.kappa, strict=True))),
        Check(f"plain SGD: L2 and decay weights agree to float precision (< {agree:g} relative, "
              "float64)", bool(len(plain) and (plain.param_rel_diff < agree).all()),
              ", ".join(f"kappa {k:g}: {d:.1e}" for k, d in
                        zip(plain.kappa, plain.param_rel_diff, strict=True))),
        Check(f"with momentum they differ (> {differ:g} relative)",
              bool(len(heavy) and (heavy.param_rel_diff > differ).all()),
              ", ".join(f"kappa {k:g}, momentum {m:g}: {d:.2f}" for k, m, d in
                        zip(heavy.kappa, heavy.momentum, heavy.param_rel_diff, strict=True))),
    ]
    sat = saturation(table)
    if set(HEATMAP_ARMS) <= set(sat.arm):
        still, moves = float(options["saturated"]), float(options["responds"])
        l2, w = sat[sat.arm == "adam_l2"], sat[sat.arm == "adamw"]
        checks.append(Check(
            f"with Adam, L2 is not decoupled decay (Loshchilov & Hutter): the penalty's "
            f"gradient is normalized with the loss's, so its pull saturates - from kappa "
            f"{l2.weaker.iloc[0]:g} to {l2.stronger.iloc[0]:g} Adam+L2's final weight norm moves "
            f"by < {still:.0%} of its initial norm at every lr - while AdamW's decay keeps "
            f"acting (wd {w.weaker.iloc[0]:g} to {w.stronger.iloc[0]:g}: > {moves:.0%})",
            bool((l2.moves < still).all() and (w.moves > moves).all()),
            "Adam+L2: " + ", ".join(f"lr {r.lr:g}: {r.norm_weaker:.3g} -> {r.norm_stronger:.3g}"
                                    f" ({r.moves:.2%})" for r in l2.itertuples())
            + "; AdamW: " + ", ".join(f"lr {r.lr:g}: {r.norm_weaker:.3g} -> "
                                      f"{r.norm_stronger:.3g} ({r.moves:.0%})"
                                      for r in w.itertuples())))
    return checks


def _heatmap(ax, grid: pd.DataFrame, title: str, ylabel: str, **style):
    image = ax.imshow(grid.to_numpy(), origin="lower", aspect="auto", **style)
    ax.set(xticks=range(grid.shape[1]), xticklabels=[f"{v:g}" for v in grid.columns],
           yticks=range(grid.shape[0]), yticklabels=[f"{v:g}" for v in grid.index],
           xlabel="learning rate (log grid)", ylabel=ylabel, title=title)
    for (i, j), value in np.ndenumerate(grid.to_numpy()):
        red, green, blue, _ = image.cmap(image.norm(value))
        dark = 0.299 * red + 0.587 * green + 0.114 * blue < 0.5
        ax.text(j, i, "div" if not np.isfinite(value) else f"{value:.0%}", ha="center",
                va="center", fontsize=8, color="white" if dark else "black")
    return image


def _norms(ax, table: pd.DataFrame) -> None:
    """Final ||W|| against the decay, one line per lr: Adam+L2's flattens (saturates), AdamW's
    keeps falling."""
    norms = grids(table, "weight_norm")
    shades = plt.get_cmap("viridis")
    for arm, style in (("adam_l2", {"ls": "-", "marker": "o"}),
                       ("adamw", {"ls": "--", "marker": "s"})):
        n = norms[arm]
        for i, lr in enumerate(n.columns):
            ax.plot(n.index, n[lr], color=shades(i / max(len(n.columns) - 1, 1)), ms=4,
                    label=f"{'Adam+L2' if arm == 'adam_l2' else 'AdamW'}, lr {lr:g}", **style)
    ax.set(xscale="log", ylim=(0, None), xlabel="kappa (Adam+L2, solid) = wd (AdamW, dashed)",
           ylabel="final ||W||_F (all weight matrices)",
           title="Final ||W||: Adam+L2's flattens at strong\nkappa, AdamW's keeps falling")
    ax.legend(fontsize=6.5, ncol=2)
    ax.grid(alpha=0.3, which="both")


def draw(table: pd.DataFrame, options: dict):
    p = pairs(table)
    g = grids(table)
    fig = plt.figure(figsize=(22, 10), layout="constrained")
    grid_spec = fig.add_gridspec(2, 4, height_ratios=[1, 1.05])
    ax_curve = fig.add_subplot(grid_spec[0, 0:3])
    ax_diff = fig.add_subplot(grid_spec[0, 3])
    sgd = table[(table.part == "sgd") & (table.epoch >= 1)]
    styles = {"L2": {"ls": "-", "lw": 2.5, "alpha": 0.6}, "decay": {"ls": "--", "lw": 1.5}}
    for i, ((_, momentum), part) in enumerate(sgd.groupby(["pair", "momentum"], sort=False)):
        kappa = part.kappa.dropna().iloc[0]
        for rule, one in part.groupby("rule", sort=False):
            wd = one.weight_decay.iloc[0]
            what = f"L2 kappa={kappa:g}" if rule == "L2" else f"decay wd={wd:g}"
            band(ax_curve, one, "epoch", "val_loss", color=f"C{i}", **styles[rule],
                 label=f"{'plain SGD' if momentum == 0 else f'momentum {momentum:g}'}, {what}")
    ax_curve.set(xlabel="epoch", ylabel="validation loss (cross-entropy)",
                 title="SGD, lr 0.1: L2 (thick) vs decoupled decay wd = lr*kappa (dashed); "
                       "plain SGD pairs lie on top of each other")
    ax_curve.legend(fontsize=8, ncol=2)
    ax_curve.grid(alpha=0.3)
    labels = [f"{'plain SGD' if m == 0 else f'momentum {m:g}'}\nkappa {k:g}"
              for m, k in zip(p.momentum, p.kappa, strict=True)]
    colors = ["C2" if m == 0 else "C3" for m in p.momentum]
    ax_diff.bar(range(len(p)), p.param_rel_diff.clip(lower=1e-18), color=colors)
    for i, d in enumerate(p.param_rel_diff):
        ax_diff.text(i, d * 1.6, f"{d:.0e}", ha="center", fontsize=8)
    agree = float(options["agree"])
    ax_diff.axhline(agree, color="k", ls=":", lw=1, label=f"'float precision' bound {agree:g}")
    ax_diff.set(yscale="log", ylim=(1e-18, 100), xticks=range(len(p)), xticklabels=labels,
                ylabel="max |w_L2 - w_decay| / max |w|  (float64)",
                title="Final weights: L2 vs decay = lr*kappa")
    ax_diff.tick_params(axis="x", labelsize=8)
    ax_diff.legend(fontsize=8, loc="upper left")
    ax_diff.grid(alpha=0.3, axis="y")
    if set(HEATMAP_ARMS) <= set(g):
        a, b = g["adam_l2"], g["adamw"]
        style = {"cmap": "viridis_r", "vmin": np.nanmin([a.min().min(), b.min().min()]),
                 "vmax": 0.9}
        axes = [fig.add_subplot(grid_spec[1, i]) for i in range(4)]
        _heatmap(axes[0], a, "Adam + L2: validation error\n(kappa/2 ||W||^2 added to the loss)",
                 "L2 kappa (log grid)", **style)
        image = _heatmap(axes[1], b, "AdamW (optax.adamw, decay_scaled_by_lr=true):\n"
                         "w <- w - lr*wd*w per step; validation error",
                         "weight decay wd (log grid)", **style)
        fig.colorbar(image, ax=axes[:2], label="validation error", fraction=0.03)
        diff = b - a
        limit = max(0.05, float(np.nanmax(np.abs(diff.to_numpy()))))
        image = _heatmap(axes[2], diff, "AdamW minus Adam+L2 (same cell: same kappa = wd)\n"
                         "negative: AdamW better", "kappa = wd (log grid)", cmap="RdBu_r",
                         norm=TwoSlopeNorm(0.0, -limit, limit))
        fig.colorbar(image, ax=axes[2], label="difference in validation error")
        _norms(axes[3], table)
    fig.suptitle("L2 regularization vs weight decay: identical for plain SGD, not with "
                 "momentum, not with Adam (Loshchilov & Hutter)\nNot shown at this size: their "
                 "claim that AdamW's good region is aligned with the lr and decay axes (see "
                 "experiments/weight-decay.yaml)", fontsize=13)
    return fig
