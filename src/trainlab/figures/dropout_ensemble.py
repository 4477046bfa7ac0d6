"""Dropout as an implicit ensemble (lecture 003, Srivastava et al. 2014; Warde-Farley et al.
2014) against an explicit ensemble of independently trained nets (lecture 003): K plain nets
and K dropout nets, one job each (each stores its own params), scored on the test split."""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab import predict
from trainlab.data import load_dataset
from trainlab.figures.common import Check, load_params

COLORS = {"plain": "C0", "dropout": "C3", "masks": "C1"}


def _scores(probs: np.ndarray, y: np.ndarray) -> dict:
    return {"test_acc": float((probs.argmax(-1) == y).mean()),
            "test_loss": float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-30)).mean())}


def table(runs, options) -> pd.DataFrame:
    """Rows by ``kind``: ``member`` (each net alone, its deterministic test pass),
    ``ensemble`` (the mean softmax of the first k nets of an arm), ``masks`` (the mean softmax
    of T dropout masks of the first dropout net: T weight-sharing subnets), ``mask`` (single
    masks of it, each a thinned subnet alone)."""
    cfg = runs[0].cfg
    data = load_dataset(cfg.data, cfg.dtype)
    x, y = data.x_test, data.y_test
    rows, probs = [], {}
    for arm in ("plain", "dropout"):
        members = sorted((r for r in runs if r.arm == arm), key=lambda r: r.cfg.seed)
        probs[arm] = np.stack([np.asarray(predict.probabilities(r.cfg, load_params(r), x))
                               for r in members])
        for k, run in enumerate(members, start=1):
            rows.append({"kind": "member", "arm": arm, "k": k, "seed": run.cfg.seed,
                         "train_acc": run.summary["final_train_acc"]}
                        | _scores(probs[arm][k - 1], y))
            rows.append({"kind": "ensemble", "arm": arm, "k": k}
                        | _scores(probs[arm][:k].mean(0), y))
    first = min((r for r in runs if r.arm == "dropout"), key=lambda r: r.cfg.seed)
    key = jax.random.PRNGKey(int(options["mask_seed"]))
    passes = np.asarray(predict.mc_dropout_probabilities(
        first.cfg, load_params(first), x, key, max(options["masks"])))
    for t in options["masks"]:
        rows.append({"kind": "masks", "arm": "dropout", "k": int(t), "seed": first.cfg.seed}
                    | _scores(passes[:t].mean(0), y))
    for i, single in enumerate(passes[:len(probs["dropout"])]):
        rows.append({"kind": "mask", "arm": "dropout", "k": i + 1, "seed": first.cfg.seed}
                    | _scores(single, y))
    return pd.DataFrame(rows)


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per way of predicting: its test accuracy and loss."""
    member = table[table.kind == "member"]
    ens = table[table.kind == "ensemble"]
    masks = table[table.kind == "masks"]
    k = int(ens.k.max())
    rows = []
    for arm in ("plain", "dropout"):
        m = member[member.arm == arm]
        rows.append({"prediction": f"one {arm} net (mean of {len(m)})",
                     "test_acc": m.test_acc.mean(), "test_loss": m.test_loss.mean(),
                     "nets_trained": 1})
        e = ens[(ens.arm == arm) & (ens.k == k)].iloc[0]
        rows.append({"prediction": f"ensemble of {k} {arm} nets", "test_acc": e.test_acc,
                     "test_loss": e.test_loss, "nets_trained": k})
    single = table[table.kind == "mask"]
    rows.append({"prediction": "one thinned subnet (one mask; mean)",
                 "test_acc": single.test_acc.mean(), "test_loss": single.test_loss.mean(),
                 "nets_trained": 1})
    for t in (k, int(masks.k.max())):
        r = masks[masks.k == t].iloc[0]
        rows.append({"prediction": f"average of {t} masks of one dropout net",
                     "test_acc": r.test_acc, "test_loss": r.test_loss, "nets_trained": 1})
    return pd.DataFrame(rows).drop_duplicates("prediction")


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return summary(table)


def _numbers(table: pd.DataFrame) -> dict:
    member = table[table.kind == "member"]
    ens = table[table.kind == "ensemble"]
    masks = table[table.kind == "masks"].set_index("k")
    k = int(ens.k.max())
    plain, drop = member[member.arm == "plain"], member[member.arm == "dropout"]
    first = drop.loc[drop.seed.idxmin()]
    return {"k": k, "plain": plain, "dropout": drop, "first": first, "masks": masks,
            "plain_ens": ens[(ens.arm == "plain") & (ens.k == k)].iloc[0],
            "dropout_ens": ens[(ens.arm == "dropout") & (ens.k == k)].iloc[0],
            "single_mask": table[table.kind == "mask"]}


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    n = _numbers(table)
    o = options
    k, plain, drop, first, masks = n["k"], n["plain"], n["dropout"], n["first"], n["masks"]
    pe, de, single = n["plain_ens"], n["dropout_ens"], n["single_mask"]
    most = int(masks.index.max())
    k_masks = masks.loc[k] if k in masks.index else masks.iloc[(abs(masks.index - k)).argmin()]
    gain, close, subnet, lead, tie, sharing = (float(o[c]) for c in (
        "dropout_gain", "pass_vs_masks", "subnet_gap", "ensemble_gain", "matches_ensemble",
        "no_sharing_gain"))

    def pts(x: float) -> str:
        return f"{x * 100:+.1f} points"

    return [
        Check(f"dropout generalizes better than the plain net: every dropout net's test loss "
              f"below every plain net's, and its mean test accuracy >= {gain * 100:g} point "
              "higher",
              bool(drop.test_loss.max() < plain.test_loss.min()
                   and drop.test_acc.mean() >= plain.test_acc.mean() + gain),
              f"dropout {drop.test_acc.mean():.1%} (loss {drop.test_loss.min():.3f}-"
              f"{drop.test_loss.max():.3f}) vs plain {plain.test_acc.mean():.1%} (loss "
              f"{plain.test_loss.min():.3f}-{plain.test_loss.max():.3f}), {len(drop)} nets "
              "each"),
        Check(f"its one deterministic pass is the average of its thinned subnets: within "
              f"{close * 100:g} points of the average of {most} masks, and >= "
              f"{subnet * 100:g} points above a single thinned subnet",
              bool(abs(first.test_acc - masks.loc[most].test_acc) <= close
                   and first.test_acc >= single.test_acc.mean() + subnet),
              f"seed {int(first.seed)}: one pass {first.test_acc:.1%}, {most} masks "
              f"{masks.loc[most].test_acc:.1%}, one mask {single.test_acc.mean():.1%} (mean of "
              f"{len(single)})"),
        Check(f"an explicit ensemble of independently trained nets beats its members: {k} plain "
              f"nets averaged >= {lead * 100:g} point above the mean member, with a lower test "
              "loss",
              bool(pe.test_acc >= plain.test_acc.mean() + lead
                   and pe.test_loss < plain.test_loss.mean()),
              f"{pe.test_acc:.1%} (loss {pe.test_loss:.3f}) vs {plain.test_acc.mean():.1%} "
              f"(loss {plain.test_loss.mean():.3f}): {pts(pe.test_acc - plain.test_acc.mean())}"),
        Check(f"one dropout net does what the explicit ensemble does, for 1/{k} of the "
              f"training: its mean test accuracy within {tie * 100:g} point of (or above) "
              f"the ensemble of {k} plain nets, with a lower test loss",
              bool(drop.test_acc.mean() >= pe.test_acc - tie
                   and drop.test_loss.mean() < pe.test_loss),
              f"one dropout net {drop.test_acc.mean():.1%} (loss {drop.test_loss.mean():.3f}) "
              f"vs {k} plain nets {pe.test_acc:.1%} (loss {pe.test_loss:.3f})"),
        Check(f"averaging without weight sharing does better (Warde-Farley et al.): {k} "
              f"independent dropout nets averaged beat {int(k_masks.name)} masks of one by >= "
              f"{sharing * 100:g} points",
              bool(de.test_acc >= k_masks.test_acc + sharing),
              f"{de.test_acc:.1%} vs {k_masks.test_acc:.1%} "
              f"({pts(de.test_acc - k_masks.test_acc)}); vs {most} masks "
              f"{masks.loc[most].test_acc:.1%}"),
    ]


def draw(table: pd.DataFrame, options: dict):
    n = _numbers(table)
    k, plain, drop = n["k"], n["plain"], n["dropout"]
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.2), gridspec_kw={"width_ratios": [1, 1, 1.1]})
    ens = table[table.kind == "ensemble"]
    masks = table[table.kind == "masks"]
    for ax, column, name in ((axes[0], "test_acc", "test accuracy"),
                             (axes[1], "test_loss", "test loss (cross-entropy, nats)")):
        for arm, label in (("plain", "independent plain nets"),
                           ("dropout", "independent dropout nets")):
            part = ens[ens.arm == arm]
            ax.plot(part.k, part[column], marker="o", color=COLORS[arm], lw=2,
                    label=f"ensemble of k {label}")
        ax.plot(masks.k, masks[column], marker="s", color=COLORS["masks"], lw=2,
                label=f"average of k masks of one dropout net (seed {int(n['first'].seed)})")
        ax.axhline(drop[column].mean(), color=COLORS["dropout"], ls="--", lw=1.2,
                   label="one dropout net, its deterministic pass (mean)")
        ax.axhline(plain[column].mean(), color=COLORS["plain"], ls="--", lw=1.2,
                   label="one plain net (mean)")
        ax.set(xscale="log", xlabel="k: members averaged (nets, or masks; log scale)",
               ylabel=name, title=f"The {name} of averaged predictions")
    axes[0].legend(fontsize=7.5, loc="lower right")
    axes[0].set_title("Test accuracy: one dropout pass ~ many masks averaged")
    axes[1].set_title("Test loss: far lower for every dropout prediction")

    ax = axes[2]
    s = summary(table)
    y = np.arange(len(s))[::-1]
    colors = [COLORS["plain"] if "plain" in p else COLORS["masks"] if "mask" in p
              else COLORS["dropout"] for p in s.prediction]
    ax.barh(y, s.test_acc, color=colors)
    for yi, row in zip(y, s.itertuples(), strict=True):
        ax.text(row.test_acc + 0.005, yi, f"{row.test_acc:.1%}  ({row.nets_trained} "
                f"net{'s' if row.nets_trained > 1 else ''} trained)", va="center", fontsize=8)
    ax.set(yticks=y, yticklabels=s.prediction, xlim=(0, max(s.test_acc) * 1.6),
           xlabel="test accuracy", title=f"What each costs: {k} nets trained, or one")
    ax.tick_params(axis="y", labelsize=8)
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.suptitle("Dropout as an implicit ensemble vs an explicit ensemble of independent nets "
                 "(MNIST-1D, 1000 training samples)", fontsize=13)
    fig.tight_layout()
    return fig
