"""Trials in flight: a chunk of one compiled program's trials, trained epoch by epoch.

``Trials`` holds what a chunk carries between calls - its traced values, seeds and carry on the
device(s), the rows of every epoch so far, its initial nets - and trains it to a given epoch.
Between epochs the chunk can be cut down to some of its trials, or have trials copied over
others and given new values, as adaptive search does (search/): the trial axis is an array
axis, so each is a gather and new inputs, never a recompile (only a new number of trials
compiles, once per size). ``state()`` and ``from_state`` move a chunk to the host and back:
what several chunks are merged or split through, and what a checkpoint holds.

A plain run is ``Trials(...)``, ``train(epochs)``, ``outcome()`` (plan.execute).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np

from trainlab import interrupt, report
from trainlab.outcome import Outcome
from trainlab.problems import Net
from trainlab.program import Carry, Program


def _host(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def take_trials(tree, index):
    """The trials at ``index`` (an int array) of every array of ``tree``, trial axis first."""
    return jax.tree_util.tree_map(lambda a: a[index], tree)


@dataclass
class State:
    """A chunk on the host: every array with its trial axis first."""

    values: dict
    seeds: np.ndarray
    carry: Carry
    rows: list[dict]  # epoch 0, 1, ... each {name: (trials, ...)}
    elapsed: list[float]  # seconds since the start, at each row
    init: Net
    epoch: int

    def take(self, index) -> State:
        """The trials ``index`` (repeats allowed), all of them: history and carry."""
        return State(take_trials(self.values, index), self.seeds[index],
                     take_trials(self.carry, index),
                     [take_trials(row, index) for row in self.rows], list(self.elapsed),
                     take_trials(self.init, index), self.epoch)

    @staticmethod
    def concat(states: list[State]) -> State:
        """The trials of several chunks at the same epoch, in order."""
        def cat(*trees):
            return jax.tree_util.tree_map(lambda *a: np.concatenate(a), *trees)

        first = states[0]
        return State(cat(*[s.values for s in states]),
                     np.concatenate([s.seeds for s in states]),
                     cat(*[s.carry for s in states]),
                     [cat(*rows) for rows in zip(*[s.rows for s in states], strict=True)],
                     list(first.elapsed), cat(*[s.init for s in states]), first.epoch)


class Trials:
    """A chunk of trials of ``program`` on the device(s): its trial axis split over ``mesh``
    when there is one (the data copied to each device)."""

    def __init__(self, program: Program, values: dict, seeds, data: dict, *,
                 mesh: jax.sharding.Mesh | None = None, state: State | None = None):
        self.program, self.mesh = program, mesh
        # One transfer of them all (jnp.asarray would be an eager op per value, per chunk).
        inputs = ({k: np.asarray(v, program.cfg.dtype) for k, v in values.items()},
                  np.asarray(seeds, np.int32))
        self.data = data
        if mesh is not None:
            spec = jax.sharding.PartitionSpec
            trials = jax.sharding.NamedSharding(mesh, spec(mesh.axis_names[0]))
            self.values, self.seeds = jax.device_put(inputs, trials)
            self.data = jax.device_put(data, jax.sharding.NamedSharding(mesh, spec()))
        else:
            self.values, self.seeds = jax.device_put(inputs)
        start = time.perf_counter()
        with report.compiling():  # a run's status line, a sweep's bar say so
            self.compiled = program.compile(self.values, self.seeds, self.data)
        self.compile_s = time.perf_counter() - start
        if mesh is not None:
            self.compiled = self.compiled._replace(**{
                name: _carry_resharded(getattr(self.compiled, name))
                for name in ("train", "evaluate", "final")})
        self.start = time.perf_counter()
        if state is None:
            self.carry = self.compiled.init(self.values, self.seeds, self.data)
            self.init = _host(self.carry.net)
            self.epoch = 0
            self.carry, row = self.compiled.evaluate(self.values, self.seeds, self.carry,
                                                     np.int32(0), self.compiled.no_running,
                                                     self.data)
            self.rows, self.elapsed = [row], [time.perf_counter() - self.start]
            self.run_s = self.elapsed[0]
        else:  # resumed from the host (a merge, a split, a checkpoint)
            self.carry = jax.device_put(state.carry, self.compiled.train.input_shardings[0][2]
                                        if mesh is not None else None)
            self.init, self.epoch = state.init, state.epoch
            self.rows, self.elapsed = list(state.rows), list(state.elapsed)
            self.start -= state.elapsed[-1]  # time_s goes on from where it was
            self.run_s = 0.0

    @classmethod
    def from_state(cls, program: Program, state: State, data: dict, *,
                   mesh: jax.sharding.Mesh | None = None) -> Trials:
        return cls(program, state.values, state.seeds, data, mesh=mesh, state=state)

    def __len__(self) -> int:
        return int(self.seeds.shape[0])

    def train(self, until: int, *, progress: bool = False, label: str = "training",
              after_epoch: Callable[[int], None] | None = None) -> None:
        """Train every trial from the current epoch to epoch ``until``, calling
        ``after_epoch(epoch)`` as each ends (a checkpoint, say)."""
        began = time.perf_counter()
        with report.epoch_progress(until - self.epoch, label, enabled=progress) as advance:
            for epoch in range(self.epoch + 1, until + 1):
                interrupt.at_epoch(epoch, self.program.cfg.epochs)  # what Ctrl-C reports
                self.carry, running = self.compiled.train(self.values, self.seeds, self.carry,
                                                          np.int32(epoch), self.data)
                self.carry, row = self.compiled.evaluate(self.values, self.seeds, self.carry,
                                                         np.int32(epoch), running, self.data)
                self.rows.append(row)
                # Waiting for each epoch costs one dispatch latency, and gives time_s.
                jax.block_until_ready(row["train_loss"])
                self.elapsed.append(time.perf_counter() - self.start)
                advance(row)
                self.epoch = epoch
                if after_epoch is not None:
                    after_epoch(epoch)
        self.run_s += time.perf_counter() - began

    def state(self) -> State:
        """The chunk on the host, as it is now."""
        return State(_host(self.values), np.asarray(self.seeds), _host(self.carry),
                     [_host(row) for row in self.rows], list(self.elapsed), self.init,
                     self.epoch)

    def outcome(self) -> Outcome:
        """What the trials return now: the final nets (the best, with early stopping), test
        metrics, and every row so far."""
        began = time.perf_counter()
        final, test = self.compiled.final(self.values, self.seeds, self.carry, self.data)
        jax.block_until_ready(final)
        self.run_s += time.perf_counter() - began
        rows = jax.device_get(self.rows)  # one transfer, not one per metric and epoch
        history = {name: np.stack([r[name] for r in rows], axis=1) for name in rows[0]}
        history["time_s"] = np.broadcast_to(np.asarray(self.elapsed),
                                            history["step"].shape).copy()
        for name in [n for n, v in history.items() if v.ndim == 3]:  # a vector a row
            stat, _, layer = name.partition("/")
            vectors = history.pop(name)
            history |= {f"{stat}_{b:02d}/{layer}": vectors[..., b]
                        for b in range(vectors.shape[-1])}
        carry = self.carry
        nets = {"init": self.init, "final": _host(final)}
        if self.program.keep_best:
            nets["best"] = _host(carry.best)
        if self.program.averaging:
            nets["average"] = Net(_host(carry.average), nets["final"].state)
        return Outcome(history=history, nets=nets, best_epoch=np.asarray(carry.best_epoch),
                       stopped=np.asarray(carry.stopped), diverged=np.asarray(carry.diverged),
                       steps=np.asarray(carry.step), test=_host(test),
                       compile_s=self.compile_s, run_s=self.run_s)


def _carry_resharded(fn):
    """``fn`` moving its carry (third argument) to the sharding it was compiled for first:
    the carry is lowered without one, so XLA may pick another than the previous call's."""
    want = fn.input_shardings[0][2]
    return lambda values, seeds, carry, *rest: fn(values, seeds, jax.device_put(carry, want),
                                                  *rest)


# ------------------------------------------------------------------------------ checkpoints
def save(state: State, path, extra: dict | None = None) -> None:
    """``state`` (and ``extra`` numbers, JSON-able) into one npz file, whole or not at all.
    The tree structure is not stored: ``load`` rebuilds it from the program."""
    import json

    from trainlab import records

    arrays = {f"carry.{i}": leaf for i, leaf in
              enumerate(jax.tree_util.tree_leaves(state.carry))}
    arrays |= {f"init.{i}": leaf for i, leaf in enumerate(jax.tree_util.tree_leaves(state.init))}
    arrays |= {f"values.{k}": v for k, v in state.values.items()}
    arrays |= {f"row.{e}.{k}": v for e, row in enumerate(state.rows) for k, v in row.items()}
    meta = {"epoch": state.epoch, "elapsed": state.elapsed, "rows": len(state.rows),
            "extra": extra or {}}
    arrays |= {"seeds": state.seeds, "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8)}
    records.write_npz(arrays, path)


def load(program: Program, data: dict, path) -> tuple[State, dict]:
    """The state ``save`` wrote (its structure that of ``program``'s carry for its trials),
    and its ``extra``."""
    import json

    with np.load(path, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    meta = json.loads(arrays.pop("meta").tobytes())
    seeds = arrays.pop("seeds")
    values = {k.split(".", 1)[1]: v for k, v in arrays.items() if k.startswith("values.")}
    shape = jax.eval_shape(program.init, values, seeds, data)  # tracing only: no compile

    def leaves(prefix: str, count: int) -> list:
        return [arrays[f"{prefix}.{i}"] for i in range(count)]

    carry_tree = jax.tree_util.tree_structure(shape)
    net_tree = jax.tree_util.tree_structure(shape.net)
    carry = jax.tree_util.tree_unflatten(carry_tree, leaves("carry", carry_tree.num_leaves))
    init = jax.tree_util.tree_unflatten(net_tree, leaves("init", net_tree.num_leaves))
    rows = [{k.split(".", 2)[2]: v for k, v in arrays.items() if k.startswith(f"row.{e}.")}
            for e in range(meta["rows"])]
    return State(values, seeds, carry, rows, meta["elapsed"], init, meta["epoch"]), meta["extra"]
