"""What the per-layer diagnostics cost: the default experiment trained with diagnostics=off,
default and full, side by side in one process.

    .venv/bin/python benchmarks/bench_diagnostics.py [--repeats 5] [overrides ...]
    .venv/bin/python benchmarks/bench_diagnostics.py train_metrics=running
    .venv/bin/python benchmarks/bench_diagnostics.py epochs=5 model.widths=[500,500,500,500]

Training time is the run after compilation: the best of ``--repeats`` runs of the compiled
program, the levels interleaved so that a busy machine slows all of them alike, as wall seconds
and as CPU seconds (steadier than wall time on a shared machine). Compilation is reported
apart, wall and CPU (the first run's CPU time less a compiled run's).
Goal: default costs < 15% of training time.
"""

from __future__ import annotations

import argparse
import time

from trainlab.config import compose
from trainlab.data import load_dataset
from trainlab.plan import device_data, execute, shapes_of, trial_values, use_dtype
from trainlab.program import program_for

LEVELS = ("off", "default", "full")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("overrides", nargs="*", help="train overrides, e.g. epochs=10")
    args = parser.parse_args()

    jobs = {}
    for level in LEVELS:
        cfg = compose([*args.overrides, f"diagnostics={level}", "progress=false"])
        use_dtype(cfg.dtype)
        data = load_dataset(cfg.data, cfg.dtype)
        values, seeds, _ = trial_values([cfg])
        jobs[level] = (program_for(cfg, shapes_of(cfg, data)), values, seeds,
                       device_data(data, cfg.dtype))

    compile_wall, first_cpu, cpu = {}, {}, {}
    run_s = {level: float("inf") for level in LEVELS}
    columns = {}
    for repeat in range(args.repeats + 1):
        for level, (program, values, seeds, data) in jobs.items():
            start = time.process_time()
            outcome = execute(program, values, seeds, data, progress=False)
            used = time.process_time() - start
            if repeat == 0:  # the first run compiles
                compile_wall[level], first_cpu[level] = outcome.compile_s, used
                columns[level] = len(outcome.history)
            else:
                run_s[level] = min(run_s[level], outcome.run_s)
                cpu[level] = min(cpu.get(level, used), used)

    program = jobs["off"][0]
    print(f"bench_diagnostics: {program.cfg.epochs} epochs, {program.total_steps} steps, "
          f"widths {list(getattr(program.cfg.model, 'widths', []))}, "
          f"overrides: {' '.join(args.overrides) or 'none'}, best of {args.repeats}")
    print(f"{'diagnostics':<12}{'columns':>8}{'train s':>9}{'overhead':>9}{'cpu s':>7}"
          f"{'overhead':>9}{'compile s':>11}{'cpu s':>7}{'overhead':>9}")
    compile_cpu = {level: first_cpu[level] - cpu[level] for level in LEVELS}
    for level in LEVELS:
        print(f"{level:<12}{columns[level]:>8}{run_s[level]:>9.3f}"
              f"{run_s[level] / run_s['off'] - 1:>+9.1%}{cpu[level]:>7.2f}"
              f"{cpu[level] / cpu['off'] - 1:>+9.1%}{compile_wall[level]:>11.2f}"
              f"{compile_cpu[level]:>7.2f}{compile_cpu[level] / compile_cpu['off'] - 1:>+9.1%}")


if __name__ == "__main__":
    main()
