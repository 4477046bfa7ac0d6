"""The figures of lecture claims no earlier figure covered (issue 13), built at their reduced
size: each must-show check passes, and each fails on a deliberately wrong table."""

from __future__ import annotations

import numpy as np

from figure_checks import assert_fails, assert_shows, build


def _with_curve(table, arm, curve):
    """``table`` with every seed of ``arm`` following ``curve`` (a train loss per epoch)."""
    wrong = table.copy()
    rows = wrong.arm == arm
    wrong.loc[rows, "train_loss"] = wrong.loc[rows, "epoch"].map(curve).to_numpy()
    return wrong


def test_lr_curves(tmp_path):
    from trainlab.figures.lr_curves import mean_curve

    built = build("lr-curves", tmp_path)
    assert_shows(built)
    t = built.table
    good, high, low = (mean_curve(t, a) for a in ("good", "high", "low"))
    # a "very high" rate that only crawls: no explosion, and the doctor does not flag it
    assert_fails(built, _with_curve(t, "very_high", low), "very high lr",
                 "trainlab doctor's")
    # a "high" rate that is just a slower good one: behind at first, never stalls or wobbles
    assert_fails(built, _with_curve(t, "high", 2 * good), "high lr", "trainlab doctor's")
    # a "low" rate whose loss went up once: not the slow, steady fall
    bumped = low.copy()
    bumped[10] = low[5]
    assert_fails(built, _with_curve(t, "low", bumped), "low lr")
    # a scan rate that ends 10x below the "good" one: it was not the good rate
    scan = (t.arm == "scan") & np.isclose(t.lr, 0.6) & (t.epoch == t.epoch.max())
    wrong = t.copy()
    wrong.loc[scan, "train_loss"] = good.iloc[-1] / 10
    assert_fails(built, wrong, "good lr")


def _copied(table, arm, source, columns):
    """``table`` with ``arm``'s ``columns`` replaced by those of ``source`` (same seeds, epochs)."""
    wrong = table.copy()
    wrong.loc[wrong.arm == arm, columns] = table.loc[table.arm == source, columns].to_numpy()
    return wrong


def test_gap(tmp_path):
    built = build("gap", tmp_path)
    assert_shows(built)
    t = built.table
    # a small net with a gap after all: val loss 1.5x its train loss
    wrong = t.copy()
    small = wrong.arm == "small"
    wrong.loc[small, "val_loss"] = 1.5 * wrong.loc[small, "train_loss"]
    assert_fails(built, wrong, "no gap")
    # a big net without its gap: val loss 5% above its train loss
    wrong = t.copy()
    big = wrong.arm == "big"
    wrong.loc[big, "val_loss"] = 1.05 * wrong.loc[big, "train_loss"]
    assert_fails(built, wrong, "big gap", "more regularization fixes")
    # remedies that change nothing: the wider net and the dropout net trained as the originals
    everything = ["train_loss", "val_loss", "train_acc", "val_acc"]
    assert_fails(built, _copied(t, "small_wider", "small", everything), "more capacity fixes")
    assert_fails(built, _copied(t, "big_dropout", "big", everything),
                 "more regularization fixes")
    # the wrong remedy helping: L2 on the small net 5 points better than without
    wrong = t.copy()
    wrong.loc[wrong.arm == "small_l2", "val_acc"] += 0.05
    assert_fails(built, wrong, "regularizing the no-gap net")


def test_l1_selection(tmp_path):
    built = build("l1-selection", tmp_path)
    assert_shows(built)
    t = built.table
    l1, l2, irrelevant = t.penalty == "l1", t.penalty == "l2", t.role == "irrelevant"
    # L1 that behaves as L2: its weights replaced by L2's at the same kappa
    wrong = t.copy()
    wrong.loc[l1, "weight"] = t.loc[l2, "weight"].to_numpy()
    assert_fails(built, wrong, "L1 selects", "L1's count")
    # L2 that selects: its irrelevant weights set to 0
    wrong = t.copy()
    wrong.loc[l2 & irrelevant, "weight"] = 0.0
    assert_fails(built, wrong, "L2 keeps")
    # the strongest L1 (which loses the relevant weights too) with its zeros undone
    wrong = t.copy()
    wrong.loc[l1 & irrelevant & (t.kappa == t.kappa.max()), "weight"] = 0.01
    assert_fails(built, wrong, "L1's count")
    # an L2 fit better than L1's
    wrong = t.copy()
    wrong.loc[l2, "test_mse"] = t.loc[l1, "test_mse"].min() / 2
    assert_fails(built, wrong, "where the truth is sparse")


def test_bn_modes(tmp_path):
    built = build("bn-modes", tmp_path)
    assert_shows(built)
    t = built.table
    mode, arm = t["mode"].fillna(""), t.arm
    bn_train = (arm == "bn_before") & (mode == "train")
    bn_eval_acc = t.loc[(arm == "bn_before") & (mode == "eval"), "val_acc"].iloc[0]

    def wrong(rows, **columns):
        copy = t.copy()
        for column, value in columns.items():
            copy.loc[rows, column] = value
        return copy

    # BatchNorm whose train mode ignores the batch (as LayerNorm's does)
    assert_fails(built, wrong(bn_train, val_acc=bn_eval_acc, batch_mates_diff=0.0),
                 "BatchNorm's train mode depends on the batch")
    # running averages that do not match the statistics: 5 points off on the whole split
    whole = bn_train & (t.batch == t.loc[bn_train, "batch"].max())
    assert_fails(built, wrong(whole, val_acc=bn_eval_acc - 0.05),
                 "eval mode's running averages")
    # eval mode that does not use the running averages: never updating them changes nothing
    stale = (arm == "bn_before") & mode.str.contains("never updated")
    assert_fails(built, wrong(stale, val_acc=bn_eval_acc), "the running averages matter")
    # LayerNorm that differs between its modes
    assert_fails(built, wrong((arm == "layernorm") & (mode == "train"), max_logit_diff=0.1),
                 "LayerNorm is the same")
    # a bias before BN that trains anyway, and one after BN that does not
    hidden = (t.kind == "bias") & t.output_layer.eq(False)
    assert_fails(built, wrong(hidden & (arm == "bn_before"), bias_change=0.05),
                 "the bias before BatchNorm is redundant")
    assert_fails(built, wrong(hidden & (arm == "bn_after"), bias_change=0.0),
                 "with BatchNorm after the activation")
    # BN after the activation 10 points behind at the end
    last = (t.kind == "curve") & (arm == "bn_after") & (t.epoch == t.epoch.max())
    assert_fails(built, wrong(last, val_acc=t.loc[last, "val_acc"] - 0.1), "both placements")


def test_dropout_ensemble(tmp_path):
    built = build("dropout-ensemble", tmp_path)
    assert_shows(built)
    t = built.table
    kind, arm = t.kind, t.arm

    def wrong(rows, **columns):
        copy = t.copy()
        for column, value in columns.items():
            copy.loc[rows, column] = value(copy.loc[rows]) if callable(value) else value
        return copy

    member = kind == "member"
    plain_members = t[member & (arm == "plain")]
    # dropout that does not help: the dropout nets scored as the plain ones (so one of them no
    # longer matches its averaged masks, nor the ensemble)
    assert_fails(built, wrong(member & (arm == "dropout"),
                              test_acc=plain_members.test_acc.to_numpy(),
                              test_loss=plain_members.test_loss.to_numpy()),
                 "dropout generalizes better", "its one deterministic pass", "one dropout net does")
    # a deterministic pass that is not the average of its subnets: 100 masks 5 points below it
    first = t[member & (arm == "dropout") & (t.seed == t.seed.min())].test_acc.iloc[0]
    most = (kind == "masks") & (t.k == t[kind == "masks"].k.max())
    assert_fails(built, wrong(most, test_acc=first - 0.05), "its one deterministic pass")
    # an ensemble no better than its members
    last = t[kind == "ensemble"].k.max()
    assert_fails(built, wrong((kind == "ensemble") & (arm == "plain") & (t.k == last),
                              test_acc=plain_members.test_acc.mean()),
                 "an explicit ensemble")
    # independent dropout nets averaged no better than as many masks of one
    k_masks = t[(kind == "masks") & (t.k == last)].test_acc.iloc[0]
    assert_fails(built, wrong((kind == "ensemble") & (arm == "dropout") & (t.k == last),
                              test_acc=k_masks), "averaging without weight sharing")


def test_momentum_schedule(tmp_path):
    built = build("momentum-schedule", tmp_path)
    assert_shows(built)
    t = built.table
    steps, curve = t.kind == "momentum", t.kind == "curve"
    annealed = steps & (t.arm == "annealed")

    # a schedule one epoch late: the momentum of epoch e is the formula's at e - 1
    late = t.copy()
    part = t[annealed]
    late.loc[annealed, "momentum"] = np.interp(part.epoch - 1, part.epoch, part.momentum)
    assert_fails(built, late, "the momentum of every step follows")
    # ... and one counted in steps rather than epochs
    in_steps = t.copy()
    start, end, ramp = 0.5, 0.99, part.momentum_ramp.iloc[0]
    in_steps.loc[annealed, "momentum"] = start + (end - start) * np.minimum(part.step / ramp, 1)
    assert_fails(built, in_steps, "the momentum of every step follows")

    def curves_of(arm, source):
        wrong = t.copy()
        wrong.loc[curve & (t.arm == arm), ["train_loss", "val_loss"]] = \
            t.loc[curve & (t.arm == source), ["train_loss", "val_loss"]].to_numpy()
        return wrong

    # a 0.99 that trains as smoothly as 0.5 does (its curves replaced by 0.5's)
    assert_fails(built, curves_of("constant_099", "constant_05"), "constant 0.99 from the start")
    # an annealed run that stays as slow as 0.5 (0.5's curves)
    assert_fails(built, curves_of("annealed", "constant_05"), "annealed ends as fast",
                 "annealed generalizes best")
    # an annealed run that overshoots like 0.99 (0.99's curves)
    assert_fails(built, curves_of("annealed", "constant_099"), "constant 0.99 from the start",
                 "annealed generalizes best")


def test_norm_variants(tmp_path):
    built = build("norm-variants", tmp_path)
    assert_shows(built)
    t = built.table
    small, large = t.batch_size.min(), t.batch_size.max()

    def at(norm, size):
        return (t.normalization == norm) & (t.batch_size == size)

    def wrong(rows, test_acc):
        copy = t.copy()
        copy.loc[rows, "test_acc"] = test_acc
        return copy

    bn_large = t.loc[at("batchnorm", large), "test_acc"].mean()
    bn_small = t.loc[at("batchnorm", small), "test_acc"].mean()
    # BatchNorm that does not degrade: at batch 2 as good as at batch 128
    assert_fails(built, wrong(at("batchnorm", small), bn_large),
                 "BatchNorm degrades", "at batch")
    # BatchNorm that is simply worse: 5 points behind at the large batch too
    assert_fails(built, wrong(at("batchnorm", large), bn_large - 0.05),
                 "BatchNorm is not simply worse")
    # LayerNorm that degrades as BatchNorm does
    assert_fails(built, wrong(at("layernorm", small), bn_small), "LayerNorm holds up", "at batch")
    # GroupNorm 8 points worse at batch 2 than at batch 128 (still far above BatchNorm there)
    gn_large = t.loc[at("groupnorm", large), "test_acc"].mean()
    assert_fails(built, wrong(at("groupnorm", small), gn_large - 0.08), "GroupNorm holds up")
