"""The vectorized launcher's typed config, registered as ``hydra/launcher=vectorized`` (the
default of ``train -m``)."""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
from dataclasses import dataclass

from hydra.core.config_store import ConfigStore


@dataclass
class VectorizedLauncherConf:
    _target_: str = "hydra_plugins.trainlab_launcher.vectorized_launcher.VectorizedLauncher"
    # Trials per call of a group's compiled program: auto (a rule per device and model size,
    # trainlab.trial_plan), measure (measured on this device, once per model size, cached:
    # trainlab.calibrate), 0 (all of them at once) or a number; 1 runs the trials one after
    # another through one executable.
    chunk_size: str = "auto"
    # A chunk's estimated memory must fit in this share of one device's memory.
    memory_fraction: float = 0.5
    # Split the trial axis over every local device (jax.devices()) rather than the first.
    shard: bool = True
    # Skip the jobs whose directory already holds their finished results (same config hash).
    resume: bool = True


ConfigStore.instance().store(
    group="hydra/launcher", name="vectorized", node=VectorizedLauncherConf, provider="trainlab"
)
