"""A doctor's finding: one row of its table (a check before a run, a verdict on a finished
run's curves), and how the rows are shown and stored.

Every finding says PASS, WARN, FAIL or SKIP (the check does not apply to this config), the
number it measured, and one line of advice that names the override to try.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

PASS, WARN, FAIL, SKIP = "PASS", "WARN", "FAIL", "SKIP"
STATUSES = (PASS, WARN, FAIL, SKIP)
_STYLE = {PASS: "green", WARN: "yellow", FAIL: "bold red", SKIP: "dim"}


@dataclass
class Finding:
    check: str  # what was looked at: "initial loss", "overfitting", ...
    status: str  # PASS | WARN | FAIL | SKIP
    measured: str  # the evidence, in numbers
    advice: str = ""  # one line, naming the override to try
    numbers: dict[str, Any] = field(default_factory=dict)  # the raw numbers, for doctor.json

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status {self.status!r}: must be one of {', '.join(STATUSES)}")


def worst(findings: list[Finding]) -> str:
    """FAIL if any failed, else WARN if any warned, else PASS."""
    statuses = {f.status for f in findings}
    return FAIL if FAIL in statuses else WARN if WARN in statuses else PASS


def exit_code(findings: list[Finding]) -> int:
    """1 when a check failed, else 0."""
    return 1 if any(f.status == FAIL for f in findings) else 0


def as_json(findings: list[Finding]) -> list[dict]:
    return [asdict(f) for f in findings]


def fmt(value: float, digits: int = 3) -> str:
    """A number in a few significant digits ("nan" and "inf" spelled out)."""
    if value is None or not math.isfinite(value):
        return str(value)
    return f"{value:.{digits}g}"


def console() -> Console:
    """stdout; piped (or under pytest), wide enough that rich does not fold the advice."""
    out = Console()
    return out if out.is_terminal else Console(width=160)


def styled(status: str) -> str:
    """The status in rich markup, coloured."""
    return f"[{_STYLE[status]}]{status}"


def print_table(findings: list[Finding], title: str, out: Console | None = None) -> None:
    out = out or console()
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("measured")
    table.add_column("advice")
    for f in findings:
        table.add_row(f.check, styled(f.status), f.measured, f.advice)
    out.print(table)
