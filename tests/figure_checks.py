"""What every figure test does: build the figure at its reduced size and assert its
must-show criteria from the table behind it."""

from __future__ import annotations

from trainlab.figures import common


def build(name, tmp_path):
    built = common.build(name, out=tmp_path, reduced=True, progress=False)
    assert (tmp_path / "figure.png").stat().st_size > 10_000
    assert (tmp_path / "table.csv").is_file()
    return built


def assert_shows(built):
    failed = common.failures(built.checks)
    assert not failed, "\n".join(f"{c.criterion}: {c.measured}" for c in failed)
