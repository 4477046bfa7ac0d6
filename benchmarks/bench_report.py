"""`trainlab report` on a large made-up sweep: how long the table (summary.csv) and the page
(report.html) take, and how big the page is.

    python benchmarks/bench_report.py               # 2000 jobs, 30 epochs, 2 seeds swept
    python benchmarks/bench_report.py --jobs 40     # a quick check that it runs

The jobs' files are written by hand in a temporary dir (the contract's files, with a
diagnostics-sized metrics.csv each), so only the report is timed, not training. The report
reads every job's overrides, config and summary, and the metrics of the top k only.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from trainlab import sweep_table
from trainlab.report import html

STATS = ("act_mean", "act_std", "dead_frac", "grad_norm", "update_ratio", "weight_norm")


def write_sweep(root: Path, n_jobs: int, epochs: int, layers: int = 3) -> None:
    """A random search over lr (log) and dropout, each configuration with seeds 0 and 1."""
    rng = np.random.default_rng(0)
    task = ["optimizer.lr=tag(log, interval(1e-4, 1e-1))", "model.hidden_dropout=interval(0, 0.5)",
            "seed=0,1", "data=mnist1d", f"epochs={epochs}"]
    (root / "multirun.yaml").write_text(yaml.safe_dump({"hydra": {"overrides": {"task": task}}}))
    epoch = np.arange(epochs + 1)
    for job in range(n_jobs):
        config, seed = divmod(job, 2)
        crng = np.random.default_rng(config)
        lr, dropout = 10 ** crng.uniform(-4, -1), crng.uniform(0, 0.5)
        overrides = [f"optimizer.lr={lr:.6g}", f"model.hidden_dropout={dropout:.6g}",
                     f"seed={seed}", "data=mnist1d", f"epochs={epochs}"]
        loss = 0.3 + abs(np.log10(lr) + 2) * 0.3 + np.exp(-epoch * lr * 50) \
            + 0.02 * rng.normal(size=epoch.size)
        columns = {"seed": seed, "epoch": epoch, "step": epoch * 25, "lr": lr,
                   "train_loss": loss - 0.05, "train_acc": 1 - loss / 3, "val_loss": loss,
                   "val_acc": 0.9 - loss / 3, "time_s": epoch * 0.01}
        columns |= {f"{s}/{k}": rng.random(epoch.size) for s in STATS for k in range(1, layers)}
        job_dir = root / str(job)
        (job_dir / ".hydra").mkdir(parents=True)
        (job_dir / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
        (job_dir / ".hydra" / "config.yaml").write_text(yaml.safe_dump(
            {"objective": "best_val_loss", "epochs": epochs}))
        pd.DataFrame(columns).to_csv(job_dir / "metrics.csv", index=False)
        summary = {"status": "ok", "best_epoch": int(loss.argmin()),
                   "best_val_loss": float(loss.min()), "best_val_acc": float(0.9 - loss.min() / 3),
                   "test_loss": float(loss.min() + 0.01), "test_acc": float(0.89 - loss.min() / 3),
                   "n_params": 20_000, "wall_s": 1.0, "overrides": overrides, "seeds": [seed]}
        (job_dir / "summary.json").write_text(json.dumps(summary))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--curves", type=int, default=10, help="top k with learning curves")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as folder:
        root = Path(folder)
        write_sweep(root, args.jobs, args.epochs)
        start = time.perf_counter()
        frame, objective = sweep_table.write(root)
        table_s = time.perf_counter() - start
        start = time.perf_counter()
        page = html.write_sweep(root, frame, objective, top_k=args.curves)
        page_s = time.perf_counter() - start
        size = page.stat().st_size
    print(f"{args.jobs} jobs, {args.epochs} epochs, top {args.curves} curves")
    print(f"  summary.csv from the job dirs: {table_s:6.2f} s")
    print(f"  report.html:                   {page_s:6.2f} s, {size / 1e6:.1f} MB "
          f"(plotly.js {len(html.get_plotlyjs()) / 1e6:.1f} MB of it)")


if __name__ == "__main__":
    main()
