"""The trials a doctor runs before a run: variants of the config ``train`` would run, built with
``dataclasses.replace`` / ``config.with_values`` and trained through ``plan.train_many``, which
puts every variant of one static signature into one compiled, vmapped program.

    short     the config itself at its own lr, its regularization off (kappa = 0), and the lr
              range test: ``lr_grid`` log-spaced lrs, all for the same few optimizer steps and
              seeds. The lr and kappa are traced numbers, so these are all trials of ONE
              program. (A regularizer without a kappa - max_norm, a constraint - adds nothing
              to the initial objective and gets no "off" trial: turning it off would be
              another choice, another static signature, another program.)
    overfit   the first 20 training samples, full batch, no penalty, dropout or weight decay,
              at the config's lr and at 10x and 1/10 of it: another data shape and another
              signature, so a second program.
    gradient  the float64 gradient check of the config's objective (gradcheck.run_config).

Each trial writes the run files (metrics.csv, summary.json) into ``OUT/runs/<name>``, and the
checks read them back: the initial loss is metrics.csv's epoch-0 ``train_loss`` (and the
penalty is in ``train_objective``), not a recomputation.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trainlab.config import GROUPS, Config, ConfigError, batch_size_of

OVERFIT_LR_FACTORS = (1.0, 10.0, 0.1)  # the config's lr first


@dataclass(frozen=True)
class Budget:
    """How much the doctor trains: the defaults take about a minute on a laptop CPU."""

    seeds: int = 3  # every trial's replicates (the lr range test's bands)
    lr_min: float = 1e-5
    lr_max: float = 10.0
    per_decade: int = 3  # lrs of the range test per factor 10
    range_steps: int = 100  # optimizer steps of each lr range trial (at least 2 epochs)
    overfit_samples: int = 20
    overfit_steps: int = 300  # full-batch steps on the small subset
    lr_range: bool = True
    overfit: bool = True
    gradcheck: bool = True

    def check(self) -> None:
        if self.seeds < 1 or self.per_decade < 1 or self.range_steps < 1 \
                or self.overfit_steps < 1:
            raise ConfigError("--seeds, --per-decade, --steps, --overfit-steps: must be >= 1")
        if not 0 < self.lr_min < self.lr_max:
            raise ConfigError(f"--lr-min {self.lr_min:g}, --lr-max {self.lr_max:g}: need "
                              "0 < lr-min < lr-max")
        if self.overfit_samples < 2:
            raise ConfigError(f"--overfit-samples {self.overfit_samples}: must be >= 2")


@dataclass
class DataFacts:
    """What the checks need to know of the data: its task, its classes, the mean square of
    its targets (what mse scores at outputs ~0), and the steps of an epoch."""

    task: str
    n_classes: int
    n_train: int
    steps_per_epoch: int
    target_square: float  # mean over samples and outputs of target^2, as mse compares them
    target_variance: float  # regression: mean over outputs of the targets' variance
    prior: list[float]  # classification: the training split's class frequencies
    widths: list[int]


@dataclass
class Measurements:
    """What the trials measured, as the run files hold it."""

    cfg: Config
    facts: DataFacts
    budget: Budget
    own: pd.DataFrame  # metrics.csv of the config at its own lr (the short run)
    off: pd.DataFrame | None  # the same with the penalty's kappa at 0; None: no kappa
    lr_range: pd.DataFrame | None  # metrics of every lr range trial, with an ``lr_value`` column
    overfit: pd.DataFrame | None  # metrics of the subset trials, with ``lr_factor``
    gradcheck: list | None  # gradcheck.GroupResult per parameter group
    out_dir: Path | None = None
    programs: dict[str, int] = field(default_factory=dict)  # compiled programs per part


# ----------------------------------------------------------------------------- variants
def lr_grid(budget: Budget) -> np.ndarray:
    """Log-spaced lrs from lr_min to lr_max, ``per_decade`` a factor 10 (ends included)."""
    decades = math.log10(budget.lr_max / budget.lr_min)
    n = max(2, round(decades * budget.per_decade) + 1)
    return np.geomspace(budget.lr_min, budget.lr_max, n)


def has_kappa(cfg: Config) -> bool:
    return any(f.name == "kappa" for f in dataclasses.fields(cfg.regularizer))


def penalty_off(cfg: Config) -> Config:
    """Regularization off without changing the program where it can: kappa = 0 is a traced
    number; a regularizer without a kappa becomes regularizer=none (another signature)."""
    if has_kappa(cfg):
        return dataclasses.replace(cfg, regularizer=dataclasses.replace(cfg.regularizer,
                                                                        kappa=0.0))
    if cfg.regularizer.name == "none":
        return cfg
    return dataclasses.replace(cfg, regularizer=GROUPS["regularizer"]["none"]())


def _quiet(cfg: Config, **changes) -> Config:
    """A doctor's trial: no early stopping (a fixed budget), no logger, no params files."""
    logger = GROUPS["logger"]["none"]()
    return dataclasses.replace(
        cfg, early_stopping=dataclasses.replace(cfg.early_stopping, enabled=False),
        logger=logger, save_params=False, progress=False, gradcheck=False,
        train_metrics="eval", **changes)


def short_config(cfg: Config, budget: Budget, facts: DataFacts) -> Config:
    """The config for the short runs: ``range_steps`` optimizer steps, at least 2 epochs (the
    update ratios are read after the first), every diagnostic on."""
    epochs = max(2, math.ceil(budget.range_steps / facts.steps_per_epoch))
    return _quiet(cfg, epochs=epochs, seeds=budget.seeds, diagnostics="default")


def with_lr(cfg: Config, lr: float) -> Config:
    return dataclasses.replace(cfg, optimizer=dataclasses.replace(cfg.optimizer, lr=float(lr)))


def overfit_config(cfg: Config, budget: Budget, facts: DataFacts) -> Config:
    """The lecture's "overfit a small subset": the first samples, full batch, nothing that
    holds the net back (penalty, dropout, weight decay), ``overfit_steps`` steps."""
    samples = min(budget.overfit_samples, facts.n_train)
    if cfg.data.train_size:
        samples = min(samples, cfg.data.train_size)
    off = penalty_off(cfg)
    return _quiet(
        off, data=dataclasses.replace(cfg.data, train_size=samples), batch_size="full",
        epochs=budget.overfit_steps, seeds=budget.seeds, diagnostics="off",
        model=dataclasses.replace(cfg.model, input_dropout=0.0, hidden_dropout=0.0),
        optimizer=dataclasses.replace(cfg.optimizer, decoupled_decay=0.0),
    )


# ------------------------------------------------------------------------------ the data
def data_facts(cfg: Config) -> DataFacts:
    """Load the data once (it is cached) for the facts the checks compare against."""
    from trainlab.data import load_dataset

    if cfg.data.name == "surface":
        raise ConfigError("data=surface: the doctor checks networks that learn from samples; "
                          "a surface run has no data loss to check")
    data = load_dataset(cfg.data, cfg.dtype)
    n_train = len(data.x_train)
    size = batch_size_of(cfg.batch_size) or n_train
    if size > n_train:
        raise ConfigError(f"batch_size={size}: larger than the {n_train} training samples "
                          "(use batch_size=full for full-batch gradient descent)")
    y = np.asarray(data.y_train, float)
    variance, prior = 0.0, []
    if data.task == "regression":
        variance, square = float(np.mean(y.var(axis=0))), float(np.mean(y**2))
    else:
        prior = (np.bincount(data.y_train, minlength=data.n_classes) / n_train).tolist()
        one_output = cfg.loss.n_outputs(data.n_classes, 0) == 1  # a 0/1 target
        square = float(np.mean(y)) if one_output else 1.0 / data.n_classes  # one-hot: one 1
    return DataFacts(data.task, data.n_classes, n_train, n_train // size, square, variance,
                     prior, cfg.model.hidden_widths())


# ------------------------------------------------------------------------------ training
def _metrics(job_dir: Path) -> pd.DataFrame:
    return pd.read_csv(job_dir / "metrics.csv")


def measure(cfg: Config, budget: Budget, out_dir: Path, overrides: list[str] = (),
            facts: DataFacts | None = None, progress: bool = False) -> Measurements:
    """Run the doctor's trials for ``cfg`` (a composed config) into ``out_dir/runs``."""
    from trainlab import plan

    budget.check()
    facts = facts or data_facts(cfg)
    runs = Path(out_dir) / "runs"
    base = list(overrides)
    gradient = cfg.optimizer.solver == "gradient"

    short = short_config(cfg, budget, facts)
    noted = [*base, f"epochs={short.epochs}", f"seeds={short.seeds}"]
    jobs = {"own": plan.Job(short, runs / "own", noted)}
    if has_kappa(cfg) and cfg.regularizer.kappa > 0:
        jobs["off"] = plan.Job(penalty_off(short), runs / "off",
                               [*noted, "regularizer.kappa=0"])
    grid = lr_grid(budget) if budget.lr_range and gradient else np.array([])
    for i, lr in enumerate(grid):
        jobs[f"lr_{i:02d}"] = plan.Job(with_lr(short, lr), runs / f"lr_{i:02d}",
                                       [*noted, f"optimizer.lr={lr:.3g}"])
    if budget.overfit:
        fit = overfit_config(cfg, budget, facts)
        factors = OVERFIT_LR_FACTORS if gradient else (1.0,)
        for factor in factors:
            jobs[f"overfit_x{factor:g}"] = plan.Job(
                with_lr(fit, cfg.optimizer.lr * factor), runs / f"overfit_x{factor:g}",
                [*base, f"data.train_size={fit.data.train_size}", "batch_size=full",
                 f"epochs={fit.epochs}", f"optimizer.lr={cfg.optimizer.lr * factor:.3g}"])

    groups = plan.group_jobs(list(jobs.values()))
    plan.train_many(list(jobs.values()), progress=progress)

    lr_range = None
    if len(grid):
        parts = [_metrics(runs / f"lr_{i:02d}").assign(lr_value=lr) for i, lr in enumerate(grid)]
        lr_range = pd.concat(parts, ignore_index=True)
    overfit = None
    if budget.overfit:
        overfit = pd.concat([_metrics(runs / name).assign(lr_factor=float(name[len("overfit_x"):]))
                             for name in jobs if name.startswith("overfit_")], ignore_index=True)
    results = None
    if budget.gradcheck:
        from trainlab import gradcheck

        results = gradcheck.run_config(cfg)
    programs = {"training": len(groups), "gradient check": int(budget.gradcheck)}
    return Measurements(cfg, facts, budget, _metrics(runs / "own"),
                        _metrics(runs / "off") if "off" in jobs else None, lr_range, overfit,
                        results, Path(out_dir), programs)
