"""``trainlab doctor``: lecture 001's babysitting procedure as one command.

    trainlab doctor [OPTIONS] [OVERRIDES...]   before a run: the config `train OVERRIDES`
                                               would run, checked (checks.py) by short trials
                                               of a few compiled programs (trials.py)
    trainlab doctor RUN_DIR                    after a run: the verdict on its curves
                                               (curves.py); a sweep dir: every job

Before a run it writes ``doctor.json`` and ``doctor.png`` (the lr range test, the per-layer
statistics at init, the small-subset fit) into ``--out`` (default a new folder under
``outputs/doctor/``), with the trials' own run files under ``runs/``. After a run it writes
``doctor.json`` into the run dir (and, for a sweep, one in the sweep dir listing every job),
which the run's report.html shows. Exit status: 0, 1 if a check FAILed, 2 on bad input.

    findings.py  a finding (one row: PASS/WARN/FAIL/SKIP, the number, the advice)
    trials.py    the variants of the config, trained as trials of few programs
    checks.py    the checks before a run
    lr_range.py  the lr range test's reading (the rule, and why)
    curves.py    the verdicts on a finished run's curves, pure functions of metrics.csv
    plot.py      doctor.png
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

from trainlab.config import ConfigError
from trainlab.doctor.findings import FAIL, PASS, SKIP, WARN, Finding, exit_code, worst

DOCTOR_FILE = "doctor.json"
PLOT_FILE = "doctor.png"


def _error(message: str) -> int:
    print(f"trainlab doctor: error: {message}", file=sys.stderr)
    return 2


def _parser() -> argparse.ArgumentParser:
    from trainlab.doctor.trials import Budget

    b = Budget()
    parser = argparse.ArgumentParser(
        prog="trainlab doctor",
        description="Before a run: check the config `train OVERRIDES` would run (initial "
                    "loss, regularization, overfitting 20 samples, an lr range test, the "
                    "gradient check, the signals at init). After a run: `trainlab doctor "
                    "RUN_DIR` gives a verdict on its curves (a sweep dir: every job).")
    parser.add_argument("args", nargs="*", metavar="OVERRIDES | RUN_DIR",
                        help="train overrides (e.g. optimizer.lr=0.1), or one run/sweep dir")
    parser.add_argument("--out", type=Path, help="where doctor.json (and doctor.png) go")
    parser.add_argument("--seeds", type=int, default=b.seeds, help=f"seeds per trial ({b.seeds})")
    parser.add_argument("--lr-min", type=float, default=b.lr_min)
    parser.add_argument("--lr-max", type=float, default=b.lr_max)
    parser.add_argument("--per-decade", type=int, default=b.per_decade,
                        help=f"lrs of the range test per factor 10 ({b.per_decade})")
    parser.add_argument("--steps", type=int, default=b.range_steps,
                        help=f"optimizer steps of each range trial ({b.range_steps}; at least "
                             "2 epochs)")
    parser.add_argument("--overfit-samples", type=int, default=b.overfit_samples)
    parser.add_argument("--overfit-steps", type=int, default=b.overfit_steps)
    parser.add_argument("--no-lr-range", action="store_true", help="skip the lr range test")
    parser.add_argument("--no-overfit", action="store_true", help="skip the small-subset fit")
    parser.add_argument("--no-gradcheck", action="store_true", help="skip the gradient check")
    parser.add_argument("--no-write", action="store_true",
                        help="after a run: print only, write no doctor.json")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_intermixed_args(argv)
    if len(args.args) == 1 and "=" not in args.args[0]:
        target = Path(args.args[0])
        if not target.is_dir():
            return _error(f"{target}: neither an override (key=value) nor a run or sweep "
                          "directory")
        return after(target, args)
    for arg in args.args:
        if "=" not in arg:
            return _error(f"{arg}: not an override (key=value); a run dir comes alone")
    return before(args.args, args)


# -------------------------------------------------------------------------- before a run
def _default_out() -> Path:
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    out = Path("outputs") / "doctor" / stamp
    n = 1
    while out.exists():
        n += 1
        out = Path("outputs") / "doctor" / f"{stamp}_{n}"
    return out


def diagnose(cfg, overrides: list[str], budget, out_dir: Path, progress: bool = True):
    """The measurements and every finding before a run, in the lecture's order."""
    from trainlab.doctor import checks, trials

    m = trials.measure(cfg, budget, out_dir, overrides, progress=progress)
    lr_finding, result, frame = checks.learning_rate(m)
    findings = [checks.initial_loss(m), checks.regularization(m), checks.overfit_subset(m),
                lr_finding, checks.gradient_check(m), checks.dead_units(m),
                checks.saturation(m), checks.activation_scale(m), checks.gradient_flow(m),
                checks.update_ratio(m), checks.symmetry(m)]
    return m, findings, result, frame


def before(overrides: list[str], args) -> int:
    from trainlab import records
    from trainlab.config import compose
    from trainlab.doctor import checks, findings, trials

    budget = trials.Budget(
        seeds=args.seeds, lr_min=args.lr_min, lr_max=args.lr_max, per_decade=args.per_decade,
        range_steps=args.steps, overfit_samples=args.overfit_samples,
        overfit_steps=args.overfit_steps, lr_range=not args.no_lr_range,
        overfit=not args.no_overfit, gradcheck=not args.no_gradcheck)
    out_dir = args.out or _default_out()
    made = not out_dir.exists()
    start = time.perf_counter()
    try:
        budget.check()
        cfg = compose(overrides)
        m, found, result, frame = diagnose(cfg, overrides, budget, out_dir)
    except ConfigError as error:
        if made and out_dir.exists():
            shutil.rmtree(out_dir)  # nothing there is a result
        return _error(str(error))
    wall = time.perf_counter() - start
    title = f"trainlab doctor: {' '.join(overrides) or 'the default config'}"
    findings.print_table(found, title)
    chance = checks.chance_loss(cfg, m.facts)
    from trainlab.doctor import plot

    fig = plot.draw(m, frame, result, chance, title)
    records.atomic_write(out_dir / PLOT_FILE, lambda tmp: fig.savefig(tmp, dpi=110,
                                                                       format="png"))
    report = {
        "kind": "before", "overrides": list(overrides), "verdict": worst(found),
        "findings": findings.as_json(found), "lr_range": result.as_dict() if result else None,
        "budget": dataclasses.asdict(budget), "programs": m.programs, "wall_s": wall,
    }
    records.write_json(report, out_dir / DOCTOR_FILE)  # last: a doctor.json means it finished
    _tally(found)
    print(f"wrote {out_dir / DOCTOR_FILE}, {out_dir / PLOT_FILE} (the trials' runs in "
          f"{out_dir / 'runs'}); {wall:.0f} s")
    return exit_code(found)


def _tally(found: list[Finding]) -> None:
    counts = {s: sum(f.status == s for f in found) for s in (PASS, WARN, FAIL, SKIP)}
    print(", ".join(f"{n} {s}" for s, n in counts.items() if n))


# --------------------------------------------------------------------------- after a run
def read_run(run_dir: Path):
    """A run dir's metrics table, summary (None if unfinished) and composed config (None
    without .hydra/config.yaml)."""
    import pandas as pd

    from trainlab.sweep_table import read_yaml

    try:
        metrics = pd.read_csv(run_dir / "metrics.csv")
    except (OSError, ValueError) as error:
        raise ConfigError(f"{run_dir / 'metrics.csv'}: cannot read it ({error})") from None
    missing = {"seed", "epoch", "train_loss"} - set(metrics.columns)
    if missing:
        raise ConfigError(f"{run_dir / 'metrics.csv'}: no column {', '.join(sorted(missing))} "
                          "(not a trainlab metrics table)")
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        summary = None
    config = read_yaml(run_dir / ".hydra" / "config.yaml")
    return metrics, summary, config if isinstance(config, dict) else None


def judge(run_dir: Path) -> tuple[list[Finding], dict | None]:
    from trainlab.doctor import curves

    metrics, summary, config = read_run(run_dir)
    return curves.verdicts(metrics, summary, config), summary


def after(target: Path, args) -> int:
    from trainlab.sweep_table import job_dirs

    if (target / "metrics.csv").is_file():
        return _after_run(target, args)
    jobs = job_dirs(target)
    if not jobs:
        return _error(f"{target}: no metrics.csv and no job directories (folders with "
                      ".hydra/overrides.yaml): neither a run nor a sweep")
    return _after_sweep(target, jobs, args)


def _json_path(args, default_dir: Path) -> Path:
    """After a run, doctor.json goes into the run (or sweep) dir, or to --out: a .json file
    or a folder."""
    if args.out is None:
        return default_dir / DOCTOR_FILE
    return args.out if args.out.suffix == ".json" else args.out / DOCTOR_FILE


def _write(report: dict, path: Path, args) -> None:
    from trainlab import records

    if args.no_write:
        return
    records.write_json(report, path)
    print(f"wrote {path}")


def _after_run(run_dir: Path, args) -> int:
    from trainlab.doctor import findings

    try:
        found, summary = judge(run_dir)
    except ConfigError as error:
        return _error(str(error))
    status = (summary or {}).get("status", "unfinished (no summary.json)")
    findings.print_table(found, f"trainlab doctor: the curves of {run_dir} ({status})")
    report = {"kind": "after", "run": str(run_dir), "verdict": worst(found),
              "findings": findings.as_json(found)}
    _write(report, _json_path(args, run_dir), args)
    _tally(found)
    if not args.no_write and not args.out:
        print(f"`trainlab report {run_dir}` shows it in report.html")
    return exit_code(found)


def _after_sweep(sweep_dir: Path, jobs: list[Path], args) -> int:
    from rich.table import Table

    from trainlab import records
    from trainlab.doctor import findings
    from trainlab.sweep_table import read_yaml

    table = Table(title=f"trainlab doctor: the curves of {len(jobs)} jobs in {sweep_dir}",
                  title_justify="left")
    for column in ("job", "overrides", "result", "verdicts"):
        table.add_column(column)
    entries, code = [], 0
    for job in jobs:
        overrides = [str(o) for o in read_yaml(job / ".hydra" / "overrides.yaml") or []]
        if not (job / "metrics.csv").is_file():
            table.add_row(job.name, " ".join(overrides), "-", "unfinished: no metrics.csv")
            entries.append({"job": job.name, "overrides": overrides, "findings": None})
            continue
        try:
            found, _ = judge(job)
        except ConfigError as error:
            table.add_row(job.name, " ".join(overrides), "-", str(error))
            continue
        verdict = worst(found)
        named = [f"{f.check}: {f.measured}" for f in found if f.status in (WARN, FAIL)]
        table.add_row(job.name, " ".join(overrides),
                      findings.styled(verdict), "\n".join(named) or "healthy")
        report = {"kind": "after", "run": str(job), "verdict": verdict,
                  "findings": findings.as_json(found)}
        if not args.no_write and not args.out:  # the job's report.html shows it
            records.write_json(report, job / DOCTOR_FILE)
        entries.append({"job": job.name, "overrides": overrides, "verdict": verdict,
                        "findings": findings.as_json(found)})
        code = max(code, exit_code(found))
    findings.console().print(table)
    _write({"kind": "sweep", "sweep": str(sweep_dir), "jobs": entries},
           _json_path(args, sweep_dir), args)
    return code
