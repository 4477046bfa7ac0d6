"""What a run leaves behind: tables from the history, summaries, and atomic file writes.

File contract (docs/design.md): ``metrics.csv`` one row per (seed, epoch); ``summary.json``;
``params_{init,final,best}.npz`` with arrays ``layers.<i>.<name>``. Every file is written to a
temporary name and renamed, and ``summary.json`` is written last: a run without it did not
finish.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import secrets
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)

LEADING_COLUMNS = [
    "seed", "epoch", "step", "lr", "train_loss", "train_acc", "val_loss", "val_acc",
]


def cache_dir() -> Path:
    """Where generated datasets and compiled programs are kept: $TRAINLAB_CACHE, or
    ~/.cache/trainlab."""
    return Path(os.environ.get("TRAINLAB_CACHE", Path.home() / ".cache" / "trainlab"))


# The temporary a write goes to first: ``.NAME.XXXXXXXX.tmp`` beside NAME (tempfile's 8
# random characters). A write killed midway (kill -9) leaves one; a run starting in that
# directory clears them (trainlab.outputs).
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def is_temporary(name: str) -> bool:
    """Whether a file name is one of atomic_write's temporaries."""
    return _TEMPORARY.fullmatch(name) is not None


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it into place.
    An OSError names ``path`` when the system did not name one (a full disk fails in write,
    where no file name is known)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; results are for everyone
            write(Path(tmp))
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError as error:
        if error.filename is None:
            error.filename = str(path)
        raise


def write_text(text: str | bytes, path: Path) -> None:
    """``text`` (or bytes) into ``path``, whole or not at all, as atomic_write does but
    without mkstemp's extra calls (a sweep writes thousands): the temporary's name matches
    is_temporary, and it is created with the umask's mode."""
    path = Path(path)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with (os.fdopen(fd, "wb") if isinstance(text, bytes)
                  else os.fdopen(fd, "w", encoding="utf-8")) as f:
                f.write(text)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as error:
        if error.filename is None:
            error.filename = str(path)
        raise


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))


def write_json(data: dict, path: Path) -> None:
    write_text(json.dumps(json_safe(data), indent=2) + "\n", path)


def write_npz(arrays: dict[str, np.ndarray], path: Path) -> None:
    # Built in memory, then written as write_text writes: half the time of np.savez to a
    # mkstemp file (a sweep writes two a job).
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    write_text(buffer.getvalue(), path)


def cached_arrays(path: Path, names: tuple[str, ...],
                  build: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The arrays ``names`` from the cache file ``path`` when it holds them whole, else
    ``build()``'s, written there atomically (a concurrent reader sees no file or a whole one;
    a damaged file is built again)."""
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                return {k: f[k] for k in names}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            path.unlink(missing_ok=True)
    arrays = build()
    write_npz(arrays, path)
    return arrays


def json_safe(value: Any) -> Any:
    """NaN and inf become null (JSON has no such numbers); numpy scalars become Python's."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metrics_table(history: dict[str, np.ndarray], seeds: list[int]) -> pd.DataFrame:
    """One row per (seed, epoch) from ``history[name]`` arrays of shape (seeds, epochs + 1),
    epoch 0 being the evaluation at initialization."""
    n_seeds, n_rows = next(iter(history.values())).shape[:2]
    columns = {
        "seed": np.repeat(np.asarray(seeds), n_rows),
        "epoch": np.tile(np.arange(n_rows), n_seeds),
    }
    columns |= {name: np.asarray(v).reshape(n_seeds * n_rows) for name, v in history.items()}
    for name in LEADING_COLUMNS:
        columns.setdefault(name, np.full(n_seeds * n_rows, np.nan))  # e.g. a regression's acc
    # The contract's columns, then run-level ones (time_s, train_objective, ...), then the
    # per-layer diagnostics `<stat>/<layer>`, each group in name order.
    rest = sorted((c for c in columns if c not in LEADING_COLUMNS), key=lambda c: ("/" in c, c))
    return pd.DataFrame({name: columns[name] for name in LEADING_COLUMNS + rest})


SEED_FIELDS = (
    "best_epoch", "best_val_loss", "best_val_acc", "final_train_loss", "final_train_acc",
    "final_val_loss", "final_val_acc", "test_loss", "test_acc",
)


def seed_summary(table: pd.DataFrame, best_epoch: int, status: str, test: dict) -> dict:
    """The summary fields of one seed from its rows of the metrics table."""
    last = table.iloc[-1]
    at_best = table[table.epoch == best_epoch]
    best = at_best.iloc[0] if len(at_best) else last
    return {
        "status": status,
        "best_epoch": int(best_epoch),
        "best_val_loss": float(best["val_loss"]),
        "best_val_acc": float(best["val_acc"]),
        "final_train_loss": float(last["train_loss"]),
        "final_train_acc": float(last["train_acc"]),
        "final_val_loss": float(last["val_loss"]),
        "final_val_acc": float(last["val_acc"]),
        "test_loss": float(test.get("test_loss", np.nan)),
        "test_acc": float(test.get("test_acc", np.nan)),
    }


def combine_seeds(per_seed: list[dict]) -> dict:
    """Mean over seeds of each field, with its std as ``<field>_std`` when seeds > 1; the
    status is the worst one (diverged, then stopped_early, then ok)."""
    statuses = [s["status"] for s in per_seed]
    status = next((s for s in ("diverged", "stopped_early") if s in statuses), "ok")
    summary: dict[str, Any] = {"status": status}
    if len(per_seed) == 1:  # a mean of one number is that number: a sweep's thousands of jobs
        (one,) = per_seed
        for field in SEED_FIELDS:
            value = float(one[field])
            summary[field] = value if math.isfinite(value) else math.nan
        summary |= {k: float(v) for k, v in sorted(one.items())
                    if k not in summary and isinstance(v, float)}  # e.g. test_avg_acc
        summary["best_epoch"] = int(summary["best_epoch"])
        return summary
    for field in SEED_FIELDS:
        values = np.array([s[field] for s in per_seed], dtype=float)
        finite = values[np.isfinite(values)]
        summary[field] = float(finite.mean()) if len(finite) else float("nan")
        if len(per_seed) > 1:
            summary[f"{field}_std"] = float(finite.std()) if len(finite) else float("nan")
    for field in sorted({k for s in per_seed for k in s} - set(summary) - set(SEED_FIELDS)):
        if all(isinstance(s.get(field), float) for s in per_seed):  # e.g. test_avg_acc
            values = np.array([s[field] for s in per_seed])
            summary[field] = float(np.nanmean(values))
            if len(per_seed) > 1:
                summary[f"{field}_std"] = float(np.nanstd(values))
    if len(per_seed) <= 1:  # one seed's best epoch is an epoch; several seeds' is their mean
        summary["best_epoch"] = int(summary["best_epoch"]) if per_seed else 0
    if len(per_seed) > 1:
        summary["n_diverged"] = statuses.count("diverged")
    return summary


def objective_value(summary: dict, name: str) -> float:
    """The number a sweeper minimizes; errors are 1 - accuracy. A diverged run ranks last,
    whatever it reached before diverging."""
    if summary.get("status") == "diverged":
        return float("inf")
    if name.endswith("_error"):
        value = 1.0 - summary[name.replace("_error", "_acc")]
    else:
        value = summary[name]
    return float(value) if value is not None and math.isfinite(value) else float("inf")
