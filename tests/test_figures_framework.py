"""The figure framework itself: experiment files, their expansion into runs, the command."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from trainlab.config import ConfigError, compose
from trainlab.figures import common, experiment, main

TEXT = """
base: [data=surface, optimizer=sgd, epochs=3]
runs:
  gd: {sweep: {optimizer.lr: [0.001, 0.01], seed: [0, 1]}}
  momentum: {overrides: [optimizer=momentum]}
options: {a: 1}
reduced: {base: [epochs=2], sweep: {optimizer.lr: [0.005]}, options: {a: 2}, runs: [gd]}
"""


def test_sweep_is_a_grid_in_order():
    runs = experiment.expand(experiment.parse("x", TEXT))
    assert [(r.arm, r.index) for r in runs] == [("gd", i) for i in range(4)] + [("momentum", 0)]
    assert runs[1].values == {"optimizer.lr": 0.001, "seed": 1}
    assert runs[1].overrides[-2:] == ["optimizer.lr=0.001", "seed=1"]
    assert runs[1].cfg.optimizer.lr == 0.001 and runs[1].cfg.seed == 1
    assert runs[4].cfg.optimizer.name == "momentum"


def test_reduced_replaces_sweeps_options_and_arms():
    exp = experiment.parse("x", TEXT, reduced=True)
    assert [a.name for a in exp.arms] == ["gd"]
    assert exp.arms[0].sweep["optimizer.lr"] == [0.005]
    assert exp.options == {"a": 2}
    assert experiment.expand(exp)[0].cfg.epochs == 2


@pytest.mark.parametrize("text, message", [
    ("runs: {}", "at least one arm"),
    ("runs: {a: {overides: []}}", "unknown key"),
    ("base: data=xor\nruns: {a: {}}", "list of overrides"),
    ("runs: {a: {sweep: {optimizer.lr: 0.1}}}", "non-empty lists"),
    ("runs: {a: {overrides: [optimizer.lr=-1]}}", "optimizer.lr"),
])
def test_bad_experiment_files_are_refused(text, message):
    with pytest.raises(ConfigError, match=message):
        experiment.expand(experiment.parse("x", text))


def test_override_values_in_hydra_grammar():
    assert experiment.override_value([4, 8]) == "[4,8]"
    assert experiment.override_value(True) == "true"
    assert experiment.override_value(1e-3) == "0.001"


@pytest.mark.parametrize("name", experiment.names())
@pytest.mark.parametrize("reduced", [False, True])
def test_every_experiment_file_composes(name, reduced):
    runs = experiment.expand(experiment.load(name, reduced=reduced))
    assert runs and all(run.cfg.epochs >= 1 for run in runs)
    assert (experiment.experiments_dir() / f"{name}.yaml").read_text().startswith(
        f"# make fig-{name}"), "the header starts with the command"


def test_unknown_figure_is_an_error(capsys):
    assert main(["no-such-figure"]) == 2
    assert "no experiment file" in capsys.readouterr().err


@pytest.mark.parametrize("sweep", [
    "{optimizer.lr: [0.1, 1, 0.001]}",
    "{seed: [0, 3], optimizer.momentum: [0.5, 0.9]}",
    "{activation: [relu, tanh], model.widths: [[4], [8, 8]]}",   # group choices: compose
    "{optimizer.form: [classic, ema], data.start: [[1.0, 2.0], [0, 1]]}",
])
def test_fast_sweep_configs_equal_composed_ones(sweep):
    text = f"base: [data=surface, optimizer=momentum]\nruns: {{a: {{sweep: {sweep}}}}}"
    for run in experiment.expand(experiment.parse("x", text)):
        assert run.cfg == compose(run.overrides)


def test_fast_sweep_values_are_still_validated():
    text = "base: [optimizer=sgd]\nruns: {a: {sweep: {optimizer.lr: [0.1, -1.0]}}}"
    with pytest.raises(ConfigError, match="optimizer.lr=-1.0"):
        experiment.expand(experiment.parse("x", text))


def _fake_figure(monkeypatch, checks):
    """Figure ``fake``, trained nothing, whose module records the options each function got
    and whose check returns ``checks``."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from trainlab.figures import common

    got = {}

    def record(name, result):
        def function(table_or_runs, options):
            got[name] = options
            return result() if callable(result) else result
        return function

    module = SimpleNamespace(table=record("table", lambda: pd.DataFrame({"x": [1.0]})),
                             check=record("check", checks), draw=record("draw", plt.figure),
                             brief=record("brief", lambda: pd.DataFrame({"x": [1.0]})))
    exp = experiment.parse("fake", "train: false\nruns: {a: {}}\noptions: {limit: 0.5}")
    monkeypatch.setattr(common, "load", lambda name, reduced=False: exp)
    monkeypatch.setattr(common, "module_for", lambda name: module)
    return got


def test_every_figure_function_gets_the_options(tmp_path, monkeypatch):
    from trainlab.figures.common import Check

    got = _fake_figure(monkeypatch, [Check("x below the limit", True)])
    assert main(["fake", "--out", str(tmp_path)]) == 0
    assert got == {name: {"limit": 0.5} for name in ("table", "check", "draw", "brief")}
    assert "limit" not in (tmp_path / "table.csv").read_text()


def test_a_figure_that_checks_nothing_fails(tmp_path, monkeypatch, capsys):
    import figure_checks
    from trainlab.figures import common

    _fake_figure(monkeypatch, [])
    assert main(["fake", "--out", str(tmp_path)]) == 1
    assert "FAIL the figure checks nothing" in capsys.readouterr().out
    built = common.build("fake", out=tmp_path)
    assert [c.ok for c in built.checks] == [False]
    with pytest.raises(AssertionError, match="the figure checks nothing"):
        figure_checks.assert_shows(built)  # so a figure test fails too
    assert "checks nothing" in (tmp_path / "checks.csv").read_text()


def test_redraw_from_stored_runs_and_gallery(tmp_path):
    from trainlab.figures import common

    out = tmp_path / "results" / "gd-lr"
    assert main(["gd-lr", "--reduced", "--out", str(out)]) == 0
    table = (out / "table.csv").read_text()
    (out / "figure.png").unlink()
    # a second output folder, drawn from the first one's runs: no training, the same table
    again = tmp_path / "again"
    assert main(["gd-lr", "--reduced", "--from", str(out), "--out", str(again)]) == 0
    assert (again / "table.csv").read_text() == table
    assert not (again / "runs").exists()
    # found by config when the folders are laid out differently (a Hydra multirun, say)
    moved = tmp_path / "elsewhere"
    (out / "runs" / "gd").rename(moved)
    built = common.build("gd-lr", source=moved, out=tmp_path / "third", reduced=True)
    assert not common.failures(built.checks)
    assert main(["--gallery", "--from", str(tmp_path / "results"), "--out",
                 str(tmp_path / "gallery")]) == 0
    assert not (tmp_path / "gallery" / "gd-lr.png").exists()  # no figure.png left there
    assert "gd-lr" not in (tmp_path / "gallery" / "index.md").read_text()


def test_missing_runs_are_one_short_line_naming_the_layout(tmp_path, capsys):
    assert main(["gd-lr", "--reduced", "--from", str(tmp_path)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "holds no run for" in line and "(first: gd/0" in line
    assert "DIR/runs/ARM/I/summary.json" in line and len(line) < 400
    assert main(["gd-lr", "--reduced", "--from", str(tmp_path / "nonexistent")]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "is not a folder" in line and len(line) < 400


def test_figure_tables_show_accuracies_as_train_does():
    assert common._cell("final_val_acc", 0.5654) == "56.54%"
    assert common._cell("test_error", 0.1) == "10.00%"
    assert common._cell("lr", 0.5654) == "0.5654"
