"""The terminal side: what a run is doing while it runs (compiling, then a bar over its epochs
that leaves a one-line trace), a sweep's bar over its trials, and rich tables of results.

Log lines written while a bar is on screen go through the bar's console, above the bar,
never glued onto it (``logs_through_console``).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.file_proxy import FileProxy
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from trainlab.report.numbers import format_value, format_with_std

console = Console(stderr=True)

# Summary fields shown in the terminal, in this order.
_SHOWN = ("status", "best_epoch", "best_val_loss", "best_val_acc", "final_train_loss",
          "final_val_loss", "test_loss", "test_acc", "n_params", "compile_s", "wall_s",
          "steps_per_s")

# What shows progress now (a run's compile status, a sweep's bar): told when a compile starts
# and ends, by ``compiling()`` around the compile.
_watchers: list = []
_last_compile: dict[str, float] = {}  # seconds of the latest compile, for the epoch bar's trace


@contextlib.contextmanager
def logs_through_console() -> Iterator[None]:
    """While a bar is live: every logging handler that writes to the terminal writes through
    the bar's console instead, so a log line lands above the bar, whole."""
    swapped = []
    loggers = [logging.getLogger()] + [logging.getLogger(name)
                                       for name in logging.root.manager.loggerDict]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if (isinstance(handler, logging.StreamHandler)
                    and not isinstance(handler, logging.FileHandler)
                    and getattr(handler.stream, "isatty", lambda: False)()):
                swapped.append((handler, handler.setStream(FileProxy(console, handler.stream))))
    try:
        yield
    finally:
        for handler, stream in swapped:
            proxy = handler.setStream(stream)
            proxy.flush()


@contextlib.contextmanager
def compiling() -> Iterator[None]:
    """Around a compile (or a load from the compilation cache): whatever shows progress now
    says "compiling" with the time it has taken."""
    watcher = _watchers[-1] if _watchers else None
    if watcher is not None:
        watcher.compile_started()
    start = time.perf_counter()
    try:
        yield
    finally:
        _last_compile["s"] = time.perf_counter() - start
        if watcher is not None:
            watcher.compile_ended()


class _CompileStatus:
    """A run's compile phase on a terminal: a spinner, "compiling", the seconds so far."""

    def __init__(self) -> None:
        self.progress: Progress | None = None

    def compile_started(self) -> None:
        if not console.is_terminal:
            return
        self.progress = Progress(SpinnerColumn(), TextColumn("compiling the training program"),
                                 TimeElapsedColumn(), console=console, transient=True)
        self.progress.add_task("compiling", total=None)
        self.progress.start()

    def compile_ended(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


@contextlib.contextmanager
def run_status(enabled: bool = True) -> Iterator[None]:
    """A run's progress: "compiling" while it compiles (the epoch bar then takes over)."""
    if not enabled:
        yield
        return
    status = _CompileStatus()
    _watchers.append(status)
    try:
        with logs_through_console():
            yield
    finally:
        status.compile_ended()
        _watchers.remove(status)


# The metrics a bar shows, with their long labels (a wide terminal, the trace) and short ones.
_BAR_METRICS = (("train_loss", "train loss", "loss"), ("val_loss", "val loss", "val"),
                ("val_acc", "val acc", "acc"))


def _metrics_text(row: dict, short: bool = False) -> str:
    """The epoch's train loss, and the validation loss and accuracy where computed (means over
    the trials, ignoring the ones that diverged)."""
    parts = []
    for name, label, brief in _BAR_METRICS:
        if name not in row:
            continue
        values = np.asarray(row[name], dtype=float)
        if not np.isfinite(values).any():
            continue
        parts.append(f"{brief if short else label} {format_value(name, float(np.nanmean(values)))}")
    return (" " if short else " · ").join(parts)


def _fit(parts: list[str], width: int) -> str:
    """The parts joined by " · ", as many of them as fit in ``width`` (the first always)."""
    text = parts[0]
    for part in parts[1:]:
        if len(text) + 3 + len(part) > width:
            break
        text += " · " + part
    return text


def _clock(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds < 60 else time.strftime("%H:%M:%S", time.gmtime(seconds))


@contextlib.contextmanager
def epoch_progress(epochs: int, label: str, enabled: bool = True) -> Iterator[Callable]:
    """Yields ``advance(row)``, called once per epoch with the epoch's metrics row (the caller
    waits for the epoch on the device, so the bar tells the truth). On a terminal, a bar with
    the train and validation metrics; when it ends, one line: epochs, time, last metrics."""
    if not enabled:
        yield lambda row: None
        return
    compile_s = _last_compile.pop("s", None)
    done, last = 0, {}
    start = time.perf_counter()
    progress = None
    if console.is_terminal:
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(bar_width=24),
            TextColumn("epoch {task.completed}/{task.total}"), TextColumn("{task.fields[text]}"),
            TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
            console=console, transient=True)
    with progress if progress is not None else contextlib.nullcontext(), logs_through_console():
        task = progress.add_task(label, total=epochs, text="") if progress is not None else None

        def advance(row: dict) -> None:
            nonlocal done, last
            done, last = done + 1, row
            if progress is not None:  # below 110 columns the short labels keep it on a line
                progress.update(task, advance=1, text=_metrics_text(row, console.width < 110))

        yield advance
        if progress is not None:
            progress.refresh()  # its last frame shows the total reached
    compiled = f" (compile {_clock(compile_s)})" if compile_s is not None else ""
    prefix = f"{label}: " if label != "training" else ""  # a figure's group names itself
    head = f"{prefix}{done}/{epochs} epochs in {_clock(time.perf_counter() - start)}{compiled}"
    text, short = _metrics_text(last), _metrics_text(last, short=True)
    if text and len(f"{head} · {text}") > console.width:  # the short labels, then fewer
        text = short if len(f"{head} · {short}") <= console.width else ""
    console.print(_fit([head, text] if text else [head], console.width), highlight=False,
                  soft_wrap=True)


class SweepProgress:
    """A sweep's bar over its trials, with its phase (compiling a group, training its chunks)
    and an ETA; the log lines of the sweep go above it. On a terminal only."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.phase = total, 0, ""
        self.group_text, self.chunks, self.chunk = "", 0, 0
        self.progress: Progress | None = None
        self.start = time.perf_counter()
        self.compile_s = 0.0
        self._compile_start = 0.0

    def __enter__(self) -> SweepProgress:
        _watchers.append(self)
        self._logs = logs_through_console()
        self._logs.__enter__()
        if console.is_terminal:
            self.progress = Progress(
                TextColumn("trials"), BarColumn(bar_width=24), MofNCompleteColumn(),
                TextColumn("{task.fields[phase]}"), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), console=console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("trials", total=self.total, phase="")
        return self

    def _show(self) -> None:
        if self.progress is not None:
            self.progress.update(self.task, completed=self.done, phase=self.phase)

    def group(self, number: int, of: int, chunks: int) -> None:
        """Group ``number`` of ``of`` starts, in ``chunks`` chunks."""
        self.group_text = f"group {number}/{of}" if of > 1 else ""
        self.chunks, self.chunk = chunks, 0
        self._set_training()

    def _set_training(self) -> None:
        chunk = f"chunk {min(self.chunk + 1, self.chunks)}/{self.chunks}" if self.chunks > 1 \
            else ""
        self.phase = " ".join(p for p in ("training", self.group_text, chunk) if p)
        self._show()

    def compile_started(self) -> None:
        self._compile_start = time.perf_counter()
        self.phase = " ".join(p for p in ("compiling", self.group_text) if p)
        self._show()

    def compile_ended(self) -> None:
        self.compile_s += time.perf_counter() - self._compile_start
        self._set_training()

    def advance(self, trials: int) -> None:
        self.done += trials
        self.chunk += 1
        self._set_training()

    __call__ = advance

    def __exit__(self, *exc) -> None:
        _watchers.remove(self)
        if self.progress is not None:
            self.progress.refresh()
            self.progress.stop()
        self._logs.__exit__(*exc)
        if exc[0] is None and self.total:
            console.print(f"trials: {self.done}/{self.total} in "
                          f"{_clock(time.perf_counter() - self.start)} (compiling "
                          f"{_clock(self.compile_s)})", highlight=False)


def shown_path(path) -> str:
    """A path as short as it reads: relative to the working directory when it is inside."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def announce(title: str, out_dir=None) -> None:
    """Before a run trains (its data loaded and checked): what it trains, where its files go.
    On stdout, with the run's table: stderr is for progress and errors (an error is then its
    one line there)."""
    out = Console()
    out.print(title, highlight=False, markup=False)
    if out_dir is not None:
        out.print(f"run dir: {shown_path(out_dir)}", highlight=False, soft_wrap=True)


def print_summary(summary: dict, title: str) -> None:
    """The summary of one run as a two-column table (mean ± std over several seeds)."""
    table = Table(show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name in _SHOWN:
        if name in summary:
            table.add_row(name, format_with_std(name, summary[name], summary.get(f"{name}_std")))
    seeds = summary.get("seeds") or []
    out = Console()
    out.print(title, style="bold", highlight=False, markup=False)
    if len(seeds) > 1:
        out.print(f"mean ± std over {len(seeds)} seeds", highlight=False)
    out.print(table)

