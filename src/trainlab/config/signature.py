"""Which numbers of a config may differ between the trials of one compiled program.

The float fields of the ``TRACED_GROUPS`` become traced arrays (``traced_values``), passed to
the program with each call; everything else - shapes, choices, words, integers - is the static
signature that decides the compiled code, and trials of one signature share one program.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from typing import Any

TRACED_GROUPS = (
    "model", "init", "activation", "normalization", "regularizer", "optimizer", "schedule",
    "loss",
)
# A zero here switches a piece of the program off, so zero and non-zero compile differently.
ZERO_IS_STATIC = (
    "model.input_dropout", "model.hidden_dropout", "optimizer.decoupled_decay",
    "optimizer.clip_norm",
)


def _walk_floats(node: Any, prefix: str):
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if dataclasses.is_dataclass(value):
            yield from _walk_floats(value, f"{prefix}{f.name}.")
        elif isinstance(value, float) or (value is None and f.type in ("float", float)):
            yield f"{prefix}{f.name}", value


def traced_values(cfg) -> dict[str, float]:
    """The numbers of ``cfg`` that become traced arrays, by dotted path."""
    values = {}
    for group in TRACED_GROUPS:
        for path, value in _walk_floats(getattr(cfg, group), f"{group}."):
            if not (path in ZERO_IS_STATIC and value == 0.0):
                values[path] = value
    return values


def with_values(cfg, values: dict[str, Any]):
    """A copy of ``cfg`` with the fields at the given dotted paths replaced (by arrays, say)."""
    nested: dict[str, dict] = {}
    for path, value in values.items():
        head, _, rest = path.partition(".")
        nested.setdefault(head, {})[rest] = value
    changes = {}
    for head, sub in nested.items():
        if "" in sub:
            changes[head] = sub[""]
        else:
            changes[head] = with_values(getattr(cfg, head), sub)
    return dataclasses.replace(cfg, **changes)


@functools.cache
def _field_names(kind: type) -> tuple[str, ...] | None:
    """The field names of a dataclass, None for any other type."""
    if not dataclasses.is_dataclass(kind):
        return None
    return tuple(f.name for f in dataclasses.fields(kind))


def as_dict(node: Any) -> Any:
    """``dataclasses.asdict`` for configs (fields of numbers, words, lists of them and nested
    dataclasses), without its deep copies, each class's field names looked up once: 10x
    faster, for the thousands of jobs of a sweep (every summary hashes its config)."""
    names = _field_names(type(node))
    if names is not None:
        return {name: as_dict(getattr(node, name)) for name in names}
    if isinstance(node, (list, tuple)):
        return type(node)(as_dict(v) for v in node)
    return node


def static_signature(cfg) -> str:
    """Everything that decides the compiled program's shapes and code, as a stable string."""
    blank = with_values(cfg, {path: None for path in traced_values(cfg)})
    blank = dataclasses.replace(blank, seed=0, objective="", progress=False, save_params=False,
                                resume=False)
    return json.dumps(as_dict(blank), sort_keys=True, default=str)
