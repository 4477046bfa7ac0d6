"""The repository documents itself: every figure has its row in docs/figures.md, and no
docstring sends a reader to a file outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_experiment_has_its_row_in_the_catalogue():
    catalogue = (ROOT / "docs" / "figures.md").read_text()
    rows = set(re.findall(r"^\| \[([a-z0-9-]+)\]\(\.\./experiments/\1\.yaml\)", catalogue,
                          re.MULTILINE))
    assert rows == {p.stem for p in (ROOT / "experiments").glob("*.yaml")}


def test_sources_point_at_docs_not_at_the_course_inputs():
    pointers = [f"{p.relative_to(ROOT)}:{n}" for p in (ROOT / "src").rglob("*.py")
                for n, line in enumerate(p.read_text().splitlines(), 1)
                if re.search(r"\b(DESIGN|FIGURES)\.md\b", line)]
    assert pointers == []
