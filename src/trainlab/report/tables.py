"""Terminal tables that fit their width: columns keep their whole headers and cells; the
columns that do not fit are left out, from the last, and named in a note below the table
(never every header shrunk to an ellipsis)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

_EDGE = 4  # a table's outer border and the first column's padding
_GAP = 3  # a column's padding and its border


def _natural(header: str, cells: Sequence[str]) -> int:
    return max([len(header), *(len(c) for c in cells)])


def fitting_columns(headers: Sequence[str], rows: Sequence[Sequence[str]], width: int,
                    keep: int = 1) -> list[int]:
    """The indices of the columns shown in ``width``: the first ``keep`` always, then the
    others in order while they fit whole."""
    shown, used = [], _EDGE - _GAP
    for index, header in enumerate(headers):
        need = _natural(header, [row[index] for row in rows]) + _GAP
        if index < keep or used + need <= width:
            shown.append(index)
            used += need
    return shown


def print_fitted(console: Console, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                 right: Sequence[str] = (), keep: int = 1, where: str = "") -> None:
    """``rows`` under ``headers`` in the console's width; the columns left out are named in
    one line (and ``where`` the whole table is, if given)."""
    shown = fitting_columns(headers, rows, console.width, keep)
    table = Table(header_style="bold")
    for index in shown:
        table.add_column(headers[index], justify="right" if headers[index] in right else "left",
                         no_wrap=True, min_width=_natural(headers[index],
                                                          [row[index] for row in rows]))
    for row in rows:
        table.add_row(*(row[index] for index in shown))
    console.print(table)
    left_out = [h for i, h in enumerate(headers) if i not in shown]
    if left_out:
        note = f"{len(left_out)} column{'s' * (len(left_out) > 1)} not shown at this width: " \
               f"{', '.join(left_out)}"
        console.print(note + (f" (all in {where})" if where else ""), highlight=False)
