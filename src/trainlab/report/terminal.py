"""The terminal side: a progress bar between epochs and rich tables of results."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

console = Console(stderr=True)

# Summary fields shown in the terminal, with their formats.
_SHOWN = {
    "status": "{}", "best_epoch": "{}", "best_val_loss": "{:.4f}", "best_val_acc": "{:.2%}",
    "final_train_loss": "{:.4f}", "final_val_loss": "{:.4f}", "test_loss": "{:.4f}",
    "test_acc": "{:.2%}", "n_params": "{:,}", "compile_s": "{:.2f}", "wall_s": "{:.2f}",
    "steps_per_s": "{:,.0f}",
}


def _format(value, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return fmt.format(value)


@contextlib.contextmanager
def epoch_progress(epochs: int, label: str, enabled: bool = True) -> Iterator[Callable]:
    """Yields ``advance(train_loss)``, called once per epoch; it waits for the epoch to finish
    on the device so that the bar tells the truth."""
    if not enabled or not console.is_terminal:
        yield lambda loss: None
        return
    columns = (
        TextColumn("{task.description}"), BarColumn(), TextColumn("epoch {task.completed}/"
        "{task.total}"), TextColumn("{task.fields[loss]}"), TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=epochs, loss="")

        def advance(loss) -> None:
            mean = float(np.nanmean(np.asarray(loss)))
            progress.update(task, advance=1, loss=f"train loss {mean:.4f}")

        yield advance


def print_summary(summary: dict, title: str) -> None:
    """The summary of one run as a two-column table (mean ± std over several seeds)."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, fmt in _SHOWN.items():
        if name not in summary:
            continue
        text = _format(summary[name], fmt)
        std = summary.get(f"{name}_std")
        if std is not None and text != "-":
            text += " ± " + _format(std, fmt)
        table.add_row(name, text)
    out = Console()
    out.print(f"[bold]{title}[/bold]")
    out.print(table)
