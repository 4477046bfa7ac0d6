"""What a chunk of trials leaves on the host, and how it becomes each job's files.

An ``Outcome`` holds every trial's history (one row per epoch), its nets by name (init, final,
best, average: each a (params, state) pair with a leading trial axis) and its end state.
``summarize`` makes one job's metrics table and summary from its trials' rows of it, and
``write_job`` writes the files of the run contract (docs/design.md), ``summary.json`` last.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from trainlab import diagnostics, fingerprint, records
from trainlab.config import Config
from trainlab.problems import Net


@dataclass
class Outcome:
    """What the program returns for a chunk of trials, on the host."""

    history: dict[str, np.ndarray]  # name -> (trials, epochs + 1)
    nets: dict[str, Net]  # init, final, and best (early stopping), average (param_average)
    best_epoch: np.ndarray
    stopped: np.ndarray
    diverged: np.ndarray
    steps: np.ndarray
    test: dict[str, np.ndarray]
    compile_s: float
    run_s: float


def select(tree, index):
    """The rows ``index`` of every array of ``tree`` (a trial, or several)."""
    return jax.tree_util.tree_map(lambda a: a[index], tree)


def concat(outcomes: list[Outcome], keep: list[int]) -> Outcome:
    """One outcome from the chunks' outcomes, the first ``keep[i]`` trials of chunk i."""
    if len(outcomes) == 1 and keep[0] == len(outcomes[0].steps):
        return outcomes[0]

    def cat(*trees):
        return jax.tree_util.tree_map(
            lambda *a: np.concatenate([x[:k] for x, k in zip(a, keep)]), *trees)

    fields = ("history", "nets", "best_epoch", "stopped", "diverged", "steps", "test")
    return Outcome(**{f: cat(*[getattr(o, f) for o in outcomes]) for f in fields},
                   compile_s=sum(o.compile_s for o in outcomes),
                   run_s=sum(o.run_s for o in outcomes))


def n_params(outcome: Outcome) -> int:
    return sum(leaf[0].size for leaf in jax.tree_util.tree_leaves(outcome.nets["init"].params))


def _status(outcome: Outcome, trial: int) -> str:
    return ("diverged" if outcome.diverged[trial]
            else "stopped_early" if outcome.stopped[trial] else "ok")


def trial_summaries(outcome: Outcome) -> list[dict]:
    """Every trial's summary fields (records.SEED_FIELDS, and the average's test metrics),
    read off the history arrays for all trials at once (what records.seed_summary reads off
    one seed's table)."""
    n_trials, n_rows = outcome.history["step"].shape
    trials = np.arange(n_trials)
    best = np.clip(outcome.best_epoch.astype(int), 0, n_rows - 1)

    def column(name: str) -> np.ndarray:
        return outcome.history.get(name, np.full((n_trials, n_rows), np.nan))

    fields = {
        "best_val_loss": column("val_loss")[trials, best],
        "best_val_acc": column("val_acc")[trials, best],
        "final_train_loss": column("train_loss")[:, -1],
        "final_train_acc": column("train_acc")[:, -1],
        "final_val_loss": column("val_loss")[:, -1],
        "final_val_acc": column("val_acc")[:, -1],
        "test_loss": outcome.test.get("test_loss", np.full(n_trials, np.nan)),
        "test_acc": outcome.test.get("test_acc", np.full(n_trials, np.nan)),
    } | {k: v for k, v in outcome.test.items() if k.startswith("test_avg_")}
    values = {k: np.asarray(v).astype(float).tolist() for k, v in fields.items()}
    return [{"status": _status(outcome, t), "best_epoch": int(best[t])}
            | {k: v[t] for k, v in values.items()} for t in range(n_trials)]


def summarize(cfg: Config, outcome: Outcome, rows: np.ndarray, overrides: list[str],
              per_trial: list[dict] | None = None) -> tuple[dict, records.pd.DataFrame | None]:
    """The summary of one job, whose trials are ``rows`` of the outcome, and its metrics
    table (None when ``per_trial``, the chunk's ``trial_summaries``, is given: the chunk's
    files are then written from one table, ``write_jobs``)."""
    seeds = [cfg.seed + i for i in range(len(rows))]
    table = None
    if per_trial is None:
        history = {k: v[rows] for k, v in outcome.history.items()}
        table = records.metrics_table(history, seeds)
        per_seed = []
        for i, trial in enumerate(rows):
            test = {k: v[trial] for k, v in outcome.test.items()}
            per_seed.append(records.seed_summary(
                table[table.seed == seeds[i]], int(outcome.best_epoch[trial]),
                _status(outcome, trial), test))
            per_seed[-1] |= {k: float(v) for k, v in test.items() if k.startswith("test_avg_")}
    else:
        per_seed = [per_trial[trial] for trial in rows]
    summary = records.combine_seeds(per_seed)
    steps = float(outcome.steps[rows].max())
    summary |= {
        "n_params": n_params(outcome),
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


def _arrays(net: Net) -> dict[str, np.ndarray]:
    """``{"layers.<i>.<name>": array}``: the params and state leaves, named by their paths
    (BatchNorm's running mean and var are ``layers.<i>.mean`` and ``.var``)."""
    arrays = {}
    for tree in net:
        for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            name = ".".join(str(getattr(k, "key", getattr(k, "idx", k))) for k in path)
            arrays[name] = leaf
    return arrays


def write_job(out_dir: Path, cfg: Config, outcome: Outcome, trial: int, summary: dict,
              table) -> None:
    """The files of the run contract, ``summary.json`` last; the nets are those of the job's
    first trial (its first seed)."""
    out_dir = Path(out_dir)
    _write_nets(out_dir, cfg, outcome, trial)
    if cfg.diagnostics == "full":  # histograms in a long table of their own
        table, histograms = diagnostics.split_histograms(table, diagnostics.histogram_edges(cfg))
        records.write_csv(histograms, out_dir / "histograms.csv")
    records.write_csv(table, out_dir / "metrics.csv")
    cfg.logger.log_run(out_dir, table, summary)  # logger=tensorboard, mlflow
    records.write_json(summary, out_dir / "summary.json")


def _write_nets(out_dir: Path, cfg: Config, outcome: Outcome, trial: int) -> None:
    if cfg.save_params:
        for name, net in outcome.nets.items():
            records.write_npz(_arrays(select(net, trial)), out_dir / f"params_{name}.npz")


def one_table(cfg: Config) -> bool:
    """Whether a chunk of such jobs can write their metrics from one table of all its trials
    (its text cut into the jobs' files): not with histograms to split off, nor for a logger
    that reads each job's table."""
    return cfg.diagnostics != "full" and cfg.logger.module is None


def write_jobs(jobs: list, outcome: Outcome, owners: np.ndarray, summaries: list[dict]) -> None:
    """The files of a chunk's jobs (``jobs``: their out_dir and cfg; trial t belongs to job
    ``owners[t]``), the metrics of all of them formatted as one table - the same text, row
    for row, as each job's own table would be (pandas formats each value alone)."""
    seeds = np.concatenate([[job.cfg.seed + i for i in range(job.cfg.seeds)] for job in jobs])
    lines = records.metrics_table(outcome.history, list(seeds)).to_csv(index=False).split("\n")
    header, n_rows = lines[0], outcome.history["step"].shape[1]
    for index, (job, summary) in enumerate(zip(jobs, summaries, strict=True)):
        if job.out_dir is None:
            continue
        rows = np.flatnonzero(owners == index)
        out_dir = Path(job.out_dir)
        _write_nets(out_dir, job.cfg, outcome, int(rows[0]))
        body = [line for t in rows for line in lines[1 + t * n_rows: 1 + (t + 1) * n_rows]]
        records.write_text("\n".join([header, *body, ""]), out_dir / "metrics.csv")
        records.write_json(summary, out_dir / "summary.json")
