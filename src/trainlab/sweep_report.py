"""``trainlab report SWEEP_DIR``: rebuild a sweep's ``summary.csv`` and table from the files of
its job directories (after a kill, a resumed sweep, or runs copied back from a cluster)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainlab import sweep_table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="trainlab report", description="Rebuild a sweep's summary.csv and table.")
    parser.add_argument("sweep_dir", type=Path, help="a multirun directory (hydra.sweep.dir)")
    parser.add_argument("--top", type=int, default=10, help="rows to show (default 10)")
    parser.add_argument("--no-write", action="store_true", help="only show, keep summary.csv")
    args = parser.parse_args(argv)
    if not args.sweep_dir.is_dir():
        print(f"trainlab report: error: {args.sweep_dir}: no such directory", file=sys.stderr)
        return 2
    build = sweep_table.build if args.no_write else sweep_table.write
    frame, objective = build(args.sweep_dir)
    if frame.empty:
        print(f"trainlab report: error: {args.sweep_dir}: no job directories (folders with "
              ".hydra/overrides.yaml)", file=sys.stderr)
        return 2
    sweep_table.print_best(frame, objective, args.sweep_dir, args.top)
    if not args.no_write:
        print(f"wrote {args.sweep_dir / 'summary.csv'}")
    return 0
