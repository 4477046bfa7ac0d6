"""Adaptive search against brute force, in one run (issue 10's benchmark).

Task: MNIST-1D (4000 training samples, a validation split), MLP 40-256-256-10 with ReLU,
AdamW, batch 128, 40 epochs. Search space: lr log-uniform in [1e-4, 1e-1], the decoupled
weight decay log-uniform in [1e-5, 1e-1], the hidden dropout uniform in [0, 0.5]; the objective
is trainlab's default, the best validation loss. 81 trials a search, 3 search seeds.
Contenders, each the command a user types (wall time of the whole command):

  random   train -m hydra/sweeper=random hydra.sweeper.n_trials=81 hydra.sweeper.seed=S ...
           every trial all its epochs (brute force)
  halving  train -m hydra/sweeper=halving hydra.sweeper.eta=3 hydra.sweeper.min_epochs=5
           (rungs at 5, 15, 40: 81 -> 27 -> 9 trials)
  pbt      train -m hydra/sweeper=pbt hydra.sweeper.interval=4 (81 members)
  optuna   (only when optuna is installed: pip install -e '.[bench]') TPE with Hyperband's
           pruner, in this process, trial by trial: each trial trained epoch by epoch through
           trainlab's own compiled program (one compile for all), reporting its best
           validation loss so far after every epoch

Per contender: wall time, trial-epochs trained, the best validation loss (mean and std over
the search seeds), the test accuracy of its pick (the trial with the best objective), and the
trial-epochs it took to come within 1% of brute force's best. Then the goals, met or missed,
and by how much. Not a timed test: run it alone (timings on a shared machine lie).

    python benchmarks/bench_search.py [--trials 81] [--epochs 40] [--seeds 0,1,2]
    python benchmarks/bench_search.py --tiny        # 9 trials, 4 epochs, 2 seeds: it runs
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

SPACE = {"optimizer.lr": "tag(log, interval(1e-4, 1e-1))",
         "optimizer.decoupled_decay": "tag(log, interval(1e-5, 1e-1))",
         "model.hidden_dropout": "interval(0, 0.5)"}
BASE = ["data=mnist1d", "model.widths=[256,256]", "activation=relu", "init=he_normal",
        "optimizer=adamw", "batch_size=128", "diagnostics=off", "save_params=false",
        "progress=false"]
TOLERANCE = 0.01  # "matches brute force's best": within 1%
console = Console(width=150)


# ----------------------------------------------------------------------- train -m contenders
def sweep(sweep_dir: Path, sweeper: list[str], trials: int, epochs: int, seed: int,
          extra: list[str], jax_cache: Path) -> dict:
    """One search as a user runs it; its wall time, and every job's summary and metrics.
    JAX's compilation cache in ``jax_cache``: the contender's own, cold for its first search."""
    command = [sys.executable, "-m", "trainlab.cli", "-m", f"hydra.sweep.dir={sweep_dir}",
               *sweeper, f"hydra.sweeper.n_trials={trials}", f"hydra.sweeper.seed={seed}",
               *(f"{k}={v}" for k, v in SPACE.items()), *BASE, f"epochs={epochs}", *extra]
    start = time.perf_counter()
    env = os.environ | {"JAX_COMPILATION_CACHE_DIR": str(jax_cache)}
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"bench_search: {' '.join(command)} failed:\n{result.stderr[-3000:]}")
    jobs = sorted(p.parent for p in sweep_dir.glob("*/summary.json"))
    if len(jobs) != trials:
        sys.exit(f"bench_search: {len(jobs)} of {trials} jobs finished in {sweep_dir}")
    summaries = [json.loads((job / "summary.json").read_text()) for job in jobs]
    metrics = pd.concat([pd.read_csv(job / "metrics.csv", usecols=["epoch", "val_loss"])
                         for job in jobs])
    return {"wall": wall, "summaries": summaries, "metrics": metrics}


def curve(metrics: pd.DataFrame) -> pd.DataFrame:
    """Trial-epochs spent and the best validation loss seen so far, epoch by epoch, as the
    vectorized program spends them (every live trial's epoch e, then epoch e + 1)."""
    rows = metrics[metrics.epoch >= 1]
    loss = rows.val_loss.where(np.isfinite(rows.val_loss), np.inf)
    per_epoch = loss.groupby(rows.epoch).agg(["size", "min"]).sort_index()
    return pd.DataFrame({"trial_epochs": per_epoch["size"].cumsum().to_numpy(),
                         "best": np.minimum.accumulate(per_epoch["min"].to_numpy())})


def from_sweep(result: dict) -> dict:
    """A search's numbers: its pick (the best objective among the jobs that ran to the end)."""
    done = [s for s in result["summaries"] if s["status"] != "pruned"]
    pick = min(done, key=lambda s: s["best_val_loss"] if s["status"] != "diverged" else np.inf)
    c = curve(result["metrics"])
    return {"wall": result["wall"], "trial_epochs": int(c.trial_epochs.iloc[-1]),
            "best": float(c.best.iloc[-1]), "test_acc": float(pick["test_acc"]), "curve": c}


# ------------------------------------------------------------------------------ Optuna
def optuna_search(trials: int, epochs: int, seed: int, extra: list[str]) -> dict:
    """TPE + HyperbandPruner driving trainlab's compiled program trial by trial."""
    import optuna

    from trainlab.config import compose
    from trainlab.plan import Job, plan, trial_values
    from trainlab.trials import Trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    start = time.perf_counter()
    # One config stands for every trial: the three searched numbers are traced values of the
    # same compiled program, set per trial (no compose, no compile, per trial).
    cfg = compose([*BASE, f"epochs={epochs}", *extra, "optimizer.decoupled_decay=1e-3",
                   "model.hidden_dropout=0.25"])
    group = plan([Job(cfg)], chunk_size=0)[0]
    values, seeds, _ = trial_values([cfg])
    spent, best, reached, picks = 0, np.inf, [], {}

    def objective(trial) -> float:
        nonlocal spent, best
        drawn = {"optimizer.lr": trial.suggest_float("lr", 1e-4, 1e-1, log=True),
                 "optimizer.decoupled_decay": trial.suggest_float("weight_decay", 1e-5, 1e-1,
                                                               log=True),
                 "model.hidden_dropout": trial.suggest_float("dropout", 0.0, 0.5)}
        chunk = Trials(group.program, values | {k: np.asarray([v]) for k, v in drawn.items()},
                       seeds, group.data)  # compiled once, reused by every trial
        own = np.inf
        for epoch in range(1, epochs + 1):
            chunk.train(epoch)
            spent += 1
            loss = float(chunk.rows[-1]["val_loss"][0])
            own = min(own, loss if np.isfinite(loss) else np.inf)
            if own < best:
                best = own
                reached.append((spent, time.perf_counter() - start, best))
            trial.report(own, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        picks[trial.number] = float(chunk.outcome().test["test_acc"][0])
        return own

    study = optuna.create_study(
        direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed),
        study_name=f"bench-search-{seed}",  # Hyperband's brackets hash it: the same each run
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=epochs,
                                              reduction_factor=3))
    study.optimize(objective, n_trials=trials)
    wall = time.perf_counter() - start
    return {"wall": wall, "trial_epochs": spent, "best": float(study.best_value),
            "test_acc": picks[study.best_trial.number], "progress": reached}


# ---------------------------------------------------------------------------------- report
def _reach_epochs(result: dict, target: float) -> float:
    if "curve" in result:
        hit = result["curve"][result["curve"].best <= target]
        return float(hit.trial_epochs.iloc[0]) if len(hit) else np.inf
    hit = [spent for spent, _, best in result["progress"] if best <= target]
    return float(hit[0]) if hit else np.inf


def _reach_seconds(result: dict, target: float) -> float:
    """Seconds to come within the target: Optuna's measured; a sweep's, its whole wall time
    when it got there at all (an upper bound: its files are written as it ends)."""
    if "progress" in result:
        hit = [seconds for _, seconds, best in result["progress"] if best <= target]
        return hit[0] if hit else np.inf
    return result["wall"] if result["best"] <= target else np.inf


def _mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def report(results: dict[str, list[dict]], args) -> None:
    brute = results["random"]
    targets = [r["best"] * (1 + TOLERANCE) for r in brute]
    table = Table(title=f"{args.trials} trials a search, {args.epochs} epochs, search seeds "
                        f"{args.seeds}; MLP 40-256-256-10 on MNIST-1D, batch 128")
    for column in ("contender", "wall s", "trial-epochs", "best val loss", "test acc of pick",
                   f"trial-epochs to within {TOLERANCE:.0%} of random's best",
                   "s to within it"):
        table.add_column(column, justify="left" if column == "contender" else "right")
    summary = {}
    for name, runs in results.items():
        wall, epochs = _mean_std([r["wall"] for r in runs]), _mean_std(
            [r["trial_epochs"] for r in runs])
        best, acc = _mean_std([r["best"] for r in runs]), _mean_std([r["test_acc"] for r in runs])
        reach = [_reach_epochs(r, t) for r, t in zip(runs, targets)]
        seconds = [_reach_seconds(r, t) for r, t in zip(runs, targets)]
        summary[name] = {"wall": wall[0], "best": best[0], "seconds": max(seconds)}
        table.add_row(name, f"{wall[0]:.1f} ± {wall[1]:.1f}", f"{epochs[0]:.0f}",
                      f"{best[0]:.4f} ± {best[1]:.4f}", f"{acc[0]:.1%} ± {acc[1]:.1%}",
                      " / ".join(f"{x:g}" for x in reach),
                      " / ".join(f"{x:.1f}" for x in seconds))
    console.print(table)
    goals(summary)


def goals(s: dict) -> None:
    b, h, p = s["random"], s["halving"], s["pbt"]
    gap = h["best"] / b["best"] - 1
    lines = [(gap <= TOLERANCE and h["wall"] <= b["wall"] / 3,
              f"halving's best within {TOLERANCE:.0%} of brute force's ({gap:+.2%}) in at most a "
              f"third of its wall time ({h['wall'] / b['wall']:.2f} of it)"),
             (p["best"] < b["best"] and p["wall"] <= 1.1 * b["wall"],
              f"PBT's best beats brute force's at equal wall time: {p['best']:.4f} vs "
              f"{b['best']:.4f} ({p['best'] / b['best'] - 1:+.2%}), wall {p['wall']:.1f} s vs "
              f"{b['wall']:.1f} s (x{p['wall'] / b['wall']:.2f}; equal: within 10%)")]
    if "optuna" in s:
        o = s["optuna"]
        for name in ("halving", "pbt"):
            lines.append((s[name]["seconds"] < o["seconds"],
                          f"{name} reaches brute force's best (within {TOLERANCE:.0%}) sooner "
                          f"than Optuna with its pruner: {s[name]['seconds']:.1f} s vs "
                          f"{o['seconds']:.1f} s (worst search seed; inf: never)"))
    for ok, text in lines:
        console.print(f"{'[green]MET[/green]' if ok else '[red]MISSED[/red]'} {text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=81)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seeds", default="0,1,2", help="search seeds, comma-separated")
    parser.add_argument("--min-epochs", type=int, default=5, help="halving's first rung")
    parser.add_argument("--interval", type=int, default=4, help="PBT's interval, epochs")
    parser.add_argument("--tiny", action="store_true",
                        help="9 trials, 4 epochs, 2 search seeds: that it runs, not numbers")
    parser.add_argument("override", nargs="*", help="more overrides for every contender "
                                                    "(hydra.launcher.chunk_size=0, ...)")
    args = parser.parse_args()
    if args.tiny:
        args.trials, args.epochs, args.seeds = 9, 4, "0,1"
        args.min_epochs, args.interval = 1, 2
    seeds = [int(s) for s in args.seeds.split(",")]
    contenders = {
        "random": ["hydra/sweeper=random"],
        "halving": ["hydra/sweeper=halving", "hydra.sweeper.eta=3",
                    f"hydra.sweeper.min_epochs={args.min_epochs}"],
        "pbt": ["hydra/sweeper=pbt", f"hydra.sweeper.interval={args.interval}"],
    }
    launcher = [o for o in args.override if o.startswith("hydra")]
    plain = [o for o in args.override if not o.startswith("hydra")]
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="bench_search.") as root:
        for name, sweeper in contenders.items():
            for seed in seeds:
                console.print(f"{name}: search seed {seed} ...")
                run = sweep(Path(root) / f"{name}-{seed}", sweeper + launcher, args.trials,
                            args.epochs, seed, plain, Path(root) / f"jax-{name}")
                results.setdefault(name, []).append(from_sweep(run))
        try:
            import optuna  # noqa: F401
        except ImportError:
            console.print("optuna: not installed (pip install -e '.[bench]'), its row skipped")
        else:  # in this process: no Python start-up or Hydra in its wall time (a few seconds)
            import jax

            jax.config.update("jax_compilation_cache_dir", str(Path(root) / "jax-optuna"))
            for seed in seeds:
                console.print(f"optuna: search seed {seed} ...")
                results.setdefault("optuna", []).append(
                    optuna_search(args.trials, args.epochs, seed, plain))
    report(results, args)


if __name__ == "__main__":
    main()
