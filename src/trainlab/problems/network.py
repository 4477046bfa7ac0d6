"""The network problem: an MLP (any model choice) trained on the samples of a dataset.

An epoch shuffles the training split with the epoch's key and walks its mini-batches (full
batch keeps the data order). Its row holds the train and validation metrics in evaluation
mode - or, with train_metrics=running, the means of the epoch's mini-batch values - and the
per-layer diagnostics (diagnostics.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trainlab import diagnostics
from trainlab.config import Config, batch_size_of
from trainlab.nn import mlp
from trainlab.problems.base import Net, Problem


class NetworkProblem(Problem):
    @property
    def steps_per_epoch(self) -> int:
        return self.shapes.n_train // self.shapes.batch_size

    def _layers_train(self, cfg: Config) -> list[bool]:
        return cfg.model.trainable(len(cfg.model.hidden_widths()) + 1)

    @property
    def freezes(self) -> bool:
        return not all(self._layers_train(self.cfg))

    def trainable(self, cfg, params):
        return {"layers": [jax.tree_util.tree_map(lambda _, on=on: on, layer)
                           for layer, on in zip(params["layers"], self._layers_train(cfg),
                                                strict=True)]}

    def init(self, cfg, key):
        shapes = self.shapes
        return Net(*mlp.init(cfg, key, shapes.n_features, shapes.n_outputs,
                             jnp.dtype(self.cfg.dtype)))

    def _scores(self, cfg, out, y) -> dict:
        metrics = {"loss": cfg.loss(out, y, self.shapes.n_classes)}
        if self.shapes.n_classes:
            metrics["acc"] = (cfg.loss.predictions(out) == y).mean(dtype=out.dtype)
        return metrics

    def objective(self, cfg, params, state, batch, key):
        x, y = batch
        out, state, taps = mlp.apply(cfg, params, state, x, train=True, key=key)
        metrics = self._scores(cfg, out, y)
        value = metrics["loss"] + cfg.regularizer.penalty(params, self.trainable(cfg, params))
        return value, (state, metrics, taps)

    def batches(self, key, epoch, data):
        x, y = data["train"]
        if batch_size_of(self.cfg.batch_size) == 0:  # full batch, in data order
            return x[None], y[None]
        n, size = self.steps_per_epoch, self.shapes.batch_size
        order = jax.random.permutation(jax.random.fold_in(key, epoch), x.shape[0])
        index = order[: n * size].reshape(n, size)
        return x[index], y[index]

    # ------------------------------------------------------------------- the epoch's row
    def metrics(self, cfg, net: Net, x, y, out=None) -> dict:
        """Loss (and accuracy) of the net in evaluation mode on a whole split (``out``: its
        outputs on ``x``, when already computed)."""
        if x.shape[0] == 0:  # no such split
            nan = jnp.full((), jnp.nan, jnp.dtype(self.cfg.dtype))
            return {"loss": nan, "acc": nan} if self.shapes.n_classes else {"loss": nan}
        if out is None:
            out, _, _ = mlp.apply(cfg, net.params, net.state, x, train=False)
        return self._scores(cfg, out, y)

    def _train_pass(self, cfg, net: Net, data) -> tuple[dict, list | None]:
        """Train metrics in evaluation mode over the whole training split, and the unit codes
        (active / never positive) the dead-unit diagnostics read from that same pass."""
        x, y = data["train"]
        out, _, taps = mlp.apply(cfg, net.params, net.state, x, train=False)
        codes = diagnostics.unit_codes(cfg, net.params, taps) if diagnostics.on(cfg) else None
        return self.metrics(cfg, net, x, y, out), codes

    def start_observing(self, cfg, params):
        return diagnostics.init_accumulators(cfg, params)

    def observe(self, cfg, observed, params, taps, active):
        return diagnostics.accumulate(cfg, observed, params, taps, active)

    def row(self, cfg, carry, epoch, running, data, optimizer):
        """``running`` stands for the train metrics with train_metrics=running, and no pass
        over the training split is made (the diagnostics then find dead units on the epoch's
        batches) - except at epoch 0, before any batch, where the pass is made (a cond: only
        one branch runs)."""
        net = carry.net
        if self.cfg.train_metrics == "running":
            accumulated = carry.observed.get("unit_codes") if diagnostics.on(cfg) else None
            train, codes = jax.lax.cond(epoch == 0, lambda: self._train_pass(cfg, net, data),
                                        lambda: (running, accumulated))
        else:
            train, codes = self._train_pass(cfg, net, data)
        row = {f"train_{k}": v for k, v in train.items()}
        if self.cfg.param_average > 0:
            averaged = Net(carry.average, net.state)
            row |= {f"val_avg_{k}": v
                    for k, v in self.metrics(cfg, averaged, *data["val"]).items()}
        row |= {f"val_{k}": v for k, v in self.metrics(cfg, net, *data["val"]).items()}
        row["train_objective"] = row["train_loss"] + cfg.regularizer.penalty(
            net.params, self.trainable(cfg, net.params))
        x, y = data["train"]
        probe = (x[: data["probe"].shape[0]], y[: data["probe"].shape[0]])  # with labels
        row |= diagnostics.epoch_diagnostics(cfg, net, probe, self.objective, codes,
                                             optimizer, row)
        return row

    def test(self, cfg, net, average, data):
        test = {f"test_{k}": v for k, v in self.metrics(cfg, net, *data["test"]).items()}
        if average is not None:
            test |= {f"test_avg_{k}": v
                     for k, v in self.metrics(cfg, average, *data["test"]).items()}
        return test

    def kinks(self, cfg, params, state, batch, key):
        x, y = batch
        out, _, taps = mlp.apply(cfg, params, state, x, train=True, key=key)
        units = [cfg.activation.kinks(tap["pre"]) for tap in taps]
        found = {
            "units": units if units and units[0] is not None else None,
            "weights": cfg.regularizer.kinks(params, self.trainable(cfg, params)),
            "margins": cfg.loss.kinks(out, y),
        }
        return {k: v for k, v in found.items() if v is not None}
