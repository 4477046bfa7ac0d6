"""Golden numbers: record what a set of runs writes, and compare a later build with it.

    python tools/golden.py record DIR [--figures a,b] [--skip-figures]
    python tools/golden.py compare OLD NEW

``record`` trains every figure's reduced experiment (``trainlab figure NAME --reduced``) and a
table of small configs covering every choice of every group (``CONFIGS``), each into its own
folder of DIR. ``compare`` reads two such folders and reports every file whose numbers differ,
ignoring the wall-clock columns (time_s, wall_s, compile_s, steps_per_s): a refactor that must
change no number passes when it reports nothing (exit code 0).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SMALL = ["data.train_size=256", "epochs=3", "model.widths=[16]", "progress=false"]
TINY = ["data=moons", "data.n_samples=120", "epochs=3", "model.widths=[8]", "batch_size=16",
        "progress=false"]


def NO_WIDTHS(overrides: list[str]) -> list[str]:  # noqa: N802 (reads as a constant's kin)
    return [o for o in overrides if not o.startswith("model.widths")]


# One config per choice (and the switches the program branches on), at a small size.
CONFIGS: dict[str, list[str]] = {
    "default": SMALL,
    **{f"optimizer-{name}": [*SMALL, f"optimizer={name}"] for name in (
        "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adadelta", "adam", "adamw",
        "adamax", "nadam")},
    "optimizer-momentum-ema": [*SMALL, "optimizer=momentum", "optimizer.form=ema"],
    "optimizer-adamw-unscaled": [*SMALL, "optimizer=adamw", "optimizer.decay_scaled_by_lr=false"],
    "optimizer-adam-decay-clip": [*SMALL, "optimizer.decoupled_decay=1e-3",
                                  "optimizer.clip_norm=1"],
    **{f"activation-{name}": [*SMALL, f"activation={name}"] for name in (
        "linear", "sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "maxout", "gelu",
        "silu", "softplus")},
    **{f"init-{name}": [*SMALL, f"init={name}"] for name in (
        "zeros", "constant", "uniform", "normal", "lecun_normal", "xavier_uniform",
        "xavier_normal", "he_normal", "he_uniform", "orthogonal")},
    "init-gain-bias": [*SMALL, "init.gain=0.5", "init.bias=0.1"],
    **{f"normalization-{name}": [*SMALL, f"normalization={name}"] for name in (
        "batchnorm", "layernorm")},
    "normalization-batchnorm-after": [*SMALL, "normalization=batchnorm",
                                      "normalization.position=after"],
    **{f"regularizer-{name}": [*SMALL, f"regularizer={name}"] for name in (
        "l1", "l2", "elastic_net", "max_norm")},
    **{f"schedule-{name}": [*SMALL, f"schedule={name}"] for name in (
        "step", "exponential", "inverse_time", "cosine", "warmup_cosine")},
    "schedule-step-unit-step": [*SMALL, "schedule=step", "schedule.unit=step",
                                "schedule.every=7"],
    **{f"loss-{name}": [*SMALL, f"loss={name}"] for name in ("hinge", "mse")},
    "loss-bce": [*TINY, "loss=bce"],
    "dropout": [*SMALL, "model.input_dropout=0.2", "model.hidden_dropout=0.5"],
    "seeds-early-stopping": [*SMALL, "seeds=3", "epochs=6", "early_stopping.enabled=true",
                             "early_stopping.patience=2"],
    "param-average": [*SMALL, "param_average=0.9"],
    "running-full": [*SMALL, "train_metrics=running", "diagnostics=full"],
    "diagnostics-off": [*SMALL, "diagnostics=off"],
    "full-batch-float64": [*SMALL, "batch_size=full", "dtype=float64"],
    "linear": [*NO_WIDTHS(SMALL), "model=linear"],
    "polynomial-lstsq": ["data=regression1d", "model=polynomial", "model.degree=5",
                         "loss=mse", "optimizer=lstsq", "batch_size=full", "epochs=1",
                         "progress=false"],
    "polynomial-sgd": ["data=regression1d", "model=polynomial", "model.degree=5", "loss=mse",
                       "optimizer=sgd", "batch_size=full", "epochs=5", "progress=false"],
    "random-features-lstsq": [*NO_WIDTHS(TINY), "model=random_features", "model.width=50",
                              "loss=mse", "optimizer=lstsq", "regularizer=l2", "epochs=1"],
    "random-features-sgd": [*NO_WIDTHS(TINY), "model=random_features", "model.width=50",
                            "regularizer=max_norm", "regularizer.c=0.5"],
    "surface-quadratic": ["data=surface", "optimizer=sgd", "optimizer.lr=0.005", "epochs=20",
                          "progress=false"],
    "surface-rosenbrock-adam": ["data=surface", "data.function=rosenbrock", "optimizer=adam",
                                "optimizer.lr=0.05", "epochs=20", "progress=false"],
    "xor": ["data=xor", "model.widths=[4]", "activation=sigmoid", "optimizer=sgd",
            "batch_size=full", "epochs=5", "progress=false"],
    "regression1d-mlp": ["data=regression1d", "loss=mse", "activation=tanh", "epochs=5",
                         "batch_size=full", "progress=false"],
    "digits": ["data=digits", "epochs=2", "model.widths=[16]", "progress=false"],
}

CLOCK = {"time_s", "wall_s", "compile_s", "steps_per_s"}


def record(out: Path, figures: list[str] | None, skip_figures: bool) -> None:
    from trainlab import figures as figure_command
    from trainlab.config import compose
    from trainlab.figures import experiment
    from trainlab.run import train

    out.mkdir(parents=True, exist_ok=True)
    for name, overrides in CONFIGS.items():
        if (out / "configs" / name / "summary.json").is_file():
            continue  # recorded by an earlier, interrupted call
        print(f"config {name}", flush=True)
        train(compose(overrides), out / "configs" / name, overrides)
    if skip_figures:
        return
    for name in figures or experiment.names():
        if (out / "figures" / name / "checks.csv").is_file():
            continue
        print(f"figure {name}", flush=True)
        code = figure_command.main([name, "--reduced", "--out", str(out / "figures" / name)])
        print(f"figure {name}: exit {code}", flush=True)


def _frame_differences(a: pd.DataFrame, b: pd.DataFrame) -> list[str]:
    a = a.drop(columns=[c for c in a.columns if c in CLOCK])
    b = b.drop(columns=[c for c in b.columns if c in CLOCK])
    if list(a.columns) != list(b.columns):
        return [f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}"]
    if len(a) != len(b):
        return [f"rows {len(a)} vs {len(b)}"]
    found = []
    for column in a.columns:
        x, y = a[column], b[column]
        if x.dtype.kind in "fi" and y.dtype.kind in "fi":
            x, y = x.to_numpy(float), y.to_numpy(float)
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            if not same.all():
                scale = np.nanmax(np.abs(x)) or 1.0
                worst = float(np.nanmax(np.abs(x - y))) / scale
                found.append(f"{column}: {int((~same).sum())} values differ, "
                             f"max relative {worst:.2e}")
        elif not x.astype(str).equals(y.astype(str)):
            found.append(f"{column}: text differs")
    return found


def _json_differences(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        found = []
        for key in sorted(set(a) | set(b)):
            if key in CLOCK:
                continue
            if key not in a or key not in b:
                found.append(f"{where}{key}: only in {'new' if key in b else 'old'}")
            else:
                found += _json_differences(a[key], b[key], f"{where}{key}.")
        return found
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in _json_differences(x, y, f"{where}{i}.")]
    same = a == b or (isinstance(a, float) and isinstance(b, float)
                      and math.isnan(a) and math.isnan(b))
    return [] if same else [f"{where.rstrip('.')}: {a!r} vs {b!r}"]


def compare(old: Path, new: Path) -> int:
    problems = 0
    files = sorted(p.relative_to(old) for p in old.rglob("*")
                   if p.is_file() and p.suffix in (".csv", ".json", ".npz")
                   and ".hydra" not in p.parts)
    for rel in files:
        a, b = old / rel, new / rel
        if not b.is_file():
            print(f"MISSING {rel}")
            problems += 1
            continue
        if rel.suffix == ".csv":
            found = _frame_differences(pd.read_csv(a), pd.read_csv(b))
        elif rel.suffix == ".json":
            found = _json_differences(json.loads(a.read_text()), json.loads(b.read_text()))
        else:
            with np.load(a) as x, np.load(b) as y:
                if sorted(x.files) != sorted(y.files):
                    found = [f"arrays differ: {sorted(set(x.files) ^ set(y.files))}"]
                else:
                    found = [f"{k}: differs" for k in x.files
                             if not np.array_equal(x[k], y[k], equal_nan=True)]
        for line in found:
            print(f"DIFF {rel}: {line}")
        problems += bool(found)
    print(f"{len(files)} files compared, {problems} differ")
    return 1 if problems else 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--figures", help="comma-separated figure names (default: all)")
    rec.add_argument("--skip-figures", action="store_true")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("old", type=Path)
    cmp_.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        record(args.out, args.figures.split(",") if args.figures else None, args.skip_figures)
        return 0
    return compare(args.old, args.new)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
