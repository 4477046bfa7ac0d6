"""The ``train`` command: a thin Hydra shell around ``run.train``.

Bad input ends with one line on stderr naming the key and what is allowed, exit code 2, no
traceback, and no half-written job directory.
"""

from __future__ import annotations

import os
import shutil
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from trainlab.config import GROUPS, ConfigError, register_configs

register_configs()
OmegaConf.register_new_resolver(
    "trainlab_groups",
    lambda: "\n".join(f"{group}: {', '.join(sorted(names))}" for group, names in GROUPS.items()),
    replace=True,
)


def _fail(message: str) -> None:
    print(f"train: error: {message}", file=sys.stderr)
    sys.exit(2)


def _discard_job_dir() -> None:
    """Remove the job directory Hydra made for a run that never started (it holds only
    Hydra's own config copies and log), so nothing there looks like a result."""
    from hydra.core.hydra_config import HydraConfig

    job_dir = HydraConfig.get().runtime.output_dir
    if os.path.isdir(job_dir) and all(
        name in (".hydra",) or name.endswith(".log") for name in os.listdir(job_dir)
    ):
        shutil.rmtree(job_dir)


@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def _train(cfg: DictConfig) -> float:
    from trainlab.run import train_from_hydra

    try:
        if cfg.gradcheck:
            return _gradcheck(cfg)
        return train_from_hydra(cfg)
    except ConfigError as error:
        _discard_job_dir()
        _fail(str(error))


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


def main() -> None:
    user_wants_traces = os.environ.get("HYDRA_FULL_ERROR") == "1"
    os.environ["HYDRA_FULL_ERROR"] = "1"  # let Hydra's errors reach us instead of its reporter
    try:
        _train()
    except Exception as error:
        from hydra.errors import HydraException
        from omegaconf.errors import OmegaConfBaseException

        if user_wants_traces or not isinstance(error, (HydraException, OmegaConfBaseException)):
            raise
        _fail(_one_line(error))


if __name__ == "__main__":
    main()
