"""Per-layer signals of how a network trains, computed inside the compiled program."""

from __future__ import annotations


def epoch_diagnostics(cfg, net, probe, forward) -> dict:
    """Columns ``<stat>/<layer>`` for one epoch's row of metrics.csv (filled by issue 3)."""
    return {}
