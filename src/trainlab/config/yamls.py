"""The YAML file of every choice, written from its class: ``conf/<group>/<name>.yaml``.

A choice's class is the single source of its fields, defaults and checks; its YAML file (what
Hydra's config search path finds, and what a user reads) is generated from it, so the two
cannot disagree. ``python -m trainlab.config.yamls`` rewrites the files (``make yamls``); a
test fails when a committed file differs from what its class would write.
"""

from __future__ import annotations

import dataclasses
import sys
import textwrap
from pathlib import Path

import yaml

from trainlab.config.fields import check_of
from trainlab.config.registry import GROUPS

CONF = Path(__file__).resolve().parent.parent / "conf"


def _doc(cls: type) -> str:
    """The first paragraph of the class's own docstring (not dataclass's generated one)."""
    doc = cls.__dict__.get("__doc__") or ""
    if doc.startswith(f"{cls.__name__}("):
        return ""
    return " ".join(doc.strip().split("\n\n")[0].split())


def _value(value) -> str:
    if value is dataclasses.MISSING or value == "???":
        return "???"
    return yaml.safe_dump(value, default_flow_style=True, width=1000).strip().removesuffix(
        "\n...").removesuffix("...").strip()


def text(group: str, name: str, cls: type) -> str:
    """The YAML file of choice ``group=name``."""
    doc = _doc(cls)
    lines = textwrap.wrap(f"{group}={name}" + (f": {doc}" if doc else ""), width=95,
                          initial_indent="# ", subsequent_indent="# ")
    lines += [f"# Every value can be overridden: `train {group}={name} {group}.<key>=...`.",
              f"# Generated from {cls.__module__}.{cls.__qualname__} (edit the class, then "
              "`make yamls`).",
              "defaults:", f"  - /schema/{group}/{name}@_here_", "  - _self_", ""]
    instance = cls()
    for f in dataclasses.fields(cls):
        line = f"{f.name}: {_value(getattr(instance, f.name))}"
        check = check_of(cls, f.name)
        if check is not None and f.name != "name":
            line += f"  # {check.allowed}"
        if "renamed_to" in f.metadata:
            line += f"  # deprecated: write {f.metadata['renamed_to']}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def expected() -> dict[Path, str]:
    """Every choice's file and the text its class writes."""
    return {CONF / group / f"{name}.yaml": text(group, name, cls)
            for group, choices in GROUPS.items() for name, cls in choices.items()}


def main(argv: list[str]) -> int:
    files = expected()
    stale = [path for path, body in files.items()
             if not path.is_file() or path.read_text() != body]
    if "--check" in argv:
        for path in stale:
            print(f"out of date: {path} (run `make yamls`)")
        return 1 if stale else 0
    for path in stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(files[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
