"""Ten optimizers on MNIST-1D, each at the lr its own random search found (lecture 004): the
searches (objective against lr) and the training curves at the best lr, with seed bands."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab import records
from trainlab.figures.common import Check
from trainlab.figures.plots import band, plain_log_y

NAMES = {"sgd": "SGD", "momentum": "momentum", "nesterov": "Nesterov", "adagrad": "Adagrad",
         "rmsprop": "RMSprop", "adadelta": "Adadelta", "adam": "Adam", "adamw": "AdamW",
         "adamax": "Adamax", "nadam": "Nadam"}
GOOD = 0.1  # nats: a trial within this of the best counts as a good lr


def _color(optimizer: str):
    return plt.cm.tab10(list(NAMES).index(optimizer) % 10) if optimizer in NAMES else "k"


def table(runs, options) -> pd.DataFrame:
    """'search' rows: one per trial (lr, objective = mean over its seeds, ...); 'curve' rows:
    the metrics of every seed of each optimizer's best trial, epoch by epoch."""
    name = options["objective"]
    rows, best = [], {}
    for run in runs:
        s = run.summary
        value = records.objective_value(s, name) if s["status"] != "diverged" else np.inf
        rows.append({"kind": "search", "optimizer": run.arm, "trial": run.trial,
                     "lr": run.cfg.optimizer.lr, "objective": value,
                     "objective_std": s.get(f"{name}_std", 0.0),
                     "best_val_acc": s["best_val_acc"], "final_val_acc": s["final_val_acc"],
                     "test_acc": s["test_acc"], "seeds": len(s["seeds"]),
                     "status": s["status"], "objective_name": name})
        if np.isfinite(value) and (run.arm not in best or value < best[run.arm][0]):
            best[run.arm] = (value, run)
    frames = [pd.DataFrame(rows)]
    for arm, (_, run) in best.items():
        curves = run.metrics[["seed", "epoch", "train_loss", "val_loss", "val_acc"]]
        frames.append(curves.assign(kind="curve", optimizer=arm, lr=run.cfg.optimizer.lr))
    return pd.concat(frames, ignore_index=True)


def best(table: pd.DataFrame) -> pd.DataFrame:
    """Per optimizer: the tuned lr, its validation (and test) numbers, how wide a range of lr
    was good, how many trials diverged."""
    search = table[table.kind == "search"]
    rows = []
    for optimizer, part in search.groupby("optimizer", sort=False):
        finite = part[np.isfinite(part.objective)]
        if finite.empty:
            rows.append({"optimizer": NAMES.get(optimizer, optimizer), "arm": optimizer})
            continue
        top = finite.loc[finite.objective.idxmin()]
        good = finite[finite.objective <= top.objective + GOOD].lr
        rows.append({
            "optimizer": NAMES.get(optimizer, optimizer), "arm": optimizer, "best_lr": top.lr,
            top.objective_name: top.objective, f"{top.objective_name}_std": top.objective_std,
            "val_acc_at_best": top.best_val_acc, "final_val_acc": top.final_val_acc,
            "test_acc": top.test_acc,
            "good_lr_decades": float(np.log10(good.max() / good.min())),
            "trials": len(part), "smallest_lr": part.lr.min(), "largest_lr": part.lr.max(),
            "diverged": int((part.status == "diverged").sum())})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return best(table).drop(columns=["arm", "smallest_lr", "largest_lr"])


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    b = best(table)
    search = table[table.kind == "search"]
    curves = table[table.kind == "curve"]
    name = search.objective_name.iloc[0]
    trials = search.groupby("optimizer").lr.nunique()
    checks = [Check("every optimizer tuned by its own random search in log space",
                    bool((trials == search.groupby("optimizer").size()).all()
                         and b["best_lr"].notna().all()),
                    f"{len(trials)} optimizers, {trials.min()}-{trials.max()} distinct lrs "
                    f"each, log-uniform on [{search.lr.min():.2g}, {search.lr.max():.2g}]")]
    interior = (b.best_lr > b.smallest_lr) & (b.best_lr < b.largest_lr)
    checks.append(Check("each best lr lies inside the searched range (not its smallest or "
                        "largest trial)", bool(interior.all()),
                        ", ".join(f"{o} {lr:.3g}" for o, lr in zip(b.optimizer, b.best_lr))))
    start = curves[curves.epoch == 0].groupby("optimizer").val_loss.mean()
    ratio = (b.set_index("arm")[name] / start).dropna()
    checks.append(Check(f"table: best lr and {name} per optimizer; every one trains at its "
                        "tuned lr (< 0.7x the initial validation loss)",
                        bool(len(ratio) == len(b) and (ratio < 0.7).all()),
                        ", ".join(f"{NAMES.get(o, o)} {v:.3f}" for o, v in
                                  b.set_index("arm")[name].items())))
    seeds = curves.groupby("optimizer").seed.nunique()
    checks.append(Check("curves at the best lr with seed bands (several seeds each)",
                        bool(len(seeds) == len(b) and (seeds > 1).all()),
                        f"{seeds.min()}-{seeds.max()} seeds per optimizer"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    fig, axes = plt.subplots(1, 3, figsize=(18, 6.2), gridspec_kw={"width_ratios": [1.2, 1, 1]})
    search = table[table.kind == "search"]
    curves = table[table.kind == "curve"]
    name = search.objective_name.iloc[0]
    b = best(table).set_index("arm")
    finite = search.objective[np.isfinite(search.objective)]
    top = min(finite.max(), 2 * np.log(10)) * 1.03  # above chance level (ln 10), not blow-ups

    ax = axes[0]
    for optimizer, part in search.groupby("optimizer", sort=False):
        part = part.sort_values("lr")
        color = _color(optimizer)
        shown = part.objective.where(part.objective <= top, top)
        label = NAMES.get(optimizer, optimizer)
        if optimizer in b.index and np.isfinite(b.loc[optimizer].get("best_lr", np.nan)):
            label += f" (best lr {b.loc[optimizer, 'best_lr']:.2g})"
        ax.plot(part.lr, shown, "o-", ms=3, lw=1.2, color=color, alpha=0.85, label=label)
        if optimizer in b.index:
            ax.plot(b.loc[optimizer, "best_lr"], b.loc[optimizer, name], "*", ms=14,
                    color=color, mec="k", mew=0.6, zorder=3)
    ax.set(xscale="log", ylim=(None, top * 1.02), xlabel="learning rate (log scale)",
           ylabel=f"{name.replace('_', ' ')} (nats, mean of the seeds)",
           title=f"The searches: {search.groupby('optimizer').size().iloc[0]} random lrs per "
                 "optimizer\n(star: the best; diverged or above 2 ln 10 drawn at the top)")

    for ax, column, label in ((axes[1], "train_loss", "training loss (nats)"),
                              (axes[2], "val_acc", "validation accuracy (fraction)")):
        for optimizer, part in curves.groupby("optimizer", sort=False):
            band(ax, part, "epoch", column, color=_color(optimizer))
        ax.set(xlabel="epoch", ylabel=label)
    plain_log_y(axes[1])
    axes[1].set_title("Training loss at each optimizer's best lr\n(mean, min-max band over "
                      f"{curves.seed.nunique()} seeds)")
    axes[2].set_title("Validation accuracy at each optimizer's best lr\n(mean, min-max band "
                      "over the seeds)")
    for ax in axes:
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=9, frameon=False)
    fig.suptitle("Ten optimizers on MNIST-1D (MLP 40-100-10, batch 128), each at the lr its own "
                 "random search found", fontsize=13)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
