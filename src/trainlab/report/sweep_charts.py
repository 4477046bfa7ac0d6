"""The figures of a sweep's page, one function each, from ``sweep_data``'s tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from trainlab.report import charts
from trainlab.report.sweep_data import Curves, pbt_hyperparameters


def _finished(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[np.isfinite(pd.to_numeric(frame["objective"], errors="coerce"))]


def _not_shown(frame: pd.DataFrame, shown: pd.DataFrame) -> str:
    missing = len(frame) - len(shown)
    return f" ({missing} diverged or unfinished not shown)" if missing else ""


def objective_against(frame: pd.DataFrame, key: str, log: bool, objective: str) -> go.Figure:
    """The objective of every finished job against one swept hyperparameter."""
    shown = _finished(frame)
    numeric = pd.api.types.is_numeric_dtype(frame[key]) and frame[key].dtype != bool
    x = shown[key] if numeric else shown[key].astype(str)
    fig = charts.figure(height=340, title=dict(text=f"{key}{_not_shown(frame, shown)}",
                                               font=dict(size=14)))
    fig.add_trace(go.Scatter(
        x=x, y=shown["objective"], mode="markers", customdata=shown["job"].astype(str),
        meta=charts.JOB_POINTS, marker=dict(size=9, color=charts.color(0, 0.75),
                                            line=dict(width=1, color="white")),
        hovertemplate="%{text}<extra></extra>"))
    fig.update_xaxes(title=key + (" (log)" if log else ""), type="log" if log else None)
    fig.update_yaxes(title=objective, type="log" if charts.wide_range(shown["objective"])
                     else None)
    if not numeric:
        fig.update_xaxes(type="category")
    return fig


def learning_curves(curves: list[Curves], objective: str) -> go.Figure:
    """The top entries' loss (validation solid, training dotted) and validation accuracy by
    epoch; with several seeds, the mean and the band from the lowest to the highest seed."""
    has_acc = any(c.table["val_acc"].notna().any() for c in curves if "val_acc" in c.table)
    titles = ["loss: validation (solid), training (dotted)"]
    titles += ["validation accuracy"] if has_acc else []
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles,
                        horizontal_spacing=0.08)
    fig.update_layout(template="none", height=420, margin=dict(l=60, r=20, t=40, b=50),
                      hovermode="closest", legend=dict(font=dict(size=11)))
    for i, entry in enumerate(curves):
        best = entry.jobs[0]
        charts.add_band_curve(fig, entry.table, "val_loss", name=entry.label, index=i,
                              row=1, col=1, job=best)
        charts.add_band_curve(fig, entry.table, "train_loss", name=entry.label, index=i,
                              row=1, col=1, dash="dot", job=best, legend=False)
        if has_acc:
            charts.add_band_curve(fig, entry.table, "val_acc", name=entry.label, index=i,
                                  row=1, col=2, job=best, legend=False)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="loss", row=1, col=1)
    if has_acc:
        fig.update_yaxes(title="accuracy", tickformat=".0%", row=1, col=2)
    return fig


def _log_ticks(values: np.ndarray) -> dict:
    low, high = math.floor(np.nanmin(values)), math.ceil(np.nanmax(values))
    ticks = list(range(low, high + 1))
    return {"tickvals": ticks, "ticktext": [f"1e{t}" for t in ticks]}


def parallel_coordinates(frame: pd.DataFrame, hyperparameters: list[str], log_keys: set[str],
                         objective: str) -> go.Figure:
    """One axis per swept hyperparameter (log ones in decades, categories by name) and the
    objective last; each finished job is a line, coloured by its objective (bright: best).
    Dragging along an axis keeps the lines in that range."""
    shown = _finished(frame)
    dimensions = []
    for key in hyperparameters:
        column = shown[key]
        if pd.api.types.is_numeric_dtype(column) and column.dtype != bool:
            values = column.to_numpy(float)
            if key in log_keys:
                values = np.log10(values)
                dimensions.append(dict(label=key, values=values, **_log_ticks(values)))
            else:
                dimensions.append(dict(label=key, values=values))
        else:
            names = sorted(column.astype(str).unique())
            codes = column.astype(str).map({n: i for i, n in enumerate(names)})
            dimensions.append(dict(label=key, values=codes, tickvals=list(range(len(names))),
                                   ticktext=names))
    dimensions.append(dict(label=objective, values=shown["objective"].to_numpy(float)))
    fig = charts.figure(height=420, margin=dict(l=80, r=80, t=60, b=30),
                        title=dict(text=_not_shown(frame, shown).strip(" ()"),
                                   font=dict(size=12)))
    fig.add_trace(go.Parcoords(
        dimensions=dimensions,
        line=dict(color=shown["objective"].to_numpy(float), colorscale="Viridis",
                  reversescale=True, showscale=True, colorbar=dict(title=objective))))
    return fig


def rungs(frame: pd.DataFrame, objective: str) -> go.Figure:
    """Successive halving: how many jobs reached each rung, and their objectives there."""
    reached = frame["rung"].dropna().astype(int)
    counts = reached.value_counts().sort_index()
    shown = _finished(frame[frame["rung"].notna()])
    fig = make_subplots(rows=1, cols=2, subplot_titles=["jobs that reached each rung",
                                                        f"{objective} by the rung reached"],
                        horizontal_spacing=0.1)
    fig.update_layout(template="none", height=360, margin=dict(l=60, r=20, t=40, b=50),
                      hovermode="closest", showlegend=False)
    fig.add_trace(go.Bar(x=counts.index, y=counts.to_numpy(), marker_color=charts.color(0),
                         hovertemplate="rung %{x}: %{y} jobs<extra></extra>"), row=1, col=1)
    spread = np.random.default_rng(0).uniform(-0.15, 0.15, len(shown))  # apart, not on a line
    fig.add_trace(go.Scatter(
        x=shown["rung"].astype(int) + spread, y=shown["objective"], mode="markers",
        customdata=shown["job"].astype(str), meta=charts.JOB_POINTS,
        marker=dict(size=8, color=charts.color(1, 0.75)), hovertemplate="%{text}<extra></extra>"),
        row=1, col=2)
    fig.update_xaxes(title="rung", dtick=1)
    fig.update_yaxes(title="jobs", row=1, col=1)
    fig.update_yaxes(title=objective, row=1, col=2)
    return fig


def pbt_lineage(pbt: pd.DataFrame, objective: str) -> go.Figure:
    """Population-based training: each member's objective by interval, a line from the member
    it continued (grey: itself; red, dashed: it copied a better member's weights)."""
    at = {(r.member, r.interval): r.objective for r in pbt.itertuples()}
    kept_x, kept_y, copied_x, copied_y = [], [], [], []
    for r in pbt.itertuples():
        start = at.get((r.parent, r.interval - 1))
        if start is None:
            continue
        xs, ys = (kept_x, kept_y) if r.parent == r.member else (copied_x, copied_y)
        xs += [r.interval - 1, r.interval, None]
        ys += [start, r.objective, None]
    fig = charts.figure(height=420, legend=dict(orientation="h", y=1.08))
    fig.add_trace(go.Scatter(x=kept_x, y=kept_y, mode="lines", name="kept its weights",
                             line=dict(color="rgba(120,120,120,0.5)", width=1),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=copied_x, y=copied_y, mode="lines", name="copied a member",
                             line=dict(color="rgba(214,39,40,0.8)", width=1.5, dash="dash"),
                             hoverinfo="skip"))
    hps = pbt_hyperparameters(pbt)
    text = [f"member {r['member']}, interval {r['interval']}, parent {r['parent']}<br>"
            + "<br>".join(f"{k}={_fmt(r[k])}" for k in hps)
            + f"<br>{objective}={_fmt(r['objective'])}" for _, r in pbt.iterrows()]
    fig.add_trace(go.Scatter(
        x=pbt["interval"], y=pbt["objective"], mode="markers", name="member",
        text=text, hovertemplate="%{text}<extra></extra>", customdata=pbt["member"].astype(str),
        marker=dict(size=8, color=pbt["member"].astype("category").cat.codes,
                    colorscale="Turbo", line=dict(width=1, color="white"))))
    fig.update_xaxes(title="interval", dtick=1)
    fig.update_yaxes(title=objective)
    return fig


def pbt_values(pbt: pd.DataFrame) -> go.Figure:
    """Each member's hyperparameters by interval (what explore did to them)."""
    hps = pbt_hyperparameters(pbt)
    fig = make_subplots(rows=1, cols=max(len(hps), 1), subplot_titles=hps or ["(none)"])
    fig.update_layout(template="none", height=340, margin=dict(l=60, r=20, t=40, b=50),
                      hovermode="closest", showlegend=False)
    for col, key in enumerate(hps, start=1):
        for i, (member, rows) in enumerate(pbt.groupby("member", sort=True)):
            fig.add_trace(go.Scatter(
                x=rows["interval"], y=rows[key], mode="lines+markers", line_shape="hv",
                line=dict(color=charts.color(i, 0.7)), marker=dict(size=5),
                hovertemplate=f"member {member}<br>interval %{{x}}<br>{key}=%{{y:.4g}}"
                              "<extra></extra>"), row=1, col=col)
        if pd.api.types.is_numeric_dtype(pbt[key]) and charts.wide_range(pbt[key]):
            fig.update_yaxes(type="log", row=1, col=col)
    fig.update_xaxes(title="interval", dtick=1)
    return fig


def job_curves(table: pd.DataFrame) -> go.Figure:
    """One job's loss and accuracy by epoch (the job section of a top-k job)."""
    has_acc = "val_acc" in table and table["val_acc"].notna().any()
    fig = make_subplots(rows=1, cols=2 if has_acc else 1,
                        subplot_titles=["loss", "accuracy"] if has_acc else ["loss"])
    fig.update_layout(template="none", height=300, margin=dict(l=50, r=10, t=40, b=40),
                      hovermode="closest", legend=dict(orientation="h", y=-0.25))
    for i, column in enumerate(("train_loss", "val_loss")):
        charts.add_band_curve(fig, table, column, name=column, index=i, row=1, col=1)
    if has_acc:
        for i, column in enumerate(("train_acc", "val_acc")):
            charts.add_band_curve(fig, table, column, name=column, index=i, row=1, col=2,
                                  legend=False, group=column.replace("acc", "loss"))
        fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_xaxes(title="epoch")
    return fig


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)
