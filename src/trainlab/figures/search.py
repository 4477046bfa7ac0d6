"""Grid vs random search with the same budget (lecture 004, Bergstra & Bengio 2012): with one
hyperparameter that matters (lr) and d - 1 that do not (a tiny L2 kappa and a tiny decoupled
weight decay), a k^d grid tries only k distinct lr values, a random search of k^d trials
tries k^d of them."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab import records
from trainlab.figures.common import Check

LR, KAPPA, WD = "optimizer.lr", "regularizer.kappa", "optimizer.decoupled_decay"
UNIMPORTANT = ("kappa", "weight_decay")  # the table's columns of the other hyperparameters
LABELS = {"random": "random search", "grid": "randomly shifted grid",
          "fixed": "fixed grid (decades)"}
COLORS = {"random": "C0", "grid": "C1", "fixed": "C3"}


def table(runs, options) -> pd.DataFrame:
    """One row per trial: its search (method, seed), lr, kappa and objective; a diverged trial
    scores inf (a search never picks it)."""
    rows = []
    for run in runs:
        s = run.summary
        value = records.objective_value(s, options["objective"])
        rows.append({"method": run.arm,
                     "search_seed": run.search_seed if run.search_seed is not None else 0,
                     "trial": run.trial if run.trial is not None else run.index,
                     "lr": run.cfg.optimizer.lr, "kappa": run.cfg.regularizer.kappa,
                     "weight_decay": run.cfg.optimizer.decoupled_decay,
                     "objective": value if s["status"] != "diverged" else np.inf,
                     "best_val_acc": s["best_val_acc"], "status": s["status"],
                     "objective_name": options["objective"]})
    return pd.DataFrame(rows)


def searches(table: pd.DataFrame) -> pd.DataFrame:
    """One row per search: its trials, distinct values of each hyperparameter, best trial."""
    rows = []
    for (method, seed), part in table.groupby(["method", "search_seed"], sort=False):
        best = part.loc[part.objective.idxmin()]
        rows.append({"method": method, "search_seed": seed, "trials": len(part),
                     "distinct_lr": part.lr.nunique(), "distinct_kappa": part.kappa.nunique(),
                     "best": best.objective, "best_lr": best.lr, "best_kappa": best.kappa,
                     "diverged": int((part.status == "diverged").sum())})
    return pd.DataFrame(rows)


def methods(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: the repeats and the best objective they found (mean, std, range)."""
    s = searches(table)
    out = s.groupby("method", sort=False).agg(
        searches=("best", "size"), trials=("trials", "first"),
        distinct_lr=("distinct_lr", "mean"), mean_best=("best", "mean"),
        std_best=("best", "std"), min_best=("best", "min"), max_best=("best", "max"),
        diverged_trials=("diverged", "sum")).reset_index()
    out.insert(1, "label", out.method.map(LABELS))
    return out


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return methods(table)


def _unimportant_effect(table: pd.DataFrame) -> tuple[float, float]:
    """On the fixed grid: the largest change of the objective over the other hyperparameters
    at one lr, and the change over lr (its range over the lrs' mean objectives), trained lrs
    only."""
    fixed = table[(table.method == "fixed") & np.isfinite(table.objective)]
    by_lr = fixed.groupby("lr").objective
    over_rest = float((by_lr.max() - by_lr.min()).max())
    means = by_lr.mean()
    return over_rest, float(means.max() - means.min())


def _dimensions(table: pd.DataFrame) -> int:
    """How many hyperparameters the searches search: those that vary within a grid."""
    grid = table[table.method == "grid"]
    first = grid[grid.search_seed == grid.search_seed.iloc[0]]
    return sum(first[c].nunique() > 1 for c in ("lr", *UNIMPORTANT))


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    s = searches(table)
    m = methods(table).set_index("method")
    random, grid = s[s.method == "random"], s[s.method == "grid"]
    d = _dimensions(table)
    n = int(grid.trials.iloc[0])
    k = int(round(n ** (1 / d)))
    checks = [
        Check("random search tries as many distinct lr values as trials",
              bool((random.distinct_lr == random.trials).all()),
              f"{random.distinct_lr.min()}-{random.distinct_lr.max()} distinct lr in "
              f"{random.trials.iloc[0]} trials, {len(random)} searches"),
        Check(f"a grid tries trials^(1/{d}) distinct lr values ({d} hyperparameters)",
              bool((grid.distinct_lr == k).all()),
              f"{grid.distinct_lr.min()}-{grid.distinct_lr.max()} distinct lr in {n} trials "
              f"({' x '.join([str(k)] * d)})"),
    ]
    r, g = m.loc["random"], m.loc["grid"]
    wins = int((random.best.to_numpy() <= grid.best.to_numpy()).sum()) if len(random) == len(
        grid) else -1
    se = float(np.hypot(r.std_best / np.sqrt(r.searches), g.std_best / np.sqrt(g.searches)))
    margin = float(options["standard_errors"])
    checks.append(Check(
        f"random search finds better settings than a randomly shifted grid with the same "
        f"budget (Bergstra & Bengio): its mean best over the repeats is lower by at least "
        f"{margin:g} standard errors of the difference", bool(g.mean_best - r.mean_best
                                                               >= margin * se),
        f"random {r.mean_best:.4f} +- {r.std_best:.4f} vs shifted grid {g.mean_best:.4f} +- "
        f"{g.std_best:.4f} ({table.objective_name.iloc[0]}, {int(r.searches)} searches each): "
        f"difference {g.mean_best - r.mean_best:.4f} = {(g.mean_best - r.mean_best) / se:.1f} "
        f"standard errors; random at least as good in {wins} of {len(random)} paired seeds"))
    if "fixed" in m.index:
        over_rest, over_lr = _unimportant_effect(table)
        f = m.loc["fixed"]
        shifted = grid.best.to_numpy()
        rank = int((shifted < f.mean_best).sum())
        checks.append(Check(
            "the other hyperparameters are unimportant: on the fixed grid, kappa and the "
            "weight decay together move the objective by < 10% of what lr does",
            over_rest < 0.1 * over_lr,
            f"largest change over them at one lr {over_rest:.4f}, range over lr "
            f"{over_lr:.4f}; the fixed grid's best {f.mean_best:.4f} beats {len(shifted) - rank} "
            f"of {len(shifted)} shifted grids (luck of where its points fall)"))
    return checks


def draw(table: pd.DataFrame, options: dict):
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2), gridspec_kw={"width_ratios": [1, 1.2, 0.8]})
    shown = options["shown_seed"]
    s = searches(table)

    ax = axes[0]
    for method, marker in (("grid", "s"), ("random", "o"), ("fixed", "x")):
        part = table[(table.method == method) & (table.search_seed == shown)]
        if part.empty:
            continue
        label = LABELS[method] + ("" if method == "fixed" else f" (seed {shown})")
        ax.scatter(part.lr, part.kappa, marker=marker, s=40, color=COLORS[method], label=label,
                   alpha=0.9)
        # each search's distinct lr values as a row of ticks under the points: its projection
        low = {"random": 0.01, "grid": 0.07, "fixed": 0.13}[method]
        for lr in part.lr.unique():
            ax.axvline(lr, ymin=low, ymax=low + 0.045, color=COLORS[method], lw=1.5)
    kappa = table.kappa[table.kappa > 0]
    low, high = np.log10(kappa.min()), np.log10(kappa.max())
    ax.set_ylim(10 ** (low - 0.45 * (high - low)), 10 ** (high + 0.25 * (high - low)))
    ax.set(xscale="log", yscale="log", xlabel="learning rate (log scale)",
           ylabel="L2 penalty kappa (log scale)",
           title="The trials of one search of each kind, lr x kappa (the weight decay not "
                 "drawn)\n(ticks at the bottom: the distinct lr values each tries)")
    ax.legend(fontsize=8, loc="upper left")

    ax = axes[1]
    # the top of the axis: above every trial that trained, below the few that blew up
    finite = table.objective[np.isfinite(table.objective)]
    top = 1.08 * finite[finite < 5 * finite.min()].max()
    for method in ("random", "grid"):
        part = table[table.method == method]
        ok = part[np.isfinite(part.objective)]
        ax.scatter(ok.lr, ok.objective, s=9, alpha=0.35, color=COLORS[method],
                   label=f"{LABELS[method]}: every trial of {part.search_seed.nunique()} searches")
        bad = part[part.objective > top]
        ax.scatter(bad.lr, np.full(len(bad), top), marker="^", s=14, alpha=0.5,
                   color=COLORS[method])
        best = s[s.method == method]
        ax.scatter(best.best_lr, best.best, marker="*", s=120, edgecolor="k", lw=0.5,
                   color=COLORS[method], label=f"{LABELS[method]}: best of each search",
                   zorder=3)
    fixed = table[(table.method == "fixed") & np.isfinite(table.objective)]
    if not fixed.empty:
        ax.scatter(fixed.lr, fixed.objective, marker="x", s=30, color=COLORS["fixed"],
                   label=LABELS["fixed"], zorder=3)
    ax.set(xscale="log", ylim=(None, top * 1.02), xlabel="learning rate (log scale)",
           ylabel=f"{table.objective_name.iloc[0].replace('_', ' ')} (nats)",
           title="The objective against lr, every trial\n(triangles at the top: diverged "
                 "or blew up)")
    ax.legend(fontsize=7.5, loc="lower left")

    ax = axes[2]
    for x, method in enumerate(("random", "grid")):
        best = s[s.method == method].best.to_numpy()
        jitter = np.linspace(-0.12, 0.12, len(best))
        ax.scatter(x + jitter, best, color=COLORS[method], s=30, alpha=0.8)
        ax.hlines(best.mean(), x - 0.25, x + 0.25, color="k", lw=2)
        ax.text(x + 0.28, best.mean(), f"mean {best.mean():.3f}", va="center", fontsize=8)
    if not fixed.empty:
        ax.axhline(fixed.objective.min(), color=COLORS["fixed"], ls="--",
                   label=f"{LABELS['fixed']}: {fixed.objective.min():.3f}")
        ax.legend(fontsize=8, loc="upper left")
    n = int(s.trials.iloc[0])
    k = int(round(n ** (1 / _dimensions(table))))
    ax.set(xticks=[0, 1], xticklabels=[f"random\n({n} lr values)",
                                       f"shifted grid\n({k} lr values)"],
           xlim=(-0.5, 1.9),
           ylabel=f"{table.objective_name.iloc[0].replace('_', ' ')} of the search's best trial "
                  "(nats)",
           title=f"Best of each search ({n} trials),\nover {s.search_seed.nunique()} search "
                 "seeds")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Grid vs random search, same budget: only lr matters, and random search tries "
                 "more lr values (Bergstra & Bengio)", fontsize=13)
    fig.tight_layout()
    return fig
