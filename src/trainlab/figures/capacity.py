"""Capacity (lecture 003, after Caruana et al.): polynomials of growing degree overfit 21
noisy points; MLPs of 1 to 100 hidden units do not overfit in the same way."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from trainlab.data import load_dataset
from trainlab.figures.common import Check, predict
from trainlab.figures.plots import plain_log_y

LABELS = {"lstsq": "polynomial, least squares", "gd_monomial": "polynomial, GD on x^n",
          "gd_legendre": "polynomial, GD on Legendre", "mlp": "tanh MLP, SGD + momentum"}
COLORS = {"lstsq": "C3", "gd_monomial": "C1", "gd_legendre": "C2", "mlp": "C0"}


def _size(run) -> int:
    """Degree of a polynomial, hidden units of an MLP."""
    widths = run.cfg.model.hidden_widths()
    return int(widths[0]) if widths else run.cfg.model.degree


def table(runs, options) -> pd.DataFrame:
    """Long table: one 'error' row per run (train / test MSE), 'fit' rows with the fitted
    curve of the runs options['curves'] names (and every MLP), 'data' rows with the points."""
    data = load_dataset(runs[0].cfg.data, "float64")
    grid = np.linspace(-1, 1, options["grid"])
    curves = options["curves"]
    rows = [pd.DataFrame({"kind": "data", "split": "train", "x": data.x_train[:, 0],
                          "y": data.y_train[:, 0]}),
            pd.DataFrame({"kind": "data", "split": "truth", "x": data.x_test[:, 0],
                          "y": data.y_test[:, 0]})]
    for run in runs:
        s = run.summary
        rows.append(pd.DataFrame([{
            "kind": "error", "model": run.arm, "size": _size(run),
            "train_mse": s["final_train_loss"], "test_mse": s["test_loss"],
            "test_mse_std": s.get("test_loss_std", 0.0), "status": s["status"]}]))
        if run.arm == "mlp" or _size(run) in curves.get(run.arm, []):
            y = predict(run, grid[:, None])[:, 0]
            rows.append(pd.DataFrame({"kind": "fit", "model": run.arm, "size": _size(run),
                                      "x": grid, "y": y}))
    return pd.concat(rows, ignore_index=True)


def errors(table: pd.DataFrame) -> pd.DataFrame:
    e = table[table.kind == "error"]
    return e[["model", "size", "train_mse", "test_mse", "test_mse_std", "status"]] \
        .reset_index(drop=True)


def brief(table: pd.DataFrame, options: dict) -> pd.DataFrame:
    return errors(table)


def check(table: pd.DataFrame, options: dict) -> list[Check]:
    e = errors(table).set_index(["model", "size"])
    checks = []
    if ("lstsq", 20) in e.index and ("lstsq", 6) in e.index:
        d20, d6 = e.loc[("lstsq", 20)], e.loc[("lstsq", 6)]
        checks.append(Check("degree 20 (least squares): train error ~0",
                            d20.train_mse < 1e-6, f"train MSE {d20.train_mse:.1e}"))
        ratio = d20.test_mse / d6.test_mse
        checks.append(Check("degree 20: test error (MSE against the noise-free curve) orders "
                            "of magnitude (>= 100x) above degree 6's", ratio >= 100,
                            f"{d20.test_mse:.3g} vs {d6.test_mse:.3g} ({ratio:.2g}x)"))
    if ("mlp", 100) in e.index and ("mlp", 10) in e.index:
        m100, m10 = e.loc[("mlp", 100)].test_mse, e.loc[("mlp", 10)].test_mse
        checks.append(Check("MLP-100's test error within 2x of MLP-10's",
                            m100 <= 2 * m10, f"{m100:.4f} vs {m10:.4f} ({m100 / m10:.2f}x)"))
    if ("gd_monomial", 20) in e.index and ("gd_legendre", 20) in e.index:
        mono, leg = e.loc[("gd_monomial", 20)], e.loc[("gd_legendre", 20)]
        checks.append(Check("GD at degree 20: the Legendre basis fits the training points "
                            "closer than raw monomials (implicit regularization of x^n)",
                            leg.train_mse < mono.train_mse,
                            f"train MSE {leg.train_mse:.4f} vs {mono.train_mse:.4f}; test "
                            f"{leg.test_mse:.3g} vs {mono.test_mse:.3g}"))
    return checks


def _points(ax, table: pd.DataFrame) -> None:
    truth = table[(table.kind == "data") & (table.split == "truth")]
    train = table[(table.kind == "data") & (table.split == "train")]
    ax.plot(truth.x, truth.y, color="k", lw=1, ls=":", label="true curve sin(pi x)")
    ax.plot(train.x, train.y, "ko", ms=4, label="21 noisy training points")


def draw(table: pd.DataFrame, options: dict):
    fig, axes = plt.subplots(2, 2, figsize=(15.5, 9.5), gridspec_kw={"width_ratios": [1, 1.1]})
    e = errors(table)
    ax = axes[0, 0]
    for model in [m for m in LABELS if m != "mlp" and m in set(e.model)]:
        part = e[e.model == model]
        ax.plot(part["size"], part.test_mse, "o-", color=COLORS[model],
                label=f"{LABELS[model]}: test (vs the noise-free curve)")
        ax.plot(part["size"], part.train_mse.clip(lower=1e-12), "s--", ms=3,
                color=COLORS[model], alpha=0.7, label=f"{LABELS[model]}: train")
    ax.set(yscale="log", xlabel="polynomial degree",
           ylabel="MSE (train: the noisy points; test: the noise-free curve)",
           title="Polynomials: train and test error by degree", ylim=(1e-12, None))
    ax.legend(fontsize=7)
    ax = axes[0, 1]
    _points(ax, table)
    fits = table[(table.kind == "fit") & (table.model != "mlp")]
    for i, ((model, size), part) in enumerate(fits.groupby(["model", "size"], sort=False)):
        ax.plot(part.x, part.y, color=COLORS[model], lw=1.2, alpha=0.9,
                ls=["-", "--", "-.", ":"][i % 4], label=f"{LABELS[model]}, degree {size:g}")
    ax.set(ylim=(-2, 2), xlabel="x", ylabel="y",
           title="Polynomial fits (degree 20 least squares: through every point, wild between)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax = axes[1, 0]
    part = e[e.model == "mlp"]
    ax.errorbar(part["size"], part.test_mse, yerr=part.test_mse_std, fmt="o-", color="C0",
                label="test, vs the noise-free curve (mean ± std over seeds)")
    ax.plot(part["size"], part.train_mse, "s--", color="C0", alpha=0.7,
            label="train, vs the noisy points")
    ax.set(xscale="log", xlabel="hidden units",
           ylabel="MSE (train: the noisy points; test: the noise-free curve)",
           title="tanh MLPs: train and test error by width")
    plain_log_y(ax)
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    _points(ax, table)
    fits = table[(table.kind == "fit") & (table.model == "mlp")]
    for i, (size, part) in enumerate(fits.groupby("size")):
        ax.plot(part.x, part.y, color=plt.cm.viridis(i / 3), lw=1.5,
                label=f"MLP, {size:g} hidden unit{'s' if size > 1 else ''}")
    ax.set(ylim=(-2, 2), xlabel="x", ylabel="y", title="MLP fits (first seed)")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle("Capacity: 21 noisy points of sin(pi x) - polynomials overfit, "
                 "big MLPs much less (Caruana et al.)", fontsize=13)
    fig.tight_layout()
    return fig
