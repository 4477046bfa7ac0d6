"""What a kind of run is, as the compiled program sees it: the Problem interface.

A problem says how its parameters start, which of them train, the objective a step
differentiates, the batches of an epoch, how a step changes the parameters, and what an
epoch's row and the final test report. The program (program.py) is one loop over these and
never asks which problem it has:

    network.py      an MLP on samples (every model choice)
    surface.py      a point on a 2-D test function (the params are the point)
    closed_form.py  the network with its output layer solved by least squares

Every method is written for one trial; the program vmaps it over the trial axis.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from trainlab.config import Config


class Net(NamedTuple):
    params: Any
    state: Any  # BatchNorm running statistics, beside the params


class Shapes(NamedTuple):
    """What the program needs to know of the data, besides the arrays themselves."""

    task: str  # classification | regression | surface
    n_features: int
    n_outputs: int
    n_classes: int
    n_train: int
    batch_size: int  # the effective size: the whole training set for full batch


class Problem:
    """The defaults are a gradient step on the objective and nothing to observe."""

    def __init__(self, cfg: Config, shapes: Shapes):
        self.cfg, self.shapes = cfg, shapes  # cfg: the static config (traced fields aside)

    @property
    def steps_per_epoch(self) -> int:
        """Steps an epoch counts for the learning-rate schedule."""
        return 1

    def init(self, cfg: Config, key: jax.Array) -> Net:
        raise NotImplementedError

    def trainable(self, cfg: Config, params) -> Any:
        """A pytree of bools like ``params``, True where the parameter trains: what the
        optimizer, the penalty and the constraint act on."""
        return jax.tree_util.tree_map(lambda _: True, params)

    @property
    def freezes(self) -> bool:
        """Whether some parameters never train (then the optimizer is masked)."""
        return False

    def objective(self, cfg: Config, params, state, batch, key) -> tuple:
        """``(value, (state, metrics, taps))``: the training objective of a batch - what a
        step differentiates and the gradient check checks - the new running state, the
        batch's metrics (``loss`` at least) and what the diagnostics look at."""
        raise NotImplementedError

    def batches(self, key: jax.Array, epoch, data: dict):
        """What an epoch's scan runs over, one item a step (sample indices, say)."""
        raise NotImplementedError

    def batch(self, item, data: dict):
        """The batch of one step, read from its item of ``batches``: a step gathers its own,
        so that the shuffled epoch is never copied whole (a copy of the training split per
        trial)."""
        raise NotImplementedError

    def step(self, cfg: Config, tx, net: Net, opt_state, batch, key) -> tuple:
        """One update: ``(net, opt_state, metrics, taps)``."""
        (_, (state, metrics, taps)), grads = jax.value_and_grad(
            self.objective, argnums=1, has_aux=True)(cfg, net.params, net.state, batch, key)
        updates, opt_state = tx.update(grads, opt_state, net.params)
        params = jax.tree_util.tree_map(jnp.add, net.params, updates)
        params = cfg.regularizer.constrain(params, self.trainable(cfg, params))
        return Net(params, state), opt_state, metrics, taps

    def start_observing(self, cfg: Config, params) -> Any:
        """What the training scan accumulates for the epoch's row (see ``observe``)."""
        return {}

    def observe(self, cfg: Config, observed, params, taps, active) -> Any:
        """``observed`` after a step with these taps (``active``: the step counted)."""
        return observed

    def row(self, cfg: Config, carry, epoch, running: dict, data: dict, optimizer) -> dict:
        """The metrics of an epoch's row (the program adds lr and step): ``running`` holds
        the means of the epoch's batch metrics, ``optimizer`` is (tx, its state)."""
        raise NotImplementedError

    def test(self, cfg: Config, net: Net, average, data: dict) -> dict:
        """The final net's ``test_*`` metrics (and the averaged net's)."""
        return {}

    def describe(self, cfg: Config) -> str:
        """One line naming what trains: the data, the model, every choice made."""
        from trainlab.report.headline import headline

        return headline(cfg)

    def kinks(self, cfg: Config, params, state, batch, key) -> Any:
        """Where the objective is not differentiable near ``params`` (a pytree whose values
        change across a kink), for the gradient check."""
        return {}
