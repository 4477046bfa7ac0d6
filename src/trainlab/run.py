"""``train(cfg) -> summary``: build the pieces, run the compiled program, write the records.

Plain Python, callable without Hydra: the ``train`` command is a thin shell around it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from omegaconf import DictConfig, OmegaConf

from trainlab import diagnostics, fingerprint, records, report
from trainlab.config import (
    Config,
    ConfigError,
    batch_size_of,
    static_signature,
    traced_values,
    validate,
)
from trainlab.data import Dataset, load_dataset
from trainlab.nn import mlp
from trainlab.objectives import n_outputs
from trainlab.program import Program, Shapes, program_for
from trainlab.report import loggers

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
    state_init: dict | None = None  # BatchNorm running statistics beside each params
    state_final: dict | None = None
    state_best: dict | None = None
    params_average: dict | None = None  # Polyak averaging (param_average > 0)


def to_config(cfg: DictConfig | Config) -> Config:
    """A validated, plain-dataclass config (what every function below takes)."""
    if isinstance(cfg, DictConfig):
        cfg = OmegaConf.to_object(cfg)
    cfg = validate(cfg)
    loggers.check(cfg.logger)  # a logger's missing package: one line now, not after training
    return cfg


def use_dtype(dtype: str) -> None:
    """float64 needs JAX's x64 mode, switched on before any array is made."""
    jax.config.update("jax_enable_x64", dtype == "float64")


def use_compilation_cache() -> None:
    """Keep compiled programs on disk (beside the dataset cache), so that a later process
    running the same shapes - a rerun, a figure, a test - loads instead of compiling."""
    if jax.config.jax_compilation_cache_dir is None:
        jax.config.update("jax_compilation_cache_dir", str(records.cache_dir() / "jax"))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)


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


def _carry_resharded(fn):
    """``fn`` moving its carry (third argument) to the sharding it was compiled for first:
    the carry is lowered without one, so XLA may pick another than the previous call's."""
    want = fn.input_shardings[0][2]
    return lambda values, seeds, carry, *rest: fn(values, seeds, jax.device_put(carry, want),
                                                  *rest)


def execute(
    program: Program, values: dict[str, np.ndarray], seeds: np.ndarray, data: dict,
    *, progress: bool = True, label: str = "training", mesh: jax.sharding.Mesh | None = None,
) -> Outcome:
    """Train every trial (a row of ``values`` and ``seeds``) together, epoch by epoch; with a
    ``mesh``, the trial axis is split over its devices and the data copied to each."""
    epochs = program.cfg.epochs
    values = {k: jnp.asarray(v, program.cfg.dtype) for k, v in values.items()}
    seeds = jnp.asarray(seeds, jnp.int32)
    if mesh is not None:
        spec = jax.sharding.PartitionSpec
        trials = jax.sharding.NamedSharding(mesh, spec(mesh.axis_names[0]))
        values, seeds = jax.device_put((values, seeds), trials)
        data = jax.device_put(data, jax.sharding.NamedSharding(mesh, spec()))
    start = time.perf_counter()
    compiled = program.compile(values, seeds, data)
    compile_s = time.perf_counter() - start
    if mesh is not None:
        compiled = compiled._replace(**{name: _carry_resharded(getattr(compiled, name))
                                        for name in ("train", "evaluate", "final")})

    start = time.perf_counter()
    carry = compiled.init(values, seeds, data)
    params_init, state_init = _host(carry.net.params), _host(carry.net.state)
    carry, row = compiled.evaluate(values, seeds, carry, jnp.int32(0), compiled.no_running, data)
    rows = [row]
    elapsed = [time.perf_counter() - start]
    with report.epoch_progress(epochs, label, enabled=progress) as advance:
        for epoch in range(1, epochs + 1):
            carry, running = compiled.train(values, seeds, carry, jnp.int32(epoch), data)
            carry, row = compiled.evaluate(values, seeds, carry, jnp.int32(epoch), running, data)
            rows.append(row)
            # Waiting for each epoch costs one dispatch latency, and gives the time column.
            jax.block_until_ready(row["train_loss"])
            elapsed.append(time.perf_counter() - start)
            advance(row["train_loss"])
        final_net, test = compiled.final(values, seeds, carry, data)
        jax.block_until_ready(final_net)
    run_s = time.perf_counter() - start

    history = {name: np.stack([np.asarray(r[name]) for r in rows], axis=1) for name in rows[0]}
    history["time_s"] = np.broadcast_to(np.asarray(elapsed), history["step"].shape).copy()
    for name in [n for n, v in history.items() if v.ndim == 3]:  # a vector a row: histograms
        stat, _, layer = name.partition("/")
        vectors = history.pop(name)
        history |= {f"{stat}_{b:02d}/{layer}": vectors[..., b] for b in range(vectors.shape[-1])}
    keep_best = program.keep_best
    return Outcome(
        history=history,
        params_init=params_init,
        params_final=_host(final_net.params),
        params_best=_host(carry.best.params) if keep_best else None,
        state_init=state_init,
        state_final=_host(final_net.state),
        state_best=_host(carry.best.state) if keep_best else None,
        params_average=_host(carry.average) if program.averaging else None,
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
              n_params: int) -> tuple[dict, records.pd.DataFrame]:
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
        per_seed[-1] |= {k: float(v) for k, v in test.items() if k.startswith("test_avg_")}
    summary = records.combine_seeds(per_seed)
    steps = float(outcome.steps[index].max())
    summary |= {
        "n_params": n_params,
        "wall_s": outcome.compile_s + outcome.run_s,
        "compile_s": outcome.compile_s,
        "steps_per_s": steps / outcome.run_s if outcome.run_s > 0 else float("nan"),
        "overrides": list(overrides),
        "seeds": seeds,
        "config_hash": fingerprint.config_hash(cfg),  # lets a rerun sweep skip this job
    }
    if len(per_seed) > 1:
        summary["per_seed"] = per_seed
    return summary, table


def write_run(out_dir: Path, cfg: Config, outcome: Outcome, trial: int, summary: dict,
              table) -> None:
    """The files of the run contract, ``summary.json`` last."""
    if cfg.save_params and outcome.params_init.get("layers") is not None:
        for name, params, state in (
            ("init", outcome.params_init, outcome.state_init),
            ("final", outcome.params_final, outcome.state_final),
            ("best", outcome.params_best, outcome.state_best),
            ("average", outcome.params_average, outcome.state_final),
        ):
            if params is None:
                continue
            arrays = mlp.flat_arrays(_select(params, trial))
            if state is not None:  # BatchNorm's running mean and var: layers.<i>.mean, .var
                arrays |= mlp.flat_arrays(_select(state, trial))
            records.write_npz(arrays, out_dir / f"params_{name}.npz")
    if cfg.diagnostics == "full":  # histograms in a long table of their own
        table, histograms = diagnostics.split_histograms(table, diagnostics.histogram_edges(cfg))
        records.write_csv(histograms, out_dir / "histograms.csv")
    records.write_csv(table, out_dir / "metrics.csv")
    loggers.log_run(cfg.logger, out_dir, table, summary)  # logger=tensorboard, mlflow
    records.write_json(summary, out_dir / "summary.json")


@dataclass
class Job:
    """One run to do: its config, where its files go (None: nowhere), its command line."""

    cfg: Config
    out_dir: Path | None = None
    overrides: list[str] = field(default_factory=list)


def group_jobs(jobs: list[Job]) -> dict[str, list[int]]:
    """Indices of the jobs that can share one compiled program, by static signature."""
    groups: dict[str, list[int]] = {}
    for index, job in enumerate(jobs):
        groups.setdefault(static_signature(job.cfg), []).append(index)
    return groups


def _pad(values: dict[str, np.ndarray], seeds: np.ndarray, size: int):
    """Repeat the last trial so every chunk has the same shape (and the same executable)."""
    missing = size - len(seeds)
    if missing == 0:
        return values, seeds
    pad = lambda a: np.concatenate([a, np.repeat(a[-1:], missing, axis=0)])  # noqa: E731
    return {k: pad(v) for k, v in values.items()}, pad(seeds)


def _concat(outcomes: list[Outcome], keep: list[int]) -> Outcome:
    """One outcome from the chunks' outcomes, the first ``keep[i]`` trials of chunk i."""
    def cat(*trees):
        return jax.tree_util.tree_map(
            lambda *a: np.concatenate([x[:k] for x, k in zip(a, keep)]), *trees
        )

    first = outcomes[0]
    return Outcome(
        history=cat(*[o.history for o in outcomes]),
        params_init=cat(*[o.params_init for o in outcomes]),
        params_final=cat(*[o.params_final for o in outcomes]),
        params_best=cat(*[o.params_best for o in outcomes]) if first.params_best else None,
        state_init=cat(*[o.state_init for o in outcomes]),
        state_final=cat(*[o.state_final for o in outcomes]),
        state_best=cat(*[o.state_best for o in outcomes]) if first.state_best else None,
        params_average=(cat(*[o.params_average for o in outcomes]) if first.params_average
                        else None),
        best_epoch=cat(*[o.best_epoch for o in outcomes]),
        stopped=cat(*[o.stopped for o in outcomes]),
        diverged=cat(*[o.diverged for o in outcomes]),
        test=cat(*[o.test for o in outcomes]),
        compile_s=sum(o.compile_s for o in outcomes),
        run_s=sum(o.run_s for o in outcomes),
        steps=cat(*[o.steps for o in outcomes]),
    )


def run_group(jobs: list[Job], *, chunk_size: int = 0, progress: bool = True,
              label: str = "training", mesh: jax.sharding.Mesh | None = None,
              ) -> list[tuple[dict, records.pd.DataFrame, Outcome]]:
    """Train jobs of one static signature together: their trials (seeds x traced numbers)
    in chunks of ``chunk_size`` (0: all at once), every chunk through the same executable,
    its trial axis split over the devices of ``mesh`` (chunks padded to a multiple of them).
    Returns (summary, metrics table, outcome) per job, and writes each job's files."""
    cfgs = [job.cfg for job in jobs]
    lead = cfgs[0]
    use_dtype(lead.dtype)
    use_compilation_cache()
    data = load_dataset(lead.data, lead.dtype)
    shapes = shapes_of(lead, data)
    program = program_for(lead, shapes)
    arrays = device_data(data, lead.dtype)
    values, seeds, owners = trial_values(cfgs)
    size = chunk_size or len(seeds)
    n_devices = mesh.devices.size if mesh is not None else 1
    padded = -(-(size if chunk_size else len(seeds)) // n_devices) * n_devices
    outcomes, keep = [], []
    for start in range(0, len(seeds), size):
        part = slice(start, start + size)
        chunk_values, chunk_seeds = _pad({k: v[part] for k, v in values.items()}, seeds[part],
                                         padded)
        outcomes.append(execute(program, chunk_values, chunk_seeds, arrays,
                                progress=progress, label=label, mesh=mesh))
        keep.append(len(seeds[part]))
    outcome = outcomes[0] if keep == [len(outcomes[0].steps)] else _concat(outcomes, keep)
    n_params = (mlp.n_params(_select(outcome.params_init, 0))
                if shapes.task != "surface" else 2)
    owners = np.asarray(owners)
    results = []
    for index, job in enumerate(jobs):
        rows = np.flatnonzero(owners == index)
        summary, table = summarize(job.cfg, outcome, rows, job.overrides, n_params)
        if len(jobs) > 1:  # the group's time, shared out by trials
            share = len(rows) / len(seeds)
            summary["wall_s"] *= share
            summary["compile_s"] *= share
            summary["group_size"] = len(jobs)
        if job.out_dir is not None:
            write_run(Path(job.out_dir), job.cfg, outcome, int(rows[0]), summary, table)
        results.append((summary, table, outcome))
    return results


def train_many(jobs: list[Job], *, chunk_size: int = 0, progress: bool = True) -> list[dict]:
    """Train many jobs, each group of one static signature as one compiled program; returns
    the summaries in the order of ``jobs``."""
    summaries: list[dict | None] = [None] * len(jobs)
    groups = group_jobs(jobs)
    for number, indices in enumerate(groups.values(), start=1):
        label = f"group {number}/{len(groups)}" if len(groups) > 1 else "training"
        results = run_group([jobs[i] for i in indices], chunk_size=chunk_size,
                            progress=progress, label=label)
        for i, (summary, _, _) in zip(indices, results):
            summaries[i] = summary
    return summaries


def train(cfg: Config | DictConfig, out_dir: Path | str | None = None,
          overrides: list[str] = ()) -> dict:
    """Train the config's seeds together, write the run's files into ``out_dir`` (if given),
    print a summary table, and return the summary."""
    cfg = to_config(cfg)
    [(summary, _, _)] = run_group([Job(cfg, out_dir, list(overrides))], progress=cfg.progress)
    report.print_summary(summary, title=f"trainlab: {_describe(cfg)}")
    return summary


def _describe(cfg: Config) -> str:
    model = {"mlp": lambda m: f"mlp {list(m.widths)}", "linear": lambda m: "linear",
             "polynomial": lambda m: f"polynomial degree {m.degree}",
             "random_features": lambda m: f"{m.width} random features"}[cfg.model.name](cfg.model)
    if cfg.data.name == "surface":
        return f"{cfg.data.function} surface, {cfg.optimizer.name} lr={cfg.optimizer.lr:g}"
    return (f"{cfg.data.name}, {model}, {cfg.activation.name}, {cfg.init.name} init, "
            f"{cfg.optimizer.name} lr={cfg.optimizer.lr:g}, {cfg.epochs} epochs")


def train_from_hydra(cfg: DictConfig) -> float:
    """The body of the Hydra app: train into the job directory, return the objective. In a
    multirun, a job that already finished there with the same config (a sweep started again
    after a kill) is not trained again, whichever launcher runs it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    out_dir = hydra_cfg.runtime.output_dir
    if hydra_cfg.mode == RunMode.MULTIRUN:
        done = fingerprint.finished_summary(out_dir, to_config(cfg))
        if done is not None:
            return records.objective_value(done, cfg.objective)
    summary = train(cfg, out_dir, list(hydra_cfg.overrides.task))
    return records.objective_value(summary, cfg.objective)
