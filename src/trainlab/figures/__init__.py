"""``trainlab figure``: build the lecture figures (docs/figures.md) from trainlab runs.

    trainlab figure NAME [--reduced] [--out DIR]   train experiments/NAME.yaml, draw, check
    trainlab figure NAME --from DIR                redraw from stored runs, no training
    trainlab figure --list                         the figures there are
    trainlab figure --gallery [--from R] [--out D] shrink R/*/figure.png (default results/)
                                                   into D/NAME.png + D/index.md (docs/gallery)

Writes DIR/figure.png and DIR/table.csv (DIR defaults to results/NAME), prints the table and
every must-show check; the exit code is 1 when a check fails.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainlab.config import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainlab figure", description="Build (or redraw) a lecture figure.")
    parser.add_argument("name", nargs="?", help="a figure: experiments/NAME.yaml")
    parser.add_argument("--from", dest="source", type=Path, metavar="DIR",
                        help="read the runs from DIR instead of training them "
                             "(with --gallery: the results folder)")
    parser.add_argument("--reduced", action="store_true",
                        help="the experiment's reduced size (what its test runs)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default results/NAME, or docs/gallery)")
    parser.add_argument("--list", action="store_true", help="list the figures")
    parser.add_argument("--gallery", action="store_true",
                        help="shrink results/*/figure.png into docs/gallery/NAME.png, "
                             "with an index.md of the checks")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    from trainlab.figures import common, experiment

    if args.list:
        print("\n".join(experiment.names()))
        return 0
    if args.gallery:
        copied = common.gallery(args.source or Path("results"), args.out or Path("docs/gallery"))
        print(f"copied {len(copied)} figures into {args.out or 'docs/gallery'}")
        return 0
    if not args.name:
        _parser().print_usage(sys.stderr)
        return 2
    replaced = _replaced(args)
    try:
        built = common.build(args.name, out=args.out, source=args.source,
                             reduced=args.reduced, show=True)
    except ConfigError as error:
        print(f"trainlab figure: error: {error}", file=sys.stderr)
        return 2
    if replaced:
        print(f"replaced the earlier {', '.join(replaced)} in {built.out}")
    return 1 if common.failures(built.checks) else 0


def _replaced(args) -> list[str]:
    """The files of an earlier build that this one will overwrite (said at the end)."""
    from trainlab.figures import common, experiment

    if args.name not in experiment.names():
        return []
    out = args.out or common.default_out(args.name, args.reduced)
    return [name for name in ("figure.png", "table.csv", "checks.csv") if (out / name).is_file()]
