"""The typed schema of a run: one base class per config group, and the top-level ``Config``.

Each group's choices subclass its base here (``@choice`` in the module that gives them their
behaviour: optimizers.py, nn/activations.py, ...). A base holds the fields every choice of the
group shares, with their checks, and says what a choice must provide; it needs no JAX, so a
config can be read, checked and printed without it. docs/design.md shows how the pieces fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from omegaconf import MISSING

from trainlab.config.fields import at_least, fraction, non_negative, one_of, positive, rate, renamed


@dataclass
class Data:
    """Where the samples come from (datasets.py); data.py builds their arrays."""

    group: ClassVar[str] = "data"
    name: str = MISSING
    seed: int = 0  # data generation and splits; trials' seeds do not change the data
    val_fraction: float = rate(0.2, "a fraction")  # carved from train when there is no val split
    train_size: int = at_least(0, 0, " (0: all)")  # keep the first N training samples
    preprocessing: str = one_of("none", "center", "standardize")  # statistics of train only
    label_noise: float = fraction(0.0, "a fraction")  # training labels replaced by another class


@dataclass
class Model:
    """The network's shape (models.py): its hidden layers, its input features, and which of
    its layers train."""

    group: ClassVar[str] = "model"
    # Solvable in closed form: linear in features that do not train (optimizer=lstsq).
    linear_in_features: ClassVar[bool] = False
    name: str = MISSING
    input_dropout: float = rate(0.0, "a rate")  # inverted dropout, training only
    hidden_dropout: float = rate(0.0, "a rate")
    output_activation: str = one_of("linear", "sigmoid", "tanh")

    def hidden_widths(self) -> list[int]:
        return []

    def n_inputs(self, n_features: int) -> int:
        """Inputs of the first layer, for data of ``n_features`` features."""
        return n_features

    def features(self, x):
        """The network's input for samples ``x``: x itself unless the model makes features."""
        return x

    def trainable(self, n_layers: int) -> list[bool]:
        """Which of the ``n_layers`` layers the optimizer, penalty and constraint act on."""
        return [True] * n_layers

    def describe(self) -> str:
        """A few words for a run's title."""
        widths = self.hidden_widths()
        return f"{self.name} {widths}" if widths else self.name

    def check(self) -> None:
        """Raise ConfigError for values no single field's check can judge."""

    def check_data(self, n_features: int) -> None:
        """Raise ConfigError if the model cannot take data of ``n_features`` features."""


@dataclass
class Init:
    """How weight matrices start (nn/initializers.py); biases start at ``bias``."""

    group: ClassVar[str] = "init"
    name: str = MISSING
    gain: float = 1.0  # multiplies every weight matrix
    bias: float = 0.0  # the value of every bias


@dataclass
class Activation:
    """The hidden units' nonlinearity (nn/activations.py)."""

    group: ClassVar[str] = "activation"
    name: str = MISSING


@dataclass
class Normalization:
    """Normalization of each hidden layer (nn/normalization.py)."""

    group: ClassVar[str] = "normalization"
    name: str = "none"
    eps: float = positive(1e-5)
    position: str = one_of("before", "after")  # the activation

    def check(self, cfg: Config) -> None:
        """Raise ConfigError if this normalization cannot take ``cfg``'s layers."""


@dataclass
class Regularizer:
    """A penalty added to the loss, or a constraint after each update (regularizers.py);
    both act on the weight matrices of the layers that train, never on biases."""

    group: ClassVar[str] = "regularizer"
    name: str = "none"


@dataclass
class Optimizer:
    """An optax optimizer with injected hyperparameters (optimizers.py)."""

    group: ClassVar[str] = "optimizer"
    # How the parameters are found: "gradient" steps, or a "closed_form" solve of the output
    # layer (problems/closed_form.py).
    solver: ClassVar[str] = "gradient"
    name: str = MISSING
    lr: float = positive(0.1)
    # Decoupled from the gradient: w <- w - decoupled_decay * w after each step, not scaled by
    # lr. PyTorch's `weight_decay` couples (g += wd * w): that is regularizer=l2 here.
    decoupled_decay: float = non_negative(0.0)
    weight_decay: float | None = renamed(  # its name until 2026-12
        "decoupled_decay", "the same decay, decoupled from the gradient; PyTorch's coupled "
        "weight_decay is regularizer=l2 regularizer.kappa=...")
    clip_norm: float = non_negative(0.0, " (0: off)")  # clip the global gradient norm to this

    def check(self, cfg: Config) -> None:
        """Raise ConfigError if this optimizer cannot train ``cfg``."""


@dataclass
class Schedule:
    """The learning rate over time, t counted in epochs or steps (schedules.py)."""

    group: ClassVar[str] = "schedule"
    name: str = "constant"
    unit: str = one_of("epoch", "step")  # t counts epochs (lr changes between epochs) or steps


@dataclass
class Loss:
    """The data loss of a batch, and the predicted classes (losses.py)."""

    group: ClassVar[str] = "loss"
    regression: ClassVar[bool] = False  # can score real-valued targets
    name: str = MISSING


@dataclass
class Logger:
    """Where a run's tables go besides its csv/json files, always written (report/loggers.py)."""

    group: ClassVar[str] = "logger"
    module: ClassVar[str | None] = None  # the module that writes its files (None: nothing)
    name: str = MISSING

    def check(self) -> None:
        """Raise ConfigError now, before training, if this logger cannot write."""


@dataclass
class EarlyStopping:
    enabled: bool = False
    patience: int = at_least(10, 1)  # checks without improvement before stopping
    every: int = at_least(1, 1)  # check the validation loss every n epochs
    min_delta: float = 0.0  # an improvement must beat the best by more than this
    restore_best: bool = True


@dataclass
class Checkpoint:
    # Save the trials' carry (weights, optimizer state, keys, early stopping) and the metrics
    # so far every n epochs (0: never); `resume=true` (a sweep: always) continues from it.
    every: int = at_least(0, 0, " (0: no checkpoints)")


SUMMARY_OBJECTIVES = (
    "best_val_loss", "final_val_loss", "final_train_loss", "test_loss", "best_val_error",
    "test_error",
)


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
    seeds: int = at_least(1, 1)  # replicates seed, seed+1, ... trained together
    epochs: int = at_least(20, 1)
    batch_size: Any = 128  # an int, or "full" (or 0) for full-batch gradient descent
    early_stopping: EarlyStopping = field(default_factory=EarlyStopping)
    checkpoint: Checkpoint = field(default_factory=Checkpoint)
    resume: bool = False  # continue from the run directory's checkpoint (checkpoint.every)
    dtype: str = one_of("float32", "float64")
    diagnostics: str = one_of("default", "off", "full")
    # Train loss/acc of each epoch: "eval" = the whole training split in evaluation mode after
    # the epoch (exact; one more forward pass over it); "running" = the mean of the epoch's
    # mini-batch values as training computed them (free, but in training mode, mid-epoch).
    train_metrics: str = one_of("eval", "running")
    sparsity_threshold: float = non_negative(1e-3)  # diagnostics: |w| below it counts as zero
    objective: str = one_of(*SUMMARY_OBJECTIVES)  # the summary field a sweeper minimizes
    progress: bool = True  # a progress bar while training
    # Polyak averaging of the weights, an EMA over steps: avg = d avg + (1 - d) w (0: off);
    # reported as val_avg_* / test_avg_* and kept in params_average.npz
    param_average: float = rate(0.0, "a decay")
    gradcheck: bool = False  # instead of training: check gradients (as `trainlab gradcheck`)
    save_params: bool = True
