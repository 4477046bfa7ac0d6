"""Which lr should `trainlab doctor` suggest from its range test? Measure it.

For each config: the doctor's lr range test (short runs, seeds), then the config trained for
its full length at every lr of the same grid (one vmapped program a config), and for each
candidate rule the full run's mean best_val_loss at the lr the rule picks, against the best
lr of the grid in hindsight (the regret).

    python tools/lr_rule.py                    # the configs below (minutes on a laptop CPU)
    python tools/lr_rule.py --quick            # a tiny config and grid: does it run

Rules: best (lowest worst-seed loss after the short budget), best/10 (fastai's "minimum / 10"
suggestion), low / high / middle of the good range (lr_range.analyze), and steepest (the lr
where the median loss falls fastest per decade, the rule fastai and pytorch-lr-finder use).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from trainlab import plan
from trainlab.config import compose
from trainlab.doctor import checks, lr_range, trials

CONFIGS = [
    [],
    ["optimizer=sgd"],
    ["optimizer=momentum", "activation=tanh", "init=xavier_normal", "model.widths=[100,100]"],
    ["data=digits", "optimizer=rmsprop", "model.widths=[64]", "epochs=40"],
]
QUICK = [["model.widths=[16]", "epochs=3", "data.train_size=256"]]


def steepest(frame: pd.DataFrame) -> float:
    log_lr = np.log10(frame["lr"].to_numpy())
    slope = np.diff(frame["median"].to_numpy()) / np.diff(log_lr)
    slope = np.where(np.isfinite(slope), slope, np.inf)
    i = int(np.argmin(slope))
    return float(10 ** ((log_lr[i] + log_lr[i + 1]) / 2))


def nearest(grid: np.ndarray, lr: float) -> int:
    return int(np.argmin(np.abs(np.log(grid) - math.log(lr))))


def measure(overrides: list[str], budget: trials.Budget, seeds: int, out: Path) -> list[dict]:
    cfg = compose(overrides)
    facts = trials.data_facts(cfg)
    m = trials.measure(cfg, budget, out / "doctor", overrides, facts=facts)
    frame = lr_range.per_lr(m.lr_range)
    chance = checks.chance_loss(cfg, facts)
    initial = float(m.own[m.own.epoch == 0].train_loss.mean())
    result = lr_range.analyze(frame, chance, initial)
    grid = frame["lr"].to_numpy()
    full = dataclasses.replace(cfg, seeds=seeds, progress=False, save_params=False)
    jobs = [plan.Job(trials.with_lr(full, lr)) for lr in grid]
    summaries = plan.train_many(jobs, progress=False)
    val = np.array([s["best_val_loss"] if s["status"] != "diverged" else np.inf
                    for s in summaries])
    hindsight = float(np.min(val))
    picks = {"steepest": steepest(frame)}
    if result is not None:
        picks |= {"best": result.best, "best/10": result.best / 10, "low": result.low,
                  "middle": result.suggested, "high": result.high}
    rows = []
    for rule, lr in picks.items():
        i = nearest(grid, lr)
        rows.append({"config": " ".join(overrides) or "(default)", "rule": rule,
                     "lr": grid[i], "best_val_loss": val[i], "regret": val[i] - hindsight,
                     "hindsight_lr": grid[int(np.argmin(val))]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny config: does it run")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of the full runs")
    args = parser.parse_args()
    configs = QUICK if args.quick else CONFIGS
    budget = trials.Budget(overfit=False, gradcheck=False, seeds=2 if args.quick else 3,
                           per_decade=1 if args.quick else 3)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, overrides in enumerate(configs):
            rows += measure(overrides, budget, 1 if args.quick else args.seeds,
                            Path(tmp) / str(i))
    frame = pd.DataFrame(rows)
    table = Table(title="full-length best_val_loss at each rule's lr (regret: above the "
                  "grid's best in hindsight)")
    for column in frame.columns:
        table.add_column(column)
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.3g}" if isinstance(v, float) else str(v) for v in row])
    Console(width=160).print(table)
    print(frame.groupby("rule").regret.agg(["mean", "max"]).sort_values("mean").to_string())


if __name__ == "__main__":
    main()
