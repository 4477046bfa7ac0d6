"""Momentum annealed from 0.5 to 0.99 (lecture 001) against constant 0.5 and constant 0.99, at
one learning rate, on an MLP: 0.99 from the start overshoots, 0.5 is stable but slow, the
annealed momentum is stable early and ends as low as 0.99. The momentum of every step is read
back from trainlab's own optimizer state and drawn beside the curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check
from trainlab.figures.plots import band, plain_log_y

ARMS = ("constant_05", "constant_099", "annealed")
LABELS = {"constant_05": "constant 0.5", "constant_099": "constant 0.99",
          "annealed": "annealed 0.5 -> 0.99"}
COLORS = {"constant_05": "C0", "constant_099": "C3", "annealed": "C2"}


def applied_momentum(cfg, steps_per_epoch: int, steps: int) -> np.ndarray:
    """The momentum trainlab's optimizer used at each of ``steps`` updates: stepped with zero
    gradients, read from optax's injected hyperparameters after each update."""
    import jax
    import jax.numpy as jnp
    import optax

    tx = cfg.optimizer.make(optax.constant_schedule(cfg.optimizer.lr),
                            steps_per_epoch=steps_per_epoch)
    params = jnp.zeros(1)
    update = jax.jit(lambda state: tx.update(jnp.zeros(1), state, params)[1])
    state, used = tx.init(params), []
    for _ in range(steps):
        state = update(state)
        used.append(float(optax.tree_utils.tree_get(state, "hyperparams")["momentum"]))
    return np.array(used)


def table(runs, options) -> pd.DataFrame:
    """Two kinds of rows: "curve", every run's train and val loss per (seed, epoch); and
    "momentum", the momentum of every step of the run (the same for every seed)."""
    frames = []
    for run in runs:
        metrics = run.metrics
        curve = metrics[["seed", "epoch", "step", "train_loss", "val_loss"]].copy()
        curve.insert(0, "arm", run.arm)
        curve.insert(1, "kind", "curve")
        curve["lr"] = run.cfg.optimizer.lr
        frames.append(curve)
        steps = metrics[metrics.seed == metrics.seed.min()].step.to_numpy()
        steps_per_epoch, total = int(steps[1] - steps[0]), int(steps[-1])
        opt = run.cfg.optimizer
        frames.append(pd.DataFrame({
            "arm": run.arm, "kind": "momentum", "step": np.arange(total),
            "epoch": np.arange(total) // steps_per_epoch,
            "momentum": applied_momentum(run.cfg, steps_per_epoch, total),
            "momentum_end": opt.momentum, "momentum_start": opt.momentum_start,
            "momentum_ramp": opt.momentum_ramp}))
    return pd.concat(frames, ignore_index=True)


def formula(part: pd.DataFrame) -> np.ndarray:
    """Lecture 001's schedule as configured: momentum_start in epoch 0, linearly to momentum at
    epoch momentum_ramp, then constant (a constant momentum without a ramp)."""
    ramp = int(part.momentum_ramp.iloc[0])
    start, end = float(part.momentum_start.iloc[0]), float(part.momentum_end.iloc[0])
    if ramp == 0:
        return np.full(len(part), end)
    return start + (end - start) * np.minimum(part.epoch.to_numpy() / ramp, 1.0)


def curves(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.kind == "curve"]


def per_seed(table: pd.DataFrame, early: int) -> pd.DataFrame:
    """Per arm and seed: the epochs among 1..``early`` whose train loss rose, the final train
    loss, and the lowest val loss."""
    rows = []
    for (arm, seed), part in curves(table).groupby(["arm", "seed"], sort=False):
        part = part.sort_values("epoch")
        loss = part.train_loss.to_numpy()
        rows.append({"arm": arm, "seed": int(seed),
                     "early_rises": int((np.diff(loss[:early + 1]) > 0).sum()),
                     "final_train_loss": float(loss[-1]),
                     "best_val_loss": float(part.val_loss.min())})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    seeds = per_seed(table, int(options["early_epochs"]))
    return seeds.groupby("arm", sort=False).agg(
        rises_min=("early_rises", "min"), rises_max=("early_rises", "max"),
        final_train_loss=("final_train_loss", "mean"),
        best_val_loss=("best_val_loss", "mean")).reset_index()


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    early = int(options["early_epochs"])
    faster, as_low = float(options["faster"]), float(options["as_low"])
    seeds = per_seed(table, early).set_index("arm")
    rises = seeds.groupby("arm").early_rises
    final = seeds.groupby("arm").final_train_loss.mean()
    val = seeds.groupby("arm").best_val_loss.mean()
    steps = table[table.kind == "momentum"]
    off = {arm: float(np.abs(part.momentum.to_numpy() - formula(part)).max())
           for arm, part in steps.groupby("arm", sort=False)}
    a, lo, hi = "annealed", "constant_05", "constant_099"
    return [
        Check("the momentum of every step follows the schedule's formula (constant within an "
              "epoch, linear from momentum_start to momentum over momentum_ramp epochs)",
              bool(set(off) == set(ARMS) and max(off.values()) < 1e-6),
              ", ".join(f"{LABELS[k]}: largest |difference| {v:.1e}" for k, v in off.items())),
        Check(f"constant 0.99 from the start overshoots: in every seed its train loss rises in "
              f">= 2 of the first {early} epochs, while constant 0.5 and the annealed momentum "
              "fall in every one of them",
              bool(rises.min()[hi] >= 2 and rises.max()[lo] == 0 and rises.max()[a] == 0),
              ", ".join(f"{LABELS[k]}: {rises.min()[k]}-{rises.max()[k]} rises"
                        for k in ARMS)),
        Check(f"annealed ends as fast as 0.99: its final train loss (mean of the seeds) is "
              f">= {faster:g}x below constant 0.5's and <= {as_low:g}x constant 0.99's",
              bool(final[a] * faster <= final[lo] and final[a] <= as_low * final[hi]),
              ", ".join(f"{LABELS[k]} {final[k]:.4f}" for k in ARMS)),
        Check("annealed generalizes best: its lowest val loss (mean of the seeds) is below "
              "both constants'",
              bool(val[a] < val[lo] and val[a] < val[hi]),
              ", ".join(f"{LABELS[k]} {val[k]:.3f}" for k in ARMS)),
    ]


def draw(table: pd.DataFrame, options: dict):
    early = int(options["early_epochs"])
    c = curves(table)
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.2), gridspec_kw={"width_ratios": [1, 1.3, 1]})
    ax = axes[0]
    steps = table[table.kind == "momentum"]
    for arm in ARMS:
        part = steps[steps.arm == arm]
        within = part.groupby("epoch").step
        x = part.epoch + (part.step - within.transform("min")) / within.transform("count")
        ax.plot(x, part.momentum, color=COLORS[arm], lw=2.5, label=LABELS[arm])
        starts = part.drop_duplicates("epoch")
        ax.plot(starts.epoch, formula(starts), "o", color="k", ms=3.5)
    ax.plot([], [], "o", color="k", ms=3.5, label="the formula at each epoch")
    ramp = int(steps[steps.arm == "annealed"].momentum_ramp.iloc[0])
    ax.set(xlabel="epoch", ylabel="momentum mu (classic form: v = mu v - lr g)",
           ylim=(0.4, 1.02), title=f"The momentum of each step, read from the optimizer:\n"
                                   f"linear over {ramp} epochs, constant within one")
    ax.legend(fontsize=9, loc="center right")

    lr = ", ".join(f"{v:g}" for v in c.lr.unique())
    for ax, column, title in ((axes[1], "train_loss", "Training loss (cross-entropy): 0.99 "
                               "from the start overshoots,\nannealed is smooth as 0.5 and ends "
                               "as low as 0.99"),
                              (axes[2], "val_loss",
                               "Validation loss (cross-entropy):\nannealed the lowest")):
        for arm in ARMS:
            band(ax, c[c.arm == arm], "epoch", column, color=COLORS[arm], lw=2,
                 label=LABELS[arm])
        plain_log_y(ax)
        ax.axvspan(0, early, color="0.9", zorder=0)
        ax.set(xlabel="epoch", ylabel=f"{column.replace('_', ' ')} (mean of {c.seed.nunique()} "
               "seeds; band: min-max)", title=title)
        ax.legend(fontsize=9)
    axes[1].text(early / 2, axes[1].get_ylim()[0] * 1.15, f"first {early} epochs", ha="center",
                 fontsize=8, color="0.4")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle(f"SGD with momentum (classic form) at one learning rate ({lr}): constant 0.5, "
                 "constant 0.99, and annealed from 0.5 to 0.99 (lecture 001)", fontsize=13)
    fig.tight_layout()
    return fig
