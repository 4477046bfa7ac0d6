"""Adaptive search against brute force (lecture 004; Li et al. 2018, Jaderberg et al. 2017):
the best validation loss found so far against the trial-epochs spent, for random search,
successive halving and population-based training over the same trials, with bands over search
seeds; and the lr schedule PBT's population used, its final best member's lineage traced back
through pbt.csv's parents."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab import records
from trainlab.figures.common import Check
from trainlab.figures.plots import band

LABELS = {"random": "random search (every trial to the end)",
          "halving": "successive halving (eta 3)", "pbt": "population-based training"}
COLORS = {"random": "C0", "halving": "C1", "pbt": "C2"}


# ---------------------------------------------------------------------------------- table
def table(runs, options) -> pd.DataFrame:
    """'curve' rows: per search (method, search seed) and epoch, the trial-epochs spent up to
    the end of that epoch, the trials alive in it, and the best validation loss seen so far;
    'lr' rows: per PBT member and epoch, the lr it trained with (its metrics.csv), and whether
    that (member, epoch) is on the lineage of the search's final best member."""
    searches: dict[tuple, list] = {}
    for run in runs:
        searches.setdefault((run.arm, run.search_seed), []).append(run)
    frames = [_curve(method, seed, members) for (method, seed), members in searches.items()]
    frames += [_lineage(seed, members) for (method, seed), members in searches.items()
               if method == "pbt"]
    return pd.concat(frames, ignore_index=True)


def _curve(method: str, seed: int, members: list) -> pd.DataFrame:
    """Spending as the vectorized program spends it: every live trial's epoch e, then every
    live trial's epoch e + 1 (a pruned trial's metrics end at its rung)."""
    metrics = pd.concat([run.metrics[["epoch", "val_loss"]] for run in members])
    metrics = metrics[metrics.epoch >= 1]
    loss = metrics.val_loss.where(np.isfinite(metrics.val_loss), np.inf)  # diverged: never best
    per_epoch = loss.groupby(metrics.epoch).agg(["size", "min"]).sort_index()
    return pd.DataFrame({"kind": "curve", "method": method, "search_seed": seed,
                         "epoch": per_epoch.index, "trials": per_epoch["size"].to_numpy(),
                         "trial_epochs": per_epoch["size"].cumsum().to_numpy(),
                         "best_so_far": np.minimum.accumulate(per_epoch["min"].to_numpy())})


def _lineage(seed: int, members: list) -> pd.DataFrame:
    """Every member's lr per epoch; on the lineage: the final best member (by the sweep's
    objective) after the last interval, the member it copied before that, and so on back."""
    by_trial = {run.trial: run for run in members}
    scores = {t: records.objective_value(r.summary, r.cfg.objective)
              if r.summary["status"] != "diverged" else np.inf for t, r in by_trial.items()}
    best = min(scores, key=lambda t: (scores[t], t))
    parents = pd.read_csv(members[0].folder.parent / "pbt.csv")
    slot, owner = best, {}
    for epoch, part in sorted(parents.groupby("epoch"), reverse=True):
        if epoch < max(parents.epoch):  # at this boundary, slot took its parent's carry
            slot = int(part.set_index("member").parent[slot])
        owner[int(epoch)] = slot  # trained epochs (previous boundary, epoch] in this slot
    boundaries = sorted(owner)
    rows = []
    for trial, run in by_trial.items():
        m = run.metrics[run.metrics.epoch >= 1]
        for epoch, lr in zip(m.epoch.to_numpy(), m.lr.to_numpy()):
            segment = boundaries[int(np.searchsorted(boundaries, epoch))]
            rows.append({"kind": "lr", "method": "pbt", "search_seed": seed,
                         "epoch": int(epoch), "member": int(trial), "lr": float(lr),
                         "lineage": owner[segment] == trial, "final_best": trial == best})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------- summaries
def _reach(curve: pd.DataFrame, target: float) -> float:
    """The trial-epochs spent when the curve first came to ``target`` or below (inf: never)."""
    hit = curve[curve.best_so_far <= target]
    return float(hit.trial_epochs.iloc[0]) if len(hit) else np.inf


def reaching(table: pd.DataFrame, tolerance: float) -> pd.DataFrame:
    """Per search: its trial-epochs in all, its final best, and the trial-epochs it spent to
    come within ``tolerance`` of random search's final best of the same search seed."""
    curves = table[table.kind == "curve"]
    rows = []
    for (method, seed), curve in curves.groupby(["method", "search_seed"], sort=False):
        random = curves[(curves.method == "random") & (curves.search_seed == seed)]
        target = random.best_so_far.iloc[-1] * (1 + tolerance)
        rows.append({"method": method, "search_seed": seed,
                     "trial_epochs": int(curve.trial_epochs.iloc[-1]),
                     "best": float(curve.best_so_far.iloc[-1]),
                     "random_best": float(random.best_so_far.iloc[-1]),
                     "to_reach_random_best": _reach(curve, target)})
    return pd.DataFrame(rows)


def spans(table: pd.DataFrame) -> pd.DataFrame:
    """Per PBT member: the lrs it trained with (its metrics.csv: smallest, largest, distinct),
    and whether it is its search's final best."""
    lrs = table[table.kind == "lr"]
    out = lrs.groupby(["search_seed", "member"]).agg(
        low=("lr", "min"), high=("lr", "max"), distinct=("lr", "nunique"),
        final_best=("final_best", "first")).reset_index()
    out["span"] = out.high / out.low
    return out


def lineage(table: pd.DataFrame) -> pd.DataFrame:
    """Per PBT search: the lrs its final best member's lineage trained with, first and last."""
    lrs = table[(table.kind == "lr") & table.lineage.astype(bool)].sort_values("epoch")
    return lrs.groupby("search_seed").lr.agg(first="first", last="last", low="min",
                                             high="max").reset_index()


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    r = reaching(table, options["tolerance"])
    return r.groupby("method", sort=False).agg(
        searches=("best", "size"), trial_epochs=("trial_epochs", "mean"),
        mean_best=("best", "mean"), std_best=("best", "std"),
        to_reach_random_best=("to_reach_random_best", "mean")).reset_index()


# ---------------------------------------------------------------------------------- checks
def check(table: pd.DataFrame, options: dict) -> list[Check]:
    tolerance, least = float(options["tolerance"]), float(options["lr_span"])
    r = reaching(table, tolerance)
    random, halving = (r[r.method == m].set_index("search_seed") for m in ("random", "halving"))
    pairs = [(s, halving.to_reach_random_best.get(s, np.inf), random.to_reach_random_best[s])
             for s in random.index]
    faster = bool(pairs) and all(h < b for _, h, b in pairs)
    checks = [Check(
        f"halving reaches random search's final best (within {tolerance:.0%}) with fewer "
        "trial-epochs than random search, in every search seed", faster,
        "; ".join(f"seed {s}: halving {h:g} vs random {b:g} trial-epochs (halving's best "
                  f"{halving.best.get(s, np.inf):.4f}, random's {random.best[s]:.4f})"
                  for s, h, b in pairs))]
    least_members = float(options["changed_fraction"])
    s = spans(table)
    moved = s.assign(moved=s.span >= least).groupby("search_seed").moved.mean()
    best = lineage(table).set_index("search_seed")
    checks.append(Check(
        f"PBT's lr schedule changes over training: at least {least_members:.0%} of the members "
        f"train with lrs spanning a factor {least:g} or more (their metrics.csv lr column), in "
        "every search seed", bool(len(moved)) and bool((moved >= least_members).all()),
        "; ".join(f"seed {seed}: {fraction:.0%} of {int((s.search_seed == seed).sum())} members "
                  f"(the final best's lineage {best.loc[seed, 'first']:.3g} -> "
                  f"{best.loc[seed, 'last']:.3g}, from {best.loc[seed, 'low']:.3g} to "
                  f"{best.loc[seed, 'high']:.3g})" for seed, fraction in moved.items())
        or "no PBT member in the table"))
    return checks


# ------------------------------------------------------------------------------------ draw
def draw(table: pd.DataFrame, options: dict):
    fig, axes = plt.subplots(1, 2, figsize=(15, 5.6), gridspec_kw={"width_ratios": [1.2, 1]})
    tolerance = float(options["tolerance"])
    curves = table[table.kind == "curve"]
    r = reaching(table, tolerance)

    ax = axes[0]
    # Relative to random search's final best of the same search seed: one target line for all.
    final = curves[curves.method == "random"].groupby("search_seed").best_so_far.last()
    curves = curves.assign(relative=100 * (curves.best_so_far
                                           / curves.search_seed.map(final).to_numpy() - 1))
    for method in ("random", "halving", "pbt"):
        part = curves[curves.method == method]
        if part.empty:
            continue
        n = part.search_seed.nunique()
        band(ax, part, "trial_epochs", "relative", color=COLORS[method],
             label=f"{LABELS[method]}: mean and range over {n} search seeds", marker=".",
             markersize=4)
        reached = r[(r.method == method) & np.isfinite(r.to_reach_random_best)]
        at = part.set_index(["search_seed", "trial_epochs"]).relative
        ax.scatter(reached.to_reach_random_best,
                   [at[(s, x)] for s, x in zip(reached.search_seed, reached.to_reach_random_best)],
                   marker="*", s=130, edgecolor="k", lw=0.5, color=COLORS[method], zorder=3)
    ax.axhline(100 * tolerance, color="k", ls="--", lw=1,
               label=f"within {tolerance:.0%} of random search's final best")
    ax.axhline(0, color="k", lw=0.6)
    low = min(-1.0, float(curves.relative.min()) * 1.2)
    ax.set(xscale="log", ylim=(low, 30), xlabel="trial-epochs spent (log scale)",
           ylabel="best validation loss so far, % above random search's final best\n"
                  "(the same search seed)",
           title="Best objective so far against the work spent\n(stars: where each search "
                 "seed first comes within the dashed line)")
    ax.xaxis.set_major_formatter(plt.matplotlib.ticker.FormatStrFormatter("%g"))
    ax.xaxis.set_minor_formatter(plt.matplotlib.ticker.NullFormatter())
    ax.legend(fontsize=8, loc="upper right")

    ax = axes[1]
    lrs = table[table.kind == "lr"]
    shown = options["shown_seed"]
    population = lrs[lrs.search_seed == shown]
    for i, (_, member) in enumerate(population.groupby("member")):
        ax.plot(member.epoch, member.lr, color="0.7", lw=0.6, alpha=0.6, drawstyle="steps-pre",
                label=f"every member's lr (search seed {shown})" if i == 0 else None)
    for i, (seed, part) in enumerate(lrs[lrs.lineage.astype(bool)].groupby("search_seed")):
        part = part.sort_values("epoch")  # one member after another: its slot at each epoch
        ax.plot(part.epoch, part.lr, color=plt.cm.Dark2(i % 8), lw=2.4, drawstyle="steps-pre",
                label=f"the final best's lineage, search seed {seed}")
    ax.set(yscale="log", xlabel="epoch", ylabel="learning rate (log scale)",
           title="PBT's lr over training: each member (grey) and the lineage of the final "
                 "best\n(traced back through the members it copied, pbt.csv)")
    ax.legend(fontsize=8, loc="lower left")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Adaptive search inside the compiled program: halving and PBT against "
                 "brute-force random search, same trials", fontsize=13)
    fig.tight_layout()
    return fig
