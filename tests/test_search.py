"""Adaptive search inside the compiled program: successive halving keeps what a brute-force
run would rank best and really stops the others, PBT's exploit copies exactly and its explore
stays in bounds, and both resume from their last checkpoint as if never stopped."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trainlab import plan
from trainlab.config import compose
from trainlab.search.halving import Halving
from trainlab.search.pbt import Pbt
from trainlab.search_space import Dimension
from trainlab.trials import State

BASE = ["data=moons", "data.n_samples=200", "model.widths=[8]", "batch_size=32",
        "diagnostics=off", "progress=false", "epochs=9", "optimizer=sgd"]
# Learning rates far apart: a clear order of the objective at every rung.
LRS = [0.001, 0.3, 0.003, 0.1, 0.01, 1.0, 0.03, 0.0003, 0.6]


def jobs_in(folder: Path, lrs=LRS, base=BASE) -> list[plan.Job]:
    cfg = compose(base)
    return [plan.Job(dataclasses.replace(cfg, optimizer=dataclasses.replace(cfg.optimizer,
                                                                           lr=lr)),
                     folder / str(i), [f"optimizer.lr={lr}"]) for i, lr in enumerate(lrs)]


def group_of(jobs, chunk=0):
    [group] = plan.plan(jobs, chunk_size=chunk)
    return group


def objective_at(folder: Path, epoch: int) -> float:
    """best_val_loss over epochs 0..epoch, from a job's metrics.csv."""
    metrics = pd.read_csv(folder / "metrics.csv")
    return float(metrics.val_loss[metrics.epoch <= epoch].min())


def summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


@pytest.fixture(scope="module")
def brute(tmp_path_factory):
    """Every job trained to the end, one program, no pruning."""
    folder = tmp_path_factory.mktemp("brute")
    plan.train_many(jobs_in(folder), progress=False)
    return folder


def test_halving_keeps_what_brute_force_ranks_best_at_each_rung(tmp_path, brute):
    halving = Halving(eta=3, min_epochs=1)
    assert halving.rungs(9) == [1, 3, 9]
    halving.run(group_of(jobs_in(tmp_path)), store=tmp_path / "store")
    alive = list(range(len(LRS)))
    for rung, epoch in enumerate(halving.rungs(9)[:-1]):
        ranked = sorted(alive, key=lambda j: (objective_at(brute / str(j), epoch), j))
        kept = sorted(ranked[:len(alive) // 3])
        for job in set(alive) - set(kept):
            s = summary(tmp_path / str(job))
            assert (s["status"], s["rung"], s["rung_epoch"]) == ("pruned", rung, epoch), job
        alive = kept
    [winner] = alive
    assert summary(tmp_path / str(winner))["status"] == "ok"
    # Compaction: 9 trials for 1 epoch, 3 for 2 more, 1 for 6 more (brute force: 81).
    assert halving.trial_epochs == 9 * 1 + 3 * 2 + 1 * 6


def test_a_pruned_trial_has_the_brute_force_trials_metrics_up_to_its_rung(tmp_path, brute):
    Halving(eta=3, min_epochs=1).run(group_of(jobs_in(tmp_path)), store=tmp_path / "store")
    for job in range(len(LRS)):
        ours = pd.read_csv(tmp_path / str(job) / "metrics.csv").drop(columns="time_s")
        theirs = pd.read_csv(brute / str(job) / "metrics.csv").drop(columns="time_s")
        theirs = theirs[theirs.epoch <= ours.epoch.max()]
        np.testing.assert_allclose(ours.to_numpy(float), theirs.to_numpy(float), rtol=2e-5,
                                   atol=1e-6, err_msg=f"job {job}")


def test_hyperband_deals_jobs_to_brackets_that_start_later():
    halving = Halving(eta=3, min_epochs=1, brackets=3)
    deal = halving.deal(27)
    assert [len(b) for b in deal] == [16, 7, 4]  # in proportion 9/3 : 3/2 : 1/1 (Li et al.)
    assert [halving.rungs(27, b) for b in range(3)] == [[1, 3, 9, 27], [3, 9, 27], [9, 27]]


def test_halving_resumes_from_its_last_rung(tmp_path, monkeypatch):
    from trainlab.search import halving as module

    train = module._Bracket._train  # a kill while the last rung trains:
    monkeypatch.setattr(module._Bracket, "_train", lambda self, state, rows, until:
                        _maybe_stop(train, self, state, rows, until))
    with pytest.raises(KeyboardInterrupt):
        Halving(eta=3, min_epochs=1).run(group_of(jobs_in(tmp_path / "a")),
                                         store=tmp_path / "store")
    assert list((tmp_path / "store").glob("halving-*.npz"))  # rung 1's checkpoint
    monkeypatch.setattr(module._Bracket, "_train", train)
    resumed = Halving(eta=3, min_epochs=1)
    resumed.run(group_of(jobs_in(tmp_path / "a")), store=tmp_path / "store")
    assert resumed.trial_epochs == 1 * 6  # only the last rung trained again
    Halving(eta=3, min_epochs=1).run(group_of(jobs_in(tmp_path / "b")))
    for job in range(len(LRS)):
        a, b = summary(tmp_path / "a" / str(job)), summary(tmp_path / "b" / str(job))
        assert (a["status"], a["best_val_loss"]) == (b["status"], b["best_val_loss"])
    assert not list((tmp_path / "store").glob("halving-*.npz"))  # done: removed


def _maybe_stop(train, bracket, state, rows, until):
    if until == 9:
        raise KeyboardInterrupt
    return train(bracket, state, rows, until)


# ------------------------------------------------------------------------------------- PBT
SPACE = (Dimension("optimizer.lr", 1e-4, 1.0, log=True),)


def pbt_state(tmp_path, n=8) -> tuple:
    jobs = jobs_in(tmp_path, LRS[:n])
    group = group_of(jobs)
    values, seeds, _ = plan.trial_values([j.cfg for j in jobs])
    pbt = Pbt(SPACE, interval=3, fraction=0.25, resample=0.5, seed=1)
    state, _ = pbt._train(group, None, values, seeds, 3)
    return pbt, state


def test_exploit_copies_the_parents_carry_exactly_and_explore_stays_in_bounds(tmp_path):
    pbt, state = pbt_state(tmp_path)
    scores = np.arange(8.0)[::-1]  # member 7 best, 0 worst
    parents = pbt.exploit(scores, np.random.default_rng(0))
    assert set(parents[[0, 1]]) <= {6, 7} and list(parents[2:]) == list(range(2, 8))
    after = pbt.explore(state, parents, list(SPACE), np.random.default_rng(0))
    for leaf, copied in zip(_leaves(state.carry), _leaves(after.carry), strict=True):
        np.testing.assert_array_equal(copied, leaf[parents])  # weights, optimizer state...
    lr = after.values["optimizer.lr"]
    assert ((lr >= 1e-4) & (lr <= 1.0)).all()
    assert list(lr[2:]) == list(state.values["optimizer.lr"][2:])  # the others keep theirs
    for child in (0, 1):
        parent = state.values["optimizer.lr"][parents[child]]
        assert lr[child] in (pytest.approx(parent * 0.8), pytest.approx(parent * 1.2)) \
            or 1e-4 <= lr[child] <= 1.0
    # Bounds hold even when every perturbation pushes out: a parent at the top, x1.2.
    edge = State({"optimizer.lr": np.full(8, 1.0)}, state.seeds, state.carry, state.rows,
                 state.elapsed, state.init, state.epoch)
    pushed = Pbt(SPACE, resample=0.0).explore(edge, parents, list(SPACE),
                                              np.random.default_rng(3))
    assert pushed.values["optimizer.lr"].max() <= 1.0


def _leaves(tree):
    import jax

    return jax.tree_util.tree_leaves(tree)


def test_pbt_with_fraction_zero_is_a_random_search(tmp_path):
    jobs = jobs_in(tmp_path / "pbt", LRS[:6])
    Pbt(SPACE, interval=3, fraction=0.0, seed=0).run(group_of(jobs))
    plan.train_many(jobs_in(tmp_path / "plain", LRS[:6]), progress=False)
    for job in range(6):
        a = pd.read_csv(tmp_path / "pbt" / str(job) / "metrics.csv").drop(columns="time_s")
        b = pd.read_csv(tmp_path / "plain" / str(job) / "metrics.csv").drop(columns="time_s")
        np.testing.assert_array_equal(a.to_numpy(float), b.to_numpy(float))


def test_pbt_is_the_same_run_for_the_same_seed_and_resumes_as_if_never_stopped(
        tmp_path, monkeypatch):
    from trainlab.search import pbt as module

    def run(name, store=None):
        jobs = jobs_in(tmp_path / name, LRS[:8])
        Pbt(SPACE, interval=3, fraction=0.25, resample=0.25, seed=5).run(group_of(jobs),
                                                                        store=store)
        return tmp_path / name

    a, b = run("a"), run("b")
    assert (a / "pbt.csv").read_text() == (b / "pbt.csv").read_text()
    lineage = pd.read_csv(a / "pbt.csv")
    assert (lineage.parent != lineage.member).any()  # members did copy better ones
    for job in range(8):
        ma = pd.read_csv(a / str(job) / "metrics.csv").drop(columns="time_s")
        mb = pd.read_csv(b / str(job) / "metrics.csv").drop(columns="time_s")
        assert ma.equals(mb)
    # A member's lr column is the lr it used: it changes where it copied another and moved.
    moved = lineage[(lineage.parent != lineage.member) & (lineage.interval == 0)].member
    changed = pd.read_csv(a / str(int(moved.iloc[0])) / "metrics.csv").lr
    assert changed.iloc[3] != changed.iloc[4]

    train = module.Pbt._train
    monkeypatch.setattr(module.Pbt, "_train", lambda self, group, state, values, seeds, until:
                        _stop_at(train, 9, self, group, state, values, seeds, until))
    with pytest.raises(KeyboardInterrupt):
        run("c", tmp_path / "store")
    monkeypatch.setattr(module.Pbt, "_train", train)
    c = run("c", tmp_path / "store")
    assert (c / "pbt.csv").read_text() == (a / "pbt.csv").read_text()
    for job in range(8):
        sa, sc = summary(a / str(job)), summary(c / str(job))
        assert sa["best_val_loss"] == sc["best_val_loss"]


def _stop_at(train, epoch, self, group, state, values, seeds, until):
    if until == epoch:
        raise KeyboardInterrupt
    return train(self, group, state, values, seeds, until)


def test_pbt_csv_lists_every_member_at_every_interval(tmp_path):
    jobs = jobs_in(tmp_path, LRS[:4])
    Pbt(SPACE, interval=4, seed=0).run(group_of(jobs))
    table = pd.read_csv(tmp_path / "pbt.csv")
    assert sorted(table.member.unique()) == [0, 1, 2, 3]
    assert sorted(table.interval.unique()) == [0, 1, 2]  # epochs 4, 8 and the end
    assert not list(tmp_path.glob(".pbt.csv.*"))  # written whole, through a renamed file
