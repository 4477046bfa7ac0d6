"""Successive halving (Jamieson & Talwalkar, 2016) and Hyperband's brackets (Li et al., 2018)
inside the compiled program.

A bracket trains all its jobs to the first rung (``min_epochs``), ranks them by the sweep's
objective, keeps the best ``1/eta`` (at least one; ties go to the earlier job) and stops the
others; the survivors train on to ``min_epochs * eta``, and so on up to ``epochs``. A stopped
job keeps its directory and files, its summary saying ``status: pruned`` and the ``rung`` it
reached. Survivors are compacted into full chunks - a gather over the trial axis - so no
compute goes to stopped trials, and each new chunk size compiles once.

With ``brackets`` B > 1 (Hyperband), the jobs are dealt to B brackets whose first rungs are
``min_epochs * eta^b``: bracket b gets a share of the jobs proportional to
``eta^(B-1-b) / (B-b)`` (Hyperband's n_i for brackets with the same budget), so the early,
aggressive brackets try many configurations and the last one a few, trained to the end.

Every rung is a checkpoint (``checkpoints/``: the survivors' state, atomically): a sweep
killed and started again goes on from the last completed rung.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainlab import records
from trainlab import trials as trial_states
from trainlab.fingerprint import config_hash
from trainlab.search.chunked import train_chunked
from trainlab.trials import State

log = logging.getLogger(__name__)


@dataclass
class Halving:
    eta: int = 3
    min_epochs: int = 1
    brackets: int = 1
    trial_epochs: int = field(default=0, init=False)  # trial-epochs trained (padding too)

    def rungs(self, epochs: int, bracket: int = 0) -> list[int]:
        """The epochs at which bracket ``bracket`` ranks its jobs: min_epochs * eta^(b + k)
        below ``epochs``, and ``epochs``."""
        first = self.min_epochs * self.eta**bracket
        rungs = []
        while first < epochs:
            rungs.append(first)
            first *= self.eta
        return [*rungs, epochs]

    def deal(self, n_jobs: int) -> list[range]:
        """The jobs of each bracket, consecutive: bracket b's share is proportional to
        eta^(B-1-b) / (B-b), each bracket at least one job while there are jobs."""
        b_count = min(self.brackets, n_jobs)
        weights = [self.eta ** (b_count - 1 - b) / (b_count - b) for b in range(b_count)]
        sizes = [max(1, math.floor(n_jobs * w / sum(weights))) for w in weights]
        sizes[0] += n_jobs - sum(sizes)  # what rounding left to the most aggressive bracket
        starts = np.cumsum([0, *sizes])
        return [range(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:])]

    def run(self, group, *, store: Path | None = None, on_chunk=None,
            finished: set[int] = frozenset()) -> list[dict]:
        """Every job of ``group`` (plan.GroupPlan) not yet ``finished`` (their positions: a
        resumed sweep's), bracket by bracket - the jobs dealt to brackets as in the sweep's
        first start; returns the summaries of the jobs it finished, in the group's order.
        ``store``: where rung checkpoints go (None: nowhere)."""
        summaries: dict[int, dict] = {}
        epochs = group.program.cfg.epochs
        for bracket, positions in enumerate(self.deal(len(group.jobs))):
            if set(positions) <= set(finished):
                continue  # a bracket of a resumed sweep that had ended
            done = _Bracket(self, group, list(positions), self.rungs(epochs, bracket), bracket,
                            store).run(on_chunk)
            summaries |= done
        return [summaries[i] for i in sorted(summaries)]


class _Bracket:
    """One successive-halving bracket over some of a group's jobs."""

    def __init__(self, halving: Halving, group, positions: list[int], rungs: list[int],
                 number: int, store: Path | None):
        from trainlab.plan import trial_values

        self.halving, self.group, self.rungs, self.number = halving, group, rungs, number
        self.jobs = [group.jobs[i] for i in positions]
        self.positions = positions
        self.values, self.seeds, self.owners = trial_values([job.cfg for job in self.jobs])
        key = hashlib.sha256(json.dumps([config_hash(job.cfg) for job in self.jobs]).encode())
        self.checkpoint = (store / f"halving-{number}-{key.hexdigest()[:16]}.npz"
                           if store is not None else None)

    def run(self, on_chunk) -> dict[int, dict]:
        from trainlab.plan import finish

        program = self.group.program
        alive = list(range(len(self.jobs)))  # jobs of the bracket still training
        state, first = None, 0
        if self.checkpoint is not None and self.checkpoint.is_file():
            state, extra = trial_states.load(program, self.group.data, self.checkpoint)
            alive, first = extra["alive"], extra["rung"] + 1
            log.info(f"bracket {self.number}: resumed after rung {first - 1} "
                     f"({len(alive)} jobs alive)")
        done: dict[int, dict] = {}
        for k in range(first, len(self.rungs)):
            rung = self.rungs[k]
            rows = np.concatenate([np.flatnonzero(self.owners == j) for j in alive])
            state, outcome = self._train(state, rows, rung)
            owners = np.concatenate([np.full(np.sum(self.owners == j), i)
                                     for i, j in enumerate(alive)])
            jobs = [self.jobs[j] for j in alive]
            last = k == len(self.rungs) - 1
            fields = [{"rung": k, "rung_epoch": rung} for _ in alive]
            if last:
                kept = list(range(len(alive)))
            else:
                scores = self._scores(jobs, outcome, owners)
                order = sorted(range(len(alive)), key=lambda i: (scores[i], i))
                kept = sorted(order[:max(1, len(alive) // self.halving.eta)])
                for i in set(range(len(alive))) - set(kept):
                    fields[i]["status"] = "pruned"
            finishing = kept if last else [i for i in range(len(alive)) if i not in kept]
            pick = np.isin(owners, finishing)
            written = finish(program, [jobs[i] for i in finishing],
                             _take_outcome(outcome, np.flatnonzero(pick)),
                             _renumber(owners[pick], finishing),
                             [_status(fields[i], outcome, owners, i) for i in finishing])
            for i, summary in zip(finishing, written, strict=True):
                done[self.positions[alive[i]]] = summary
            if on_chunk is not None:
                on_chunk([jobs[i] for i in finishing], written)
            best = min((records.objective_value(s, s_cfg.objective)
                        for s, s_cfg in ((summary, jobs[i].cfg)
                                         for i, summary in zip(finishing, written))),
                       default=math.inf)
            log.info(f"bracket {self.number}, rung {k} (epoch {rung}): "
                     f"{len(kept) if not last else 0} of {len(alive)} jobs kept"
                     + (f", best so far {best:.4g}" if math.isfinite(best) else ""))
            if last:
                break
            survivors = np.concatenate([np.flatnonzero(owners == i) for i in kept])
            state = state.take(survivors)
            alive = [alive[i] for i in kept]
            if self.checkpoint is not None:
                trial_states.save(state, self.checkpoint, {"alive": alive, "rung": k})
        if self.checkpoint is not None:
            self.checkpoint.unlink(missing_ok=True)
        return done

    def _scores(self, jobs, outcome, owners) -> list[float]:
        """Each job's objective at this rung (its seeds' mean, as its summary has it)."""
        from trainlab.outcome import summarize, trial_summaries

        per_trial = trial_summaries(outcome)
        scores = []
        for index, job in enumerate(jobs):
            rows = np.flatnonzero(owners == index)
            summary, _ = summarize(job.cfg, outcome, rows, job.overrides, per_trial)
            scores.append(records.objective_value(summary, job.cfg.objective))
        return scores

    def _train(self, state: State | None, rows: np.ndarray, until: int):
        """The trials ``rows`` of the bracket trained to epoch ``until``, in chunks of the
        group's size (the last padded), from ``state`` (None: from the start)."""
        values = {k: v[rows] for k, v in self.values.items()}
        state, outcome, trial_epochs = train_chunked(self.group, state, values,
                                                     self.seeds[rows], until)
        self.halving.trial_epochs += trial_epochs
        return state, outcome


def _take_outcome(outcome, index):
    """The trials ``index`` of an outcome."""
    from dataclasses import replace

    from trainlab.outcome import select

    return replace(outcome, history=select(outcome.history, index),
                   nets=select(outcome.nets, index), best_epoch=outcome.best_epoch[index],
                   stopped=outcome.stopped[index], diverged=outcome.diverged[index],
                   steps=outcome.steps[index], test=select(outcome.test, index))


def _renumber(owners: np.ndarray, jobs: list[int]) -> np.ndarray:
    """Owners as positions in ``jobs``."""
    position = {job: i for i, job in enumerate(jobs)}
    return np.asarray([position[o] for o in owners])


def _status(fields: dict, outcome, owners, index: int) -> dict:
    """A pruned job that diverged says diverged: that is why it was stopped."""
    if fields.get("status") == "pruned" and outcome.diverged[owners == index].any():
        return {k: v for k, v in fields.items() if k != "status"}
    return fields
