"""Sweeps of many tiny jobs: where the time goes as the number of jobs grows (issue 9).

    python benchmarks/bench_scale.py [--jobs 64,256,1024,4096] [--sweepers random,grid]
                                     [--epochs 5] [--html]

Each sweep is ``train -m`` in a fresh process: an lr sweep of a 2-16-16-2 MLP on moons, a
random search (``hydra/sweeper=random``) or a grid of as many log-spaced values (the default
sweeper, ``grid``), every job with its own directory and files. The launcher logs where its
time went (``timing: {...}`` at debug level, shown through hydra.verbose: composing and
deriving the jobs, the resume check, planning, the .hydra files, compiling, training, writing the
results); the summary callback logs the time of summary.csv. Printed per sweep: wall
time of the whole command, start-up (imports, Hydra's
first compose: the wall time outside the launcher and the callback), compile, training, the
bookkeeping left (launcher and callback time minus compile and training), that per job and
per job more than the sweep before (the marginal cost, without what every sweep pays once),
and the process's peak RSS. The first sweep compiles from an empty cache; the others reuse it, as
a user's second sweep does.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

TRAIN = [sys.executable, "-m", "trainlab.cli"]


def sweep(n: int, sweeper: str, epochs: int, folder: Path, html: bool) -> dict:
    if sweeper == "random":
        space = ["hydra/sweeper=random", f"hydra.sweeper.n_trials={n}",
                 "optimizer.lr=tag(log, interval(1e-4, 1))"]
    else:  # Hydra's grammar: a, b, c...
        space = ["optimizer.lr=" + ",".join(repr(10 ** (-4 + 4 * i / max(n - 1, 1)))
                                            for i in range(n))]
    args = [*TRAIN, "-m", *space, "data=moons", "model.widths=[16,16]",
            f"epochs={epochs}", f"hydra.sweep.dir={folder}", "progress=false",
            f"hydra.callbacks.sweep_summary.html={str(html).lower()}",
            "hydra.verbose=[trainlab.sweep_callback,hydra_plugins.trainlab_launcher]"]
    output = folder.with_suffix(".log")
    with output.open("w") as sink:
        start = time.perf_counter()
        process = subprocess.Popen(args, stdout=sink, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
    log = output.read_text()
    if status != 0:
        raise SystemExit(f"sweep of {n} jobs failed:\n{log[-2000:]}")
    launcher = json.loads(re.search(r"timing: (\{.*\})", log).group(1))
    summary = float(re.search(r"timing: summary.csv of \d+ jobs in ([\d.]+) s", log).group(1))
    return {"n": n, "wall": wall, "launcher": launcher, "summary": summary,
            "rss_mb": usage.ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", default="64,256,1024,4096")
    parser.add_argument("--sweepers", default="random,grid")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--html", action="store_true", help="also write report.html")
    args = parser.parse_args()
    console = Console(width=175)
    table = Table(title=f"bench_scale: lr sweeps of moons 2-16-16-2, {args.epochs} "
                        "epochs a job (seconds; a fresh process each)")
    for column in ("sweeper", "jobs", "wall", "start-up", "compile", "training", "bookkeeping",
                   "per job ms", "marginal ms", "of which: jobs", "plan", ".hydra", "results",
                   "summary.csv", "peak RSS MB"):
        table.add_column(column, justify="right")
    runs = [(sweeper, int(n)) for sweeper in args.sweepers.split(",")
            for n in args.jobs.split(",")]
    previous = None  # (jobs, bookkeeping) of the sweep before
    with tempfile.TemporaryDirectory() as root:
        for sweeper, n in runs:
            r = sweep(n, sweeper, args.epochs, Path(root) / f"{sweeper}{n}", args.html)
            t = r["launcher"]
            busy = t["launch"] + r["summary"]
            bookkeeping = busy - t["compile"] - t["train"]
            table.add_row(sweeper, str(n), f"{r['wall']:.1f}", f"{r['wall'] - busy:.1f}",
                          f"{t['compile']:.1f}", f"{t['train']:.1f}", f"{bookkeeping:.2f}",
                          f"{bookkeeping / n * 1e3:.2f}",
                          "" if previous is None or n <= previous[0] else
                          f"{(bookkeeping - previous[1]) / (n - previous[0]) * 1e3:.2f}",
                          f"{t['jobs']:.2f}", f"{t['plan']:.2f}",
                          f"{t['start']:.2f}", f"{t['files']:.2f}", f"{r['summary']:.2f}",
                          f"{r['rss_mb']:.0f}")
            console.print(f"{sweeper}, {n} jobs: {r['wall']:.1f} s", highlight=False)
            previous = (n, bookkeeping)
    console.print(table)
    console.print("marginal: the bookkeeping a job more costs, from the sweep above it (what "
                  "is left is fixed: loading the data, Hydra's first compose)", highlight=False)


if __name__ == "__main__":
    main()
