"""Typed config schemas, one dataclass per choice of each config group, and validation.

Every choice is registered in Hydra's ConfigStore under its group (``optimizer=adam`` picks
``Adam``), so a typo'd key or a value of the wrong type is refused by OmegaConf before anything
runs. What types cannot say (lr > 0, a rate in [0, 1)) is checked once by ``validate``.

The numbers that may differ between trials of one compiled program are the float fields of the
``TRACED_GROUPS``: ``split`` lifts them out of a config (they become traced arrays), what is left
is the static signature that decides shapes and code.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


class ConfigError(ValueError):
    """A bad config value: the message names the key and what is allowed."""


# ----------------------------------------------------------------------------------------- data
@dataclass
class Data:
    name: str = MISSING
    seed: int = 0  # data generation and splits; trials' seeds do not change the data
    val_fraction: float = 0.2  # carved from train when the source has no validation split
    train_size: int = 0  # keep the first N training samples (0: all of them)
    preprocessing: str = "none"  # none | center | standardize (statistics from train only)
    label_noise: float = 0.0  # fraction of training labels replaced by a random class


@dataclass
class Synthetic(Data):
    n_samples: int = 1000
    noise: float = 0.1
    test_fraction: float = 0.2


@dataclass
class Mnist1d(Data):
    name: str = "mnist1d"


@dataclass
class Digits(Data):
    name: str = "digits"
    test_fraction: float = 0.2


@dataclass
class Xor(Data):
    name: str = "xor"
    val_fraction: float = 0.0  # the four points are train, val and test at once


@dataclass
class Moons(Synthetic):
    name: str = "moons"
    noise: float = 0.2


@dataclass
class Circles(Synthetic):
    name: str = "circles"
    factor: float = 0.5


@dataclass
class Spirals(Synthetic):
    name: str = "spirals"
    n_classes: int = 3
    noise: float = 0.2


@dataclass
class Blobs(Synthetic):
    name: str = "blobs"
    n_classes: int = 3
    n_features: int = 2
    noise: float = 1.0  # cluster std


@dataclass
class Regression1d(Data):
    name: str = "regression1d"
    n_train: int = 21
    n_test: int = 500
    noise: float = 0.2
    function: str = "sin"  # sin | cubic
    val_fraction: float = 0.0


@dataclass
class Npz(Data):
    name: str = "npz"
    path: str = MISSING


@dataclass
class Surface(Data):
    """A 2-D test function: params are a point, the loss is the function (no samples)."""

    name: str = "surface"
    function: str = "quadratic"  # quadratic 10x^2+100y^2 | rosenbrock (x-1)^2+b(y-x^2)^2
    b: float = 10.0
    start: list[float] = field(default_factory=lambda: [-1.0, 1.0])
    val_fraction: float = 0.0


# ---------------------------------------------------------------------------------------- model
@dataclass
class Model:
    name: str = MISSING
    input_dropout: float = 0.0  # inverted dropout rates, training only
    hidden_dropout: float = 0.0
    output_activation: str = "linear"  # linear | sigmoid | tanh


@dataclass
class Mlp(Model):
    name: str = "mlp"
    widths: list[int] = field(default_factory=lambda: [256, 256])


@dataclass
class Linear(Model):
    """No hidden layer: logistic (softmax) regression, or linear regression with loss=mse."""

    name: str = "linear"


@dataclass
class RandomFeatures(Model):
    """One hidden layer of ``width`` random units (drawn by ``init``, through ``activation``)
    that is never trained: only the output layer learns (Belkin's random-features model)."""

    name: str = "random_features"
    width: int = 1000


@dataclass
class Polynomial(Model):
    """A linear model on polynomial features of a 1-D input (capacity lecture)."""

    name: str = "polynomial"
    degree: int = 3
    basis: str = "legendre"  # legendre (orthonormal on [-1, 1]) | monomial


# ------------------------------------------------------------------------------------- init
@dataclass
class Init:
    name: str = MISSING
    gain: float = 1.0  # multiplies every weight matrix
    bias: float = 0.0  # the value of every bias


@dataclass
class Zeros(Init):
    name: str = "zeros"


@dataclass
class Constant(Init):
    name: str = "constant"
    value: float = 0.1


@dataclass
class Uniform(Init):
    name: str = "uniform"
    scale: float = 0.05  # U(-scale, scale)


@dataclass
class Normal(Init):
    name: str = "normal"
    std: float = 0.01


# ------------------------------------------------------------------------------- activation
@dataclass
class Activation:
    name: str = MISSING


@dataclass
class LeakyRelu(Activation):
    name: str = "leaky_relu"
    alpha: float = 0.01


@dataclass
class Prelu(Activation):
    name: str = "prelu"
    alpha: float = 0.25  # initial value of the learned slope, one per unit


@dataclass
class Elu(Activation):
    name: str = "elu"
    alpha: float = 1.0


@dataclass
class Maxout(Activation):
    name: str = "maxout"
    pieces: int = 2


# ---------------------------------------------------------------------------- normalization
@dataclass
class Normalization:
    name: str = "none"
    eps: float = 1e-5
    position: str = "before"  # before | after the activation


@dataclass
class BatchNorm(Normalization):
    name: str = "batchnorm"
    momentum: float = 0.9  # running = momentum * running + (1 - momentum) * batch


@dataclass
class LayerNorm(Normalization):
    name: str = "layernorm"


# ------------------------------------------------------------------------------ regularizer
@dataclass
class Regularizer:
    name: str = "none"


@dataclass
class Penalty(Regularizer):
    kappa: float = 1e-4


@dataclass
class ElasticNet(Penalty):
    name: str = "elastic_net"
    mix: float = 0.5  # weight of the L1 part


@dataclass
class MaxNorm(Regularizer):
    name: str = "max_norm"
    c: float = 3.0  # every layer's ||W||_F <= c after each update


# -------------------------------------------------------------------------------- optimizer
@dataclass
class Optimizer:
    name: str = MISSING
    lr: float = 0.1
    weight_decay: float = 0.0  # decoupled: w <- w - weight_decay * w each step, not scaled by lr
    clip_norm: float = 0.0  # clip the global gradient norm to this (0: off)


@dataclass
class Momentum(Optimizer):
    name: str = "momentum"
    momentum: float = 0.9
    # classic: v = mu*v - lr*g, w += v  |  ema: u = b*u + (1-b)*g, w -= lr*u (lecture 004)
    form: str = "classic"


@dataclass
class Nesterov(Optimizer):
    name: str = "nesterov"
    momentum: float = 0.9


@dataclass
class Adagrad(Optimizer):
    name: str = "adagrad"
    initial_accumulator: float = 0.1
    eps: float = 1e-7


@dataclass
class Rmsprop(Optimizer):
    name: str = "rmsprop"
    lr: float = 1e-3
    decay: float = 0.9
    eps: float = 1e-8


@dataclass
class Adadelta(Optimizer):
    name: str = "adadelta"
    lr: float = 1.0
    rho: float = 0.9
    eps: float = 1e-6


@dataclass
class Lstsq(Optimizer):
    """Not iterative: the output layer of a model linear in its features is solved in closed
    form (minimum-norm least squares, or ridge with regularizer=l2) on the whole training set
    in the first epoch. Needs loss=mse; lr is unused."""

    name: str = "lstsq"


@dataclass
class AdamFamily(Optimizer):
    lr: float = 1e-3
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8  # outside the root: m / (sqrt(v) + eps), as optax and the Adam paper
    eps_root: float = 0.0  # inside the root: m / sqrt(v + eps_root), as some lecture slides


@dataclass
class Adam(AdamFamily):
    name: str = "adam"


@dataclass
class AdamW(AdamFamily):
    name: str = "adamw"
    weight_decay: float = 1e-2
    # true: w <- w - lr * weight_decay * w (optax.adamw, PyTorch); false: as in Loshchilov &
    # Hutter, the decay is not multiplied by lr (the same as adam with weight_decay)
    decay_scaled_by_lr: bool = True


@dataclass
class Adamax(AdamFamily):
    name: str = "adamax"
    lr: float = 2e-3


@dataclass
class Nadam(AdamFamily):
    name: str = "nadam"


# --------------------------------------------------------------------------------- schedule
@dataclass
class Schedule:
    name: str = "constant"
    unit: str = "epoch"  # t counts epochs (lr changes between epochs) or steps


@dataclass
class StepDecay(Schedule):
    name: str = "step"
    every: int = 10  # units between drops
    factor: float = 0.5


@dataclass
class RateDecay(Schedule):
    k: float = 0.05  # exponential: a0 exp(-k t);  inverse_time: a0 / (1 + k t)


@dataclass
class Cosine(Schedule):
    name: str = "cosine"
    final_fraction: float = 0.0  # lr at the end, as a fraction of a0


@dataclass
class WarmupCosine(Cosine):
    name: str = "warmup_cosine"
    warmup: int = 5  # units of linear warm-up from 0 to a0


# ------------------------------------------------------------------------------------- loss
@dataclass
class Loss:
    name: str = MISSING


@dataclass
class Hinge(Loss):
    name: str = "hinge"
    margin: float = 1.0  # multiclass SVM: sum_j max(0, s_j - s_y + margin)


# ----------------------------------------------------------------------------------- logger
@dataclass
class Logger:
    """Where a run's tables go besides its csv/json files (always written): ``none``,
    ``tensorboard`` (event files in the job dir) or ``mlflow``; see trainlab.report.loggers."""

    name: str = MISSING


@dataclass
class Mlflow(Logger):
    """``logger=mlflow`` (the ``mlflow`` extra): a run per job in a local MLflow store."""

    name: str = "mlflow"
    tracking_uri: str = "sqlite:///mlflow.db"  # a SQLite file in the working directory
    experiment: str = "trainlab"


# ------------------------------------------------------------------------------- top level
@dataclass
class EarlyStopping:
    enabled: bool = False
    patience: int = 10  # checks without improvement before stopping
    every: int = 1  # check the validation loss every n epochs
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    restore_best: bool = True


@dataclass
class Config:
    data: Data = MISSING
    model: Model = MISSING
    init: Init = MISSING
    activation: Activation = MISSING
    normalization: Normalization = MISSING
    regularizer: Regularizer = MISSING
    optimizer: Optimizer = MISSING
    schedule: Schedule = MISSING
    loss: Loss = MISSING
    logger: Logger = MISSING
    seed: int = 0
    seeds: int = 1  # replicates seed, seed+1, ... trained together; mean and std reported
    epochs: int = 20
    batch_size: Any = 128  # an int, or "full" (or 0) for full-batch gradient descent
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)
    dtype: str = "float32"
    diagnostics: str = "default"  # off | default | full
    # Train loss/acc of each epoch: "eval" = the whole training split in evaluation mode after
    # the epoch (exact; one more forward pass over it); "running" = the mean of the epoch's
    # mini-batch values as training computed them (free, but in training mode, mid-epoch).
    train_metrics: str = "eval"
    sparsity_threshold: float = 1e-3  # diagnostics: a weight with |w| below it counts as zero
    objective: str = "best_val_loss"  # the summary field a sweeper minimizes
    progress: bool = True  # a progress bar while training
    # Polyak averaging of the weights, an EMA over steps: avg = d avg + (1 - d) w (0: off);
    # reported as val_avg_* / test_avg_* and kept in params_average.npz
    param_average: float = 0.0
    gradcheck: bool = False  # instead of training: check gradients (as `trainlab gradcheck`)
    save_params: bool = True


GROUPS: dict[str, dict[str, type]] = {
    "data": {
        "mnist1d": Mnist1d, "digits": Digits, "xor": Xor, "moons": Moons, "circles": Circles,
        "spirals": Spirals, "blobs": Blobs, "regression1d": Regression1d, "npz": Npz,
        "surface": Surface,
    },
    "model": {
        "mlp": Mlp, "linear": Linear, "polynomial": Polynomial, "random_features": RandomFeatures,
    },
    "init": {
        "zeros": Zeros, "constant": Constant, "uniform": Uniform, "normal": Normal,
    } | {
        name: Init for name in
        ("lecun_normal", "xavier_uniform", "xavier_normal", "he_normal", "he_uniform",
         "orthogonal")
    },
    "activation": {
        name: Activation for name in
        ("linear", "sigmoid", "tanh", "relu", "gelu", "silu", "softplus")
    } | {"leaky_relu": LeakyRelu, "prelu": Prelu, "elu": Elu, "maxout": Maxout},
    "normalization": {"none": Normalization, "batchnorm": BatchNorm, "layernorm": LayerNorm},
    "regularizer": {
        "none": Regularizer, "l1": Penalty, "l2": Penalty, "elastic_net": ElasticNet,
        "max_norm": MaxNorm,
    },
    "optimizer": {
        "sgd": Optimizer, "momentum": Momentum, "nesterov": Nesterov, "adagrad": Adagrad,
        "rmsprop": Rmsprop, "adadelta": Adadelta, "adam": Adam, "adamw": AdamW,
        "adamax": Adamax, "nadam": Nadam, "lstsq": Lstsq,
    },
    "schedule": {
        "constant": Schedule, "step": StepDecay, "exponential": RateDecay,
        "inverse_time": RateDecay, "cosine": Cosine, "warmup_cosine": WarmupCosine,
    },
    "loss": {name: Loss for name in ("cross_entropy", "mse", "bce")} | {"hinge": Hinge},
    "logger": {"none": Logger, "tensorboard": Logger, "mlflow": Mlflow},
}


def register_configs() -> None:
    """Put every choice of every group, and the top-level schema, into Hydra's ConfigStore."""
    store = ConfigStore.instance()
    store.store(name="schema", node=Config)
    for group, choices in GROUPS.items():
        for name, schema in choices.items():
            store.store(group=f"schema/{group}", name=name, node=schema(name=name))


# --------------------------------------------------------------------------------- checks
def _in_unit(x):
    return 0 <= x < 1


# Checked on every field of that name, in any group: (test, what is allowed).
_FIELD_CHECKS: dict[str, tuple[Any, str]] = {
    "lr": (lambda x: x > 0, "a number > 0"),
    "input_dropout": (_in_unit, "a rate in [0, 1)"),
    "hidden_dropout": (_in_unit, "a rate in [0, 1)"),
    "val_fraction": (_in_unit, "a fraction in [0, 1)"),
    "test_fraction": (_in_unit, "a fraction in [0, 1)"),
    "label_noise": (lambda x: 0 <= x <= 1, "a fraction in [0, 1]"),
    "momentum": (_in_unit, "a number in [0, 1)"),
    "b1": (_in_unit, "a number in [0, 1)"),
    "b2": (_in_unit, "a number in [0, 1)"),
    "decay": (_in_unit, "a number in [0, 1)"),
    "rho": (_in_unit, "a number in [0, 1)"),
    "mix": (lambda x: 0 <= x <= 1, "a number in [0, 1]"),
    "eps": (lambda x: x > 0, "a number > 0"),
    "eps_root": (lambda x: x >= 0, "a number >= 0"),
    "kappa": (lambda x: x >= 0, "a number >= 0"),
    "weight_decay": (lambda x: x >= 0, "a number >= 0"),
    "clip_norm": (lambda x: x >= 0, "a number >= 0 (0: off)"),
    "c": (lambda x: x > 0, "a number > 0"),
    "k": (lambda x: x >= 0, "a number >= 0"),
    "factor": (lambda x: 0 < x <= 1, "a number in (0, 1]"),
    "final_fraction": (lambda x: 0 <= x <= 1, "a number in [0, 1]"),
    "std": (lambda x: x >= 0, "a number >= 0"),
    "scale": (lambda x: x >= 0, "a number >= 0"),
    "noise": (lambda x: x >= 0, "a number >= 0"),
    "margin": (lambda x: x > 0, "a number > 0"),
    "sparsity_threshold": (lambda x: x >= 0, "a number >= 0"),
    "every": (lambda x: x >= 1, "an integer >= 1"),
    "patience": (lambda x: x >= 1, "an integer >= 1"),
    "pieces": (lambda x: x >= 2, "an integer >= 2"),
    "degree": (lambda x: x >= 0, "an integer >= 0"),
    "warmup": (lambda x: x >= 0, "an integer >= 0"),
    "epochs": (lambda x: x >= 1, "an integer >= 1"),
    "seeds": (lambda x: x >= 1, "an integer >= 1"),
    "train_size": (lambda x: x >= 0, "an integer >= 0 (0: all)"),
    "param_average": (_in_unit, "a decay in [0, 1) (0: off)"),
    "n_samples": (lambda x: x >= 4, "an integer >= 4"),
    "n_train": (lambda x: x >= 2, "an integer >= 2"),
    "n_test": (lambda x: x >= 1, "an integer >= 1"),
    "n_classes": (lambda x: x >= 2, "an integer >= 2"),
    "n_features": (lambda x: x >= 1, "an integer >= 1"),
    "width": (lambda x: x >= 1, "an integer >= 1"),
}

# Fields restricted to a set of words.
_FIELD_WORDS: dict[str, tuple[str, ...]] = {
    "preprocessing": ("none", "center", "standardize"),
    "output_activation": ("linear", "sigmoid", "tanh"),
    "basis": ("legendre", "monomial"),
    "position": ("before", "after"),
    "form": ("classic", "ema"),
    "unit": ("epoch", "step"),
    "dtype": ("float32", "float64"),
    "diagnostics": ("off", "default", "full"),
    "train_metrics": ("eval", "running"),
}


def _check_fields(node: Any, prefix: str) -> None:
    for f in dataclasses.fields(node):
        value, key = getattr(node, f.name), prefix + f.name
        if dataclasses.is_dataclass(value):
            _check_fields(value, key + ".")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{key}={value}: must be a finite number")
        if f.name in _FIELD_CHECKS and isinstance(value, (int, float)):
            test, allowed = _FIELD_CHECKS[f.name]
            if not test(value):
                raise ConfigError(f"{key}={value}: must be {allowed}")
        if f.name in _FIELD_WORDS and value not in _FIELD_WORDS[f.name]:
            raise ConfigError(f"{key}={value}: must be one of {', '.join(_FIELD_WORDS[f.name])}")


def _check_choice_names(cfg: Config) -> None:
    for group, choices in GROUPS.items():
        name = getattr(cfg, group).name
        if name not in choices:
            raise ConfigError(f"{group}.name={name}: must be one of {', '.join(choices)}")


def batch_size_of(value: Any) -> int:
    """The batch size as an int, 0 meaning full batch; raises ConfigError on anything else."""
    if isinstance(value, str) and value.strip().lower() == "full":
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(f"batch_size={value}: must be a positive integer, or full (or 0)")
    try:
        size = int(value)
    except ValueError:
        raise ConfigError(
            f"batch_size={value}: must be a positive integer, or full (or 0)"
        ) from None
    if size < 0:
        raise ConfigError(f"batch_size={value}: must be a positive integer, or full (or 0)")
    return size


def validate(cfg: Config) -> Config:
    """Check what the types cannot; raise ConfigError naming the key and what is allowed."""
    _check_choice_names(cfg)
    _check_fields(cfg, "")
    batch_size_of(cfg.batch_size)
    if isinstance(cfg.model, Mlp):
        widths = list(cfg.model.widths)
        if not widths or any(not isinstance(w, int) or w < 1 for w in widths):
            raise ConfigError(
                f"model.widths={widths}: must be a non-empty list of positive integers "
                "(model=linear has no hidden layer)"
            )
    if cfg.optimizer.name == "lstsq":
        _check_closed_form(cfg)
    if cfg.objective not in SUMMARY_OBJECTIVES:
        allowed = ", ".join(SUMMARY_OBJECTIVES)
        raise ConfigError(f"objective={cfg.objective}: must be one of {allowed}")
    return cfg


LINEAR_IN_FEATURES = ("linear", "polynomial", "random_features")


def _check_closed_form(cfg: Config) -> None:
    if cfg.model.name not in LINEAR_IN_FEATURES:
        raise ConfigError(
            f"optimizer=lstsq: needs a model linear in its features "
            f"({', '.join(LINEAR_IN_FEATURES)}), not model={cfg.model.name}"
        )
    if cfg.loss.name != "mse":
        raise ConfigError(f"optimizer=lstsq: solves least squares, needs loss=mse, "
                          f"not loss={cfg.loss.name}")
    if cfg.regularizer.name not in ("none", "l2"):
        raise ConfigError(f"optimizer=lstsq: takes regularizer=none or l2 (ridge), "
                          f"not regularizer={cfg.regularizer.name}")


SUMMARY_OBJECTIVES = (
    "best_val_loss", "final_val_loss", "final_train_loss", "test_loss", "best_val_error",
    "test_error",
)


# ------------------------------------------------------------------ static vs traced numbers
TRACED_GROUPS = (
    "model", "init", "activation", "normalization", "regularizer", "optimizer", "schedule",
    "loss",
)
# A zero here switches a piece of the program off, so zero and non-zero compile differently.
ZERO_IS_STATIC = (
    "model.input_dropout", "model.hidden_dropout", "optimizer.weight_decay",
    "optimizer.clip_norm",
)


def _walk_floats(node: Any, prefix: str):
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk_floats(value, f"{prefix}{f.name}.")
        elif isinstance(value, float) or (value is None and f.type in ("float", float)):
            yield f"{prefix}{f.name}", value


def traced_values(cfg: Config) -> dict[str, float]:
    """The numbers of ``cfg`` that become traced arrays, by dotted path."""
    values = {}
    for group in TRACED_GROUPS:
        for path, value in _walk_floats(getattr(cfg, group), f"{group}."):
            if not (path in ZERO_IS_STATIC and value == 0.0):
                values[path] = value
    return values


def with_values(cfg: Config, values: dict[str, Any]) -> Config:
    """A copy of ``cfg`` with the fields at the given dotted paths replaced (by arrays, say)."""
    nested: dict[str, dict] = {}
    for path, value in values.items():
        head, _, rest = path.partition(".")
        nested.setdefault(head, {})[rest] = value
    changes = {}
    for head, sub in nested.items():
        if "" in sub:
            changes[head] = sub[""]
        else:
            changes[head] = with_values(getattr(cfg, head), sub)
    return dataclasses.replace(cfg, **changes)


def static_signature(cfg: Config) -> str:
    """Everything that decides the compiled program's shapes and code, as a stable string."""
    blank = with_values(cfg, {path: None for path in traced_values(cfg)})
    blank = dataclasses.replace(blank, seed=0, objective="", progress=False, save_params=False)
    return json.dumps(dataclasses.asdict(blank), sort_keys=True, default=str)


def compose(overrides: list[str] = ()) -> Config:
    """The validated config that ``train OVERRIDES`` would run, built without a command line
    (for tests, experiments and tools). Bad overrides raise ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    register_configs()
    try:
        with initialize_config_module("trainlab.conf", version_base="1.3"):
            cfg = hydra_compose("config", overrides=list(overrides))
        return validate(OmegaConf.to_object(cfg))
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(" ".join(str(error).split())) from None
