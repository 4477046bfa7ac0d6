"""Small drawing helpers the figures share."""

from __future__ import annotations

import pandas as pd


def band(ax, frame: pd.DataFrame, x: str, y: str, *, color, label=None, **line) -> None:
    """Mean over seeds as a line, min..max over seeds as a shaded band (when seeds > 1)."""
    stats = frame.groupby(x)[y].agg(["mean", "min", "max", "count"])
    ax.plot(stats.index, stats["mean"], color=color, label=label, **line)
    if (stats["count"] > 1).any():
        ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.2, lw=0)
