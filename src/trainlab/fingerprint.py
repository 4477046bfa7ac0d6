"""Recognize a finished run by its config: what lets a killed sweep resume.

A run writes ``summary.json`` last (``records``), with the hash of the config that made it.
A job directory whose ``summary.json`` carries the hash of the config about to run there holds
that job's finished results; anything else (no summary, another config's) is run again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from trainlab.config import Config
from trainlab.config.signature import as_dict

# Fields that change what is shown while training, not what a run computes or writes.
_DISPLAY_ONLY = ("progress",)


def config_hash(cfg: Config) -> str:
    """A short, stable hash of everything in ``cfg`` that changes a run's results."""
    fields = as_dict(cfg)
    for name in _DISPLAY_ONLY:
        fields.pop(name, None)
    if fields.get("logger") == {"name": "none"}:  # the hash of runs from before loggers existed
        fields.pop("logger")
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
