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


def summarize(cfg: Config, outcome: Outcome, rows: np.ndarray, overrides: list[str]
              ) -> tuple[dict, records.pd.DataFrame]:
    """The metrics table and summary of one job, whose trials are ``rows`` of the outcome."""
    seeds = [cfg.seed + i for i in range(len(rows))]
    history = {k: v[rows] for k, v in outcome.history.items()}
    table = records.metrics_table(history, seeds)
    per_seed = []
    for i, trial in enumerate(rows):
        status = ("diverged" if outcome.diverged[trial]
                  else "stopped_early" if outcome.stopped[trial] else "ok")
        test = {k: v[trial] for k, v in outcome.test.items()}
        per_seed.append(records.seed_summary(
            table[table.seed == seeds[i]], int(outcome.best_epoch[trial]), status, test
        ))
        per_seed[-1] |= {k: float(v) for k, v in test.items() if k.startswith("test_avg_")}
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
    if cfg.save_params:
        for name, net in outcome.nets.items():
            records.write_npz(_arrays(select(net, trial)), out_dir / f"params_{name}.npz")
    if cfg.diagnostics == "full":  # histograms in a long table of their own
        table, histograms = diagnostics.split_histograms(table, diagnostics.histogram_edges(cfg))
        records.write_csv(histograms, out_dir / "histograms.csv")
    records.write_csv(table, out_dir / "metrics.csv")
    cfg.logger.log_run(out_dir, table, summary)  # logger=tensorboard, mlflow
    records.write_json(summary, out_dir / "summary.json")
