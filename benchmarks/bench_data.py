"""Workload F: an MLP 784-256-10 (ReLU, Adam lr 1e-3) on Fashion-MNIST's 60000 training images,
batch 128, through trainlab and the hand-written loops of bench_train.py, in one process.

468 steps an epoch, 3 * 2 * 128 * (784*256 + 256*10) = 156 MFLOP a step (forward 1x, backward
2x). The point beside bench_train's workload W (40 inputs, 4000 samples): a data set 15x longer
and 20x wider, 188 MB of float32 on the device; does the compiled program still keep up with a
hand-written loop, and with PyTorch? Each contender runs ``--repeats`` times; the table shows the
best (noise on a shared machine is 15-40%: only the ratios within one run mean much).

    python benchmarks/bench_data.py [--epochs 3] [--repeats 3]
    python benchmarks/bench_data.py --quick     # 1024 images, 1 epoch, 1 repeat: does it run
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

# The same contenders as `make bench` (this folder is on the path when run as a script).
from bench_train import (
    flops_per_step,
    handwritten_epoch_scan,
    handwritten_python_loop,
    matmul_peak,
    pytorch_loop,
    trainlab_run,
)
from rich.console import Console
from rich.table import Table

from trainlab.config import compose
from trainlab.data import load_dataset

WIDTHS = (784, 256, 10)
HIDDEN = "[256]"
DATA = ["data=fashion_mnist"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true",
                        help="1024 images, 1 epoch, 1 repeat: a smoke check, not a measurement")
    args = parser.parse_args()
    data_overrides = [*DATA, "data.train_size=1024"] if args.quick else list(DATA)
    epochs, repeats = (1, 1) if args.quick else (args.epochs, args.repeats)

    data = load_dataset(compose([*data_overrides, "data.val_fraction=0"]).data, "float32")
    x, y = jnp.asarray(data.x_train), jnp.asarray(data.y_train)
    contenders = {
        "trainlab, train_metrics=running": lambda: trainlab_run(
            epochs, *data_overrides, "train_metrics=running", hidden=HIDDEN),
        "trainlab, train_metrics=eval (default)": lambda: trainlab_run(
            epochs, *data_overrides, hidden=HIDDEN),
        "hand-written JAX: jit(epoch scan)": lambda: handwritten_epoch_scan(
            x, y, epochs, WIDTHS),
        "hand-written JAX: loop over jit(step)": lambda: handwritten_python_loop(
            x, y, epochs, WIDTHS),
        "PyTorch CPU loop": lambda: pytorch_loop(np.asarray(x), np.asarray(y), epochs, WIDTHS),
    }
    peak = matmul_peak()
    console = Console(width=150)
    console.print(f"devices: {jax.devices()}  matmul peak: {peak / 1e9:.0f} GFLOP/s "
                  f"(2048^3 float32)  workload: {len(x)} images of {x.shape[1]} pixels "
                  f"({x.nbytes / 1e6:.0f} MB), {epochs} epochs"
                  + ("  [--quick: a smoke check, not a measurement]" if args.quick else ""))
    results = {}
    for name, run in contenders.items():
        runs = [run() for _ in range(repeats)]
        if runs[0] is None:
            console.print(f"{name}: skipped (not installed)")
            continue
        compile_s = runs[0][0]  # the first run compiles; later ones reuse the executable
        results[name] = (compile_s, min(r[1] for r in runs), runs[0][2])

    base = results["trainlab, train_metrics=running"][1]
    table = Table(title="workload F: MLP 784-256-10, Fashion-MNIST, batch 128",
                  caption="train_metrics=eval also evaluates the whole training split after "
                          "each epoch (one more forward pass over every training image)")
    for column in ("contender", "compile s", "run s (best)", "steps/s", "GFLOP/s", "% peak",
                   "time / trainlab's"):
        table.add_column(column, justify="right" if column != "contender" else "left")
    for name, (compile_s, run_s, steps) in results.items():
        gflops = steps * flops_per_step(WIDTHS) / run_s / 1e9
        table.add_row(name, f"{compile_s:.2f}", f"{run_s:.3f}", f"{steps / run_s:,.0f}",
                      f"{gflops:.1f}", f"{gflops * 1e9 / peak:.0%}", f"{run_s / base:.2f}x")
    console.print(table)


if __name__ == "__main__":
    main()
