"""From overrides to a checked ``Config``: compose with Hydra, refuse unknown keys (``+key``
included), check every field and the choices' own constraints.

Every refusal is one ``ConfigError`` line naming the key and what is allowed, with the closest
key when the name looks like a typo.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
from typing import Any

from trainlab.config.fields import ConfigError, check_fields, renamed_fields
from trainlab.config.registry import GROUPS, register_configs, taking
from trainlab.config.schema import Config

log = logging.getLogger(__name__)
_FULL = "full"
# What other libraries call some of our keys (PyTorch, optax, Keras).
ALIASES = {"learning_rate": "lr", "beta1": "b1", "beta2": "b2", "epsilon": "eps",
           "lambda": "kappa", "hidden_sizes": "widths"}


def batch_size_of(value: Any) -> int:
    """The batch size as an int, 0 meaning full batch; raises ConfigError on anything else."""
    wrong = f"batch_size={value}: must be a positive integer, or full (or 0)"
    if isinstance(value, str) and value.strip().lower() == _FULL:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ConfigError(wrong)
    try:
        size = int(value)
    except ValueError:
        raise ConfigError(wrong) from None
    if size < 0:
        raise ConfigError(wrong)
    return size


def unknown_key(path: str, cls: type) -> str:
    """Why ``path`` is not a key of the schema ``cls``, and what to write instead."""
    group, _, key = path.rpartition(".")
    keys = [f.name for f in dataclasses.fields(cls)]
    where = "the config" if not group else (
        f"{group}={_name_of(cls)}" if group in GROUPS else group)
    message = f"{path}: not a key of {where} (keys: {', '.join(keys)})"
    others = taking(group, key) if group in GROUPS else []
    if others:
        verb = "take" if len(others) > 1 else "takes"
        return f"{message}; {group}={', '.join(others)} {verb} it: choose one first"
    close = difflib.get_close_matches(ALIASES.get(key, key), keys, n=1, cutoff=0.6)
    return f"{message}; did you mean {close[0]}?" if close else message


def _name_of(cls: type) -> str:
    return {f.name: f.default for f in dataclasses.fields(cls)}.get("name", cls.__name__)


def check_keys(node, cls: type, prefix: str = "") -> None:
    """Every key of the composed DictConfig ``node`` is a field of its schema ``cls`` (a
    ``+key=value`` override adds keys that OmegaConf's struct mode would refuse)."""
    from omegaconf import OmegaConf

    fields = {f.name for f in dataclasses.fields(cls)}
    for key in node:
        path = f"{prefix}{key}"
        if key not in fields:
            raise ConfigError(unknown_key(path, cls))
        schema = OmegaConf.get_type(node, key)
        if dataclasses.is_dataclass(schema):
            check_keys(node[key], schema, f"{path}.")


def _check_choices(cfg: Config) -> None:
    """Each group's node is the class its name chooses (``optimizer.name=sgd`` under
    ``optimizer=adam`` would train one optimizer and report the other)."""
    for group, choices in GROUPS.items():
        node = getattr(cfg, group)
        if node.name not in choices:
            raise ConfigError(f"{group}.name={node.name}: must be one of {', '.join(choices)}")
        if type(node) is not choices[node.name]:
            raise ConfigError(f"{group}.name={node.name}: a choice is picked by its group, "
                              f"write {group}={node.name}")


_warned: set[str] = set()  # deprecated keys already warned about (once a process: sweeps)


def renamed_keys(cfg: Config) -> Config:
    """``cfg`` with each deprecated key's value moved to its new name (a warning, once)."""
    for group in GROUPS:
        node = getattr(cfg, group)
        for old, new, note in renamed_fields(type(node)):
            value = getattr(node, old)
            if value is None:
                continue
            if getattr(node, new) != getattr(type(node)(), new):
                raise ConfigError(f"{group}.{old}={value}: deprecated, and {group}.{new} is "
                                  f"set too: write only {group}.{new}")
            if old not in _warned:
                _warned.add(old)
                log.warning(f"{group}.{old} is deprecated: write {group}.{new}"
                            + (f" ({note})" if note else ""))
            node = dataclasses.replace(node, **{old: None, new: value})
            cfg = dataclasses.replace(cfg, **{group: node})
    return cfg


def validate(cfg: Config) -> Config:
    """Check what the types cannot; raise ConfigError naming the key and what is allowed."""
    cfg = renamed_keys(cfg)
    _check_choices(cfg)
    check_fields(cfg)
    batch_size_of(cfg.batch_size)
    cfg.model.check()
    cfg.optimizer.check(cfg)
    cfg.normalization.check(cfg)  # GroupNorm: its groups divide every layer's width
    cfg.logger.check()  # a logger's missing package: one line now, not after training
    return cfg


def to_config(cfg) -> Config:
    """A validated, plain-dataclass config from a composed DictConfig (or a Config)."""
    from omegaconf import DictConfig, OmegaConf

    if isinstance(cfg, DictConfig):
        check_keys(cfg, Config)
        cfg = OmegaConf.to_object(cfg)
    return validate(cfg)


def compose(overrides: list[str] = ()) -> Config:
    """The validated config that ``train OVERRIDES`` would run, built without a command line
    (for tests, experiments and tools). Bad overrides raise ConfigError."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_module
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    register_configs()
    try:
        with initialize_config_module("trainlab.conf", version_base="1.3"):
            cfg = hydra_compose("config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise ConfigError(explain(error)) from None
    return to_config(cfg)


def unknown_key_of(error: BaseException) -> str | None:
    """For a Hydra or OmegaConf error about a key the schema does not have: which keys it
    has, and the closest one. None for any other error."""
    for err in (error, error.__cause__):
        full_key, schema = getattr(err, "full_key", None), getattr(err, "object_type", None)
        if full_key and dataclasses.is_dataclass(schema) and "not in" in str(err):
            return unknown_key(str(full_key), schema)
    return None


def explain(error: BaseException) -> str:
    """One line for a Hydra or OmegaConf error."""
    return unknown_key_of(error) or " ".join(str(error).split())
