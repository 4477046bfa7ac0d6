"""Input preprocessing (lectures 000, 001, 004): centering and scaling, each judged at its own
best learning rate; and the reason for centering, on a problem with two inputs that are
always positive: every update of a unit's weights then has components of one sign, so the
weights zig-zag towards a solution whose components have mixed signs.

The digits and two-input curves are trainlab runs (full-batch GD, a log sweep of lr each).
The weight paths are trainlab's own model and loss (``mlp.apply``, ``cfg.loss``, autodiff)
stepped by plain SGD one training sample at a time from the two-input runs' stored initial
net: trainlab records no weights per step, and the lecture's argument is about single
updates.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.data import load_dataset
from trainlab.figures.common import Check, load_net, runs_table
from trainlab.figures.plots import band, plain_log_y
from trainlab.nn import mlp

LR = "optimizer.lr"
COLORS = {"raw": "C3", "centered": "C1", "standardized": "C0"}
PROBLEMS = {"digits": "digits 8x8", "two": "two positive inputs"}


def _arm(arm: str) -> tuple[str, str]:
    """(problem, inputs) of an arm: ``raw`` is the digits' raw inputs, ``two_raw`` the
    two-input problem's."""
    return ("two", arm[4:]) if arm.startswith("two_") else ("digits", arm)


def _path(run, options) -> pd.DataFrame:
    """The decision weights w0 - w1 of the two-class linear model (their difference is what
    the softmax sees) after each single-sample SGD step, and each step's update."""
    cfg = run.cfg
    data = load_dataset(cfg.data, cfg.dtype)
    params, state = load_net(run, "init")
    lr = float(options["path_lr"])

    def loss(p, x, y):
        out, _, _ = mlp.apply(cfg, p, state, x[None], train=False)
        return cfg.loss(out, y[None], 2)

    @jax.jit
    def step(p, sample):
        g = jax.grad(loss)(p, *sample)
        p = jax.tree_util.tree_map(lambda w, d: w - lr * d, p, g)
        w, u = p["layers"][0]["w"], -lr * g["layers"][0]["w"]
        return p, (w[:, 0] - w[:, 1], u[:, 0] - u[:, 1])

    n = int(options["path_steps"])
    samples = (jnp.asarray(data.x_train[:n]), jnp.asarray(data.y_train[:n]))
    _, (w, u) = jax.lax.scan(step, params, samples)
    w0 = np.asarray(params["layers"][0]["w"])
    w = np.vstack([w0[:, 0] - w0[:, 1], np.asarray(w)])
    u = np.vstack([np.full(2, np.nan), np.asarray(u)])
    return pd.DataFrame({"kind": "path", "problem": "two", "inputs": _arm(run.arm)[1],
                         "step": np.arange(len(w)), "w1": w[:, 0], "w2": w[:, 1],
                         "u1": u[:, 0], "u2": u[:, 1]})


def _samples(run) -> pd.DataFrame:
    data = load_dataset(run.cfg.data, run.cfg.dtype)
    x, y = data.x_train, data.y_train
    return pd.DataFrame({"kind": "sample", "problem": "two", "inputs": _arm(run.arm)[1],
                         "x1": x[:, 0], "x2": x[:, 1], "label": y})


def table(runs, options) -> pd.DataFrame:
    frame = runs_table(runs).drop(columns="lr").rename(columns={LR: "lr"})
    where = frame.arm.map(lambda a: _arm(a))
    frame.insert(0, "kind", "curve")
    frame.insert(1, "problem", [p for p, _ in where])
    frame.insert(2, "inputs", [i for _, i in where])
    frame = frame[["kind", "problem", "inputs", "lr", "seed", "epoch", "train_loss", "val_loss",
                   "val_acc"]]
    extra = []
    for inputs in ("raw", "centered"):
        first = [r for r in runs if r.arm == f"two_{inputs}"]
        if first:
            extra += [_path(first[0], options), _samples(first[0])]
    return pd.concat([frame, *extra], ignore_index=True)


def speed(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Per problem, inputs and lr: epochs until the mean training loss over seeds falls
    below the problem's target (inf: not within the run), the final losses, whether the run
    trains (its final mean loss is below the target) and whether it diverged (it does not
    train, and its loss went non-finite or rose above where it started: a dead net at chance
    counts, as it did for raw digits at lr 3)."""
    curves = table[table.kind == "curve"]
    rows = []
    for (problem, inputs, lr), part in curves.groupby(["problem", "inputs", "lr"], sort=False):
        target = float(options["targets"][problem])
        mean = part.groupby("epoch").train_loss.mean()
        below = mean.index[mean < target]
        end = part[part.epoch == part.epoch.max()]
        trains = bool(mean.iloc[-1] < target)
        rose = bool(not np.isfinite(mean).all() or (mean > mean.iloc[0]).any())
        rows.append({"problem": problem, "inputs": inputs, "lr": lr, "target": target,
                     "epochs to target": float(below[0]) if len(below) else np.inf,
                     "final train loss": mean.iloc[-1], "trains": trains,
                     "diverged": not trains and rose,
                     "final val acc": end.val_acc.mean()})
    return pd.DataFrame(rows)


def best(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    """Each problem's inputs at their best lr (fewest epochs to the target, then the lowest
    final loss), whether that lr is inside the grid, and the largest lr that still trains."""
    s = speed(table, options)
    rows = []
    for _, part in s.groupby(["problem", "inputs"], sort=False):
        pick = part.assign(loss=part["final train loss"].fillna(np.inf)).sort_values(
            ["epochs to target", "loss"]).iloc[0]
        rows.append(pick.drop("loss").to_dict() | {
            "inside": bool(part.lr.min() < pick.lr < part.lr.max()),
            "largest lr that trains": part[part.trains].lr.max()})
    return pd.DataFrame(rows)


def paths(table: pd.DataFrame) -> pd.DataFrame:
    """Per inputs: the fraction of single-sample updates whose two components have one sign,
    and the path's length over its displacement (1: a straight line)."""
    rows = []
    for inputs, part in table[table.kind == "path"].groupby("inputs", sort=False):
        u = part[["u1", "u2"]].dropna().to_numpy()
        u = u[np.abs(u).sum(1) > 0]
        w = part[["w1", "w2"]].to_numpy()
        length = float(np.linalg.norm(np.diff(w, axis=0), axis=1).sum())
        rows.append({"inputs": inputs, "updates": len(u),
                     "same sign": float((np.sign(u[:, 0]) == np.sign(u[:, 1])).mean()),
                     "length / displacement": length / float(np.linalg.norm(w[-1] - w[0]))})
    return pd.DataFrame(rows)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return best(table, options)


def _fmt(v: float) -> str:
    return f"{v:.0f}" if np.isfinite(v) else "never"


def _inside(b: pd.DataFrame, problem: str) -> Check:
    part = b.loc[problem]
    return Check(
        f"{problem}: each inputs' best lr lies inside its grid (not its smallest or largest "
        "rate), so each is compared at its own tuned lr",
        bool(part.inside.all()),
        ", ".join(f"{i}: {part.lr[i]:g}" + ("" if part.inside[i] else " (at the edge)")
                  for i in part.index))


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    b = best(table, options).set_index(["problem", "inputs"])
    digits = b.loc["digits"]
    target = float(options["targets"]["digits"])
    e, trains = digits["epochs to target"], digits["largest lr that trains"]
    at = lambda i: f"{_fmt(e[i])} epochs (lr {digits.lr[i]:g})"  # noqa: E731
    checks = [
        _inside(b, "digits"),
        Check(f"digits: centering alone speeds training (lectures 000, 001: zero-mean inputs): "
              f"at each one's best lr, centered reaches training loss {target:g} in fewer epochs "
              "than raw", bool(e["centered"] < e["raw"]),
              f"centered {at('centered')} vs raw {at('raw')}; largest lr that still trains: "
              f"raw {trains['raw']:g}, centered {trains['centered']:g}"),
        Check("digits: scaling to unit variance on top (standardized), at its best lr, is no "
              "slower than centering alone", bool(e["standardized"] <= e["centered"]),
              f"standardized {at('standardized')} vs centered {at('centered')}"),
    ]
    p = paths(table).set_index("inputs")
    if {"raw", "centered"} <= set(p.index):
        mixed = float(options["mixed"])
        same = p["same sign"]
        checks.append(Check(
            "two inputs, always positive (lectures 000, 001): every update of a unit's weights "
            "has both components of one sign (for raw a fact of the algebra: the update is "
            f"B * x with x > 0), and centered inputs mix them (same sign in < {mixed:.0%})",
            bool(same["raw"] == 1 and same["centered"] < mixed),
            f"raw {same['raw']:.0%} of {int(p.loc['raw', 'updates'])} updates, "
            f"centered {same['centered']:.0%}"))
        ratio = float(options["zigzag"])
        zigzag = p["length / displacement"]
        checks.append(Check(
            f"so the raw weights zig-zag to a solution of mixed signs: their path is >= "
            f"{ratio:g}x longer, for the distance covered, than the centered one's",
            bool(zigzag["raw"] >= ratio * zigzag["centered"]),
            f"path length / displacement: raw {zigzag['raw']:.1f}, "
            f"centered {zigzag['centered']:.1f}"))
    if "two" in b.index.get_level_values(0):
        two = b.loc["two"]
        t = float(options["targets"]["two"])
        e2, trains2 = two["epochs to target"], two["largest lr that trains"]
        checks.append(_inside(b, "two"))
        checks.append(Check(
            f"two inputs, trainlab runs (full-batch GD): centered reaches training loss {t:g} "
            "in fewer epochs than raw, each at its best lr, and trains at rates where raw "
            "no longer does",
            bool(e2["centered"] < e2["raw"] and trains2["centered"] > trains2["raw"]),
            f"centered {_fmt(e2['centered'])} epochs (lr {two.lr['centered']:g}) vs raw "
            f"{_fmt(e2['raw'])} (lr {two.lr['raw']:g}); largest lr that trains: centered "
            f"{trains2['centered']:g}, raw {trains2['raw']:g}"))
    return checks


def _curves_at_best(ax, table, b, problem: str, target: float, title: str) -> None:
    curves = table[(table.kind == "curve") & (table.problem == problem)]
    for inputs, row in b[b.problem == problem].set_index("inputs").iterrows():
        part = curves[(curves.inputs == inputs) & (curves.lr == row.lr)]
        band(ax, part, "epoch", "train_loss", color=COLORS.get(inputs),
             label=f"{inputs}, its best lr {row.lr:g}: {_fmt(row['epochs to target'])} epochs")
    ax.axhline(target, color="k", ls=":", lw=1, label=f"target {target:g}")
    ax.set(xlabel="epoch (full-batch GD)", ylabel="training loss (nats)", title=title)
    plain_log_y(ax)
    ax.legend(fontsize=8)


def _epochs_vs_lr(ax, s: pd.DataFrame, problem: str, title: str) -> None:
    part = s[s.problem == problem]
    top = 1.1 * part["epochs to target"].replace(np.inf, np.nan).max() + 5
    for inputs, one in part.groupby("inputs", sort=False):
        y = one["epochs to target"].replace(np.inf, top)
        ax.plot(one.lr, y, "o-", color=COLORS.get(inputs), label=inputs)
        bad = one[one.diverged]
        ax.plot(bad.lr, np.full(len(bad), top), "X", color=COLORS.get(inputs), ms=10, mec="k",
                mew=0.5)
    ax.axhline(top, color="0.5", ls="--", lw=1)
    ax.text(part.lr.min(), top, " not reached (X: diverged or dead)", va="bottom", fontsize=8,
            color="0.4")
    ax.set(xscale="log", xlabel="learning rate", ylabel="epochs to the target",
           ylim=(0, top * 1.12), title=title)
    ax.legend(fontsize=8)


def draw(table: pd.DataFrame, options: dict):
    s, b = speed(table, options), best(table, options)
    fig, axes = plt.subplots(2, 3, figsize=(17, 10))
    t_digits, t_two = (float(options["targets"][k]) for k in ("digits", "two"))
    _curves_at_best(axes[0, 0], table, b, "digits", t_digits,
                    "Digits 8x8 (MLP 64-64-10), each preprocessing at its best lr")
    _epochs_vs_lr(axes[0, 1], s, "digits",
                  f"Digits: epochs to training loss {t_digits:g} against lr")
    ax = axes[0, 2]
    digits = s[s.problem == "digits"]
    for inputs, one in digits.groupby("inputs", sort=False):
        ax.plot(one.lr, one["final train loss"], "o-", color=COLORS.get(inputs), label=inputs)
    ax.set(xscale="log", yscale="log", xlabel="learning rate",
           ylabel="final training loss (nats, log)",
           title="Digits: at the SAME lr standardized looks best,\nbut its inputs are ~3x "
                 "larger: compare each at its own lr")
    ax.legend(fontsize=8)
    samples = table[table.kind == "sample"]
    ax = axes[1, 0]
    for inputs, marker in (("raw", "o"), ("centered", "s")):
        part = samples[samples.inputs == inputs]
        for label, color in ((0, "C4"), (1, "C2")):
            one = part[part.label == label]
            ax.scatter(one.x1, one.x2, s=5, marker=marker, color=color, alpha=0.35,
                       label=f"{inputs}, class {label}")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="input 1", ylabel="input 2", aspect="equal",
           title="Two inputs (data=blobs): raw, all positive,\nand centered (the training mean "
                 "subtracted)")
    ax.legend(fontsize=7, markerscale=3, loc="upper left")
    ax = axes[1, 1]
    p = paths(table).set_index("inputs")
    for inputs in ("raw", "centered"):
        part = table[(table.kind == "path") & (table.inputs == inputs)]
        if part.empty:
            continue
        ax.plot(part.w1, part.w2, "-", marker=".", ms=2.5, lw=0.8, color=COLORS[inputs],
                label=f"{inputs}: same-sign updates {p.loc[inputs, 'same sign']:.0%}, "
                      f"length/displacement {p.loc[inputs, 'length / displacement']:.1f}")
        ax.plot(part.w1.iloc[0], part.w2.iloc[0], "ko", ms=5)
        ax.plot(part.w1.iloc[-1], part.w2.iloc[-1], "*", color=COLORS[inputs], ms=12, mec="k")
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(0, color="k", lw=0.8)
    ax.set(xlabel="weight on input 1 (w0 - w1 of the 2-class linear model)",
           ylabel="weight on input 2",
           title=f"SGD one sample at a time, lr {float(options['path_lr']):g}, "
                 f"{int(options['path_steps'])} steps:\nwith positive inputs each step moves "
                 "both weights the same way")
    ax.legend(fontsize=7.5, loc="lower left")
    _curves_at_best(axes[1, 2], table, b, "two", t_two,
                    "Two inputs, trainlab runs (linear model, full-batch GD),\neach at its "
                    "best lr")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle("Preprocessing: center the inputs (then scale them); compare at each one's "
                 "own best learning rate", fontsize=13)
    fig.tight_layout()
    return fig
