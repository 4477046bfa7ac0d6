"""Sweep and run directories written by hand for the report tests: the files of the contract
(``.hydra/overrides.yaml``, ``.hydra/config.yaml``, ``metrics.csv``, ``summary.json``,
``multirun.yaml``), with made-up numbers and no training, at any size."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

FIXED = ["data=moons", "model.widths=[16,16]", "epochs=6"]
SEARCH = ["optimizer.lr=tag(log, interval(1e-4, 1e-1))", "model.hidden_dropout=interval(0, 0.5)"]


def metrics(lr: float, dropout: float, seeds: list[int], epochs: int = 6,
            layers: int = 2) -> pd.DataFrame:
    """A metrics table shaped like a run's: loss falling faster for lr near 1e-2."""
    rows = []
    quality = abs(np.log10(lr) + 2) + dropout  # 0 is best
    for seed in seeds:
        rng = np.random.default_rng(seed)
        for epoch in range(epochs + 1):
            loss = 0.2 + quality * 0.3 + np.exp(-epoch / 2) + 0.02 * rng.normal()
            row = {"seed": seed, "epoch": epoch, "step": 10 * epoch, "lr": lr,
                   "train_loss": loss - 0.05, "train_acc": 1 - loss / 2, "val_loss": loss,
                   "val_acc": 0.95 - loss / 2, "gap_loss": 0.05, "time_s": 0.01 * epoch}
            for layer in range(1, layers + 1):
                row[f"grad_norm/{layer}"] = 10.0 ** (-layer) * np.exp(-epoch / 3)
                row[f"act_std/{layer}"] = 0.5 + 0.1 * layer
            rows.append(row)
    return pd.DataFrame(rows)


def write_job(job_dir: Path, overrides: list[str], table: pd.DataFrame, status: str = "ok",
              objective: str = "best_val_loss", extra: dict | None = None) -> dict:
    (job_dir / ".hydra").mkdir(parents=True)
    (job_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    (job_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump({"objective": objective}))
    table.to_csv(job_dir / "metrics.csv", index=False)
    best = table.groupby("seed")["val_loss"].min().mean()
    last = table[table.epoch == table.epoch.max()]
    summary = {"status": status, "best_epoch": int(table.epoch.max()),
               "best_val_loss": None if status == "diverged" else float(best),
               "best_val_acc": float(last.val_acc.mean()), "test_loss": float(best) + 0.01,
               "test_acc": float(last.val_acc.mean()) - 0.01, "n_params": 354, "wall_s": 0.5,
               "overrides": overrides, "seeds": sorted(table.seed.unique().tolist()),
               "config_hash": "made-by-hand", **(extra or {})}
    (job_dir / "summary.json").write_text(json.dumps(summary))
    return summary


def make_sweep(root: Path, lrs=(1e-3, 1e-2, 1e-1), dropouts=(0.1, 0.3), seeds=(0, 1),
               *, diverged: tuple[int, ...] = (), rung: bool = False,
               search: list[str] = SEARCH) -> Path:
    """A grid sweep, one job per (lr, dropout, seed), seed swept when several are given;
    jobs numbered in grid order, those in ``diverged`` marked so; with ``rung``, each job's
    summary has the successive-halving rung it reached (the best ones the highest)."""
    root.mkdir(parents=True, exist_ok=True)
    swept_seed = len(seeds) > 1
    task = [*search, *FIXED] + ([f"seed={','.join(map(str, seeds))}"] if swept_seed else [])
    (root / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))
    grid = list(itertools.product(lrs, dropouts, seeds))
    for number, (lr, dropout, seed) in enumerate(grid):
        overrides = [f"optimizer.lr={lr}", f"model.hidden_dropout={dropout}", *FIXED]
        overrides += [f"seed={seed}"] if swept_seed else []
        extra = {"rung": int(abs(np.log10(lr) + 2) < 0.5) + int(dropout < 0.2)} if rung else {}
        write_job(root / str(number), overrides, metrics(lr, dropout, [seed]),
                  "diverged" if number in diverged else "ok", extra=extra)
    return root


def write_pbt(sweep_dir: Path, members: int = 4, intervals: int = 4) -> pd.DataFrame:
    """A pbt.csv: each interval, the worst member copies the best one and perturbs its lr."""
    rng = np.random.default_rng(0)
    lr = {m: 10.0 ** rng.uniform(-3, -1) for m in range(members)}
    score = {m: 1.0 + 0.1 * m for m in range(members)}
    rows = []
    for interval in range(intervals):
        parents = {m: m for m in range(members)}
        if interval > 0:
            best, worst = min(score, key=score.get), max(score, key=score.get)
            parents[worst] = best
            lr[worst] = lr[best] * 1.2
            score[worst] = score[best]
        for m in range(members):
            score[m] = score[m] * 0.8 + 0.01 * rng.normal()
            rows.append({"member": m, "interval": interval, "parent": parents[m],
                         "optimizer.lr": lr[m], "objective": score[m]})
    table = pd.DataFrame(rows)
    table.to_csv(sweep_dir / "pbt.csv", index=False)
    return table
