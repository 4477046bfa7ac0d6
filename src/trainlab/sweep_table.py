"""A sweep's results as one table, rebuilt from its job directories' files.

A row per job directory (a folder of the sweep dir with ``.hydra/overrides.yaml``): the job's
name, the swept values (the override keys whose values differ between jobs), the objective, and
the summary fields of its ``summary.json``; a job without one is ``unfinished``. Rows are sorted
by the objective, best first. Written as ``summary.csv`` in the sweep dir (contract).

A sweep directory may also hold the job directories of an older sweep (one with more jobs, or
other subdirs). Every job of a sweep, run or skipped as finished, is marked with the sweep's id
(``.sweep_id``, trainlab.sweep_lock), so the table holds that sweep's jobs only; the others are
named in one line, not in rows. Without an id (``trainlab report``), the table is the latest
sweep's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from trainlab import records
from trainlab.sweep_lock import MARK_NAME

# summary.json fields that are not one number or word per job.
_NOT_COLUMNS = ("overrides", "seeds", "per_seed", "config_hash")
DEFAULT_OBJECTIVE = "best_val_loss"


def job_dirs(sweep_dir: Path | str) -> list[Path]:
    """The job directories of a sweep, in job order (numeric names by number)."""
    found = [p.parent.parent for p in Path(sweep_dir).glob("*/.hydra/overrides.yaml")]
    return sorted(found, key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit()
                                        else 0, p.name))


def _sweep_of(job_dir: Path) -> str | None:
    try:
        return (job_dir / MARK_NAME).read_text().strip() or None
    except OSError:
        return None


def _start_ns(sweep_id: str) -> int:
    head = sweep_id.partition("-")[0]
    return int(head) if head.isdigit() else 0


def sweep_jobs(sweep_dir: Path | str, sweep_id: str | None = None,
               ) -> tuple[list[Path], list[Path]]:
    """(the job directories of the sweep ``sweep_id``, the others there). With no id, or one
    no job carries, the latest sweep's; if no job carries any id, every job directory."""
    dirs = job_dirs(sweep_dir)
    marks = {d: _sweep_of(d) for d in dirs}
    if sweep_id not in marks.values():
        known = {m for m in marks.values() if m}
        if not known:
            return dirs, []
        sweep_id = max(known, key=lambda m: (_start_ns(m), m))
    mine = [d for d in dirs if marks[d] == sweep_id]
    return mine, [d for d in dirs if marks[d] != sweep_id]


def older_note(sweep_dir: Path | str, older: list[Path], shown: int = 5) -> str:
    """One line naming the job directories of older sweeps."""
    names = ", ".join(d.name for d in older[:shown]) + (", ..." if len(older) > shown else "")
    return (f"{len(older)} job director{'y is' if len(older) == 1 else 'ies are'} in "
            f"{sweep_dir} from an earlier sweep, not in this table: {names}")


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: a sweep has many files


def read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(), Loader=_LOADER)
    except (OSError, yaml.YAMLError):
        return None


def _job_row(job_dir: Path) -> tuple[dict[str, str], dict, str]:
    """(override key -> value, summary fields, objective name) of one job directory."""
    overrides = {}
    for item in read_yaml(job_dir / ".hydra" / "overrides.yaml") or []:
        key, _, value = str(item).partition("=")
        if not key.lstrip("+~").startswith("hydra."):
            overrides[key.lstrip("+~")] = value
    config = read_yaml(job_dir / ".hydra" / "config.yaml") or {}
    objective = config.get("objective", DEFAULT_OBJECTIVE) if isinstance(config, dict) \
        else DEFAULT_OBJECTIVE
    try:
        summary = json.loads((job_dir / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {"status": "unfinished"}
    return overrides, summary, objective


def _numeric(column: pd.Series) -> pd.Series:
    converted = pd.to_numeric(column, errors="coerce")
    return converted if converted.notna().sum() == column.notna().sum() else column


def build(sweep_dir: Path | str, dirs: list[Path] | None = None) -> tuple[pd.DataFrame, str]:
    """The table of the job directories ``dirs`` (default: all of the sweep dir's), best
    first, and the objective it is sorted by."""
    dirs = job_dirs(sweep_dir) if dirs is None else dirs
    rows = [(path.name, *_job_row(path)) for path in dirs]
    if not rows:
        return pd.DataFrame(), DEFAULT_OBJECTIVE
    objective = rows[0][3]
    keys = list(dict.fromkeys(k for _, overrides, _, _ in rows for k in overrides))
    if len(rows) > 1:  # a value every job shares was not swept
        keys = [k for k in keys if len({o.get(k) for _, o, _, _ in rows}) > 1]
    records_ = []
    for name, overrides, summary, _ in rows:
        row: dict = {"job": name}
        row |= {k: overrides.get(k) for k in keys}
        finished = summary.get("status") != "unfinished"
        row["objective"] = records.objective_value(summary, objective) if finished else math.nan
        row |= {k: v for k, v in summary.items() if k not in _NOT_COLUMNS}
        records_.append(row)
    frame = pd.DataFrame(records_)
    for key in keys:
        frame[key] = _numeric(frame[key])
    frame["objective"] = frame["objective"].replace(math.inf, math.nan)  # diverged: no number
    frame = frame.sort_values("objective", na_position="last", kind="stable")
    return frame.reset_index(drop=True), objective


def write(sweep_dir: Path | str, dirs: list[Path] | None = None) -> tuple[pd.DataFrame, str]:
    """Build the table and write it as ``summary.csv`` in the sweep dir."""
    frame, objective = build(sweep_dir, dirs)
    records.write_csv(frame, Path(sweep_dir) / "summary.csv")
    return frame, objective


# The summary fields the terminal table shows after the swept values, with their formats.
_SHOWN = {"status": "{}", "objective": "{:.4g}", "best_val_acc": "{:.2%}",
          "test_acc": "{:.2%}"}


def _cell(value, fmt: str = "{}") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and fmt == "{}":
        return f"{value:.4g}"
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def print_best(frame: pd.DataFrame, objective: str, sweep_dir: Path | str, top: int = 10) -> None:
    """The best ``top`` rows as a rich table, with a count of the statuses in its title."""
    console = Console()
    if frame.empty:
        console.print(f"sweep {sweep_dir}: no job directories")
        return
    counts = frame["status"].value_counts()
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    # The title is a line of its own, never wrapped: a long path must not break its phrases.
    console.print(f"sweep {sweep_dir}: {len(frame)} jobs ({tally}), best by {objective}",
                  soft_wrap=True, style="bold")
    table = Table(header_style="bold")
    shown = [("job", "{}"), *((c, "{}") for c in swept_columns(frame)),
             *((c, f) for c, f in _SHOWN.items() if c in frame)]
    for name, _ in shown:
        table.add_column(name, justify="left" if name in ("job", "status") else "right")
    for _, row in frame.head(top).iterrows():
        table.add_row(*(_cell(row[name], fmt) for name, fmt in shown))
    console.print(table)


def swept_columns(frame: pd.DataFrame) -> list[str]:
    """The override columns: those before ``objective``, after ``job``."""
    columns = list(frame.columns)
    return columns[1:columns.index("objective")]
