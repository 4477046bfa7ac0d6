"""trainlab.predict: evaluation-mode probabilities, Monte-Carlo dropout, weight scaling."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from trainlab import predict
from trainlab.config import compose
from trainlab.nn import mlp


def net(*overrides):
    cfg = compose(["model.widths=[32,32]", "activation=relu", "init=he_normal",
                   "init.bias=0.05", *overrides])
    params, _ = mlp.init(cfg, jax.random.PRNGKey(0), 6, 4, jnp.float32)
    x = jax.random.normal(jax.random.PRNGKey(1), (50, 6))
    return cfg, params, x


def test_probabilities_are_the_softmax_of_the_eval_pass():
    cfg, params, x = net("model.hidden_dropout=0.5")
    probs = predict.probabilities(cfg, params, x)
    out, _, _ = mlp.apply(cfg, params, predict.empty_state(params), x, train=False)
    np.testing.assert_allclose(probs, jax.nn.softmax(out), rtol=1e-6)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-6)


def test_mc_dropout_passes_differ_and_match_train_mode_passes():
    cfg, params, x = net("model.input_dropout=0.2", "model.hidden_dropout=0.5")
    key = jax.random.PRNGKey(7)
    passes = predict.mc_dropout_probabilities(cfg, params, x, key, samples=5)
    assert passes.shape == (5, 50, 4)
    assert not np.allclose(passes[0], passes[1])  # independent masks
    # Each pass is trainlab's own training-mode forward pass with that pass's key.
    keys = jax.random.split(key, 5)
    out, _, _ = mlp.apply(cfg, params, predict.empty_state(params), x, train=True, key=keys[3])
    np.testing.assert_allclose(passes[3], jax.nn.softmax(out), rtol=1e-5, atol=1e-7)
    mean = predict.mc_dropout_predictions(cfg, params, x, key, samples=5)
    np.testing.assert_allclose(mean, passes.mean(0), rtol=1e-6)


def test_mc_dropout_without_dropout_is_the_deterministic_pass():
    cfg, params, x = net()
    mean = predict.mc_dropout_predictions(cfg, params, x, jax.random.PRNGKey(0), samples=3)
    np.testing.assert_allclose(mean, predict.probabilities(cfg, params, x), rtol=1e-6)


def test_mc_average_of_many_masks_approaches_the_deterministic_pass_for_a_linear_net():
    # Linear activations: the output is linear in each mask, so the mean logits over masks is
    # the deterministic (inverted-dropout) pass; the softmax of it is close to the mean of the
    # softmaxes when the logits are small.
    cfg, params, x = net("activation=linear", "model.hidden_dropout=0.5", "init.gain=0.3")
    state = predict.empty_state(params)
    keys = jax.random.split(jax.random.PRNGKey(3), 4000)
    logits = jax.vmap(lambda k: mlp.apply(cfg, params, state, x, train=True, key=k)[0])(keys)
    out, _, _ = mlp.apply(cfg, params, state, x, train=False)
    np.testing.assert_allclose(logits.mean(0), out, atol=5 * float(logits.std(0).max()) / 63)


def test_weight_scaling_of_the_standard_dropout_net_is_the_inverted_dropout_net():
    cfg, params, x = net("model.input_dropout=0.2", "model.hidden_dropout=0.5")
    standard = predict.as_standard_dropout(cfg, params)
    np.testing.assert_allclose(standard["layers"][0]["w"], params["layers"][0]["w"] / 0.8)
    np.testing.assert_allclose(standard["layers"][2]["w"], params["layers"][2]["w"] / 0.5)
    np.testing.assert_array_equal(standard["layers"][1]["b"], params["layers"][1]["b"])
    scaled = predict.weight_scaling(cfg, standard)
    np.testing.assert_allclose(predict.probabilities(cfg, scaled, x),
                               predict.probabilities(cfg, params, x), rtol=1e-5, atol=1e-7)
    # Without the rescaling the test pass is a different network.
    assert not np.allclose(predict.probabilities(cfg, standard, x),
                           predict.probabilities(cfg, params, x), atol=1e-3)


def test_refuses_what_it_cannot_do():
    cfg, params, x = net("normalization=batchnorm")
    with pytest.raises(ValueError, match="batchnorm"):
        predict.mc_dropout_predictions(cfg, params, x, jax.random.PRNGKey(0), samples=2)
    with pytest.raises(ValueError, match="running statistics"):
        predict.probabilities(cfg, params, x)
    cfg, params, x = net("loss=mse")
    with pytest.raises(ValueError, match="cross_entropy"):
        predict.probabilities(cfg, params, x)
    cfg, params, x = net()
    with pytest.raises(ValueError, match="samples"):
        predict.mc_dropout_predictions(cfg, params, x, jax.random.PRNGKey(0), samples=0)
