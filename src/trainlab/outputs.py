"""A job directory's hygiene: what a run clears before it writes there, what a failed run
leaves, two jobs kept from sharing one directory, and an output problem said in one line.

A run's results are the files of the run contract: ``summary.json``, ``metrics.csv``,
``histograms.csv`` and ``params_*.npz``. A run about to write into a directory first removes
the results an earlier run left there (``summary.json`` first, so that the directory never
looks finished meanwhile) and the temporaries of a write that was killed: whatever is there
afterwards is this run's.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from trainlab.config import ConfigError
from trainlab.sweep_lock import MARK_NAME

_RESULT = re.compile(r"summary\.json|metrics\.csv|histograms\.csv|params_\w+\.npz")
_WRITE_ERRORS = {errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOSPC, errno.EDQUOT,
                 errno.ENOTDIR, errno.EEXIST, errno.EISDIR}


def is_result(name: str) -> bool:
    return _RESULT.fullmatch(name) is not None


def clear_results(job_dir: Path | str) -> None:
    """Remove the results and write temporaries an earlier run left in ``job_dir``."""
    from trainlab.records import is_temporary  # pandas: only once a run starts

    job_dir = Path(job_dir)
    if not job_dir.is_dir():
        return
    (job_dir / "summary.json").unlink(missing_ok=True)  # first: nothing looks finished
    for entry in os.scandir(job_dir):
        if not entry.is_dir(follow_symlinks=False) and (
                is_result(entry.name) or is_temporary(entry.name)):
            os.unlink(entry.path)


def discard_job_dir(job_dir: Path | str) -> None:
    """Remove a job directory that holds nothing but bookkeeping (Hydra's ``.hydra/``, the
    log, the sweep's mark): a run that failed or was stopped before it saved anything leaves
    nothing."""
    job_dir = Path(job_dir)
    if job_dir.is_dir() and all(name in (".hydra", MARK_NAME) or name.endswith(".log")
                                for name in os.listdir(job_dir)):
        shutil.rmtree(job_dir)


def discard_empty_parents(job_dir: Path | str, root: Path | str) -> None:
    """Remove the folders above a discarded job directory that it left empty (Hydra's
    ``outputs/DATE/``), up to ``root`` (the working directory), never above it."""
    root, folder = Path(root).resolve(), Path(job_dir).resolve().parent
    while folder != root and root in folder.parents and folder.is_dir():
        try:
            folder.rmdir()  # only an empty folder goes
        except OSError:
            return
        folder = folder.parent


def refuse_shared_dirs(jobs: Iterable[tuple[Path | str, list[str]]]) -> None:
    """Stop a sweep two of whose jobs (directory, overrides) would write one directory: the
    later one would overwrite the earlier one's results."""
    seen: dict[str, list[str]] = {}
    for job_dir, overrides in jobs:
        key = os.path.abspath(job_dir)
        if key in seen:
            raise ConfigError(shared_dir_message(key, seen[key], list(overrides)))
        seen[key] = list(overrides)


def shared_dir_message(job_dir: str, first: list[str], second: list[str]) -> str:
    """Two jobs, told apart by the overrides that differ between them, write ``job_dir``."""
    differ = lambda a, b: " ".join(x for x in a if x not in b) or "(the same overrides)"  # noqa: E731
    return (f"hydra.sweep.subdir: the jobs `{differ(first, second)}` and "
            f"`{differ(second, first)}` both write to {job_dir}; make the subdir tell them "
            "apart (e.g. keep ${hydra.job.num} in it)")


def describe(error: OSError) -> str:
    """An OSError as one line naming the path and the cause."""
    path = error.filename
    cause = error.strerror or str(error)
    if path is None:
        return cause
    if error.errno == errno.ENOTDIR:
        blocker = next((p for p in Path(path).parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            return f"cannot create {path}: {blocker} is a file, not a directory"
    if error.errno in _WRITE_ERRORS:
        return f"cannot write {path}: {cause}"
    return f"{path}: {cause}"


def fail(message: str, code: int) -> None:
    """Stop with one line. Raises SystemExit, which (unlike an Exception) a Hydra callback
    does not turn into a warning."""
    print(f"train: error: {message}", file=sys.stderr)
    raise SystemExit(code)
