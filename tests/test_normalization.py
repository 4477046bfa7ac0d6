"""Batch and layer normalization: the statistics of their outputs, the running averages that
BatchNorm keeps for evaluation, and where the MLP puts them."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainlab.config import GROUPS, ConfigError, compose
from trainlab.nn import mlp

GAMMA = np.array([1.0, 2.0, 3.0])  # the lecture's example
BETA = np.array([2.0, 4.0, 8.0])


def norm_cfg(name: str, **fields):
    return GROUPS["normalization"][name](name=name, **fields)


def batch(n: int, seed: int = 0) -> jnp.ndarray:
    # Three features far from mean 0 / std 1, so that normalizing visibly changes them.
    z = jax.random.normal(jax.random.PRNGKey(seed), (n, 3), jnp.float64)
    return z * jnp.array([0.5, 3.0, 10.0]) + jnp.array([-1.0, 5.0, 20.0])


def layer_with(gamma=GAMMA, beta=BETA) -> dict:
    return {"gamma": jnp.asarray(gamma), "beta": jnp.asarray(beta)}


@pytest.mark.parametrize("n", [4, 256])
def test_batchnorm_train_output_has_mean_beta_and_std_gamma(n, x64):
    cfg = norm_cfg("batchnorm", eps=1e-12)
    _, state = cfg.init(3, jnp.float64)
    out, _ = cfg.apply(layer_with(), state, batch(n), train=True)
    np.testing.assert_allclose(out.mean(0), BETA, rtol=1e-10)
    # The biased (1/n) batch variance, as in the lectures: with n = 4 an unbiased one would
    # give a std of gamma * sqrt(3/4).
    np.testing.assert_allclose(out.std(0), GAMMA, rtol=1e-8)


def test_batchnorm_eps_enters_under_the_root(x64):
    cfg = norm_cfg("batchnorm", eps=0.5)
    _, state = cfg.init(3, jnp.float64)
    z = batch(8)
    out, _ = cfg.apply(layer_with(1.0, 0.0), state, z, train=True)
    var = np.asarray(z).var(0)
    np.testing.assert_allclose(out.std(0), np.sqrt(var / (var + 0.5)), rtol=1e-10)


def test_batchnorm_running_averages_follow_the_momentum_formula(x64):
    m = 0.7
    cfg = norm_cfg("batchnorm", momentum=m)
    params, state = cfg.init(3, jnp.float64)
    np.testing.assert_array_equal(state["mean"], 0.0)
    np.testing.assert_array_equal(state["var"], 1.0)
    mean, var = np.zeros(3), np.ones(3)
    for seed in range(3):
        z = batch(16, seed)
        _, state = cfg.apply(params, state, z, train=True)
        mean = m * mean + (1 - m) * np.asarray(z).mean(0)
        var = m * var + (1 - m) * np.asarray(z).var(0)
        np.testing.assert_allclose(state["mean"], mean, rtol=1e-12)
        np.testing.assert_allclose(state["var"], var, rtol=1e-12)


def test_batchnorm_eval_uses_the_running_averages(x64):
    cfg = norm_cfg("batchnorm")
    state = {"mean": jnp.array([1.0, -2.0, 0.5]), "var": jnp.array([4.0, 0.25, 9.0])}
    z = batch(5)
    out, new_state = cfg.apply(layer_with(), state, z, train=False)
    expected = GAMMA * (np.asarray(z) - state["mean"]) / np.sqrt(state["var"] + 1e-5) + BETA
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    assert new_state is state  # evaluation never updates the statistics
    # Per sample: one sample alone gives the same output as within the batch.
    alone, _ = cfg.apply(layer_with(), state, z[:1], train=False)
    np.testing.assert_allclose(alone, out[:1], rtol=1e-12)


@pytest.mark.parametrize("train", [True, False])
def test_layernorm_normalizes_each_sample(train, x64):
    cfg = norm_cfg("layernorm", eps=1e-12)
    params, state = cfg.init(3, jnp.float64)
    assert state == {}  # no running statistics
    z = batch(6)
    out, _ = cfg.apply(params, state, z, train=train)
    np.testing.assert_allclose(out.mean(-1), 0.0, atol=1e-10)
    np.testing.assert_allclose(out.std(-1), 1.0, rtol=1e-8)
    # Each sample on its own: the same output (no batch statistics).
    alone, _ = cfg.apply(params, state, z[2:3], train=train)
    np.testing.assert_allclose(alone, out[2:3], rtol=1e-12)
    # gamma and beta scale and shift per feature.
    scaled, _ = cfg.apply(layer_with(), state, z, train=train)
    np.testing.assert_allclose(scaled, GAMMA * np.asarray(out) + BETA, rtol=1e-10)


def test_none_is_the_identity():
    cfg = norm_cfg("none")
    assert cfg.init(3, jnp.float32) == ({}, {})
    z = jnp.ones((4, 3))
    out, state = cfg.apply({}, {}, z, train=True)
    assert out is z and state == {}


@pytest.mark.parametrize("position, tap", [("before", "pre"), ("after", "act")])
def test_mlp_places_batchnorm_before_or_after_the_activation(position, tap, x64):
    cfg = compose(["model.widths=[6,5]", "normalization=batchnorm", "activation=tanh",
                   f"normalization.position={position}", "normalization.eps=1e-12"])
    params, state = mlp.init(cfg, jax.random.PRNGKey(0), 3, 2, jnp.float64)
    assert [set(layer) for layer in params["layers"]] == [
        {"w", "b", "gamma", "beta"}, {"w", "b", "gamma", "beta"}, {"w", "b"}]
    assert [set(s) for s in state["layers"]] == [{"mean", "var"}, {"mean", "var"}, set()]
    x = jax.random.normal(jax.random.PRNGKey(1), (32, 3), jnp.float64)  # tanh not saturated
    _, new_state, taps = mlp.apply(cfg, params, state, x, train=True)
    for t in taps:  # gamma = 1, beta = 0 at init: each feature of the tap is standardized
        np.testing.assert_allclose(t[tap].mean(0), 0.0, atol=1e-10)
        np.testing.assert_allclose(t[tap].std(0), 1.0, rtol=1e-8)
    # Training moved the running averages; evaluation leaves them.
    assert not np.allclose(new_state["layers"][0]["mean"], 0.0)
    _, eval_state, _ = mlp.apply(cfg, params, new_state, x, train=False)
    np.testing.assert_array_equal(eval_state["layers"][0]["mean"], new_state["layers"][0]["mean"])


def test_mlp_batchnorm_before_maxout_normalizes_every_piece():
    cfg = compose(["model.widths=[4]", "normalization=batchnorm", "activation=maxout",
                   "activation.pieces=3"])
    params, state = mlp.init(cfg, jax.random.PRNGKey(0), 3, 2, jnp.float32)
    assert params["layers"][0]["gamma"].shape == (12,)
    cfg = compose(["model.widths=[4]", "normalization=batchnorm", "activation=maxout",
                   "activation.pieces=3", "normalization.position=after"])
    params, state = mlp.init(cfg, jax.random.PRNGKey(0), 3, 2, jnp.float32)
    assert params["layers"][0]["gamma"].shape == (4,)


def wide_batch(n: int = 6, width: int = 8, seed: int = 0) -> jnp.ndarray:
    """Units of every scale and offset, so that a wrong grouping shows."""
    z = jax.random.normal(jax.random.PRNGKey(seed), (n, width), jnp.float64)
    return z * jnp.linspace(0.5, 10.0, width) + jnp.linspace(-5.0, 20.0, width)


def per_unit_affine(width: int) -> dict:
    return {"gamma": jnp.linspace(0.5, 3.0, width), "beta": jnp.linspace(-2.0, 8.0, width)}


@pytest.mark.parametrize("train", [True, False])
def test_groupnorm_with_one_group_is_layernorm(train, x64):
    layer = per_unit_affine(8)
    group, _ = norm_cfg("groupnorm", groups=1).apply(layer, {}, wide_batch(), train=train)
    layer_norm, _ = norm_cfg("layernorm").apply(layer, {}, wide_batch(), train=train)
    np.testing.assert_allclose(group, layer_norm, rtol=1e-12)


@pytest.mark.parametrize("train", [True, False])
def test_groupnorm_with_a_group_per_unit_normalizes_each_unit_alone(train, x64):
    # "instance" norm: each unit of each sample is its own group, so z_hat = 0 and the output
    # is beta, whatever the input (an MLP unit has one value per sample: nothing to average).
    layer = per_unit_affine(8)
    out, _ = norm_cfg("groupnorm", groups=8).apply(layer, {}, wide_batch(), train=train)
    np.testing.assert_allclose(out, np.broadcast_to(layer["beta"], out.shape), atol=1e-12)


@pytest.mark.parametrize("train", [True, False])
def test_groupnorm_normalizes_each_group_of_each_sample(train, x64):
    cfg = norm_cfg("groupnorm", groups=4, eps=1e-12)
    params, state = cfg.init(8, jnp.float64)
    assert state == {}  # no running statistics
    z = wide_batch()
    out, _ = cfg.apply(params, state, z, train=train)
    groups = np.asarray(out).reshape(6, 4, 2)  # consecutive units: (0, 1), (2, 3), ...
    np.testing.assert_allclose(groups.mean(-1), 0.0, atol=1e-10)
    np.testing.assert_allclose(groups.std(-1), 1.0, rtol=1e-8)
    # an independent oracle: numpy, group by group
    zs = np.asarray(z).reshape(6, 4, 2)
    expected = (zs - zs.mean(-1, keepdims=True)) / np.sqrt(zs.var(-1, keepdims=True) + 1e-12)
    np.testing.assert_allclose(out, expected.reshape(6, 8), rtol=1e-9)
    # each sample alone: the same output; gamma and beta per unit
    alone, _ = cfg.apply(params, state, z[2:3], train=train)
    np.testing.assert_allclose(alone, out[2:3], rtol=1e-12)
    layer = per_unit_affine(8)
    scaled, _ = cfg.apply(layer, state, z, train=train)
    np.testing.assert_allclose(scaled, layer["gamma"] * np.asarray(out) + layer["beta"],
                               rtol=1e-10)


@pytest.mark.parametrize("overrides, message", [
    (["model.widths=[8,6]"], "normalization.groups=4: must divide the width of every "
                             "normalized layer (hidden widths [8, 6]); 6 does not"),
    (["model.widths=[4]", "activation=maxout", "activation.pieces=3",
      "normalization.groups=8"], "[4] x 3 maxout pieces = [12]); 12 does not"),
])
def test_groupnorm_groups_must_divide_every_width(overrides, message):
    with pytest.raises(ConfigError) as error:
        compose(["normalization=groupnorm", *overrides])
    assert message in str(error.value)


def test_groupnorm_after_maxout_groups_the_units():
    # after the activation it normalizes the 4 units, not the 12 pieces: 4 groups of 1 is fine
    cfg = compose(["model.widths=[4]", "activation=maxout", "activation.pieces=3",
                   "normalization=groupnorm", "normalization.position=after"])
    params, _ = mlp.init(cfg, jax.random.PRNGKey(0), 3, 2, jnp.float32)
    assert params["layers"][0]["gamma"].shape == (4,)
