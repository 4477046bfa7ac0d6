"""What a sweep's report shows, as tables: the sweep table (``sweep_table``) and what is read
beside it, the search space (``multirun.yaml``), the top entries' learning curves (their jobs'
``metrics.csv``, nothing else is read per job), and the adaptive searches' files.

Files of searches that come later, read when present:
- a ``rung`` column of the sweep table: the successive-halving rung each job reached;
- ``pbt.csv`` in the sweep dir: one row per (member, interval) of a population-based search,
  with ``member``, ``interval``, ``parent`` (the member whose weights it started the interval
  from; itself when it was not replaced), its hyperparameter values and ``objective`` at the
  end of the interval.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainlab import sweep_table

SEED = "seed"
CURVE_COLUMNS = ("seed", "epoch", "train_loss", "val_loss", "train_acc", "val_acc")
PBT_FILE = "pbt.csv"
PBT_COLUMNS = ("member", "interval", "parent", "objective")
_LOG_TAG = re.compile(r"tag\(\s*(\w+\s*,\s*)*log\s*[,)]")


class ReportError(ValueError):
    """A file of the sweep that the report cannot read (one line: the file and why)."""


@dataclass
class Curves:
    """The learning curves of one entry of the top k: a job, or a configuration over its
    seeds (its jobs best first); ``table`` holds every seed's rows, with a ``job`` column."""

    label: str
    jobs: list[str]
    table: pd.DataFrame


@dataclass
class SweepData:
    sweep_dir: Path
    frame: pd.DataFrame  # the sweep table, best first
    objective: str
    swept: list[str]  # the swept keys (columns of the table), seed included
    hyperparameters: list[str]  # the swept keys but seed
    log_keys: set[str]  # hyperparameters shown on a log axis
    fixed: list[str]  # the overrides every job shares
    by_config: pd.DataFrame | None  # when seed was swept: one row per configuration
    curves: list[Curves]
    pbt: pd.DataFrame | None


def load(sweep_dir: Path | str, frame: pd.DataFrame, objective: str,
         top_k: int = 10) -> SweepData:
    """Everything the sweep's page shows, from its table and the files beside it."""
    sweep_dir = Path(sweep_dir)
    swept = sweep_table.swept_columns(frame)
    hyperparameters = [k for k in swept if k != SEED]
    spec = search_space(sweep_dir)
    log_keys = {k for k in hyperparameters if log_scaled(frame[k], spec.get(k, ""))}
    grouped = by_config(frame, hyperparameters) if SEED in swept and len(frame) > 1 else None
    return SweepData(
        sweep_dir=sweep_dir, frame=frame, objective=objective, swept=swept,
        hyperparameters=hyperparameters, log_keys=log_keys,
        fixed=fixed_overrides(sweep_dir, frame, swept), by_config=grouped,
        curves=top_curves(sweep_dir, frame, grouped, hyperparameters, top_k),
        pbt=read_pbt(sweep_dir),
    )


def search_space(sweep_dir: Path) -> dict[str, str]:
    """The sweep's command-line overrides (``multirun.yaml``), key -> value as written."""
    config = sweep_table.read_yaml(sweep_dir / "multirun.yaml")
    try:
        task = config["hydra"]["overrides"]["task"] or []
    except (TypeError, KeyError):
        return {}
    items = (str(item).partition("=") for item in task)
    return {key.lstrip("+~"): value for key, _, value in items}


def log_scaled(values: pd.Series, spec: str = "") -> bool:
    """Whether a hyperparameter reads best on a log axis. The search says so where it can:
    ``tag(log, ...)`` is log, any other ``interval(...)`` is linear. Otherwise (a grid, a
    choice, no multirun.yaml) the values decide: positive, and either spanning two decades or
    more, or (three or more) evenly spaced in log and not in linear (1e-3, 3e-3, 1e-2); with
    many values, spanning two decades and spread evenly in log (their log's median mid-way)."""
    if _LOG_TAG.search(spec):
        return True
    if "interval(" in spec:
        return False
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any() or values.dtype == bool:
        return False
    unique = np.unique(numbers.to_numpy(float))
    if len(unique) < 2 or unique[0] <= 0:
        return False
    decades = np.log10(unique[-1] / unique[0])
    if len(unique) > 10:  # drawn, not listed: which scale spreads them evenly
        logs = np.log10(numbers.to_numpy(float))
        middle = (np.median(logs) - logs.min()) / (logs.max() - logs.min())
        return bool(decades >= 2 and 0.3 < middle < 0.7)
    if decades >= 2:
        return True
    if len(unique) < 3:
        return False
    log_steps, steps = np.diff(np.log(unique)), np.diff(unique)
    return bool(np.ptp(log_steps) < 0.1 * log_steps.mean() and np.ptp(steps) > 0.1 * steps.mean())


def fixed_overrides(sweep_dir: Path, frame: pd.DataFrame, swept: list[str]) -> list[str]:
    """The overrides of the first job that are not swept: what every job shares."""
    if frame.empty:
        return []
    job = sweep_dir / str(frame["job"].iloc[0]) / ".hydra" / "overrides.yaml"
    overrides = [str(o) for o in sweep_table.read_yaml(job) or []]
    return [o for o in overrides
            if o.partition("=")[0].lstrip("+~") not in swept
            and not o.lstrip("+~").startswith("hydra.")]


def by_config(frame: pd.DataFrame, hyperparameters: list[str]) -> pd.DataFrame:
    """One row per configuration (the jobs alike but for the seed): the objective's mean and
    std over its finished jobs, ``n`` jobs, how many diverged, the mean ± std of the test
    metrics, and its best job. Ranked by the mean; a configuration with a diverged seed
    ranks after those without (as a job with a diverged seed ranks last)."""
    keys = hyperparameters or ["_all"]
    work = frame.assign(_all=0) if not hyperparameters else frame
    metrics = ["objective", *(m for m in ("test_acc", "test_loss") if m in frame)]
    rows = []
    for values, jobs in work.groupby(keys, sort=False, dropna=False):
        values = values if isinstance(values, tuple) else (values,)
        row = dict(zip(hyperparameters, values)) if hyperparameters else {}
        row["n"] = len(jobs)
        row["n_diverged"] = int((jobs["status"] == "diverged").sum())
        for metric in metrics:
            finite = pd.to_numeric(jobs[metric], errors="coerce").dropna()
            row[metric] = float(finite.mean()) if len(finite) else math.nan
            row[f"{metric}_std"] = float(finite.std(ddof=0)) if len(finite) else math.nan
        row["best_job"] = str(jobs["job"].iloc[0])  # the frame is best first
        rows.append(row)
    table = pd.DataFrame(rows)
    table = table.sort_values(["n_diverged", "objective"], na_position="last", kind="stable",
                              key=lambda c: c > 0 if c.name == "n_diverged" else c)
    return table.reset_index(drop=True)


def top_curves(sweep_dir: Path, frame: pd.DataFrame, grouped: pd.DataFrame | None,
               hyperparameters: list[str], k: int) -> list[Curves]:
    """The learning curves of the best ``k`` configurations (with seed swept: all their
    seeds' jobs) or jobs; only these jobs' ``metrics.csv`` are read."""
    finished = frame[frame["objective"].notna()]
    if grouped is not None:
        entries = []
        for _, config in grouped.head(k).iterrows():
            if pd.isna(config["objective"]):  # nothing of it finished
                continue
            same = np.ones(len(finished), bool)
            for key in hyperparameters:
                same &= (finished[key] == config[key]).to_numpy()
            jobs = [str(j) for j in finished["job"][same]]
            label = " ".join(f"{key}={_short(config[key])}" for key in hyperparameters)
            entries.append((label or "all jobs", jobs))
    else:
        entries = []
        for _, row in finished.head(k).iterrows():
            values = " ".join(f"{key}={_short(row[key])}" for key in hyperparameters)
            label = f"job {row['job']}" + (f": {values}" if values else "")
            entries.append((label if len(label) <= 70 else label[:69] + "…", [str(row["job"])]))
    curves = []
    for label, jobs in entries:
        tables = [_read_curves(sweep_dir / job / "metrics.csv", job) for job in jobs]
        tables = [t for t in tables if t is not None]
        if tables:
            curves.append(Curves(label, jobs, pd.concat(tables, ignore_index=True)))
    return curves


def _read_curves(path: Path, job: str) -> pd.DataFrame | None:
    try:
        table = pd.read_csv(path, usecols=lambda c: c in CURVE_COLUMNS)
    except (OSError, ValueError, pd.errors.EmptyDataError):
        return None
    return table.assign(job=job)


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def read_pbt(sweep_dir: Path) -> pd.DataFrame | None:
    """``pbt.csv`` of a population-based search, when the sweep has one."""
    path = sweep_dir / PBT_FILE
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.EmptyDataError) as error:
        raise ReportError(f"{path}: not a readable csv table ({error})") from None
    missing = [c for c in PBT_COLUMNS if c not in table]
    if missing:
        raise ReportError(f"{path}: needs the columns {', '.join(PBT_COLUMNS)} "
                          f"(missing {', '.join(missing)})")
    return table.sort_values(["interval", "member"], kind="stable").reset_index(drop=True)


def pbt_hyperparameters(pbt: pd.DataFrame) -> list[str]:
    """The hyperparameter columns of ``pbt.csv``: all but its own."""
    return [c for c in pbt.columns if c not in PBT_COLUMNS]
