"""Every choice of every config group builds and trains: a table of tiny end-to-end runs.

The fast table combines choices so that each one appears in at least one row (a coverage test
holds it to ``config.GROUPS``); the slow table runs each choice alone on a base config, so a
failure names the choice. Plus a pinned parameter count (flax's ``train_test`` habit).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from image_files import fake_fashion
from trainlab import plan
from trainlab.config import GROUPS, compose
from trainlab.nn import mlp
from trainlab.plan import Job, train_many

QUICK = ["epochs=2", "diagnostics=off", "progress=false", "save_params=false"]
MOONS = ("data=moons", "data.n_samples=60")
MLP = ("model=mlp", "model.widths=[8]")


@pytest.fixture(scope="module")
def npz_files(tmp_path_factory) -> dict[str, str]:
    """Two small user files: 3-class classification in 4-D, and a 1-D regression."""
    folder = tmp_path_factory.mktemp("npz")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 4))
    classes = folder / "classes.npz"
    np.savez(classes, x_train=x, y_train=(x[:, 0] > 0).astype(int) + (x[:, 1] > 1))
    t = np.linspace(-1, 1, 24)[:, None]
    curve = folder / "curve.npz"
    np.savez(curve, x_train=t, y_train=np.sin(3 * t) + 0.1 * rng.normal(size=t.shape),
             x_test=t[::3], y_test=np.sin(3 * t[::3]))
    fashion = fake_fashion(folder / "fashion")  # four IDX files of 40 + 20 images
    return {"classes": str(classes), "curve": str(curve), "fashion": str(fashion)}


def run(overrides, npz_files) -> dict:
    """The summary of a run (train_many: train's work without its printed table)."""
    overrides = [o.format(**npz_files) for o in overrides]
    return train_many([Job(compose([*overrides, *QUICK]))], progress=False)[0]


def assert_trained(summary: dict):
    assert summary["status"] == "ok"
    assert math.isfinite(summary["final_train_loss"])


# ------------------------------------------------------------------ every choice, combined
def row(data=MOONS, model=MLP, **choices) -> list[str]:
    """Overrides for one run: data and model first (their own keys follow them), then one
    choice per remaining group, then extra overrides under ``extra``."""
    extra = choices.pop("extra", ())
    return [*data, *model, *(f"{group}={name}" for group, name in choices.items()), *extra]


FULL = "batch_size=full"
COMBINED = {
    "mnist1d": row(("data=mnist1d", "data.train_size=128"), init="he_normal",
                   activation="relu", normalization="none", optimizer="sgd", schedule="constant",
                   loss="cross_entropy", logger="none", extra=["batch_size=32"]),
    "mnist": row(("data=mnist", "data.train_size=128"), extra=["batch_size=32"]),
    "fashion_mnist": row(("data=fashion_mnist", "data.path={fashion}"), extra=["batch_size=16"]),
    "digits": row(("data=digits", "data.train_size=128"), init="xavier_uniform",
                  activation="tanh", normalization="batchnorm", regularizer="l2",
                  optimizer="momentum", schedule="step", loss="hinge", logger="tensorboard",
                  extra=["batch_size=32"]),
    # The XOR net of lecture 001: sigmoid units and squared error, full batch.
    "xor": row(("data=xor",), ("model=mlp", "model.widths=[4]", "model.output_activation=sigmoid"),
               init="normal", activation="sigmoid", optimizer="nesterov",
               schedule="exponential", loss="mse", logger="mlflow", extra=[FULL]),
    "moons": row(init="lecun_normal", activation="leaky_relu", normalization="layernorm",
                 regularizer="l1", optimizer="adagrad", schedule="inverse_time", loss="bce",
                 extra=["batch_size=16", "model.input_dropout=0.2"]),
    "circles": row(("data=circles", "data.n_samples=60"), init="xavier_normal",
                   activation="elu", normalization="batchnorm", regularizer="elastic_net",
                   optimizer="rmsprop", schedule="cosine", loss="cross_entropy",
                   extra=["batch_size=16", "normalization.position=after"]),
    "spirals": row(("data=spirals", "data.n_samples=60"), init="he_uniform",
                   activation="prelu", regularizer="max_norm", optimizer="adadelta",
                   schedule="warmup_cosine", loss="hinge",
                   extra=["batch_size=16", "model.hidden_dropout=0.3"]),
    "blobs": row(("data=blobs", "data.n_samples=60"), init="orthogonal", activation="maxout",
                 normalization="layernorm", regularizer="l2", optimizer="adam", loss="mse",
                 extra=["batch_size=16", "schedule=step", "schedule.unit=step"]),
    "regression1d": row(("data=regression1d",), init="zeros", activation="silu",
                        optimizer="adamax", schedule="step", loss="mse", extra=[FULL]),
    # Closed-form least squares (ridge with l2) on polynomial features of a user's curve.
    "polynomial": row(("data=npz", "data.path={curve}"), ("model=polynomial", "model.degree=5"),
                      init="constant", optimizer="lstsq", schedule="exponential", loss="mse",
                      regularizer="l2", extra=[FULL]),
    "random_features": row(MOONS, ("model=random_features", "model.width=16"), init="normal",
                           activation="softplus", optimizer="adamw", loss="mse",
                           extra=["batch_size=16"]),
    "linear": row(("data=npz", "data.path={classes}"), ("model=linear",), init="uniform",
                  optimizer="momentum", regularizer="max_norm", schedule="inverse_time",
                  loss="cross_entropy", extra=["batch_size=8", "optimizer.form=ema"]),
    "surface": row(("data=surface",), ("model=mlp",), optimizer="nadam", schedule="cosine",
                   extra=["optimizer.lr=0.01"]),
    "gelu": row(init="uniform", activation="gelu", normalization="batchnorm",
                regularizer="elastic_net", optimizer="sgd", schedule="warmup_cosine",
                loss="hinge", extra=["batch_size=16", "optimizer.decoupled_decay=1e-3",
                                     "optimizer.clip_norm=1.0"]),
    # The choices added with the self-describing registry (issue 8): one class and one YAML.
    "selu": row(init="lecun_uniform", activation="selu", optimizer="lion", loss="cross_entropy",
                extra=["batch_size=16", "optimizer.lr=1e-3"]),
    "linear_activation": row(MOONS, ("model=mlp", "model.widths=[8,4]"), init="xavier_uniform",
                             activation="linear", regularizer="none", optimizer="adamw",
                             loss="cross_entropy",
                             extra=["batch_size=16", "optimizer.decay_scaled_by_lr=false"]),
    # GroupNorm (issue 13): 8 units in 2 groups of 4, after the activation
    "groupnorm": row(init="he_normal", activation="relu", normalization="groupnorm",
                     optimizer="momentum", loss="cross_entropy",
                     extra=["batch_size=16", "normalization.groups=2",
                            "normalization.position=after"]),
}
# The pinned parameter count of a run (flax's train_test habit): 2-8-4-2 has
# (2*8 + 8) + (8*4 + 4) + (4*2 + 2) parameters.
PINNED_N_PARAMS = {"linear_activation": 70, "surface": 2}


def chosen(overrides: list[str]) -> set[tuple[str, str]]:
    pairs = {tuple(o.split("=", 1)) for o in overrides}
    return {(g, c) for g, c in pairs if g in GROUPS}


def test_combined_table_covers_every_choice():
    covered = set().union(*(chosen(overrides) for overrides in COMBINED.values()))
    # Groups left at their default in some row are covered by other rows.
    every = {(group, name) for group, choices in GROUPS.items() for name in choices}
    assert every - covered == set()


@pytest.mark.parametrize("name", COMBINED)
def test_combined_choices_train(name, npz_files):
    summary = run(COMBINED[name], npz_files)
    assert_trained(summary)
    if name in PINNED_N_PARAMS:
        assert summary["n_params"] == PINNED_N_PARAMS[name]


# ------------------------------------------------------------------- every choice, alone
# What a choice needs besides itself, on the base run (moons, an MLP [8], batches of 16).
NEEDS = {
    **{("data", name): ["data.n_samples=60"] for name in ("moons", "circles", "spirals", "blobs")},
    ("data", "mnist1d"): ["data.train_size=128"],
    ("data", "mnist"): ["data.train_size=128"],
    ("data", "fashion_mnist"): ["data.path={fashion}"],
    ("data", "digits"): ["data.train_size=128"],
    ("data", "xor"): [FULL],
    ("data", "regression1d"): ["loss=mse", FULL],
    ("data", "npz"): ["data.path={classes}"],
    ("model", "mlp"): ["model.widths=[8]"],
    ("model", "polynomial"): ["data=regression1d", "loss=mse", FULL],
    ("model", "random_features"): ["model.width=16"],
    ("optimizer", "lstsq"): ["model=linear", "loss=mse"],  # a model linear in its features
}


def alone(group: str, name: str) -> list[str]:
    needs = NEEDS.get((group, name), [])
    own_data = group == "data" or any(o.startswith("data=") for o in needs)
    own_model = group == "model" or any(o.startswith("model=") for o in needs)
    data = [] if own_data else list(MOONS)
    model = [] if own_model else list(MLP)
    batch = [] if FULL in needs else ["batch_size=16"]
    return [*data, *model, f"{group}={name}", *needs, *batch]


EVERY_CHOICE = [(group, name) for group, choices in GROUPS.items() for name in choices]


@pytest.mark.slow
@pytest.mark.parametrize("group, name", EVERY_CHOICE, ids=[f"{g}={n}" for g, n in EVERY_CHOICE])
def test_each_choice_alone_trains(group, name, npz_files):
    assert_trained(run(alone(group, name), npz_files))


@pytest.mark.parametrize("name", GROUPS["model"])
def test_every_model_has_a_title(name):
    # train() prints a table titled by its problem's description of the config.
    cfg = compose([f"model={name}", "data=regression1d", "loss=mse", "batch_size=full"])
    [group] = plan.plan([Job(cfg)])
    assert cfg.model.describe() in group.program.problem.describe(cfg)


# --------------------------------------------------------------------- parameter counts
def count(*overrides, n_features=2, n_outputs=2) -> int:
    cfg = compose(list(overrides))
    params, _ = mlp.init(cfg, jax.random.PRNGKey(0), n_features, n_outputs, jnp.float32)
    return mlp.n_params(params)


@pytest.mark.parametrize("overrides, expected", [
    # 2-8-4-2: (2*8 + 8) + (8*4 + 4) + (4*2 + 2)
    (["model.widths=[8,4]"], 70),
    # gamma and beta for each hidden unit (running statistics are state, not params)
    (["model.widths=[8,4]", "normalization=batchnorm"], 70 + 2 * 12),
    (["model.widths=[8,4]", "normalization=layernorm"], 70 + 2 * 12),
    (["model.widths=[8,4]", "normalization=groupnorm", "normalization.groups=2"], 70 + 2 * 12),
    (["model.widths=[8,4]", "activation=prelu"], 70 + 12),  # a slope per hidden unit
    # maxout with 3 pieces: 3x the pre-activations of each hidden layer
    (["model.widths=[8,4]", "activation=maxout", "activation.pieces=3"],
     (2 * 24 + 24) + (8 * 12 + 12) + (4 * 2 + 2)),
    (["model=linear"], 2 * 2 + 2),
])
def test_parameter_count(overrides, expected):
    assert count(*overrides) == expected


def test_polynomial_parameter_count():
    # A linear model on the degree + 1 features 1, x, ..., x^degree, with one output.
    assert count("model=polynomial", "model.degree=7", n_features=1, n_outputs=1) == 8 + 1

