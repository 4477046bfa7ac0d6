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


def assert_fails(built, wrong, *criteria):
    """The figure's check, fed the deliberately ``wrong`` table, fails exactly the criteria that
    start with ``criteria`` (and passes the others)."""
    module = common.module_for(built.experiment.name)
    checks = module.check(wrong, dict(built.options))
    failed = [c.criterion for c in checks if not c.ok]
    assert len(failed) == len(criteria), "\n".join(
        f"{'FAIL' if not c.ok else 'PASS'} {c.criterion}: {c.measured}" for c in checks)
    for start in criteria:
        assert any(f.startswith(start) for f in failed), (start, failed)
