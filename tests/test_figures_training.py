"""The training-dynamics lecture figures built at their reduced size: the must-show criteria
of docs/figures.md (and issue 5's MNIST-1D reproduction), asserted from the table behind each."""

from __future__ import annotations

import numpy as np
import pytest

import figure_checks


def build(name, tmp_path):
    built = figure_checks.build(name, tmp_path)
    figure_checks.assert_shows(built)
    return built


@pytest.mark.slow
def test_mnist1d(tmp_path):
    from trainlab.figures.mnist1d import finals

    f = finals(build("mnist1d", tmp_path).table)
    acc = f.groupby(["model", "split"]).test_acc.mean()
    assert acc["logistic regression", "paper"] == pytest.approx(0.32, abs=0.03)
    assert acc["MLP", "paper"] > acc["logistic regression", "paper"] + 0.25
    assert set(f.paper_test_acc) == {0.32, 0.68}


def test_overfitting(tmp_path):
    from trainlab.figures.overfitting import per_seed

    s = per_seed(build("overfitting", tmp_path).table)
    assert (s.val_ratio >= 1.5).all()
    assert (s.es_best_epoch == s.val_min_epoch).all()
    assert (s.es_stop_epoch == s.es_best_epoch + 50).all()  # patience 50, checked every epoch
    first = s.iloc[0]
    assert first.es_returned_val_loss == pytest.approx(first.val_loss_min, rel=1e-4)


@pytest.mark.slow
def test_activation_speed(tmp_path):
    from trainlab.figures.activation_speed import best

    built = build("activation-speed", tmp_path)
    b = best(built.table, built.options).set_index("activation")
    assert b.epochs_to_target["relu"] < b.epochs_to_target["tanh"] < b.epochs_to_target["sigmoid"]
    # deliberately wrong: the grid cut below sigmoid's best rate (the old grid's fault)
    t = built.table
    cut = t[~((t.activation == "sigmoid") & (t.lr > b.lr["sigmoid"]))]
    figure_checks.assert_fails(built, cut, "each activation's best lr lies inside its grid")


@pytest.mark.slow
def test_weight_decay(tmp_path):
    from trainlab.figures.weight_decay import grids, pairs

    built = build("weight-decay", tmp_path)
    p = pairs(built.table)
    assert (p[p.momentum == 0].param_rel_diff < 1e-12).all()
    assert (p[p.momentum > 0].param_rel_diff > 1e-3).all()
    g = grids(built.table)
    assert g["adam_l2"].shape == g["adamw"].shape == (2, 2)
    assert (g["adamw"] - g["adam_l2"]).abs().max().max() >= 0.05
    # deliberately wrong: an "Adam+L2" whose penalty acts like decoupled decay (AdamW's norms)
    t = built.table
    wrong = t.copy()
    wrong.loc[t.arm == "adam_l2", "weight_norm"] = t[t.arm == "adamw"].weight_norm.to_numpy()
    figure_checks.assert_fails(built, wrong, "with Adam, L2 is not decoupled decay")


@pytest.mark.slow
def test_dropout(tmp_path):
    from trainlab.figures.dropout import DETERMINISTIC, MC, RAW, gaps, test_time_means

    built = build("dropout", tmp_path)
    g = gaps(built.table).set_index("arm")
    assert g.gap_loss["no_dropout"] > g.gap_loss["hidden_0.5"] > g.gap_loss["input_0.2_hidden_0.5"]
    t = test_time_means(built.table)
    mc = t[t.rule == MC]
    assert set(mc.arm) == {"hidden_0.5", "input_0.2_hidden_0.5"}  # no masks without dropout
    assert (mc.groupby("arm").agreement.last() > 0.8).all()
    # deliberately wrong: dropout without rescaling - the test pass is the un-rescaled net
    wrong = built.table.copy()
    columns = ["logit_scale", "logit_error"]
    det, raw = wrong.rule == DETERMINISTIC, wrong.rule == RAW
    wrong.loc[det, columns], wrong.loc[raw, columns] = (built.table.loc[raw, columns].to_numpy(),
                                                        built.table.loc[det, columns].to_numpy())
    figure_checks.assert_fails(built, wrong, *[f"{d}: the test-time pass" for d in (
        "dropout 0.5 hidden", "dropout 0.2 input + 0.5 hidden")])


def test_ensembles(tmp_path):
    from trainlab.figures.ensembles import members

    built = build("ensembles", tmp_path)
    m = members(built.table)
    assert list(m.seed) == [0, 1, 2, 3]  # every member's own params, not seed 0's four times
    assert m.single_test_acc.nunique() > 1
    assert m.ensemble_test_acc.iloc[-1] >= m.single_test_acc.mean()
    assert m.ensemble_test_acc.iloc[0] == m.single_test_acc.iloc[0]
    assert (m.polyak_test_acc != m.single_test_acc).any()  # params_average.npz is its own net
    # deliberately wrong: no averaging (the "average" is the last iterate)
    t = built.table
    wrong = t.assign(polyak_test_acc=t.single_test_acc, polyak_test_loss=t.single_test_loss,
                     summary_test_avg_acc=t.summary_test_acc)
    figure_checks.assert_fails(built, wrong, "parameter averaging")


@pytest.mark.slow  # five compiled programs (a 6-hidden-layer MLP; batch 2 is 500 steps an epoch)
def test_batchnorm(tmp_path):
    from trainlab.figures.batchnorm import batch_sizes, learning_rates

    built = build("batchnorm", tmp_path)
    t, options = built.table, built.options
    lrs = learning_rates(t, options).set_index("normalization")
    b = batch_sizes(t).set_index(["normalization", "batch_size"])
    assert_fails = figure_checks.assert_fails

    def wrong(rows, **columns):
        copy = t.copy()
        for column, value in columns.items():
            copy.loc[rows, column] = value(copy.loc[rows]) if callable(value) else value
        return copy

    lr_bn = (t.sweep == "lr") & (t.normalization == "batchnorm")
    # BN trained best at its smallest rate: its best lr is the grid's edge
    assert_fails(built, wrong(lr_bn & (t.lr == t[lr_bn].lr.min()), final_train_loss=1e-3),
                 "lr sweep: each normalization's best lr")
    # BN diverging wherever the plain MLP does: no higher lr
    above = lr_bn & (t.lr > lrs.largest_lr_that_trains["none"])
    assert_fails(built, wrong(above, status="diverged", final_train_loss=np.nan,
                              final_val_acc=np.nan, val_error=np.nan),
                 "BatchNorm allows higher learning rates")
    # BN no lower than the plain MLP at their best rates
    floor = lrs.final_train_loss["none"]
    assert_fails(built, wrong(lr_bn, final_train_loss=lambda p: p.final_train_loss.clip(
                 lower=floor)), "faster training")
    # LayerNorm's batch-2 nets best at their smallest rate
    ln2 = (t.sweep == "batch") & (t.normalization == "layernorm") & (t.batch_size == 2)
    assert_fails(built, wrong(ln2 & (t.lr == t[ln2].lr.min()),
                              val_error=b.val_error["layernorm", 2] - 0.01),
                 "batch sweep: each normalization's")
    # BatchNorm as good at batch 2 as at 32 (every lr shifted alike, so its best lr stays)
    bn2 = (t.sweep == "batch") & (t.normalization == "batchnorm") & (t.batch_size == 2)
    shift = b.val_error["batchnorm", 2] - b.val_error["batchnorm", 32]
    assert_fails(built, wrong(bn2, val_error=lambda p: p.val_error - shift),
                 "BatchNorm's validation error")
    # LayerNorm 10 points worse at batch 2
    assert_fails(built, wrong(ln2, val_error=lambda p: p.val_error + 0.1), "LayerNorm's does not")
