"""Workload W through trainlab, side by side with hand-written loops, in one process.

W: an MLP 40-256-256-10 with ReLU and Adam (lr 1e-3) on MNIST-1D's 4000 training samples,
batch 128, 10 epochs = 310 steps; 3 * 2 * 310 * 128 * (40*256 + 256*256 + 256*10) = 18.8 GFLOP
of matmuls (forward 1x, backward 2x). Each contender runs ``--repeats`` times; the table shows
the best run (noise here is 15-40% between runs, so only the ratios within one run mean much).

    python benchmarks/bench_train.py [--epochs 10] [--repeats 3] [--compile-cache]

The compile column is a cold compile for every row: JAX's persistent cache, which trainlab
turns on and which would otherwise serve the hand-written loops too, is off unless asked for.
It counts what a run compiles before its first step: trainlab's init program, and the
hand-written loops' eager init (its random draws compile as ops of their own).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
from rich.console import Console
from rich.table import Table

from trainlab.config import compose
from trainlab.data import load_dataset
from trainlab.plan import Job, train_many

WIDTHS = (40, 256, 256, 10)
BATCH = 128
LR = 1e-3


def flops_per_step(widths=WIDTHS) -> float:
    macs = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    return 3 * 2 * BATCH * macs


def matmul_peak() -> float:
    """FLOP/s of a large float32 matmul: the ceiling any of the loops could reach."""
    n = 2048
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        f(a).block_until_ready()
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


# ------------------------------------------------------------------------------ contenders
def trainlab_run(epochs: int, *extra: str, hidden: str = "[256,256]") -> tuple[float, float, int]:
    cfg = compose([*extra,
        f"epochs={epochs}", f"batch_size={BATCH}", "data.val_fraction=0", f"model.widths={hidden}",
        "optimizer=adam", f"optimizer.lr={LR}", "progress=false", "diagnostics=off",  # as W
        "save_params=false",
    ])
    [summary] = train_many([Job(cfg)], progress=False)
    run_s = summary["wall_s"] - summary["compile_s"]
    return summary["compile_s"], run_s, round(summary["steps_per_s"] * run_s)


def trainlab_vmapped_run(epochs: int, *extra: str) -> tuple[float, float, int]:
    """trainlab as it was before single trials skipped vmap: the one trial vmapped over a
    trial axis of one (the same program otherwise), to show what that path saves."""
    from trainlab import program

    plain = program.over_trials
    program.over_trials = lambda fn, in_axes: jax.vmap(fn, in_axes=in_axes)
    program._PROGRAMS.clear()
    try:
        return trainlab_run(epochs, *extra)
    finally:
        program.over_trials = plain
        program._PROGRAMS.clear()


def _mlp_init(key, widths=WIDTHS):
    params = []
    for i, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:])):
        w = jax.random.normal(jax.random.fold_in(key, i), (fan_in, fan_out)) * np.sqrt(2 / fan_in)
        params.append((w, jnp.zeros(fan_out)))
    return params


def _loss(params, x, y):
    for w, b in params[:-1]:
        x = jax.nn.relu(x @ w + b)
    w, b = params[-1]
    return optax.softmax_cross_entropy_with_integer_labels(x @ w + b, y).mean()


def _step(tx):
    def step(carry, batch):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(_loss)(params, *batch)
        updates, opt_state = tx.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), loss
    return step


def _initialized(key, widths, tx):
    """The params and optimizer state, ready on the device (eager ops: each compiles once)."""
    params = _mlp_init(key, widths)
    return jax.block_until_ready((params, tx.init(params)))


def handwritten_epoch_scan(x, y, epochs: int, widths=WIDTHS) -> tuple[float, float, int]:
    """The idiom of the JAX tutorials done well: one jit per epoch, lax.scan over batches."""
    tx = optax.adam(LR)
    steps = len(x) // BATCH

    @jax.jit
    def epoch(carry, key):
        order = jax.random.permutation(key, len(x))[: steps * BATCH].reshape(steps, BATCH)
        carry, losses = jax.lax.scan(_step(tx), carry, (x[order], y[order]))
        return carry, losses.mean()

    key = jax.random.PRNGKey(0)
    start = time.perf_counter()  # its eager init compiles too: part of a cold start
    carry = _initialized(key, widths, tx)
    compiled = epoch.lower(carry, key).compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    for e in range(epochs):
        carry, loss = compiled(carry, jax.random.fold_in(key, e))
    jax.block_until_ready(carry)
    return compile_s, time.perf_counter() - start, steps * epochs


def handwritten_python_loop(x, y, epochs: int, widths=WIDTHS) -> tuple[float, float, int]:
    """The other common idiom: a Python loop over a jitted step."""
    tx = optax.adam(LR)
    step = jax.jit(_step(tx))
    steps = len(x) // BATCH
    key = jax.random.PRNGKey(0)
    start = time.perf_counter()
    carry = _initialized(key, widths, tx)
    compiled = step.lower(carry, (x[:BATCH], y[:BATCH])).compile()
    compile_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(epochs):
        order = rng.permutation(len(x))
        for i in range(steps):
            index = order[i * BATCH:(i + 1) * BATCH]
            carry, loss = compiled(carry, (x[index], y[index]))
    jax.block_until_ready(carry)
    return compile_s, time.perf_counter() - start, steps * epochs


def pytorch_loop(x, y, epochs: int, widths=WIDTHS) -> tuple[float, float, int] | None:
    """An idiomatic PyTorch CPU loop (optional: only when torch is installed)."""
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers[:-1])
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    xt, yt = torch.from_numpy(np.asarray(x)), torch.from_numpy(np.asarray(y)).long()
    steps = len(x) // BATCH
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(steps):
            index = order[i * BATCH:(i + 1) * BATCH]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(model(xt[index]), yt[index])
            loss.backward()
            opt.step()
    return 0.0, time.perf_counter() - start, steps * epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile-cache", action="store_true",
                        help="let trainlab load compiled programs from its disk cache")
    args = parser.parse_args()
    if not args.compile_cache:  # every compile column is then a cold compile, side by side
        jax.config.update("jax_enable_compilation_cache", False)

    data = load_dataset(compose(["data.val_fraction=0"]).data, "float32")
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    contenders = {
        "trainlab, train_metrics=running": lambda: trainlab_run(
            args.epochs, "train_metrics=running"),
        "trainlab, train_metrics=eval (default)": lambda: trainlab_run(args.epochs),
        "trainlab, running, vmapped over 1 trial (before)": lambda: trainlab_vmapped_run(
            args.epochs, "train_metrics=running"),
        "hand-written JAX: jit(epoch scan)": lambda: handwritten_epoch_scan(x, y, args.epochs),
        "hand-written JAX: loop over jit(step)": lambda: handwritten_python_loop(
            x, y, args.epochs),
        "PyTorch CPU loop": lambda: pytorch_loop(np.asarray(x), np.asarray(y), args.epochs),
    }
    peak = matmul_peak()
    console = Console(width=150)
    console.print(f"devices: {jax.devices()}  matmul peak: {peak / 1e9:.0f} GFLOP/s "
                  f"(2048^3 float32)  workload: {len(x)} samples, {args.epochs} epochs")
    results = {}
    for name, run in contenders.items():
        runs = [run() for _ in range(args.repeats)]
        if runs[0] is None:
            console.print(f"{name}: skipped (not installed)")
            continue
        compile_s = runs[0][0]  # the first run compiles; later ones reuse the executable
        run_s = min(r[1] for r in runs)
        results[name] = (compile_s, run_s, runs[0][2])

    base = results["trainlab, train_metrics=running"][1]
    table = Table(title="workload W: MLP 40-256-256-10, MNIST-1D, batch 128",
                  caption="compile: cold, every row from scratch (the disk cache is off; "
                          "--compile-cache turns it on, as trainlab has it)")
    for column in ("contender", "compile s", "run s (best)", "steps/s", "GFLOP/s", "% peak",
                   "time / trainlab's"):
        table.add_column(column, justify="right" if column != "contender" else "left")
    for name, (compile_s, run_s, steps) in results.items():
        gflops = steps * flops_per_step() / run_s / 1e9
        table.add_row(name, f"{compile_s:.2f}", f"{run_s:.3f}", f"{steps / run_s:,.0f}",
                      f"{gflops:.1f}", f"{gflops * 1e9 / peak:.0%}", f"{run_s / base:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
