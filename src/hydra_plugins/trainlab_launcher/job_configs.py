"""The configs of a sweep's jobs, composed fast.

Hydra composes every job from scratch (defaults list, config files, schema merge): about 0.1 s
a job, 6 s for a 64-trial sweep of 0.15 s trials. Jobs that differ from an already composed one
only in plain values (``optimizer.lr=0.01``, not a group choice such as ``optimizer=sgd``, nor
``+key``, ``~key``, ``key@pkg`` or ``hydra.*``) are copied from it with those values applied the
way Hydra applies command-line overrides: the same config, about 20x faster. Anything else is
composed by Hydra as usual.
"""

from __future__ import annotations

import copy

from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf, open_dict, read_write


class JobConfigs:
    def __init__(self, config_loader, master: DictConfig) -> None:
        self.loader, self.master = config_loader, master
        self.parser = OverridesParser.create(config_loader=config_loader)
        self.groups = set(master.hydra.runtime.choices.keys())
        self.templates: dict[tuple, tuple[DictConfig, list[Override]]] = {}

    def _plain_value(self, override: Override) -> bool:
        return (override.type == OverrideType.CHANGE and override.package is None
                and not override.is_hydra_override()
                and override.key_or_group not in self.groups)

    def compose(self, overrides: list[str]) -> DictConfig:
        """What ``config_loader.load_sweep_config(master, overrides)`` returns."""
        parsed = self.parser.parse_overrides(list(overrides))
        # Jobs of one shape: the same keys in the same order, the same non-plain overrides.
        shape = tuple((o.get_key_element(), None if self._plain_value(o) else o.input_line)
                      for o in parsed)
        if shape not in self.templates:
            cfg = self.loader.load_sweep_config(self.master, list(overrides))
            self.templates[shape] = (cfg, parsed)
            return copy.deepcopy(cfg)
        template, template_parsed = self.templates[shape]
        cfg = copy.deepcopy(template)
        changed = [o for o, t in zip(parsed, template_parsed, strict=True)
                   if o.input_line != t.input_line]
        ConfigLoaderImpl._apply_overrides_to_config(changed, cfg)
        job = cfg.hydra.job
        with read_write(cfg.hydra), open_dict(cfg.hydra):
            cfg.hydra.overrides.task = [o.input_line for o in parsed
                                        if not o.is_hydra_override()]
            job.override_dirname = get_overrides_dirname(
                overrides=[o for o in parsed if not o.is_hydra_override()],
                kv_sep=job.config.override_dirname.kv_sep,
                item_sep=job.config.override_dirname.item_sep,
                exclude_keys=job.config.override_dirname.exclude_keys,
            )
        OmegaConf.copy_cache(from_config=self.master, to_config=cfg)
        return cfg
