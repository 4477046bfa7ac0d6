"""How a group of trials runs here: how many share one call of the compiled program (the
chunk; every chunk reuses the first one's executable), and over which devices the trial axis
is split.

A call of k vmapped trials does k times the work of one. That pays while one trial's step is
too small to keep the device busy (the time goes to dispatch, loop and threading overhead) and
costs once it is not (the wider program compiles longer, k trials' state leaves the cache).
Measured on this project's 2-core CPU (``bench_sweep.py --chunks``: 16 trials, 3 epochs,
medians of 3 interleaved rounds, 2026-12-01 with init's quick compile; run time per trial
relative to one trial per call):

  trials per call                   1      2      4      8     16    compile s, 1 -> 16
  W: 40-256-256-10, b128 (61 MF)   1.00   0.95   0.92   0.93   0.93   2.6 -> 3.8
  40-64-10, b128 (2.5 MF)          1.00   0.87   0.72   0.68   0.65   3.0 -> 4.1
  moons 2-16-16-2, b32 (0.07 MF)   1.00   0.51   0.31   0.26   0.24   3.5 -> 4.2

and by calibrate.py (``hydra.launcher.chunk_size=measure``; one training epoch a size, the
same machine under load, 2026-12-01), ms a trial-epoch:

  trials per call                   1      2      4      8     16     32
  moons 2-16-16-2, b128 (0.27 MF)  0.94   0.51   0.38   0.28   0.33   0.32

and by whole calls (init, every epoch's training and evaluation, the outcome: what a sweep's
chunk does; ``bench_sweep.py --chunks --workloads tiny,moons --widths 8,16,32,64,128
--trials 128 --rounds 2``, 3 epochs, cold compile, 2026-12-02), run time per trial relative
to 8 a call:

  trials per call                   8     16     32     64    128    compile s
  moons 2-16-16-2, b128 (0.27 MF)  1.00   0.92   0.79   0.72   0.68   8.5-9.0 (flat)
  moons 2-16-16-2, b32 (0.07 MF)   1.00   0.88   0.73   0.69   0.64   4.5-5.7 (flat)

W's whole 64-trial sweep (``train -m``, 10 epochs, cold compile, 3 interleaved rounds), run
seconds: 2 a call 13.0, 17.3, 15.9; 4 a call 13.7, 15.6, 16.8; 8 a call 12.1, 13.1, 16.0;
16 a call 14.2, 16.2, 16.4.

One trial per call is never best on a CPU (XLA hands a lone small matmul to multi-threaded
Eigen, whose overhead dwarfs it; a batched one runs in one loop), and a call also costs a
fixed few ms of dispatch and transfers each epoch (evaluation, the outcome), which more
trials a call share. For W and the 2.5 MFLOP net the curves are flat from 8 a call; the
tiny nets keep gaining up to 128 a call (a training epoch alone looks flat from 8: the
evaluations and the outcome are what more trials share), and compile does not grow with
the chunk. On a GPU a small MLP's step leaves most of the device idle: as many trials as
memory allows share a call. Hence, per platform: at least ``fewest`` trials a call, more
until a call's step does ``step_flops`` of work, at most ``most``. On this CPU that is 8 for
W and the 2.5 MFLOP net, and 128 for the tiny ones (each within 5% of the fastest measured;
tests/test_sweep_plan.py holds the rule to these rows).

A chunk of more than ``fewest`` cheap trials is a power of two (fewer trials: the next power
of two above them), its last call padded: a padded tiny trial costs ms, a new shape seconds
of compile (moons 2-16-16-2: 8.5 s cold, 2.5 s loaded from the cache), so sweeps of 20, 30
or 1000 such jobs share a handful of executables. Where fewer trials a call pay, the calls
are spread evenly instead (``even``), padding the least.
``chunk_size=measure`` measures instead (calibrate.py), cached per device and model size: for
a new machine, a GPU, or a model unlike these.

The memory bound comes last: a chunk's estimated footprint must fit in ``memory_fraction`` of
the devices' memory, whatever was asked.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from trainlab.config import Config
from trainlab.problems import Shapes, problem_for


@dataclass(frozen=True)
class Rule:
    fewest: int  # trials per call (per device)
    most: int | None
    step_flops: float  # the work of one step (all trials of the call) that keeps it busy
    # More than ``fewest`` a call (cheap trials): a power of two, the last call padded, so
    # that sweeps of other sizes load the same executables from the compilation cache.
    powers_of_two: bool = False


RULES = {"cpu": Rule(8, 128, 2e7, powers_of_two=True), "gpu": Rule(1, None, 5e10),
         "tpu": Rule(1, None, 5e10)}
MOST_MEASURED = 1024  # the largest chunk calibrate.py tries


@dataclass(frozen=True)
class TrialPlan:
    chunk: int  # trials per call, a multiple of the devices
    devices: tuple  # the trial axis is split over these
    reason: str  # how the chunk was chosen, for the log

    def mesh(self) -> jax.sharding.Mesh | None:
        """The mesh to shard trials over, None on one device (nothing to split)."""
        if len(self.devices) < 2:
            return None
        return jax.sharding.Mesh(np.array(self.devices), ("trials",))


def _param_shapes(cfg: Config, shapes: Shapes) -> list[tuple[int, ...]]:
    problem = problem_for(cfg, shapes)
    # A key's shape, not a key: jax.random.PRNGKey(0) would compile its seeding (0.1-0.3 s).
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    params = jax.eval_shape(lambda key: problem.init(cfg, key).params, key)
    return [leaf.shape for leaf in jax.tree_util.tree_leaves(params)]


def step_flops(cfg: Config, shapes: Shapes) -> float:
    """FLOPs of one trial's training step: forward and backward, 6 per weight and sample."""
    weights = sum(math.prod(s) for s in _param_shapes(cfg, shapes))
    return 6.0 * weights * max(shapes.batch_size, 1)


def trial_bytes(cfg: Config, shapes: Shapes) -> int:
    """A generous estimate of one trial's device memory: params with their gradients, updates,
    optimizer moments and copies (init, best), and the activations of a training step and of
    evaluating a whole split."""
    param_shapes = _param_shapes(cfg, shapes)
    n_params = sum(math.prod(s) for s in param_shapes)
    widest = max((s[-1] for s in param_shapes), default=1)
    units = sum(s[-1] for s in param_shapes if len(s) == 2)
    n_eval = max(shapes.n_train, 1)
    floats = 8 * n_params + 4 * shapes.batch_size * units + 2 * n_eval * widest
    return floats * np.dtype(cfg.dtype).itemsize


def device_memory(device) -> int:
    """Bytes of memory of one device (host memory for a CPU)."""
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and stats.get("bytes_limit"):
        return int(stats["bytes_limit"])
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


MEASURE = "measure"


def parse_chunk_size(value) -> int | str | None:
    """``auto`` -> None, ``measure`` -> MEASURE, else a whole number >= 0 (0: all trials at
    once)."""
    if str(value).strip().lower() == "auto":
        return None
    if str(value).strip().lower() == MEASURE:
        return MEASURE
    try:
        size = int(str(value))
    except ValueError:
        size = -1
    if size < 0:
        raise ValueError(f"chunk_size={value}: must be auto, measure, 0 (all trials at once) "
                         "or a number of trials")
    return size


def plan(cfg: Config, shapes: Shapes, n_trials: int, *, chunk_size: int | None = None,
         memory_fraction: float = 0.5, devices: list | None = None) -> TrialPlan:
    """The chunk for ``n_trials`` trials of ``cfg``: ``chunk_size`` (None: auto, 0: all),
    within the memory bound, spread evenly over the chunks, a multiple of the devices."""
    devices = tuple(devices if devices is not None else jax.devices())
    n_dev = len(devices)
    if chunk_size is None or chunk_size == MEASURE:
        platform = devices[0].platform
        rule = RULES.get(platform, RULES["gpu"])
        per_step = step_flops(cfg, shapes)
        chunk = max(rule.fewest, math.ceil(rule.step_flops / per_step))
        chunk = min(chunk, rule.most or chunk)
        powers = rule.powers_of_two and chunk > rule.fewest and n_trials > rule.fewest * n_dev
        chunk = (_power_of_two(chunk) if powers else chunk) * n_dev
        reason = f"auto: {per_step / 1e6:.3g} MFLOP a trial step on {platform}"
    else:
        powers, chunk = False, chunk_size or n_trials
        reason = f"chunk_size={chunk_size}"
    fits = memory_bound(cfg, shapes, memory_fraction, devices)
    if fits < chunk:
        powers, chunk, reason = False, fits, f"{reason}, memory bound {fits} trials"
    if powers:  # no more than the trials need
        per_device = min(chunk // n_dev, _power_of_two(math.ceil(n_trials / n_dev)))
        return TrialPlan(per_device * n_dev, devices, f"{reason}, a power of two")
    return TrialPlan(even(chunk, n_trials, n_dev), devices, reason)


def _power_of_two(n: int) -> int:
    """The least power of two >= n."""
    return 1 << max(n - 1, 0).bit_length()


def memory_bound(cfg: Config, shapes: Shapes, memory_fraction: float, devices) -> int:
    """How many trials fit in ``memory_fraction`` of the devices' memory (at least one)."""
    budget = memory_fraction * device_memory(devices[0]) * len(devices)
    return max(int(budget // trial_bytes(cfg, shapes)), 1)


def even(chunk: int, n_trials: int, n_dev: int) -> int:
    """At most ``chunk`` trials a call, spread evenly over the calls (least padding), a
    multiple of the devices."""
    chunk = min(chunk, n_trials)
    chunk = math.ceil(n_trials / math.ceil(n_trials / chunk))
    return math.ceil(chunk / n_dev) * n_dev
