"""A 64-trial learning-rate sweep end to end, trainlab's way and the usual ways, in one run.

Sweep S: Adam with lr log-uniform in [1e-4, 1e-1] (64 quasi-random trials), MLP 40-256-256-10
with ReLU on MNIST-1D's 4000 training samples, batch 128, 10 epochs = 310 steps a trial, 18.8
GFLOP of matmuls a trial (workload W of bench_train.py); the objective is the final training
loss (W has no validation split). Contenders:

  train -m (vectorized)   trainlab's default multirun: jobs grouped, one compiled program
  train -m (basic)        the same command with hydra/launcher=basic: jobs one by one
  naive JAX               per trial: optax.adam(lr) with lr baked in, jit(step), a Python loop
                          over batches: one compile per trial (what a Hydra+JAX app gets)
  PyTorch CPU             per trial: the idiomatic loop (when torch is installed)

``train -m`` rows are wall time of the whole command (Python start-up, Hydra, compile,
training, every job's files); the in-process rows are compile + run only. Compile and run are
also shown apart, with GFLOP/s of the run against a measured matmul peak. Noise on a shared
2-core machine is 15-40%: compare within one run.

    python benchmarks/bench_sweep.py [--trials 64] [--epochs 10] [--quick]
    python benchmarks/bench_sweep.py --chunks   # the measurement behind trial_plan's rule
    python benchmarks/bench_sweep.py --chunks --workloads tiny --widths 8,16,32,64,128
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

# The same hand-written MLP as `make bench` (this folder is on the path when run as a script).
from bench_train import _loss, _mlp_init  # noqa: E402
from rich.console import Console
from rich.table import Table

WIDTHS = (40, 256, 256, 10)
BATCH = 128
LR_SPACE = "tag(log, interval(1e-4, 1e-1))"
SWEEP = ["model.widths=[256,256]", f"batch_size={BATCH}", "data.val_fraction=0",
         "objective=final_train_loss", "train_metrics=running", "diagnostics=off",
         "optimizer=adam"]


def gflop_per_trial(n_train: int, epochs: int) -> float:
    macs = sum(a * b for a, b in zip(WIDTHS[:-1], WIDTHS[1:]))
    return 3 * 2 * BATCH * macs * (n_train // BATCH) * epochs / 1e9


def matmul_peak() -> float:
    """FLOP/s of a large float32 matmul: the ceiling of every contender."""
    n = 2048
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    times = []
    for _ in range(5):
        start = time.perf_counter()
        f(a).block_until_ready()
        times.append(time.perf_counter() - start)
    return 2 * n**3 / min(times)


def learning_rates(trials: int) -> list[float]:
    """The lrs the quasi-random sweeper draws (so every contender trains the same trials)."""
    from trainlab.search_space import parse

    space = parse([f"optimizer.lr={LR_SPACE}"])
    return [float(t[0].split("=")[1]) for t in space.trials("sobol", trials, seed=0)]


# --------------------------------------------------------------------------- train -m rows
def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def train_m(sweep_dir: Path, trials: int, epochs: int, *extra: str,
            jax_cache: Path) -> tuple[list, float, float, str]:
    """Run the sweep as a user does; JAX's compilation cache in ``jax_cache`` (a fresh folder:
    compile from scratch; the folder of an earlier run: load what it compiled)."""
    command = [sys.executable, "-m", "trainlab.cli", "-m", f"hydra.sweep.dir={sweep_dir}",
               "hydra/sweeper=quasirandom", f"hydra.sweeper.n_trials={trials}",
               f"optimizer.lr={LR_SPACE}", *SWEEP, f"epochs={epochs}", "progress=false", *extra]
    env = os.environ | {"JAX_COMPILATION_CACHE_DIR": str(jax_cache)}
    start, cpu = time.perf_counter(), _children_cpu_s()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    wall, cpu = time.perf_counter() - start, _children_cpu_s() - cpu
    if result.returncode != 0:
        sys.exit(f"bench_sweep: {' '.join(command)} failed:\n{result.stderr[-3000:]}")
    summaries = [json.loads(p.read_text()) for p in sweep_dir.glob("*/summary.json")]
    if len(summaries) != trials:
        sys.exit(f"bench_sweep: {len(summaries)} of {trials} jobs finished in {sweep_dir}")
    return summaries, wall, cpu, result.stdout + result.stderr


def vectorized(root: Path, trials: int, epochs: int, name: str, jax_cache: Path) -> dict:
    summaries, wall, cpu, log = train_m(root / name, trials, epochs, jax_cache=jax_cache)
    groups = re.findall(r"chunks of (\d+) .*?compile ([\d.]+) s, run ([\d.]+) s", log)
    return {"compile": sum(float(g[1]) for g in groups), "run": sum(float(g[2]) for g in groups),
            "total": wall, "cpu": cpu, "trials": trials, "note": f"chunks of {groups[0][0]}",
            "ok": sum(s["status"] == "ok" for s in summaries)}


def basic(root: Path, trials: int, epochs: int) -> dict:
    summaries, wall, cpu, _ = train_m(root / "basic", trials, epochs, "hydra/launcher=basic",
                                      jax_cache=root / "jax-basic")
    compile_s = sum(s["compile_s"] for s in summaries)
    return {"compile": compile_s, "run": sum(s["wall_s"] for s in summaries) - compile_s,
            "total": wall, "cpu": cpu, "trials": trials, "note": "",
            "ok": sum(s["status"] == "ok" for s in summaries)}


# ------------------------------------------------------------------------ in-process rows
def _mnist1d():
    from trainlab.config import compose
    from trainlab.data import load_dataset

    data = load_dataset(compose(["data.val_fraction=0"]).data, "float32")
    return np.asarray(data.x_train), np.asarray(data.y_train)


def naive_jax_trial(lr: float, x, y, epochs: int) -> tuple[float, float, float]:
    """One trial as a Hydra+JAX app's job does it: nothing survives to the next trial."""
    tx = optax.adam(lr)  # a Python float: a constant of the compiled program

    @jax.jit
    def step(params, opt_state, xb, yb):
        loss, grads = jax.value_and_grad(_loss)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params = _mlp_init(jax.random.PRNGKey(0))
    opt_state = tx.init(params)
    start = time.perf_counter()
    compiled = step.lower(params, opt_state, x[:BATCH], y[:BATCH]).compile()
    compile_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    steps = len(x) // BATCH
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        losses = []
        for i in range(steps):
            index = order[i * BATCH:(i + 1) * BATCH]
            params, opt_state, loss = compiled(params, opt_state, x[index], y[index])
            losses.append(loss)
        float(jnp.mean(jnp.stack(losses)))  # the epoch's loss, as a user logs it
    return compile_s, time.perf_counter() - start, float(losses[-1])


def torch_trial(lr: float, x, y, epochs: int) -> tuple[float, float, float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(WIDTHS[:-1], WIDTHS[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y).long()
    steps = len(x) // BATCH
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        total = 0.0
        for i in range(steps):
            index = order[i * BATCH:(i + 1) * BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[index]), yt[index])
            loss.backward()
            opt.step()
            total += loss.item()
    return 0.0, time.perf_counter() - start, total / steps


def torch_in_subprocess(sample: int, epochs: int, trials: int) -> dict | None:
    """The PyTorch row in a process of its own (JAX's threads in this one slow torch down),
    its OpenMP threads sleeping rather than spinning while they wait: on a 2-core machine
    shared with other work, spinning made the same loop 5-10x slower (0.38 s a trial passive,
    2-4 s spinning), which would measure the neighbours, not PyTorch."""
    command = [sys.executable, __file__, "--torch-worker", f"--torch-sample={sample}",
               f"--epochs={epochs}", f"--trials={trials}"]
    env = {"OMP_WAIT_POLICY": "PASSIVE"} | os.environ
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        sys.exit(f"bench_sweep: the PyTorch worker failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def in_process(trial, lrs: list[float], sample: int, epochs: int, x, y) -> dict | None:
    """Run ``sample`` of the trials (spread over the lr range), scale to all of them."""
    picked = lrs[:: max(len(lrs) // sample, 1)][:sample]
    cpu = time.process_time()
    runs = []
    for lr in picked:
        result = trial(lr, x, y, epochs)
        if result is None:
            return None
        runs.append(result)
    scale = len(lrs) / len(runs)
    compile_s, run_s = scale * sum(r[0] for r in runs), scale * sum(r[1] for r in runs)
    note = "" if len(runs) == len(lrs) else f"{len(runs)} trials timed, x{scale:g}"
    return {"compile": compile_s, "run": run_s, "total": compile_s + run_s,
            "cpu": scale * (time.process_time() - cpu), "trials": len(lrs), "note": note,
            "ok": None}


# --------------------------------------------------------------------------- the chunk rule
def measure_chunks(trials: int, epochs: int, rounds: int, names: str,
                   widths: list[int]) -> None:
    """Per-trial time of one workload for several trials per call (each call whole: init,
    every epoch's training and evaluation, the outcome), rounds interleaved so that the
    machine's drift hits every width alike; medians shown. What trial_plan.RULES rests on."""
    from trainlab import plan, program, trial_plan
    from trainlab.config import compose
    from trainlab.data import load_dataset

    workloads = {
        "W": ("mnist1d 40-256-256-10, batch 128", SWEEP),
        "mlp64": ("mnist1d 40-64-10, batch 128", [
            "model.widths=[64]", f"batch_size={BATCH}", "diagnostics=off",
            "train_metrics=running"]),
        "moons": ("moons 2-16-16-2, batch 32", [
            "data=moons", "model.widths=[16,16]", "batch_size=32", "diagnostics=off",
            "train_metrics=running"]),
        "tiny": ("moons 2-16-16-2, default settings (bench_scale's jobs)", [
            "data=moons", "model.widths=[16,16]"]),
    }
    console = Console(width=150)
    for key in names.split(","):
        name, overrides = workloads[key]
        cfgs = [compose([*overrides, f"epochs={epochs}", f"optimizer.lr={lr}",
                         "progress=false", "save_params=false"])
                for lr in np.logspace(-4, -1, trials)]
        widths = sorted({w for w in widths if w <= trials})
        per_trial: dict[int, list[float]] = {w: [] for w in widths}
        compile_s: dict[int, float] = {}
        program._PROGRAMS.clear()
        for _ in range(rounds):  # later rounds reuse the executables: compile_s of round 1
            for width in widths:
                [group] = plan.plan([plan.Job(c) for c in cfgs], chunk_size=width)
                summaries = plan.run(group, progress=False)  # chunks of `width` trials
                compiled = sum(s["compile_s"] for s in summaries)
                compile_s.setdefault(width, compiled)
                per_trial[width].append(
                    (sum(s["wall_s"] for s in summaries) - compiled) / trials / epochs)
        data_shapes = plan.shapes_of(cfgs[0], load_dataset(cfgs[0].data, "float32"))
        flops = trial_plan.step_flops(cfgs[0], data_shapes)
        table = Table(title=f"{name}: {flops / 1e6:.3g} MFLOP a trial step, {trials} trials, "
                            f"{epochs} epochs, median of {rounds}")
        for column in ("trials per call", "compile s", "run ms / trial / epoch",
                       f"vs {widths[0]}"):
            table.add_column(column, justify="right")
        one = statistics.median(per_trial[widths[0]])
        for width in widths:
            t = statistics.median(per_trial[width])
            table.add_row(str(width), f"{compile_s[width]:.2f}", f"{t * 1e3:.2f}",
                          f"{t / one:.2f}x")
        console.print(table)
        auto = trial_plan.plan(cfgs[0], data_shapes, trials)
        console.print(f"  auto picks {auto.chunk} ({auto.reason})")


# ------------------------------------------------------------------------------------ main
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="8 trials, 3 epochs")
    parser.add_argument("--naive-sample", type=int, default=8,
                        help="naive JAX trials timed (scaled to all; each compiles)")
    parser.add_argument("--torch-sample", type=int, default=0,
                        help="PyTorch trials timed (0: all)")
    parser.add_argument("--skip", default="",
                        help="comma list of: warm, basic, naive, torch")
    parser.add_argument("--chunks", action="store_true",
                        help="measure per-trial time by trials per call instead")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of --chunks")
    parser.add_argument("--workloads", default="W,mlp64,moons",
                        help="--chunks workloads: comma list of W, mlp64, moons, tiny")
    parser.add_argument("--widths", default="1,2,4,8,16",
                        help="--chunks: trials per call to try (and all the trials at once)")
    parser.add_argument("--torch-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        x, y = _mnist1d()
        lrs = learning_rates(args.trials)
        print(json.dumps(in_process(torch_trial, lrs, args.torch_sample, args.epochs, x, y)))
        return
    if args.quick:
        args.trials, args.epochs = 8, 3
        args.naive_sample = min(args.naive_sample, 2)
    with tempfile.TemporaryDirectory(prefix="bench_sweep.") as root:
        # Every compile here is a cold one: not loaded from trainlab's persistent cache.
        jax.config.update("jax_compilation_cache_dir", str(Path(root) / "jax-here"))
        if args.chunks:
            widths = [int(w) for w in args.widths.split(",")]
            trials = min(args.trials, max(widths))
            measure_chunks(trials, min(args.epochs, 3), args.rounds, args.workloads,
                           [*widths, trials])
        else:
            compare(args, Path(root))


def compare(args, root: Path) -> None:
    console = Console(width=150)
    peak = matmul_peak()
    x, y = _mnist1d()
    per_trial = gflop_per_trial(len(x), args.epochs)
    lrs = learning_rates(args.trials)
    console.print(f"devices: {jax.devices()}  matmul peak {peak / 1e9:.0f} GFLOP/s (2048^3 "
                  f"float32)  sweep: {args.trials} trials x {per_trial:.1f} GFLOP")
    skip = set(args.skip.split(","))
    rows: dict[str, dict] = {}
    rows["train -m (vectorized)"] = vectorized(
        root, args.trials, args.epochs, "vectorized", root / "jax-vectorized")
    if "warm" not in skip:  # a rerun elsewhere: the compiled program comes from disk
        rows["  the same, compiled before"] = vectorized(
            root, args.trials, args.epochs, "vectorized-again", root / "jax-vectorized")
    if "basic" not in skip:
        rows["train -m hydra/launcher=basic"] = basic(root, args.trials, args.epochs)
    if "naive" not in skip:
        rows["naive JAX: jit per trial"] = in_process(
            naive_jax_trial, lrs, args.naive_sample, args.epochs, x, y)
    if "torch" not in skip:
        result = torch_in_subprocess(args.torch_sample or len(lrs), args.epochs, args.trials)
        if result is None:
            console.print("PyTorch: not installed, skipped")
        else:
            rows["PyTorch CPU loop"] = result

    ours = rows["train -m (vectorized)"]["total"]
    table = Table(title=f"sweep S: {args.trials} trials, lr log-uniform [1e-4, 1e-1], MLP "
                        f"40-256-256-10, MNIST-1D, batch {BATCH}, {args.epochs} epochs")
    for column in ("contender", "compile s", "run s", "total s", "CPU s", "s / trial",
                   "GFLOP/s", "% peak", "total / vectorized", "note"):
        table.add_column(column, justify="left" if column in ("contender", "note") else "right")
    for name, r in rows.items():
        gflops = r["trials"] * per_trial / r["run"]
        table.add_row(name, f"{r['compile']:.2f}", f"{r['run']:.2f}", f"{r['total']:.2f}",
                      f"{r['cpu']:.1f}", f"{r['total'] / r['trials']:.3f}", f"{gflops:.1f}",
                      f"{gflops * 1e9 / peak:.0%}", f"{r['total'] / ours:.1f}x", r["note"])
    console.print(table)
    v = rows["train -m (vectorized)"]
    console.print(f"vectorized: {v['ok']}/{v['trials']} trials ok; whole sweep {v['total']:.1f} s"
                  f" (goal < 16 s for 64 trials, 10 epochs), compile {v['compile']:.1f} s, "
                  f"run {v['run']:.1f} s, the rest start-up, Hydra and files. total: wall time "
                  "of the command (train -m) or compile + run (in-process rows); CPU s: user + "
                  "system time, what the load of other processes does not inflate much")


if __name__ == "__main__":
    main()
