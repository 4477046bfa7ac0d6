"""Each activation function and its derivative (lectures 000 and 001).

Trains nothing: f is trainlab's own activation on a grid of pre-activations z, and f' its
autodiff derivative, so the plot shows exactly what the networks compute. The check compares
f' with a centred finite difference of the plotted f, except where the difference's two ends
lie on two sides of a kink (the activation's own ``kinks``: there f has no derivative).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check

FAMOUS = {"sigmoid": 0.25, "tanh": 1.0}  # max of the derivative, at z = 0


def _affine(a: float, b: float) -> str:
    slope = {1.0: "z", -1.0: "-z", 0.0: ""}.get(float(a), f"{a:g}z")
    return (slope + (f"{b:+g}" if b else "")) or "0"


def _label(cfg, pieces: np.ndarray) -> str:
    name = cfg.name.replace("_", " ")
    if cfg.pieces > 1:
        return f"{name}: max(" + ", ".join(_affine(a, b) for a, b in pieces) + ")"
    if hasattr(cfg, "alpha"):
        return f"{name} (alpha={cfg.alpha:g})"
    return name


def _pre(cfg, pieces: np.ndarray, z):
    """The one-unit layer's pre-activations for input z: z itself, or for maxout its pieces'
    affine functions of z."""
    if cfg.pieces > 1:
        return jnp.asarray(pieces[:, 0]) * z + jnp.asarray(pieces[:, 1])
    return z[None]


def _function(cfg, pieces: np.ndarray):
    """z -> f(z) for one scalar z, through trainlab's activation of a one-unit layer."""
    layer = cfg.params(1, jnp.float32)
    return lambda z: cfg(_pre(cfg, pieces, z)[None, :], layer)[0, 0]


def _sides(cfg, pieces: np.ndarray, z: jax.Array) -> np.ndarray:
    """The kink side each z is on (the activation's own ``kinks``: ReLU's sign, maxout's
    winning piece) as an integer; 0 everywhere for a smooth activation."""
    codes = cfg.kinks(jax.vmap(lambda v: _pre(cfg, pieces, v))(z))  # (points, 1) or None
    if codes is None:
        return np.zeros(z.shape, np.int64)
    return np.asarray(codes).reshape(z.shape[0]).astype(np.int64)


def table(runs, options) -> pd.DataFrame:
    z = np.linspace(options["z_min"], options["z_max"], options["points"], dtype=np.float32)
    pieces = np.asarray(options["maxout_pieces"], np.float32)
    frames = []
    for run in runs:
        f = _function(run.cfg.activation, pieces)
        value = jax.vmap(f)(jnp.asarray(z))
        slope = jax.vmap(jax.grad(f))(jnp.asarray(z))
        frames.append(pd.DataFrame({
            "activation": _label(run.cfg.activation, pieces), "z": z,
            "f": np.asarray(value), "df": np.asarray(slope),
            "kink_side": _sides(run.cfg.activation, pieces, jnp.asarray(z)),
        }))
    return pd.concat(frames, ignore_index=True)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    rows = []
    for name, part in table.groupby("activation", sort=False):
        at0 = part.iloc[(part.z.abs()).argmin()]
        rows.append({"activation": name, "f min": part.f.min(), "f max": part.f.max(),
                     "f' min": part.df.min(), "f' max": part.df.max(), "f'(0)": at0.df})
    return pd.DataFrame(rows)


def finite_differences(table: pd.DataFrame) -> pd.DataFrame:
    """Per activation and interior grid point: the centred difference (f(z+h) - f(z-h)) / 2h
    of the plotted f beside its f', and whether the stencil z-h..z+h crosses a kink (where the
    difference says nothing of the derivative)."""
    frames = []
    for name, part in table.groupby("activation", sort=False):
        z, f, side = part.z.to_numpy(), part.f.to_numpy(np.float64), part.kink_side.to_numpy()
        fd = (f[2:] - f[:-2]) / (z[2:] - z[:-2])
        crosses = (side[2:] != side[:-2]) | (side[1:-1] != side[2:])
        frames.append(pd.DataFrame({"activation": name, "z": z[1:-1], "df": part.df.iloc[1:-1],
                                    "fd": fd, "kink": crosses}))
    out = pd.concat(frames, ignore_index=True)
    out["error"] = (out.df - out.fd).abs()
    return out


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    checks = []
    for name, expected in FAMOUS.items():
        top = table[table.activation == name].df.max()
        checks.append(Check(f"{name}' max = {expected:g}", abs(top - expected) < 1e-4,
                            f"{top:.6f}"))
    tol = float(options["fd_tolerance"])
    fd = finite_differences(table)
    smooth = fd[~fd.kink]
    worst = smooth.groupby("activation", sort=False).error.max()
    kinks = fd.groupby("activation", sort=False).kink.sum()
    bad = worst[~(worst < tol)]  # NaN counts as a failure
    h = float(np.diff(table.z.iloc[:2]).item())
    checks.append(Check(
        f"f' (autodiff) is the derivative of the plotted f: within {tol:g} of the centred "
        f"finite difference (f(z+h) - f(z-h)) / 2h, h = {h:.3g}, at every grid point whose "
        "stencil crosses no kink, in every panel",
        bool(len(worst) and worst.notna().all() and not len(bad)),
        f"worst {worst.max():.1e} ({worst.idxmax()}); "
        + (", ".join(f"{n}: {e:.1e}" for n, e in bad.items()) + " fail; " if len(bad) else "")
        + f"{len(worst)} activations, {len(smooth)} points; skipped at kinks: "
        + ", ".join(f"{n} {int(k)}" for n, k in kinks.items() if k)))
    return checks


def draw(table: pd.DataFrame, options: dict):
    names = list(dict.fromkeys(table.activation))
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        part = table[table.activation == name]
        ax.axhline(0, color="0.8", lw=0.8)
        ax.axvline(0, color="0.8", lw=0.8)
        ax.plot(part.z, part.f, color="C0", lw=2, label="f(z)")
        ax.plot(part.z, part.df, color="C3", lw=1.5, ls="--", label="f'(z)")
        ax.set_title(name)
        ax.set_xlabel("pre-activation z")
        if ax.get_subplotspec().is_first_col():
            ax.set_ylabel("f(z), f'(z)")
        ax.set_ylim(-1.6, 4.1 if part.f.max() > 1.5 else 1.6)
        ax.grid(alpha=0.3)
        if name == "sigmoid":
            ax.annotate("max f' = 0.25", (0, 0.25), (0.8, -0.9), fontsize=9,
                        arrowprops={"arrowstyle": "->", "color": "C3"})
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    axes[0, 0].legend(loc="upper left")
    fig.suptitle("Activation functions f (solid) and their derivatives f' (dashed)",
                 fontsize=14)
    fig.tight_layout()
    return fig
