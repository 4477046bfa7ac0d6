"""The ``trainlab`` command: tools around runs that are not a training run themselves.

    trainlab report DIR               a sweep's summary.csv and table, and report.html (or a run's)
    trainlab figure NAME [--from DIR] build (or redraw from stored runs) a lecture figure
    trainlab gradcheck [overrides]    compare autodiff gradients with finite differences
    trainlab doctor [overrides|DIR]   the lecture's sanity checks before a run, the verdict on
                                      a run's curves after it

Each subcommand lives in its own module; this file only dispatches.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "report": ("trainlab.sweep_report", "a sweep's (or a run's) table and report.html page"),
    "figure": ("trainlab.figures", "build or redraw a lecture figure"),
    "gradcheck": ("trainlab.gradcheck", "check autodiff gradients against finite differences"),
    "doctor": ("trainlab.doctor", "sanity checks before a run, a verdict on its curves after"),
}


def _usage() -> str:
    lines = ["usage: trainlab COMMAND [ARGS...]", "", "commands:"]
    lines += [f"  {name:<10} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += ["", "`trainlab COMMAND --help` explains one command; training itself is `train`."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        sys.exit(0 if argv else 2)
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        print(f"trainlab: error: unknown command {name!r}; choose from "
              f"{', '.join(SUBCOMMANDS)}", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(SUBCOMMANDS[name][0])
    sys.exit(module.main(rest))


if __name__ == "__main__":
    main()
