"""Experiment files: ``experiments/NAME.yaml`` read into the runs a lecture figure needs.

An experiment file says, in trainlab's own override language, which runs to make::

    base: [data=surface, optimizer=sgd, epochs=100]       # every run starts from these
    runs:                                                 # named arms
      gd: {overrides: [optimizer=sgd], sweep: {optimizer.lr: [0.001, 0.01]}}
      momentum: {overrides: [optimizer=momentum]}
    options: {tolerance: 0.001}                            # numbers for the figure module
    train: true                                            # false: configs only, no training
    reduced:                                               # what a test runs instead
      base: [epochs=20]                                    # appended to base
      sweep: {optimizer.lr: [0.009, 0.011]}                # replaces that key's sweep values
      options: {}                                          # updates options
      runs: [gd]                                           # keep only these arms

An arm's ``sweep`` is a grid: one run per combination of its values, numbered in order. Quote
an override holding brackets inside a [...] list: ``"model.widths=[100]"``. A run is
exactly what ``train BASE ARM SWEPT`` would do (``config.compose``).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from trainlab.config import Config, ConfigError, compose, validate

_TOP_KEYS = {"base", "runs", "options", "train", "reduced"}
_ARM_KEYS = {"overrides", "sweep"}
_REDUCED_KEYS = {"base", "sweep", "options", "runs"}


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: tuple[str, ...] = ()
    sweep: dict[str, list] = field(default_factory=dict)


@dataclass(frozen=True)
class Experiment:
    name: str
    base: tuple[str, ...]
    arms: tuple[Arm, ...]
    options: dict[str, Any]
    train: bool = True


@dataclass
class Run:
    """One run of an experiment: where it sits in the experiment, its config, its results."""

    arm: str
    index: int  # position in the arm's sweep grid
    values: dict[str, Any]  # the swept values of this run, by override key
    overrides: list[str]
    cfg: Config
    metrics: Any = None  # pandas.DataFrame of metrics.csv, once trained or read back
    summary: dict | None = None
    folder: Path | None = None  # where its files are (params_*.npz among them)


def experiments_dir() -> Path:
    """The repository's ``experiments/`` folder (this package is installed editable), or
    ``./experiments`` when trainlab is installed elsewhere."""
    beside_src = Path(__file__).resolve().parents[3] / "experiments"
    return beside_src if beside_src.is_dir() else Path.cwd() / "experiments"


def names() -> list[str]:
    """Every figure that has an experiment file."""
    return sorted(p.stem for p in experiments_dir().glob("*.yaml"))


def override_value(value: Any) -> str:
    """A YAML value as Hydra's override grammar writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(v) for v in value) + "]"
    return str(value)


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: must be a list of overrides like optimizer.lr=0.1")
    return tuple(value)


def _check_keys(node: Any, allowed: set[str], where: str) -> dict:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise ConfigError(f"{where}: must be a mapping")
    unknown = set(node) - allowed
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} "
                          f"(allowed: {', '.join(sorted(allowed))})")
    return node


def _sweep(node: Any, where: str) -> dict[str, list]:
    node = node or {}
    if not isinstance(node, dict) or not all(isinstance(v, list) and v for v in node.values()):
        raise ConfigError(f"{where}: must map override keys to non-empty lists of values")
    return dict(node)


def parse(name: str, text: str, *, reduced: bool = False) -> Experiment:
    """The experiment an experiment file's text describes (its reduced form if asked)."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:  # e.g. an unquoted [ inside a flow list
        raise ConfigError(f"{name}: not valid YAML: {' '.join(str(error).split())}") from None
    raw = _check_keys(raw, _TOP_KEYS, name)
    arms = []
    for arm_name, node in (raw.get("runs") or {}).items():
        node = _check_keys(node, _ARM_KEYS, f"{name}: runs.{arm_name}")
        arms.append(Arm(str(arm_name), _strings(node.get("overrides"), f"runs.{arm_name}"),
                        _sweep(node.get("sweep"), f"runs.{arm_name}.sweep")))
    if not arms:
        raise ConfigError(f"{name}: needs at least one arm under runs")
    base = _strings(raw.get("base"), "base")
    options = dict(raw.get("options") or {})
    if reduced:
        small = _check_keys(raw.get("reduced"), _REDUCED_KEYS, f"{name}: reduced")
        base += _strings(small.get("base"), "reduced.base")
        options |= small.get("options") or {}
        keep = small.get("runs")
        if keep is not None:
            arms = [arm for arm in arms if arm.name in keep]
        swaps = _sweep(small.get("sweep"), "reduced.sweep")
        arms = [Arm(a.name, a.overrides, {k: swaps.get(k, v) for k, v in a.sweep.items()})
                for a in arms]
    return Experiment(name, base, tuple(arms), options, bool(raw.get("train", True)))


def load(name: str, *, reduced: bool = False) -> Experiment:
    """``experiments/NAME.yaml`` (or a path to any experiment file)."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else experiments_dir() / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(names()) or "none"
        raise ConfigError(f"no experiment file {path} (known figures: {known})")
    return parse(path.stem, path.read_text(), reduced=reduced)


def _coerce(old: Any, new: Any) -> Any:
    """``new`` as the type of the field it replaces, or KeyError when that is not plain."""
    if isinstance(old, float) and not isinstance(new, bool) and isinstance(new, (int, float)):
        return float(new)
    if type(old) is type(new) and isinstance(new, (bool, int, str)):
        return new
    raise KeyError(new)  # lists and the rest: Hydra knows their element types


def _replaced(node: Any, path: list[str], value: Any) -> Any:
    """A copy of the dataclass ``node`` with the field at ``path`` set (KeyError: no such
    plain field, e.g. a group choice like ``activation=tanh``)."""
    head, rest = path[0], path[1:]
    if not dataclasses.is_dataclass(node) or head not in {f.name for f in
                                                          dataclasses.fields(node)}:
        raise KeyError(head)
    old = getattr(node, head)
    new = _replaced(old, rest, value) if rest else _coerce(old, value)
    if not rest and (dataclasses.is_dataclass(old) or head == "name"):
        raise KeyError(head)
    return dataclasses.replace(node, **{head: new})


def _config(overrides: list[str], first: Config | None, first_values: dict,
            values: dict) -> Config:
    """compose(overrides), or - much faster for a sweep over plain fields (Hydra's compose
    takes ~0.1-0.3 s a run) - the arm's first config with the swept fields replaced and
    validated again, which is the same config."""
    if first is not None:
        try:
            cfg = first
            for key, value in values.items():
                if value != first_values[key]:
                    cfg = _replaced(cfg, key.split("."), value)
            return validate(cfg)
        except KeyError:
            pass
    return compose(overrides)


def expand(exp: Experiment) -> list[Run]:
    """Every run of the experiment, arm by arm, each arm's grid in order."""
    runs = []
    for arm in exp.arms:
        keys = list(arm.sweep)
        first, first_values = None, {}
        for index, combo in enumerate(itertools.product(*(arm.sweep[k] for k in keys))):
            values = dict(zip(keys, combo, strict=True))
            overrides = [*exp.base, *arm.overrides,
                         *(f"{k}={override_value(v)}" for k, v in values.items())]
            try:
                cfg = _config(overrides, first, first_values, values)
            except ConfigError as error:
                raise ConfigError(f"{exp.name}: arm {arm.name}: {error}") from None
            if index == 0:
                first, first_values = cfg, values
            runs.append(Run(arm.name, index, values, overrides, cfg))
    return runs
