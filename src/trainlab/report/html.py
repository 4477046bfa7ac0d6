"""``report.html``: the page of a sweep or of a run, one self-contained file.

Everything is inline: plotly.js (one copy, from the ``plotly`` package, so the page opens from
disk with no network), the style, the page's script (``page.js``: sortable and filterable
tables, the job section, click and hover), and the data as one JSON block. The figures are
Plotly figures built in Python (``sweep_charts``, ``run_charts``) and drawn by plotly.js.

The page of a 2000-job sweep stays small: the job table is in the JSON once, the figures refer
to jobs by name, and only the top k entries' learning curves are embedded.
"""

from __future__ import annotations

import html
import json
import math
from importlib import resources
from pathlib import Path
from typing import NamedTuple

import pandas as pd
import plotly.io as pio
from plotly.offline import get_plotlyjs

from trainlab import records, sweep_table
from trainlab.report import run_charts, sweep_charts, sweep_data

REPORT_FILE = "report.html"
TEMPLATE = "plotly_white"
# Sweep table columns shown after the job, the swept values and the objective, when present.
JOB_COLUMNS = ("status", "rung", "best_epoch", "best_val_acc", "test_loss", "test_acc",
               "wall_s")
# Summary fields that are not one number or word (the run page shows the overrides apart).
_NOT_FIELDS = ("overrides", "seeds", "per_seed", "config_hash")


# ------------------------------------------------------------------------------- sweeps
def write_sweep(sweep_dir: Path | str, frame: pd.DataFrame, objective: str,
                top_k: int = 10) -> Path:
    """Write ``report.html`` of a sweep (its table ``frame``, best first) into its dir."""
    data = sweep_data.load(sweep_dir, frame, objective, top_k)
    path = Path(sweep_dir) / REPORT_FILE
    page = sweep_page(data)
    records.atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path


def sweep_page(data: sweep_data.SweepData) -> str:
    frame = data.frame
    figures, sections = {}, []
    sections.append(_section("jobs", "Jobs", _table_intro(data), '<div id="jobs-table"></div>'))
    if data.by_config is not None:
        sections.append(_section(
            "configs", "By configuration",
            f"The jobs alike but for the seed, ranked by the mean {data.objective} over "
            "their finished seeds (± its standard deviation; n jobs). Click a row for its "
            "best job.", '<div id="configs-table"></div>'))
    plotted = data.hyperparameters and frame["objective"].notna().any()  # a finished job
    if data.hyperparameters and not plotted:
        sections.append(_section("hyperparameters", "Objective against each hyperparameter",
                                 "No job has finished yet: nothing to plot.", ""))
    if plotted:
        plots = []
        for i, key in enumerate(data.hyperparameters):
            figures[f"hp-{i}"] = sweep_charts.objective_against(
                frame, key, key in data.log_keys, data.objective)
            plots.append(f'<div class="plot" data-figure="hp-{i}"></div>')
        sections.append(_section(
            "hyperparameters", "Objective against each hyperparameter",
            "Every finished job is a point: hover for its overrides, click for its section.",
            f'<div class="grid">{"".join(plots)}</div>'))
    if data.curves:
        figures["curves"] = sweep_charts.learning_curves(data.curves, data.objective)
        unit = "configurations" if data.by_config is not None else "jobs"
        sections.append(_section(
            "curves", f"Learning curves of the best {len(data.curves)} {unit}",
            "The mean over seeds, and the band from the lowest to the highest seed where "
            "there are several. Click a line for its (best) job.",
            '<div class="plot" data-figure="curves"></div>'))
    if plotted:
        figures["parallel"] = sweep_charts.parallel_coordinates(
            frame, data.hyperparameters, data.log_keys, data.objective)
        sections.append(_section(
            "parallel", "Parallel coordinates",
            "A line per finished job through its hyperparameters (log ones in decades) to its "
            "objective, bright for the best. Drag along an axis to keep a range.",
            '<div class="plot" data-figure="parallel"></div>'))
    if "rung" in frame and frame["rung"].notna().any():
        figures["rungs"] = sweep_charts.rungs(frame, data.objective)
        sections.append(_section(
            "rungs", "Successive halving", "The rung each job reached and its objective.",
            '<div class="plot" data-figure="rungs"></div>'))
    if data.pbt is not None and not data.pbt.empty:
        figures["pbt"] = sweep_charts.pbt_lineage(data.pbt, data.objective)
        figures["pbt-values"] = sweep_charts.pbt_values(data.pbt)
        sections.append(_section(
            "pbt", "Population-based training",
            f"From {sweep_data.PBT_FILE}: each member's objective by interval; a dashed red "
            "line where it copied another member's weights. Below: its hyperparameters.",
            '<div class="plot" data-figure="pbt"></div>'
            '<div class="plot" data-figure="pbt-values"></div>'))

    job_figures = {job: sweep_charts.job_curves(entry.table[entry.table["job"] == job])
                   for entry in data.curves for job in entry.jobs
                   if (entry.table["job"] == job).any()}
    payload = {
        "kind": "sweep",
        "objective": data.objective,
        "swept": data.swept,
        "fixed": data.fixed,
        "jobs": _records(frame),
        "jobTable": _job_table_spec(data),
        "configs": _config_table(data),
        "figures": {name: _figure_json(fig) for name, fig in figures.items()},
        "jobFigures": {job: _figure_json(fig) for job, fig in job_figures.items()},
        "runReports": [str(j) for j in frame["job"]
                       if (data.sweep_dir / str(j) / REPORT_FILE).is_file()],
        "sweepDir": str(data.sweep_dir),
    }
    title = f"trainlab report: sweep {data.sweep_dir.resolve().name}"
    return _page(title, _sweep_header(data), sections, payload, job_panel=True)


def _table_intro(data: sweep_data.SweepData) -> str:
    return (f"One row per job, best first by {data.objective} (lower is better; diverged and "
            "unfinished jobs last). Click a column to sort, type to filter, hover a row for "
            "its overrides, click it for its section.")


def _sweep_header(data: sweep_data.SweepData) -> str:
    frame = data.frame
    counts = frame["status"].value_counts()
    tally = ", ".join(f"{n} {html.escape(str(s))}" for s, n in counts.items())
    parts = [f"<b>{len(frame)} jobs</b> ({tally})",
             f"objective <code>{html.escape(data.objective)}</code> (minimized)"]
    best = frame[frame["objective"].notna()]
    if len(best):
        job = html.escape(str(best["job"].iloc[0]))
        parts.append(f'best: <a href="#job={job}" class="job-link" data-job="{job}">job {job}'
                     f"</a> ({best['objective'].iloc[0]:.4g})")
    swept = " ".join(f"<code>{html.escape(k)}</code>" for k in data.swept) or "nothing"
    fixed = " ".join(f"<code>{html.escape(o)}</code>" for o in data.fixed) or "none"
    return (f'<p class="facts">{" · ".join(parts)}</p>'
            f'<p class="facts">swept: {swept}</p><p class="facts">shared by every job: '
            f"{fixed}</p><p class=\"facts muted\">{html.escape(str(data.sweep_dir))}</p>")


def _kind(column: str, series: pd.Series | None = None) -> str:
    """How the page formats a column: pct (accuracies, errors), int, num, status or text."""
    if column == "status":
        return "status"
    if column.endswith(("_acc", "_error")):
        return "pct"
    if column in ("best_epoch", "n_params", "seed", "rung", "n", "n_diverged", "group_size"):
        return "int"
    if series is not None and not pd.api.types.is_numeric_dtype(series):
        return "text"
    return "num"


def _job_table_spec(data: sweep_data.SweepData) -> list[dict]:
    frame = data.frame
    objective_kind = "pct" if data.objective.endswith("_error") else "num"
    columns = [{"key": "job", "label": "job", "kind": "text"}]
    columns += [{"key": k, "label": k, "kind": _kind(k, frame[k])} for k in data.swept]
    columns.append({"key": "objective", "label": f"objective ({data.objective})",
                    "kind": objective_kind, "std": _std_of(frame, data.objective)})
    columns += [{"key": c, "label": c, "kind": _kind(c, frame[c]), "std": _std_of(frame, c)}
                for c in JOB_COLUMNS if c in frame and c not in data.swept]
    return columns


def _std_of(frame: pd.DataFrame, column: str) -> str | None:
    """The column of a field's std over a job's seeds (seeds > 1), if the table has it."""
    name = column.replace("_error", "_acc") + "_std"
    return name if name in frame else None


def _config_table(data: sweep_data.SweepData) -> dict | None:
    table = data.by_config
    if table is None:
        return None
    objective_kind = "pct" if data.objective.endswith("_error") else "num"
    columns = [{"key": k, "label": k, "kind": _kind(k, table[k])}
               for k in data.hyperparameters]
    columns += [{"key": "objective", "label": f"mean {data.objective}", "kind": objective_kind,
                 "std": "objective_std"},
                {"key": "n", "label": "n", "kind": "int"},
                {"key": "n_diverged", "label": "diverged", "kind": "int"}]
    columns += [{"key": m, "label": f"mean {m}", "kind": _kind(m), "std": f"{m}_std"}
                for m in ("test_acc", "test_loss") if m in table]
    columns.append({"key": "best_job", "label": "best job", "kind": "text"})
    return {"columns": columns, "data": _records(table), "jobKey": "best_job"}


# --------------------------------------------------------------------------------- runs
def write_run(run_dir: Path | str) -> Path:
    """Write ``report.html`` of a run (a folder with ``metrics.csv``) into its dir."""
    run_dir = Path(run_dir)
    table = pd.read_csv(run_dir / "metrics.csv")
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        summary = {"status": "unfinished"}
    overrides = summary.get("overrides")
    if overrides is None:
        overrides = sweep_table.read_yaml(run_dir / ".hydra" / "overrides.yaml") or []
    path = run_dir / REPORT_FILE
    page = run_page(run_dir, table, summary, [str(o) for o in overrides])
    records.atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))
    return path


def run_page(run_dir: Path, table: pd.DataFrame, summary: dict, overrides: list[str]) -> str:
    figures = {"run-curves": run_charts.curves(table)}
    seeds = sorted(table["seed"].unique()) if "seed" in table else []
    band = (f"Mean over the {len(seeds)} seeds, the band from the lowest to the highest."
            if len(seeds) > 1 else "")
    sections = [_section("summary", "Summary", "", _summary_table(summary)),
                _section("run-curves-section", "Curves", band,
                         '<div class="plot" data-figure="run-curves"></div>')]
    stats = run_charts.layer_columns(table)
    if stats:
        figures["diagnostics"] = run_charts.diagnostics(table)
        sections.append(_section(
            "diagnostics", "Per-layer diagnostics",
            f"Every <code>&lt;stat&gt;/&lt;layer&gt;</code> column of metrics.csv ({len(stats)} "
            "statistics), a line per layer (layer k is layers.&lt;k-1&gt; in the params files)."
            " Click a layer in the legend to hide it everywhere. " + band,
            '<div class="plot" data-figure="diagnostics"></div>'))
    if run_charts.other_columns(table):
        figures["others"] = run_charts.others(table)
        sections.append(_section("other-columns", "The other columns of metrics.csv", band,
                                 '<div class="plot" data-figure="others"></div>'))
    doctor = _doctor_section(run_dir)
    if doctor is not None:
        sections.insert(1, doctor)
    status = html.escape(str(summary.get("status", "unfinished")))
    command = " ".join(html.escape(o) for o in overrides)
    header = (f'<p class="facts"><span class="status status-{status}">{status}</span> · '
              f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} · "
              f"{int(table['epoch'].max()) if 'epoch' in table else 0} epochs</p>"
              f'<p class="facts">overrides: <code>{command or "(none)"}</code></p>'
              f'<p class="facts muted">{html.escape(str(run_dir))}</p>')
    payload = {"kind": "run", "figures": {n: _figure_json(f) for n, f in figures.items()}}
    return _page(f"trainlab report: run {run_dir.resolve().name}", header, sections, payload,
                 job_panel=False)


def _doctor_section(run_dir: Path) -> _section | None:
    """The table of ``trainlab doctor``'s findings, when the run dir has its doctor.json."""
    try:
        report = json.loads((Path(run_dir) / "doctor.json").read_text())
        findings = report["findings"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    rows = "".join(
        f'<tr><th>{html.escape(str(f.get("check", "")))}</th>'
        f'<td class="doctor-{html.escape(str(f.get("status", "")))}">'
        f'{html.escape(str(f.get("status", "")))}</td>'
        f'<td>{html.escape(str(f.get("measured", "")))}</td>'
        f'<td><code>{html.escape(str(f.get("advice", "")))}</code></td></tr>'
        for f in findings)
    when = "before the run" if report.get("kind") == "before" else "on the curves"
    return _section("doctor", "Doctor",
                    f"<code>trainlab doctor</code>'s findings {when} (doctor.json).",
                    '<table class="fields doctor"><tr><th>check</th><th>result</th>'
                    f"<th>measured</th><th>advice</th></tr>{rows}</table>")


def _summary_table(summary: dict) -> str:
    rows = []
    for key, value in summary.items():
        if key in _NOT_FIELDS or key.endswith("_std"):
            continue
        text = _format(value, _kind(key))
        std = summary.get(f"{key}_std")
        if isinstance(std, (int, float)) and text != "–":
            text += " ± " + _format(std, _kind(key))
        rows.append(f"<tr><th>{html.escape(key)}</th><td>{html.escape(text)}</td></tr>")
    return f'<table class="fields">{"".join(rows)}</table>'


def _format(value, kind: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if kind == "pct":
        return f"{value:.2%}"
    if kind == "int":
        return f"{value:,.0f}"
    return f"{value:.4g}"


# --------------------------------------------------------------------------------- page
class _section(NamedTuple):
    """A part of the page: its anchor, its title (in the nav too), a line of text (html) and
    its body (html)."""

    anchor: str
    title: str
    intro: str
    body: str

    def render(self) -> str:
        intro = f'<p class="intro">{self.intro}</p>' if self.intro else ""
        return (f'<section id="{self.anchor}"><h2>{html.escape(self.title)}</h2>{intro}'
                f"{self.body}</section>")


def _records(frame: pd.DataFrame) -> dict:
    """A table as JSON: its field names and one list of values per row (NaN: null)."""
    split = json.loads(frame.to_json(orient="split", index=False, double_precision=15))
    return {"fields": split["columns"], "rows": split["data"]}


def _figure_json(fig) -> dict:
    """A figure as plotly.js takes it, without a template (the page has one for all)."""
    return json.loads(pio.to_json(fig, validate=False, remove_uids=True))


def _json_for_script(payload: dict) -> str:
    # Inside <script>, "</" would end the block; "<\/" is the same string to JSON.
    return json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _asset(name: str) -> str:
    return resources.files("trainlab.report").joinpath(name).read_text(encoding="utf-8")


def _page(title: str, header: str, sections: list[_section], payload: dict, *,
          job_panel: bool) -> str:
    template = pio.templates[TEMPLATE].to_plotly_json()
    payload["template"] = json.loads(pio.json.to_json_plotly(template))
    nav = " ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in sections)
    panel = ('<aside id="job" class="panel" hidden aria-live="polite">'
             '<button type="button" class="close" aria-label="close">×</button>'
             '<div class="panel-body"></div></aside>') if job_panel else ""
    return "".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title><style>{_asset('page.css')}</style>",
        f"<script>{get_plotlyjs()}</script></head><body>",
        f"<header><h1>{html.escape(title)}</h1>{header}<nav>{nav}</nav></header><main>",
        *(s.render() for s in sections), "</main>", panel,
        f'<script type="application/json" id="report-data">{_json_for_script(payload)}',
        f"</script><script>{_asset('page.js')}</script></body></html>",
    ])
