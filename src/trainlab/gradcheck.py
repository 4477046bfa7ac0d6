"""Gradient checking (lecture 001): autodiff against centered finite differences, in float64.

    trainlab gradcheck [--samples N] [--entries N] [--directions N] [--eps H] [overrides ...]

takes the overrides of ``train`` and checks the very objective the program's first step
differentiates (``Problem.objective``: the mean data loss plus the penalty): the params the
trial starts from, its first mini-batch (``--samples`` keeps the first N samples of it), and
the first step's dropout masks, all from the trial's own keys (``program.trial_keys``), in
training mode - but in float64. Every parameter group (``layers.<i>.<name>``, as in the params
files) gets

- coordinate checks, (f(θ + h e_j) - f(θ - h e_j)) / 2h against ∂f/∂θ_j, for ``--entries``
  random entries (all of them in a group that small; 0: all of every group);
- direction checks, (f(θ + h v) - f(θ - h v)) / 2h against ∇f·v, for random normal v spanning
  the whole group, so that every entry takes part.

A group's relative error is ||a - n|| / max(||a||, ||n||, floor) over its checks (a: autodiff,
n: numeric; coordinates and directions apart, the larger is reported). The floor is 100 ulps of
f over h, over the tolerance, times sqrt(checks): the rounding of a difference quotient, so
that a gradient that is 0 in exact arithmetic (a bias under BatchNorm) compares its rounding
noise with that noise, not with 0. A difference whose two sides fall on different sides of a
kink - a ReLU-family unit or a maxout piece switching, a weight crossing 0 under L1, a hinge
margin crossing 0 - says nothing of the gradient: it is skipped and counted.

Exit status 0 when every group's error is at most ``TOLERANCE`` (1e-6), 1 when one is above
(or a group had no usable check), 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree
from rich.console import Console
from rich.table import Table

from trainlab.config import Config, ConfigError, compose

TOLERANCE = 1e-6
ROUNDING_ULPS = 100  # rounding noise allowed in f, in units of its last place


class GroupResult(NamedTuple):
    name: str
    shape: tuple[int, ...]
    coordinates: int  # coordinate checks compared
    directions: int  # direction checks compared
    skipped: int  # checks whose difference crossed a kink
    grad_norm: float  # ||autodiff gradient|| of the whole group
    error: float  # relative error (NaN: no usable check)

    @property
    def ok(self) -> bool:
        return self.error <= TOLERANCE  # False for NaN


# ------------------------------------------------------------------------------ checking
def _group_name(path) -> str:
    return ".".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)


def _relative_error(a: list[float], n: list[float], floor: float) -> float:
    if not a:
        return float("nan")
    a, n = np.asarray(a), np.asarray(n)
    scale = max(np.linalg.norm(a), np.linalg.norm(n), floor * math.sqrt(len(a)))
    return float(np.linalg.norm(a - n) / scale) if scale > 0 else 0.0


def check_gradients(
    objective: Callable, params, *, eps: float = 1e-5, entries: int = 20,
    directions: int = 4, seed: int = 0,
) -> list[GroupResult]:
    """Compare ``jax.grad`` of ``objective(params) -> (value, kinks)`` with centered
    differences of step ``eps``, group by group (one group per leaf of ``params``). ``kinks``
    is any pytree of arrays that changes where the objective is not differentiable; a
    difference whose two ends disagree on it is skipped. Run it in float64."""
    flat, unravel = ravel_pytree(params)
    f = jax.jit(lambda v: objective(unravel(v)))
    grad = np.asarray(jax.jit(jax.grad(lambda v: objective(unravel(v))[0]))(flat))
    value, _ = f(flat)
    floor = ROUNDING_ULPS * np.finfo(flat.dtype).eps * max(abs(float(value)), 1.0) / eps
    floor /= TOLERANCE
    rng = np.random.default_rng(seed)
    base = np.asarray(flat)

    def difference(direction: np.ndarray) -> float | None:
        (plus, kinks_plus), (minus, kinks_minus) = f(base + eps * direction), f(
            base - eps * direction)
        same_side = all(np.array_equal(p, m) for p, m in zip(
            jax.tree_util.tree_leaves(kinks_plus), jax.tree_util.tree_leaves(kinks_minus)))
        return (float(plus) - float(minus)) / (2 * eps) if same_side else None

    results, offset = [], 0
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        size, group = leaf.size, slice(offset, offset + leaf.size)
        offset += size
        coords = (np.arange(size) if entries <= 0 or size <= entries
                  else rng.choice(size, entries, replace=False))
        checks = {"coordinates": ([], []), "directions": ([], [])}
        skipped = 0
        for kind, count in (("coordinates", len(coords)), ("directions", directions)):
            for i in range(count):
                direction = np.zeros_like(base)
                if kind == "coordinates":
                    direction[group.start + coords[i]] = 1.0
                else:
                    direction[group] = rng.standard_normal(size)
                numeric = difference(direction)
                if numeric is None:
                    skipped += 1
                    continue
                checks[kind][0].append(float(grad @ direction))
                checks[kind][1].append(numeric)
        errors = [_relative_error(a, n, floor) for a, n in checks.values()]
        used = [e for e in errors if not math.isnan(e)]
        results.append(GroupResult(
            name=_group_name(path), shape=tuple(leaf.shape),
            coordinates=len(checks["coordinates"][0]), directions=len(checks["directions"][0]),
            skipped=skipped, grad_norm=float(np.linalg.norm(grad[group])),
            error=max(used) if used else float("nan"),
        ))
    return results


# ------------------------------------------------------------------ the training objective
def problem(cfg: Config, samples: int = 0) -> tuple[Callable, dict]:
    """The objective the program trains, and the params it starts from, for
    ``check_gradients``: params -> (objective, kinks) on the first mini-batch of epoch 1 (its
    first ``samples`` samples, if given), with the trial's own keys - init, data order and the
    first step's dropout masks - in training mode."""
    from trainlab import plan
    from trainlab.program import trial_keys

    [group] = plan.plan([plan.Job(cfg)])
    problem = group.program.problem
    init_key, order_key, dropout_key = trial_keys(cfg.seed)
    net = problem.init(cfg, init_key)
    batch = jax.tree_util.tree_map(lambda a: a[0], problem.batches(order_key, 1, group.data))
    if samples:
        batch = jax.tree_util.tree_map(lambda a: a[:samples], batch)
    key = jax.random.fold_in(dropout_key, 0)  # the key of step 0

    def objective(params):
        value, _ = problem.objective(cfg, params, net.state, batch, key)
        return value, problem.kinks(cfg, params, net.state, batch, key)

    return objective, net.params


def run(overrides: list[str], **options) -> list[GroupResult]:
    """Check the gradients of ``train OVERRIDES``' objective; ConfigError on bad input."""
    return run_config(compose(overrides), **options)


def run_config(cfg: Config, *, samples: int = 0, entries: int = 20, directions: int = 4,
               eps: float = 1e-5) -> list[GroupResult]:
    """Check the gradients of ``cfg``'s training objective, in float64."""
    with jax.enable_x64(True):
        cfg = dataclasses.replace(cfg, dtype="float64")
        objective, params = problem(cfg, samples)
        return check_gradients(objective, params, eps=eps, entries=entries,
                               directions=directions, seed=cfg.seed)


# ---------------------------------------------------------------------------- the command
def print_results(results: list[GroupResult], title: str, console: Console) -> None:
    table = Table(title=title, caption="checks: coordinates + random directions; kinks: "
                  "differences skipped for crossing a kink")
    for column in ("group", "shape", "checks", "kinks", "|grad|", "rel. error", "result"):
        table.add_column(column, justify="left" if column == "group" else "right")
    for r in results:
        verdict = "[green]ok" if r.ok else "[bold red]FAIL"
        table.add_row(
            r.name, "x".join(map(str, r.shape)) or "scalar",
            f"{r.coordinates}+{r.directions}", str(r.skipped), f"{r.grad_norm:.3e}",
            "no check" if math.isnan(r.error) else f"{r.error:.2e}", verdict,
        )
    console.print(table)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="trainlab gradcheck",
        description="Compare autodiff gradients of the training objective with centered "
                    "finite differences in float64; fail above a relative error of 1e-6.",
    )
    parser.add_argument("--samples", type=int, default=0,
                        help="check on the first N samples of the first batch (0: all)")
    parser.add_argument("--entries", type=int, default=20,
                        help="coordinates checked per group (0: all)")
    parser.add_argument("--directions", type=int, default=4,
                        help="random directions checked per group")
    parser.add_argument("--eps", type=float, default=1e-5, help="finite-difference step h")
    parser.add_argument("overrides", nargs="*", help="train overrides, e.g. activation=tanh")
    args = parser.parse_args(argv)
    try:
        results = run(args.overrides, samples=args.samples, entries=args.entries,
                      directions=args.directions, eps=args.eps)
    except ConfigError as error:
        print(f"trainlab gradcheck: error: {error}", file=sys.stderr)
        return 2
    title = (f"gradient check, float64, h={args.eps:g}: "
             f"{' '.join(args.overrides) or 'default config'}")
    return verdict(results, title)


def verdict(results: list[GroupResult], title: str) -> int:
    """Print the table and what failed; the exit code: 0 passed, 1 failed."""
    console = Console()
    print_results(results, title, console)
    above = [r.name for r in results if r.error > TOLERANCE]
    unchecked = [r.name for r in results if math.isnan(r.error)]
    if above:
        console.print(f"[bold red]FAILED[/]: relative error above {TOLERANCE:g} in "
                      f"{', '.join(above)}")
    if unchecked:
        console.print(f"[bold red]FAILED[/]: no usable check in {', '.join(unchecked)}: every "
                      "difference crossed a kink (units exactly at 0, as after a zero init?)")
    if above or unchecked:
        return 1
    console.print(f"[green]passed[/]: every group within {TOLERANCE:g}")
    return 0
