"""Small drawing helpers the figures share."""

from __future__ import annotations

import pandas as pd


def band(ax, frame: pd.DataFrame, x: str, y: str, *, color, label=None, **line) -> None:
    """Mean over seeds as a line, min..max over seeds as a shaded band (when seeds > 1)."""
    stats = frame.groupby(x)[y].agg(["mean", "min", "max", "count"])
    ax.plot(stats.index, stats["mean"], color=color, label=label, **line)
    if (stats["count"] > 1).any():
        ax.fill_between(stats.index, stats["min"], stats["max"], color=color, alpha=0.2, lw=0)


def plain_log_y(ax) -> None:
    """Log y axis labelled 0.2, 0.5, 1, 2 rather than 2x10^-1 (losses span a decade or two)."""
    from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter

    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())
