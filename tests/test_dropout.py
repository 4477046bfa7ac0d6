"""Inverted dropout: units are dropped with probability p and the kept ones scaled by 1/(1-p),
so the expected output is unchanged in training and evaluation needs no rescaling."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainlab.config import compose
from trainlab.nn import mlp

KEYS = 1000


def net(*overrides, model=("model.widths=[16]",)):
    cfg = compose([*model, "activation=linear", "init=xavier_normal", "init.bias=0.1",
                   *overrides])
    params, state = mlp.init(cfg, jax.random.PRNGKey(0), 5, 3, jnp.float32)
    x = jax.random.normal(jax.random.PRNGKey(1), (4, 5))
    return cfg, params, state, x


def no_dropout(cfg):
    return dataclasses.replace(
        cfg, model=dataclasses.replace(cfg.model, input_dropout=0.0, hidden_dropout=0.0))


def outputs(cfg, params, state, x, keys):
    """The train-mode outputs for each key, (keys, batch, outputs)."""
    forward = lambda key: mlp.apply(cfg, params, state, x, train=True, key=key)[0]  # noqa: E731
    return jax.vmap(forward)(keys)


@pytest.mark.parametrize("rate", [0.2, 0.5, 0.8])
def test_input_dropout_mask_rate_and_scale(rate):
    # A linear one-layer view of the input: a network with no hidden layer and identity weights.
    cfg, params, state, _ = net(f"model.input_dropout={rate}", model=["model=linear"])
    params = {"layers": [{"w": jnp.eye(5, 3), "b": jnp.zeros(3)}]}
    x = jnp.ones((200, 5))
    out = np.asarray(outputs(cfg, params, state, x, jax.random.split(jax.random.PRNGKey(2), 20)))
    dropped = out == 0
    assert dropped.mean() == pytest.approx(rate, abs=0.02)
    np.testing.assert_allclose(out[~dropped], 1 / (1 - rate), rtol=1e-6)
    assert out.mean() == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("rates", [("0.5", "0.0"), ("0.0", "0.5"), ("0.2", "0.5")],
                         ids=["input", "hidden", "both"])
def test_dropout_keeps_the_expectation(rates):
    cfg, params, state, x = net(f"model.input_dropout={rates[0]}",
                                f"model.hidden_dropout={rates[1]}")
    expected, _, _ = mlp.apply(no_dropout(cfg), params, state, x, train=True)
    samples = outputs(cfg, params, state, x, jax.random.split(jax.random.PRNGKey(3), KEYS))
    # Linear activations: the output is linear in each (independent) mask, so its mean over
    # masks is the output without dropout; allow 5 standard errors.
    mean, err = samples.mean(0), samples.std(0) / np.sqrt(KEYS)
    assert np.all(np.abs(mean - expected) < 5 * err + 1e-6)
    assert float(samples.std(0).min()) > 0  # dropout did act


def test_eval_mode_is_the_identity():
    cfg, params, state, x = net("model.input_dropout=0.5", "model.hidden_dropout=0.5")
    reference, _, _ = mlp.apply(no_dropout(cfg), params, state, x, train=False)
    out, _, _ = mlp.apply(cfg, params, state, x, train=False)
    np.testing.assert_array_equal(out, reference)
    # Training without dropout is evaluation too (no key needed).
    out, _, _ = mlp.apply(no_dropout(cfg), params, state, x, train=True)
    np.testing.assert_array_equal(out, reference)


def test_masks_come_from_the_key():
    cfg, params, state, x = net("model.hidden_dropout=0.5")
    key_a, key_b = jax.random.split(jax.random.PRNGKey(4))
    a1, a2, b = (mlp.apply(cfg, params, state, x, train=True, key=k)[0]
                 for k in (key_a, key_a, key_b))
    np.testing.assert_array_equal(a1, a2)
    assert not np.allclose(a1, b)


def test_hidden_dropout_acts_after_the_taps():
    # The diagnostics see the activations before dropout, as in evaluation.
    cfg, params, state, x = net("model.hidden_dropout=0.5")
    _, _, taps = mlp.apply(cfg, params, state, x, train=True, key=jax.random.PRNGKey(5))
    _, _, clean = mlp.apply(cfg, params, state, x, train=False)
    np.testing.assert_allclose(taps[0]["act"], clean[0]["act"], rtol=1e-6)
