"""The verdict on a finished run's curves (lecture 001, "Monitor and visualize the loss curve /
the accuracy"; lecture 004, "What to do if..."), as pure functions of its metrics table.

Every function takes a run's metrics.csv as a DataFrame (several seeds allowed) and returns
numbers or a Finding; nothing here reads files, so a figure can reuse the pieces:

    live_rows(metrics)            each seed's rows up to where it stopped (early stopping
                                  repeats the last row; a diverged seed's rows are NaN)
    mean_curves(metrics)          one row per epoch, the mean over seeds
    generalization_gap(metrics)   per epoch: train and val loss, gap_loss = val - train,
                                  gap_acc = train_acc - val_acc (the issue's ``gap`` figure
                                  can plot this directly)
    val_turn(metrics)             where the validation loss turned: its minimum and the rise
                                  after it
    verdicts(metrics, summary, config)   every verdict below, one Finding each

The verdicts: lr too high (divergence, the loss going up, oscillation), lr too low (a slow,
nearly linear decrease), a plateau, overfitting (the gap, where val loss turned), underfitting
(no gap, a high loss that has stopped falling), dead units growing, early stopping too early
or too late. A finding that detects nothing says PASS with its numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainlab.doctor.findings import FAIL, PASS, SKIP, WARN, Finding, fmt

GAVE_BACK = 0.25  # lr too high: the train loss rose again by a quarter of its progress
OSCILLATION_SHARE, OSCILLATION_RISE = 0.3, 0.02  # rose in 30% of the epochs, by 2% or more
CRAWL_R2, CRAWL_SLOWDOWN = 0.97, 0.5  # linear fit; last quarter's slope over the first's
FLAT = 0.01  # a plateau: the train loss within 1% of its initial value over the stretch
PLATEAU_MIN = 0.2  # ...for at least 20% of the epochs (and 5 epochs)
PLATEAU_DROP = 0.1  # ...followed by a fall of 10% of the initial loss: a saddle
TURN = 0.05  # overfitting: the val loss 5% above its minimum at the end
BIG_GAP = 0.3  # or the gap is 30% of the val loss
BIG_ACC_GAP = 0.10  # or 10 accuracy points
UNDERFIT_LOSS = 0.3  # underfitting: the train loss still above 30% of its initial value
SMALL_GAP = 0.1  # with a gap below 10% of the train loss
DONE = 0.1  # ...and less than 10% of its fall in the last quarter: more epochs won't help
DEAD_RISE = 0.10  # dead units: 10 points more than at init
LATE = 0.25  # early stopping: a quarter of the run spent past the best epoch


# ------------------------------------------------------------------------------ curves
def live_rows(metrics: pd.DataFrame) -> pd.DataFrame:
    """Each seed's rows up to its last optimizer step: early stopping keeps writing the
    stopped epoch's row, which is not training."""
    def alive(part: pd.DataFrame) -> pd.DataFrame:
        last_step = part["step"].max()
        stop = part.loc[part["step"] == last_step, "epoch"].min()
        return part[part.epoch <= stop]

    if "step" not in metrics:
        return metrics
    return pd.concat([alive(p) for _, p in metrics.groupby("seed")], ignore_index=True)


def mean_curves(metrics: pd.DataFrame) -> pd.DataFrame:
    """One row per epoch: the mean over the seeds still training then (NaN where none is:
    diverged seeds' rows are NaN)."""
    rows = live_rows(metrics).replace([np.inf, -np.inf], np.nan)
    return rows.groupby("epoch").mean(numeric_only=True).drop(columns="seed", errors="ignore") \
        .reset_index()


def generalization_gap(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per epoch, mean over seeds: train_loss, val_loss, gap_loss = val - train, and for
    classification train_acc, val_acc, gap_acc = train - val."""
    curves = mean_curves(metrics)
    frame = curves[["epoch", "train_loss", "val_loss"]].copy()
    frame["gap_loss"] = frame.val_loss - frame.train_loss
    if "train_acc" in curves and curves.train_acc.notna().any():
        frame["train_acc"], frame["val_acc"] = curves.train_acc, curves.val_acc
        frame["gap_acc"] = frame.train_acc - frame.val_acc
    return frame


def val_turn(metrics: pd.DataFrame) -> dict:
    """Where the mean validation loss was lowest, its value there and at the end, and the
    rise after the minimum relative to it."""
    curves = mean_curves(metrics).dropna(subset=["val_loss"])
    if curves.empty:
        return {}
    i = curves.val_loss.idxmin()
    best, end = float(curves.val_loss[i]), float(curves.val_loss.iloc[-1])
    return {"best_epoch": int(curves.epoch[i]), "best_val_loss": best, "final_val_loss": end,
            "last_epoch": int(curves.epoch.iloc[-1]),
            "rise": (end - best) / best if best > 0 else math.inf}


def _pct(x: float) -> str:
    """A share as a percentage, or as a factor when it is more than 10 times."""
    return f"{x:.0%}" if abs(x) < 10 else f"x{fmt(x, 2)}"


def _lr(curves: pd.DataFrame) -> float | None:
    if "lr" not in curves or len(curves) < 2:
        return None
    value = float(curves.lr.iloc[1])
    return value if math.isfinite(value) and value > 0 else None


def _lr_override(curves: pd.DataFrame, factor: float, fallback: str) -> str:
    lr = _lr(curves)
    return f"optimizer.lr={lr * factor:.2g}" if lr else fallback


def _has_val(curves: pd.DataFrame) -> bool:
    return "val_loss" in curves and curves.val_loss.notna().any()


# ---------------------------------------------------------------------------- verdicts
def lr_too_high(metrics: pd.DataFrame, summary: dict | None = None) -> Finding:
    check = "lr too high"
    diverged = metrics[~np.isfinite(metrics.train_loss)]
    curves = mean_curves(metrics).dropna(subset=["train_loss"])
    lower = _lr_override(curves, 0.1, "a lower optimizer.lr")
    if len(diverged) or (summary or {}).get("status") == "diverged":
        first = int(diverged.epoch.min()) if len(diverged) else None
        seeds = sorted(diverged.seed.unique()) if len(diverged) else []
        where = f"at epoch {first} (seed {', '.join(map(str, seeds))})" if first is not None \
            else "(summary.json says so)"
        return Finding(check, FAIL, f"the loss stopped being finite {where}",
                       f"{lower} (or optimizer.clip_norm=1)",
                       {"diverged_epoch": first, "seeds": [int(s) for s in seeds]})
    if len(curves) < 3:
        return Finding(check, SKIP, f"{len(curves)} epochs: too short to judge", "")
    loss = curves.train_loss.to_numpy()
    start, low, end = loss[0], loss.min(), loss[-1]
    progress = start - low
    gave_back = (end - low) / progress if progress > 0 else 0.0
    steps = np.diff(loss[1:])
    rises = steps[steps > 0] / loss[1:-1][steps > 0]
    share = len(rises) / len(steps) if len(steps) else 0.0
    rise = float(np.median(rises)) if len(rises) else 0.0
    numbers = {"initial": start, "min": low, "final": end, "gave_back": gave_back,
               "rising_share": share, "median_rise": rise}
    low_at = int(curves.epoch[np.argmin(loss)])
    if end > start:
        return Finding(check, FAIL, f"train loss {fmt(start)} -> {fmt(end)} at the end: worse "
                       "than at init", lower, numbers)
    if gave_back > GAVE_BACK:
        return Finding(check, WARN, f"train loss down to {fmt(low)} at epoch {low_at}, back up "
                       f"to {fmt(end)} ({gave_back:.0%} of its fall given back)",
                       _lr_override(curves, 1 / 3, "a lower optimizer.lr") +
                       " (or schedule=cosine)", numbers)
    if share >= OSCILLATION_SHARE and rise >= OSCILLATION_RISE:
        return Finding(check, WARN, f"oscillates: the train loss rose in {share:.0%} of the "
                       f"epochs, by {rise:.0%} (median)",
                       _lr_override(curves, 1 / 3, "a lower optimizer.lr") +
                       " (or schedule=step)", numbers)
    return Finding(check, PASS, f"train loss {fmt(start)} -> {fmt(end)}; rose in {share:.0%} "
                   "of the epochs", "", numbers)


def lr_too_low(metrics: pd.DataFrame) -> Finding:
    check = "lr too low"
    curves = mean_curves(metrics).dropna(subset=["train_loss"])
    curves = curves[curves.epoch >= 1]
    if len(curves) < 5:
        return Finding(check, SKIP, f"{len(curves)} epochs after the first: too few", "")
    t, loss = curves.epoch.to_numpy(float), curves.train_loss.to_numpy()
    slope, intercept = np.polyfit(t, loss, 1)
    residual = loss - (slope * t + intercept)
    total = ((loss - loss.mean()) ** 2).sum()
    r2 = 1 - (residual**2).sum() / total if total > 0 else 0.0
    q = max(2, len(loss) // 4)
    first = (loss[0] - loss[q - 1]) / (q - 1)
    last = (loss[-q] - loss[-1]) / (q - 1)
    slowdown = last / first if first > 0 else math.inf
    numbers = {"r2": r2, "slope_last_over_first": slowdown, "slope": slope}
    measured = (f"linear fit R^2 {r2:.3f}; the last quarter falls {fmt(slowdown, 2)}x as fast "
                "as the first")
    if slope < 0 and r2 >= CRAWL_R2 and slowdown >= CRAWL_SLOWDOWN:
        return Finding(check, WARN, measured + ": far from done",
                       _lr_override(curves, 10, "a higher optimizer.lr") + " (or more epochs)",
                       numbers)
    return Finding(check, PASS, measured, "", numbers)


def flat_stretches(loss: np.ndarray, width: float, min_length: int) -> list[tuple[int, int]]:
    """The maximal stretches [a, b] of indices, at least ``min_length`` epochs long, over which
    the loss stays within a band of ``width``; left to right, not overlapping."""
    found, a = [], 0
    while a < len(loss):
        b = a
        while b + 1 < len(loss) and np.ptp(loss[a:b + 2]) <= width:
            b += 1
        if b - a >= min_length:
            found.append((a, b))
            a = b + 1
        else:
            a += 1
    return found


def plateau(metrics: pd.DataFrame) -> Finding:
    check = "plateau"
    curves = mean_curves(metrics).dropna(subset=["train_loss"])
    if len(curves) < 6:
        return Finding(check, SKIP, f"{len(curves)} epochs: too few", "")
    loss = curves.train_loss.to_numpy()
    epochs = curves.epoch.to_numpy()
    min_length = max(5, math.ceil(PLATEAU_MIN * (len(loss) - 1)))
    stretches = flat_stretches(loss, FLAT * loss[0], min_length)
    numbers = {"stretches": [[int(epochs[a]), int(epochs[b])] for a, b in stretches]}
    for a, b in stretches:
        level = fmt(float(loss[a:b + 1].mean()))
        if a <= 1 and b == len(loss) - 1:
            return Finding(check, WARN, f"flat at {level} from epoch {epochs[a]} to the end: "
                           "it never started learning",
                           _lr_override(curves, 10, "a higher optimizer.lr") +
                           ", or init=he_normal", numbers)
        drop = loss[b] - loss[b:].min()
        if drop > PLATEAU_DROP * loss[0]:
            return Finding(check, WARN, f"flat at {level} from epoch {epochs[a]} to "
                           f"{epochs[b]}, then down to {fmt(loss[b:].min())}: a saddle",
                           "escape it sooner: optimizer=adam or optimizer=momentum, or "
                           "init=he_normal (a small init starts near one)", numbers)
    if stretches:
        a, _ = stretches[-1]
        return Finding(check, PASS, f"flat from epoch {epochs[a]} at "
                       f"{fmt(float(loss[a:].mean()))}: converged", "", numbers)
    return Finding(check, PASS, f"no flat stretch of {min_length} epochs", "", numbers)


def overfitting(metrics: pd.DataFrame, config: dict | None = None) -> Finding:
    check = "overfitting"
    gap = generalization_gap(metrics).dropna(subset=["train_loss"])
    if not _has_val(gap):
        return Finding(check, SKIP, "no validation split", "")
    turn = val_turn(metrics)
    end = gap.iloc[-1]
    numbers = turn | {"gap_loss": float(end.gap_loss)}
    measured = (f"gap {fmt(end.gap_loss)} at the end (val {fmt(end.val_loss)}, train "
                f"{fmt(end.train_loss)})")
    if "gap_acc" in end:
        numbers["gap_acc"] = float(end.gap_acc)
        measured += f", accuracy gap {end.gap_acc:.1%}"
    advice = "more regularization: " + _more_regularization(config)
    if turn["rise"] > TURN and turn["best_epoch"] < turn["last_epoch"]:
        return Finding(check, WARN, f"val loss lowest at epoch {turn['best_epoch']} "
                       f"({fmt(turn['best_val_loss'])}), {_pct(turn['rise'])} higher at the end; "
                       + measured, advice, numbers)
    big = end.gap_loss > BIG_GAP * end.val_loss or numbers.get("gap_acc", 0) > BIG_ACC_GAP
    if big:
        return Finding(check, WARN, "big gap: " + measured, advice, numbers)
    return Finding(check, PASS, measured, "", numbers)


def _more_regularization(config: dict | None) -> str:
    reg = (config or {}).get("regularizer") or {}
    kappa = reg.get("kappa")
    if kappa:
        return f"regularizer.kappa={kappa * 10:g}, model.hidden_dropout=0.3 or " \
               "early_stopping.enabled=true"
    return "regularizer=l2 regularizer.kappa=1e-3, model.hidden_dropout=0.3 or " \
           "early_stopping.enabled=true"


def underfitting(metrics: pd.DataFrame, config: dict | None = None) -> Finding:
    check = "underfitting"
    gap = generalization_gap(metrics).dropna(subset=["train_loss"])
    if len(gap) < 4:
        return Finding(check, SKIP, f"{len(gap)} epochs: too few", "")
    loss = gap.train_loss.to_numpy()
    start, end = loss[0], loss[-1]
    q = max(2, len(loss) // 4)
    fall = start - end
    late = (loss[-q] - end) / fall if fall > 0 else 0.0
    level = end / start if start > 0 else math.inf
    small_gap = (not _has_val(gap)) or gap.gap_loss.iloc[-1] < SMALL_GAP * end
    numbers = {"final_over_initial": level, "last_quarter_share": late,
               "gap_loss": float(gap.gap_loss.iloc[-1]) if _has_val(gap) else None}
    measured = (f"train loss {fmt(end)} = {_pct(level)} of its initial {fmt(start)}; the last "
                f"quarter gave {late:.0%} of the fall")
    if "train_acc" in gap:
        measured += f"; train accuracy {gap.train_acc.iloc[-1]:.1%}"
    if level > UNDERFIT_LOSS and late < DONE and small_gap:
        return Finding(check, WARN, measured + ", no gap", "more capacity: " +
                       _more_capacity(config) + " (the lecture: increase model capacity)",
                       numbers)
    return Finding(check, PASS, measured, "", numbers)


def _more_capacity(config: dict | None) -> str:
    widths = ((config or {}).get("model") or {}).get("widths")
    if widths:
        return f"model.widths=[{','.join(str(2 * w) for w in widths)}] or one more layer"
    return "model=mlp model.widths=[256,256]"


def dead_units(metrics: pd.DataFrame) -> Finding:
    check = "dead units growing"
    curves = mean_curves(metrics)
    columns = [c for c in curves if c.startswith("dead_frac/")]
    if not columns:
        return Finding(check, SKIP, "no dead_frac columns (diagnostics=off)", "")
    rows = curves.dropna(subset=columns)
    first, last = rows.iloc[0], rows.iloc[-1]
    rise = {c.split("/")[1]: float(last[c] - first[c]) for c in columns}
    worst = max(rise, key=rise.get)
    numbers = {"init": {c.split("/")[1]: float(first[c]) for c in columns},
               "final": {c.split("/")[1]: float(last[c]) for c in columns}}
    measured = (f"layer {worst}: {first[f'dead_frac/{worst}']:.0%} dead at init, "
                f"{last[f'dead_frac/{worst}']:.0%} at epoch {int(last.epoch)}")
    if rise[worst] > DEAD_RISE:
        return Finding(check, WARN, measured, _lr_override(curves, 1 / 3, "a lower lr") +
                       " or activation=leaky_relu (units that die never come back)", numbers)
    return Finding(check, PASS, measured, "", numbers)


def early_stopping(metrics: pd.DataFrame, summary: dict | None = None,
                   config: dict | None = None) -> Finding:
    check = "early stopping"
    turn = val_turn(metrics)
    if not turn:
        return Finding(check, SKIP, "no validation split", "")
    es = (config or {}).get("early_stopping") or {}
    stopped = (summary or {}).get("status") == "stopped_early"
    enabled = bool(es.get("enabled", stopped))
    curves = mean_curves(metrics).dropna(subset=["train_loss"])
    last, best = turn["last_epoch"], turn["best_epoch"]
    wasted = last - best
    numbers = turn | {"enabled": enabled, "stopped": stopped, "epochs_past_best": wasted}
    if stopped:
        patience = es.get("patience")
        tail = curves[curves.epoch >= best]
        train_fall = ((tail.train_loss.iloc[0] - tail.train_loss.iloc[-1])
                      / tail.train_loss.iloc[0]) if len(tail) > 1 else 0.0
        numbers["train_fall_after_best"] = float(train_fall)
        measured = (f"stopped at epoch {last}, best {best}; the val loss rose "
                    f"{turn['rise']:.1%} by then")
        if turn["rise"] < 0.01 and train_fall > 0.1:
            more = f"early_stopping.patience={2 * patience}" if patience else \
                "a larger early_stopping.patience"
            return Finding(check, WARN, measured + f" while the train loss still fell "
                           f"{train_fall:.0%}: too early", more, numbers)
        if wasted > LATE * last:
            return Finding(check, WARN, measured + f": {wasted} of {last} epochs past the best"
                           " (too late)", f"early_stopping.patience={max(1, wasted // 3)}",
                           numbers)
        return Finding(check, PASS, measured, "", numbers)
    if turn["rise"] > TURN and wasted > LATE * last:
        what = "on, never triggered" if enabled else "off"
        return Finding(check, WARN, f"{what}: the best val loss was at epoch {best}, {wasted} "
                       f"of {last} epochs before the end ({_pct(turn['rise'])} worse there)",
                       "early_stopping.enabled=true early_stopping.patience=5" if not enabled
                       else f"early_stopping.patience={max(1, wasted // 3)}", numbers)
    return Finding(check, PASS, f"best val loss at epoch {best} of {last}", "", numbers)


def verdicts(metrics: pd.DataFrame, summary: dict | None = None,
             config: dict | None = None) -> list[Finding]:
    """Every verdict on one run: its metrics table, its summary.json and its composed config
    (``.hydra/config.yaml`` as a dict), the last two optional."""
    first = lr_too_high(metrics, summary)
    rest = [lambda: lr_too_low(metrics), lambda: plateau(metrics),
            lambda: overfitting(metrics, config), lambda: underfitting(metrics, config),
            lambda: dead_units(metrics), lambda: early_stopping(metrics, summary, config)]
    names = ["lr too low", "plateau", "overfitting", "underfitting", "dead units growing",
             "early stopping"]
    if first.status == FAIL:  # the curves of a diverged run say nothing else
        return [first, *(Finding(name, SKIP, "the run diverged", "") for name in names)]
    return [first, *(verdict() for verdict in rest)]
