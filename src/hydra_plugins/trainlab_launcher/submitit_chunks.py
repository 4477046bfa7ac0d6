"""``hydra.launcher.executor=submitit``: every chunk of every group (the jobs one call of the
group's compiled program trains) becomes one submitit job, trained in a process of its own by
trainlab.chunk_job. Submitted together (one Slurm job array, ``array_parallelism`` at a time);
the launcher finishes each chunk's jobs as its submitit job ends.

The parameters are hydra-submitit-launcher's, passed to submitit as that plugin passes them:
the shared ones as they are, the Slurm ones prefixed ``slurm_`` (the local executor ignores
them). submitit is imported only here, when a sweep asks for it.
"""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
import dataclasses
import logging
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CLUSTERS = ("local", "slurm", "auto")
# What submitit's AutoExecutor takes unprefixed, for every cluster (hydra-submitit-launcher's
# BaseQueueConf).
SHARED = ("timeout_min", "cpus_per_task", "gpus_per_node", "tasks_per_node", "mem_gb", "nodes",
          "name", "stderr_to_stdout")
# Given when the executor is made, not as job parameters.
AT_INIT = ("max_num_timeout", "python")
NOT_PASSED = ("cluster", "folder")
# How often the launcher looks at its submitted jobs: a local one is a process to poll, a Slurm
# one an sacct query that submitit rate-limits anyway.
POLL_S = {"local": 0.2, "slurm": 10.0}


def problem(params: dict) -> str | None:
    """What is wrong with the ``hydra.launcher.submitit`` values, as one line, or None."""
    if params["cluster"] not in CLUSTERS:
        return (f"hydra.launcher.submitit.cluster={params['cluster']}: must be one of "
                f"{', '.join(CLUSTERS)}")
    if params["cluster"] == "slurm" and shutil.which("srun") is None:
        return ("hydra.launcher.submitit.cluster=slurm: no srun on the PATH (not a Slurm "
                "node?); cluster=local runs the chunks in processes here")
    for key in ("nodes", "tasks_per_node"):
        if params[key] != 1:
            return (f"hydra.launcher.submitit.{key}={params[key]}: must be 1 (each chunk is one "
                    "process; a sweep spreads over more chunks, see chunk_size)")
    for key in ("timeout_min", "array_parallelism"):
        if params[key] < 1:
            return f"hydra.launcher.submitit.{key}={params[key]}: must be at least 1"
    return None


def make_executor(params: dict):
    """The submitit executor these parameters ask for, its parameters set."""
    import submitit

    cluster = submitit.AutoExecutor.which() if params["cluster"] == "auto" else params["cluster"]
    init = {f"{cluster}_{k}": params[k] for k in AT_INIT if params.get(k) is not None}
    executor = submitit.AutoExecutor(folder=params["folder"], cluster=cluster, **init)
    job: dict[str, Any] = {}
    for key, value in params.items():
        if key in NOT_PASSED or key in AT_INIT:
            continue
        if key in SHARED:
            job[key] = value
        elif key == "setup":  # both executors run it before the job
            job[f"{cluster}_setup"] = value
        else:
            job[f"slurm_{key}"] = value
    executor.update_parameters(**job)
    return executor


def run_chunks(executor, chunks: list[tuple[list, int]], *, shard: bool,
               on_chunk: Callable[[list, list[dict]], None],
               on_error: Callable[[list, Exception], None]) -> None:
    """Submit one job for each ``(jobs, call_size)`` chunk, then hand each chunk to
    ``on_chunk(jobs, summaries)`` (or ``on_error(jobs, error)``: a worker that raised or died)
    as its job ends. Interrupted while waiting, it cancels the jobs still running."""
    import submitit

    from trainlab.chunk_job import TrainChunk

    start = time.perf_counter()
    task = TrainChunk()
    with executor.batch():
        submitted = [executor.submit(task, [_absolute(job) for job in jobs], size, shard)
                     for jobs, size in chunks]
    chunk_of = {id(job): jobs for job, (jobs, _) in zip(submitted, chunks)}
    log.info(f"{len(submitted)} chunks submitted to submitit ({executor.cluster}) in "
             f"{time.perf_counter() - start:.1f} s; logs in {executor.folder}")
    done = set()
    try:
        for job in submitit.helpers.as_completed(
                submitted, poll_frequency=POLL_S.get(executor.cluster, 10.0)):
            done.add(id(job))
            jobs = chunk_of[id(job)]
            try:
                summaries = job.result()
            except Exception as error:  # it raised, or its process died
                on_error(jobs, _failure(job, error))
            else:
                on_chunk(jobs, summaries)
    except BaseException:
        for job in submitted:
            if id(job) not in done:
                job.cancel(check=False)
        raise


def _absolute(job):
    """The job as a worker gets it: its directory absolute (a Slurm job may start elsewhere)."""
    return dataclasses.replace(job, out_dir=Path(job.out_dir).absolute())


class ChunkFailed(RuntimeError):
    """A chunk's submitit job raised, or ended without a result (its log has the rest)."""


def _failure(job, error: Exception) -> ChunkFailed:
    """What went wrong in one line: the worker's exception, or the job's end state (a worker
    killed, out of memory, timed out...), and where its log is; the full error as the cause."""
    from submitit.core.utils import FailedJobError

    lines = [line for line in str(error).splitlines() if line.strip()]
    if isinstance(error, FailedJobError):  # the worker's traceback between two rules of dashes
        rules = [i for i, line in enumerate(lines) if set(line.strip()) == {"-"}]
        what = lines[rules[1] - 1] if len(rules) > 1 else lines[-1]
        said = f"raised {what.strip()}"
    else:
        said = f"ended without a result (state {job.state})"
    failure = ChunkFailed(f"submitit job {job.job_id} {said}; log: {job.paths.stderr}")
    failure.__cause__ = error
    return failure
