"""The compiled training program: many trials of one static config trained at once.

A *trial* is one seed with one set of traced numbers (``config.traced_values``: lr, momentum,
kappa, dropout rates, ...). Every function below is written for one trial and vmapped over a
leading trial axis, then jitted once per static signature, so trials that differ only in those
numbers, and later runs of the same shape, reuse the compiled program.

One epoch is one call: shuffle with the epoch's key, ``lax.scan`` over the mini-batches, then
evaluate (train and validation) and update early stopping. Python only loops over epochs.

Diverged trials (a non-finite loss) freeze where they are and report NaN from then on; trials
that stopped early freeze too. Neither stops the others.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trainlab import closed_form, diagnostics, objectives, surfaces
from trainlab.config import Config, batch_size_of, static_signature, with_values
from trainlab.nn import mlp
from trainlab.optim import make_optimizer, make_schedule, train_output_layer_only


class Net(NamedTuple):
    params: Any
    state: Any  # BatchNorm running statistics


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
    diagnostics: Any  # what the training scan accumulates for them (update norms, ...)
    average: Any  # the Polyak (EMA) average of the params, with param_average > 0


class Shapes(NamedTuple):
    """What the program needs to know of the data, besides the arrays themselves."""

    task: str  # classification | regression | surface
    n_features: int
    n_outputs: int
    n_classes: int
    n_train: int
    batch_size: int  # the effective size: the whole training set for full batch


class Compiled(NamedTuple):
    """The compiled executables of a program for one shape of inputs, and the placeholder
    for the mini-batch means that the evaluation at epoch 0 takes (no epoch ran yet)."""

    init: Any
    train: Any
    evaluate: Any
    final: Any
    no_running: Any


def steps_per_epoch(shapes: Shapes) -> int:
    return shapes.n_train // shapes.batch_size


class Program:
    """The jitted, trial-vmapped functions for one static config and data shape."""

    def __init__(self, static_cfg: Config, shapes: Shapes):
        self.cfg, self.shapes = static_cfg, shapes
        self.full_batch = batch_size_of(static_cfg.batch_size) == 0
        self.steps_per_epoch = 1 if shapes.task == "surface" else steps_per_epoch(shapes)
        self.total_steps = self.steps_per_epoch * static_cfg.epochs
        self.keep_best = static_cfg.early_stopping.enabled
        self.averaging = static_cfg.param_average > 0 and shapes.task != "surface"
        # Arguments: trial values, seed and carry have a trial axis; epoch and data do not.
        self.init = jax.jit(jax.vmap(self._init, in_axes=(0, 0, None)))
        self.train = jax.jit(jax.vmap(self._train_epoch, in_axes=(0, 0, 0, None, None)))
        self.evaluate = jax.jit(jax.vmap(self._evaluate_epoch, in_axes=(0, 0, 0, None, 0, None)))
        self.final = jax.jit(jax.vmap(self._final, in_axes=(0, 0, 0, None)))
        self._compiled: dict = {}

    def compile(self, values: dict, seeds: jax.Array, data: dict) -> Compiled:
        """Compile (once per shape of the inputs) the four functions a run calls:
        init, then per epoch train and evaluate (epoch 0 evaluates the initial net), final."""
        leaves, tree = jax.tree_util.tree_flatten((values, seeds, data))
        key = (tree, tuple((leaf.shape, leaf.dtype, getattr(leaf, "sharding", None))
                           for leaf in leaves))
        if key not in self._compiled:
            init = self.init.lower(values, seeds, data).compile()
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

    def _optimizer(self, cfg: Config):
        tx = make_optimizer(cfg.optimizer, cfg.schedule, self.steps_per_epoch, self.total_steps)
        return train_output_layer_only(tx) if cfg.model.name == "random_features" else tx

    def _schedule(self, cfg: Config):
        return make_schedule(cfg.schedule, cfg.optimizer.lr, self.steps_per_epoch,
                             self.total_steps)

    def _keys(self, seed):
        """Independent streams for init, data order and dropout, from the trial's seed."""
        init_key, order_key, dropout_key = jax.random.split(jax.random.PRNGKey(seed), 3)
        return init_key, order_key, dropout_key

    def _forward(self, cfg, net: Net, x, *, train: bool, key=None):
        if self.shapes.task == "surface":
            return None, net.state, []
        return mlp.apply(cfg, net.params, net.state, x, train=train, key=key)

    def _loss(self, cfg, params, state, x, y, key):
        """The training objective (mean batch loss + penalty) and what the step reports."""
        if self.shapes.task == "surface":
            loss = surfaces.value(cfg.data, params["point"])
            return loss, (state, {"loss": loss}, [])
        out, state, taps = self._forward(cfg, Net(params, state), x, train=True, key=key)
        batch = {"loss": objectives.data_loss(cfg, out, y, self.shapes.n_classes)}
        if self.shapes.n_classes:
            batch["acc"] = (objectives.predictions(cfg, out) == y).mean(dtype=out.dtype)
        objective = batch["loss"] + objectives.penalty(cfg.regularizer, params)
        return objective, (state, batch, taps)

    def _init(self, values, seed, data) -> Carry:
        cfg = self._config(values)
        init_key, _, _ = self._keys(seed)
        dtype = jnp.dtype(self.cfg.dtype)
        if self.shapes.task == "surface":
            net = Net({"point": jnp.asarray(self.cfg.data.start, dtype)}, {})
        else:
            net = Net(*mlp.init(
                cfg, init_key, self.shapes.n_features, self.shapes.n_outputs, dtype
            ))
        opt_state = self._optimizer(cfg).init(net.params)
        keep = net if self.keep_best else Net({}, {})
        return Carry(
            net, opt_state, jnp.zeros((), jnp.int32), keep, jnp.asarray(jnp.inf, dtype),
            jnp.zeros((), jnp.int32), jnp.zeros((), jnp.int32), jnp.zeros((), bool),
            jnp.zeros((), bool), diagnostics.init_accumulators(cfg, net.params),
            net.params if self.averaging else {},
        )

    def _metrics(self, cfg, net: Net, x, y, out=None) -> dict:
        """Loss (and accuracy) of the net in evaluation mode on a whole split (``out``: its
        outputs on ``x``, when already computed)."""
        if self.shapes.task == "surface":
            loss = surfaces.value(cfg.data, net.params["point"])
            return {"loss": loss, "x": net.params["point"][0], "y": net.params["point"][1]}
        if x.shape[0] == 0:  # no such split
            nan = jnp.full((), jnp.nan, jnp.dtype(self.cfg.dtype))
            return {"loss": nan, "acc": nan} if self.shapes.n_classes else {"loss": nan}
        if out is None:
            out, _, _ = self._forward(cfg, net, x, train=False)
        metrics = {"loss": objectives.data_loss(cfg, out, y, self.shapes.n_classes)}
        if self.shapes.n_classes:
            hits = objectives.predictions(cfg, out) == y
            metrics["acc"] = hits.mean(dtype=out.dtype)
        return metrics

    def _train_pass(self, cfg, net: Net, data) -> tuple[dict, Any]:
        """Train metrics in evaluation mode over the whole training split, and the unit codes
        (active / never positive) the dead-unit diagnostics read from that same pass."""
        x, y = data["train"]
        out, _, taps = self._forward(cfg, net, x, train=False)
        codes = (diagnostics.unit_codes(cfg, net.params, taps)
                 if self.cfg.diagnostics != "off" and self.shapes.task != "surface" else None)
        return self._metrics(cfg, net, x, y, out), codes

    def _evaluate(self, values, seed, carry: Carry, epoch, running: dict, data) -> dict:
        """The row of ``epoch``: train and validation metrics, the lr in use, diagnostics.

        ``running``: the means of the epoch's mini-batch metrics; with train_metrics=running
        they stand for the train metrics and no pass over the training split is made (the
        diagnostics then find dead units on the epoch's batches) - except at epoch 0, before
        any batch, where the pass is made (a cond: only one branch runs)."""
        cfg = self._config(values)
        net = carry.net
        x, y = data["train"]
        if self.cfg.train_metrics == "running" and self.shapes.task != "surface":
            accumulated = carry.diagnostics.get("unit_codes")
            train, codes = jax.lax.cond(
                epoch == 0, lambda: self._train_pass(cfg, net, data),
                lambda: (running, accumulated if self.cfg.diagnostics != "off" else None))
        else:
            train, codes = self._train_pass(cfg, net, data)
        row = {f"train_{k}": v for k, v in train.items()}
        if self.averaging:
            averaged = Net(carry.average, net.state)
            row |= {f"val_avg_{k}": v
                    for k, v in self._metrics(cfg, averaged, *data["val"]).items()}
        if self.shapes.task != "surface":
            row |= {f"val_{k}": v for k, v in self._metrics(cfg, net, *data["val"]).items()}
            row["train_objective"] = row["train_loss"] + objectives.penalty(
                cfg.regularizer, net.params
            )
        last_step = jnp.maximum(carry.step - 1, 0)  # the lr of the epoch's last step
        row["lr"] = jnp.asarray(self._schedule(cfg)(last_step), jnp.dtype(self.cfg.dtype))
        row["step"] = carry.step
        if self.shapes.task != "surface":
            probe = (x[: data["probe"].shape[0]], y[: data["probe"].shape[0]])  # with labels
            row |= diagnostics.epoch_diagnostics(
                cfg, net, probe, self._loss, codes,
                (self._optimizer(cfg), carry.opt_state), row,
            )
        # A diverged trial reports NaN from then on, not the frozen params' numbers.
        return jax.tree_util.tree_map(
            lambda v: jnp.where(carry.diverged, jnp.nan, v)
            if jnp.issubdtype(v.dtype, jnp.floating) else v, row,
        )

    def _train_step(self, cfg, tx, dropout_key, carry: Carry, batch) -> tuple[Carry, dict]:
        x, y = batch
        net = carry.net
        key = jax.random.fold_in(dropout_key, carry.step)
        (_, (state, batch_metrics, taps)), grads = jax.value_and_grad(
            self._loss, argnums=1, has_aux=True
        )(cfg, net.params, net.state, x, y, key)
        loss = batch_metrics["loss"]
        updates, opt_state = tx.update(grads, carry.opt_state, net.params)
        params = jax.tree_util.tree_map(jnp.add, net.params, updates)
        if cfg.model.name == "random_features":  # only the output layer learns, and obeys c
            layers = params["layers"]
            last = objectives.constrain(cfg.regularizer, {"layers": layers[-1:]})["layers"]
            params = {**params, "layers": [*layers[:-1], *last]}
        else:
            params = objectives.constrain(cfg.regularizer, params)
        finite = jnp.isfinite(loss)
        active = ~carry.stopped & ~carry.diverged & finite
        accumulators = carry.diagnostics
        if self.cfg.diagnostics != "off":
            accumulators = diagnostics.accumulate(cfg, accumulators, net.params, taps, active)
        keep = lambda new, old: jax.tree_util.tree_map(  # noqa: E731
            lambda n, o: jnp.where(active, n, o), new, old
        )
        average = carry.average
        if self.averaging:
            d = self.cfg.param_average
            average = keep(jax.tree_util.tree_map(lambda a, w: d * a + (1 - d) * w,
                                                  average, params), average)
        return carry._replace(
            average=average,
            net=keep(Net(params, state), net),
            opt_state=keep(opt_state, carry.opt_state),
            step=carry.step + active.astype(jnp.int32),
            diverged=carry.diverged | (~finite & ~carry.stopped),
            diagnostics=accumulators,
        ), batch_metrics

    def _batches(self, order_key, epoch, data):
        """What the epoch's scan runs over, and how a step reads its batch from one element:
        mini-batches are (steps, batch) sample indices, shuffled by the epoch's key, the
        remainder dropped, each gathered by its own step (gathering the whole shuffled epoch
        first would copy the training set once per trial); full batch keeps the data order."""
        x, y = data["train"]
        if self.shapes.task == "surface":
            return (jnp.zeros((1, 1, 1)), jnp.zeros((1, 1))), lambda batch: batch
        if self.full_batch:
            return (x[None], y[None]), lambda batch: batch
        n, size = self.steps_per_epoch, self.shapes.batch_size
        order = jax.random.permutation(jax.random.fold_in(order_key, epoch), x.shape[0])
        return order[: n * size].reshape(n, size), lambda index: (x[index], y[index])

    def _train_epoch(self, values, seed, carry: Carry, epoch, data) -> tuple[Carry, dict]:
        """Train one epoch (``epoch`` counts from 1); returns the carry and the means of the
        epoch's mini-batch metrics."""
        cfg = self._config(values)
        _, order_key, dropout_key = self._keys(seed)
        tx = self._optimizer(cfg)
        step = functools.partial(self._train_step, cfg, tx, dropout_key)
        carry = carry._replace(diagnostics=diagnostics.start_epoch(carry.diagnostics))
        if self.cfg.optimizer.name == "lstsq":
            carry, batch_metrics = self._solve(cfg, carry, data)
        else:
            sequence, read = self._batches(order_key, epoch, data)
            carry, batch_metrics = jax.lax.scan(lambda c, item: step(c, read(item)), carry,
                                                sequence)
        return carry, jax.tree_util.tree_map(lambda m: m.mean(), batch_metrics)

    def _evaluate_epoch(self, values, seed, carry: Carry, epoch, running, data):
        """The row of ``epoch`` (0: the initial net), and early stopping's verdict on it."""
        row = self._evaluate(values, seed, carry, epoch, running, data)
        return self._early_stopping(carry, row, epoch), row

    def _solve(self, cfg, carry: Carry, data) -> tuple[Carry, dict]:
        """optimizer=lstsq: the output layer in closed form on the whole training split, as
        one step (see closed_form.py). The features are the output layer's inputs."""
        x, y = data["train"]
        net = carry.net
        _, _, taps = self._forward(cfg, net, x, train=False)
        features = taps[-1]["act"] if taps else mlp.features(cfg.model, x)
        t = closed_form.targets(y, self.shapes.n_outputs, self.shapes.n_classes, features.dtype)
        kappa = cfg.regularizer.kappa if cfg.regularizer.name == "l2" else 0.0
        w, b = closed_form.least_squares(features, t, kappa)
        layers = list(net.params["layers"])
        layers[-1] = {**layers[-1], "w": w, "b": b}
        solved = net._replace(params={**net.params, "layers": layers})
        _, (_, batch_metrics, _) = self._loss(cfg, solved.params, net.state, x, y, None)
        diverged = ~jnp.isfinite(batch_metrics["loss"])
        live = ~carry.stopped & ~carry.diverged & ~diverged
        net = jax.tree_util.tree_map(lambda n, o: jnp.where(live, n, o), solved, net)
        return carry._replace(net=net, step=carry.step + live.astype(jnp.int32),
                              diverged=carry.diverged | diverged), batch_metrics

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
        if self.shapes.task == "surface":
            return net, {}
        test = {f"test_{k}": v for k, v in self._metrics(cfg, net, *data["test"]).items()}
        if self.averaging:
            averaged = Net(carry.average, carry.net.state)
            test |= {f"test_avg_{k}": v
                     for k, v in self._metrics(cfg, averaged, *data["test"]).items()}
        return net, test


_PROGRAMS: dict[tuple[str, Shapes], Program] = {}


def program_for(cfg: Config, shapes: Shapes) -> Program:
    """The compiled program for this config's static signature and these data shapes, built
    once per process and reused: its traced fields are read from the trial values at run time,
    so any config of the same signature can stand for all of them."""
    key = (static_signature(cfg), shapes)
    if key not in _PROGRAMS:
        _PROGRAMS[key] = Program(cfg, shapes)
    return _PROGRAMS[key]
