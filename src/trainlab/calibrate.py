"""How many trials a call runs fastest, measured on the device at hand, once per model size.

A call of k vmapped trials does k times the work of one, and the time it takes is not k times
one trial's: a small trial leaves the device idle (dispatch, loop and threading overhead), a
large one fills it. Which k is fastest depends on the device, the model and the batch - a
rule of thumb fitted on one machine is wrong on the next. So with
``hydra.launcher.chunk_size=measure`` the chunk is measured: one epoch of k trials for
k = 1, 2, 4, ... (each compiled once), the time per trial-epoch of each (training and
evaluating: a call's evaluation is a fixed cost that more trials share, as its training's
dispatch is), and the fastest k is kept - stopping once two doublings in a row are slower
than the best. The result is cached in
``cache_dir()/chunks.json`` under the device and the model's size (its static config, epochs
aside, and the data's shapes), so every later sweep of that size, in any process, reads it
instead of measuring.

The measurement compiles a training epoch for each size it tries (seconds each on a CPU), so
it is asked for, not the default: trial_plan.py's rule (``chunk_size=auto``), fitted to tables
measured on this project's CPU, decides otherwise. ``TRAINLAB_CALIBRATE=0`` turns measuring
off everywhere.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np

from trainlab import records
from trainlab.config import static_signature

log = logging.getLogger(__name__)

CACHE_FILE = "chunks.json"
MIN_SECONDS = 0.2  # time each candidate for at least this long (several epochs if short)
PATIENCE = 2  # stop after this many slower doublings in a row


def enabled() -> bool:
    """``TRAINLAB_CALIBRATE=0`` turns measuring off (the rule of thumb decides): the tests do,
    so that their sweeps do not spend their time measuring."""
    return os.environ.get("TRAINLAB_CALIBRATE", "1") != "0"


def model_key(program, devices) -> str:
    """The device and the model's size: what the fastest chunk depends on."""
    cfg = replace(program.cfg, epochs=1)
    device = devices[0]
    text = json.dumps([device.platform, getattr(device, "device_kind", ""), len(devices),
                       static_signature(cfg), list(program.problem.shapes)], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _read_cache() -> dict:
    try:
        return json.loads((records.cache_dir() / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}


def _remember(key: str, entry: dict) -> None:
    cache = _read_cache()
    cache[key] = entry
    path = records.cache_dir() / CACHE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    records.write_text(json.dumps(cache, indent=1, sort_keys=True) + "\n", path)


def epoch_seconds(program, values: dict, seeds, data: dict, k: int) -> float:
    """Seconds per trial-epoch of ``k`` trials in one call (the first ``k`` rows of the
    group's values, repeated if there are fewer), after a warm-up epoch."""
    take = np.arange(k) % len(seeds)
    vals = {name: jnp.asarray(np.asarray(v)[take], program.cfg.dtype)
            for name, v in values.items()}
    seeds = jnp.asarray(np.asarray(seeds)[take], jnp.int32)
    compiled = program.compile(vals, seeds, data)  # kept: the sweep's own calls reuse it
    carry = compiled.init(vals, seeds, data)

    def epoch(carry, number: int):
        carry, running = compiled.train(vals, seeds, carry, np.int32(number), data)
        carry, row = compiled.evaluate(vals, seeds, carry, np.int32(number), running, data)
        jax.block_until_ready(row["train_loss"])
        return carry

    carry = epoch(carry, 1)  # warm-up
    epochs, start = 0, time.perf_counter()
    while True:
        carry = epoch(carry, 2 + epochs)
        epochs += 1
        elapsed = time.perf_counter() - start
        if elapsed >= MIN_SECONDS or epochs >= 50:
            return elapsed / epochs / k


def fastest_chunk(candidates: list[int], measure: Callable[[int], float]) -> tuple[int, dict]:
    """The candidate with the least time per trial-epoch, trying them in increasing order and
    stopping after ``PATIENCE`` in a row slower than the best; and every measurement."""
    seconds: dict[int, float] = {}
    best, slower = None, 0
    for k in candidates:
        seconds[k] = measure(k)
        if best is None or seconds[k] < seconds[best]:
            best, slower = k, 0
        else:
            slower += 1
            if slower >= PATIENCE:
                break
    return best, seconds


def chunk_for(program, values: dict, seeds, data: dict, devices, most: int,
              measure: Callable[[int], float] | None = None) -> tuple[int, str]:
    """The fastest chunk of at most ``most`` trials for this model on these devices: read
    from the cache, or measured now (and cached). Returns (chunk, how it was chosen)."""
    key = model_key(program, devices)
    cached = _read_cache().get(key)
    if cached is not None and cached.get("most", 0) >= min(most, cached["chunk"]):
        chunk = min(int(cached["chunk"]), most)
        return chunk, f"calibrated on {devices[0].platform}: {chunk} trials a call (cached)"
    n_dev = len(devices)
    candidates = [k for k in (2**i * n_dev for i in range(12)) if k <= max(most, n_dev)]
    log.info(f"measuring the fastest chunk for this model on {devices[0].platform} (once; "
             f"cached in {records.cache_dir() / CACHE_FILE}): {len(candidates)} sizes at most")
    measure = measure or (lambda k: epoch_seconds(program, values, seeds, data, k))
    chunk, seconds = fastest_chunk(candidates, measure)
    _remember(key, {"chunk": chunk, "most": most, "platform": devices[0].platform,
                    "seconds_per_trial_epoch": {str(k): s for k, s in seconds.items()}})
    table = ", ".join(f"{k}: {s * 1e3:.3g}" for k, s in seconds.items())
    return chunk, f"calibrated on {devices[0].platform}: {chunk} trials a call (ms a " \
                  f"trial-epoch by trials a call: {table})"
