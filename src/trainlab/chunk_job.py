"""One chunk of a group (the jobs one call of its compiled program trains) as a job of its own,
in another process: what ``hydra.launcher.executor=submitit`` sends to each submitit job.

The worker plans the chunk's jobs with plan.py and runs them with the launcher's call size, so
the chunk is padded to the same number of trials as in the launcher's own process: the same
executable (shared through the persistent compilation cache) and the same numbers, bit for bit.
It writes every job's files itself and returns the summaries.

Picklable by reference (submitit pickles the callable and its arguments): the jobs are
``plan.Job`` values holding trainlab's typed ``Config`` dataclasses.
"""

from __future__ import annotations

import time
from pathlib import Path

from trainlab import fingerprint, plan


class TrainChunk:
    """The callable of one submitit job: ``TrainChunk()(jobs, chunk)`` trains the jobs (skipping
    those already finished in their directories) and returns their summaries, in order."""

    def __call__(self, jobs: list[plan.Job], chunk: int, shard: bool = True) -> list[dict]:
        import jax

        start = time.perf_counter()
        summaries = [fingerprint.finished_summary(Path(job.out_dir), job.cfg) for job in jobs]
        todo = [job for job, done in zip(jobs, summaries) if done is None]
        seconds = {}
        if todo:
            devices = jax.devices() if shard else jax.devices()[:1]
            [group] = plan.plan(todo, chunk_size=chunk, devices=devices)
            group.chunk = chunk  # pad as the launcher would: one executable for every chunk
            seconds["plan"] = time.perf_counter() - start
            trained = iter(plan.run(group, progress=False, resume=True))  # a requeued chunk
            summaries = [done if done is not None else next(trained) for done in summaries]
            seconds |= group.seconds  # compile (or load from the cache), train, files
        phases = ", ".join(f"{k} {v:.3f}" for k, v in seconds.items())
        print(f"trainlab chunk: {len(todo)} of {len(jobs)} jobs trained in "
              f"{time.perf_counter() - start:.3f} s ({phases})", flush=True)
        return summaries

    def checkpoint(self, *args, **kwargs):
        """Preempted or timed out on Slurm: submit the same chunk again (its finished jobs are
        then skipped), as hydra-submitit-launcher does for its jobs."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, *args, **kwargs)
