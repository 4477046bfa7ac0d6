"""The ``train`` command: a thin Hydra shell around ``run.train``.

Whatever goes wrong ends with one line on stderr and no traceback (``HYDRA_FULL_ERROR=1``
shows them), and leaves no file that looks like a result:

- bad input names the key and what is allowed: exit code 2, no job directory left;
- an output location that cannot be written (read-only, a file in the way, a full disk)
  names the path and the cause: exit code 1;
- Ctrl-C says where the run was and what was saved: exit code 130.
"""

from __future__ import annotations

import difflib
import os
import re
import signal
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from trainlab import interrupt, outputs
from trainlab.config import GROUPS, ConfigError, register_configs

register_configs()
OmegaConf.register_new_resolver(
    "trainlab_groups",
    lambda: "\n".join(f"{group}: {', '.join(sorted(names))}" for group, names in GROUPS.items()),
    replace=True,
)

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command stopped by Ctrl-C


def _fail(message: str, code: int = 2) -> None:
    print(f"train: error: {message}", file=sys.stderr)
    sys.exit(code)


def _job_dir() -> str:
    from hydra.core.hydra_config import HydraConfig

    return HydraConfig.get().runtime.output_dir


def _discard_job_dir() -> None:
    """Remove what a run that did not finish left in its job directory: its partial results,
    and the directory itself if only Hydra's own config copies and log remain."""
    outputs.clear_results(_job_dir())
    outputs.discard_job_dir(_job_dir())
    if not _in_multirun() and not Path(_job_dir()).exists():
        outputs.discard_empty_parents(_job_dir(), Path.cwd())  # no empty outputs/DATE/


def _in_multirun() -> bool:
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.get().mode == RunMode.MULTIRUN


def _join_sweep() -> None:
    """A job of a sweep run by one of Hydra's own launchers (the vectorized one does this
    itself): stop if another job of the sweep already wrote this directory, and mark it."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab import sweep_lock

    sweep_dir, overrides = HydraConfig.get().sweep.dir, list(HydraConfig.get().overrides.task)
    earlier = sweep_lock.claim(sweep_dir, _job_dir(), overrides)
    if earlier is not None:
        _fail(outputs.shared_dir_message(_job_dir(), earlier, overrides))
    sweep_lock.mark_job(sweep_dir, _job_dir())


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _train(cfg: DictConfig) -> float:
    interrupt.reset()
    if _in_multirun():
        _join_sweep()
    try:
        if cfg.gradcheck:
            return _gradcheck(cfg)
        from trainlab.run import train_from_hydra  # jax: seconds, Ctrl-C may land there

        value = train_from_hydra(cfg)
        if not _in_multirun():
            _say_written()
        return value
    except ConfigError as error:
        _discard_job_dir()
        _fail(str(error))
    except OSError as error:
        _discard_job_dir()
        _fail(outputs.describe(error), 1)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not stop the tidying
        _discard_job_dir()
        if _in_multirun():  # the sweep says what it kept (main)
            raise
        print(f"train: interrupted {interrupt.where()}, {interrupt.saved()}", file=sys.stderr)
        sys.exit(INTERRUPTED)


def _say_written() -> None:
    """After a run: where its files are, and which."""
    job_dir = Path(_job_dir())
    from rich.console import Console

    names = sorted(p.name for p in job_dir.iterdir() if not p.name.startswith("."))
    from trainlab.report import shown_path

    Console().print(f"files in {shown_path(job_dir)}/: {', '.join(names)}",
                    highlight=False, markup=False)


def _gradcheck(cfg: DictConfig) -> float:
    """`train gradcheck=true ...`: the gradient check of that config, nothing trained."""
    from hydra.core.hydra_config import HydraConfig

    from trainlab import gradcheck
    from trainlab.config import to_config

    overrides = " ".join(HydraConfig.get().overrides.task)
    code = gradcheck.verdict(gradcheck.run_config(to_config(cfg)),
                             f"gradient check, float64: {overrides}")
    _discard_job_dir()
    if code:
        sys.exit(code)
    return 0.0


def _one_line(error: BaseException) -> str:
    """Hydra and OmegaConf explain a bad override over several lines: fold them into one (an
    unknown key names the keys there are, and the closest)."""
    from trainlab.config.compose import unknown_key_of

    unknown = unknown_key_of(error)
    if unknown:
        return unknown
    parts: list[str] = []
    for err in (error, error.__cause__):
        for line in str(err or "").splitlines():
            line = line.strip()
            if line.startswith(("object_type=", "full_key:", "reference_type=", "To append")):
                continue
            if line.startswith("Config search path"):
                break
            if parts and line and not line.startswith(("Available", "In ", "Key", "Value")) \
                    and parts[-1].endswith((":", ",")):
                parts[-1] += f" {line},"  # one of the options listed under "Available options"
            elif line:
                parts.append(line.rstrip("."))
    text = "; ".join(dict.fromkeys(p.rstrip(",") for p in parts))
    return text.replace("Available options in", "choose from")


def _quote_hint(error) -> str | None:
    """For an override Hydra's grammar cannot read unquoted (a path with non-ASCII letters or
    spaces, say): the same override with its value quoted, if that reads."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    key, sep, value = str(getattr(error, "override", "") or "").partition("=")
    if not sep or not value or value[0] in "'\"":
        return None
    quote = "'" if "'" not in value else '"'
    quoted = f"{key}={quote}{value}{quote}"
    try:
        OverridesParser.create().parse_overrides([quoted])
    except HydraException:
        return None
    return (f"{key}={value}: Hydra's override grammar cannot read it as written; "
            f"quote the value: {quoted}")


def _bare_word_hint(error) -> str | None:
    """``train help``: a word that is no override (key=value); Hydra's parser says
    "missing EQUAL at '<EOF>'"."""
    word = str(getattr(error, "override", "") or "")
    if not word.isidentifier():
        return None
    if word in ("help", "version"):
        return f"`{word}` is not an override (key=value); did you mean `train --{word}`?"
    return (f"`{word}` is not an override: write key=value (e.g. optimizer=sgd); "
            "`train --help` lists the groups and keys")


_MISSING_CHOICE = re.compile(r"Could not find '(\w+)/([^']*)'")


def _choice_hint(error) -> str | None:
    """``optimizer=Adam``: the choices of the group, and the closest one."""
    found = _MISSING_CHOICE.search(str(error))
    if found is None or found.group(1) not in GROUPS:
        return None
    group, name = found.groups()
    names = sorted(GROUPS[group])
    close = [n for n in names if n.lower() == name.lower()] or difflib.get_close_matches(
        name.lower(), names, n=1)
    hint = f"; did you mean {group}={close[0]}?" if close else ""
    return f"{group}={name}: no such choice (choose from {', '.join(names)}){hint}"


def _version() -> str:
    """``train --version``: trainlab's version, jax's, and the device it would train on."""
    import importlib.metadata

    import jax

    from trainlab import __version__

    devices = jax.devices()
    kinds = sorted({d.device_kind for d in devices})
    return (f"trainlab {__version__} (jax {jax.__version__}, jaxlib "
            f"{importlib.metadata.version('jaxlib')}, Hydra "
            f"{importlib.metadata.version('hydra-core')}; {len(devices)} "
            f"{devices[0].platform} device{'s' * (len(devices) > 1)}: {', '.join(kinds)})")


def _interrupted_sweep() -> None:
    """Ctrl-C in a sweep: the jobs that finished are kept, and a rerun skips them."""
    from trainlab import sweep_lock, sweep_table

    kept = ""
    for sweep_dir in sweep_lock.held():
        mine, _ = sweep_table.sweep_jobs(sweep_dir)
        done = sum((d / "summary.json").is_file() for d in mine)
        kept = (f", {done} finished job{'s' * (done != 1)} kept in {sweep_dir} (the same "
                "command runs the others)")
    print(f"train: interrupted{kept or ', nothing saved'}", file=sys.stderr)


def main() -> None:
    if sys.argv[1:] == ["--version"]:  # Hydra's own --version names Hydra's
        print(_version())
        return
    try:
        _main()
    except SystemExit as stop:
        if stop.code != INTERRUPTED:
            raise
        # Interrupted, XLA may still be compiling in its own threads: the interpreter's
        # shutdown then crashes (SIGSEGV) under them. Everything is tidied: leave at once.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(INTERRUPTED)


def _main() -> None:
    from trainlab import sweep_lock

    user_wants_traces = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach us instead of its reporter
    interrupt.install()
    try:
        _train()
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if sweep_lock.held():
            _interrupted_sweep()
        else:  # in a run, before the app started (a run's own Ctrl-C ends in _train)
            print(f"train: interrupted {interrupt.where()}, {interrupt.saved()}", file=sys.stderr)
        sys.exit(INTERRUPTED)
    except ConfigError as error:  # raised by a launcher, outside the app
        _fail(str(error))
    except Exception as error:
        from hydra.errors import HydraException, OverrideParseException
        from omegaconf.errors import OmegaConfBaseException

        if user_wants_traces:
            raise
        if isinstance(error, (HydraException, OmegaConfBaseException)):  # some are OSErrors
            hint = (_bare_word_hint(error) or _quote_hint(error)
                    if isinstance(error, OverrideParseException) else _choice_hint(error))
            _fail(hint or _one_line(error))
        if isinstance(error, OSError):  # Hydra making the run or sweep directory, a launcher
            _fail(outputs.describe(error), 1)
        raise
    finally:
        _tidy_stopped_sweep()


def _tidy_stopped_sweep() -> None:
    """A sweep that still holds its lock here stopped before its end (an error, Ctrl-C): its
    unfinished jobs' partial files go, and its directory too if it made it and nothing ran."""
    from trainlab import sweep_lock, sweep_table

    for sweep_dir in sweep_lock.held():
        mine, _ = sweep_table.sweep_jobs(sweep_dir)
        for job_dir in mine:
            if not (job_dir / "summary.json").is_file():
                outputs.clear_results(job_dir)
    sweep_lock.release_all(discard_unused=True)


if __name__ == "__main__":
    main()
