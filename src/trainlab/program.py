"""The compiled training program: many trials of one static config trained at once.

A *trial* is one seed with one set of traced numbers (``config.traced_values``: lr, momentum,
kappa, dropout rates, ...). Every function below is written for one trial and vmapped over a
leading trial axis, then compiled once per static signature and input shapes, so trials that
differ only in those numbers, and later runs of the same shape, reuse the compiled program.
What is trained - a network, a point on a surface, a closed-form output layer - is the
``Problem``'s business (problems/); this file is the loop around it.

One epoch is one call: ``lax.scan`` over the problem's batches (each step reads its own), then
one call that evaluates the epoch's row and updates early stopping. Python only loops over
epochs (plan.py).

Diverged trials (a non-finite loss) freeze at the start of the epoch they diverged in and report
NaN from then on; trials that stopped early freeze too. Neither stops the others.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trainlab.config import Config, static_signature, with_values
from trainlab.problems import Net, Problem, Shapes, problem_for


class Carry(NamedTuple):
    """Everything one trial carries from epoch to epoch."""

    net: Net
    opt_state: Any
    step: jax.Array
    best: Net  # the net at the best validation loss (a copy only with early stopping)
    best_val: jax.Array
    best_epoch: jax.Array
    bad_checks: jax.Array  # early-stopping checks without improvement in a row
    stopped: jax.Array
    diverged: jax.Array
    observed: Any  # what the epoch's steps accumulate for its row (Problem.observe)
    average: Any  # the Polyak (EMA) average of the params, with param_average > 0


class Compiled(NamedTuple):
    """The compiled executables of a program for one shape of inputs, and the placeholder
    for the mini-batch means that the evaluation at epoch 0 takes (no epoch ran yet)."""

    init: Any
    train: Any
    evaluate: Any
    final: Any
    no_running: Any


# Init runs once a chunk, so only its compile time counts: LLVM's level 2 rather than XLA's
# default halves it (threefry's unrolled rounds; W: 1.7-2.1 -> 0.8-1.0 s cold) and draws the
# same numbers bit for bit (tests/test_program.py).
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 2}


def trial_keys(seed) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Independent streams for init, data order and dropout, from a trial's seed: the
    program's and the gradient check's."""
    init_key, order_key, dropout_key = jax.random.split(jax.random.PRNGKey(seed), 3)
    return init_key, order_key, dropout_key


def over_trials(fn, in_axes: tuple):
    """``fn`` of one trial, mapped over the leading trial axis of the arguments whose
    ``in_axes`` is 0: vmapped, except for a single trial, which is traced as it is written
    (its matmuls plain rather than batched of size one) and given its trial axis back."""
    batched = jax.vmap(fn, in_axes=in_axes)

    def call(*args):
        if args[1].shape[0] != 1:  # the seeds: one per trial
            return batched(*args)
        one = [jax.tree_util.tree_map(lambda a: a[0], arg) if axis == 0 else arg
               for arg, axis in zip(args, in_axes, strict=True)]
        return jax.tree_util.tree_map(lambda a: a[None], fn(*one))

    return call


def each_trial(fn, in_axes: tuple):
    """``fn`` of one trial, looped over the leading trial axis (lax.map) rather than vmapped:
    one trial's program in a loop, whose compile does not grow with the number of trials."""
    one_trial = over_trials(fn, in_axes)

    def call(*args):
        if args[1].shape[0] == 1:
            return one_trial(*args)
        mapped = [arg for arg, axis in zip(args, in_axes, strict=True) if axis == 0]

        def one(trial):
            rest = iter(trial)
            return fn(*[next(rest) if axis == 0 else arg
                        for arg, axis in zip(args, in_axes, strict=True)])

        return jax.lax.map(one, mapped)

    return call


def _spread(trials) -> bool:
    """Whether an array with a trial axis is split over several devices."""
    sharding = getattr(trials, "sharding", None)
    return sharding is not None and len(sharding.device_set) > 1


class Program:
    """The jitted, trial-vmapped functions for one static config and its problem."""

    def __init__(self, static_cfg: Config, problem: Problem):
        self.cfg, self.problem = static_cfg, problem
        self.steps_per_epoch = problem.steps_per_epoch
        self.total_steps = self.steps_per_epoch * static_cfg.epochs
        self.keep_best = static_cfg.early_stopping.enabled
        self.averaging = static_cfg.param_average > 0
        # Arguments: trial values, seed and carry have a trial axis; epoch and data do not.
        # Init draws the weights with threefry, whose compile grows with a vmapped trial axis
        # (W: 1.3 s for one trial, 3.6 s for four). Looped over the trials it compiles as one
        # trial's and draws the same numbers; a trial axis split over devices stays vmapped.
        self.init = jax.jit(each_trial(self._init, (0, 0, None)))
        self.init_spread = jax.jit(over_trials(self._init, (0, 0, None)))
        self.train = jax.jit(over_trials(self._train_epoch, (0, 0, 0, None, None)))
        self.evaluate = jax.jit(over_trials(self._evaluate_epoch, (0, 0, 0, None, 0, None)))
        self.final = jax.jit(over_trials(self._final, (0, 0, 0, None)))
        self._compiled: dict = {}

    def compile(self, values: dict, seeds: jax.Array, data: dict) -> Compiled:
        """Compile (once per shape of the inputs) the four functions a run calls:
        init, then per epoch train and evaluate (epoch 0 evaluates the initial net), final."""
        leaves, tree = jax.tree_util.tree_flatten((values, seeds, data))
        key = (tree, tuple((leaf.shape, leaf.dtype, getattr(leaf, "sharding", None))
                           for leaf in leaves))
        if key not in self._compiled:
            init = (self.init_spread if _spread(seeds) else self.init).lower(
                values, seeds, data).compile(INIT_COMPILER_OPTIONS)
            # The carry as init leaves it, sharding included (the trial axis over devices),
            # so that every later executable takes it as it comes.
            carry = jax.tree_util.tree_map(
                lambda s, sharding: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding),
                jax.eval_shape(self.init, values, seeds, data), init.output_shardings)
            epoch = jax.ShapeDtypeStruct((), jnp.int32)
            _, running = jax.eval_shape(self.train, values, seeds, carry, epoch, data)
            self._compiled[key] = Compiled(
                init=init,
                train=self.train.lower(values, seeds, carry, epoch, data).compile(),
                evaluate=self.evaluate.lower(values, seeds, carry, epoch, running,
                                             data).compile(),
                final=self.final.lower(values, seeds, carry, data).compile(),
                no_running=jax.tree_util.tree_map(
                    lambda a: jnp.full(a.shape, jnp.nan, a.dtype), running),
            )
        return self._compiled[key]

    # ------------------------------------------------------------------ pieces of one trial
    def _config(self, values: dict) -> Config:
        return with_values(self.cfg, values)

    def schedule(self, cfg: Config):
        return cfg.schedule.make(cfg.optimizer.lr, self.steps_per_epoch, self.total_steps)

    def optimizer(self, cfg: Config):
        """The optax transformation of the trial, masked to what trains."""
        trainable = ((lambda params: self.problem.trainable(cfg, params))
                     if self.problem.freezes else None)
        return cfg.optimizer.make(self.schedule(cfg), trainable, self.steps_per_epoch)

    def _init(self, values, seed, data) -> Carry:
        cfg = self._config(values)
        init_key, _, _ = trial_keys(seed)
        net = self.problem.init(cfg, init_key)
        opt_state = self.optimizer(cfg).init(net.params)
        keep = net if self.keep_best else Net({}, {})
        dtype = jnp.dtype(self.cfg.dtype)
        return Carry(
            net, opt_state, jnp.zeros((), jnp.int32), keep, jnp.asarray(jnp.inf, dtype),
            jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), jnp.zeros((), bool),
            jnp.zeros((), bool), self.problem.start_observing(cfg, net.params),
            net.params if self.averaging else {},
        )

    def _train_step(self, cfg, tx, dropout_key, carry: Carry, batch) -> tuple[Carry, dict]:
        key = jax.random.fold_in(dropout_key, carry.step)
        net, opt_state, metrics, taps = self.problem.step(cfg, tx, carry.net, carry.opt_state,
                                                          batch, key)
        finite = jnp.isfinite(metrics["loss"])
        active = ~carry.stopped & ~carry.diverged & finite
        observed = self.problem.observe(cfg, carry.observed, carry.net.params, taps, active)

        average = carry.average
        if self.averaging:
            d = self.cfg.param_average
            average = jax.tree_util.tree_map(lambda a, w: d * a + (1 - d) * w, average,
                                             net.params)
        # Every trial takes its step, even one that has diverged or stopped: the epoch keeps
        # or undoes the whole epoch's steps at its end (_train_epoch), as a select a step
        # over every leaf of every trial cost ~15% of a vmapped W epoch.
        return carry._replace(
            average=average,
            net=net,
            opt_state=opt_state,
            step=carry.step + active.astype(jnp.int32),
            diverged=carry.diverged | (~finite & ~carry.stopped),
            observed=observed,
        ), metrics

    def _train_epoch(self, values, seed, carry: Carry, epoch, data) -> tuple[Carry, dict]:
        """Train one epoch (``epoch`` counts from 1); returns the carry and the means of the
        epoch's batch metrics."""
        cfg = self._config(values)
        _, order_key, dropout_key = trial_keys(seed)
        step = functools.partial(self._train_step, cfg, self.optimizer(cfg), dropout_key)
        start = carry._replace(observed=jax.tree_util.tree_map(jnp.zeros_like, carry.observed))
        carry, metrics = jax.lax.scan(
            lambda c, item: step(c, self.problem.batch(item, data)), start,
            self.problem.batches(order_key, epoch, data))
        # A trial that diverged in this epoch (or before) or had stopped keeps the net it
        # began the epoch with: one choice an epoch (a cond; vmapped, a where).
        net, opt_state, average = jax.lax.cond(
            carry.diverged | start.stopped,
            lambda: (start.net, start.opt_state, start.average),
            lambda: (carry.net, carry.opt_state, carry.average))
        carry = carry._replace(net=net, opt_state=opt_state, average=average)
        return carry, jax.tree_util.tree_map(lambda m: m.mean(), metrics)

    def _evaluate_epoch(self, values, seed, carry: Carry, epoch, running, data):
        """The row of ``epoch`` (0: the initial net), and early stopping's verdict on it."""
        cfg = self._config(values)
        row = self.problem.row(cfg, carry, epoch, running, data,
                               (self.optimizer(cfg), carry.opt_state))
        last_step = jnp.maximum(carry.step - 1, 0)  # the lr of the epoch's last step
        row["lr"] = jnp.asarray(self.schedule(cfg)(last_step), jnp.dtype(self.cfg.dtype))
        row["step"] = carry.step
        # A diverged trial reports NaN from then on, not the frozen params' numbers.
        row = jax.tree_util.tree_map(
            lambda v: jnp.where(carry.diverged, jnp.nan, v)
            if jnp.issubdtype(v.dtype, jnp.floating) else v, row,
        )
        return self._early_stopping(carry, row, epoch), row

    def _early_stopping(self, carry: Carry, row: dict, epoch) -> Carry:
        es = self.cfg.early_stopping
        val_loss = row.get("val_loss", row["train_loss"])
        live = ~carry.stopped & ~carry.diverged
        improved = live & (val_loss < carry.best_val - es.min_delta)
        best = carry.best
        if self.keep_best:
            best = jax.tree_util.tree_map(
                lambda n, o: jnp.where(improved, n, o), carry.net, carry.best
            )
        carry = carry._replace(
            best=best,
            best_val=jnp.where(improved, val_loss, carry.best_val),
            best_epoch=jnp.where(improved, epoch, carry.best_epoch),
        )
        if not es.enabled:
            return carry
        check = live & (epoch % es.every == 0)
        bad = jnp.where(check, jnp.where(improved, 0, carry.bad_checks + 1), carry.bad_checks)
        return carry._replace(bad_checks=bad, stopped=carry.stopped | (bad >= es.patience))

    def _final(self, values, seed, carry: Carry, data) -> tuple[Net, dict]:
        """The net the run returns (the best one with early stopping) and its test metrics."""
        cfg = self._config(values)
        net = carry.best if self.keep_best and self.cfg.early_stopping.restore_best else carry.net
        average = Net(carry.average, carry.net.state) if self.averaging else None
        return net, self.problem.test(cfg, net, average, data)


_PROGRAMS: dict[tuple[str, Shapes], Program] = {}


def program_for(cfg: Config, shapes: Shapes) -> Program:
    """The compiled program for this config's static signature and these data shapes, built
    once per process and reused: its traced fields are read from the trial values at run time,
    so any config of the same signature can stand for all of them."""
    key = (static_signature(cfg), shapes)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = Program(cfg, problem_for(cfg, shapes))
    return _PROGRAMS[key]
