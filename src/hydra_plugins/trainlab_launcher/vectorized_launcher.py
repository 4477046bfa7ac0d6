"""The vectorized launcher: the jobs of a batch, grouped by static signature, each group trained
as one compiled program over its trials, chunk by chunk, as trainlab.plan plans and runs every
group.

Every job still gets its own job directory, with ``.hydra/`` (config.yaml, hydra.yaml,
overrides.yaml, as Hydra's basic launcher writes them) and the files of the run contract, and
its JobReturn carries the objective. It trains trainlab's ``train`` app itself (it does not call
the task function once per job: that is the point), so it serves that app only.

Before anything trains, every job is composed and checked, so a bad value in any job stops the
sweep with one line and no job directory. A job whose directory already holds its finished
results (same config hash) is not run again: a killed sweep resumes where it stopped.

With ``hydra.launcher.executor=submitit``, each chunk is trained by a submitit job of its own
(submitit_chunks.py: worker processes on this machine, or a Slurm job array), which writes its
jobs' files; the launcher writes the ``.hydra`` files first and finishes each chunk's jobs as
its submitit job ends.

Hydra's other launchers run the same app job by job, each job calling the app (run.py's
train_from_hydra, which skips finished jobs too): ``hydra/launcher=basic`` in this process,
``hydra/launcher=joblib hydra.launcher.n_jobs=4`` in worker processes, submitit (Slurm) or ray
on a cluster; that is how a sweep outgrows one machine.
"""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import (
    JobReturn,
    JobRuntime,
    JobStatus,
    configure_log,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from trainlab import outputs, sweep_lock
from trainlab.file_queue import FileQueue
from trainlab.timing import timed

from .job_configs import JobConfigs

log = logging.getLogger(__name__)


@dataclass
class _Job:
    """One job of the batch, composed (or derived from a composed one) and checked."""

    index: int
    cfg: Any  # trainlab.config.Config
    out_dir: Path
    overrides: list[str]  # the app's (hydra.overrides.task)
    # Composed by Hydra: the config with the hydra node (what Hydra's callbacks get), its
    # HydraConfig copy (what hydra.yaml holds) and the app's config. None when derived.
    config: DictConfig | None = None
    hydra_cfg: DictConfig | None = None
    task_cfg: DictConfig | None = None
    files: dict[str, str] | None = None  # derived: the .hydra files' texts
    signature: str | None = None  # derived: its static signature, if it is the template's
    result: JobReturn | None = None


class VectorizedLauncher(Launcher):
    # It composes and checks every job before running any: a sweeper need not do it first.
    composes_before_running = True

    def __init__(self, chunk_size: str = "auto", memory_fraction: float = 0.5,
                 shard: bool = True, resume: bool = True, executor: str = "local",
                 submitit: Any = None) -> None:
        from trainlab.trial_plan import parse_chunk_size

        from . import submitit_chunks

        try:
            self.chunk_size = parse_chunk_size(chunk_size)
        except ValueError as error:
            _fail(f"hydra.launcher.{error}")
        if not 0 < memory_fraction <= 1:
            _fail(f"hydra.launcher.memory_fraction={memory_fraction}: must be in (0, 1]")
        self.memory_fraction, self.shard, self.resume = memory_fraction, shard, resume
        if executor not in ("local", "submitit"):
            _fail(f"hydra.launcher.executor={executor}: must be local or submitit")
        self.executor = executor
        self.submitit = OmegaConf.to_container(submitit, resolve=True) if OmegaConf.is_config(
            submitit) else dict(submitit or {})
        if executor == "submitit" and (wrong := submitit_chunks.problem(self.submitit)):
            _fail(wrong)
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        # An adaptive search's driver (trainlab.search), set by its sweeper before launch:
        # run(group, store=, on_chunk=, finished=) trains a group its way.
        self.search = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    # ----------------------------------------------------------------------------- jobs
    def _compose(self, configs: JobConfigs, overrides: list[str], index: int) -> _Job:
        from trainlab.config import ConfigError, to_config

        config, task_cfg = configs.compose(list(overrides))
        with open_dict(config):
            config.hydra.job.id = index
            config.hydra.job.num = index
        HydraConfig.instance().set_config(config)  # resolves ${hydra:...} in the sweep dir
        out_dir = Path(str(config.hydra.sweep.dir)) / str(config.hydra.sweep.subdir)
        hydra_cfg = HydraConfig.instance().cfg  # a copy of its own: one per job, kept
        for node in (config.hydra, hydra_cfg.hydra):
            with read_write(node.runtime), open_dict(node.runtime):
                node.runtime.output_dir = str(out_dir.absolute())
        try:
            cfg = to_config(task_cfg)
        except ConfigError as error:
            _fail(str(error))
        return _Job(index, cfg, out_dir, list(config.hydra.overrides.task), config, hydra_cfg,
                    task_cfg)

    def _jobs(self, job_overrides, initial_job_idx: int) -> list[_Job]:
        """Every job of the batch, checked. A job that differs from an earlier one of its
        shape only in plain values is derived from it (job_configs.py) - unless a callback
        wants each job's config (on_job_start / on_job_end), which only Hydra composes."""
        from trainlab.config import ConfigError, validate

        configs = JobConfigs(self.hydra_context.config_loader, self.config)
        derive = not _job_callbacks(self.hydra_context)
        jobs = []
        for offset, overrides in enumerate(job_overrides):
            index, overrides = initial_job_idx + offset, list(overrides)
            job, shape = None, configs.shape(overrides) if derive else None
            template = configs.templates.get(shape)
            if template is not None:
                out_dir = template.sweep_dir / str(index)
                try:
                    made = configs.derive(template, overrides, index, out_dir.absolute(),
                                          validate)
                except ConfigError as error:
                    _fail(str(error))
                if made is not None:
                    job = _Job(index, made.cfg, out_dir, made.overrides, files=made.files,
                               signature=made.signature)
            if job is None:
                job = self._compose(configs, overrides, index)
                if derive and shape not in configs.templates and configs.derivable(
                        shape, overrides):
                    configs.remember(shape, overrides, job.config, job.task_cfg,
                                     job.hydra_cfg, job.cfg, job.out_dir.parent)
            jobs.append(job)
        derived = sum(job.files is not None for job in jobs)
        log.debug(f"{len(jobs)} jobs: {len(jobs) - derived} composed by Hydra, {derived} "
                  "derived from them")
        return jobs

    def _start(self, job: _Job, files: FileQueue) -> None:
        """What Hydra's run_job does before calling the app: the job directory, ``.hydra/``,
        and the callbacks' on_job_start. A derived job's directory, mark and .hydra files (no
        callback wants its config) are left to ``files``, made while the sweep compiles, and
        before its results are written (one thread, in order)."""
        assert self.hydra_context is not None and self.config is not None
        if job.files is not None:
            files.submit(self._write_derived, job)
            return
        job.out_dir.mkdir(parents=True, exist_ok=True)
        outputs.clear_results(job.out_dir)  # another config's results, a killed write's temporaries
        sweep_lock.mark_job(self._sweep_dir, job.out_dir)  # one of this sweep's
        HydraConfig.instance().cfg = job.hydra_cfg  # what set_config(job.config) gave
        if job.config.hydra.output_subdir is not None:
            hydra_dir = job.out_dir / str(job.config.hydra.output_subdir)
            hydra_dir.mkdir(parents=True, exist_ok=True)
            _save_yaml(job.task_cfg, hydra_dir / "config.yaml")
            _save_yaml(job.hydra_cfg, hydra_dir / "hydra.yaml")
            _save_yaml(job.config.hydra.overrides.task, hydra_dir / "overrides.yaml")
        self.hydra_context.callbacks.on_job_start(config=job.config,
                                                  task_function=self.task_function)

    def _write_derived(self, job: _Job) -> None:
        job.out_dir.mkdir(parents=True, exist_ok=True)
        outputs.clear_results(job.out_dir)
        sweep_lock.mark_job(self._sweep_dir, job.out_dir)  # one of this sweep's
        if self._output_subdir is not None:
            hydra_dir = job.out_dir / str(self._output_subdir)
            hydra_dir.mkdir(exist_ok=True)
            for name, text in job.files.items():
                (hydra_dir / name).write_text(text, encoding="utf-8")
        job.files = {}  # written: a 10,000-job sweep need not keep 30,000 YAML texts

    def _finish(self, job: _Job, value: Any, failed: bool = False) -> None:
        assert self.hydra_context is not None and self.config is not None
        result = JobReturn(
            overrides=list(job.overrides),
            cfg=job.task_cfg,  # None for a derived job (no callback asked for it)
            hydra_cfg=job.hydra_cfg,
            working_dir=str(job.out_dir) if self._chdir else self._cwd,
            task_name=self._task_name,
            status=JobStatus.FAILED if failed else JobStatus.COMPLETED,
        )
        result.return_value = value
        job.result = result
        if job.config is not None:
            HydraConfig.instance().cfg = job.hydra_cfg
            self.hydra_context.callbacks.on_job_end(config=job.config, job_return=result)

    # --------------------------------------------------------------------------- launch
    def launch(self, job_overrides, initial_job_idx: int) -> list[JobReturn]:
        from trainlab import fingerprint, records

        assert self.config is not None and self.hydra_context is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        for name, logger in (self.config.hydra.job_logging.get("loggers") or {}).items():
            if "level" in logger:  # the app's quiet libraries, as in a job of the basic launcher
                logging.getLogger(name).setLevel(logger.level)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        # Read once: an attribute of a DictConfig costs ~50 us, and each job needs these.
        self._sweep_dir = str(self.config.hydra.sweep.dir)
        self._output_subdir = self.config.hydra.output_subdir
        self._chdir = bool(self.config.hydra.job.chdir)
        self._cwd = os.getcwd()  # a system call, slow on some machines
        before = HydraConfig.instance().cfg
        self._task_name = JobRuntime.instance().get("name")
        self.seconds = {}  # where launch's time went, by phase (logged at its end)
        start = time.perf_counter()
        try:
            with timed(self.seconds, "jobs"):
                jobs = self._jobs(job_overrides, initial_job_idx)
            outputs.refuse_shared_dirs((job.out_dir, job.overrides) for job in jobs)
            todo = []
            with timed(self.seconds, "resume"):
                for job in jobs:
                    done = (fingerprint.finished_summary(job.out_dir, job.cfg) if self.resume
                            else None)
                    if done is not None:
                        sweep_lock.mark_job(self._sweep_dir, job.out_dir)  # kept
                        self._finish(job, records.objective_value(done, job.cfg.objective))
                    else:
                        todo.append(job)
            if len(todo) < len(jobs):
                log.info(f"{len(jobs) - len(todo)} of {len(jobs)} jobs already finished in "
                         f"{self.config.hydra.sweep.dir}: skipped")
            self._run(jobs, todo)
        finally:
            HydraConfig.instance().cfg = before
        self.seconds["launch"] = time.perf_counter() - start
        log.debug("timing: " + json.dumps({"jobs": len(jobs), **{
            k: round(v, 4) for k, v in self.seconds.items()}}))
        return [job.result for job in jobs]

    def _run(self, jobs: list[_Job], todo: list[_Job]) -> None:
        """Train the jobs ``todo``, group by group and chunk by chunk, each chunk's files
        written as it ends (what a killed sweep keeps). An adaptive search (``self.search``,
        set by its sweeper) plans every job of the sweep, so that its brackets are the same
        when a killed sweep resumes, and trains those not finished."""
        import jax

        from trainlab import plan, records
        from trainlab.config import ConfigError

        if self.search is None:
            jobs = todo
        elif self.executor == "submitit":
            _fail("hydra.launcher.executor=submitit: an adaptive search (hydra/sweeper=halving "
                  "or pbt) decides between epochs in this process; use executor=local")
        if not todo:
            return
        planned = [plan.Job(j.cfg, j.out_dir, list(j.overrides), j.signature) for j in jobs]
        owner = {id(p): job for p, job in zip(planned, jobs)}
        unfinished = {id(job) for job in todo}
        try:  # every group's data is loaded and checked before any job starts
            with timed(self.seconds, "plan"):
                groups = plan.plan(
                    planned, chunk_size=self.chunk_size, memory_fraction=self.memory_fraction,
                    devices=jax.devices() if self.shard else jax.devices()[:1])
        except ConfigError as error:
            _fail(str(error))

        def finish(chunk: list, summaries: list[dict]) -> None:
            for done, summary in zip(chunk, summaries, strict=True):
                job = owner[id(done)]
                self._finish(job, records.objective_value(summary, job.cfg.objective))
            advance(sum(j.cfg.seeds for j in chunk))

        def fail(chunk: list, error: Exception) -> None:  # the other chunks go on
            log.error(f"jobs {[owner[id(j)].index for j in chunk]} failed: {error!r}")
            for failed in chunk:
                self._finish(owner[id(failed)], error, failed=True)
            advance(sum(j.cfg.seeds for j in chunk))

        with FileQueue() as files:
            with timed(self.seconds, "start"):
                for job in todo:
                    self._start(job, files)
                if self.executor == "submitit" or any(group.program.cfg.checkpoint.every
                                                      for group in groups):
                    files.wait()  # other processes, or checkpoints, write in the directories
            with _progress(sum(job.cfg.seeds for job in todo)) as advance:
                if self.executor == "submitit":
                    self._submit(groups, finish, fail)
                    return
                for number, group in enumerate(groups, start=1):
                    start = time.perf_counter()
                    advance.group(number, len(groups), len(plan.chunks(group)))
                    with timed(self.seconds, "run"):
                        if self.search is None:
                            plan.run(group, progress=False, on_chunk=finish, on_error=fail,
                                     resume=self.resume, files=files)
                        else:
                            files.wait()  # the search writes its own files
                            store = Path(str(self.config.hydra.sweep.dir)) / ".trainlab"
                            finished = {i for i, j in enumerate(group.jobs)
                                        if id(owner[id(j)]) not in unfinished}
                            self.search.run(group, store=store, on_chunk=finish,
                                            finished=finished)
                    for name, seconds in group.seconds.items():
                        self.seconds[name] = self.seconds.get(name, 0.0) + seconds
                    compile_s, run_s, n = group.seconds["compile"], group.seconds["train"], \
                        group.n_trials
                    log.info(
                        f"group {number}/{len(groups)}: {len(group.jobs)} jobs, {n} trials in "
                        f"chunks of {group.chunk} on {len(group.devices)} "
                        f"{group.devices[0].platform} device(s) ({group.reason}): compile "
                        f"{compile_s:.1f} s, run {run_s:.1f} s ({run_s / n:.3f} s a trial), "
                        f"{time.perf_counter() - start:.1f} s in all")

    def _submit(self, groups: list, finish, fail) -> None:
        """executor=submitit: every chunk of every group one submitit job; each chunk's jobs
        finished as its job ends."""
        from trainlab import plan

        from . import submitit_chunks

        chunks = [(jobs, group.chunk) for group in groups for jobs in plan.chunks(group)]
        if not chunks:  # every job had finished
            return
        with timed(self.seconds, "run"):
            submitit_chunks.run_chunks(submitit_chunks.make_executor(self.submitit), chunks,
                                       shard=self.shard, on_chunk=finish, on_error=fail)


def _job_callbacks(context: HydraContext) -> bool:
    """Whether a callback of this run acts on each job (and so needs its composed config)."""
    from hydra.experimental.callback import Callback

    return any(getattr(type(cb), hook, None) is not getattr(Callback, hook)
               for cb in getattr(context.callbacks, "callbacks", [])
               for hook in ("on_job_start", "on_job_end"))


def _save_yaml(node, path: Path) -> None:
    """What Hydra's _save_config writes (the same values; long strings wrapped otherwise), with
    libyaml: 4x faster, which a sweep of many short jobs notices."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    text = yaml.dump(OmegaConf.to_container(node, resolve=False, enum_to_str=True), Dumper=dumper,
                     default_flow_style=False, allow_unicode=True, sort_keys=False)
    path.write_text(text, encoding="utf-8")


def _progress(total: int):
    """A bar over the sweep's trials on a terminal (its phase, an ETA; the sweep's log lines
    above it), and one line when it ends."""
    from trainlab.report import SweepProgress

    return SweepProgress(total)


def _fail(message: str) -> None:
    """A bad value in some job: one line, exit code 2, as ``train`` does for one run."""
    print(f"train: error: {message}", file=sys.stderr)
    sys.exit(2)
