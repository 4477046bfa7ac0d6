"""Plumbing every figure shares: train an experiment's runs (or read them back), write the
figure and its table atomically, print the table and the must-show checks.

A figure module ``trainlab.figures.NAME`` (dashes become underscores) has three functions:

    table(runs, options) -> pandas.DataFrame   the numbers behind the figure, from the runs
    check(table, options) -> list[Check]       every must-show criterion, passed or not
    draw(table, options) -> matplotlib Figure  drawn from the table (and the options) alone

and optionally ``brief(table, options)``, a short table to print (the full one goes to
table.csv). ``options`` is the experiment's ``options:`` dict (experiments/NAME.yaml, the
reduced size's where it has its own), passed to every function as it is, whether the function
reads it or not: one signature for all. The table holds what the runs measured, and a number
the reader compares them against (a paper's accuracy) is data too; a pass/fail threshold or a
choice of what to show is the experiment's, and stays in the options, out of table.csv.

A figure that checks nothing fails: an empty check list becomes one failed Check.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, never a window (and no display needed)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from trainlab import records  # noqa: E402
from trainlab.config import Config, ConfigError, compose  # noqa: E402
from trainlab.figures.experiment import Experiment, Run, driver, expand, load  # noqa: E402

console = Console()
if not console.is_terminal:  # piped or under make: rich would wrap the tables at 80 columns
    console = Console(width=150)


@dataclass(frozen=True)
class Check:
    """One must-show criterion of a figure (docs/figures.md) and what this build measured for it."""

    criterion: str
    ok: bool
    measured: str = ""


NOTHING_CHECKED = Check("the figure checks nothing", False,
                        "its check() returned no must-show criterion")


def failures(checks: list[Check]) -> list[Check]:
    return [c for c in checks if not c.ok]


def module_for(name: str) -> ModuleType:
    return importlib.import_module(f"trainlab.figures.{name.replace('-', '_')}")


# ------------------------------------------------------------------------- runs on disk
def run_dir(root: Path, run: Run) -> Path:
    """root/runs/ARM/I; an adaptive search's run root/runs/ARM/seed-S/TRIAL, each search in a
    folder of its own as a Hydra sweep dir (its pbt.csv beside its jobs)."""
    if run.adaptive:
        return Path(root) / "runs" / run.arm / f"seed-{run.search_seed}" / str(run.trial)
    return Path(root) / "runs" / run.arm / str(run.index)


def train(runs: list[Run], root: Path, *, progress: bool = True) -> None:
    """Train every run (one compiled program per static signature), files under root/runs;
    an adaptive search's runs by its driver, search by search (each group of a search its own
    rungs or population, as under ``train -m hydra/sweeper=halving|pbt``)."""
    from trainlab.plan import Job, plan, train_many
    from trainlab.report import run_status, shown_path

    def job(run: Run) -> Job:
        return Job(run.cfg, run_dir(root, run), list(run.overrides))

    if progress:  # a figure's training takes a while: say what and where first
        console.print(f"training {len(runs)} run{'s' * (len(runs) != 1)} into "
                      f"{shown_path(Path(root) / 'runs')}/", highlight=False)
    plain = [r for r in runs if not r.adaptive]
    if plain:
        with run_status(enabled=progress):  # "compiling", then each group's epoch bar
            train_many([job(r) for r in plain], progress=progress)
    searches: dict[tuple, list[Run]] = {}
    for run in runs:
        if run.adaptive:
            searches.setdefault((run.arm, run.search_seed), []).append(run)
    for (arm, seed), members in searches.items():
        if progress:
            console.print(f"{arm}: search seed {seed}, {len(members)} trials, "
                          f"hydra/sweeper={members[0].search['sweeper']['name']}")
        for group in plan([job(r) for r in members], chunk_size=0):
            driver(members[0]).run(group)


def _config_key(cfg: Config) -> str:
    """Two configs that train the same run have the same key (progress bars aside)."""
    cfg = dataclasses.replace(cfg, progress=True, save_params=True)
    return json.dumps(dataclasses.asdict(cfg), sort_keys=True, default=str)


def _read(folder: Path) -> tuple[pd.DataFrame, dict]:
    """A run's metrics (with its histograms, if it has any, as ``act_hist_<bb>/k`` columns
    again) and its summary."""
    metrics = pd.read_csv(folder / "metrics.csv")
    if (folder / "histograms.csv").is_file():
        hist = pd.read_csv(folder / "histograms.csv")
        hist["column"] = [f"act_hist_{b:02d}/{k}" for b, k in zip(hist.bin, hist.layer)]
        wide = hist.pivot_table(index=["seed", "epoch"], columns="column", values="fraction")
        metrics = metrics.merge(wide.reset_index(), on=["seed", "epoch"], how="left")
    return metrics, json.loads((folder / "summary.json").read_text())


def read_back(runs: list[Run], source: Path) -> None:
    """Fill each run's metrics and summary from stored run folders under ``source``.

    A run is looked for where ``trainlab figure`` writes it (source/runs/ARM/I); otherwise
    any folder below ``source`` whose summary.json has overrides composing to the same
    config counts (a Hydra multirun of ``train -m``, say)."""
    source = Path(source)
    missing = []
    for run in runs:
        folder = run_dir(source, run)
        if (folder / "summary.json").is_file():
            metrics, summary = _read(folder)
            if summary.get("overrides") == list(run.overrides):
                run.metrics, run.summary, run.folder = metrics, summary, folder
                continue
        missing.append(run)
    if not missing:
        return
    found: dict[str, Path] = {}
    for path in sorted(source.rglob("summary.json")):
        try:
            overrides = json.loads(path.read_text()).get("overrides") or []
            found.setdefault(_config_key(compose(overrides)), path.parent)
        except (ConfigError, ValueError, OSError):
            continue  # not a run of this experiment
    absent = []
    for run in missing:
        folder = found.get(_config_key(run.cfg))
        if folder is None:
            absent.append(f"{run.arm}/{run.index} ({' '.join(run.overrides)})")
        else:
            run.metrics, run.summary = _read(folder)
            run.folder = folder
    if absent:
        where = "is not a folder" if not source.is_dir() else \
            f"holds no run for {len(absent)} of the {len(runs)} runs (first: {absent[0][:60]})"
        raise ConfigError(f"--from {source} {where}; it should hold the runs as `trainlab "
                          "figure` writes them (DIR/runs/ARM/I/summary.json), or a train -m "
                          "sweep of the experiment's configs")


def runs_table(runs: list[Run]) -> pd.DataFrame:
    """Every run's metrics.csv in one frame, with its arm and swept values as columns."""
    frames = []
    for run in runs:
        frame = run.metrics.copy()
        frame.insert(0, "arm", run.arm)
        swept = {k: v for k, v in run.values.items() if k not in frame}  # seed is already
        for offset, (key, value) in enumerate(swept.items(), start=1):
            frame.insert(offset, key, value)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def seed_summaries(run: Run) -> list[tuple[int, dict]]:
    """(seed, that seed's summary) for each seed of a finished run (one seed: the summary)."""
    return list(zip(run.summary["seeds"], run.summary.get("per_seed", [run.summary]),
                    strict=True))


def load_net(run: Run, which: str = "final") -> tuple[dict, dict]:
    """A run's params_<which>.npz as the (params, state) trainlab's model takes (for several
    seeds, the first seed's: that is what the run contract stores)."""
    from trainlab.nn import mlp

    with np.load(run.folder / f"params_{which}.npz") as arrays:
        return mlp.unflatten({name: arrays[name] for name in arrays.files})


def load_params(run: Run, which: str = "final") -> dict:
    return load_net(run, which)[0]


def predict(run: Run, x: np.ndarray, which: str = "final") -> np.ndarray:
    """The stored network's outputs on ``x``, evaluation mode, through trainlab's own MLP."""
    from trainlab.nn import mlp
    from trainlab.plan import use_dtype

    use_dtype(run.cfg.dtype)  # a float64 run (a degree-20 fit, say) must be evaluated so
    params, state = load_net(run, which)  # BatchNorm nets use their running statistics
    x = np.asarray(x, run.cfg.dtype)
    out, _, _ = mlp.apply(run.cfg, params, state, x, train=False)
    return np.asarray(out)


# ------------------------------------------------------------------------------- outputs
def save(fig, table: pd.DataFrame, out: Path, checks: list[Check] = ()) -> None:
    """figure.png, table.csv and checks.csv, each written whole or not at all."""
    out = Path(out)
    records.atomic_write(out / "figure.png", lambda tmp: fig.savefig(tmp, format="png",
                                                                     dpi=110))
    records.write_csv(table, out / "table.csv")
    records.write_csv(pd.DataFrame([dataclasses.asdict(c) for c in checks],
                                   columns=["criterion", "ok", "measured"]),
                      out / "checks.csv")
    plt.close(fig)


def _cell(column: str, value: Any) -> str:
    """A figure table's cell as ``train`` shows the same field (accuracies as percentages)."""
    from trainlab.report.numbers import format_value

    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "-"
        if str(column).endswith(("_acc", "_error")):
            return format_value(str(column), float(value))
        return f"{value:.4g}"
    return str(value)


def print_table(frame: pd.DataFrame, title: str, max_rows: int = 40) -> None:
    table = Table(title=title, header_style="bold")
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    shown = frame if len(frame) <= max_rows else frame.head(max_rows)
    for row in shown.itertuples(index=False):
        table.add_row(*(_cell(c, v) for c, v in zip(frame.columns, row)))
    if len(frame) > max_rows:
        table.caption = f"first {max_rows} of {len(frame)} rows (all in table.csv)"
    console.print(table)


def print_checks(checks: list[Check]) -> None:
    for c in checks:
        mark = "[green]PASS[/green]" if c.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {c.criterion}" + (f": {c.measured}" if c.measured else ""))


# ---------------------------------------------------------------------------------- build
@dataclass
class Built:
    experiment: Experiment
    runs: list[Run]
    options: dict  # what table, check, draw and brief were given
    table: pd.DataFrame
    checks: list[Check]
    out: Path


def default_out(name: str, reduced: bool = False) -> Path:
    """Where a figure is written without --out: results/NAME (-reduced)."""
    return Path("results") / (name + ("-reduced" if reduced else ""))


def build(name: str, *, out: Path | None = None, source: Path | None = None,
          reduced: bool = False, progress: bool = True, show: bool = False) -> Built:
    """Train (or read back from ``source``) the runs of figure ``name``, make its table,
    figure and checks, and write figure.png + table.csv into ``out``."""
    from trainlab.report import shown_path

    exp = load(name, reduced=reduced)
    module = module_for(exp.name)
    out = Path(out) if out is not None else default_out(exp.name, reduced)
    runs = expand(exp)
    if exp.train:
        if source is None:
            train(runs, out, progress=progress)
            source = out
        read_back(runs, source)
    options = dict(exp.options)
    table = module.table(runs, options)
    checks = list(module.check(table, options)) or [NOTHING_CHECKED]
    save(module.draw(table, options), table, out, checks)
    if show:
        brief = module.brief(table, options) if hasattr(module, "brief") else table
        print_table(brief, f"{exp.name}: the table behind the figure")
        print_checks(checks)
        written = [out / name for name in ("figure.png", "table.csv", "checks.csv")]
        if exp.train and source == out:
            written.append(out / "runs")
        console.print("wrote " + ", ".join(f"{shown_path(p)}{'/' * p.is_dir()}"
                                           for p in written), highlight=False)
    return Built(exp, runs, options, table, checks, out)


def gallery(results: Path = Path("results"), target: Path = Path("docs/gallery"),
            width: int = 1000) -> list[Path]:
    """docs/gallery/NAME.png for every full-size results/NAME/figure.png - shrunk to ``width``
    pixels and a 256-colour palette, so the committed gallery stays small - and an index.md
    with each figure's command and must-show checks."""
    from PIL import Image

    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    copied, lines = [], ["# Lecture figures", "",
                         "Rebuilt by `make figures && make gallery`; each is `make fig-NAME`.", ""]
    for png in sorted(Path(results).glob("*/figure.png")):
        name = png.parent.name
        if name.endswith("-reduced"):
            continue
        with Image.open(png) as image:
            image.thumbnail((width, 10 * width))
            small = image.convert("RGB").quantize(256)
            dest = target / f"{name}.png"
            records.atomic_write(dest, lambda tmp, im=small: im.save(tmp, format="PNG",
                                                                     optimize=True))
        copied.append(dest)
        lines += [f"## {name}", "", f"`make fig-{name}`", "", f"![{name}]({name}.png)", ""]
        checks = png.parent / "checks.csv"
        if checks.is_file():
            for c in pd.read_csv(checks).itertuples():
                lines.append(f"- {'PASS' if c.ok else 'FAIL'} {c.criterion}: {c.measured}")
            lines.append("")
    records.atomic_write(target / "index.md",
                         lambda tmp: tmp.write_text("\n".join(lines)))
    return copied
