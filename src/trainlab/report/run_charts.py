"""The figures of a run's page, from its ``metrics.csv``: every column is in one of them.

- curves: loss (training, validation, and the training objective with its penalty),
  accuracy, learning rate;
- diagnostics: one panel per statistic of the ``<stat>/<layer>`` columns, a line per layer;
- the other run-level columns (step, time, generalization gaps, averaged weights...).

With several seeds each line is their mean and the band spans them, min to max.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trainlab.report import charts

NOT_PLOTTED = ("seed", "epoch")
CURVES = {
    "loss": ("train_loss", "val_loss", "train_objective"),
    "accuracy": ("train_acc", "val_acc"),
    "learning rate": ("lr",),
}
DASHED = ("train_objective",)  # equal to train_loss without a penalty: drawn over it


def _present(table: pd.DataFrame, columns) -> list[str]:
    return [c for c in columns if c in table and table[c].notna().any()]


def layer_columns(table: pd.DataFrame) -> dict[str, list[str]]:
    """``<stat>/<layer>`` columns by statistic, in table order, layers by number."""
    stats: dict[str, list[str]] = {}
    for column in _present(table, [c for c in table.columns if "/" in c]):
        stats.setdefault(column.split("/", 1)[0], []).append(column)
    order = lambda c: (0, int(c.rsplit("/", 1)[1])) if c.rsplit("/", 1)[1].isdigit() \
        else (1, c)  # noqa: E731
    return {stat: sorted(columns, key=order) for stat, columns in stats.items()}


def other_columns(table: pd.DataFrame) -> list[str]:
    """The columns in neither the curves nor the diagnostics."""
    curves = {c for columns in CURVES.values() for c in columns}
    return _present(table, [c for c in table.columns
                            if c not in NOT_PLOTTED and c not in curves and "/" not in c])


def _grid(panels: dict[str, list[tuple[str, str]]], table: pd.DataFrame, cols: int = 3,
          panel_height: int = 250, legend: bool = False) -> go.Figure:
    """Small multiples: a panel per title, a line per (column, name) in it. With ``legend``,
    one entry per name: the lines of one name (a layer) in every panel show and hide
    together. A panel of positive values over two decades, or of a constant positive one
    (a learning rate), has a log axis."""
    titles = list(panels)
    rows = max(1, math.ceil(len(titles) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.07,
                        vertical_spacing=min(0.12, 0.5 / rows))
    fig.update_layout(template="none", height=panel_height * rows + 60,
                      margin=dict(l=50, r=20, t=40, b=40), hovermode="closest",
                      showlegend=legend)
    named: set[str] = set()
    for n, title in enumerate(titles):
        row, col = n // cols + 1, n % cols + 1
        for i, (column, name) in enumerate(panels[title]):
            charts.add_band_curve(fig, table, column, name=name, index=i, row=row, col=col,
                                  legend=legend and name not in named, group=name,
                                  dash="dash" if column in DASHED else "solid")
            named.add(name)
        values = table[[c for c, _ in panels[title]]].to_numpy(float).ravel()
        if charts.wide_range(values) or _constant_positive(values):
            fig.update_yaxes(type="log", row=row, col=col)
        fig.update_xaxes(title="epoch" if row == rows else None, row=row, col=col)
    return fig


def _constant_positive(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    return len(finite) > 0 and finite.min() > 0 and finite.min() == finite.max()


def curves(table: pd.DataFrame) -> go.Figure:
    panels = {title: [(c, c) for c in _present(table, columns)]
              for title, columns in CURVES.items()}
    return _grid({t: p for t, p in panels.items() if p}, table, panel_height=320, legend=True)


def diagnostics(table: pd.DataFrame) -> go.Figure:
    """Every ``<stat>/<layer>`` column: a panel per statistic, the line of layer k named k."""
    panels = {stat: [(c, f"layer {c.rsplit('/', 1)[1]}") for c in columns]
              for stat, columns in layer_columns(table).items()}
    return _grid(panels, table, legend=True)


def others(table: pd.DataFrame) -> go.Figure:
    return _grid({c: [(c, c)] for c in other_columns(table)}, table, cols=4, panel_height=220)
