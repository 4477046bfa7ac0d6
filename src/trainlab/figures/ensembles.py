"""Model ensembles (lecture 001): K independently trained nets, their averaged predicted
probabilities against each alone; parameter averaging (Polyak / EMA of one run's iterates,
trainlab's ``param_average``) against the last iterate and against the ensemble; and why
averaging the weights of independent nets does not work."""

from __future__ import annotations

import jax
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab import predict
from trainlab.data import load_dataset
from trainlab.figures.common import Check, load_params, runs_table
from trainlab.figures.plots import band


def _cross_entropy(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.maximum(probs[np.arange(len(y)), y], 1e-30)).mean())


def table(runs, options) -> pd.DataFrame:
    runs = sorted(runs, key=lambda r: r.cfg.seed)
    cfg = runs[0].cfg
    data = load_dataset(cfg.data, cfg.dtype)
    x, y = data.x_test, data.y_test
    params = [load_params(run) for run in runs]
    probs = np.stack([np.asarray(predict.probabilities(run.cfg, p, x))
                      for run, p in zip(runs, params, strict=True)])
    # each member's Polyak / EMA average of its own iterates (params_average.npz)
    averages = np.stack([np.asarray(predict.probabilities(run.cfg, load_params(run, "average"),
                                                          x)) for run in runs])
    rows = []
    for k, run in enumerate(runs, start=1):
        single = float((probs[k - 1].argmax(-1) == y).mean())
        ensemble = float((probs[:k].mean(0).argmax(-1) == y).mean())
        votes = np.apply_along_axis(np.bincount, 1, probs[:k].argmax(-1).T, minlength=10)
        vote = float((votes.argmax(-1) == y).mean())  # ties: the lowest class
        averaged = jax.tree_util.tree_map(lambda *a: np.mean(a, axis=0), *params[:k])
        weights = float((np.asarray(predict.probabilities(cfg, averaged, x)).argmax(-1)
                         == y).mean())
        rows.append({"kind": "test", "k": k, "seed": run.cfg.seed, "single_test_acc": single,
                     "single_test_loss": _cross_entropy(probs[k - 1], y),
                     "polyak_test_acc": float((averages[k - 1].argmax(-1) == y).mean()),
                     "polyak_test_loss": _cross_entropy(averages[k - 1], y),
                     "ensemble_test_acc": ensemble, "vote_test_acc": vote,
                     "polyak_ensemble_test_acc": float((averages[:k].mean(0).argmax(-1)
                                                        == y).mean()),
                     "weight_average_test_acc": weights,
                     "mean_single_test_acc": float(np.mean([
                         (probs[i].argmax(-1) == y).mean() for i in range(k)])),
                     "summary_test_acc": run.summary["test_acc"],
                     "summary_test_avg_acc": run.summary["test_avg_acc"],
                     "param_average": run.cfg.param_average})
    curves = runs_table(runs)[["seed", "epoch", "train_loss", "train_acc", "val_loss",
                               "val_acc", "val_avg_loss", "val_avg_acc"]].assign(kind="curve")
    return pd.concat([pd.DataFrame(rows), curves], ignore_index=True)


def members(table: pd.DataFrame) -> pd.DataFrame:
    t = table[table.kind == "test"].dropna(axis=1, how="all")
    return t.astype({"k": int, "seed": int}).reset_index(drop=True)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    m = members(table)
    keep = ["k", "seed", "single_test_acc", "polyak_test_acc", "mean_single_test_acc",
            "ensemble_test_acc", "polyak_ensemble_test_acc", "vote_test_acc",
            "weight_average_test_acc"]
    return m[keep].rename(columns={
        "k": "k (members)", "seed": "member k's seed", "single_test_acc": "member k alone",
        "polyak_test_acc": "member k, Polyak average",
        "mean_single_test_acc": "mean of members 1..k", "ensemble_test_acc": "ensemble 1..k",
        "polyak_ensemble_test_acc": "ensemble of averages 1..k",
        "vote_test_acc": "majority vote 1..k", "weight_average_test_acc": "weights averaged"})


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    m = members(table)
    last = m.iloc[-1]
    singles, polyak = m.single_test_acc, m.polyak_test_acc
    decay = float(m.param_average.iloc[0])
    lead = float(options["ensemble_lead"])
    return [
        Check(f"the ensemble of all {len(m)} members: test accuracy >= the mean single-model "
              "accuracy", bool(last.ensemble_test_acc >= singles.mean()),
              f"{last.ensemble_test_acc:.1%} vs mean {singles.mean():.1%} "
              f"(best single {singles.max():.1%})"),
        Check(f"parameter averaging (Polyak / EMA of one run's iterates, decay {decay:g}) beats "
              "the run's last iterate: lower test loss for every member and a higher mean test "
              "accuracy", bool((m.polyak_test_loss < m.single_test_loss).all()
                               and polyak.mean() > singles.mean()),
              f"test loss {m.polyak_test_loss.mean():.3f} vs {m.single_test_loss.mean():.3f} "
              f"(lower for {int((m.polyak_test_loss < m.single_test_loss).sum())} of {len(m)});"
              f" accuracy {polyak.mean():.1%} vs {singles.mean():.1%} (higher for "
              f"{int((polyak > singles).sum())} of {len(m)})"),
        Check(f"but one averaged run is no ensemble: the ensemble of {len(m)} last iterates "
              f"beats the mean averaged run by >= {lead:.0%}",
              bool(last.ensemble_test_acc >= polyak.mean() + lead),
              f"{last.ensemble_test_acc:.1%} vs {polyak.mean():.1%}; the ensemble of the "
              f"averages {last.polyak_ensemble_test_acc:.1%}"),
        Check("the members' stored params reproduce each run's own test accuracy (last "
              "iterate and average)",
              bool(np.allclose(m.single_test_acc, m.summary_test_acc, atol=1.5e-3)
                   and np.allclose(polyak, m.summary_test_avg_acc, atol=1.5e-3)),
              f"max difference {np.abs(m.single_test_acc - m.summary_test_acc).max():.1e}, "
              f"average {np.abs(polyak - m.summary_test_avg_acc).max():.1e}"),
    ]


def draw(table: pd.DataFrame, options: dict):
    m = members(table)
    decay = float(m.param_average.iloc[0])
    fig, (ax_curve, ax_avg, ax_k) = plt.subplots(1, 3, figsize=(19, 5.4))
    curves = table[(table.kind == "curve") & (table.epoch >= 1)]
    band(ax_curve, curves, "epoch", "train_acc", color="C0", label="training accuracy")
    band(ax_curve, curves, "epoch", "val_acc", color="C3", label="validation accuracy")
    band(ax_curve, curves, "epoch", "val_avg_acc", color="C2", ls="--",
         label=f"validation accuracy, Polyak / EMA average (decay {decay:g})")
    ax_curve.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
                 title=f"The {len(m)} members (seeds {m.seed.min()}..{m.seed.max()}), trained "
                       "at once\n(mean, band: min-max over members)")
    ax_curve.legend(loc="lower right", fontsize=8.5)
    band(ax_avg, curves, "epoch", "val_loss", color="C3", label="last iterate")
    band(ax_avg, curves, "epoch", "val_avg_loss", color="C2", ls="--",
         label=f"Polyak / EMA average of the iterates (decay {decay:g})")
    ax_avg.set(xlabel="epoch", ylabel="validation loss (cross-entropy)",
               title="Parameter averaging within one run: the average\nof the iterates "
                     "overfits less than the last one")
    ax_avg.legend(fontsize=8.5, loc="upper left")
    ax_k.plot(m.k, m.ensemble_test_acc, "o-", color="C2", lw=2,
              label="ensemble: mean of the members' probabilities")
    ax_k.plot(m.k, m.polyak_ensemble_test_acc, "^-", color="C9", ms=5,
              label="ensemble of the members' Polyak averages")
    ax_k.plot(m.k, m.vote_test_acc, "s--", color="C4", ms=4, label="ensemble: majority vote")
    ax_k.plot(m.k, m.single_test_acc, "k.", ms=8, label="member k alone (last iterate)")
    ax_k.plot(m.k, m.polyak_test_acc, "+", color="C2", ms=10, mew=2,
              label="member k alone, Polyak average")
    ax_k.axhline(m.single_test_acc.mean(), color="k", ls=":", lw=1.2,
                 label=f"mean single model ({m.single_test_acc.mean():.1%})")
    ax_k.axhline(m.polyak_test_acc.mean(), color="C2", ls=":", lw=1.2,
                 label=f"mean Polyak average ({m.polyak_test_acc.mean():.1%})")
    ax_k.plot(m.k, m.weight_average_test_acc, "x-", color="C1",
              label="one net with the members' weights averaged")
    ax_k.set(xlabel="k, members in the ensemble (the first k seeds)",
             ylabel="test accuracy (1000 samples)", xticks=m.k,
             title="Ensembles of independent nets: average predictions, not weights")
    ax_k.legend(fontsize=7.5, loc="center right")
    for ax in (ax_curve, ax_avg, ax_k):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
