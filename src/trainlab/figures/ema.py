"""Exponential moving averages of a noisy temperature series, with and without bias
correction (lecture 004), computed by trainlab's momentum optimizer in its EMA form."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check


def series(options) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Days of the year from the first day on, the seasonal trend and the noisy observations
    (degrees C)."""
    day = options["first_day"] + np.arange(options["days"])
    trend = options["mean_c"] - options["amplitude_c"] * np.cos(2 * np.pi * (day - 15) / 365)
    noise = np.random.default_rng(options["seed"]).normal(0, options["noise_c"], day.size)
    return day, trend, trend + noise


def moving_average(cfg, theta: np.ndarray) -> np.ndarray:
    """v_1..v_N: the series fed as gradients to the configured optimizer (momentum, EMA form,
    lr 1), whose update is -lr * u_t: the moving average, straight from trainlab's optax."""
    tx = cfg.optimizer.make(cfg.schedule.make(cfg.optimizer.lr, 1, len(theta)))
    params = {"v": jnp.zeros((), jnp.float32)}

    def step(state, value):
        updates, state = tx.update({"v": value}, state, params)
        return state, -updates["v"] / cfg.optimizer.lr

    _, v = jax.lax.scan(step, tx.init(params), jnp.asarray(theta, jnp.float32))
    return np.asarray(v, np.float64)


def table(runs, options) -> pd.DataFrame:
    day, trend, theta = series(options)
    t = np.arange(1, day.size + 1)  # the EMA's step count, for its bias correction
    frames = []
    for run in runs:
        beta = run.cfg.optimizer.momentum
        v = moving_average(run.cfg, theta)
        # the same average of the noise-free trend: the EMA is linear, so this is the part
        # of the curve that v_0 = 0 (and the lag) make, without the noise's luck
        clean = moving_average(run.cfg, trend)
        frames.append(pd.DataFrame({
            "beta": beta, "day": day, "t": t, "temperature": theta, "trend": trend, "ema": v,
            "ema_corrected": v / (1 - beta ** t), "trend_ema": clean,
            "trend_ema_corrected": clean / (1 - beta ** t),
        }))
    return pd.concat(frames, ignore_index=True)


def _startup(part: pd.DataFrame) -> pd.DataFrame:
    """The first 1/(1 - beta) days: the window the average spans, where v_0 = 0 weighs."""
    beta = part.beta.iloc[0]
    return part[part.t <= max(2, round(1 / (1 - beta)))]


def summary(table: pd.DataFrame) -> pd.DataFrame:
    noise = float((table.temperature - table.trend).std())
    rows = []
    for beta, part in table.groupby("beta"):
        start = _startup(part)
        settled = part[part.t > 3 / (1 - beta)]  # start-up weight beta^t below 5%
        rows.append({
            "beta": beta, "days averaged ~1/(1-beta)": 1 / (1 - beta),
            "start-up days": len(start),
            "dip: max (trend - ema) / trend": float(((start.trend - start.ema)
                                                     / start.trend).max()),
            "corrected: max |ema - trend| (C)": float((start.ema_corrected
                                                       - start.trend).abs().max()),
            "noise std (C)": noise,
            "trend fed, corrected: start-up error (C)": float(
                (start.trend_ema_corrected - start.trend).abs().max()),
            "trend fed, corrected: settled lag (C)": float(
                (settled.trend_ema_corrected - settled.trend).abs().max()),
            "roughness: std of daily change (C)": float(settled.ema_corrected.diff().std()),
        })
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return summary(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    s = summary(table).set_index("beta")
    noise = s["noise std (C)"].iloc[0]
    dips = s["dip: max (trend - ema) / trend"]
    errors = s["corrected: max |ema - trend| (C)"]
    start_error = s["trend fed, corrected: start-up error (C)"]
    lag = s["trend fed, corrected: settled lag (C)"]
    rough = s["roughness: std of daily change (C)"]
    return [
        Check("uncorrected EMA dips at start-up (starts from v_0 = 0)",
              bool((dips > 0.4).all()),
              ", ".join(f"beta={b:g}: {d:.0%} below the trend" for b, d in dips.items())),
        Check("bias-corrected EMA has no start-up dip: fed the noise-free trend, its largest "
              "error in the first 1/(1 - beta) days is no larger than its lag once settled "
              "(t > 3/(1 - beta))", bool((start_error <= lag).all()),
              ", ".join(f"beta={b:g}: {e:.2f} vs {g:.2f} C" for b, e, g in
                        zip(start_error.index, start_error, lag, strict=True))
              + "; on the noisy data, largest start-up error "
              + ", ".join(f"{e:.2f}" for e in errors) + f" C (noise std {noise:.2f} C)"),
        Check("beta=0.98 smoothest", rough.idxmin() == 0.98,
              ", ".join(f"beta={b:g}: {r:.3f} C/day" for b, r in rough.items())),
    ]


def draw(table: pd.DataFrame, options: dict):
    betas = sorted(table.beta.unique())
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [2, 1]})
    first = table[table.beta == betas[0]]
    for ax in axes:
        ax.plot(first.t, first.temperature, ".", color="0.55", ms=3.5,
                label="daily temperature")
        ax.plot(first.t, first.trend, color="0.3", lw=1, ls=":", label="seasonal trend")
    for i, beta in enumerate(betas):
        part = table[table.beta == beta]
        for ax in axes:
            ax.plot(part.t, part.ema_corrected, color=f"C{i}", lw=1.8,
                    label=f"beta={beta:g} (averages ~{1 / (1 - beta):.0f} days)")
            ax.plot(part.t, part.ema, color=f"C{i}", lw=1.2, ls="--")
    axes[0].plot([], [], color="k", ls="--", lw=1.2, label="dashed: same beta, no bias correction")
    xlabel = f"day t (t = 1 is day {first.day.iloc[0]} of the year)"
    window = first[first.t <= 60]
    axes[0].set(title="Exponential moving averages (solid: bias-corrected v_t / (1 - beta^t))",
                xlabel=xlabel, ylabel="temperature (°C)")
    axes[1].set(title="First 60 days: v_0 = 0 makes the plain EMA dip",
                xlabel=xlabel, ylabel="temperature (°C)", xlim=(0, 60),
                ylim=(-1, window.temperature.max() + 1))
    axes[0].legend(fontsize=8, loc="upper right")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
