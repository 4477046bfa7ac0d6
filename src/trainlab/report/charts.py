"""Plotly pieces the report's figures share: a curve with its seed band, the colours, the
layout every figure starts from, and the marks the page's script looks for.

Points that stand for a job carry the job's name as ``customdata`` and ``meta="jobs"``: the page
fills their hover text from its one copy of the job table (so 2000 jobs' overrides are not
repeated in every figure) and opens the job's section when one is clicked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

COLORS = qualitative.Plotly + qualitative.D3
JOB_POINTS = "jobs"  # meta of the traces whose points are jobs


def color(i: int, alpha: float = 1.0) -> str:
    """The i-th colour of the palette, with opacity ``alpha``."""
    hex_ = COLORS[i % len(COLORS)].lstrip("#")
    r, g, b = (int(hex_[j:j + 2], 16) for j in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def figure(height: int = 360, **layout) -> go.Figure:
    """An empty figure with the report's layout; the page adds its template."""
    fig = go.Figure()
    fig.update_layout(**{"template": "none", "height": height, "hovermode": "closest",
                         "margin": dict(l=60, r=20, t=40, b=50), **layout})
    return fig


def seed_band(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per epoch: the mean of ``column`` over the rows (seeds, jobs), its min, max and how many
    finite values there were; epochs with none are left out. (numpy: a report draws hundreds
    of these, and pandas' groupby costs milliseconds each.)"""
    epoch = table["epoch"].to_numpy()
    value = table[column].to_numpy(float)
    if len(epoch) == 0:
        return pd.DataFrame(columns=["epoch", "mean", "min", "max", "count"])
    order = np.argsort(epoch, kind="stable")
    epoch, value = epoch[order], value[order]
    finite = np.isfinite(value)
    epochs, starts = np.unique(epoch, return_index=True)
    count = np.add.reduceat(finite.astype(int), starts)
    total = np.add.reduceat(np.where(finite, value, 0.0), starts)
    low = np.minimum.reduceat(np.where(finite, value, np.inf), starts)
    high = np.maximum.reduceat(np.where(finite, value, -np.inf), starts)
    keep = count > 0
    return pd.DataFrame({"epoch": epochs[keep], "mean": total[keep] / count[keep],
                         "min": low[keep], "max": high[keep], "count": count[keep]})


def add_band_curve(fig: go.Figure, table: pd.DataFrame, column: str, *, name: str, index: int,
                   row: int | None = None, col: int | None = None, dash: str = "solid",
                   job: str | None = None, legend: bool = True, group: str | None = None
                   ) -> None:
    """The mean of ``column`` by epoch as a line, and, over several seeds, the band from
    their min to their max. A ``job`` makes the line's points open that job."""
    stats = seed_band(table, column)
    if stats.empty:
        return
    where = {} if row is None else {"row": row, "col": col}
    group = group or name
    n = int(stats["count"].max())
    if n > 1:
        fig.add_trace(go.Scatter(
            x=np.concatenate([stats["epoch"], stats["epoch"][::-1]]),
            y=np.concatenate([stats["max"], stats["min"][::-1]]),
            fill="toself", fillcolor=color(index, 0.15), line=dict(width=0), mode="lines",
            hoverinfo="skip", showlegend=False, legendgroup=group), **where)
    extra = {}
    if job is not None:
        extra = {"customdata": [job] * len(stats), "meta": JOB_POINTS}
    fig.add_trace(go.Scatter(
        x=stats["epoch"], y=stats["mean"], mode="lines", name=name, legendgroup=group,
        showlegend=legend, line=dict(color=color(index), dash=dash, width=2),
        hovertemplate=f"{name}<br>epoch %{{x}}<br>{column} %{{y:.4g}}"
                      + (f" (mean of {n})" if n > 1 else "") + "<extra></extra>",
        **extra), **where)


def wide_range(values: pd.Series | np.ndarray) -> bool:
    """Positive values spanning more than two decades: a log axis shows them better."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return len(v) > 1 and v.min() > 0 and v.max() / v.min() > 100
