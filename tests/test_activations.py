"""Activations: values and autodiff derivatives against the closed forms of the lectures
(000: sigmoid, tanh, ReLU, leaky ReLU; 001: PReLU, ELU, maxout) and the usual definitions
(GELU = x Phi(x), SiLU = x sigmoid(x), softplus = log(1 + e^x)), in float64."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainlab.config import GROUPS

# An even number of points: 0 (where ReLU-like derivatives are a convention) is not among them.
X = np.linspace(-6.0, 6.0, 48)


def sig(x):
    return 1 / (1 + np.exp(-x))


def phi(x):  # standard normal cdf
    return 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


def pdf(x):
    return np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)


SELU_SCALE, SELU_ALPHA = 1.0507009873554804934, 1.6732632423543772848

# name -> (config fields, f(x), f'(x))
CLOSED_FORMS = {
    "linear": ({}, lambda x: x, lambda x: np.ones_like(x)),
    "sigmoid": ({}, sig, lambda x: sig(x) * (1 - sig(x))),
    "tanh": ({}, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "relu": ({}, lambda x: np.maximum(0, x), lambda x: (x > 0) * 1.0),
    "leaky_relu": ({"alpha": 0.01}, lambda x: np.where(x > 0, x, 0.01 * x),
                   lambda x: np.where(x > 0, 1.0, 0.01)),
    "leaky_relu_0.2": ({"alpha": 0.2}, lambda x: np.where(x > 0, x, 0.2 * x),
                       lambda x: np.where(x > 0, 1.0, 0.2)),
    "elu": ({"alpha": 1.0}, lambda x: np.where(x > 0, x, np.exp(x) - 1),
            lambda x: np.where(x > 0, 1.0, np.exp(x))),
    "elu_0.5": ({"alpha": 0.5}, lambda x: np.where(x > 0, x, 0.5 * (np.exp(x) - 1)),
                lambda x: np.where(x > 0, 1.0, 0.5 * np.exp(x))),
    "prelu": ({"alpha": 0.25}, lambda x: np.maximum(0.25 * x, x),
              lambda x: np.where(x > 0, 1.0, 0.25)),
    "gelu": ({}, lambda x: x * phi(x), lambda x: phi(x) + x * pdf(x)),
    "silu": ({}, lambda x: x * sig(x), lambda x: sig(x) * (1 + x * (1 - sig(x)))),
    "softplus": ({}, lambda x: np.log1p(np.exp(x)), sig),
    # Klambauer et al. (2017), eq. 2, with their lambda and alpha for unit mean and variance
    "selu": ({}, lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)),
             lambda x: SELU_SCALE * np.where(x > 0, 1.0, SELU_ALPHA * np.exp(x))),
}


def activation(name: str, **fields):
    return GROUPS["activation"][name](name=name, **fields)


def test_every_elementwise_choice_has_a_closed_form():
    names = {key.split("_0")[0] for key in CLOSED_FORMS} | {"maxout"}
    assert names == set(GROUPS["activation"])


@pytest.mark.parametrize("key", CLOSED_FORMS)
def test_value_and_derivative(key, x64):
    fields, f, df = CLOSED_FORMS[key]
    cfg = activation(key.split("_0")[0], **fields)
    layer = cfg.params(X.size, jnp.float64)
    x = jnp.asarray(X)
    np.testing.assert_allclose(cfg(x, layer), f(X), rtol=1e-12, atol=1e-12)
    # The derivative by autodiff, one scalar at a time.
    grad = jax.vmap(jax.grad(lambda z: cfg(z, {"alpha": 0.25})))
    if cfg.name == "prelu":
        grad = jax.grad(lambda z: cfg(z, layer).sum())
    np.testing.assert_allclose(jax.jit(grad)(x), df(X), rtol=1e-12, atol=1e-12)


def test_sigmoid_derivative_peaks_at_a_quarter(x64):
    # Lecture 000: sigma' <= 0.25, the cause of vanishing gradients through sigmoid layers.
    cfg = activation("sigmoid")
    grad = jax.vmap(jax.grad(lambda z: cfg(z, {})))(jnp.linspace(-10, 10, 2001))
    assert float(grad.max()) == pytest.approx(0.25, abs=1e-12)
    assert float(grad[1000]) == 0.25  # at x = 0


def test_relu_derivative_at_zero_is_zero():
    # The lecture's 1{x > 0}: a unit exactly at 0 gets no gradient.
    cfg = activation("relu")
    assert float(jax.grad(lambda z: cfg(z, {}))(0.0)) == 0.0


def test_prelu_slope_is_learned_per_unit(x64):
    cfg = activation("prelu", alpha=0.25)
    layer = cfg.params(3, jnp.float64)
    np.testing.assert_array_equal(layer["alpha"], [0.25, 0.25, 0.25])
    z = jnp.array([[-2.0, 1.0, -0.5], [-1.0, 3.0, 4.0]])
    layer = {"alpha": jnp.array([0.1, 0.2, 0.3])}
    np.testing.assert_allclose(cfg(z, layer), [[-0.2, 1.0, -0.15], [-0.1, 3.0, 4.0]])
    # d/d alpha_j of sum f = sum of the negative inputs of unit j (backprop into alpha).
    d_alpha = jax.grad(lambda p: cfg(z, p).sum())(layer)["alpha"]
    np.testing.assert_allclose(d_alpha, [-3.0, 0.0, -0.5])


def test_only_prelu_has_parameters():
    for name, schema in GROUPS["activation"].items():
        params = schema(name=name).params(4, jnp.float32)
        assert (set(params) == {"alpha"}) == (name == "prelu")


@pytest.mark.parametrize("pieces", [2, 3, 5])
def test_maxout_takes_the_max_of_k_pieces(pieces, x64):
    cfg = activation("maxout", pieces=pieces)
    units = 4
    assert units * cfg.pieces == units * pieces
    z = jax.random.normal(jax.random.PRNGKey(pieces), (6, units * pieces), jnp.float64)
    out = cfg(z, {})
    # Unit j is the max of pre-activations j*k ... j*k + k - 1.
    expected = np.asarray(z).reshape(6, units, pieces).max(-1)
    np.testing.assert_array_equal(out, expected)
    # The gradient flows to the winning piece only: a one-hot per unit.
    grad = np.asarray(jax.grad(lambda z: cfg(z, {}).sum())(z))
    grad = grad.reshape(6, units, pieces)
    np.testing.assert_array_equal(grad.sum(-1), 1.0)
    winners = np.asarray(z).reshape(6, units, pieces).argmax(-1)
    np.testing.assert_array_equal(grad.argmax(-1), winners)


def test_maxout_generalizes_relu():
    # Lecture 001: max(w1 x + b1, w2 x + b2) with the second piece fixed at 0 is ReLU.
    cfg = activation("maxout", pieces=2)
    x = jnp.linspace(-3, 3, 7)
    z = jnp.stack([x, jnp.zeros_like(x)], axis=-1).reshape(1, -1)
    np.testing.assert_allclose(cfg(z, {})[0], np.maximum(0, np.asarray(x)))


def test_other_activations_keep_the_width():
    for name, schema in GROUPS["activation"].items():
        if name != "maxout":
            assert schema(name=name).pieces == 1


@pytest.mark.parametrize("name, f", [("linear", lambda x: x), ("sigmoid", sig),
                                     ("tanh", np.tanh)])
def test_output_activation(name, f, x64):
    out = GROUPS["activation"][name]()(jnp.asarray(X), {})  # as model.output_activation
    np.testing.assert_allclose(out, f(X), rtol=1e-12)
