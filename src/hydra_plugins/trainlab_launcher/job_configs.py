"""The configs of a sweep's jobs, composed fast.

Hydra composes every job from scratch (defaults list, config files, schema merge): about 0.1 s
a job, 6 s for a 64-trial sweep of 0.15 s trials. Jobs that differ from an already composed one
only in plain values (``optimizer.lr=0.01``, not a group choice such as ``optimizer=sgd``, nor
``+key``, ``~key``, ``key@pkg`` or ``hydra.*``) are copied from it with those values applied the
way Hydra applies command-line overrides: the same config, about 20x faster. Anything else is
composed by Hydra as usual.
"""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
import copy
from dataclasses import dataclass

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf, open_dict, read_write


def without_hydra(config: DictConfig) -> DictConfig:
    """The app's config: a copy without the hydra node (as Hydra's run_job makes it)."""
    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


@dataclass
class _Template:
    config: DictConfig
    task: DictConfig
    parsed: list[Override]


class JobConfigs:
    def __init__(self, config_loader, master: DictConfig) -> None:
        self.loader, self.master = config_loader, master
        self.parser = OverridesParser.create(config_loader=config_loader)
        self.groups = set(master.hydra.runtime.choices.keys())
        self.templates: dict[tuple, _Template] = {}

    def _plain_value(self, override: Override) -> bool:
        return (override.type == OverrideType.CHANGE and override.package is None
                and not override.is_hydra_override()
                and override.key_or_group not in self.groups)

    def compose(self, overrides: list[str]) -> tuple[DictConfig, DictConfig]:
        """``(config, task)``: what ``config_loader.load_sweep_config(master, overrides)``
        returns, and that config without its hydra node (what the app gets)."""
        parsed = self.parser.parse_overrides(list(overrides))
        # Jobs of one shape: the same keys in the same order, the same non-plain overrides.
        shape = tuple((o.get_key_element(), None if self._plain_value(o) else o.input_line)
                      for o in parsed)
        if shape not in self.templates:
            config = self.loader.load_sweep_config(self.master, list(overrides))
            self.templates[shape] = _Template(config, without_hydra(config), parsed)
            return copy.deepcopy(config), without_hydra(config)
        template = self.templates[shape]
        changed = [o for o, t in zip(parsed, template.parsed, strict=True)
                   if o.input_line != t.input_line]
        config, task = copy.deepcopy(template.config), copy.deepcopy(template.task)
        ConfigLoaderImpl._apply_overrides_to_config(changed, config)
        ConfigLoaderImpl._apply_overrides_to_config(changed, task)
        job = config.hydra.job
        app_overrides = [o for o in parsed if not o.is_hydra_override()]
        with read_write(config.hydra), open_dict(config.hydra):
            config.hydra.overrides.task = [o.input_line for o in app_overrides]
            job.override_dirname = get_overrides_dirname(
                overrides=app_overrides,
                kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep,
                exclude_keys=job.config.override_dirname.exclude_keys,
            )
        OmegaConf.copy_cache(from_config=self.master, to_config=config)
        return config, task
