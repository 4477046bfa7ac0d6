"""What the 2-D surface figures (gd-lr, momentum, rosenbrock) share: the trajectories table
and the drawing of a trajectory over the surface's contours."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pandas as pd

from trainlab import surfaces
from trainlab.datasets import Surface
from trainlab.figures.common import runs_table


def trajectories(runs) -> pd.DataFrame:
    """One row per run and step: the point (x, y), the loss f(x, y), the distance to the
    minimum; NaN once a run diverged (trainlab freezes it and reports NaN)."""
    # One step per epoch on a surface; "step" stops counting when a run diverges, epoch does not.
    frame = runs_table(runs).drop(columns="step").rename(
        columns={"epoch": "step", "train_x": "x", "train_y": "y", "train_loss": "loss"})
    frame["optimizer"] = frame.arm
    mins = {run.arm: np.asarray(surfaces.minimum(run.cfg.data)) for run in runs}
    target = np.stack([mins[a] for a in frame.arm])
    frame["distance"] = np.hypot(frame.x - target[:, 0], frame.y - target[:, 1])
    surface = runs[0].cfg.data
    frame["surface"] = surface.function
    frame["b"] = surface.b
    keep = ["surface", "b", "optimizer", *runs[0].values, "step", "x", "y", "loss", "distance"]
    return frame[keep]


def contours(ax, table: pd.DataFrame, xlim, ylim, levels) -> None:
    """The surface's level sets, from trainlab's own surface function."""
    cfg = Surface(function=table.surface.iloc[0], b=float(table.b.iloc[0]))
    gx, gy = np.meshgrid(np.linspace(*xlim, 200), np.linspace(*ylim, 200))
    f = np.asarray(surfaces.value(cfg, jnp.stack([jnp.asarray(gx), jnp.asarray(gy)])))
    ax.contour(gx, gy, f, levels=levels, colors="0.7", linewidths=0.7)
    minimum = np.asarray(surfaces.minimum(cfg))
    ax.plot(*minimum, marker="*", color="k", ms=10, zorder=5)
    ax.set(xlim=xlim, ylim=ylim, xlabel="x", ylabel="y")


def path(ax, part: pd.DataFrame, **style) -> None:
    """A trajectory as points joined by lines, its start marked."""
    ax.plot(part.x, part.y, marker=".", ms=3, lw=0.9, **style)
    ax.plot(part.x.iloc[0], part.y.iloc[0], "o", color="k", ms=4)
