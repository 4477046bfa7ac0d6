"""Recognize a finished run by its config: what lets a killed sweep resume.

A run writes ``summary.json`` last (``records``), with the hash of the config that made it.
A job directory whose ``summary.json`` carries the hash of the config about to run there holds
that job's finished results; anything else (no summary, another config's) is run again.

A config that reads a file (``data.path``) is only the same config while the file holds the
same bytes: the hash covers the file's size and content hash. Hashing reads the whole file,
so the content hash is kept per (path, size, mtime_ns): a sweep of many jobs on one file
reads it once, and a file rewritten in place (new mtime) is read again. A file only touched
or copied (same bytes) keeps its identity. A folder (``data=fashion_mnist data.path=DIR``)
is known by the name, size and mtime of each file in it: reading every file of a folder
someone points at could take long, and a file rewritten there gets a new mtime.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from trainlab.config import Config
from trainlab.config.signature import as_dict

# Fields that change what is shown while training or how it is kept on the way, not what a
# run computes or writes.
_DISPLAY_ONLY = ("progress", "checkpoint", "resume")


@functools.lru_cache(maxsize=256)
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of the file's bytes; (size, mtime_ns) are part of the cache key only."""
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def file_identity(path: str) -> dict | list | None:
    """The identity of the file (or folder) a config reads: its size and content hash, or
    each file's name, size and mtime (None: nothing there, which the run itself reports)."""
    file = Path(path).expanduser()
    try:
        if file.is_dir():
            return sorted([entry.name, entry.stat().st_size, entry.stat().st_mtime_ns]
                          for entry in os.scandir(file) if entry.is_file())
        stat = os.stat(file)
        return {"size": stat.st_size,
                "sha256": _content_hash(str(file.resolve()), stat.st_size, stat.st_mtime_ns)}
    except OSError:
        return None


def config_hash(cfg: Config) -> str:
    """A short, stable hash of everything in ``cfg`` that changes a run's results, the
    contents of the data file it reads included."""
    fields = as_dict(cfg)
    for name in _DISPLAY_ONLY:
        fields.pop(name, None)
    if fields.get("logger") == {"name": "none"}:  # the hash of runs from before loggers existed
        fields.pop("logger")
    path = getattr(cfg.data, "path", None)
    if path:
        fields["data_file"] = file_identity(str(path))
    text = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def finished_summary(job_dir: Path | str, cfg: Config) -> dict | None:
    """The summary of a run of ``cfg`` finished in ``job_dir``, or None to run it (again)."""
    path = Path(job_dir) / "summary.json"
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("config_hash") != config_hash(cfg):
        return None
    if not (Path(job_dir) / "metrics.csv").is_file():
        return None
    return summary
