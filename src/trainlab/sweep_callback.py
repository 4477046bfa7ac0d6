"""The Hydra callback that ends every multirun with the sweep's table: ``summary.csv`` in the
sweep dir and the best rows in the terminal (configured in conf/config.yaml)."""

from __future__ import annotations

from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class SweepSummary(Callback):
    def __init__(self, top: int = 10) -> None:
        self.top = top

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from trainlab import sweep_table  # pandas only when a sweep ends

        sweep_dir = str(config.hydra.sweep.dir)
        frame, objective = sweep_table.write(sweep_dir)
        sweep_table.print_best(frame, objective, sweep_dir, self.top)
