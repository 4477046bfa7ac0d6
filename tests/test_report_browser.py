"""report.html in a real headless browser (Debian's chromium, driven by Playwright; see
browser.py): it loads with no console error and no network request, shows one table row per
job, draws every figure, opens a job's section on a click, and does not screenshot blank.

The sweep is a real one (`train -m`, its page written by the sweep callback); the halving and
PBT views use hand-made files. Skipped, saying why, only where no chromium can be had.
``TRAINLAB_REPORT_SCREENSHOT=docs/report-sweep.png`` keeps the sweep's screenshot
(`make report-screenshot`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import browser
from report_fixtures import make_sweep, write_pbt
from trainlab import sweep_report

pytestmark = pytest.mark.slow

SWEEP = ["optimizer.lr=1e-3,1e-2,1e-1", "model.hidden_dropout=0.1,0.3", "seed=0,1,2",
         "data=moons", "data.n_samples=300", "model.widths=[16,16]", "epochs=12",
         "batch_size=32", "progress=false"]


@pytest.fixture(scope="module")
def chromium():
    reason = browser.unavailable()
    if reason:
        pytest.skip(reason)
    with browser.browser() as instance:
        yield instance


@pytest.fixture(scope="module")
def real_sweep(tmp_path_factory) -> Path:
    """An 18-job grid sweep trained by `train -m`; the callback wrote its report.html."""
    sweep = tmp_path_factory.mktemp("report") / "lr-dropout-seed"
    result = subprocess.run([sys.executable, "-m", "trainlab.cli", "-m",
                             f"hydra.sweep.dir={sweep}", *SWEEP],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert (sweep / "report.html").is_file()
    return sweep


def assert_clean(visit: browser.Visit):
    assert visit.console_errors() == []
    assert visit.remote_requests() == []
    assert visit.requests and all(u.startswith(browser.LOCAL_SCHEMES) for u in visit.requests)


def assert_every_plot_drawn(visit: browser.Visit, expected: set[str]):
    drawn = browser.plots(visit.page)
    assert {p["figure"] for p in drawn} == expected
    for plot in drawn:
        assert plot["traces"] > 0 and plot["svg"] > 0 and plot["marks"] > 0, plot
        assert plot["width"] > 100 and plot["height"] > 100, plot
    for div in visit.page.locator(".plot[data-figure]").all():
        assert not browser.blank(div.screenshot()), div.get_attribute("data-figure")


def test_the_sweep_page(chromium, real_sweep):
    table = pd.read_csv(real_sweep / "summary.csv", dtype={"job": str})
    visit = browser.visit(chromium, real_sweep / "report.html")
    page = visit.page
    assert_clean(visit)
    assert page.locator("#jobs-table tbody tr").count() == len(table) == 18
    assert page.locator("#configs-table tbody tr").count() == 6  # seeds grouped
    assert_every_plot_drawn(visit, {"hp-0", "hp-1", "curves", "parallel"})
    assert page.locator('[data-figure="parallel"] canvas').count() > 0  # WebGL lines
    shot = page.screenshot(full_page=True)
    assert not browser.blank(shot)
    keep = os.environ.get("TRAINLAB_REPORT_SCREENSHOT")
    if keep:  # the README's picture, from this very run: the page down to the curves
        bottom = page.evaluate("() => { const r = document.querySelector('#curves')"
                               ".getBoundingClientRect(); return r.bottom + window.scrollY; }")
        page.screenshot(path=keep, full_page=True, clip={
            "x": 0, "y": 0, "width": browser.VIEWPORT["width"], "height": bottom})

    # the rows are best first, and a row's tooltip is its job's overrides
    first = page.locator("#jobs-table tbody tr").first
    assert first.get_attribute("data-job") == table.job.iloc[0]
    assert "optimizer.lr=" in first.get_attribute("title")

    # clicking a row opens that job's section
    row = page.locator("#jobs-table tbody tr").nth(2)
    job = row.get_attribute("data-job")
    row.click()
    panel = page.locator("#job")
    assert panel.is_visible()
    assert panel.locator("h2").inner_text().startswith(f"job {job}")
    assert page.evaluate("location.hash") == f"#job={job}"
    assert f"optimizer.lr={table.set_index('job').loc[job, 'optimizer.lr']}" in panel.inner_text()
    page.locator("#job-curves .main-svg").first.wait_for()  # a top job: its curves are drawn
    page.keyboard.press("Escape")
    assert not panel.is_visible()

    # hovering a point shows its job's overrides; clicking it opens its section
    figure = page.locator('[data-figure="hp-0"]')
    customdata = page.evaluate(
        "() => document.querySelector('[data-figure=\"hp-0\"]')._fullData[0].customdata")
    objectives = table.set_index("job").loc[customdata, "objective"].to_numpy()
    top = int(objectives.argmax())  # the highest point: apart from the others
    figure.scroll_into_view_if_needed()
    box = figure.locator(".scatterlayer .point").nth(top).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    hover = page.locator(".hoverlayer .hovertext").first
    hover.wait_for()
    text = hover.text_content()  # svg: no innerText
    assert f"job {customdata[top]}" in text and "model.hidden_dropout=" in text
    page.mouse.click(x, y)
    panel.wait_for(state="visible")
    assert panel.locator("h2").inner_text().startswith(f"job {customdata[top]}")
    page.keyboard.press("Escape")

    # the table filters and sorts
    page.fill("#jobs-table input", "0.001")
    shown = page.locator("#jobs-table tbody tr")
    assert shown.count() == (table["optimizer.lr"] == 0.001).sum() == 6
    page.fill("#jobs-table input", "")
    header = page.locator("#jobs-table th", has_text="objective")
    header.click()
    header.click()  # descending: the worst first
    assert page.locator("#jobs-table tbody tr").first.get_attribute("data-job") == \
        table.job.iloc[table.objective.idxmax()]
    page.close()


def test_a_run_page(chromium, real_sweep):
    job = real_sweep / "0"
    assert sweep_report.main([str(job)]) == 0
    visit = browser.visit(chromium, job / "report.html")
    assert_clean(visit)
    assert_every_plot_drawn(visit, {"run-curves", "diagnostics", "others"})
    assert not browser.blank(visit.page.screenshot(full_page=True))
    visit.page.close()


def test_halving_rungs_and_pbt_lineage(chromium, tmp_path):
    sweep = make_sweep(tmp_path / "sweep", rung=True, diverged=(2,))
    write_pbt(sweep)
    assert sweep_report.main([str(sweep)]) == 0
    visit = browser.visit(chromium, sweep / "report.html")
    assert_clean(visit)
    assert_every_plot_drawn(visit, {"hp-0", "hp-1", "curves", "parallel", "rungs", "pbt",
                                    "pbt-values"})
    assert visit.page.locator("#jobs-table tbody tr").count() == 12
    assert "rung" in visit.page.locator("#jobs-table thead").inner_text()
    visit.page.close()


def test_the_checks_catch_what_they_look_for(chromium, tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<html><body><img src="http://192.0.2.1/x.png"><div class="plot" '
                   'data-figure="empty"></div><script>console.error("boom")</script>'
                   "</body></html>")
    visit = browser.visit(chromium, bad, wait_rendered=False)
    visit.page.wait_for_load_state("load")
    assert visit.remote_requests() == ["http://192.0.2.1/x.png"]
    assert "boom" in visit.console_errors()  # the blocked image may log its error first
    [empty] = browser.plots(visit.page)
    assert empty["traces"] == 0 and empty["svg"] == 0
    blank = tmp_path / "blank.html"
    blank.write_text("<html><body style='background:#fff'></body></html>")
    visit = browser.visit(chromium, blank, wait_rendered=False)
    assert browser.blank(visit.page.screenshot())
