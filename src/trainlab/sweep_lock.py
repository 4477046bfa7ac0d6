"""One sweep at a time in a sweep directory.

A sweep holds an exclusive ``flock`` on ``.sweep.lock`` in its directory for as long as it
runs, and writes its pid and start time into the file. A second sweep into the same directory
stops at once with one line naming the first one's process (it does not wait: a sweep can run
for hours, and a command that hangs silently looks broken). The kernel drops the lock when
its holder's process ends, however it ends (``kill -9`` too), so a dead sweep never leaves a
stale lock; the file itself stays, holding the last holder's pid.

A sweep that stops before any job started (a bad value, an unknown key) gives its directory
back: if this sweep created it and nothing but ``multirun.yaml`` and the lock file is there,
it is removed (``discard_unused``).

The lock file also names the sweep (an id: its start time and pid), and every job the sweep
runs or skips as finished is marked with it (``.sweep_id`` in the job directory, written by
the launcher or, under Hydra's own launchers, by the job itself: a worker process reads the id
from the lock file). The sweep's table then holds its own jobs only, not those an older sweep
left in the same directory (sweep_table.sweep_jobs). Marking is not a per-job Hydra callback,
which would make the vectorized launcher compose every job through Hydra.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

LOCK_NAME = ".sweep.lock"
MARK_NAME = ".sweep_id"  # in a job directory: the id of the last sweep that ran or kept it
_BOOKKEEPING = {LOCK_NAME, "multirun.yaml"}


class SweepBusy(Exception):
    def __init__(self, sweep_dir: Path, holder: str) -> None:
        super().__init__(
            f"hydra.sweep.dir={sweep_dir}: another sweep is running there ({holder}); wait "
            "for it to end, or choose another hydra.sweep.dir")


@dataclass
class _Held:
    file: IO[str]
    created: Path | None  # the topmost directory that taking the lock created
    sweep_id: str
    started: dict[str, list[str]] = field(default_factory=dict)  # job dir -> its overrides


_held: dict[Path, _Held] = {}


def _first_missing(path: Path) -> Path | None:
    missing = None
    for p in (path, *path.parents):
        if p.exists():
            return missing
        missing = p
    return missing


def acquire(sweep_dir: Path | str) -> None:
    """Take the sweep directory's lock (creating the directory), or raise SweepBusy."""
    sweep_dir = Path(sweep_dir).absolute()
    if sweep_dir in _held:  # a sweep of this process ended without releasing it: it failed
        release(sweep_dir)
    created = _first_missing(sweep_dir)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    file = open(sweep_dir / LOCK_NAME, "a+", encoding="utf-8")  # noqa: SIM115 (held open)
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        holder = file.read().strip() or "its pid not written yet"
        file.close()
        raise SweepBusy(sweep_dir, holder) from None
    sweep_id = f"{time.time_ns()}-{os.getpid()}"  # later sweeps' ids sort after earlier ones'
    file.truncate(0)
    file.write(f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}, "
               f"sweep {sweep_id}\n")
    file.flush()
    _held[sweep_dir] = _Held(file, created, sweep_id)


def release(sweep_dir: Path | str, *, discard_unused: bool = False) -> None:
    """Let the lock go; with ``discard_unused``, remove the directory if this sweep made it
    and left nothing in it but bookkeeping."""
    sweep_dir = Path(sweep_dir).absolute()
    held = _held.pop(sweep_dir, None)
    if held is None:
        return
    held.file.close()  # closing the descriptor drops the flock
    if not discard_unused or held.created is None or not sweep_dir.is_dir():
        return
    if not set(os.listdir(sweep_dir)) <= _BOOKKEEPING:
        return
    for name in _BOOKKEEPING:
        (sweep_dir / name).unlink(missing_ok=True)
    for directory in (sweep_dir, *sweep_dir.parents):  # up to the first one it created
        try:
            directory.rmdir()
        except OSError:
            break
        if directory == held.created:
            break


def sweep_id(sweep_dir: Path | str) -> str | None:
    """The id of the sweep running in ``sweep_dir`` (held here, or read from the lock file by a
    launcher's worker process), or None when no sweep took the lock."""
    sweep_dir = Path(sweep_dir).absolute()
    if sweep_dir in _held:
        return _held[sweep_dir].sweep_id
    try:
        text = (sweep_dir / LOCK_NAME).read_text()
    except OSError:
        return None
    _, found, rest = text.rpartition(", sweep ")
    return rest.strip() or None if found else None


def mark_job(sweep_dir: Path | str, job_dir: Path | str) -> None:
    """Mark the job in ``job_dir`` as the running sweep's (best effort: a job directory that
    cannot be written has failed already)."""
    current = sweep_id(sweep_dir)
    if current is not None and Path(job_dir).is_dir():
        with contextlib.suppress(OSError):
            (Path(job_dir) / MARK_NAME).write_text(current + "\n")


def claim(sweep_dir: Path | str, job_dir: Path | str, overrides: list[str]) -> list[str] | None:
    """Record that a job of this process's sweep starts in ``job_dir``; the overrides of an
    earlier job of the sweep that started there, if one did (two jobs, one directory)."""
    held = _held.get(Path(sweep_dir).absolute())
    if held is None:  # a worker process: the sweep's launcher checked before it ran anything
        return None
    key = os.path.abspath(job_dir)
    earlier = held.started.get(key)
    held.started[key] = list(overrides)
    return earlier


def release_all(*, discard_unused: bool = False) -> None:
    for sweep_dir in list(_held):
        release(sweep_dir, discard_unused=discard_unused)


def held() -> list[Path]:
    """The sweep directories this process holds (the sweep running now)."""
    return list(_held)
