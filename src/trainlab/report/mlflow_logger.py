"""``logger=mlflow``: a run's tables as an MLflow run, in a local store (SQLite by default).

One MLflow run per job, named after its directory and tagged with its path: the job's
overrides as params (so MLflow's compare view lines the jobs of a sweep up by their swept
values), every ``metrics.csv`` column as a metric by epoch (step = epoch), and the summary's
numbers as ``summary/<field>``. A job with several seeds gets a child run per seed
(``seed_<s>``) holding that seed's curves; the parent holds the params and the summary.

Written through ``MlflowClient`` in batches, once, when the run's files are written (nothing
is logged while training). The sweep needs nothing more at its end: MLflow compares runs.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd
from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

from trainlab.report.loggers import scalar_columns

SUMMARY_PREFIX = "summary/"
_BATCH = 1000  # MLflow's limit of metrics in one log_batch call
_NOT_PARAMS = ("hydra.", "progress=")


def client(settings) -> tuple[MlflowClient, str]:
    """The store of ``settings.tracking_uri`` and the id of its experiment (made if new)."""
    store = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = store.get_experiment_by_name(settings.experiment)
    if experiment is not None:
        return store, experiment.experiment_id
    return store, store.create_experiment(settings.experiment)


def write_run(job_dir: Path | str, table: pd.DataFrame, summary: dict, settings) -> str:
    """Log one job; returns its MLflow run id."""
    job_dir = Path(job_dir).resolve()
    store, experiment = client(settings)
    tags = {"trainlab.job_dir": str(job_dir), "trainlab.status": str(summary.get("status"))}
    run = store.create_run(experiment, run_name=job_dir.name, tags=tags)
    run_id = run.info.run_id
    params = [Param(key, value) for key, value in _params(summary.get("overrides", [])).items()]
    now = int(time.time() * 1000)
    scores = [Metric(SUMMARY_PREFIX + key, float(value), now, 0)
              for key, value in summary.items()
              if isinstance(value, (int, float)) and not isinstance(value, bool)
              and math.isfinite(value)]
    for start in range(0, max(len(params), len(scores)), 100):  # MLflow's limits a call
        store.log_batch(run_id, params=params[start:start + 100],
                        metrics=scores[start:start + 100])
    seeds = table["seed"].unique()
    for seed, rows in table.groupby("seed", sort=True):
        target = run_id
        if len(seeds) > 1:
            child = store.create_run(experiment, run_name=f"{job_dir.name}/seed_{seed}",
                                     tags={**tags, "mlflow.parentRunId": run_id})
            target = child.info.run_id
            store.log_batch(target, tags=[RunTag("trainlab.seed", str(seed))])
        _log_curves(store, target, rows)
        if target != run_id:
            store.set_terminated(target)
    store.set_terminated(run_id, status="FAILED" if summary.get("status") == "diverged"
                         else "FINISHED")
    return run_id


def _params(overrides: list[str]) -> dict[str, str]:
    """``key=value`` overrides as params (a param is set once: the last override wins)."""
    params = {}
    for item in overrides:
        key, _, value = str(item).lstrip("+~").partition("=")
        if not item.lstrip("+~").startswith(_NOT_PARAMS):
            params[key] = value
    return params


def _log_curves(store: MlflowClient, run_id: str, rows: pd.DataFrame) -> None:
    """Every column as a metric by epoch (NaN and inf too: MLflow keeps them)."""
    now = int(time.time() * 1000)
    metrics = [Metric(column, float(value), now, int(epoch))
               for column in scalar_columns(rows)
               for epoch, value in zip(rows["epoch"], rows[column])]
    for start in range(0, len(metrics), _BATCH):
        store.log_batch(run_id, metrics=metrics[start:start + _BATCH])


def write_sweep(sweep_dir: Path | str, frame: pd.DataFrame, swept: list[str]) -> int:
    """Nothing to add at the end of a sweep: each job's run already holds its params."""
    return 0
