"""One execution plan per group of jobs: how the jobs that share a static signature run.

``plan(jobs)`` groups the jobs by signature and, for each group, loads its data once (checked
against the config before anything trains), picks its problem and compiled program, and
chooses how many trials share a call (trial_plan.py) and which devices the trial axis is split
over. ``run(group)`` then trains the group chunk by chunk - every call of the same size, so
one executable serves them all - and writes each job's files as its chunk ends (what a killed
sweep keeps). ``train_many``, the vectorized launcher and the figures all go through here.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jax
import numpy as np

from trainlab import calibrate, fingerprint, interrupt, records, trial_plan, trials
from trainlab.config import Config, ConfigError, batch_size_of, static_signature, traced_values
from trainlab.data import Dataset, load_dataset
from trainlab.file_queue import FileQueue
from trainlab.outcome import (
    Outcome,
    concat,
    one_table,
    summarize,
    trial_summaries,
    write_job,
    write_jobs,
)
from trainlab.problems import Shapes
from trainlab.program import Program, program_for
from trainlab.timing import timed
from trainlab.trials import Trials

log = logging.getLogger(__name__)

PROBE_SIZE = 256  # samples of the fixed batch the diagnostics look at


@dataclass
class Job:
    """One run to do: its config, where its files go (None: nowhere), its command line."""

    cfg: Config
    out_dir: Path | None = None
    overrides: list[str] = field(default_factory=list)
    signature: str | None = None  # its static signature, when the caller knows it already


@dataclass
class GroupPlan:
    """How one group of jobs (one static signature) runs."""

    jobs: list[Job]
    indices: list[int]  # the jobs' places in the list given to ``plan``
    program: Program
    data: dict  # the arrays on the device(s), put there once
    chunk: int  # trials per call (the last call padded up to it)
    devices: tuple
    reason: str  # how the chunk was chosen, for the log
    # Seconds spent so far by ``run``: compiling, training, writing the jobs' files.
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(
        ("compile", "train", "files"), 0.0))

    @property
    def n_trials(self) -> int:
        return sum(job.cfg.seeds for job in self.jobs)

    def mesh(self) -> jax.sharding.Mesh | None:
        """The mesh the trial axis is split over, None on one device (nothing to split)."""
        if len(self.devices) < 2:
            return None
        return jax.sharding.Mesh(np.array(self.devices), ("trials",))


# --------------------------------------------------------------------------- set-up
def use_dtype(dtype: str) -> None:
    """float64 needs JAX's x64 mode, switched on before any array is made."""
    jax.config.update("jax_enable_x64", dtype == "float64")


def use_compilation_cache() -> None:
    """Keep compiled programs on disk (beside the dataset cache), so that a later process
    running the same shapes - a rerun, a figure, a test - loads instead of compiling. Programs
    that compile in 0.2 s or more are kept (JAX's default, 1 s, would miss init), unless the
    user set that threshold."""
    if jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", str(records.cache_dir() / "jax"))
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


def shapes_of(cfg: Config, data: Dataset) -> Shapes:
    """Check the data against the config and describe it for the program."""
    n_train = data.x_train.shape[0]
    if data.task == "surface":
        return Shapes("surface", 2, 2, 0, 1, 1)
    size = batch_size_of(cfg.batch_size) or n_train
    if size > n_train:
        raise ConfigError(
            f"batch_size={size}: larger than the {n_train} training samples "
            "(use batch_size=full for full-batch gradient descent)"
        )
    cfg.loss.check_data(data.task, data.n_classes)
    cfg.model.check_data(data.x_train.shape[1])
    if cfg.early_stopping.enabled and data.x_val.shape[0] == 0:
        raise ConfigError(
            "early_stopping.enabled=true: needs a validation split (data.val_fraction > 0)"
        )
    n_targets = data.y_train.shape[1] if data.task == "regression" else 0
    n_out = cfg.loss.n_outputs(data.n_classes, n_targets)
    return Shapes(data.task, data.x_train.shape[1], n_out, data.n_classes, n_train, size)


def device_data(data: Dataset, dtype: str) -> dict:
    """The arrays the program takes, on the device; the probe is a fixed slice of train.
    Converted by numpy and copied over as they are: ``jnp.asarray(x, dtype)`` would compile a
    conversion per array (50-190 ms each on a 2-core CPU, most of a small sweep's planning)."""
    def on_device(x, as_dtype=None):
        x = np.asarray(x, as_dtype)
        return jax.device_put(x.astype(jax.dtypes.canonicalize_dtype(x.dtype), copy=False))

    def put(x, y):
        return on_device(x, dtype), on_device(y)

    return {
        "train": put(data.x_train, data.y_train),
        "val": put(data.x_val, data.y_val),
        "test": put(data.x_test, data.y_test),
        "probe": on_device(data.x_train[:PROBE_SIZE], dtype),
    }


def group_jobs(jobs: list[Job]) -> dict[str, list[int]]:
    """Indices of the jobs that can share one compiled program, by static signature."""
    groups: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        groups.setdefault(job.signature or static_signature(job.cfg), []).append(index)
    return groups


def plan(jobs: list[Job], *, chunk_size: int | str | None = 0, memory_fraction: float = 0.5,
         devices: list | None = None) -> list[GroupPlan]:
    """The groups of ``jobs``, each with its data loaded and checked (ConfigError before
    anything trains) and its chunk: ``chunk_size`` trials a call (None: by trial_plan's rule
    for the device, ``"measure"``: measured by calibrate.py, 0: all of the group's), within the
    memory bound."""
    devices = tuple(devices if devices is not None else jax.devices())
    use_compilation_cache()
    loaded: dict[str, tuple[dict, Shapes]] = {}  # groups on the same data share its arrays
    plans = []
    for indices in group_jobs(jobs).values():
        lead = jobs[indices[0]].cfg
        use_dtype(lead.dtype)
        key = json.dumps([asdict(lead.data), lead.dtype], sort_keys=True, default=str)
        if key not in loaded:
            dataset = load_dataset(lead.data, lead.dtype)
            loaded[key] = (device_data(dataset, lead.dtype), dataset)
        arrays, dataset = loaded[key]
        shapes = shapes_of(lead, dataset)
        group = [jobs[i] for i in indices]
        n_trials = sum(j.cfg.seeds for j in group)
        program = program_for(lead, shapes)
        layout = trial_plan.plan(lead, shapes, n_trials, chunk_size=chunk_size,
                                 memory_fraction=memory_fraction, devices=list(devices))
        if chunk_size == trial_plan.MEASURE and len(devices) == 1 and calibrate.enabled():
            values, seeds, _ = trial_values([job.cfg for job in group])
            most = min(n_trials, trial_plan.MOST_MEASURED,
                       trial_plan.memory_bound(lead, shapes, memory_fraction, devices))
            chunk, reason = calibrate.chunk_for(program, values, seeds, arrays, devices, most)
            layout = trial_plan.TrialPlan(trial_plan.even(chunk, n_trials, 1), devices, reason)
        plans.append(GroupPlan(group, indices, program, arrays, layout.chunk, layout.devices,
                               layout.reason))
    return plans


# ------------------------------------------------------------------------ execution
@dataclass(frozen=True)
class Checkpointing:
    """Where a call's trials are saved every ``every`` epochs, and the ``key`` of those
    trials (their jobs' config hashes and place in the chunk): a checkpoint of other trials
    is never resumed."""

    path: Path
    key: str
    every: int
    resume: bool  # continue from ``path`` if it holds these trials


def execute(program: Program, values: dict[str, np.ndarray], seeds: np.ndarray, data: dict,
            *, progress: bool = True, label: str = "training",
            mesh: jax.sharding.Mesh | None = None,
            checkpoint: Checkpointing | None = None) -> Outcome:
    """Train every trial (a row of ``values`` and ``seeds``) together, all its epochs; with
    a ``mesh``, the trial axis is split over its devices and the data copied to each. With a
    ``checkpoint``, the trials are saved every ``checkpoint.every`` epochs, and continue from
    the last save when resuming: bit for bit the numbers of a run never stopped."""
    state = _resumable(program, data, checkpoint)
    chunk = Trials(program, values, seeds, data, mesh=mesh, state=state)

    def save(epoch: int) -> None:
        if epoch % checkpoint.every == 0 and epoch < program.cfg.epochs:
            trials.save(chunk.state(), checkpoint.path, {"key": checkpoint.key})
            interrupt.checkpointed(epoch, checkpoint.path)

    chunk.train(program.cfg.epochs, progress=progress, label=label,
                after_epoch=save if checkpoint is not None else None)
    return chunk.outcome()


def _resumable(program: Program, data: dict, checkpoint: Checkpointing | None):
    """The saved state to continue from, if ``checkpoint`` asks to resume and holds it."""
    if checkpoint is None or not checkpoint.resume or not checkpoint.path.is_file():
        return None
    try:
        state, extra = trials.load(program, data, checkpoint.path)
    except (OSError, ValueError, KeyError) as error:  # a file of another trainlab, say
        log.warning(f"{checkpoint.path}: not a checkpoint of these trials ({error}); "
                    "training from epoch 0")
        return None
    if extra.get("key") != checkpoint.key:
        return None
    log.info(f"resumed from the checkpoint of epoch {state.epoch} ({checkpoint.path})")
    interrupt.checkpointed(state.epoch, checkpoint.path)
    return state


def _checkpointing(cfg: Config, jobs: list[Job], start: int, size: int,
                   resume: bool) -> Checkpointing | None:
    """The checkpoint of the call training trials ``start``.. of a chunk of ``jobs``: in the
    first job's directory."""
    if cfg.checkpoint.every == 0 or jobs[0].out_dir is None:
        return None
    key = json.dumps([[fingerprint.config_hash(job.cfg) for job in jobs], start, size])
    name = "checkpoint.npz" if start == 0 else f"checkpoint.{start}.npz"
    return Checkpointing(Path(jobs[0].out_dir) / name, key, cfg.checkpoint.every, resume)


def trial_values(cfgs: list[Config]) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Stack the traced numbers of several configs (one row per trial, seeds expanded), and
    the job each trial belongs to."""
    values: dict[str, list[float]] = {}
    seeds: list[int] = []
    owners: list[int] = []
    for job, cfg in enumerate(cfgs):
        for offset in range(cfg.seeds):
            for path, value in traced_values(cfg).items():
                values.setdefault(path, []).append(value)
            seeds.append(cfg.seed + offset)
            owners.append(job)
    return {k: np.asarray(v) for k, v in values.items()}, np.asarray(seeds), np.asarray(owners)


def pad_trials(values: dict[str, np.ndarray], seeds: np.ndarray, size: int):
    """Repeat the last trial so every call has the same shape (and the same executable)."""
    missing = size - len(seeds)
    if missing == 0:
        return values, seeds
    pad = lambda a: np.concatenate([a, np.repeat(a[-1:], missing, axis=0)])  # noqa: E731
    return {k: pad(v) for k, v in values.items()}, pad(seeds)


def _job_chunks(jobs: list[Job], size: int):
    """Consecutive jobs with at most ``size`` trials together (a job with more seeds alone:
    its trials are then split over several calls)."""
    chunk: list[Job] = []
    for job in jobs:
        if chunk and sum(j.cfg.seeds for j in chunk) + job.cfg.seeds > size:
            yield chunk
            chunk = []
        chunk.append(job)
    if chunk:
        yield chunk


def chunks(group: GroupPlan) -> list[list[Job]]:
    """The group's jobs as ``run`` trains them, chunk by chunk (what one submitit job trains
    with executor=submitit)."""
    return list(_job_chunks(group.jobs, group.chunk))


def run(group: GroupPlan, *, progress: bool = True, label: str = "training",
        on_chunk: Callable[[list[Job], list[dict]], None] | None = None,
        on_error: Callable[[list[Job], Exception], None] | None = None,
        resume: bool = False, files: FileQueue | None = None) -> list[dict]:
    """Train the group's jobs, chunk by chunk, writing each job's files (where it has an
    out_dir) as its chunk ends and calling ``on_chunk(jobs, summaries)`` once they are
    whole. The files are written by ``files`` (one of its own if not given) while the next
    chunk trains; run returns once every one is. Returns the summaries of the jobs that
    finished, in the group's order. With ``on_error``, a chunk that fails is handed to it and
    the next chunk runs; without, the error propagates. With
    ``checkpoint.every``, a chunk is saved as it trains; ``resume`` continues a chunk from
    its checkpoint, and a chunk's checkpoints go once its files are written."""
    program, mesh = group.program, group.mesh()
    use_dtype(program.cfg.dtype)  # planning other groups may have switched it
    n_devices = len(group.devices)
    size = -(-group.chunk // n_devices) * n_devices
    summaries = []
    with contextlib.nullcontext(files) if files is not None else FileQueue() as files:
        for jobs in _job_chunks(group.jobs, group.chunk):
            values, seeds, owners = trial_values([job.cfg for job in jobs])
            outcomes, keep, saves = [], [], []
            try:
                for start in range(0, len(seeds), size):
                    part = slice(start, start + size)
                    padded = pad_trials({k: v[part] for k, v in values.items()}, seeds[part],
                                        size)
                    saves.append(_checkpointing(program.cfg, jobs, start, size, resume))
                    outcomes.append(execute(program, *padded, group.data, progress=progress,
                                            label=label, mesh=mesh, checkpoint=saves[-1]))
                    keep.append(len(seeds[part]))
            except Exception as error:
                if on_error is None:
                    raise
                on_error(jobs, error)
                continue
            outcome = concat(outcomes, keep)
            group.seconds["compile"] += outcome.compile_s
            group.seconds["train"] += outcome.run_s
            with timed(group.seconds, "files"):
                done, tables = summarize_chunk(program, jobs, outcome, owners)
                checkpoints = [save.path for save in saves if save is not None]
                files.submit(write_chunk, program, jobs, outcome, owners, done, tables,
                             checkpoints, then=None if on_chunk is None
                             else functools.partial(on_chunk, jobs, done))
            summaries += done
        with timed(group.seconds, "files"):  # the last chunk's, waited for
            files.wait()
    return summaries


def summarize_chunk(program: Program, jobs: list[Job], outcome: Outcome, owners: np.ndarray,
                    fields: list[dict] | None = None) -> tuple[list[dict], list]:
    """Each job's summary from the outcome of its trials (trial t is job ``owners[t]``'s),
    with ``fields[i]`` added to job i's (a halving rung, say), and its metrics table (None
    for all when the chunk's jobs write theirs from one table, ``one_table``)."""
    per_trial = trial_summaries(outcome) if one_table(program.cfg) else None
    done, tables = [], []
    for index, job in enumerate(jobs):
        rows = np.flatnonzero(owners == index)
        summary, table = summarize(job.cfg, outcome, rows, job.overrides, per_trial)
        if fields is not None:
            summary |= fields[index]
        if len(jobs) > 1:  # the chunk's time, shared out by trials
            share = len(rows) / len(owners)
            summary["wall_s"] *= share
            summary["compile_s"] *= share
            summary["group_size"] = len(jobs)
        done.append(summary)
        tables.append(table)
    return done, tables


def write_chunk(program: Program, jobs: list[Job], outcome: Outcome, owners: np.ndarray,
                summaries: list[dict], tables: list, checkpoints: list[Path] = ()) -> None:
    """The files of the chunk's jobs that have an out_dir; then its checkpoints go, since
    nothing is left to resume."""
    if one_table(program.cfg):  # the chunk's jobs share it: one static config
        write_jobs(jobs, outcome, owners, summaries)
    else:
        for index, (job, summary, table) in enumerate(zip(jobs, summaries, tables,
                                                          strict=True)):
            if job.out_dir is not None:
                first = int(np.flatnonzero(owners == index)[0])
                write_job(Path(job.out_dir), job.cfg, outcome, first, summary, table)
    for path in checkpoints:
        path.unlink(missing_ok=True)


def finish(program: Program, jobs: list[Job], outcome: Outcome, owners: np.ndarray,
           fields: list[dict] | None = None) -> list[dict]:
    """Each job's summary (summarize_chunk), its files written before it returns."""
    done, tables = summarize_chunk(program, jobs, outcome, owners, fields)
    write_chunk(program, jobs, outcome, owners, done, tables)
    return done


def train_many(jobs: list[Job], *, chunk_size: int | None = 0, progress: bool = True
               ) -> list[dict]:
    """Train many jobs, each group of one static signature as one compiled program (all of a
    group's trials in one call unless ``chunk_size`` says otherwise); returns the summaries in
    the order of ``jobs``."""
    summaries: list[dict | None] = [None] * len(jobs)
    groups = plan(jobs, chunk_size=chunk_size)
    for number, group in enumerate(groups, start=1):
        label = f"group {number}/{len(groups)}" if len(groups) > 1 else "training"
        for i, summary in zip(group.indices, run(group, progress=progress, label=label)):
            summaries[i] = summary
    return summaries
