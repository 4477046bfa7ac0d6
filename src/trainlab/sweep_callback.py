"""The Hydra callbacks of every multirun (configured in conf/config.yaml):

- ``SweepLock``: one sweep at a time in a sweep directory (trainlab.sweep_lock), which also
  gives the sweep the id its jobs are marked with.
- ``SweepSummary``: ends the sweep with its results: ``summary.csv`` in the sweep dir (this
  sweep's jobs only, older job directories there named in one line), the best rows in the
  terminal, the loggers' sweep files (TensorBoard HParams of jobs run with
  ``logger=tensorboard``) and ``report.html`` (``hydra.callbacks.sweep_summary.html=false``
  skips the page).

Neither acts on each job (on_job_start / on_job_end): the vectorized launcher would then
compose every job through Hydra. Hydra turns an Exception raised in a callback into a
warning; what must stop the sweep here raises SystemExit (trainlab.outputs.fail).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepLock(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from trainlab import outputs, sweep_lock

        try:
            sweep_lock.acquire(str(config.hydra.sweep.dir))
        except sweep_lock.SweepBusy as busy:
            outputs.fail(str(busy), 1)
        except OSError as error:
            outputs.fail(outputs.describe(error), 1)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from trainlab import sweep_lock

        sweep_lock.release(str(config.hydra.sweep.dir))


class SweepSummary(Callback):
    def __init__(self, top: int = 10, html: bool = True, curves: int = 10) -> None:
        self.top = top
        self.html = html
        self.curves = curves

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from trainlab import outputs, sweep_lock, sweep_table  # pandas only when a sweep ends
        from trainlab.report import loggers

        start = time.perf_counter()
        sweep_dir = str(config.hydra.sweep.dir)
        mine, older = sweep_table.sweep_jobs(sweep_dir, sweep_lock.sweep_id(sweep_dir))
        try:
            frame, objective = sweep_table.write(sweep_dir, mine)
        except OSError as error:
            outputs.fail(outputs.describe(error), 1)
        log.debug(f"timing: summary.csv of {len(frame)} jobs in "
                  f"{time.perf_counter() - start:.3f} s")
        sweep_table.print_best(frame, objective, sweep_dir, self.top)
        if older:
            print(sweep_table.older_note(sweep_dir, older))
        if frame.empty:
            return
        loggers.log_sweep(sweep_dir, frame, sweep_table.swept_columns(frame))
        if self.html:
            from trainlab.report import html
            from trainlab.report.sweep_data import ReportError

            try:
                print(f"report: {html.write_sweep(sweep_dir, frame, objective, self.curves)}")
            except ReportError as error:  # a file beside the jobs (pbt.csv) is broken
                print(f"report: not written: {error}", file=sys.stderr)
