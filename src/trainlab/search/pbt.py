"""Population-based training (Jaderberg et al., 2017) inside the compiled program.

The sweep's jobs are the population, trained together. Every ``interval`` epochs the members
are ranked by their current validation loss (the last epoch's; the training loss where there
is no validation split). Then:

- exploit: each of the worst ``fraction`` copies the carry - weights, optimizer state, step
  count - of a member of the best ``fraction`` drawn at random: a gather over the trial axis;
- explore: it takes that member's traced hyperparameters and moves each swept one: a new draw
  from its search-space dimension with probability ``resample``, else times 0.8 or 1.2, clipped
  to the dimension's bounds: new inputs of the same program, no recompile.

Every member keeps its own history (its metrics.csv shows the lr it used each epoch), and
``pbt.csv`` in the sweep dir has a row per (member, interval): its parent (itself when it
kept its own carry), its hyperparameters after the interval, and the score it was ranked by.
The same seed gives the same run, bit for bit; ``fraction=0`` is a random search. Every
interval is a checkpoint: a killed sweep goes on from the last one.

Only swept float hyperparameters of the traced groups (optimizer, schedule, regularizer,
model's dropout, ...) move; a member's integer or choice values stay its own. Each member
trains one seed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trainlab import records
from trainlab import trials as trial_states
from trainlab.config import ConfigError
from trainlab.fingerprint import config_hash
from trainlab.search.chunked import train_chunked
from trainlab.trials import State, take_trials

log = logging.getLogger(__name__)

FACTORS = (0.8, 1.2)


@dataclass
class Pbt:
    dimensions: tuple  # the sweep's search space (trainlab.search_space.Dimension)
    interval: int = 4
    fraction: float = 0.25
    resample: float = 0.25
    seed: int = 0

    def boundaries(self, epochs: int) -> list[int]:
        """The epochs at which the population exploits and explores, then the last."""
        return [*range(self.interval, epochs, self.interval), epochs]

    def run(self, group, *, store: Path | None = None, on_chunk=None,
            finished: set[int] = frozenset()) -> list[dict]:
        from trainlab.plan import finish, trial_values

        jobs = group.jobs
        if len(finished) == len(jobs):
            return []
        many = [job for job in jobs if job.cfg.seeds != 1]
        if many:
            raise ConfigError(f"hydra/sweeper=pbt: seeds={many[0].cfg.seeds}: each member "
                              "trains one seed (sweep seed=0,1,... to repeat a population)")
        values, seeds, _ = trial_values([job.cfg for job in jobs])
        moving = [d for d in self.dimensions if d.key in values and not d.choices
                  and not d.integer]
        key = hashlib.sha256(json.dumps([config_hash(j.cfg) for j in jobs]).encode())
        checkpoint = (store / f"pbt-{key.hexdigest()[:16]}.npz" if store is not None else None)
        sweep_dir = Path(jobs[0].out_dir).parent if jobs[0].out_dir is not None else None
        state, first, rows = None, 0, []
        if checkpoint is not None and checkpoint.is_file():
            state, extra = trial_states.load(group.program, group.data, checkpoint)
            first, rows = extra["boundary"] + 1, extra["records"]
            log.info(f"pbt: resumed after interval {first - 1}")
        epochs = group.program.cfg.epochs
        boundaries = self.boundaries(epochs)
        for k in range(first, len(boundaries)):
            state, outcome = self._train(group, state, values, seeds, boundaries[k])
            scores = _scores(state)
            if k == len(boundaries) - 1:
                rows += self._records(k, np.arange(len(jobs)), state, scores, moving)
                break
            parents = self.exploit(scores, np.random.default_rng([self.seed, k, 0]))
            state = self.explore(state, parents, moving, np.random.default_rng([self.seed, k]))
            rows += self._records(k, parents, state, scores, moving)
            best = np.nanmin(np.where(np.isfinite(scores), scores, np.nan)) \
                if np.isfinite(scores).any() else math.inf
            log.info(f"pbt interval {k} (epoch {boundaries[k]}): "
                     f"{int(np.sum(parents != np.arange(len(parents))))} of {len(parents)} "
                     f"members copied a better one; best score {best:.4g}")
            if checkpoint is not None:
                trial_states.save(state, checkpoint, {"boundary": k, "records": rows})
            if sweep_dir is not None:
                _write_records(rows, sweep_dir)
        final = {name: np.asarray(v).astype(float).tolist() for name, v in state.values.items()}
        # The hyperparameters each member ended with (its config holds those it began with).
        fields = [{f"final.{d.key}": final[d.key][i] for d in moving} for i in range(len(jobs))]
        done = finish(group.program, jobs, outcome, np.arange(len(jobs)), fields)
        if on_chunk is not None:
            on_chunk(jobs, done)
        if sweep_dir is not None:
            _write_records(rows, sweep_dir)
        if checkpoint is not None:
            checkpoint.unlink(missing_ok=True)
        return done

    # ------------------------------------------------------------- the two moves, alone
    def exploit(self, scores: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Each member's parent: a random member of the best ``fraction`` for each of the
        worst ``fraction`` (ties broken by position), itself for the others."""
        n = len(scores)
        count = math.floor(self.fraction * n)
        parents = np.arange(n)
        if count == 0:
            return parents
        order = np.lexsort((np.arange(n), np.where(np.isnan(scores), np.inf, scores)))
        best, worst = order[:count], np.sort(order[n - count:])
        parents[worst] = rng.choice(best, size=count)
        return parents

    def explore(self, state: State, parents: np.ndarray, moving: list,
                rng: np.random.Generator) -> State:
        """The state after exploit (each member the carry of its parent) and explore (each
        member that copied another moves that one's swept hyperparameters)."""
        carry = take_trials(state.carry, parents)
        values = {name: np.array(v, copy=True) for name, v in state.values.items()}
        for child in np.flatnonzero(parents != np.arange(len(parents))):
            for dim in moving:
                parent_value = float(state.values[dim.key][parents[child]])
                if rng.random() < self.resample:
                    new = float(dim.value(rng.random()))
                else:
                    new = parent_value * FACTORS[int(rng.integers(len(FACTORS)))]
                values[dim.key][child] = min(max(new, dim.low), dim.high)
            for name in values:  # what is not swept follows the parent too
                if name not in {d.key for d in moving}:
                    values[name][child] = state.values[name][parents[child]]
        return State(values, state.seeds, carry, state.rows, state.elapsed, state.init,
                     state.epoch)

    # ------------------------------------------------------------------------ plumbing
    def _train(self, group, state: State | None, values, seeds, until: int):
        state, outcome, _ = train_chunked(group, state, values, seeds, until)
        return state, outcome

    def _records(self, k: int, parents, state: State, scores, moving) -> list[dict]:
        return [{"member": int(i), "interval": k, "epoch": int(state.epoch),
                 "parent": int(parents[i]),
                 **{d.key: float(state.values[d.key][i]) for d in moving},
                 "objective": float(scores[i]) if np.isfinite(scores[i]) else None}
                for i in range(len(parents))]


def _scores(state: State) -> np.ndarray:
    """Each member's current validation loss (training loss without a validation split);
    inf for a diverged member."""
    row = state.rows[-1]
    name = "val_loss" if "val_loss" in row and np.isfinite(row["val_loss"]).any() \
        else "train_loss"
    scores = np.asarray(row[name], float)
    return np.where(np.isfinite(scores), scores, np.inf)


def _write_records(rows: list[dict], sweep_dir: Path) -> None:
    records.write_csv(pd.DataFrame(rows), sweep_dir / "pbt.csv")
