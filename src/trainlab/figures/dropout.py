"""Dropout (lectures 000, 001, 003): it narrows the train/validation gap; at test time weight
scaling and inverted dropout are one network, and Monte-Carlo averaging of many masks comes
close to it."""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab import predict
from trainlab.data import load_dataset
from trainlab.figures.common import Check, load_params, runs_table
from trainlab.figures.plots import band

DETERMINISTIC = "inverted dropout (trainlab's eval pass)"
SCALED = "weight scaling of the standard-dropout net"
RAW = "standard-dropout net, not rescaled"
MC = "Monte-Carlo average"


def _label(cfg) -> str:
    p_in, p_hidden = cfg.model.input_dropout, cfg.model.hidden_dropout
    if not p_in and not p_hidden:
        return "no dropout"
    parts = [f"{p_in:g} input" if p_in else "", f"{p_hidden:g} hidden" if p_hidden else ""]
    return "dropout " + " + ".join(p for p in parts if p)


def _test_time(run, options) -> list[dict]:
    """The run's net (one seed) on the test set, each test-time rule. A deterministic rule's
    row also says how far its logits are from the mean logits of the training-mode net (the
    mean over the largest number of masks): the claim behind weight scaling is that the test
    pass gives each unit the input it had in training, on average."""
    cfg = run.cfg
    data = load_dataset(cfg.data, cfg.dtype)
    x, y = data.x_test, data.y_test
    params = load_params(run)
    standard = predict.as_standard_dropout(cfg, params)
    outputs = {DETERMINISTIC: predict.logits(cfg, params, x),
               SCALED: predict.logits(cfg, predict.weight_scaling(cfg, standard), x),
               RAW: predict.logits(cfg, standard, x)}
    outputs = {rule: np.asarray(out, np.float64) for rule, out in outputs.items()}
    deterministic = _softmax(outputs[DETERMINISTIC])
    label = deterministic.argmax(-1)
    base = {"arm": run.arm, "dropout": _label(cfg), "seed": cfg.seed}
    dropped = cfg.model.input_dropout or cfg.model.hidden_dropout
    samples = [int(t) for t in options["mc_samples"]]
    passes = (np.asarray(predict.mc_dropout_logits(
        cfg, params, x, jax.random.PRNGKey(options["mc_key"]), max(samples)), np.float64)
        if dropped else None)
    trained = passes.mean(0) if dropped else None

    def row(rule, probs, samples=np.nan, out=None):
        r = base | {"rule": rule, "samples": samples,
                    "test_acc": float((probs.argmax(-1) == y).mean()),
                    "agreement": float((probs.argmax(-1) == label).mean()),
                    "max_prob_diff": float(np.abs(probs - deterministic).max())}
        if out is not None and trained is not None:
            size = np.linalg.norm(trained)
            r |= {"logit_scale": float(np.linalg.norm(out) / size),
                  "logit_error": float(np.linalg.norm(out - trained) / size)}
        return r

    rows = [row(rule, _softmax(out), out=out) for rule, out in outputs.items()]
    if dropped:
        probs = _softmax(passes)
        for t in samples:
            rows.append(row(MC, probs[:t].mean(0), t))
    return rows


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def table(runs, options) -> pd.DataFrame:
    curves = runs_table(runs)[["arm", "seed", "epoch", "train_loss", "train_acc", "val_loss",
                               "val_acc"]].assign(kind="curve")
    curves["dropout"] = curves.arm.map({run.arm: _label(run.cfg) for run in runs})
    tests = pd.DataFrame([r for run in runs for r in _test_time(run, options)]).assign(
        kind="test_time")
    return pd.concat([curves, tests], ignore_index=True)


def gaps(table: pd.DataFrame) -> pd.DataFrame:
    """Final train/validation gaps per arm (mean over seeds)."""
    curves = table[table.kind == "curve"]
    last = curves[curves.epoch == curves.epoch.max()]
    out = last.groupby("arm", sort=False).agg(
        dropout=("dropout", "first"), train_acc=("train_acc", "mean"), val_acc=("val_acc", "mean"),
        train_loss=("train_loss", "mean"), val_loss=("val_loss", "mean"))
    out["gap_acc"] = out.train_acc - out.val_acc
    out["gap_loss"] = out.val_loss - out.train_loss
    return out.reset_index()


def test_time(table: pd.DataFrame) -> pd.DataFrame:
    return table[table.kind == "test_time"].dropna(axis=1, how="all")


def test_time_means(table: pd.DataFrame) -> pd.DataFrame:
    """Test-time numbers per arm, rule and T, mean (and min, max) over the seeds' nets."""
    t = test_time(table).copy()
    t["samples"] = t.samples.fillna(0).astype(int)  # 0: a deterministic rule
    return t.groupby(["arm", "rule", "samples"], sort=False).agg(
        dropout=("dropout", "first"), seeds=("seed", "count"), test_acc=("test_acc", "mean"),
        test_acc_min=("test_acc", "min"), test_acc_max=("test_acc", "max"),
        agreement=("agreement", "mean"), agreement_min=("agreement", "min"),
        max_prob_diff=("max_prob_diff", "max"), logit_scale=("logit_scale", "mean"),
        logit_error=("logit_error", "mean"),
        logit_error_max=("logit_error", "max")).reset_index()


def _rule(t: pd.DataFrame, arm: str, rule: str) -> pd.DataFrame:
    return t[(t.arm == arm) & (t.rule == rule)]


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    g = gaps(table).set_index("arm")
    t = test_time_means(table)
    rows = []
    for arm in g.index:
        mc = _rule(t, arm, MC)
        last = mc.iloc[-1] if len(mc) else None
        rows.append({
            "dropout": g.dropout[arm], "train acc": g.train_acc[arm], "val acc": g.val_acc[arm],
            "gap acc": g.gap_acc[arm], "gap loss": g.gap_loss[arm],
            "test acc": _rule(t, arm, DETERMINISTIC).test_acc.iloc[0],
            "weight scaling": _rule(t, arm, SCALED).test_acc.iloc[0],
            "not rescaled": _rule(t, arm, RAW).test_acc.iloc[0],
            "MC T": last.samples if last is not None else np.nan,
            "MC test acc": last.test_acc if last is not None else np.nan,
            "MC agreement": last.agreement if last is not None else np.nan,
        })
    return pd.DataFrame(rows)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    g = gaps(table)
    none = g[g.arm == "no_dropout"].iloc[0]
    dropped = g[g.arm != "no_dropout"]
    tol = float(options["tolerance"])
    agree = float(options["agreement"])
    close, off = float(options["mean_output"]), float(options["unscaled_off"])
    checks = [
        Check("train/validation accuracy gap shrinks with dropout",
              bool((dropped.gap_acc < none.gap_acc).all()),
              ", ".join(f"{d}: {v:.1%}" for d, v in zip(g.dropout, g.gap_acc, strict=True))),
        Check("train/validation loss gap shrinks with dropout",
              bool((dropped.gap_loss < none.gap_loss).all()),
              ", ".join(f"{d}: {v:.2f}" for d, v in zip(g.dropout, g.gap_loss, strict=True))),
    ]
    t = test_time_means(table)
    for arm in g.arm:
        mc = _rule(t, arm, MC)
        if not len(mc):
            continue
        det, scaled, raw, last = (_rule(t, arm, DETERMINISTIC).iloc[0],
                                  _rule(t, arm, SCALED).iloc[0], _rule(t, arm, RAW).iloc[0],
                                  mc.iloc[-1])
        name, n = det.dropout, int(det.seeds)
        checks += [
            Check(f"by construction: {name}: weight scaling of the standard-dropout net "
                  "(W / (1 - p), times 1 - p) is the inverted-dropout network",
                  bool(scaled.max_prob_diff < 1e-4),
                  f"max |probability difference| {scaled.max_prob_diff:.1e}"),
            Check(f"{name}: the test-time pass (inverted dropout = weight scaling) gives the "
                  f"training-mode net's mean output: logits within {close:.0%} of the mean "
                  f"logits of {last.samples} dropout passes (every net), while the standard-"
                  f"dropout net not rescaled is off by more than {off:.0%}",
                  bool(det.logit_error_max < close and raw.logit_error > off),
                  f"relative distance {det.logit_error:.1%} (worst net "
                  f"{det.logit_error_max:.1%}, scale {det.logit_scale:.2f}x); not rescaled "
                  f"{raw.logit_error:.0%} (scale {raw.logit_scale:.2f}x), test accuracy "
                  f"{raw.test_acc:.1%} vs {det.test_acc:.1%}"),
            Check(f"{name}: Monte-Carlo average of {last.samples} masks within {tol * 100:g} "
                  f"points of the deterministic pass (mean over {n} nets)",
                  bool(abs(last.test_acc - det.test_acc) <= tol),
                  f"{last.test_acc:.1%} vs {det.test_acc:.1%}"),
            Check(f"{name}: argmax agreement with the deterministic pass above {agree:.0%} "
                  f"(mean over {n} nets)",
                  bool(last.agreement > agree),
                  f"{last.agreement:.1%} (lowest net {last.agreement_min:.1%})"),
        ]
    return checks


def draw(table: pd.DataFrame, options: dict):
    g = gaps(table)
    fig, (ax_curve, ax_gap, ax_mc) = plt.subplots(1, 3, figsize=(18, 6.2),
                                                  gridspec_kw={"width_ratios": [1.3, 0.8, 1]})
    curves = table[(table.kind == "curve") & (table.epoch >= 1)]
    colors = {arm: f"C{i}" for i, arm in enumerate(g.arm)}
    for arm, part in curves.groupby("arm", sort=False):
        name = part.dropout.iloc[0]
        band(ax_curve, part, "epoch", "train_acc", color=colors[arm], label=f"{name}: train")
        band(ax_curve, part, "epoch", "val_acc", color=colors[arm], ls="--",
             label=f"{name}: validation")
    ax_curve.set(xlabel="epoch", ylabel="accuracy (training mode off)", ylim=(0, 1.02),
                 title="Accuracy, 500 training samples\n(mean over seeds, band: min-max)")
    ax_curve.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2)
    x = np.arange(len(g))
    ax_gap.bar(x - 0.2, g.gap_acc, 0.4, color=[colors[a] for a in g.arm], label="accuracy gap")
    twin = ax_gap.twinx()
    twin.bar(x + 0.2, g.gap_loss, 0.4, color=[colors[a] for a in g.arm], alpha=0.45,
             hatch="//", label="loss gap")
    ax_gap.set(xticks=x, xticklabels=[d.replace("dropout ", "dropout\n") for d in g.dropout],
               ylabel="train acc - val acc (solid)",
               title="Final train/validation gap")
    twin.set_ylabel("val loss - train loss (hatched)")
    ax_gap.tick_params(axis="x", labelsize=8)
    means = test_time_means(table)
    for arm in g.arm:
        part = _rule(means, arm, MC)
        if not len(part):
            continue
        det, raw = _rule(means, arm, DETERMINISTIC).iloc[0], _rule(means, arm, RAW).iloc[0]
        color = colors[arm]
        ax_mc.plot(part.samples, part.test_acc, "o-", color=color,
                   label=f"{det.dropout}: MC average of T masks")
        ax_mc.fill_between(part.samples, part.test_acc_min, part.test_acc_max, color=color,
                           alpha=0.15, lw=0)
        ax_mc.axhline(det.test_acc, color=color, ls="--", lw=1.2,
                      label=f"  deterministic = weight scaling: {det.test_acc:.1%}")
        ax_mc.axhline(raw.test_acc, color=color, ls=":", lw=1.2,
                      label=f"  not rescaled (wrong): {raw.test_acc:.1%}, logits "
                            f"{raw.logit_scale:.1f}x the training-mode mean")
        last = part.iloc[-1]
        ax_mc.annotate(f"argmax agreement {last.agreement:.0%}", (last.samples, last.test_acc),
                       textcoords="offset points", xytext=(-10, -14), ha="right", fontsize=8,
                       color=color)
    ax_mc.set(xscale="log", xlabel="T, dropout masks averaged (log)",
              ylabel="test accuracy (1000 samples)",
              title="Test time: Monte-Carlo average vs the deterministic pass\n"
                    "(mean over the seeds' nets, band: min-max)")
    ax_mc.legend(fontsize=7.5, loc="lower right")
    for ax in (ax_curve, ax_mc):
        ax.grid(alpha=0.3, which="both")
    ax_gap.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig
