"""``trainlab report DIR``: the results of a sweep or of a run, rebuilt from its files.

- a sweep dir (``hydra.sweep.dir``): rebuild ``summary.csv`` from its job directories (after a
  kill, a resumed sweep, or runs copied back from a cluster), show the best rows, refresh the
  loggers' sweep files (TensorBoard HParams of jobs run with ``logger=tensorboard``), and
  write ``report.html``;
- a run dir (a folder with ``metrics.csv``): show its summary and write its ``report.html``.

A sweep's table is the latest sweep's, as the sweep itself wrote it: job directories an older
sweep left there (with more jobs, or other subdirs) are named in one line, not made rows;
``--all`` makes a row of every job directory. Job directories that carry no sweep id (written
before trainlab marked them) are all one sweep.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from trainlab import sweep_table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="trainlab report",
        description="Rebuild a sweep's summary.csv and table, and write report.html (a page "
                    "that opens offline) for a sweep or a run.")
    parser.add_argument("dir", type=Path, metavar="DIR",
                        help="a multirun directory (hydra.sweep.dir) or a run directory")
    parser.add_argument("--top", type=int, default=10, help="rows to show (default 10)")
    parser.add_argument("--curves", type=int, default=10, metavar="K",
                        help="learning curves of the best K jobs or configurations in the "
                             "page (default 10)")
    parser.add_argument("--no-html", action="store_true", help="no report.html")
    parser.add_argument("--no-write", action="store_true",
                        help="only show: write nothing (summary.csv is kept as it is)")
    parser.add_argument("--all", action="store_true",
                        help="a sweep: every job directory, also those of older sweeps there")
    args = parser.parse_args(argv)
    if not args.dir.is_dir():
        return _error(f"{args.dir}: no such directory")
    if args.top < 0 or args.curves < 0:
        return _error("--top and --curves: must be integers >= 0")
    if sweep_table.job_dirs(args.dir):
        return _sweep(args)
    if (args.dir / "metrics.csv").is_file():
        return _run(args)
    return _error(f"{args.dir}: no job directories (folders with .hydra/overrides.yaml) and no "
                  "metrics.csv: neither a sweep nor a run")


def _error(message: str) -> int:
    print(f"trainlab report: error: {message}", file=sys.stderr)
    return 2


def _sweep(args) -> int:
    from trainlab.report import html, loggers
    from trainlab.report.sweep_data import ReportError

    mine, older = sweep_table.sweep_jobs(args.dir)
    if args.all:
        mine, older = sweep_table.job_dirs(args.dir), []
    build = sweep_table.build if args.no_write else sweep_table.write
    frame, objective = build(args.dir, mine)
    sweep_table.print_best(frame, objective, args.dir, args.top)
    if len(frame) == 1:  # a sweep of one job: its summary, as for a run
        _print_run(args.dir / str(frame["job"].iloc[0]))
    if older:
        print(sweep_table.older_note(args.dir, older) + " (--all shows them)")
    if args.no_write:
        return 0
    print(f"wrote {args.dir / 'summary.csv'}")
    swept = sweep_table.swept_columns(frame)
    for name, count in loggers.log_sweep(args.dir, frame, swept).items():
        print(f"wrote {name} HParams of {count} jobs")
    if not args.no_html:
        try:
            path = html.write_sweep(args.dir, frame, objective, top_k=args.curves)
        except ReportError as error:
            return _error(str(error))
        print(f"wrote {path}")
    return 0


def _print_run(run_dir: Path) -> None:
    from trainlab.report import print_summary

    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        print(f"run {run_dir}: no summary.json (it did not finish)")
        return
    print_summary(summary, title=f"run {run_dir}")


def _run(args) -> int:
    from trainlab.report import html

    _print_run(args.dir)
    if not (args.no_write or args.no_html):
        print(f"wrote {html.write_run(args.dir)}")
    return 0
