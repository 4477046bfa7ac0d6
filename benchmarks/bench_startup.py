"""Start-up: what a person waits for before anything moves.

- ``train --help``: seconds until the help is printed (imports and Hydra's composition);
- a default run's time to its first epoch: ``train epochs=1`` run once to fill the caches
  (dataset, compiled program), then again, timed from launch until its epoch line appears
  on stderr, and until it exits.

Each is measured ``--repeats`` times in fresh processes; the table shows the best and the
median. ``--tiny`` runs a small config (moons, a 4-unit net) to check the script works, not
for its numbers.

    python benchmarks/bench_startup.py [--repeats 3] [--tiny]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

TRAIN = str(Path(sys.executable).with_name("train"))
EPOCH_LINE = re.compile(r"^\d+/\d+ epochs in ")  # the epoch bar's trace (report/terminal.py)


def time_help() -> float:
    start = time.perf_counter()
    subprocess.run([TRAIN, "--help"], check=True, capture_output=True)
    return time.perf_counter() - start


def time_first_epoch(overrides: list[str], cwd: str) -> tuple[float, float]:
    """Seconds from launch to the first epoch's line, and to the end of the process."""
    start = time.perf_counter()
    process = subprocess.Popen([TRAIN, *overrides, "epochs=1"], cwd=cwd, text=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    first = None
    for line in process.stderr:
        if first is None and EPOCH_LINE.match(line):
            first = time.perf_counter() - start
    if process.wait() != 0:
        raise SystemExit(f"train {' '.join(overrides)} epochs=1 failed")
    end = time.perf_counter() - start
    return (first if first is not None else float("nan")), end


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a small config: checks the script")
    args = parser.parse_args()
    overrides = ["data=moons", "model.widths=[4]"] if args.tiny else []
    with tempfile.TemporaryDirectory() as cwd:
        os.environ.setdefault("COLUMNS", "120")
        time_first_epoch(overrides, cwd)  # fills the dataset and compilation caches
        helps = [time_help() for _ in range(args.repeats)]
        runs = [time_first_epoch(overrides, cwd) for _ in range(args.repeats)]
    table = Table(title="start-up (fresh processes, caches warm)")
    for column in ("what", "best s", "median s"):
        table.add_column(column, justify="left" if column == "what" else "right")
    what = "default run" if not args.tiny else "tiny run"
    for label, values in (("train --help", helps),
                          (f"{what}: launch to its first epoch", [r[0] for r in runs]),
                          (f"{what} (epochs=1): launch to exit", [r[1] for r in runs])):
        table.add_row(label, f"{min(values):.2f}", f"{statistics.median(values):.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
