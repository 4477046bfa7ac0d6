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

from hydra_plugins.trainlab_sweeper.launcher_checks import ChecksLeftToLauncher
from trainlab import search_space

log = logging.getLogger(__name__)


class SamplingSweeper(ChecksLeftToLauncher, Sweeper):
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

    def driver(self, space):
        """The adaptive search that trains the trials (trainlab.search), or None: every trial
        trains to its end."""
        return None

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
        driver = self.driver(space)
        if driver is not None:
            if not hasattr(self.launcher, "search"):
                choices = OmegaConf.select(self.config, "hydra.runtime.choices") or {}
                raise HydraException(
                    f"hydra/sweeper={choices.get('hydra/sweeper')}: trains inside the compiled "
                    "program, with trainlab's vectorized launcher (hydra/launcher=vectorized), "
                    f"not hydra/launcher={choices.get('hydra/launcher')}")
            self.launcher.search = driver
        log.info(f"{self.method} search: {len(trials)} trials over "
                 f"{', '.join(d.key for d in space.dimensions)} (seed {self.seed})")

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        OmegaConf.save(self.config, sweep_dir / "multirun.yaml")

        # An adaptive search ranks all its trials together: one batch.
        size = len(trials) if driver is not None else self.max_batch_size or len(trials)
        returns: list[list[JobReturn]] = []
        for start in range(0, len(trials), size):
            batch = trials[start:start + size]
            self.validate_batch_is_legal(batch)  # unless the launcher checks them itself
            results = self.launcher.launch(batch, initial_job_idx=start)
            for result in results:
                _ = result.return_value  # raises the error of a failed job
            returns.append(list(results))
        return returns


class HalvingSweeper(SamplingSweeper):
    """Successive halving, or Hyperband with ``brackets`` > 1 (trainlab.search.halving): trials
    drawn as the random (or quasi-random) sweeper draws them."""

    def __init__(self, eta: int = 3, min_epochs: int = 1, brackets: int = 1, **kwargs) -> None:
        super().__init__(**kwargs)
        for name, value, low in (("eta", eta, 2), ("min_epochs", min_epochs, 1),
                                 ("brackets", brackets, 1)):
            if value < low:
                raise HydraException(f"hydra.sweeper.{name}={value}: must be >= {low}")
        self.eta, self.min_epochs, self.brackets = eta, min_epochs, brackets

    def driver(self, space):
        from trainlab.search.halving import Halving

        return Halving(self.eta, self.min_epochs, self.brackets)


class PbtSweeper(SamplingSweeper):
    """Population-based training (trainlab.search.pbt): ``n_trials`` members drawn as the random
    sweeper draws them, exploiting and exploring every ``interval`` epochs."""

    def __init__(self, interval: int = 4, fraction: float = 0.25, resample: float = 0.25,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if interval < 1:
            raise HydraException(f"hydra.sweeper.interval={interval}: must be >= 1")
        for name, value in (("fraction", fraction), ("resample", resample)):
            if not 0 <= value <= (0.5 if name == "fraction" else 1):
                raise HydraException(f"hydra.sweeper.{name}={value}: must be in "
                                     f"[0, {0.5 if name == 'fraction' else 1}]")
        self.interval, self.fraction, self.resample = interval, fraction, resample

    def driver(self, space):
        from trainlab.search.pbt import Pbt

        return Pbt(space.dimensions, self.interval, self.fraction, self.resample, self.seed)
