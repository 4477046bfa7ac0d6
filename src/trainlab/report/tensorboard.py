"""``logger=tensorboard``: a run's tables as TensorBoard event files, written with tensorboardX.

- ``write_run``: every column of ``metrics.csv`` as a scalar, tag = the column's name, step =
  the epoch, in ``JOB/tensorboard/`` (``JOB/tensorboard/seed_<s>/`` for each seed when a job
  trains several). Built in a temporary folder and renamed into place, before ``summary.json``
  is written, so a finished run always has its events.
- ``write_sweep``: at the end of a sweep (and on ``trainlab report``), each job's swept values
  as HParams and its objective and test metrics as the HParams metrics, from the sweep table:
  one experiment (every swept key with its domain) in the sweep dir, one session per job in
  ``JOB/tensorboard/``. ``tensorboard --logdir SWEEP_DIR`` then compares the jobs.

Only jobs that have an event dir get HParams, so nothing is written for a sweep run without
this logger. Files written here end in ``.hparams`` and are replaced on every call.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from tensorboardX import FileWriter
from tensorboardX.proto import api_pb2, plugin_hparams_pb2
from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata

from trainlab.report.loggers import scalar_columns

EVENT_DIR = "tensorboard"
HPARAMS_SUFFIX = ".hparams"
# The sweep table's fields shown as HParams metrics, besides the objective, when present.
HPARAM_METRICS = ("best_val_loss", "best_val_acc", "test_loss", "test_acc")
METRIC_PREFIX = "summary/"
_STATUS = {"ok": "STATUS_SUCCESS", "stopped_early": "STATUS_SUCCESS",
           "diverged": "STATUS_FAILURE"}


# ------------------------------------------------------------------------------ scalars
def write_run(job_dir: Path | str, table: pd.DataFrame, summary: dict | None = None,
              settings=None) -> Path:
    """The metrics table as per-epoch scalars in ``job_dir/tensorboard``; returns that dir.
    (The summary goes in at the end of the sweep, with the HParams.)"""
    job_dir = Path(job_dir)
    target = job_dir / EVENT_DIR
    building = Path(tempfile.mkdtemp(dir=job_dir, prefix=f".{EVENT_DIR}.", suffix=".tmp"))
    try:
        seeds = table["seed"].unique()
        for seed, rows in table.groupby("seed", sort=True):
            _write_scalars(building if len(seeds) == 1 else building / f"seed_{seed}", rows)
        if target.exists():
            shutil.rmtree(target)
        os.replace(building, target)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    return target


def _write_scalars(event_dir: Path, rows: pd.DataFrame) -> None:
    columns = scalar_columns(rows)
    values = rows[columns].to_numpy(dtype=float)
    writer = FileWriter(str(event_dir))
    try:
        for epoch, row in zip(rows["epoch"].to_numpy(), values):
            # One event per epoch holding every column (not one event per number).
            summary = Summary(value=[Summary.Value(tag=tag, simple_value=value)
                                     for tag, value in zip(columns, row)])
            writer.add_summary(summary, global_step=int(epoch))
    finally:
        writer.close()


# ------------------------------------------------------------------------------ HParams
def write_sweep(sweep_dir: Path | str, frame: pd.DataFrame, swept: list[str]) -> int:
    """HParams for the jobs of ``frame`` (the sweep table) that have an event dir; returns
    how many got them."""
    sweep_dir = Path(sweep_dir)
    has_events = frame["job"].astype(str).map(lambda j: (sweep_dir / j / EVENT_DIR).is_dir())
    jobs = frame[has_events.to_numpy(bool)]
    if jobs.empty or not swept:
        return 0
    metrics = ["objective", *(m for m in HPARAM_METRICS if m in frame)]
    _write_events(sweep_dir, [_experiment(frame, swept, metrics)])
    for _, row in jobs.iterrows():
        hparams = {key: value for key in swept if (value := _hparam_value(row[key])) is not None}
        scores = {METRIC_PREFIX + m: float(row[m]) for m in metrics
                  if isinstance(row[m], (int, float, np.number)) and math.isfinite(row[m])}
        _write_events(sweep_dir / str(row["job"]) / EVENT_DIR,
                      [_session_start(hparams), _scores(scores),
                       _session_end(_STATUS.get(row.get("status"), "STATUS_UNKNOWN"))])
    return len(jobs)


def _hparam_value(value):
    """A cell of the sweep table as an HParams value (number, string or bool; None: none)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.number)):
        return float(value)
    return str(value)


def _experiment(frame: pd.DataFrame, swept: list[str], metrics: list[str]) -> Summary:
    """Every swept key with its type and domain, and the metrics: what the dashboard lists."""
    infos = []
    for key in swept:
        values = [v for v in map(_hparam_value, frame[key]) if v is not None]
        info = api_pb2.HParamInfo(name=key)
        if values and all(isinstance(v, bool) for v in values):
            info.type = api_pb2.DataType.Value("DATA_TYPE_BOOL")
        elif values and all(isinstance(v, float) for v in values):
            info.type = api_pb2.DataType.Value("DATA_TYPE_FLOAT64")
            info.domain_interval.min_value = min(values)
            info.domain_interval.max_value = max(values)
        else:
            info.type = api_pb2.DataType.Value("DATA_TYPE_STRING")
            info.domain_discrete.extend(sorted({str(v) for v in values}))
        infos.append(info)
    experiment = api_pb2.Experiment(
        hparam_infos=infos,
        metric_infos=[api_pb2.MetricInfo(name=api_pb2.MetricName(tag=METRIC_PREFIX + m))
                      for m in metrics])
    return _plugin_summary("_hparams_/experiment",
                           plugin_hparams_pb2.HParamsPluginData(experiment=experiment))


def _session_start(hparams: dict) -> Summary:
    info = plugin_hparams_pb2.SessionStartInfo()
    for key, value in hparams.items():
        if isinstance(value, bool):
            info.hparams[key].bool_value = value
        elif isinstance(value, float):
            info.hparams[key].number_value = value
        else:
            info.hparams[key].string_value = value
    return _plugin_summary("_hparams_/session_start_info",
                           plugin_hparams_pb2.HParamsPluginData(session_start_info=info))


def _session_end(status: str) -> Summary:
    info = plugin_hparams_pb2.SessionEndInfo(status=api_pb2.Status.Value(status))
    return _plugin_summary("_hparams_/session_end_info",
                           plugin_hparams_pb2.HParamsPluginData(session_end_info=info))


def _scores(scores: dict[str, float]) -> Summary:
    return Summary(value=[Summary.Value(tag=tag, simple_value=v) for tag, v in scores.items()])


def _plugin_summary(tag: str, data: plugin_hparams_pb2.HParamsPluginData) -> Summary:
    data.version = 0
    metadata = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
        plugin_name="hparams", content=data.SerializeToString()))
    return Summary(value=[Summary.Value(tag=tag, metadata=metadata)])


def _write_events(event_dir: Path, summaries: list[Summary]) -> None:
    """One ``*.hparams`` event file in ``event_dir`` with ``summaries``, replacing the one a
    previous call wrote (written beside it under a temporary name, then renamed)."""
    event_dir.mkdir(parents=True, exist_ok=True)
    old = list(event_dir.glob(f"*{HPARAMS_SUFFIX}"))
    building = Path(tempfile.mkdtemp(dir=event_dir, prefix=".hparams.", suffix=".tmp"))
    try:
        writer = FileWriter(str(building), filename_suffix=HPARAMS_SUFFIX)
        for summary in summaries:
            writer.add_summary(summary, global_step=0)
        writer.close()
        [written] = building.glob(f"*{HPARAMS_SUFFIX}")
        os.replace(written, event_dir / written.name)
        for path in old:
            if path.name != written.name:
                path.unlink(missing_ok=True)
    finally:
        shutil.rmtree(building, ignore_errors=True)
