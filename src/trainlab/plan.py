"""One execution plan per group of jobs: how the jobs that share a static signature run.

``plan(jobs)`` groups the jobs by signature and, for each group, loads its data once (checked
against the config before anything trains), picks its problem and compiled program, and
chooses how many trials share a call (trial_plan.py) and which devices the trial axis is split
over. ``run(group)`` then trains the group chunk by chunk - every call of the same size, so
one executable serves them all - and writes each job's files as its chunk ends (what a killed
sweep keeps). ``train_many``, the vectorized launcher and the figures all go through here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from trainlab import calibrate, interrupt, records, report, trial_plan
from trainlab.config import Config, ConfigError, batch_size_of, static_signature, traced_values
from trainlab.data import Dataset, load_dataset
from trainlab.outcome import (
    Outcome,
    concat,
    one_table,
    summarize,
    trial_summaries,
    write_job,
    write_jobs,
)
from trainlab.problems import Net, Shapes
from trainlab.program import Program, program_for

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
    running the same shapes - a rerun, a figure, a test - loads instead of compiling."""
    if jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", str(records.cache_dir() / "jax"))
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
    """The arrays the program takes, on the device; the probe is a fixed slice of train."""
    def put(x, y):
        return jnp.asarray(x, dtype), jnp.asarray(y)

    return {
        "train": put(data.x_train, data.y_train),
        "val": put(data.x_val, data.y_val),
        "test": put(data.x_test, data.y_test),
        "probe": jnp.asarray(data.x_train[:PROBE_SIZE], dtype),
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
        trials = trial_plan.plan(lead, shapes, n_trials, chunk_size=chunk_size,
                                 memory_fraction=memory_fraction, devices=list(devices))
        if chunk_size == trial_plan.MEASURE and len(devices) == 1 and calibrate.enabled():
            values, seeds, _ = trial_values([job.cfg for job in group])
            most = min(n_trials, trial_plan.MOST_MEASURED,
                       trial_plan.memory_bound(lead, shapes, memory_fraction, devices))
            chunk, reason = calibrate.chunk_for(program, values, seeds, arrays, devices, most)
            trials = trial_plan.TrialPlan(trial_plan.even(chunk, n_trials, 1), devices, reason)
        plans.append(GroupPlan(group, indices, program, arrays, trials.chunk, trials.devices,
                               trials.reason))
    return plans


# ------------------------------------------------------------------------ execution
def _carry_resharded(fn):
    """``fn`` moving its carry (third argument) to the sharding it was compiled for first:
    the carry is lowered without one, so XLA may pick another than the previous call's."""
    want = fn.input_shardings[0][2]
    return lambda values, seeds, carry, *rest: fn(values, seeds, jax.device_put(carry, want),
                                                  *rest)


def _host(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def execute(program: Program, values: dict[str, np.ndarray], seeds: np.ndarray, data: dict,
            *, progress: bool = True, label: str = "training",
            mesh: jax.sharding.Mesh | None = None) -> Outcome:
    """Train every trial (a row of ``values`` and ``seeds``) together, epoch by epoch; with a
    ``mesh``, the trial axis is split over its devices and the data copied to each."""
    epochs = program.cfg.epochs
    values = {k: jnp.asarray(v, program.cfg.dtype) for k, v in values.items()}
    seeds = jnp.asarray(seeds, jnp.int32)
    if mesh is not None:
        spec = jax.sharding.PartitionSpec
        trials = jax.sharding.NamedSharding(mesh, spec(mesh.axis_names[0]))
        values, seeds = jax.device_put((values, seeds), trials)
        data = jax.device_put(data, jax.sharding.NamedSharding(mesh, spec()))
    start = time.perf_counter()
    compiled = program.compile(values, seeds, data)
    compile_s = time.perf_counter() - start
    if mesh is not None:
        compiled = compiled._replace(**{name: _carry_resharded(getattr(compiled, name))
                                        for name in ("train", "evaluate", "final")})

    start = time.perf_counter()
    carry = compiled.init(values, seeds, data)
    init = _host(carry.net)
    carry, row = compiled.evaluate(values, seeds, carry, jnp.int32(0), compiled.no_running, data)
    rows = [row]
    elapsed = [time.perf_counter() - start]
    with report.epoch_progress(epochs, label, enabled=progress) as advance:
        for epoch in range(1, epochs + 1):
            interrupt.at_epoch(epoch, epochs)  # what Ctrl-C reports
            carry, running = compiled.train(values, seeds, carry, jnp.int32(epoch), data)
            carry, row = compiled.evaluate(values, seeds, carry, jnp.int32(epoch), running, data)
            rows.append(row)
            # Waiting for each epoch costs one dispatch latency, and gives the time column.
            jax.block_until_ready(row["train_loss"])
            elapsed.append(time.perf_counter() - start)
            advance(row["train_loss"])
        final, test = compiled.final(values, seeds, carry, data)
        jax.block_until_ready(final)
    run_s = time.perf_counter() - start

    history = {name: np.stack([np.asarray(r[name]) for r in rows], axis=1) for name in rows[0]}
    history["time_s"] = np.broadcast_to(np.asarray(elapsed), history["step"].shape).copy()
    for name in [n for n, v in history.items() if v.ndim == 3]:  # a vector a row: histograms
        stat, _, layer = name.partition("/")
        vectors = history.pop(name)
        history |= {f"{stat}_{b:02d}/{layer}": vectors[..., b] for b in range(vectors.shape[-1])}
    nets = {"init": init, "final": _host(final)}
    if program.keep_best:
        nets["best"] = _host(carry.best)
    if program.averaging:
        nets["average"] = Net(_host(carry.average), nets["final"].state)
    return Outcome(history=history, nets=nets, best_epoch=np.asarray(carry.best_epoch),
                   stopped=np.asarray(carry.stopped), diverged=np.asarray(carry.diverged),
                   steps=np.asarray(carry.step), test=_host(test), compile_s=compile_s,
                   run_s=run_s)


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


def _pad(values: dict[str, np.ndarray], seeds: np.ndarray, size: int):
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


def run(group: GroupPlan, *, progress: bool = True, label: str = "training",
        on_chunk: Callable[[list[Job], list[dict]], None] | None = None,
        on_error: Callable[[list[Job], Exception], None] | None = None) -> list[dict]:
    """Train the group's jobs, chunk by chunk, writing each job's files (where it has an
    out_dir) as its chunk ends and calling ``on_chunk(jobs, summaries)``. Returns the
    summaries of the jobs that finished, in the group's order. With ``on_error``, a chunk that
    fails is handed to it and the next chunk runs; without, the error propagates."""
    program, mesh = group.program, group.mesh()
    use_dtype(program.cfg.dtype)  # planning other groups may have switched it
    n_devices = len(group.devices)
    size = -(-group.chunk // n_devices) * n_devices
    summaries = []
    for jobs in _job_chunks(group.jobs, group.chunk):
        values, seeds, owners = trial_values([job.cfg for job in jobs])
        outcomes, keep = [], []
        try:
            for start in range(0, len(seeds), size):
                part = slice(start, start + size)
                padded = _pad({k: v[part] for k, v in values.items()}, seeds[part], size)
                outcomes.append(execute(program, *padded, group.data, progress=progress,
                                        label=label, mesh=mesh))
                keep.append(len(seeds[part]))
        except Exception as error:
            if on_error is None:
                raise
            on_error(jobs, error)
            continue
        outcome = concat(outcomes, keep)
        group.seconds["compile"] += outcome.compile_s
        group.seconds["train"] += outcome.run_s
        writing = time.perf_counter()
        together = one_table(program.cfg)  # the chunk's jobs share it: one static config
        per_trial = trial_summaries(outcome) if together else None
        done = []
        for index, job in enumerate(jobs):
            rows = np.flatnonzero(owners == index)
            summary, table = summarize(job.cfg, outcome, rows, job.overrides, per_trial)
            if len(jobs) > 1:  # the chunk's time, shared out by trials
                share = len(rows) / len(seeds)
                summary["wall_s"] *= share
                summary["compile_s"] *= share
                summary["group_size"] = len(jobs)
            if job.out_dir is not None and not together:
                write_job(Path(job.out_dir), job.cfg, outcome, int(rows[0]), summary, table)
            done.append(summary)
        if together:
            write_jobs(jobs, outcome, owners, done)
        group.seconds["files"] += time.perf_counter() - writing
        if on_chunk is not None:
            on_chunk(jobs, done)
        summaries += done
    return summaries


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
