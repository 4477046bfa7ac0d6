"""Where a long piece of work spent its time: seconds added up by phase."""

from __future__ import annotations

import contextlib
import time


@contextlib.contextmanager
def timed(seconds: dict[str, float], phase: str):
    """Add the time the ``with`` block takes to ``seconds[phase]`` (from 0 if absent)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        seconds[phase] = seconds.get(phase, 0.0) + time.perf_counter() - start
