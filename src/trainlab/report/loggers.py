"""The ``logger`` group's choices, one class each: what each writes when a run's files are
written (``log_run``, called by ``outcome.write_job``) and when a sweep's table is
(``log_sweep``, by the sweep callback and ``trainlab report``). The csv/json files are always
written; a logger only adds files for another tool. Each logger's module is imported only when
it is used, and ``check`` (before training) says in one line when its package is missing."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType
from typing import ClassVar

import pandas as pd

from trainlab.config import GROUPS, ConfigError, choice
from trainlab.config.schema import Logger

# The metrics table's columns that no logger writes as a value: the run (seed) and the step.
NOT_SCALARS = ("seed", "epoch")


def scalar_columns(table: pd.DataFrame) -> list[str]:
    """The columns a logger writes, one value an epoch: all but seed and epoch, and none that
    is only empty (a regression's accuracy)."""
    return [c for c in table.columns if c not in NOT_SCALARS and table[c].notna().any()]


class Writer(Logger):
    """What every logger does: hand a run's tables (and a sweep's) to its module."""

    # module: one with write_run(job_dir, table, summary, settings) and
    # write_sweep(sweep_dir, frame, swept) -> jobs written for; install: how to get it
    install: ClassVar[str] = ""
    # The folder each job it logged has, where the end of a sweep adds to them (TensorBoard's
    # HParams); "" when it adds nothing then. Looked for before the module is imported: a
    # sweep that did not use it pays nothing (importing mlflow alone takes seconds).
    job_folder: ClassVar[str] = ""

    def _module(self) -> ModuleType | None:
        if self.module is None:
            return None
        try:
            return importlib.import_module(self.module)
        except ImportError as error:
            raise ConfigError(f"logger={self.name}: needs {error.name}, not installed "
                              f"({self.install})") from None

    def check(self) -> None:
        """Raise ConfigError now, before training, if this logger cannot write."""
        self._module()

    def log_run(self, job_dir: Path | str, table: pd.DataFrame, summary: dict) -> None:
        """Write a finished run's metrics table (and summary)."""
        module = self._module()
        if module is not None:
            module.write_run(job_dir, table, summary, self)


@choice
class NoLogger(Writer):
    """Only the csv/json files of the run contract (always written)."""

    name: str = "none"


@choice
class TensorBoard(Writer):
    """Besides the csv/json files, TensorBoard event files: every metrics.csv column as a
    per-epoch scalar in JOB/tensorboard/ (JOB/tensorboard/seed_<s>/ with seeds > 1), and at the
    end of a sweep each job's swept values and objective as HParams: `tensorboard --logdir
    SWEEP_DIR` then compares the jobs (its HPARAMS tab)."""

    module = "trainlab.report.tensorboard"
    install = "pip install tensorboardX"
    job_folder = "tensorboard"  # tensorboard.EVENT_DIR
    name: str = "tensorboard"


@choice
class Mlflow(Writer):
    """A run per job in a local MLflow store (the mlflow extra): the job's overrides as params,
    every metrics.csv column as a metric by epoch (a child run per seed when seeds > 1), the
    summary's numbers as `summary/<field>`; read with MlflowClient(tracking_uri)."""

    module = "trainlab.report.mlflow_logger"
    install = "pip install 'trainlab[mlflow]'"
    name: str = "mlflow"
    tracking_uri: str = "sqlite:///mlflow.db"  # relative to the directory train runs in
    experiment: str = "trainlab"


def log_sweep(sweep_dir: Path | str, frame: pd.DataFrame, swept: list[str]) -> dict[str, int]:
    """Every installed logger's sweep-level files (TensorBoard's HParams...) for the jobs it
    logged; returns how many jobs each one wrote for, only those with some."""
    written = {}
    jobs = [Path(sweep_dir) / str(job) for job in frame["job"]] if "job" in frame else []
    for name, cls in GROUPS["logger"].items():
        if not cls.job_folder or not any((job / cls.job_folder).is_dir() for job in jobs):
            continue  # it logged no job of this sweep
        try:
            module = cls()._module()
        except ConfigError:  # not installed: it logged no job of this sweep
            continue
        if module is not None:
            count = module.write_sweep(sweep_dir, frame, swept)
            if count:
                written[name] = count
    return written
