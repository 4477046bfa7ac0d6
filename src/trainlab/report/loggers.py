"""The ``logger`` group's choices, by name: what each writes when a run's files are written
(``log_run``, called by ``run.write_run``) and when a sweep's table is (``log_sweep``, by the
sweep callback and ``trainlab report``). The csv/json files are always written; a logger only
adds files for another tool. Each logger's module is imported only when it is used."""

from __future__ import annotations

import importlib
from pathlib import Path

import pandas as pd

# logger name -> module with write_run(job_dir, table) and write_sweep(sweep_dir, frame, swept)
LOGGERS = {"none": None, "tensorboard": "trainlab.report.tensorboard"}


def log_run(logger_name: str, job_dir: Path | str, table: pd.DataFrame) -> None:
    """Write a finished run's metrics table for the chosen logger (nothing for ``none``)."""
    module = LOGGERS[logger_name]
    if module is not None:
        importlib.import_module(module).write_run(job_dir, table)


def log_sweep(sweep_dir: Path | str, frame: pd.DataFrame, swept: list[str]) -> dict[str, int]:
    """Every logger's sweep-level files (HParams...) for the jobs that it logged; returns how
    many jobs each one wrote for, only those with some."""
    written = {}
    for name, module in LOGGERS.items():
        if module is not None:
            count = importlib.import_module(module).write_sweep(sweep_dir, frame, swept)
            if count:
                written[name] = count
    return written
