"""The vectorized launcher's typed config, registered as ``hydra/launcher=vectorized`` (the
default of ``train -m``)."""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class SubmititConf:
    """Where ``executor=submitit`` sends each chunk, and what it asks for. The names and
    defaults are hydra-submitit-launcher's (its BaseQueueConf and SlurmQueueConf), so a
    ``hydra.launcher.*`` override written for it works here under ``hydra.launcher.submitit.*``;
    the Slurm-only ones are ignored by the local executor."""

    # local: submitit's LocalExecutor (worker processes on this machine); slurm: sbatch;
    # auto: slurm where `srun` is on the PATH, local elsewhere.
    cluster: str = "local"
    # The submitit logs and pickles (%j: the job id); hydra-submitit-launcher's submitit_folder.
    folder: str = "${hydra.sweep.dir}/.submitit/%j"
    # shared by every executor (hydra-submitit-launcher's BaseQueueConf)
    timeout_min: int = 60
    cpus_per_task: int | None = None
    gpus_per_node: int | None = None
    tasks_per_node: int = 1  # a chunk is one process: must be 1
    mem_gb: int | None = None
    nodes: int = 1  # must be 1
    name: str = "${hydra.job.name}"
    stderr_to_stdout: bool = False
    # Slurm (SlurmQueueConf): sbatch's options of the same names
    partition: str | None = None
    qos: str | None = None
    comment: str | None = None
    constraint: str | None = None
    exclude: str | None = None
    gres: str | None = None
    cpus_per_gpu: int | None = None
    gpus_per_task: int | None = None
    mem_per_gpu: str | None = None
    mem_per_cpu: str | None = None
    account: str | None = None
    signal_delay_s: int = 120  # USR2 this long before the time limit
    max_num_timeout: int = 0  # requeues after a timeout (a requeued chunk skips finished jobs)
    python: str | None = None  # the workers' interpreter (default: this one)
    additional_parameters: dict[str, Any] = field(default_factory=dict)  # {"mail-type": ...}
    array_parallelism: int = 256  # chunks running at once (the %N of the Slurm array)
    setup: list[str] | None = None  # shell lines run before srun
    srun_args: list[str] | None = None


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
    # Where the chunks train: local (in this process, one after another) or submitit (each
    # chunk a submitit job of its own: worker processes here, or Slurm jobs; see `submitit`).
    executor: str = "local"
    submitit: SubmititConf = field(default_factory=SubmititConf)


ConfigStore.instance().store(
    group="hydra/launcher", name="vectorized", node=VectorizedLauncherConf, provider="trainlab"
)
