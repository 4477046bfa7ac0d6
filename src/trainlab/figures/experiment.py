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
      search: {n_trials: 4}                                # updates every arm's search
      options: {}                                          # updates options
      runs: [gd]                                           # keep only these arms

An arm's ``sweep`` is a grid: one run per combination of its values, numbered in order. Quote
an override holding brackets inside a [...] list: ``"model.widths=[100]"``. A run is
exactly what ``train BASE ARM SWEPT`` would do (``config.compose``).

An arm's ``search`` draws its runs from a search space as ``hydra/sweeper=random`` (or
``quasirandom``) does, with trainlab.search_space: the runs are the trials of
``train -m hydra/sweeper=random hydra.sweeper.n_trials=N hydra.sweeper.seed=S PARAMS``::

    search: {method: random, n_trials: 16, seed: 0,       # random | sobol | halton | grid
             params: {optimizer.lr: "tag(log, interval(1e-4, 1))"}}

``seed`` may be a list: one search per seed, one after the other (repeated searches). ``grid``
puts k = n_trials^(1/d) points on each of the d dimensions, (i + u) / k of the unit interval,
shifted by a u in [0, 1)^d drawn from the seed: a randomly shifted grid. With a sweep too, every
combination of the sweep gets the whole search.

A search's ``sweeper`` makes it adaptive: its trials are drawn as above, then trained together
by the driver of ``hydra/sweeper=halving`` or ``=pbt`` (trainlab.search) with the knobs given,
exactly as ``train -m hydra/sweeper=NAME hydra.sweeper.KNOB=VALUE ...`` would::

    search: {n_trials: 81, seed: [0, 1], params: {...},
             sweeper: {name: halving, eta: 3, min_epochs: 3}}   # or {name: pbt, interval: 3}

An adaptive arm has no sweep (one search per seed, its runs trained by one driver each).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from trainlab import search_space
from trainlab.config import Config, ConfigError, compose, validate

_TOP_KEYS = {"base", "runs", "options", "train", "reduced"}
_ARM_KEYS = {"overrides", "sweep", "search"}
_REDUCED_KEYS = {"base", "sweep", "search", "options", "runs"}
_SEARCH_KEYS = {"method", "n_trials", "seed", "params", "sweeper"}
SEARCH_METHODS = (*search_space.METHODS, "grid")
# An adaptive search's sweeper: its typed config (the knobs allowed) and its class.
SWEEPERS = {"halving": ("HalvingSweeperConf", "HalvingSweeper"),
            "pbt": ("PbtSweeperConf", "PbtSweeper")}


@dataclass(frozen=True)
class Arm:
    name: str
    overrides: tuple[str, ...] = ()
    sweep: dict[str, list] = field(default_factory=dict)
    search: dict[str, Any] | None = None  # method, n_trials, seed (int or list), params


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
    search_seed: int | None = None  # a search arm's run: the seed of its search
    trial: int | None = None  # and its place among that search's trials (0, 1, ...)
    search: dict[str, Any] | None = None  # the arm's search (its sweeper: an adaptive one)

    @property
    def adaptive(self) -> bool:
        """Whether an adaptive search (halving, PBT) trains this run with its search's others."""
        return bool(self.search and self.search.get("sweeper"))


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


def _search(node: Any, where: str) -> dict[str, Any] | None:
    if node is None:
        return None
    search = {"method": "random", "n_trials": 16, "seed": 0} | _check_keys(node, _SEARCH_KEYS,
                                                                          where)
    if search["method"] not in SEARCH_METHODS:
        raise ConfigError(f"{where}.method={search['method']}: must be one of "
                          f"{', '.join(SEARCH_METHODS)}")
    n, seed, params = search["n_trials"], search["seed"], search.get("params")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"{where}.n_trials={n}: must be an integer >= 1")
    seeds = seed if isinstance(seed, list) else [seed]
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"{where}.seed={seed}: must be an integer or a list of integers")
    if not isinstance(params, dict) or not params:
        raise ConfigError(f"{where}.params: must map override keys to search-space values, "
                          "e.g. optimizer.lr: 'tag(log, interval(1e-4, 1))'")
    if search.get("sweeper") is not None:
        _sweeper(search, seeds[0], f"{where}.sweeper")  # its knobs checked now, not at training
    return search


def _sweeper(search: dict[str, Any], seed: int, where: str):
    """The Hydra sweeper ``search['sweeper']`` names, built with its knobs (ConfigError: an
    unknown name or knob, or a knob's value out of range)."""
    from hydra.errors import HydraException

    from hydra_plugins.trainlab_sweeper import config, sampling_sweeper

    node = search["sweeper"]
    if not isinstance(node, dict) or node.get("name") not in SWEEPERS:
        raise ConfigError(f"{where}: must be a mapping with name: one of {', '.join(SWEEPERS)}")
    conf_name, class_name = SWEEPERS[node["name"]]
    base = {f.name for f in dataclasses.fields(config.RandomSweeperConf)}
    knobs = {f.name for f in dataclasses.fields(getattr(config, conf_name))} - base
    knobs = _check_keys({k: v for k, v in node.items() if k != "name"}, knobs, where)
    if search["method"] not in search_space.METHODS:
        raise ConfigError(f"{where}: the trials of an adaptive search are drawn by one of "
                          f"{', '.join(search_space.METHODS)}, not {search['method']}")
    try:
        return getattr(sampling_sweeper, class_name)(
            method=search["method"], n_trials=search["n_trials"], seed=seed, **knobs)
    except HydraException as error:
        raise ConfigError(f"{where}: {error}") from None


def driver(run: Run):
    """The driver (trainlab.search) that trains an adaptive run's search - every trial of its
    arm with its search seed - as its Hydra sweeper would; None for any other run."""
    if not run.adaptive:
        return None
    sweeper = _sweeper(run.search, run.search_seed, f"runs.{run.arm}.search.sweeper")
    space = search_space.parse([f"{k}={v}" for k, v in run.search["params"].items()])
    return sweeper.driver(space)


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
                        _sweep(node.get("sweep"), f"runs.{arm_name}.sweep"),
                        _search(node.get("search"), f"{name}: runs.{arm_name}.search")))
    if not arms:
        raise ConfigError(f"{name}: needs at least one arm under runs")
    for arm in arms:
        if arm.sweep and arm.search and arm.search.get("sweeper"):
            raise ConfigError(f"{name}: runs.{arm.name}: an adaptive search (search.sweeper) "
                              "trains its trials together: give it no sweep")
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
        searched = _check_keys(small.get("search"), _SEARCH_KEYS, f"{name}: reduced.search")
        arms = [Arm(a.name, a.overrides, {k: swaps.get(k, v) for k, v in a.sweep.items()},
                    a.search and _search(a.search | searched, f"{name}: runs.{a.name}.search"))
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


def grid_points(n: int, d: int, seed: int) -> np.ndarray:
    """k = n^(1/d) points a dimension at (i + u) / k, shifted by a u in [0, 1)^d drawn from
    ``seed`` (a stream of its own: not the random search's first trial of that seed)."""
    k = round(n ** (1 / d))
    if k**d != n:
        raise ConfigError(f"search method grid: n_trials={n} is not k^{d} "
                          f"(k points on each of the {d} dimensions)")
    shift = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,))).random(d)
    cells = np.stack(np.meshgrid(*[np.arange(k)] * d, indexing="ij"), -1).reshape(-1, d)
    return (cells + shift) / k


def search_trials(search: dict[str, Any], seed: int) -> list[tuple[list[str], dict]]:
    """(overrides, drawn values) of each trial of one search (``search``: an arm's)."""
    from hydra.errors import HydraException

    try:
        space = search_space.parse([f"{k}={v}" for k, v in search["params"].items()])
        if search["method"] == "grid":
            points = grid_points(search["n_trials"], len(space.dimensions), seed)
            trials = [[f"{item.key}={item.value(next(u))}"
                       if isinstance(item, search_space.Dimension) else item
                       for item in space.items] for u in map(iter, points)]
        else:
            trials = space.trials(search["method"], search["n_trials"], seed)
    except HydraException as error:
        raise ConfigError(f"search: {' '.join(str(error).split())}") from None
    dimensions = {d.key: d for d in space.dimensions}
    drawn = []
    for overrides in trials:
        values = {}
        for override in overrides:
            key, _, text = override.partition("=")
            if key in dimensions:  # the value as the number it stands for
                dim = dimensions[key]
                values[key] = text if dim.choices else int(text) if dim.integer else float(text)
        drawn.append((overrides, values))
    return drawn


def _draws(arm: Arm) -> list[tuple[int | None, int | None, list[str], dict]]:
    """(search seed, trial, overrides, values) of each trial of the arm's searches, or one
    empty draw for an arm without a search."""
    if arm.search is None:
        return [(None, None, [], {})]
    seeds = arm.search["seed"]
    return [(seed, trial, overrides, values)
            for seed in (seeds if isinstance(seeds, list) else [seeds])
            for trial, (overrides, values) in enumerate(search_trials(arm.search, seed))]


def expand(exp: Experiment) -> list[Run]:
    """Every run of the experiment, arm by arm, each arm's grid in order (and for each of its
    combinations, the trials of the arm's search, search seed by search seed)."""
    runs = []
    for arm in exp.arms:
        keys = list(arm.sweep)
        first, first_values = None, {}
        try:
            draws = _draws(arm)
        except ConfigError as error:
            raise ConfigError(f"{exp.name}: arm {arm.name}: {error}") from None
        grid = itertools.product(*(arm.sweep[k] for k in keys))
        for index, (combo, draw) in enumerate(itertools.product(grid, draws)):
            search_seed, trial, drawn, drawn_values = draw
            values = dict(zip(keys, combo, strict=True)) | drawn_values
            overrides = [*exp.base, *arm.overrides,
                         *(f"{k}={override_value(v)}" for k, v in zip(keys, combo)), *drawn]
            try:
                cfg = _config(overrides, first, first_values, values)
            except ConfigError as error:
                raise ConfigError(f"{exp.name}: arm {arm.name}: {error}") from None
            if index == 0:
                first, first_values = cfg, values
            runs.append(Run(arm.name, index, values, overrides, cfg, search_seed=search_seed,
                            trial=trial, search=arm.search))
    return runs
