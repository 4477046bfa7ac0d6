"""Gradient checking: autodiff agrees with finite differences for every activation,
normalization, regularizer and loss, and a planted wrong gradient fails loudly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

from trainlab import gradcheck
from trainlab.nn import activations

SMALL = ["data=blobs", "data.n_samples=60", "model.widths=[5,4]", "batch_size=16"]
KAPPA = "regularizer.kappa=0.05"  # large enough that a wrong penalty gradient would show

# Every choice of each group appears at least once; the other groups cycle through theirs.
CASES = [
    ["activation=linear", "normalization=batchnorm", "loss=cross_entropy"],
    ["activation=sigmoid", "normalization=layernorm", "regularizer=l2", KAPPA, "loss=mse"],
    ["activation=tanh", "normalization=batchnorm", "normalization.position=after",
     "regularizer=l1", KAPPA, "loss=hinge"],
    ["activation=relu", "regularizer=elastic_net", KAPPA, "loss=cross_entropy"],
    ["activation=gelu", "regularizer=max_norm", "loss=mse"],
    ["activation=silu", "normalization=batchnorm", "loss=hinge"],
    ["activation=softplus", "normalization=layernorm", "normalization.position=after",
     "regularizer=l2", KAPPA],
    ["activation=leaky_relu", "regularizer=l1", KAPPA, "loss=hinge"],
    ["activation=prelu", "normalization=layernorm", "regularizer=elastic_net", KAPPA],
    ["activation=elu", "activation.alpha=0.5", "normalization=batchnorm", "loss=mse"],
    ["activation=maxout", "regularizer=l2", KAPPA, "loss=cross_entropy"],
    ["activation=tanh", "data=moons", "loss=bce", "model.output_activation=tanh"],
    ["activation=tanh", "model.input_dropout=0.2", "model.hidden_dropout=0.5"],
    ["activation=selu", "init=lecun_normal", "regularizer=l2", KAPPA],
]


@pytest.mark.parametrize("overrides", CASES, ids=lambda c: ",".join(c))
def test_autodiff_agrees_with_finite_differences(overrides):
    results = gradcheck.run([*SMALL, *overrides], entries=8, directions=2)
    assert len(results) >= 6  # w and b of three layers (and norm / PReLU parameters)
    for group in results:
        assert group.coordinates > 0 and group.directions > 0, group
        assert group.error <= gradcheck.TOLERANCE, group


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    ["data=regression1d", "loss=mse", "model=polynomial", "model.degree=6", "batch_size=full"],
    ["data=regression1d", "loss=mse", "activation=tanh", "model.widths=[6]", "batch_size=8"],
    ["data=surface", "data.function=rosenbrock"],
    ["data=mnist1d", "normalization=batchnorm", "regularizer=l2", KAPPA],  # the default widths
])
def test_other_models_and_tasks(overrides):
    results = gradcheck.run(overrides, entries=8, directions=2)
    assert all(group.ok for group in results), results


# --------------------------------------------------------------- a planted wrong gradient
def _planted(error: float):
    """tanh whose backward pass is off by a factor 1 + error."""
    @jax.custom_vjp
    def tanh(z):
        return jnp.tanh(z)

    def forward(z):
        y = jnp.tanh(z)
        return y, y

    def backward(y, g):
        return (g * (1 - y**2) * (1 + error),)

    tanh.defvjp(forward, backward)
    return tanh


@pytest.mark.parametrize("error", [1e-2, 1e-4])
def test_a_wrong_backward_pass_fails_the_check(error):
    wrong_tanh = _planted(error)
    x = np.random.default_rng(0).normal(size=(8, 3))

    def objective(params):
        return jnp.mean(wrong_tanh(x @ params["w"]) ** 2), {}

    with jax.enable_x64(True):
        params = {"w": jnp.asarray(np.random.default_rng(1).normal(size=(3, 2)))}
        [group] = gradcheck.check_gradients(objective, params)
    assert not group.ok
    assert group.error == pytest.approx(error, rel=0.5)  # it measures the planted error


def test_the_command_fails_loudly_on_a_wrong_activation_gradient(monkeypatch, capsys):
    argv = [*SMALL, "activation=tanh"]
    assert gradcheck.main(argv) == 0
    wrong = _planted(1e-3)
    monkeypatch.setattr(activations.Tanh, "__call__", lambda self, z, layer: wrong(z))
    assert gradcheck.main(argv) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "layers.0.w" in out


def test_a_kink_crossed_by_the_difference_is_skipped_not_failed():
    def objective(params):  # |w| at w = 1e-7: the difference at h = 1e-5 crosses 0
        return jnp.abs(params["w"]).sum(), {"sign": jnp.sign(params["w"])}

    with jax.enable_x64(True):
        params = {"w": jnp.asarray([1e-7, 0.5])}
        [group] = gradcheck.check_gradients(objective, params, entries=0, directions=0)
    assert (group.coordinates, group.skipped, group.ok) == (1, 1, True)


def test_bad_overrides_exit_with_status_2(capsys):
    assert gradcheck.main(["activation=nonsense"]) == 2
    assert "activation" in capsys.readouterr().err


def test_it_checks_the_very_objective_the_program_trains(tmp_path):
    """The params, the batch and the dropout masks are the program's: with one full-batch step
    an epoch, the running train loss of epoch 1 is the checked objective at the initial params
    (no penalty), and the checked params are the run's params_init (to the last bit or two:
    the program draws them compiled, the check eagerly)."""
    from trainlab.config import compose
    from trainlab.run import train

    overrides = [*SMALL, "batch_size=full", "epochs=1", "train_metrics=running",
                 "model.hidden_dropout=0.5", "dtype=float64", "seed=3", "progress=false"]
    train(compose(overrides), tmp_path)
    with jax.enable_x64(True):
        objective, params = gradcheck.problem(compose(overrides))
        value, _ = objective(params)
    with np.load(tmp_path / "params_init.npz") as stored:
        for i, layer in enumerate(params["layers"]):
            for name, array in layer.items():
                np.testing.assert_allclose(stored[f"layers.{i}.{name}"], array, rtol=1e-14,
                                           atol=1e-16)
    metrics = pd.read_csv(tmp_path / "metrics.csv")
    assert float(value) == pytest.approx(metrics.train_loss.iloc[1], rel=1e-12)
