"""The one registry of config choices: ``@choice`` makes a class a dataclass and files it under
its group, by the default of its ``name`` field.

    @choice
    class Lion(Optimizer):            # group "optimizer", from the base class
        name: str = "lion"
        ...

The modules that hold the choices (``CHOICE_MODULES``) are imported the first time a group is
looked up, so reading a config does not import JAX. ``GROUPS[group][name]`` is the class;
``register_configs`` puts every class into Hydra's ConfigStore as ``schema/<group>/<name>``,
which the YAML file of that choice merges (``yamls.py`` writes those files from the classes).
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator, Mapping

# Where the choices of each group live: schema and behaviour in one class each.
CHOICE_MODULES = (
    "trainlab.datasets",
    "trainlab.models",
    "trainlab.nn.initializers",
    "trainlab.nn.activations",
    "trainlab.nn.normalization",
    "trainlab.regularizers",
    "trainlab.optimizers",
    "trainlab.schedules",
    "trainlab.losses",
    "trainlab.report.loggers",
)

_CHOICES: dict[str, dict[str, type]] = {}


def choice(cls: type) -> type:
    """Make ``cls`` a dataclass and register it under ``cls.group`` as its ``name``."""
    cls = dataclasses.dataclass(cls)
    name = {f.name: f.default for f in dataclasses.fields(cls)}["name"]
    group = _CHOICES.setdefault(cls.group, {})
    if name in group and group[name] is not cls:
        raise TypeError(f"{cls.group}={name} is registered twice: {group[name]} and {cls}")
    group[name] = cls
    return cls


class _Groups(Mapping):
    """``{group: {name: class}}``, loading the choice modules on first use."""

    loaded = False

    def _load(self) -> dict[str, dict[str, type]]:
        if not self.loaded:
            for module in CHOICE_MODULES:
                importlib.import_module(module)
            self.loaded = True
        return _CHOICES

    def __getitem__(self, group: str) -> dict[str, type]:
        return self._load()[group]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())


GROUPS: Mapping[str, dict[str, type]] = _Groups()


def register_configs() -> None:
    """Put the top-level schema and every choice into Hydra's ConfigStore."""
    from hydra.core.config_store import ConfigStore

    from trainlab.config.schema import Config

    store = ConfigStore.instance()
    store.store(name="schema", node=Config)
    for group, choices in GROUPS.items():
        for name, cls in choices.items():
            store.store(group=f"schema/{group}", name=name, node=cls)


def taking(group: str, key: str) -> list[str]:
    """The choices of ``group`` that have a field ``key`` (for "did you mean" errors)."""
    return [name for name, cls in GROUPS[group].items()
            if key in {f.name for f in dataclasses.fields(cls)}]


def default_choices() -> dict[str, str]:
    """The choice of each group that ``train`` makes when told nothing (conf/config.yaml)."""
    import yaml

    from trainlab.config.yamls import CONF

    defaults = yaml.safe_load((CONF / "config.yaml").read_text())["defaults"]
    return {group: name for item in defaults if isinstance(item, dict)
            for group, name in item.items() if group.isidentifier()}
