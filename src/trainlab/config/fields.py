"""Typed config fields that carry their own check: ``lr: float = positive(0.1)``.

A field's check lives with the field, in the class that declares it; a subclass that only
changes the default (``lr: float = 1e-3``) keeps it, because ``check_fields`` looks the check
up along the class's MRO. What a check allows is written once, in words, and reused by the
error message (``optimizer.lr=-1.0: must be a number > 0``) and by the generated YAML files.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class ConfigError(ValueError):
    """A bad config value: the message names the key and what is allowed."""


@dataclass(frozen=True)
class Check:
    test: Callable[[Any], bool]
    allowed: str  # "a number > 0": what the error message and the YAML comment say


def checked(default: Any, test: Callable[[Any], bool], allowed: str) -> Any:
    """A dataclass field with ``default`` whose values must pass ``test``."""
    return dataclasses.field(default=default, metadata={"check": Check(test, allowed)})


def positive(default: float) -> Any:
    return checked(default, lambda x: x > 0, "a number > 0")


def non_negative(default: float, note: str = "") -> Any:
    return checked(default, lambda x: x >= 0, "a number >= 0" + note)


def at_least(default: int, low: int, note: str = "") -> Any:
    return checked(default, lambda x: x >= low, f"an integer >= {low}{note}")


def rate(default: float, what: str = "a number") -> Any:
    """A value in [0, 1): a dropout rate, a momentum, a decay."""
    return checked(default, lambda x: 0 <= x < 1, f"{what} in [0, 1)")


def fraction(default: float, what: str = "a number") -> Any:
    """A value in [0, 1]."""
    return checked(default, lambda x: 0 <= x <= 1, f"{what} in [0, 1]")


def renamed(new: str, note: str = "") -> Any:
    """A deprecated key, kept so old command lines and experiment files still work: unset
    (None) by default; a value given is moved to ``new`` (the group's key of that name) by
    ``compose.validate``, with a warning (and ``note``, why it was renamed)."""
    return dataclasses.field(default=None, metadata={"renamed_to": new, "note": note})


@functools.cache
def renamed_fields(cls: type) -> tuple[tuple[str, str, str], ...]:
    """(old, new, note) for every deprecated key of the dataclass ``cls``."""
    return tuple((f.name, f.metadata["renamed_to"], f.metadata["note"])
                 for f in dataclasses.fields(cls) if "renamed_to" in f.metadata)


def one_of(*words: str) -> Any:
    """A word field: the first word is the default."""
    return checked(words[0], lambda x: x in words, "one of " + ", ".join(words))


def check_of(cls: type, name: str) -> Check | None:
    """The check of field ``name`` of dataclass ``cls``: the nearest declaration along the MRO
    that has one (so overriding a default keeps the base class's check)."""
    for klass in cls.__mro__:
        found = getattr(klass, "__dataclass_fields__", {}).get(name)
        if found is not None and "check" in found.metadata:
            return found.metadata["check"]
    return None


@functools.cache
def _checks(cls: type) -> tuple[tuple[str, Check | None], ...]:
    """Each field of ``cls`` with its check (looked up once per class: a sweep checks
    thousands of configs)."""
    return tuple((f.name, check_of(cls, f.name)) for f in dataclasses.fields(cls))


def check_fields(node: Any, prefix: str = "") -> None:
    """Every field of the dataclass ``node`` (and of the dataclasses inside it) passes its
    check and is finite; raise ConfigError naming the first that does not."""
    for name, check in _checks(type(node)):
        value = getattr(node, name)
        if dataclasses.is_dataclass(value):
            check_fields(value, f"{prefix}{name}.")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(f"{prefix}{name}={value}: must be a finite number")
        if check is not None and not isinstance(value, bool) and not check.test(value):
            raise ConfigError(f"{prefix}{name}={value}: must be {check.allowed}")
