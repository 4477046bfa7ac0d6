"""``train(cfg) -> summary``: one run, planned and trained as plan.py does every group, its
files written and its summary printed.

Plain Python, callable without Hydra: the ``train`` command is a thin shell around it
(``train_from_hydra``).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from omegaconf import DictConfig

from trainlab import fingerprint, outputs, plan, records, report
from trainlab.config import Config, to_config


def train(cfg: Config | DictConfig, out_dir: Path | str | None = None,
          overrides: list[str] = ()) -> dict:
    """Train the config's seeds together, write the run's files into ``out_dir`` (if given),
    print a summary table, and return the summary."""
    cfg = to_config(cfg)
    title = f"trainlab: {report.headline(cfg)}"
    with report.run_status(enabled=cfg.progress):  # "compiling", then the epoch bar
        [group] = plan.plan([plan.Job(cfg, out_dir, list(overrides))])
        report.announce(title, out_dir)  # the data checked: it will train
        [summary] = plan.run(group, progress=cfg.progress, resume=cfg.resume)
    report.print_summary(summary, title=title)
    return summary


def train_from_hydra(cfg: DictConfig) -> float:
    """The body of the Hydra app: train into the job directory, return the objective. In a
    multirun, a job that already finished there with the same config (a sweep started again
    after a kill) is not trained again, whichever launcher runs it."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    hydra_cfg = HydraConfig.get()
    out_dir = hydra_cfg.runtime.output_dir
    if hydra_cfg.mode == RunMode.MULTIRUN or cfg.resume:
        done = fingerprint.finished_summary(out_dir, to_config(cfg))
        if done is not None:
            if cfg.resume:
                print(f"train: {out_dir} holds this config's finished run: nothing to resume")
            return records.objective_value(done, cfg.objective)
    outputs.clear_results(out_dir)  # an earlier run's results must not pass for this one's
    summary = train(cfg, out_dir, list(hydra_cfg.overrides.task))
    _log_run(cfg, out_dir, summary)
    return records.objective_value(summary, cfg.objective)


def _log_run(cfg: DictConfig, out_dir: str, summary: dict) -> None:
    """The run in the job's log file (Hydra's ``cli.log``; not the terminal, which has its
    table): what trained, where its files are, and its summary as one JSON line."""
    log = logging.getLogger("trainlab.run_log")
    log.info(f"trainlab: {report.headline(to_config(cfg))}")
    log.info(f"files in {out_dir}")
    log.info("summary: " + json.dumps(records.json_safe(summary), default=str))
