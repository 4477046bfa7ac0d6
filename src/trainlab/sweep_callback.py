"""The Hydra callback that ends every multirun with the sweep's results: ``summary.csv`` in
the sweep dir, the best rows in the terminal, the loggers' sweep files (TensorBoard HParams
of jobs run with ``logger=tensorboard``) and ``report.html`` (configured in conf/config.yaml;
``hydra.callbacks.sweep_summary.html=false`` skips the page)."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class SweepSummary(Callback):
    def __init__(self, top: int = 10, html: bool = True, curves: int = 10) -> None:
        self.top = top
        self.html = html
        self.curves = curves

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from trainlab import sweep_table  # pandas only when a sweep ends
        from trainlab.report import loggers

        start = time.perf_counter()
        sweep_dir = str(config.hydra.sweep.dir)
        frame, objective = sweep_table.write(sweep_dir)
        log.debug(f"timing: summary.csv of {len(frame)} jobs in "
                  f"{time.perf_counter() - start:.3f} s")
        sweep_table.print_best(frame, objective, sweep_dir, self.top)
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
