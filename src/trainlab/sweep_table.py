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


def _swept(items: list) -> dict[str, str]:
    """Override key -> value of a job's task overrides (hydra.* left out)."""
    overrides = {}
    for item in items:
        key, _, value = str(item).partition("=")
        if not key.lstrip("+~").startswith("hydra."):
            overrides[key.lstrip("+~")] = value
    return overrides


def _job_row(job_dir: Path) -> tuple[dict[str, str], dict]:
    """(override key -> value, summary fields) of one job directory. A finished job's
    summary.json holds its overrides; only an unfinished one's are read from
    .hydra/overrides.yaml (YAML is slow to read, and a sweep has thousands of jobs)."""
    try:
        summary = json.loads((job_dir / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {"status": "unfinished"}
    items = summary.get("overrides")
    if not isinstance(items, list):
        items = read_yaml(job_dir / ".hydra" / "overrides.yaml") or []
    return _swept(items), summary


def objective_of(job_dir: Path) -> str:
    """The objective a job's config names (the sweep's: every job shares it)."""
    config = read_yaml(job_dir / ".hydra" / "config.yaml")
    return config.get("objective", DEFAULT_OBJECTIVE) if isinstance(config, dict) \
        else DEFAULT_OBJECTIVE


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
    objective = objective_of(dirs[0])
    keys = list(dict.fromkeys(k for _, overrides, _ in rows for k in overrides))
    if len(rows) > 1:  # a value every job shares was not swept
        keys = [k for k in keys if len({o.get(k) for _, o, _ in rows}) > 1]
    records_ = []
    for name, overrides, summary in rows:
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
    """Build the table and write it as ``summary.csv`` in the sweep dir (and, with the seed
    swept, ``summary_by_config.csv``: one row per configuration, ranked by the mean)."""
    frame, objective = build(sweep_dir, dirs)
    records.write_csv(frame, Path(sweep_dir) / "summary.csv")
    grouped = configurations(frame) if not frame.empty else None
    if grouped is not None:
        records.write_csv(grouped, Path(sweep_dir) / BY_CONFIG)
    return frame, objective


# The summary fields the terminal table shows after the swept values.
_SHOWN = ("status", "objective", "best_val_acc", "test_acc")
BY_CONFIG = "summary_by_config.csv"


def _cell(name: str, value) -> str:
    from trainlab.report.numbers import format_value

    if isinstance(value, float) and math.isnan(value):
        return "-"
    if name not in _SHOWN and name != "objective" and not name.endswith("_acc"):
        return f"{value:.4g}" if isinstance(value, float) else str(value)  # a swept value
    return format_value(name, value)


def print_best(frame: pd.DataFrame, objective: str, sweep_dir: Path | str, top: int = 10) -> None:
    """The best ``top`` rows as a table that fits the terminal, with a count of the statuses
    in its title; with the seed swept, then the best configurations (mean ± std over seeds)."""
    from trainlab.report.tables import print_fitted

    console = Console()
    if frame.empty:
        console.print(f"sweep {sweep_dir}: no job directories")
        return
    counts = frame["status"].value_counts()
    tally = ", ".join(f"{n} {status}" for status, n in counts.items())
    # The title is a line of its own, never wrapped: a long path must not break its phrases.
    jobs = f"{len(frame)} job{'s' * (len(frame) != 1)}"
    console.print(f"sweep {sweep_dir}: {jobs} ({tally}), best by {objective}", soft_wrap=True,
                  style="bold", highlight=False)
    swept = swept_columns(frame)
    shown = ["job", *swept, *(c for c in _SHOWN if c in frame)]
    rows = [[_cell(name, row[name]) for name in shown] for _, row in frame.head(top).iterrows()]
    print_fitted(console, shown, rows, right=[c for c in shown if c not in ("job", "status")],
                 where="summary.csv")
    grouped = configurations(frame)
    if grouped is not None:
        print_configurations(console, grouped, objective, top)


def configurations(frame: pd.DataFrame) -> pd.DataFrame | None:
    """With the seed swept: one row per configuration (the jobs alike but for the seed),
    ranked by the objective's mean; None otherwise."""
    from trainlab.report.sweep_data import SEED, by_config

    swept = swept_columns(frame)
    if SEED not in swept or len(frame) < 2:
        return None
    return by_config(frame, [c for c in swept if c != SEED])


def print_configurations(console: Console, grouped: pd.DataFrame, objective: str,
                         top: int) -> None:
    from trainlab.report.numbers import format_with_std
    from trainlab.report.tables import print_fitted

    keys = [c for c in grouped.columns if c not in _CONFIG_FIELDS and not c.endswith("_std")]
    metrics = [m for m in ("objective", "test_acc", "test_loss") if m in grouped]
    console.print(f"by configuration ({len(grouped)}, mean ± std over seeds, best by the mean "
                  f"of {objective})", style="bold", highlight=False, soft_wrap=True)
    headers = [*keys, "n", *metrics, "best_job"]
    rows = [[*(_cell(k, row[k]) for k in keys), str(row["n"]),
             *(format_with_std(m, row[m], row[f"{m}_std"]) for m in metrics), str(row["best_job"])]
            for _, row in grouped.head(top).iterrows()]
    print_fitted(console, headers, rows, right=[*keys, "n", *metrics], where=BY_CONFIG)


_CONFIG_FIELDS = ("n", "n_diverged", "objective", "test_acc", "test_loss", "best_job")


def swept_columns(frame: pd.DataFrame) -> list[str]:
    """The override columns: those before ``objective``, after ``job``."""
    columns = list(frame.columns)
    return columns[1:columns.index("objective")]
