"""The closed-form problem (``optimizer=lstsq``): the network problem whose output layer is
solved by least squares in one step on the whole training split, instead of trained.

The output layer ``out = phi W + b`` of a model whose features ``phi`` are not trained (a
linear model, polynomial features, frozen random features) minimizes trainlab's objective
mean((out - t)^2) + kappa/2 ||W||^2 in one solve:

- kappa = 0: the minimum-norm least-squares solution (the pseudo-inverse), which is what the
  capacity lecture and Belkin's double descent of random features use;
- kappa > 0 (``regularizer=l2``): ridge regression. Setting the gradient to zero gives
  (Phi^T Phi + lambda R) [W; b] = Phi^T t with lambda = kappa n k / 2 (n samples, k outputs:
  mse averages over both) and R the identity on W, zero on the bias (biases are not penalized).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trainlab.nn import mlp
from trainlab.problems.base import Net
from trainlab.problems.network import NetworkProblem


def targets(y: jax.Array, n_outputs: int, n_classes: int, dtype) -> jax.Array:
    """The regression targets t the mse loss compares outputs with: y itself, a 0/1 column
    for a single-output two-class task, or one-hot labels."""
    if n_classes == 0:
        return y.astype(dtype)
    if n_outputs == 1:
        return y[:, None].astype(dtype)
    return jax.nn.one_hot(y, n_classes, dtype=dtype)


def least_squares(features: jax.Array, t: jax.Array, kappa=0.0) -> tuple[jax.Array, jax.Array]:
    """(W, b) minimizing mean((features W + b - t)^2) + kappa/2 ||W||^2."""
    n, d = features.shape
    design = jnp.concatenate([features, jnp.ones((n, 1), features.dtype)], axis=1)
    if isinstance(kappa, float) and kappa == 0.0:
        solution = jnp.linalg.lstsq(design, t)[0]  # minimum norm when under-determined
    else:
        ridge = kappa * n * t.shape[1] / 2
        penalty = jnp.diag(jnp.concatenate([jnp.full((d,), 1.0), jnp.zeros((1,))]))
        gram = design.T @ design + ridge * penalty.astype(features.dtype)
        solution = jnp.linalg.solve(gram, design.T @ t)
    return solution[:-1], solution[-1]


class ClosedFormProblem(NetworkProblem):
    """An epoch is one step: the output layer solved on the whole training split, its inputs
    (the features) computed by the rest of the network in evaluation mode."""

    def batches(self, key, epoch, data):
        x, y = data["train"]
        return x[None], y[None]

    def step(self, cfg, tx, net, opt_state, batch, key):
        x, y = batch
        _, _, taps = mlp.apply(cfg, net.params, net.state, x, train=False)
        features = taps[-1]["act"] if taps else cfg.model.features(x)
        t = targets(y, self.shapes.n_outputs, self.shapes.n_classes, features.dtype)
        w, b = least_squares(features, t, cfg.regularizer.ridge())
        layers = list(net.params["layers"])
        layers[-1] = {**layers[-1], "w": w, "b": b}
        params = {**net.params, "layers": layers}
        _, (_, metrics, taps) = self.objective(cfg, params, net.state, batch, None)
        return Net(params, net.state), opt_state, metrics, taps
