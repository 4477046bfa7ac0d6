"""A sweep's jobs, derived from one composed config per shape instead of one Hydra compose each.

Hydra composes every job from scratch (defaults list, config files, schema merge, then deep
copies for the job's HydraConfig): about 0.1-0.4 s a job, most of a 1000-job sweep of tiny
trials. Jobs of one *shape* - the same override keys in the same order, differing only in plain
scalar values (``optimizer.lr=0.01``, not a group choice such as ``optimizer=sgd``, nor
``+key``, ``~key``, ``key@pkg``, lists or ``hydra.*``) - differ in nothing else. So the first
job of a shape is composed (``Template``), and the others are derived from it. Composed: from
the master config (the sweep's, which Hydra composed from every override but the sweeps) when
the job only adds plain values to the master's overrides, else by Hydra. Derived:

- their typed ``Config``: the template's with the new values (``dataclasses.replace``), each
  read as Hydra's override grammar reads it and converted as OmegaConf converts it to the
  field's type, then validated (``trainlab.config.validate``);
- their ``.hydra`` files (config.yaml, hydra.yaml, overrides.yaml): the template's text with
  the job's own values written in where its values go (job id and number, overrides,
  override_dirname, output dir).

A value this module cannot read exactly as Hydra would (a quoted string, an interpolation, a
list...) makes its job a shape of its own, composed by Hydra. tests/test_job_configs.py holds
the derived configs and files equal to Hydra's on a sample of sweeps.
"""

# No `from __future__ import annotations` here: Hydra imports plugin modules without
# registering them in sys.modules, and dataclasses then fail on string annotations.
import copy
import dataclasses
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hydra._internal.config_loader_impl import ConfigLoaderImpl, get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml: 4x faster
# A value Hydra's grammar reads as a plain int, float, bool or null (no quotes, no lists, no
# interpolation, no sweep syntax): what the fast path converts itself.
_KEY = re.compile(r"^[A-Za-z_][\w.]*$")
_INT = re.compile(r"^[+-]?(0|[1-9][0-9_]*)$")
_FLOAT = re.compile(r"^[+-]?(\d[\d_]*\.\d*|\.\d+|\d[\d_]*)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$",
                    re.IGNORECASE)
_WORD = re.compile(r"^[A-Za-z_][\w-]*$")
_SENTINEL = "TRAINLAB_SLOT_{}_"


def without_hydra(config: DictConfig) -> DictConfig:
    """The app's config: a copy without the hydra node (as Hydra's run_job makes it)."""
    task = copy.deepcopy(config)
    with read_write(task), open_dict(task):
        del task["hydra"]
    return task


def dump_yaml(node) -> str:
    """What Hydra's _save_config writes for a config node (the same values), with libyaml."""
    return yaml.dump(OmegaConf.to_container(node, resolve=False, enum_to_str=True),
                     Dumper=_DUMPER, default_flow_style=False, allow_unicode=True,
                     sort_keys=False)


def _scalar(value) -> str:
    """``value`` as yaml.dump writes it inside a document (what the files hold)."""
    if isinstance(value, float):  # PyYAML's SafeRepresenter.represent_float, without a call
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value).lower()
        if "." not in text and "e" in text:
            text = text.replace("e", ".0e", 1)
        return text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A string without spaces is never folded onto a second line, whatever its length (the
    # callers derive no job whose strings have spaces).
    text = yaml.dump(value, Dumper=_DUMPER, width=1 << 20, allow_unicode=True)
    return text.removesuffix("\n...\n").rstrip("\n")


def read_plain(text: str) -> Any:
    """The Python value Hydra's grammar reads from an unquoted override value, for the values
    this module takes (a number, true/false, null, a bare word); ``...`` (Ellipsis) for any
    other, which goes to Hydra."""
    if _INT.match(text):
        return int(text.replace("_", ""))
    if _FLOAT.match(text):
        return float(text.replace("_", ""))
    lower = text.lower()
    if lower in ("true", "false"):
        return lower == "true"
    if lower == "null":
        return None
    if _WORD.match(text):
        return text
    return ...


def _as_field(current: Any, value: Any) -> Any:
    """``value`` as OmegaConf stores it in a field that holds ``current`` (the template's
    value); ``...`` when the conversion is not one this module does exactly."""
    if isinstance(current, bool):
        return value if isinstance(value, bool) else ...
    if isinstance(current, float):
        return float(value) if isinstance(value, (int, float)) and not isinstance(
            value, bool) else ...
    if isinstance(current, int):
        return value if isinstance(value, int) and not isinstance(value, bool) else ...
    if isinstance(current, str):
        return value if isinstance(value, str) else ...
    return ...  # None, lists, dataclasses: Hydra knows best


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same type (nan equal to nan)."""
    if type(a) is not type(b):
        return False
    return a == b or (isinstance(a, float) and math.isnan(a) and math.isnan(b))


def _replaced(node: Any, path: list[str], value: Any) -> Any:
    head, rest = path[0], path[1:]
    if rest:
        return dataclasses.replace(node, **{head: _replaced(getattr(node, head), rest, value)})
    return dataclasses.replace(node, **{head: value})


def _current(node: Any, path: list[str]) -> Any:
    for key in path:
        if not dataclasses.is_dataclass(node) or key not in {f.name for f in
                                                             dataclasses.fields(node)}:
            return ...
        node = getattr(node, key)
    return node


@dataclass
class Derived:
    """One job, ready to start: its typed config and its .hydra files' texts."""

    cfg: Any  # trainlab.config.Config
    overrides: list[str]  # the app's overrides (hydra.overrides.task)
    files: dict[str, str]  # .hydra file name -> text
    signature: str | None  # its static signature, when it is the template's


@dataclass
class Template:
    """The first job of a shape, composed by Hydra, and what its siblings need of it."""

    config: DictConfig  # with the hydra node
    task: DictConfig
    cfg: Any  # its trainlab Config, validated
    slots: list[tuple[int, list[str]]]  # (override position, config path) of the values
    texts: dict[str, str]  # .hydra files, with _SENTINEL slots where jobs differ
    dirname: dict[str, Any]  # override_dirname's settings
    sweep_dir: Path  # where its siblings' directories go (hydra.sweep.dir, resolved)
    signature: str  # its static signature
    # The overrides (position, text) whose values change the compiled program (not a traced
    # number): a job with the template's text at each of them has the template's signature.
    fixed: list[tuple[int, str]]


class JobConfigs:
    def __init__(self, config_loader, master: DictConfig) -> None:
        self.loader, self.master = config_loader, master
        self.parser = OverridesParser.create(config_loader=config_loader)
        self.groups = set(master.hydra.runtime.choices.keys())
        self.templates: dict[tuple, Template] = {}
        self._derivable: dict[tuple, bool] = {}
        self._composed: dict[tuple, tuple] = {}  # Hydra's shapes: (config, task, parsed)
        self._master_fixed: set | None = None  # the master's overrides but the sweeps
        # Derived jobs' directories follow hydra.sweep.subdir; only the default is derived.
        subdir = OmegaConf.to_container(master.hydra.sweep, resolve=False).get("subdir")
        self.default_subdir = subdir == "${hydra.job.num}"

    # ---------------------------------------------------------------------- Hydra's way
    def _plain_value(self, override: Override) -> bool:
        return (override.type == OverrideType.CHANGE and override.package is None
                and not override.is_hydra_override()
                and override.key_or_group not in self.groups)

    def compose(self, overrides: list[str]) -> tuple[DictConfig, DictConfig]:
        """``(config, task)``: what ``config_loader.load_sweep_config(master, overrides)``
        returns, and that config without its hydra node (what the app gets). A job that
        differs from the master config (composed by Hydra before the sweep), or from an
        already composed job, only in plain values is a copy of it with those values applied
        the way Hydra applies command-line overrides (about 20x faster)."""
        parsed = self.parser.parse_overrides(list(overrides))
        changed = self._beyond_master(parsed)
        if changed is not None:
            config = copy.deepcopy(self.master)
            ConfigLoaderImpl._apply_overrides_to_config(changed, config)
            task = without_hydra(config)
        else:
            shape = tuple((o.get_key_element(), None if self._plain_value(o) else o.input_line)
                          for o in parsed)
            if shape not in self._composed:
                config = self.loader.load_sweep_config(self.master, list(overrides))
                self._composed[shape] = (config, without_hydra(config), parsed)
                return copy.deepcopy(config), without_hydra(config)
            first, first_task, first_parsed = self._composed[shape]
            changed = [o for o, t in zip(parsed, first_parsed, strict=True)
                       if o.input_line != t.input_line]
            config, task = copy.deepcopy(first), copy.deepcopy(first_task)
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

    def _beyond_master(self, parsed: list[Override]) -> list[Override] | None:
        """The overrides that make this job from the master config (which Hydra composed
        before the sweep, from every override but the sweeps), or None when only Hydra can
        compose it: the job must hold each of the master's overrides (in meaning), and change
        only plain values beside them, each value's key its own (so that the order they are
        applied in cannot matter)."""
        if self._master_fixed is None:
            master = self.parser.parse_overrides(list(self.master.hydra.overrides.task))
            self._master_fixed = {_meaning(o) for o in master if not o.is_sweep_override()}
        # A sweeper may write the master's overrides its own way (basic: progress=False)
        changed = [o for o in parsed if _meaning(o) not in self._master_fixed]
        if not self._master_fixed <= {_meaning(o) for o in parsed}:
            return None  # the job lacks one of the master's overrides
        # The values set, as opposed to group choices (which the master's defaults list took)
        keys = [o.key_or_group for o in parsed if o.key_or_group not in self.groups]
        if len(set(keys)) < len(keys) or any(
                a.startswith(b + ".") for a in keys for b in keys):
            return None
        if not all(self._plain_value(o) and not o.is_sweep_override() for o in changed):
            return None
        return changed

    # ------------------------------------------------------------------ the fast way
    def shape(self, overrides: list[str]) -> tuple | None:
        """The jobs that can share a template: the same keys in order, and every override
        that is not a plain scalar value identical; None if some override is not simple."""
        key = []
        for text in overrides:
            name, eq, value = text.partition("=")
            if not eq or not _KEY.match(name) or name in self.groups \
                    or name.startswith("hydra."):
                key.append((name, text))  # a group choice, +/~, hydra.*: part of the shape
                continue
            key.append((name, None if read_plain(value) is not ... else text))
        return tuple(key)

    def derivable(self, shape: tuple, overrides: list[str]) -> bool:
        """Whether the jobs of ``shape`` can be derived from a template (asked of its first
        job: Hydra's parser must read each value as ``read_plain`` does)."""
        if shape not in self._derivable:
            self._derivable[shape] = self.default_subdir and self._reads_alike(shape, overrides)
        return self._derivable[shape]

    def _reads_alike(self, shape: tuple, overrides: list[str]) -> bool:
        parsed = self.parser.parse_overrides(list(overrides))
        for (_, text), override in zip(shape, parsed, strict=True):
            if text is None and not (self._plain_value(override) and _same(
                    override.value(), read_plain(override.input_line.partition("=")[2]))):
                return False
        return True

    def remember(self, shape: tuple, overrides: list[str], config: DictConfig,
                 task: DictConfig, hydra_cfg: DictConfig, cfg: Any,
                 sweep_dir: Path) -> Template | None:
        """The template of ``shape``, from its first job as Hydra composed it (``config``,
        ``task``, HydraConfig's copy ``hydra_cfg``, the typed ``cfg``); None when a value
        does not fit its field as this module converts it (its jobs are composed by Hydra)."""
        slots = []
        for position, (key, text) in enumerate(shape):
            if text is not None:
                continue
            path = key.split(".")
            if _as_field(_current(cfg, path),
                         read_plain(overrides[position].partition("=")[2])) is ...:
                self._derivable[shape] = False
                return None
            slots.append((position, path))
        from trainlab.config import ZERO_IS_STATIC, static_signature, traced_values

        # Traced numbers (a zero that switches a piece off aside), and what the signature
        # leaves out, change no job's program.
        free = (set(traced_values(cfg)) - set(ZERO_IS_STATIC)) | {
            "seed", "objective", "progress", "save_params"}
        fixed = [(position, overrides[position]) for position, path in slots
                 if ".".join(path) not in free]
        template = Template(config, task, cfg, slots, self._texts(task, hydra_cfg, slots),
                            dict(config.hydra.job.config.override_dirname), sweep_dir,
                            static_signature(cfg), fixed)
        self.templates[shape] = template
        return template

    def _texts(self, task: DictConfig, hydra_cfg: DictConfig, slots) -> dict[str, str]:
        """The three .hydra files of the template, with a sentinel where each job's values
        go."""
        container = OmegaConf.to_container(task, resolve=False, enum_to_str=True)
        for number, (_, path) in enumerate(slots):
            node = container
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = _SENTINEL.format(number)
        hydra_node = OmegaConf.to_container(hydra_cfg.hydra, resolve=False, enum_to_str=True)
        job = hydra_node["job"]
        job["id"], job["num"] = _SENTINEL.format("id"), _SENTINEL.format("num")
        job["override_dirname"] = _SENTINEL.format("dirname")
        hydra_node["runtime"]["output_dir"] = _SENTINEL.format("output_dir")
        task_overrides = [_SENTINEL.format(f"o{i}")
                          for i in range(len(hydra_node["overrides"]["task"]))]
        hydra_node["overrides"]["task"] = task_overrides

        def dump(data) -> str:
            return yaml.dump(data, Dumper=_DUMPER, default_flow_style=False,
                             allow_unicode=True, sort_keys=False)

        return {"config.yaml": dump(container), "hydra.yaml": dump({"hydra": hydra_node}),
                "overrides.yaml": dump(task_overrides)}

    def derive(self, template: Template, overrides: list[str], index: int,
               output_dir: Path, validate) -> Derived | None:
        """A job of the template's shape, with its own values: its config and files (None
        when a value does not fit its field as this module converts it: Hydra will say)."""
        cfg, fills = template.cfg, {}
        for number, (position, path) in enumerate(template.slots):
            value = _as_field(_current(template.cfg, path),
                              read_plain(overrides[position].partition("=")[2]))
            if value is ...:
                return None
            cfg = _replaced(cfg, path, value)
            fills[_SENTINEL.format(number)] = _scalar(value)
        cfg = validate(cfg)
        app = [o for o in overrides if not o.startswith("hydra.")]
        if any(" " in text or "\n" in text for text in [*app, str(output_dir)]):
            return None  # yaml.dump might fold it onto two lines: leave it to Hydra
        dirname = get_overrides_dirname(
            overrides=[_Plain(o) for o in app], kv_sep=template.dirname["kv_sep"],
            item_sep=template.dirname["item_sep"],
            exclude_keys=list(template.dirname["exclude_keys"]))
        job = {_SENTINEL.format("id"): _scalar(str(index)),
               _SENTINEL.format("num"): str(index),
               _SENTINEL.format("dirname"): _scalar(dirname),
               _SENTINEL.format("output_dir"): _scalar(str(output_dir))}
        job |= {_SENTINEL.format(f"o{i}"): _scalar(text) for i, text in enumerate(app)}
        files = {"config.yaml": _fill(template.texts["config.yaml"], fills),
                 "hydra.yaml": _fill(template.texts["hydra.yaml"], job),
                 "overrides.yaml": _fill(template.texts["overrides.yaml"], job)}
        same_program = all(overrides[position] == text for position, text in template.fixed)
        return Derived(cfg, app, files, template.signature if same_program else None)


def _meaning(override: Override) -> tuple:
    """What an override does, however it is written (``progress=false``, ``progress=False``)."""
    return override.type, override.package, override.key_or_group, repr(override.value())


_SLOT = re.compile(r"TRAINLAB_SLOT_[A-Za-z0-9_]+?_(?![A-Za-z0-9])")


def _fill(text: str, values: dict[str, str]) -> str:
    return _SLOT.sub(lambda m: values[m.group(0)], text)


class _Plain:
    """What get_overrides_dirname reads of an Override: its key and its text."""

    def __init__(self, text: str) -> None:
        self.input_line = text
        self.key_or_group = text.partition("=")[0].lstrip("+~")

    def get_key_element(self) -> str:
        return self.key_or_group
