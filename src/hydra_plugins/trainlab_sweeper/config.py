"""The sweepers' typed configs: ``hydra/sweeper=random``, ``=quasirandom``, ``=halving``, ``=pbt``.

    train -m hydra/sweeper=quasirandom hydra.sweeper.n_trials=64 \
        optimizer.lr='tag(log, interval(1e-5, 1e-1))' model.hidden_dropout='interval(0, 0.5)'
"""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class RandomSweeperConf:
    _target_: str = "hydra_plugins.trainlab_sweeper.sampling_sweeper.SamplingSweeper"
    method: str = "random"  # random | sobol | halton
    n_trials: int = 16
    seed: int = 0  # the same seed draws the same trials; more trials keep the first ones
    # Jobs handed to the launcher at once (null: all, so one compiled program runs them all).
    max_batch_size: int | None = None
    # The search space in a config file, key -> override value; the command line adds to it:
    #   params: {optimizer.lr: "tag(log, interval(1e-5, 1e-1))", optimizer: "sgd,adam"}
    params: dict[str, str] | None = None


@dataclass
class QuasiRandomSweeperConf(RandomSweeperConf):
    method: str = "sobol"  # sobol (balanced for n = 2^k trials) | halton


@dataclass
class HalvingSweeperConf(RandomSweeperConf):
    """Successive halving: rungs at min_epochs * eta^k up to epochs, the best 1/eta kept at
    each; brackets > 1: Hyperband's brackets, starting at min_epochs * eta^b."""

    _target_: str = "hydra_plugins.trainlab_sweeper.sampling_sweeper.HalvingSweeper"
    eta: int = 3
    min_epochs: int = 1
    brackets: int = 1


@dataclass
class PbtSweeperConf(RandomSweeperConf):
    """Population-based training: every `interval` epochs the worst `fraction` of the
    population copy a member of the best `fraction` (weights and optimizer state), then move
    its traced hyperparameters: x0.8 or x1.2, or a new draw with probability `resample`."""

    _target_: str = "hydra_plugins.trainlab_sweeper.sampling_sweeper.PbtSweeper"
    interval: int = 4
    fraction: float = 0.25
    resample: float = 0.25


ConfigStore.instance().store(
    group="hydra/sweeper", name="random", node=RandomSweeperConf, provider="trainlab"
)
ConfigStore.instance().store(
    group="hydra/sweeper", name="halving", node=HalvingSweeperConf, provider="trainlab"
)
ConfigStore.instance().store(
    group="hydra/sweeper", name="pbt", node=PbtSweeperConf, provider="trainlab"
)
ConfigStore.instance().store(
    group="hydra/sweeper", name="quasirandom", node=QuasiRandomSweeperConf, provider="trainlab"
)
