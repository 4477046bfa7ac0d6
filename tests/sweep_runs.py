"""Sweeps run in the test's own process (so compiles can be counted and launchers spied on),
shared by the sweep, launcher and submitit tests."""

from __future__ import annotations

import sys
from pathlib import Path


def multirun(sweep_dir: Path, *overrides: str) -> list:
    """``train -m hydra.sweep.dir=SWEEP_DIR OVERRIDES`` in this process; the jobs' returns."""
    from hydra.core.global_hydra import GlobalHydra

    from trainlab import cli

    argv = sys.argv
    sys.argv = ["train", "-m", f"hydra.sweep.dir={sweep_dir}", *overrides]
    try:
        return cli._train()
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()


def job_dirs(sweep_dir: Path) -> list[Path]:
    """The sweep's job directories, in job order."""
    return sorted((p for p in sweep_dir.iterdir() if (p / ".hydra").is_dir()),
                  key=lambda p: int(p.name))
