"""``hydra/sweeper=grid``, trainlab's default: Hydra's basic sweeper (the cartesian product of
``key=a,b,c`` overrides, in the same order, in the same batches), less its check of every job.

Before launching a batch, Hydra's basic sweeper composes each of its jobs once, only to catch a
bad value early: a third of a second a job, 88 s of a 256-job grid of tiny trials that then
trains in one. The vectorized launcher composes and checks every job before running any
(``composes_before_running``), so with it the batch is not composed twice; with any other
launcher, the basic sweeper's check stays (launcher_checks.py).
"""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
from dataclasses import dataclass

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper, BasicSweeperConf
from hydra.core.config_store import ConfigStore

from hydra_plugins.trainlab_sweeper.launcher_checks import ChecksLeftToLauncher


class GridSweeper(ChecksLeftToLauncher, BasicSweeper):
    pass


@dataclass
class GridSweeperConf(BasicSweeperConf):
    _target_: str = "hydra_plugins.trainlab_sweeper.grid_sweeper.GridSweeper"


ConfigStore.instance().store(
    group="hydra/sweeper", name="grid", node=GridSweeperConf, provider="trainlab"
)
