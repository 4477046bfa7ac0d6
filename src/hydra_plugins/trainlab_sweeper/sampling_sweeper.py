"""A Hydra sweeper that draws ``n_trials`` points of a search space (trainlab.search_space)
and hands them to the launcher in batches."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobReturn
from hydra.errors import HydraException
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from trainlab import search_space

log = logging.getLogger(__name__)


class SamplingSweeper(Sweeper):
    def __init__(self, method: str, n_trials: int, seed: int,
                 max_batch_size: int | None = None,
                 params: dict[str, str] | None = None) -> None:
        if method not in search_space.METHODS:
            raise HydraException(
                f"hydra.sweeper.method={method}: must be one of {', '.join(search_space.METHODS)}")
        if n_trials < 1:
            raise HydraException(f"hydra.sweeper.n_trials={n_trials}: must be >= 1")
        if max_batch_size is not None and max_batch_size < 1:
            raise HydraException(f"hydra.sweeper.max_batch_size={max_batch_size}: must be >= 1")
        self.method, self.n_trials, self.seed = method, n_trials, seed
        self.max_batch_size = max_batch_size
        self.params = dict(params or {})
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.launcher: Launcher | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        from hydra.core.plugins import Plugins

        self.config, self.hydra_context = config, hydra_context
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> Any:
        assert self.config is not None and self.launcher is not None
        assert self.hydra_context is not None
        overrides = [f"{k}={v}" for k, v in self.params.items()] + list(arguments)
        space = search_space.parse(overrides, self.hydra_context.config_loader)
        if not space.dimensions:
            choices = OmegaConf.select(self.config, "hydra.runtime.choices") or {}
            typed = choices.get("hydra/sweeper", self.method)  # as the user wrote it
            raise HydraException(
                f"hydra/sweeper={typed}: nothing to search; give a key an interval, e.g. "
                "optimizer.lr='tag(log, interval(1e-5, 1e-1))', or a choice: optimizer=sgd,adam")
        trials = space.trials(self.method, self.n_trials, self.seed)
        log.info(f"{self.method} search: {len(trials)} trials over "
                 f"{', '.join(d.key for d in space.dimensions)} (seed {self.seed})")

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        size = self.max_batch_size or len(trials)
        returns: list[list[JobReturn]] = []
        for start in range(0, len(trials), size):
            batch = trials[start:start + size]
            # A launcher that composes every job before running any (the vectorized one)
            # checks them itself; composing them twice costs 0.1 s a job.
            if not getattr(self.launcher, "composes_before_running", False):
                self.validate_batch_is_legal(batch)
            results = self.launcher.launch(batch, initial_job_idx=start)
            for result in results:
                _ = result.return_value  # raises the error of a failed job
            returns.append(list(results))
        return returns
