"""optimizer=lstsq (closed-form least squares) and model=random_features (frozen features)."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from trainlab.config import ConfigError, compose
from trainlab.plan import Job, train_many
from trainlab.problems import closed_form

POLY = ["data=regression1d", "model=polynomial", "loss=mse", "batch_size=full",
        "progress=false", "dtype=float64"]


@pytest.fixture
def x64():
    jax.config.update("jax_enable_x64", True)
    yield
    jax.config.update("jax_enable_x64", False)


def test_minimum_norm_solution_equals_the_pseudo_inverse(x64):
    rng = np.random.default_rng(0)
    phi, t = rng.normal(size=(10, 30)), rng.normal(size=(10, 2))  # under-determined
    w, b = closed_form.least_squares(phi, t)
    design = np.hstack([phi, np.ones((10, 1))])
    expected = np.linalg.pinv(design) @ t
    np.testing.assert_allclose(np.vstack([w, b[None]]), expected, atol=1e-10)


def test_ridge_solution_zeroes_the_gradient_of_the_objective(x64):
    """mean((phi W + b - t)^2) + kappa/2 ||W||^2 is stationary at the solution."""
    rng = np.random.default_rng(1)
    phi, t, kappa = rng.normal(size=(40, 5)), rng.normal(size=(40, 3)), 0.3

    def objective(w, b):
        return ((phi @ w + b - t) ** 2).mean() + kappa / 2 * (w**2).sum()

    w, b = closed_form.least_squares(phi, t, kappa)
    for grad in jax.grad(objective, argnums=(0, 1))(w, b):
        np.testing.assert_allclose(grad, 0.0, atol=1e-10)


def test_lstsq_polynomial_equals_gradient_descent_run_to_convergence(tmp_path):
    """On orthonormal Legendre features GD converges fast to the same least-squares fit."""
    closed = train_many([Job(compose([*POLY, "model.degree=4", "optimizer=lstsq",
                                      "epochs=1"]), tmp_path / "a")], progress=False)[0]
    gd = train_many([Job(compose([*POLY, "model.degree=4", "optimizer=momentum",
                                  "optimizer.lr=0.2", "epochs=3000"]), tmp_path / "b")],
                    progress=False)[0]
    assert closed["final_train_loss"] == pytest.approx(gd["final_train_loss"], rel=1e-6)


def test_interpolation_at_degree_20(tmp_path):
    [summary] = train_many([Job(compose([*POLY, "model.degree=20", "optimizer=lstsq",
                                         "epochs=1"]))], progress=False)
    assert summary["final_train_loss"] < 1e-10  # 21 points, 21 coefficients


def test_random_features_stay_frozen_under_gradient_descent(tmp_path):
    cfg = compose(["data=moons", "data.n_samples=100", "model=random_features",
                   "model.width=50", "optimizer=sgd", "epochs=3", "batch_size=16",
                   "progress=false"])
    train_many([Job(cfg, tmp_path)], progress=False)
    with np.load(tmp_path / "params_init.npz") as init, \
            np.load(tmp_path / "params_final.npz") as final:
        np.testing.assert_array_equal(init["layers.0.w"], final["layers.0.w"])
        assert not np.array_equal(init["layers.1.w"], final["layers.1.w"])


@pytest.mark.parametrize("overrides, word", [
    (["optimizer=lstsq", "loss=mse"], "model=mlp"),
    (["optimizer=lstsq", "model=linear"], "loss=mse"),
    (["optimizer=lstsq", "model=linear", "loss=mse", "regularizer=l1"], "regularizer=l1"),
])
def test_lstsq_refuses_what_it_cannot_solve(overrides, word):
    with pytest.raises(ConfigError, match=word):
        compose(overrides)


def test_max_norm_leaves_the_frozen_random_features_alone(tmp_path):
    cfg = compose(["data=moons", "data.n_samples=100", "model=random_features",
                   "model.width=50", "init.gain=5", "regularizer=max_norm",
                   "regularizer.c=0.5", "optimizer=sgd", "epochs=2", "batch_size=16",
                   "progress=false"])
    train_many([Job(cfg, tmp_path)], progress=False)
    with np.load(tmp_path / "params_init.npz") as init, \
            np.load(tmp_path / "params_final.npz") as final:
        np.testing.assert_array_equal(init["layers.0.w"], final["layers.0.w"])
        assert np.linalg.norm(final["layers.1.w"]) <= 0.5 + 1e-6
