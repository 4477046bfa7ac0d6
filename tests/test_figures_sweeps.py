"""The figures built on searches and sweeps (optimizers, search, double-descent, hyperband) at their
reduced size, asserting the must-show criteria of docs/figures.md from the table; and the search
arms of experiment files that they use."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from figure_checks import assert_fails, assert_shows, build
from trainlab import search_space
from trainlab.config import ConfigError
from trainlab.figures import experiment

SEARCH = """
base: [data=moons, regularizer=l2, epochs=2]
runs:
  random:
    search: {method: random, n_trials: 5, seed: [3, 4],
             params: {optimizer.lr: "tag(log, interval(1e-4, 1))",
                      regularizer.kappa: "tag(log, interval(1e-6, 1e-4))"}}
  grid:
    search: {method: grid, n_trials: 9, seed: 7,
             params: {optimizer.lr: "tag(log, interval(1e-4, 1))",
                      regularizer.kappa: "tag(log, interval(1e-6, 1e-4))"}}
  both:
    sweep: {epochs: [1, 3]}
    search: {method: sobol, n_trials: 2, params: {optimizer.lr: "interval(0.1, 0.2)"}}
reduced: {search: {n_trials: 1}}
"""




# ------------------------------------------------------------------ search arms of experiments
def test_a_random_search_arm_is_the_random_sweepers_trials():
    runs = experiment.expand(experiment.parse("x", SEARCH))
    random = [r for r in runs if r.arm == "random"]
    assert [(r.search_seed, r.trial) for r in random] == [(s, t) for s in (3, 4)
                                                          for t in range(5)]
    space = search_space.parse(["optimizer.lr=tag(log, interval(1e-4, 1))",
                                "regularizer.kappa=tag(log, interval(1e-6, 1e-4))"])
    for seed in (3, 4):  # what hydra/sweeper=random hydra.sweeper.seed=SEED draws
        expected = space.trials("random", 5, seed)
        got = [r.overrides[-2:] for r in random if r.search_seed == seed]
        assert got == expected
    for run in random:
        assert run.cfg.optimizer.lr == run.values["optimizer.lr"]
        assert run.cfg.regularizer.kappa == run.values["regularizer.kappa"]
        assert 1e-4 <= run.cfg.optimizer.lr <= 1


def test_a_grid_search_arm_is_a_shifted_grid():
    runs = [r for r in experiment.expand(experiment.parse("x", SEARCH)) if r.arm == "grid"]
    lrs = np.log10(sorted({r.cfg.optimizer.lr for r in runs}))
    assert len(runs) == 9 and len(lrs) == 3 and len({r.cfg.regularizer.kappa for r in runs}) == 3
    np.testing.assert_allclose(np.diff(lrs), 4 / 3, rtol=1e-5)  # evenly spaced in log space
    shift = (lrs[0] + 4) / (4 / 3)
    assert 0 <= shift < 1 and not np.isclose(shift, 0.5)  # shifted, not centred


def test_a_search_under_a_sweep_and_reduced():
    runs = [r for r in experiment.expand(experiment.parse("x", SEARCH)) if r.arm == "both"]
    assert [(r.cfg.epochs, r.trial) for r in runs] == [(1, 0), (1, 1), (3, 0), (3, 1)]
    assert runs[0].cfg.optimizer.lr == runs[2].cfg.optimizer.lr
    small = experiment.expand(experiment.parse("x", SEARCH, reduced=True))
    assert len(small) == 2 + 1 + 2  # one trial per search seed and sweep point


@pytest.mark.parametrize("search, message", [
    ("{method: bayes, params: {optimizer.lr: 'interval(0, 1)'}}", "method"),
    ("{n_trials: 0, params: {optimizer.lr: 'interval(0, 1)'}}", "n_trials"),
    ("{seed: [a], params: {optimizer.lr: 'interval(0, 1)'}}", "seed"),
    ("{}", "params"),
    ("{method: grid, n_trials: 5, params: {optimizer.lr: 'interval(0.1, 1)', "
     "seed: 'range(1, 3)'}}", "not k"),
    ("{params: {optimizer.lr: 'tag(log, interval(0, 1))'}}", "log interval"),
    ("{params: {optimizer.lr: 'interval(0, 1)'}, sweeper: {name: bayes}}", "name: one of"),
    ("{params: {optimizer.lr: 'interval(0, 1)'}, sweeper: {name: halving, eta: 1}}",
     "eta=1: must be >= 2"),
    ("{params: {optimizer.lr: 'interval(0, 1)'}, sweeper: {name: pbt, eta: 3}}",
     "unknown key.*eta.*fraction"),
    ("{method: grid, n_trials: 4, params: {optimizer.lr: 'interval(0, 1)'}, "
     "sweeper: {name: halving}}", "not grid"),
    ("{params: {optimizer.lr: 'interval(0, 1)'}, sweeper: {name: halving}}, sweep: {epochs: [1]}",
     "give it no sweep"),
])
def test_bad_searches_are_refused(search, message):
    text = f"runs: {{a: {{search: {search}}}}}"
    with pytest.raises(ConfigError, match=message):
        experiment.expand(experiment.parse("x", text))


ADAPTIVE = """
base: [data=moons, epochs=4]
runs:
  random:
    search: {n_trials: 9, seed: [0, 1], params: &lr {optimizer.lr: "tag(log, interval(1e-3, 1))"}}
  halving:
    search: {n_trials: 9, seed: [0, 1], params: *lr,
             sweeper: {name: halving, eta: 3, min_epochs: 2}}
"""


def test_an_adaptive_search_arm_is_its_sweepers_trials_and_driver(tmp_path):
    from trainlab.figures import common
    from trainlab.search.halving import Halving

    runs = experiment.expand(experiment.parse("x", ADAPTIVE))
    random = [r for r in runs if r.arm == "random"]
    halving = [r for r in runs if r.arm == "halving"]
    assert [r.overrides for r in halving] == [r.overrides for r in random]  # the same draws
    assert not any(r.adaptive for r in random) and all(r.adaptive for r in halving)
    assert experiment.driver(random[0]) is None
    driver = experiment.driver(halving[0])
    assert isinstance(driver, Halving) and (driver.eta, driver.min_epochs) == (3, 2)
    # each search in a folder of its own, as a sweep dir (PBT's pbt.csv goes beside its jobs)
    assert common.run_dir(tmp_path, halving[10]) == tmp_path / "runs/halving/seed-1/1"
    assert common.run_dir(tmp_path, random[10]) == tmp_path / "runs/random/10"


# ------------------------------------------------------------------------------------ figures
def test_hyperband(tmp_path):
    built = build("hyperband", tmp_path)
    assert_shows(built)
    from trainlab.figures.hyperband import reaching

    # the runs are what the sweepers' drivers leave: halving's pruned at rung 0 (epoch 4),
    # 27 -> 9 trials; PBT's members all to the end, a pbt.csv per search
    for seed in (0, 1):
        folder = tmp_path / "runs" / "halving" / f"seed-{seed}"
        summaries = [json.loads((folder / str(t) / "summary.json").read_text())
                     for t in range(27)]
        assert sum(s["status"] == "pruned" for s in summaries) == 18
        assert {s["rung_epoch"] for s in summaries if s["status"] == "pruned"} == {4}
        pbt = pd.read_csv(tmp_path / "runs" / "pbt" / f"seed-{seed}" / "pbt.csv")
        assert sorted(pbt.epoch.unique()) == [3, 6, 9] and len(pbt) == 3 * 27
    r = reaching(built.table, 0.01).set_index("method")
    assert set(r.loc["halving"].trial_epochs) == {27 * 4 + 9 * 5}
    assert set(r.loc["random"].trial_epochs) == set(r.loc["pbt"].trial_epochs) == {27 * 9}

    t = built.table
    # deliberately wrong: halving spends as random search does (its best only at the full
    # budget): its curve is random search's
    wrong = t[~((t.kind == "curve") & (t.method == "halving"))]
    copied = t[(t.kind == "curve") & (t.method == "random")].assign(method="halving")
    assert_fails(built, pd.concat([wrong, copied], ignore_index=True),
                 "halving reaches random search's final best")
    # deliberately wrong: every PBT member keeps the lr it started with
    lr = t.kind == "lr"
    flat = t.copy()
    flat.loc[lr, "lr"] = t[lr].groupby(["search_seed", "member"]).lr.transform("first")
    assert_fails(built, flat, "PBT's lr schedule changes over training")
def test_search(tmp_path):
    built = build("search", tmp_path)
    assert_shows(built)
    from trainlab.figures.search import searches

    s = searches(built.table)
    # every search of a kind has the same budget; 12 of each, one program for all trials
    assert set(s.groupby("method").trials.first()) == {27}
    assert (s[s.method == "random"].distinct_lr == 27).all()
    assert (s[s.method == "grid"].distinct_lr == 3).all()
    # deliberately wrong: a random search no better than the grid (the grid's objectives)
    t = built.table
    wrong = t.copy()
    wrong.loc[t.method == "random", "objective"] = t[t.method == "grid"].objective.to_numpy()
    assert_fails(built, wrong, "random search finds better settings")


@pytest.mark.slow  # three optimizers, three compiled programs
def test_optimizers(tmp_path):
    built = build("optimizers", tmp_path)
    assert_shows(built)
    from trainlab.figures.optimizers import best

    b = best(built.table)
    assert list(b.arm) == ["sgd", "momentum", "adam"]
    assert b.best_lr.notna().all() and (b.trials == 8).all()
    # each optimizer's curves are those of its best trial, every seed of it
    curves = built.table[built.table.kind == "curve"]
    assert set(curves.groupby("optimizer").lr.first().round(12)) == set(b.best_lr.round(12))


@pytest.mark.slow  # three widths and three feature counts; 3000 full-batch steps
def test_double_descent(tmp_path):
    built = build("double-descent", tmp_path)
    assert_shows(built)
    from trainlab.figures.double_descent import sizes

    s = sizes(built.table).set_index(["model", "size"])
    # (a) the interpolation threshold: width 8 cannot fit the 20% wrong labels, 32 fits all
    assert s.loc[("mlp", 8)].train_error > 0.15 and s.loc[("mlp", 32)].worst_train_error == 0
    t = built.table
    mlp = t.model == "mlp"
    peak_low = s.loc[("mlp", 32)].test_error_min

    def wrong(rows, **columns):
        copy = t.copy()
        for column, value in columns.items():
            copy.loc[rows, column] = value
        return copy

    first_seed = t.seed == t.seed.min()
    # nets that never fit every label: no interpolation threshold to peak at
    assert_fails(built, wrong(mlp & (t["size"] >= 32) & first_seed, train_error=0.01),
                 "(a) test error peaks where")
    # one seed of the small net as bad as the peak's best: the bands touch
    assert_fails(built, wrong(mlp & (t["size"] == 8) & first_seed, test_error=peak_low + 0.01),
                 "(a) the peak stands above the best smaller width")
    # ... and of the wide one
    assert_fails(built, wrong(mlp & (t["size"] == 256) & first_seed,
                              test_error=peak_low + 0.01),
                 "(a) the peak stands above the largest width")
    # a test cross-entropy that does not peak: as high at width 8 as at the peak
    assert_fails(built, wrong(mlp & (t["size"] == 8), test_loss=t[mlp & (t["size"] == 32)]
                              .test_loss.max()), "(a) test cross-entropy peaks")
    # (b) on 300 samples: the minimum-norm fit interpolates exactly (float64) from 300
    # features on, and its test error is at chance there, far above both sides
    assert s.loc[("random_features", 300)].train_loss < 1e-20
    peak = s.loc[("random_features", 300)].test_error
    assert peak > s.loc[("random_features", 100)].test_error + 0.1
    assert peak > s.loc[("random_features", 1200)].test_error + 0.1
