"""One line naming what a run trains: the data, the model, and every choice or value that is
not trainlab's default (``train regularizer=l2 regularizer.kappa=1e-4`` shows ``l2
kappa=0.0001``). The header of a run and the title of its summary table."""

from __future__ import annotations

import dataclasses
from typing import Any

# Always named, even at their defaults: what a reader needs to place the run.
_ALWAYS = ("data", "model", "activation", "init", "optimizer")
# Named when they are not the default choice, or a value of theirs is not its default.
_WHEN_CHANGED = ("normalization", "regularizer", "schedule", "loss")
# Top-level values named when changed (progress, logging and bookkeeping are not the run).
_TOP = ("seed", "seeds", "batch_size", "dtype", "train_metrics", "param_average")


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def changed_values(node: Any) -> dict[str, Any]:
    """The fields of a choice (or of the config) whose values are not their class's defaults
    (``name`` is the choice itself, not a value)."""
    return {f.name: getattr(node, f.name) for f in dataclasses.fields(node)
            if f.name != "name" and not dataclasses.is_dataclass(getattr(node, f.name))
            and getattr(node, f.name) != _default(f)}


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _choice(label: str, node: Any, shown: dict[str, Any]) -> str:
    values = " ".join(f"{k}={_value(v)}" for k, v in shown.items())
    return f"{label} {values}" if values else label


def headline(cfg) -> str:
    """``moons, mlp [8], relu, he_normal init, adam lr=0.001, l2 kappa=0.0001, 3 epochs``."""
    from trainlab.config import default_choices

    if cfg.data.name == "surface":
        return f"{cfg.data.function} surface, {cfg.optimizer.name} lr={cfg.optimizer.lr:g}, " \
               f"{cfg.epochs} epochs"
    defaults = default_choices()
    parts = []
    for group in _ALWAYS + _WHEN_CHANGED:
        node = getattr(cfg, group)
        changed = changed_values(node)
        if group in _WHEN_CHANGED and node.name == defaults.get(group) and not changed:
            continue
        if group == "model":
            label, changed = node.describe(), {}  # its describe names its shape already
        elif group == "init":
            label = f"{node.name} init"
        elif group == "optimizer":
            label, changed = node.name, {"lr": node.lr} | changed
        elif group == "regularizer":  # its strength is the point of it, default or not
            label, changed = node.name, {f.name: getattr(node, f.name)
                                         for f in dataclasses.fields(node) if f.name != "name"}
        else:
            label = node.name
        parts.append(_choice(label, node, changed))
    top = changed_values(cfg)
    parts += [f"{k}={_value(v)}" for k, v in top.items() if k in _TOP]
    if cfg.early_stopping.enabled:
        parts.append(_choice("early stopping", cfg.early_stopping,
                             {k: v for k, v in changed_values(cfg.early_stopping).items()
                              if k != "enabled"}))
    parts.append(f"{cfg.epochs} epochs")
    return ", ".join(parts)
