"""``train(cfg) -> summary``: build the pieces, run the compiled program, write the records.

Plain Python, callable without Hydra: the ``train`` command is a thin shell around it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import DictConfig, OmegaConf

from trainlab import records, report
from trainlab.config import Config, ConfigError, batch_size_of, traced_values, validate
from trainlab.data import Dataset, load_dataset
from trainlab.nn import mlp
from trainlab.objectives import n_outputs
from trainlab.program import Program, Shapes, program_for

PROBE_SIZE = 256  # samples of the fixed batch the diagnostics look at


@dataclass
class Outcome:
    """What the program returns for a group of trials, on the host."""

    history: dict[str, np.ndarray]  # name -> (trials, epochs + 1)
    params_init: dict
    params_final: dict
    params_best: dict | None
    best_epoch: np.ndarray
    stopped: np.ndarray
    diverged: np.ndarray
    test: dict[str, np.ndarray]
    compile_s: float
    run_s: float
    steps: np.ndarray


def to_config(cfg: DictConfig | Config) -> Config:
    """A validated, plain-dataclass config (what every function below takes)."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_object(cfg)
    return validate(cfg)


def use_dtype(dtype: str) -> None:
    """float64 needs JAX's x64 mode, switched on before any array is made."""
    jax.config.update("jax_enable_x64", dtype == "float64")


def shapes_of(cfg: Config, data: Dataset) -> Shapes:
    """Check the data against the config and describe it for the program."""
    n_train = data.x_train.shape[0]
    if data.task == "surface":
        return Shapes("surface", 2, 2, 0, 1, 1)
    size = batch_size_of(cfg.batch_size) or n_train
    if size > n_train:
        raise ConfigError(
            f"batch_size={size}: larger than the {n_train} training samples "
            "(use batch_size=full for full-batch gradient descent)"
        )
    if data.task == "regression" and cfg.loss.name != "mse":
        raise ConfigError(f"loss={cfg.loss.name}: a regression task takes loss=mse")
    if cfg.loss.name == "bce" and data.n_classes != 2:
        raise ConfigError(f"loss=bce: needs two classes, data has {data.n_classes}")
    if cfg.model.name == "polynomial" and data.x_train.shape[1] != 1:
        raise ConfigError(
            f"model=polynomial: needs 1-D inputs, data has {data.x_train.shape[1]} features"
        )
    if cfg.early_stopping.enabled and data.x_val.shape[0] == 0:
        raise ConfigError(
            "early_stopping.enabled=true: needs a validation split (data.val_fraction > 0)"
        )
    n_targets = data.y_train.shape[1] if data.task == "regression" else 0
    n_out = n_outputs(cfg.loss.name, data.n_classes, n_targets)
    return Shapes(data.task, data.x_train.shape[1], n_out, data.n_classes, n_train, size)


def device_data(data: Dataset, dtype: str) -> dict:
    """The arrays the program takes, on the device; the probe is a fixed slice of train."""
    def put(x, y):
        return jnp.asarray(x, dtype), jnp.asarray(y)

    return {
        "train": put(data.x_train, data.y_train),
        "val": put(data.x_val, data.y_val),
        "test": put(data.x_test, data.y_test),
        "probe": jnp.asarray(data.x_train[:PROBE_SIZE], dtype),
    }


def _host(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def execute(
    program: Program, values: dict[str, np.ndarray], seeds: np.ndarray, data: dict,
    *, progress: bool = True, label: str = "training",
) -> Outcome:
    """Train every trial (a row of ``values`` and ``seeds``) together, epoch by epoch."""
    epochs = program.cfg.epochs
    values = {k: jnp.asarray(v, program.cfg.dtype) for k, v in values.items()}
    seeds = jnp.asarray(seeds, jnp.int32)
    start = time.perf_counter()
    compiled = program.compile(values, seeds, data)
    compile_s = time.perf_counter() - start

    start = time.perf_counter()
    carry = compiled.init(values, seeds, data)
    params_init = _host(carry.net.params)
    rows = [compiled.evaluate(values, seeds, carry, data)]
    with report.epoch_progress(epochs, label, enabled=progress) as advance:
        for epoch in range(1, epochs + 1):
            carry, row = compiled.epoch(values, seeds, carry, jnp.int32(epoch), data)
            rows.append(row)
            advance(row["train_loss"])
        final_net, test = compiled.final(values, seeds, carry, data)
        jax.block_until_ready(final_net)
    run_s = time.perf_counter() - start

    history = {name: np.stack([np.asarray(r[name]) for r in rows], axis=1) for name in rows[0]}
    keep_best = program.keep_best
    return Outcome(
        history=history,
        params_init=params_init,
        params_final=_host(final_net.params),
        params_best=_host(carry.best.params) if keep_best else None,
        best_epoch=np.asarray(carry.best_epoch),
        stopped=np.asarray(carry.stopped),
        diverged=np.asarray(carry.diverged),
        test=_host(test),
        compile_s=compile_s,
        run_s=run_s,
        steps=np.asarray(carry.step),
    )


def trial_values(cfgs: list[Config]) -> tuple[dict[str, np.ndarray], np.ndarray, list[int]]:
    """Stack the traced numbers of several configs (one row per trial, seeds expanded)."""
    values: dict[str, list[float]] = {}
    seeds: list[int] = []
    owners: list[int] = []
    for job, cfg in enumerate(cfgs):
        for offset in range(cfg.seeds):
            for path, value in traced_values(cfg).items():
                values.setdefault(path, []).append(value)
            seeds.append(cfg.seed + offset)
            owners.append(job)
    return {k: np.asarray(v) for k, v in values.items()}, np.asarray(seeds), owners


def _select(tree, index):
    return jax.tree_util.tree_map(lambda a: a[index], tree)


def summarize(cfg: Config, outcome: Outcome, rows: slice | np.ndarray, overrides: list[str],
              n_params: int) -> tuple[dict, "records.pd.DataFrame"]:
    """The metrics table and summary of one job (its trials are ``rows`` of the outcome)."""
    index = np.arange(len(outcome.steps))[rows]
    seeds = [cfg.seed + i for i in range(len(index))]
    history = {k: v[index] for k, v in outcome.history.items()}
    table = records.metrics_table(history, seeds)
    per_seed = []
    for i, trial in enumerate(index):
        status = ("diverged" if outcome.diverged[trial]
                  else "stopped_early" if outcome.stopped[trial] else "ok")
        test = {k: v[trial] for k, v in outcome.test.items()}
        per_seed.append(records.seed_summary(
            table[table.seed == seeds[i]], int(outcome.best_epoch[trial]), status, test
        ))
    summary = records.combine_seeds(per_seed)
    steps = float(outcome.steps[index].max())
    summary |= {
        "n_params": n_params,
        "wall_s": outcome.compile_s + outcome.run_s,
        "compile_s": outcome.compile_s,
        "steps_per_s": steps / outcome.run_s if outcome.run_s > 0 else float("nan"),
        "overrides": list(overrides),
        "seeds": seeds,
    }
    if len(per_seed) > 1:
        summary["per_seed"] = per_seed
    return summary, table


def write_run(out_dir: Path, cfg: Config, outcome: Outcome, trial: int, summary: dict,
              table) -> None:
    """The files of the run contract, ``summary.json`` last."""
    if cfg.save_params and outcome.params_init.get("layers") is not None:
        for name, params in (("init", outcome.params_init), ("final", outcome.params_final),
                             ("best", outcome.params_best)):
            if params is not None:
                records.write_npz(mlp.flat_arrays(_select(params, trial)),
                                  out_dir / f"params_{name}.npz")
    records.write_csv(table, out_dir / "metrics.csv")
    records.write_json(summary, out_dir / "summary.json")


def train(cfg: Config | DictConfig, out_dir: Path | str | None = None,
          overrides: list[str] = ()) -> dict:
    """Train the config's seeds together, write the run's files into ``out_dir`` (if given),
    print a summary table, and return the summary."""
    cfg = to_config(cfg)
    use_dtype(cfg.dtype)
    data = load_dataset(cfg.data, cfg.dtype)
    shapes = shapes_of(cfg, data)
    program = program_for(cfg, shapes)
    values, seeds, _ = trial_values([cfg])
    outcome = execute(program, values, seeds, device_data(data, cfg.dtype),
                      progress=cfg.progress)
    n_params = (mlp.n_params(_select(outcome.params_init, 0))
                if shapes.task != "surface" else 2)
    summary, table = summarize(cfg, outcome, slice(None), overrides, n_params)
    if out_dir is not None:
        write_run(Path(out_dir), cfg, outcome, 0, summary, table)
    report.print_summary(summary, title=f"trainlab: {_describe(cfg)}")
    return summary


def _describe(cfg: Config) -> str:
    model = (f"mlp {list(cfg.model.widths)}" if cfg.model.name == "mlp"
             else f"polynomial degree {cfg.model.degree}")
    if cfg.data.name == "surface":
        return f"{cfg.data.function} surface, {cfg.optimizer.name} lr={cfg.optimizer.lr:g}"
    return (f"{cfg.data.name}, {model}, {cfg.activation.name}, {cfg.init.name} init, "
            f"{cfg.optimizer.name} lr={cfg.optimizer.lr:g}, {cfg.epochs} epochs")


def train_from_hydra(cfg: DictConfig) -> float:
    """The body of the Hydra app: train into the job directory, return the objective."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    summary = train(cfg, hydra_cfg.runtime.output_dir, list(hydra_cfg.overrides.task))
    return records.objective_value(summary, cfg.objective)
