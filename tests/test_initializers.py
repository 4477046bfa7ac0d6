"""Weight initializers: empirical statistics of one large matrix against the formulas.

A (500, 200) matrix gives 100 000 samples, so a standard deviation is measured to about 0.3%;
fan_in, fan_out and their average differ by far more than that, so a formula using the wrong
fan fails.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainlab.config import GROUPS, compose
from trainlab.nn import mlp

FAN_IN, FAN_OUT = 500, 200
N = FAN_IN * FAN_OUT
STD_TOL = 0.02  # relative; the sampling error of a std over N samples is ~1/sqrt(2N) = 0.2%


def init_cfg(name: str, **fields):
    return GROUPS["init"][name](name=name, **fields)


def sample(name: str, shape=(FAN_IN, FAN_OUT), seed=0, **fields) -> np.ndarray:
    w = init_cfg(name, **fields)(jax.random.PRNGKey(seed), shape, jnp.float32)
    assert w.shape == shape and w.dtype == jnp.float32
    return np.asarray(w, np.float64)


def assert_centered(w: np.ndarray, std: float):
    # The mean of N draws has standard error std/sqrt(N): allow 5 of them.
    assert abs(w.mean()) < 5 * std / math.sqrt(w.size)


# name -> (distribution, expected std); a uniform distribution's bound is std * sqrt(3).
VARIANCE_SCALING = {
    "lecun_normal": ("normal", math.sqrt(1 / FAN_IN)),
    "lecun_uniform": ("uniform", math.sqrt(3 / FAN_IN) / math.sqrt(3)),  # LeCun et al. (1998)
    "xavier_normal": ("normal", math.sqrt(2 / (FAN_IN + FAN_OUT))),
    "xavier_uniform": ("uniform", math.sqrt(6 / (FAN_IN + FAN_OUT)) / math.sqrt(3)),
    "he_normal": ("normal", math.sqrt(2 / FAN_IN)),
    "he_uniform": ("uniform", math.sqrt(6 / FAN_IN) / math.sqrt(3)),
}


@pytest.mark.parametrize("name", VARIANCE_SCALING)
def test_variance_scaling_std_and_bounds(name):
    distribution, std = VARIANCE_SCALING[name]
    w = sample(name)
    assert_centered(w, std)
    assert w.std() == pytest.approx(std, rel=STD_TOL)
    if distribution == "uniform":
        bound = std * math.sqrt(3)
        assert np.abs(w).max() <= bound
        assert np.abs(w).max() > 0.999 * bound  # the whole interval is used
    else:
        # Untruncated: about 0.27% of normal draws lie beyond 3 std (a truncated normal has none).
        beyond = np.mean(np.abs(w) > 3 * std)
        assert 0.002 < beyond < 0.0035


def test_normal_default_std_is_0_01():
    w = sample("normal")
    assert_centered(w, 0.01)
    assert w.std() == pytest.approx(0.01, rel=STD_TOL)


def test_normal_std_override():
    assert sample("normal", std=0.3).std() == pytest.approx(0.3, rel=STD_TOL)


@pytest.mark.parametrize("scale", [0.05, 2.0])
def test_uniform_scale_is_the_bound(scale):
    w = sample("uniform", scale=scale)
    assert np.abs(w).max() <= scale
    assert np.abs(w).max() > 0.999 * scale
    assert w.std() == pytest.approx(scale / math.sqrt(3), rel=STD_TOL)
    assert_centered(w, scale / math.sqrt(3))


def test_zeros():
    assert not sample("zeros").any()


@pytest.mark.parametrize("value", [0.1, -2.5])
def test_constant(value):
    np.testing.assert_allclose(sample("constant", value=value), value, rtol=1e-6)


@pytest.mark.parametrize("shape", [(64, 16), (16, 64), (32, 32)], ids=["tall", "wide", "square"])
def test_orthogonal(shape):
    w = sample("orthogonal", shape=shape)
    # Orthonormal columns when tall (W^T W = I), orthonormal rows when wide (W W^T = I).
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-5)


@pytest.mark.parametrize("name", [*VARIANCE_SCALING, "normal", "uniform", "orthogonal",
                                  "constant"])
def test_gain_multiplies_the_matrix(name):
    # Same key, gain 3: exactly three times the gain-1 matrix.
    shape = (40, 30)
    np.testing.assert_allclose(sample(name, shape=shape, gain=3.0),
                               3.0 * sample(name, shape=shape), rtol=1e-5, atol=1e-7)


def test_different_keys_give_different_matrices():
    assert not np.allclose(sample("he_normal", seed=0), sample("he_normal", seed=1))


def test_mlp_biases_take_the_bias_value_and_weights_the_init():
    cfg = compose(["model.widths=[7,5]", "init=xavier_uniform", "init.bias=0.3"])
    params, _ = mlp.init(cfg, jax.random.PRNGKey(0), 4, 3, jnp.float32)
    layers = params["layers"]
    assert [layer["w"].shape for layer in layers] == [(4, 7), (7, 5), (5, 3)]
    for layer in layers:
        np.testing.assert_allclose(layer["b"], 0.3, rtol=1e-6)
        fan_in, fan_out = layer["w"].shape
        assert np.abs(layer["w"]).max() <= math.sqrt(6 / (fan_in + fan_out))
    # Each layer draws from its own key.
    assert not np.allclose(layers[0]["w"][:4, :5], layers[1]["w"][:4, :5])


def test_every_init_choice_is_checked_here():
    # A new initializer must join a table above (the registry lists every choice).
    checked = {*VARIANCE_SCALING, "normal", "uniform", "orthogonal", "constant", "zeros"}
    assert set(GROUPS["init"]) == checked
