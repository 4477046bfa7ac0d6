"""BatchNorm in train mode and in eval mode (lectures 001, 004), LayerNorm the same in both,
BN before or after the activation, and the bias that BN makes redundant (lecture 003).

Each trained net is evaluated again through trainlab's own MLP (nn/mlp.apply): in eval mode
with its running averages, in train mode with the statistics of batches of several sizes,
and in eval mode with running statistics never updated."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.figures.common import Check, load_net, runs_table
from trainlab.figures.plots import band

LABELS = {"bn_before": "BatchNorm before the activation", "bn_after":
          "BatchNorm after the activation", "layernorm": "LayerNorm", "none": "no normalization"}
COLORS = {"bn_before": "C0", "bn_after": "C1", "layernorm": "C2", "none": "0.5"}
SHIFT = 3.0  # added to a hidden layer's bias to test that BN rules it out


def _logits(run, params, state, x, *, train: bool, batch: int | None = None) -> np.ndarray:
    """The net's outputs on ``x``; in train mode, batch by batch (consecutive samples)."""
    from trainlab.nn import mlp
    from trainlab.plan import use_dtype

    use_dtype(run.cfg.dtype)
    x = jnp.asarray(x, run.cfg.dtype)
    size = batch or len(x)
    whole = len(x) - len(x) % size

    def forward(xb):
        return mlp.apply(run.cfg, params, state, xb, train=train)[0]

    # every full batch at once (vmapped: each keeps its own statistics), then the remainder
    parts = [jax.vmap(forward)(x[:whole].reshape(-1, size, x.shape[1])).reshape(whole, -1)]
    if whole < len(x):
        parts.append(forward(x[whole:]))
    return np.asarray(jnp.concatenate(parts), np.float64)


def _scores(logits: np.ndarray, y: np.ndarray) -> dict:
    shifted = logits - logits.max(-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return {"val_loss": float(-log_probs[np.arange(len(y)), y].mean()),
            "val_acc": float((logits.argmax(-1) == y).mean())}


def _modes(run, options) -> list[dict]:
    """One row per way of evaluating the run's net on the val split."""
    from trainlab.data import load_dataset

    data = load_dataset(run.cfg.data, run.cfg.dtype)
    x, y = data.x_val, data.y_val
    params, state = load_net(run)
    reference = _logits(run, params, state, x, train=False)
    rows = [{"mode": "eval", "batch": 0} | _scores(reference, y) | {"max_logit_diff": 0.0}]
    fresh = {"layers": [{k: (np.zeros_like(v) if k == "mean" else np.ones_like(v))
                         for k, v in layer.items()} for layer in state["layers"]]}
    stale = _logits(run, params, fresh, x, train=False)
    rows.append({"mode": "eval, running statistics never updated", "batch": 0}
                | _scores(stale, y) | {"max_logit_diff": float(np.abs(stale - reference).max())})
    for batch in options["batches"]:
        batch = min(int(batch), len(x))
        out = _logits(run, params, state, x, train=True, batch=batch)
        # the same samples in other batches: shifted by half a batch, then put back in order
        order = np.roll(np.arange(len(x)), batch // 2)
        other = np.empty_like(out)
        other[order] = _logits(run, params, state, x[order], train=True, batch=batch)
        rows.append({"mode": "train", "batch": batch} | _scores(out, y)
                    | {"max_logit_diff": float(np.abs(out - reference).max()),
                       "batch_mates_diff": float(np.abs(out - other).max())})
    # the first hidden layer's bias shifted: train-mode outputs on one batch of the split
    shifted = {"layers": [dict(layer) for layer in params["layers"]]}
    shifted["layers"][0]["b"] = np.asarray(shifted["layers"][0]["b"]) + SHIFT
    base = _logits(run, params, state, x, train=True)
    moved = _logits(run, shifted, state, x, train=True)
    rows.append({"mode": f"train, first bias + {SHIFT:g}", "batch": len(x)} | _scores(moved, y)
                | {"max_logit_diff": float(np.abs(moved - base).max())})
    return rows


def _bias_change(run) -> list[dict]:
    """How far each layer's bias moved in training (the first seed's stored nets)."""
    init, _ = load_net(run, "init")
    final, _ = load_net(run, "final")
    layers = len(final["layers"])
    return [{"mode": "bias change", "layer": i + 1, "output_layer": i == layers - 1,
             "bias_change": float(np.abs(np.asarray(final["layers"][i]["b"])
                                         - np.asarray(init["layers"][i]["b"])).max())}
            for i in range(layers)]


def table(runs, options) -> pd.DataFrame:
    """Rows of three kinds, by ``kind``: the curves (val accuracy per seed and epoch), the
    evaluation modes of each net, and each layer's bias change."""
    curves = runs_table(runs)[["arm", "seed", "epoch", "train_loss", "val_loss", "val_acc"]]
    frames = [curves.assign(kind="curve")]
    for run in runs:
        frames.append(pd.DataFrame(_modes(run, options)).assign(kind="mode", arm=run.arm))
        frames.append(pd.DataFrame(_bias_change(run)).assign(kind="bias", arm=run.arm))
    return pd.concat(frames, ignore_index=True)


def modes(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.kind == "mode"][["arm", "mode", "batch", "val_loss", "val_acc",
                                        "max_logit_diff", "batch_mates_diff"]]


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return modes(table)


def _mode(m: pd.DataFrame, arm: str, mode: str, batch: int = 0) -> pd.Series:
    rows = m[(m.arm == arm) & (m["mode"] == mode) & (m.batch == batch)]
    return rows.iloc[0]


def _bias(table: pd.DataFrame, arm: str, output: bool) -> float:
    rows = table[(table.kind == "bias") & (table.arm == arm)]
    return float(rows[rows.output_layer.astype(bool) == output].bias_change.max())


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    m = modes(table)
    o = options
    train_batches = sorted(m[m["mode"] == "train"].batch.unique())
    small, full = int(train_batches[0]), int(train_batches[-1])
    bn = "bn_before"
    ev = _mode(m, bn, "eval")
    tiny, whole = _mode(m, bn, "train", small), _mode(m, bn, "train", full)
    stale = _mode(m, bn, "eval, running statistics never updated")
    ln = m[m.arm == "layernorm"]
    ln_diff = float(ln[ln["mode"].isin(["train", "eval"])].max_logit_diff.max())
    ln_mates = float(ln.batch_mates_diff.max())
    shift = m[m["mode"].str.startswith("train, first bias")].set_index("arm").max_logit_diff
    still, out_moved = _bias(table, bn, False), _bias(table, bn, True)
    after_moved = _bias(table, "bn_after", False)
    curves = table[table.kind == "curve"]
    last = curves[curves.epoch == curves.epoch.max()].groupby("arm").val_acc.mean()
    return [
        Check(f"BatchNorm's train mode depends on the batch: with batches of {small} its val "
              f"accuracy is >= {o['small_drop'] * 100:g} points below eval mode's, and a "
              "sample's logits change with its batch-mates",
              bool(tiny.val_acc <= ev.val_acc - o["small_drop"]
                   and tiny.batch_mates_diff > 1e-3),
              f"eval {ev.val_acc:.1%}; train mode, batches of {small}: {tiny.val_acc:.1%}, "
              f"logits move by up to {tiny.batch_mates_diff:.3g} with other batch-mates"),
        Check(f"eval mode's running averages estimate the statistics: train mode on one batch "
              f"of {full} is within {o['full_match'] * 100:g} points of eval mode",
              bool(abs(whole.val_acc - ev.val_acc) <= o["full_match"]),
              f"train mode, one batch of {full}: {whole.val_acc:.1%} vs eval {ev.val_acc:.1%}"),
        Check(f"the running averages matter: with running statistics never updated, eval mode "
              f"loses >= {o['stale_drop'] * 100:g} points",
              bool(stale.val_acc <= ev.val_acc - o["stale_drop"]),
              f"{stale.val_acc:.1%} vs {ev.val_acc:.1%}"),
        Check(f"LayerNorm is the same in train and eval mode and for any batch: largest "
              f"|logit difference| < {o['same']:g}",
              bool(ln_diff < o["same"] and ln_mates < o["same"]),
              f"between the modes {ln_diff:.2g}, between batch-mates {ln_mates:.2g} (BatchNorm's "
              f"train mode vs its eval mode: up to "
              f"{m[(m.arm == bn) & (m['mode'] == 'train')].max_logit_diff.max():.3g})"),
        Check(f"the bias before BatchNorm is redundant: it gets no gradient (it ends within "
              f"{o['bias_still']:g} of its initial value while the output bias moves by > "
              f"{o['bias_moved']:g}) and shifting it by {SHIFT:g} changes no train-mode output",
              bool(still < o["bias_still"] and out_moved > o["bias_moved"]
                   and shift[bn] < o["same"]),
              f"hidden biases moved by {still:.2g}, output bias by {out_moved:.3g}; shifted "
              f"by {SHIFT:g}: logits change by {shift[bn]:.2g}"),
        Check(f"with BatchNorm after the activation the bias is not redundant: it moves by > "
              f"{o['bias_moved']:g} and shifting it changes the outputs",
              bool(after_moved > o["bias_moved"] and shift["bn_after"] > 1e-3),
              f"hidden biases moved by {after_moved:.3g}; shifted by {SHIFT:g}: logits change "
              f"by {shift['bn_after']:.3g}"),
        Check(f"both placements train: BN before and after the activation end within "
              f"{o['placement'] * 100:g} points of val accuracy of each other",
              bool(abs(last["bn_before"] - last["bn_after"]) <= o["placement"]),
              ", ".join(f"{LABELS[a]} {last[a]:.1%}" for a in LABELS if a in last)),
    ]


def draw(table: pd.DataFrame, options: dict):
    m = modes(table)
    fig, axes = plt.subplots(1, 3, figsize=(18, 5.2), gridspec_kw={"width_ratios": [1, 1.2, 1]})
    ax = axes[0]
    curves = table[table.kind == "curve"]
    for arm in LABELS:
        band(ax, curves[curves.arm == arm], "epoch", "val_acc", color=COLORS[arm],
             label=LABELS[arm], lw=2)
    ax.set(xlabel="epoch", ylabel="validation accuracy (eval mode; band: seeds)",
           title="Training: BN before or after the activation, LN, none")
    ax.legend(fontsize=8, loc="lower right")

    ax = axes[1]
    for arm in LABELS:
        part = m[(m.arm == arm) & (m["mode"] == "train")].sort_values("batch")
        ax.plot(part.batch, part.val_acc, marker="o", color=COLORS[arm], lw=2,
                label=f"{LABELS[arm]}, train mode")
        ax.axhline(_mode(m, arm, "eval").val_acc, color=COLORS[arm], ls="--", lw=1.2)
        stale = m[(m.arm == arm) & (m["mode"] == "eval, running statistics never updated")]
        if arm.startswith("bn"):
            ax.scatter([1.25], stale.val_acc, marker="x", s=70, color=COLORS[arm])
    ax.plot([], [], "k--", lw=1.2, label="dashed: eval mode (running averages)")
    ax.plot([], [], "kx", ls="none", label="x: eval mode, running statistics never updated")
    ax.set(xscale="log", xlim=(1, None),
           xlabel="train-mode batch size over the val split (log scale)",
           ylabel="validation accuracy",
           title="Train mode uses the batch's statistics, eval mode the running averages\n"
                 "(LayerNorm and no normalization: the same in both)")
    ax.legend(fontsize=7.5, loc="lower right")

    ax = axes[2]
    bias = table[table.kind == "bias"]
    arms = [a for a in LABELS if a in set(bias.arm)]
    width = 0.8 / len(arms)
    floor = 1e-9
    for i, arm in enumerate(arms):
        part = bias[bias.arm == arm].sort_values("layer")
        ax.scatter(part.layer + (i - (len(arms) - 1) / 2) * width,
                   part.bias_change.clip(lower=floor), s=90, color=COLORS[arm],
                   label=LABELS[arm], zorder=3)
    layers = sorted(int(k) for k in bias.layer.unique())
    ax.set_xticks(layers, [f"layer {k}" + ("\n(output)" if k == layers[-1] else "")
                           for k in layers])
    ax.set(yscale="log", ylim=(floor / 2, 5),
           ylabel="largest |bias change| over training (log scale)",
           title="BN before the activation rules the bias out:\nit gets no gradient and never "
                 "moves")
    ax.legend(fontsize=8, loc="center")
    for ax in axes:
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
