"""The `train` command end to end, in a subprocess as a user runs it: the files of the run
contract, every group overridden at once, determinism, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlab.config import GROUPS

CONF = Path(__file__).resolve().parents[1] / "src" / "trainlab" / "conf"
TRAIN = [sys.executable, "-m", "trainlab.cli"]
SUMMARY_KEYS = {
    "status", "best_epoch", "best_val_loss", "best_val_acc", "final_train_loss",
    "final_val_loss", "test_loss", "test_acc", "n_params", "wall_s", "compile_s",
    "steps_per_s", "overrides",
}
METRICS_COLUMNS = ["seed", "epoch", "step", "lr", "train_loss", "train_acc", "val_loss",
                   "val_acc"]


def train(run_dir: Path, *overrides: str) -> subprocess.CompletedProcess:
    flags = [o for o in overrides if o.startswith("-")]  # before the overrides, for argparse
    overrides = [o for o in overrides if not o.startswith("-")]
    args = [*TRAIN, *flags, f"hydra.run.dir={run_dir}", "progress=false", *overrides]
    return subprocess.run(args, capture_output=True, text=True, timeout=300)


def test_every_choice_has_a_config_file():
    for group, choices in GROUPS.items():
        files = {p.stem for p in (CONF / group).glob("*.yaml")}
        assert files == set(choices), group


def test_help_lists_every_group_and_choice():
    result = subprocess.run([*TRAIN, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for group, choices in GROUPS.items():
        line = next(x for x in result.stdout.splitlines() if x.startswith(f"{group}: "))
        assert set(line.split(": ", 1)[1].split(", ")) == set(choices)
    assert "schema/" not in result.stdout


def test_default_run_writes_the_contract(tmp_path):
    result = train(tmp_path, "epochs=2", "model.widths=[32]")
    assert result.returncode == 0, result.stderr
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert list(metrics.columns[: len(METRICS_COLUMNS)]) == METRICS_COLUMNS
    assert list(metrics.epoch) == [0, 1, 2]
    assert {"train_objective", "time_s", "grad_norm/1", "dead_frac/1"} <= set(metrics.columns)
    assert metrics.step.iloc[-1] == 2 * (3200 // 128)  # MNIST-1D: 4000 train, 20% validation
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["status"] == "ok"
    assert summary["overrides"] == ["progress=false", "epochs=2", "model.widths=[32]"]
    assert summary["n_params"] == 40 * 32 + 32 + 32 * 10 + 10
    with np.load(tmp_path / "params_final.npz") as params:
        assert sorted(params.files) == ["layers.0.b", "layers.0.w", "layers.1.b", "layers.1.w"]
        assert params["layers.0.w"].shape == (40, 32)
    assert (tmp_path / "params_init.npz").is_file()
    assert "best_val_loss" in result.stdout  # the summary table


def test_every_group_overridden_at_once(tmp_path):
    result = train(
        tmp_path, "data=moons", "data.n_samples=300", "model.widths=[16,16]",
        "model.hidden_dropout=0.2", "init=xavier_uniform", "init.gain=1.5", "activation=tanh",
        "normalization=batchnorm", "regularizer=l2", "regularizer.kappa=1e-3",
        "optimizer=momentum", "optimizer.lr=0.05", "optimizer.form=ema", "schedule=cosine",
        "loss=hinge", "seeds=3", "epochs=6", "batch_size=32", "early_stopping.enabled=true",
        "early_stopping.patience=2", "dtype=float64", "diagnostics=full",
    )
    assert result.returncode == 0, result.stderr
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert sorted(metrics.seed.unique()) == [0, 1, 2]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {"best_val_loss_std", "test_acc_std"} <= summary.keys()
    assert np.isfinite(summary["best_val_loss"])
    assert (tmp_path / "params_best.npz").is_file()  # early stopping keeps the best params
    histograms = pd.read_csv(tmp_path / "histograms.csv")  # diagnostics=full: a long table
    assert list(histograms.columns) == ["seed", "epoch", "layer", "bin", "lo", "hi", "fraction"]
    assert not any(c.startswith("act_hist") for c in metrics.columns)
    assert "grad_norm/1" in metrics.columns
    with np.load(tmp_path / "params_final.npz") as params:
        assert {"layers.0.gamma", "layers.0.beta", "layers.0.mean", "layers.0.var"} <= set(
            params.files)  # BatchNorm's parameters and its running statistics
        assert params["layers.0.w"].dtype == np.float64


def test_same_seed_same_numbers_bit_for_bit(tmp_path):
    args = ("data=moons", "data.n_samples=200", "model.widths=[8]", "epochs=3",
            "model.hidden_dropout=0.5", "batch_size=16")
    for name in ("a", "b"):
        assert train(tmp_path / name, *args).returncode == 0
    def numbers(name: str) -> bytes:  # every column but the wall-clock time
        table = pd.read_csv(tmp_path / name / "metrics.csv").drop(columns="time_s")
        return table.to_csv(index=False, float_format="%.17g").encode()

    assert numbers("a") == numbers("b")
    other = train(tmp_path / "c", *args, "seed=1")
    assert numbers("c") != numbers("a"), other.stderr


def _npz(tmp_path: Path, **arrays) -> list[str]:
    path = tmp_path / "data.npz"
    np.savez(path, **arrays)
    return ["data=npz", f"data.path={path}"]


def _text_file(tmp_path: Path) -> list[str]:
    path = tmp_path / "notes.npz"
    path.write_text("not an npz file")
    return ["data=npz", f"data.path={path}"]


X = np.random.default_rng(0).normal(size=(20, 3))
Y = np.arange(20) % 2
X_NAN = np.where(np.arange(60).reshape(20, 3) == 7, np.nan, X)

# name -> (overrides, or a function of tmp_path making them; a word the error must name)
BAD_INPUTS = {
    "unknown choice": (["optimizer=adamx"], "optimizer"),
    "unknown key": (["optimizer.lrr=0.1"], "lrr"),
    "wrong type": (["epochs=many"], "epochs"),
    "lr zero": (["optimizer.lr=0"], "optimizer.lr"),
    "lr negative": (["optimizer.lr=-0.1"], "optimizer.lr"),
    "dropout one": (["model.hidden_dropout=1.0"], "model.hidden_dropout"),
    "dropout negative": (["model.input_dropout=-0.1"], "model.input_dropout"),
    "widths empty": (["model.widths=[]"], "model.widths"),
    "widths zero": (["model.widths=[16,0]"], "model.widths"),
    "patience zero": (["early_stopping.patience=0"], "early_stopping.patience"),
    "npz missing": (lambda tmp: ["data=npz", f"data.path={tmp / 'nowhere.npz'}"], "data.path"),
    "npz malformed": (_text_file, "data.path"),
    "npz without y": (lambda tmp: _npz(tmp, x_train=X), "y_train"),
    "npz nan": (lambda tmp: _npz(tmp, x_train=X_NAN, y_train=Y), "NaN"),
    "labels out of range": (lambda tmp: _npz(tmp, x_train=X, y_train=Y + 1, n_classes=2),
                            "labels"),
    "npz empty train": (lambda tmp: _npz(tmp, x_train=X[:0], y_train=Y[:0]), "x_train"),
    "npz beyond float32": (lambda tmp: _npz(tmp, x_train=np.where(X > 1.5, 1e39, X),
                                             y_train=Y), "x_train"),
    "npz sparse labels": (lambda tmp: _npz(tmp, x_train=X, y_train=np.where(Y, 10**9, 0)),
                          "n_classes"),
    "npz too many classes": (lambda tmp: _npz(tmp, x_train=X, y_train=Y, n_classes=10**9),
                             "n_classes"),
    "batch larger than data": (["data=xor", "batch_size=8"], "batch_size"),
    "batch size word": (["batch_size=half"], "batch_size"),
    # A `+` adds a key to the config: it must not bypass the schema (issue 8).
    "added unknown key": (["+unknown_key=1"], "unknown_key"),
    "added typo'd key": (["optimizer=momentum", "+optimizer.momentun=0.5"], "momentum?"),
    "typo names the closest key": (["optimizer.lrr=0.1"], "did you mean lr?"),
    "other libraries' name": (["optimizer.learning_rate=0.1"], "did you mean lr?"),
    "key of another choice": (["regularizer.kappa=1e-4"],
                              "regularizer=l2, l1, elastic_net take it"),
    "nothing to search": (lambda tmp: ["-m", f"hydra.sweep.dir={tmp / 'run'}",
                                       "hydra/sweeper=quasirandom", "epochs=1"],
                          "hydra/sweeper=quasirandom: nothing to search"),
}


@pytest.mark.parametrize("name", BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_leaves_nothing(tmp_path, name):
    overrides, word = BAD_INPUTS[name]
    if callable(overrides):
        overrides = overrides(tmp_path)
    run_dir = tmp_path / "run"
    result = train(run_dir, *overrides)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("train: error: ")
    assert word in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    assert not run_dir.exists() or not any(run_dir.iterdir()), list(run_dir.iterdir())


def test_train_gradcheck_checks_instead_of_training(tmp_path):
    result = train(tmp_path, "gradcheck=true", "activation=tanh", "regularizer=l2",
                   "model.widths=[8,8]")
    assert result.returncode == 0, result.stderr
    assert "passed" in result.stdout and "layers.2.w" in result.stdout
    assert not (tmp_path / "metrics.csv").exists()


def test_params_files_read_back_into_the_model(tmp_path):
    """mlp.unflatten inverts the files: a stored BatchNorm net gives the run's test loss."""
    from trainlab.config import compose
    from trainlab.data import load_dataset
    from trainlab.nn import mlp

    args = ["data=moons", "data.n_samples=300", "model.widths=[16]",
            "normalization=batchnorm", "epochs=3", "batch_size=32"]
    assert train(tmp_path, *args).returncode == 0
    cfg = compose(args)
    with np.load(tmp_path / "params_final.npz") as arrays:
        params, state = mlp.unflatten({name: arrays[name] for name in arrays.files})
    assert set(state["layers"][0]) == {"mean", "var"} and "mean" not in params["layers"][0]
    data = load_dataset(cfg.data)
    out, _, _ = mlp.apply(cfg, params, state, data.x_test, train=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert float(cfg.loss(out, data.y_test, 2)) == pytest.approx(summary["test_loss"],
                                                                       rel=1e-5)


def test_npz_with_empty_val_and_test_splits_trains(tmp_path):
    """0-row x_val / x_test (any shape past the rows: numpy cannot always tell): no
    validation, no test numbers, a finished run; float64 keeps what float32 cannot hold."""
    big = np.where(X > 1.5, 1e39, X)
    overrides = _npz(tmp_path, x_train=big, y_train=Y, x_val=np.zeros((0, 3)), y_val=Y[:0],
                     x_test=np.zeros(0), y_test=Y[:0])
    result = train(tmp_path / "run", *overrides, "epochs=2", "batch_size=full",
                   "model.widths=[4]", "dtype=float64", "data.preprocessing=standardize")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "ok" and summary["test_loss"] is None
