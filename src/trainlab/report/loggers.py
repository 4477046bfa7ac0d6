"""The ``logger`` group's choices, by name: what each writes when a run's files are written
(``log_run``, called by ``run.write_run``) and when a sweep's table is (``log_sweep``, by the
sweep callback and ``trainlab report``). The csv/json files are always written; a logger only
adds files for another tool. Each logger's module is imported only when it is used, and
``check`` (before training) says in one line when its package is missing."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pandas as pd

from trainlab.config import ConfigError

# logger name -> (module with write_run(job_dir, table, summary, settings) and
# write_sweep(sweep_dir, frame, swept) -> jobs written for, how to install what it needs)
LOGGERS = {
    "none": None,
    "tensorboard": ("trainlab.report.tensorboard", "pip install tensorboardX"),
    "mlflow": ("trainlab.report.mlflow_logger", "pip install 'trainlab[mlflow]'"),
}


# The metrics table's columns that no logger writes as a value: the run (seed) and the step.
NOT_SCALARS = ("seed", "epoch")


def scalar_columns(table: pd.DataFrame) -> list[str]:
    """The columns a logger writes, one value an epoch: all but seed and epoch, and none that
    is only empty (a regression's accuracy)."""
    return [c for c in table.columns if c not in NOT_SCALARS and table[c].notna().any()]


def _module(name: str) -> ModuleType | None:
    if LOGGERS[name] is None:
        return None
    module, install = LOGGERS[name]
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ConfigError(f"logger={name}: needs {error.name}, not installed ({install})"
                          ) from None


def check(settings) -> None:
    """Raise ConfigError now, before training, if the chosen logger cannot write."""
    _module(settings.name)


def log_run(settings, job_dir: Path | str, table: pd.DataFrame, summary: dict) -> None:
    """Write a finished run's metrics table (and summary) for the chosen logger ``settings``
    (the config's ``logger``; nothing for ``none``)."""
    module = _module(settings.name)
    if module is not None:
        module.write_run(job_dir, table, summary, settings)


def log_sweep(sweep_dir: Path | str, frame: pd.DataFrame, swept: list[str]) -> dict[str, int]:
    """Every installed logger's sweep-level files (TensorBoard's HParams...) for the jobs it
    logged; returns how many jobs each one wrote for, only those with some."""
    written = {}
    for name in LOGGERS:
        try:
            module = _module(name)
        except ConfigError:  # not installed: it logged no job of this sweep
            continue
        if module is not None:
            count = module.write_sweep(sweep_dir, frame, swept)
            if count:
                written[name] = count
    return written
