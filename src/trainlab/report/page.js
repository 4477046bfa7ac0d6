// report.html's own script: draws the Plotly figures of the JSON block, makes the tables
// (sortable, filterable), and opens a job's section on a click (a row, a point, a link).
// Sets body[data-rendered] once every figure is drawn (what a test or a screenshot waits for).
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("report-data").textContent);
  const PLOT_CONFIG = { responsive: true, displaylogo: false };
  const JOB_POINTS = "jobs";

  // ------------------------------------------------------------------------ formatting
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => (
    { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  const missing = (v) => v === null || v === undefined ||
    (typeof v === "number" && !isFinite(v));

  function fmt(value, kind) {
    if (missing(value)) return "–";
    if (typeof value !== "number") return String(value);
    if (kind === "pct") return (100 * value).toFixed(2) + "%";
    if (kind === "int") return Math.round(value).toLocaleString("en-US");
    return String(Number(value.toPrecision(4)));
  }

  function cell(row, column, index) {
    const value = row[index[column.key]];
    if (column.kind === "status") {
      return `<span class="status status-${esc(value)}">${esc(value)}</span>`;
    }
    let text = esc(fmt(value, column.kind));
    const std = column.std ? row[index[column.std]] : null;
    if (!missing(std) && !missing(value)) {
      text += ` <span class="std">± ${esc(fmt(std, column.kind))}</span>`;
    }
    return text;
  }

  const indexOf = (fields) => Object.fromEntries(fields.map((f, i) => [f, i]));

  // ---------------------------------------------------------------------------- jobs
  const jobs = DATA.jobs || { fields: [], rows: [] };
  const J = indexOf(jobs.fields);
  const byJob = new Map(jobs.rows.map((row) => [String(row[J.job]), row]));
  const swept = DATA.swept || [];

  const overridesOf = (row) => swept.map((key) => `${key}=${row[J[key]]}`);

  function hoverText(job) {
    const row = byJob.get(String(job));
    if (!row) return `job ${esc(job)}`;
    const lines = [`<b>job ${esc(job)}</b>`, ...overridesOf(row).map(esc)];
    lines.push(`${esc(DATA.objective)} = ${esc(fmt(row[J.objective]))} · ${esc(row[J.status])}`);
    return lines.join("<br>");
  }

  // --------------------------------------------------------------------------- tables
  function compare(a, b) {
    if (missing(a) && missing(b)) return 0;
    if (missing(a)) return 1;
    if (missing(b)) return -1;
    const na = Number(a), nb = Number(b);
    if (!isNaN(na) && !isNaN(nb) && a !== "" && b !== "") return na - nb;
    return String(a).localeCompare(String(b));
  }

  function makeTable(container, columns, source, jobKey) {
    const index = indexOf(source.fields);
    const rows = source.rows.map((row) => ({
      row,
      job: String(row[index[jobKey]]),
      text: columns.map((c) => fmt(row[index[c.key]], c.kind) + " " + row[index[c.key]])
        .join(" ").toLowerCase(),
      title: jobKey === "job" ? overridesOf(row).join(" ") : "",
    }));
    container.innerHTML =
      '<div class="table-tools"><input type="search" aria-label="filter" ' +
      'placeholder="filter: words every row shown contains"><span class="count muted"></span>' +
      '</div><div class="table-wrap"><table class="data"><thead><tr>' +
      columns.map((c) => `<th data-key="${esc(c.key)}">${esc(c.label)}</th>`).join("") +
      "</tr></thead><tbody></tbody></table></div>";
    const input = container.querySelector("input");
    const count = container.querySelector(".count");
    const tbody = container.querySelector("tbody");
    const heads = [...container.querySelectorAll("th")];
    let order = rows.slice();
    let sortKey = null, direction = 1;

    function render() {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      const shown = order.filter((r) => words.every((w) => r.text.includes(w)));
      tbody.innerHTML = shown.map((r) =>
        `<tr data-job="${esc(r.job)}" title="${esc(r.title)}">` +
        columns.map((c) => `<td>${cell(r.row, c, index)}</td>`).join("") + "</tr>").join("");
      count.textContent = `${shown.length} of ${rows.length} rows`;
      markSelected();
    }
    heads.forEach((th) => th.addEventListener("click", () => {
      const key = th.dataset.key;
      direction = sortKey === key ? -direction : 1;
      sortKey = key;
      order = rows.slice().sort((a, b) => {
        const x = a.row[index[key]], y = b.row[index[key]];
        const c = compare(x, y);
        return missing(x) || missing(y) ? c : direction * c;  // empty cells stay last
      });
      heads.forEach((h) => h.classList.remove("sorted-asc", "sorted-desc"));
      th.classList.add(direction > 0 ? "sorted-asc" : "sorted-desc");
      render();
    }));
    input.addEventListener("input", render);
    tbody.addEventListener("click", (event) => {
      const tr = event.target.closest("tr[data-job]");
      if (tr) openJob(tr.dataset.job);
    });
    render();
  }

  // ---------------------------------------------------------------------------- plots
  function draw(div, figure) {
    const data = figure.data.map((trace) => (
      trace.meta === JOB_POINTS && Array.isArray(trace.customdata)
        ? Object.assign({}, trace, { text: trace.customdata.map(hoverText) }) : trace));
    const layout = Object.assign({}, figure.layout, { template: DATA.template });
    return Plotly.newPlot(div, data, layout, PLOT_CONFIG).then((gd) => {
      gd.on("plotly_click", (event) => {
        const point = event.points && event.points[0];
        if (point && point.data.meta === JOB_POINTS && point.customdata !== undefined) {
          openJob(String(point.customdata));
        }
      });
      return gd;
    });
  }

  // ------------------------------------------------------------------------ job panel
  const panel = document.getElementById("job");
  let selected = null;

  function markSelected() {
    document.querySelectorAll("tr.selected").forEach((tr) => tr.classList.remove("selected"));
    if (selected === null) return;
    document.querySelectorAll("tr[data-job]").forEach((tr) => {
      if (tr.dataset.job === selected && tr.closest("#jobs-table")) tr.classList.add("selected");
    });
  }

  function openJob(job) {
    const row = byJob.get(String(job));
    if (!panel || !row) return;
    selected = String(job);
    const kind = (field) => (/_acc(_std)?$/.test(field) ? "pct" : "");
    const fields = jobs.fields.map((f, i) =>
      `<tr><th>${esc(f)}</th><td>${esc(fmt(row[i], kind(f)))}</td></tr>`);
    const overrides = [...(DATA.fixed || []), ...overridesOf(row)];
    const folder = encodeURIComponent(selected);
    const page = (DATA.runReports || []).includes(selected)
      ? `<a href="${folder}/report.html">its own report</a> (every diagnostic)`
      : `its own page with every diagnostic: <code>trainlab report ${esc(DATA.sweepDir)}/` +
        `${esc(selected)}</code>`;
    const curves = DATA.jobFigures && DATA.jobFigures[selected];
    panel.querySelector(".panel-body").innerHTML =
      `<h2>job ${esc(selected)} <span class="status status-${esc(row[J.status])}">` +
      `${esc(row[J.status])}</span></h2>` +
      `<p>${esc(DATA.objective)} = <b>${esc(fmt(row[J.objective]))}</b></p>` +
      `<p>rerun it alone:</p><pre>train ${esc(overrides.join(" "))}</pre>` +
      `<p>files: <a href="${folder}/">${esc(selected)}/</a> · ${page}</p>` +
      (curves ? '<div class="plot" id="job-curves"></div>'
        : '<p class="muted">Learning curves are embedded for the top jobs only.</p>') +
      `<table class="fields">${fields.join("")}</table>`;
    panel.hidden = false;
    panel.scrollTop = 0;
    if (curves) draw(panel.querySelector("#job-curves"), curves);
    history.replaceState(null, "", `#job=${encodeURIComponent(selected)}`);
    markSelected();
  }

  function closeJob() {
    if (!panel) return;
    panel.hidden = true;
    selected = null;
    history.replaceState(null, "", location.pathname + location.search);
    markSelected();
  }

  if (panel) {
    panel.querySelector(".close").addEventListener("click", closeJob);
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeJob(); });
    document.addEventListener("click", (event) => {
      const link = event.target.closest("a.job-link");
      if (link) { event.preventDefault(); openJob(link.dataset.job); }
    });
  }

  // ----------------------------------------------------------------------------- start
  const jobsTable = document.getElementById("jobs-table");
  if (jobsTable) makeTable(jobsTable, DATA.jobTable, jobs, "job");
  const configsTable = document.getElementById("configs-table");
  if (configsTable && DATA.configs) {
    makeTable(configsTable, DATA.configs.columns, DATA.configs.data, DATA.configs.jobKey);
  }
  // One figure at a time, letting the browser paint in between: the tables show at once,
  // the figures follow (a 2000-job sweep's take a while where WebGL is done in software).
  async function drawAll() {
    for (const div of document.querySelectorAll(".plot[data-figure]")) {
      await new Promise((resolve) => setTimeout(resolve, 0));
      await draw(div, DATA.figures[div.dataset.figure]);
    }
  }
  drawAll().then(() => {
    const match = location.hash.match(/^#job=(.+)$/);
    if (match) openJob(decodeURIComponent(match[1]));
    document.body.dataset.rendered = "true";
  }, (error) => console.error("report: a figure failed to draw:", error));
})();
