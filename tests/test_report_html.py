"""report.html without a browser: what the page holds (one file, nothing to fetch, one row per
job, the figures a sweep or a run calls for) and `trainlab report` on sweeps and runs. On
directories written by hand (report_fixtures): no training here. The browser checks are in
test_report_browser.py."""

from __future__ import annotations

import base64
import json
import math
import re
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from report_fixtures import make_sweep, metrics, write_job, write_pbt
from trainlab import sweep_report, sweep_table
from trainlab.report import charts, html, run_charts, sweep_data


class _Tags(HTMLParser):
    """Every start tag and its attributes, and the text of the JSON data block."""

    def __init__(self):
        super().__init__()
        self.tags, self.data, self._in_data = [], None, False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.append((tag, attrs))
        self._in_data = attrs.get("id") == "report-data"

    def handle_data(self, data):
        if self._in_data:
            self.data = (self.data or "") + data

    def handle_endtag(self, tag):
        self._in_data = False


def parse(path) -> tuple[list, dict]:
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.tags, json.loads(parser.data)


def values(array) -> list:
    """A figure's array as plotly.py wrote it: a list, or numpy's bytes in base64."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def report(sweep_dir, top_k=10):
    frame, objective = sweep_table.write(sweep_dir)
    return html.write_sweep(sweep_dir, frame, objective, top_k=top_k)


@pytest.fixture
def sweep(tmp_path):
    return make_sweep(tmp_path / "sweep", diverged=(0,))


# ------------------------------------------------------------------------ a sweep's page
def test_one_file_that_fetches_nothing(sweep):
    text = (path := report(sweep)).read_text(encoding="utf-8")
    tags, _ = parse(path)
    scripts = [attrs for tag, attrs in tags if tag == "script"]
    assert scripts and all("src" not in attrs for attrs in scripts)
    assert not [a for t, a in tags if t == "link"]  # no stylesheet, icon or font to load
    for _, attrs in tags:
        for name in ("src", "href"):
            assert not re.match(r"\w+://", attrs.get(name) or ""), attrs  # links stay local
    assert text.count(get_plotlyjs()[:2000]) == 1  # one copy of plotly.js
    assert "@import" not in text.split("<script>")[0] and "url(" not in text.split("<script>")[0]


def test_the_job_table_has_every_job_best_first(sweep):
    _, data = parse(report(sweep))
    jobs = pd.DataFrame(data["jobs"]["rows"], columns=data["jobs"]["fields"])
    written = pd.read_csv(sweep / "summary.csv", dtype={"job": str})
    assert list(jobs.job) == list(written.job) and len(jobs) == 12
    assert jobs.job.iloc[-1] == "0" and jobs.status.iloc[-1] == "diverged"  # ranked last
    shown = [c["key"] for c in data["jobTable"]]
    assert shown[:5] == ["job", "optimizer.lr", "model.hidden_dropout", "seed", "objective"]
    assert {"status", "test_acc", "best_val_acc"} <= set(shown)
    assert data["fixed"] == ["data=moons", "model.widths=[16,16]", "epochs=6"]


def test_a_figure_for_each_hyperparameter_log_where_the_search_was(sweep):
    _, data = parse(report(sweep))
    figures = data["figures"]
    assert {"hp-0", "hp-1", "curves", "parallel"} <= set(figures)
    lr, dropout = figures["hp-0"], figures["hp-1"]
    assert lr["layout"]["xaxis"]["type"] == "log"
    assert dropout["layout"]["xaxis"].get("type") != "log"
    assert "seed" not in json.dumps([lr["layout"]["title"], dropout["layout"]["title"]])
    points = lr["data"][0]
    assert points["meta"] == "jobs" and len(points["customdata"]) == 11  # the diverged: not
    labels = [d["label"] for d in figures["parallel"]["data"][0]["dimensions"]]
    assert labels == ["optimizer.lr", "model.hidden_dropout", "best_val_loss"]


@pytest.mark.parametrize("values, spec, log", [
    ([1e-4, 1e-3, 1e-2], "", True),  # two decades
    ([0.001, 0.003, 0.01], "", True),  # a log-spaced grid
    ([0.1, 0.2, 0.3], "", False),
    ([0.0, 0.25, 0.5], "", False),
    ([0.02, 0.05], "tag(log, interval(0.01, 0.1))", True),  # the search said so
    ([0.02, 0.05], "interval(0.01, 0.1)", False),
    ([3, 5], "tag(int, log, interval(1, 8))", True),
    (["sgd", "adam"], "sgd,adam", False),
    (list(np.random.default_rng(0).uniform(0, 0.5, 200)), "interval(0, 0.5)", False),
    # drawn values with no multirun.yaml to say how: the spread decides
    (list(np.random.default_rng(0).uniform(0, 0.5, 200)), "", False),
    (list(10 ** np.random.default_rng(0).uniform(-4, -1, 200)), "", True),
])
def test_log_axis_rule(values, spec, log):
    assert sweep_data.log_scaled(pd.Series(values), spec) is log


def test_grouped_by_configuration_when_seed_was_swept(sweep):
    _, data = parse(report(sweep))
    table = pd.DataFrame(data["configs"]["data"]["rows"], columns=data["configs"]["data"]["fields"])
    assert len(table) == 6 and set(table.n) == {2}
    frame, _ = sweep_table.build(sweep)
    for _, config in table.iterrows():
        jobs = frame[(frame["optimizer.lr"] == config["optimizer.lr"])
                     & (frame["model.hidden_dropout"] == config["model.hidden_dropout"])]
        finite = jobs.objective.dropna()
        assert config.objective == pytest.approx(finite.mean())
        assert config.objective_std == pytest.approx(finite.std(ddof=0))
        assert config.best_job == jobs.job.iloc[0]
    assert table.n_diverged.iloc[-1] == 1  # the config with the diverged seed ranks last
    assert list(table.objective.iloc[:-1]) == sorted(table.objective.iloc[:-1])


def test_no_configuration_table_without_a_swept_seed(tmp_path):
    _, data = parse(report(make_sweep(tmp_path, seeds=(0,))))
    assert data["configs"] is None
    assert all("seed" not in c["key"] for c in data["jobTable"])


def test_learning_curves_of_the_top_k_only(sweep):
    _, data = parse(report(sweep, top_k=2))
    frame, _ = sweep_table.build(sweep)
    configs = pd.DataFrame(data["configs"]["data"]["rows"],
                           columns=data["configs"]["data"]["fields"])
    best = configs.head(2)
    want = set(frame[frame["optimizer.lr"].isin(best["optimizer.lr"])
                     & frame["model.hidden_dropout"].isin(best["model.hidden_dropout"])].job)
    assert set(data["jobFigures"]) == want  # the jobs of the 2 best configurations
    lines = [t for t in data["figures"]["curves"]["data"] if t.get("meta") == "jobs"]
    assert len(lines) == 2 * 3  # val loss, train loss, val accuracy of each


def test_a_large_sweep_embeds_only_its_top_curves(tmp_path):
    # 10 x 8 x 2 = 160 jobs: the page grows with the table, not with 160 curves
    sweep = make_sweep(tmp_path, lrs=np.geomspace(1e-4, 1e-1, 10).round(6),
                       dropouts=np.linspace(0, 0.42, 8).round(3), seeds=(0, 1))
    page = report(sweep, top_k=5)
    _, data = parse(page)
    assert len(data["jobs"]["rows"]) == 160
    assert len(data["jobFigures"]) == 5 * 2
    assert page.stat().st_size < len(get_plotlyjs()) + 400_000


def test_rungs_and_pbt_when_their_files_exist(tmp_path):
    plain = parse(report(make_sweep(tmp_path / "plain")))[1]["figures"]
    assert not {"rungs", "pbt", "pbt-values"} & set(plain)
    sweep = make_sweep(tmp_path / "adaptive", rung=True)
    pbt = write_pbt(sweep)
    _, data = parse(report(sweep))
    assert {"rungs", "pbt", "pbt-values"} <= set(data["figures"])
    assert "rung" in [c["key"] for c in data["jobTable"]]
    bars = data["figures"]["rungs"]["data"][0]
    frame = pd.read_csv(sweep / "summary.csv")
    counts = frame.rung.value_counts().sort_index()
    assert values(bars["x"]) == list(counts.index) and values(bars["y"]) == list(counts)
    copied = data["figures"]["pbt"]["data"][1]  # the dashed lines: a member copied another
    assert len(copied["x"]) == 3 * (pbt.parent != pbt.member).sum()  # (start, end, gap) each


def test_a_broken_pbt_file_is_one_clear_error(tmp_path, capsys):
    sweep = make_sweep(tmp_path)
    (sweep / "pbt.csv").write_text("member,interval\n0,0\n")
    assert sweep_report.main([str(sweep)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "pbt.csv" in err and "parent" in err


def test_a_sweep_with_nothing_finished_yet(tmp_path):
    sweep = make_sweep(tmp_path)
    for job in sweep_table.job_dirs(sweep):
        (job / "summary.json").unlink()  # killed before any job finished
    _, data = parse(report(sweep))
    assert data["figures"] == {} and len(data["jobs"]["rows"]) == 12


def test_text_from_the_jobs_cannot_end_the_data_block(tmp_path):
    sweep = tmp_path / "sweep"
    for i, name in enumerate(["a</script><script>alert(1)</script>", "b"]):
        write_job(sweep / str(i), [f"model.name={name}"], metrics(1e-2, 0.1, [0]))
    tags, data = parse(report(sweep))  # json.loads of the block: it was not cut short
    assert sorted(r[1] for r in data["jobs"]["rows"])[0].startswith("a</script>")
    assert sum(1 for tag, _ in tags if tag == "script") == 3  # plotly.js, the data, page.js


def test_seed_band_is_the_mean_and_range_over_seeds():
    table = pd.DataFrame({"epoch": [1, 0, 1, 0, 1], "x": [2.0, 1.0, 4.0, np.nan, np.inf]})
    band = charts.seed_band(table, "x")
    assert list(band.epoch) == [0, 1] and list(band["count"]) == [1, 2]
    assert list(band["mean"]) == [1.0, 3.0]
    assert list(band["min"]) == [1.0, 2.0] and list(band["max"]) == [1.0, 4.0]


# -------------------------------------------------------------------------- a run's page
def _plotted_columns(figure: dict) -> set[str]:
    """The metrics.csv column of each line (its hover text names it)."""
    found = set()
    for trace in figure["data"]:
        match = re.search(r"<br>epoch %\{x\}<br>(.+?) %\{y", trace.get("hovertemplate", ""))
        if match:
            found.add(match.group(1))
    return found


def test_a_run_page_plots_every_column_of_its_metrics(tmp_path):
    run = tmp_path / "run"
    table = metrics(1e-2, 0.1, [0, 1, 2], layers=3)
    write_job(run, ["optimizer.lr=0.01"], table)
    _, data = parse(html.write_run(run))
    assert {"run-curves", "diagnostics", "others"} == set(data["figures"])
    plotted = set().union(*map(_plotted_columns, data["figures"].values()))
    assert plotted == set(table.columns) - {"seed", "epoch"}
    diagnostics = _plotted_columns(data["figures"]["diagnostics"])
    assert diagnostics == {c for c in table.columns if "/" in c}
    assert run_charts.layer_columns(table) == {"grad_norm": ["grad_norm/1", "grad_norm/2",
                                                             "grad_norm/3"],
                                               "act_std": ["act_std/1", "act_std/2",
                                                           "act_std/3"]}
    bands = [t for t in data["figures"]["run-curves"]["data"] if t.get("fill") == "toself"]
    assert bands  # three seeds: a band around each mean


def test_the_run_page_wants_metrics_and_tolerates_no_summary(tmp_path):
    run = tmp_path / "killed"
    run.mkdir()
    metrics(1e-2, 0.1, [0]).to_csv(run / "metrics.csv", index=False)
    assert sweep_report.main([str(run)]) == 0
    assert "unfinished" in (run / "report.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------- trainlab report
def test_report_writes_the_table_and_the_page(sweep, capsys):
    assert sweep_report.main([str(sweep), "--top", "3"]) == 0
    out = capsys.readouterr().out
    assert f"wrote {sweep / 'summary.csv'}" in out and f"wrote {sweep / 'report.html'}" in out
    assert "12 jobs" in " ".join(out.split())  # the terminal table, as before
    assert (sweep / "report.html").is_file()


def test_report_no_html_and_no_write(sweep, capsys):
    assert sweep_report.main([str(sweep), "--no-html"]) == 0
    assert (sweep / "summary.csv").is_file() and not (sweep / "report.html").exists()
    (sweep / "summary.csv").unlink()
    assert sweep_report.main([str(sweep), "--no-write"]) == 0
    assert not (sweep / "summary.csv").exists() and not (sweep / "report.html").exists()


def test_report_of_a_run(tmp_path, capsys):
    run = tmp_path / "run"
    write_job(run, ["optimizer.lr=0.01"], metrics(1e-2, 0.1, [0]))
    assert sweep_report.main([str(run)]) == 0
    out = capsys.readouterr().out
    assert "best_val_loss" in out and f"wrote {run / 'report.html'}" in out


def test_report_bad_arguments(tmp_path, capsys):
    assert sweep_report.main([str(tmp_path / "nothing")]) == 2
    assert sweep_report.main([str(tmp_path)]) == 2
    assert sweep_report.main([str(tmp_path), "--curves", "-1"]) == 2
    err = capsys.readouterr().err
    assert "no such directory" in err and "neither a sweep nor a run" in err
    assert "--curves" in err


def test_objective_values_in_the_page_are_numbers_or_null(sweep):
    _, data = parse(report(sweep))
    column = data["jobs"]["fields"].index("objective")
    values = [row[column] for row in data["jobs"]["rows"]]
    assert values[-1] is None  # diverged: no number, not Infinity (not JSON)
    assert all(isinstance(v, float) and math.isfinite(v) for v in values[:-1])
