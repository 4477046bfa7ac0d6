"""The checks before a run (lecture 001, "Practical Advice"), each a pure function of what the
trials measured (trials.py) returning one Finding.

    1. Turn off regularization and check that the loss has a reasonable value (~2.5 for 10
       classes is ok).                                               initial_loss
    2. Turn on regularization and make sure that the value of the loss function grows.
                                                                     regularization
    3. Make sure that we can overfit a small subset of the training data (e.g. 20 samples).
                                                                     overfit_subset
    4. Start with small regularization and find a learning rate that makes the loss go down.
                                                                     learning_rate
    "Always use analytic gradient, but check implementation with numerical gradient."
                                                                     gradient_check
    The signals at initialization (diagnostics.py columns of metrics.csv's epoch-0 row):
    dead and saturated units, the activations' and gradients' scale across layers (vanishing
    or exploding), the update/weight ratio after the first epoch (rule of thumb ~1e-3), and the
    distinct units (the symmetry of a constant init).
                                                                     dead_units, saturation,
                                                                     activation_scale,
                                                                     gradient_flow,
                                                                     update_ratio, symmetry

Thresholds are named constants below; every one is stated in the finding it decides.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from trainlab.doctor import lr_range
from trainlab.doctor.findings import FAIL, PASS, SKIP, WARN, Finding, fmt
from trainlab.doctor.trials import DataFacts, Measurements

INITIAL_OK = 0.15  # the initial loss within 15% of its expected value (2.3 vs 2.5 is 9%)
INITIAL_FAIL = 2.0  # more than twice, or less than half: FAIL
PENALTY_WARN = 1.0  # the penalty at init larger than the data loss
PENALTY_FAIL = 10.0
OVERFIT_LOSS = 0.01  # regression: "near-zero" = 1% of the initial loss
OVERFIT_LOSS_NEAR = 0.1  # ...and 10% is close (WARN): a small net fits 20 noisy points slowly
DEAD_WARN, DEAD_FAIL = 0.10, 0.50
SAT_WARN, SAT_FAIL = 0.05, 0.25
SCALE_WARN, SCALE_FAIL = 10.0, 100.0  # last/first across layers, either way
FLOW_WARN, FLOW_FAIL = 30.0, 1000.0
# The lecture's rule of thumb is ~1e-3 (measured here: the default config's 1.3e-3 to 2.9e-3).
# Adam moves each weight by ~lr, so its ratio is ~lr / rms(w): a 32-wide net's best lr in the
# range test (0.03) gives 0.07. Only beyond a factor 100 above the thumb is it a warning.
UPDATE_LOW, UPDATE_HIGH, UPDATE_FAIL = 1e-4, 0.1, 1.0


# ------------------------------------------------------------------------ small helpers
def at_epoch(table: pd.DataFrame, epoch: int) -> pd.Series:
    """The row of ``epoch``, mean over seeds."""
    return table[table.epoch == epoch].mean(numeric_only=True)


def layer_values(row: pd.Series, stat: str) -> dict[int, float]:
    """``{k: value}`` of the columns ``<stat>/<k>`` of a row."""
    values = {int(c.split("/")[1]): float(row[c]) for c in row.index
              if c.startswith(f"{stat}/") and c.split("/")[1].isdigit()}
    return dict(sorted(values.items()))


def _layers(values: dict[int, float], f=lambda v: f"{v:.2g}") -> str:
    return " ".join(f(v) for v in values.values())


def expected_initial_loss(cfg, facts: DataFacts) -> tuple[float, str]:
    """What the loss should be for outputs ~0 (small random weights), and why."""
    c = facts.n_classes
    name = cfg.loss.name
    if name == "cross_entropy":
        return math.log(c), f"ln {c}"
    if name == "bce":
        return math.log(2), "ln 2"
    if name == "hinge":
        m = cfg.loss.margin
        return (c - 1) * m, f"(C-1) x margin = {c - 1} x {m:g}"
    if facts.task == "regression":
        return facts.target_square, "mean of y^2 (the target variance, for centred y)"
    return facts.target_square, ("mean of y^2 (the class-1 fraction)"
                                 if cfg.loss.n_outputs(c, 0) == 1 else f"1/C = 1/{c}")


def chance_loss(cfg, facts: DataFacts) -> float:
    """The loss of the best constant prediction: what a net that learned nothing but the
    class prior (or the targets' mean) scores."""
    p = np.asarray(facts.prior, float)
    name = cfg.loss.name
    if facts.task == "regression":
        return facts.target_variance
    if name == "cross_entropy":
        return float(-(p[p > 0] * np.log(p[p > 0])).sum())
    if name == "bce":
        q = p[1]
        return float(-(q * math.log(q) + (1 - q) * math.log(1 - q))) if 0 < q < 1 else 0.0
    if name == "hinge":
        return (facts.n_classes - 1) * cfg.loss.margin
    if cfg.loss.n_outputs(facts.n_classes, 0) == 1:
        return float(p[1] * (1 - p[1]))
    return float((p * (1 - p)).mean())


# ------------------------------------------------------------------------------ checks
def initial_loss(m: Measurements) -> Finding:
    check = "initial loss, regularization off"
    if m.cfg.optimizer.solver != "gradient":
        return Finding(check, SKIP, f"optimizer={m.cfg.optimizer.name} solves the output layer: "
                       "its initial values do not matter", "")
    expected, why = expected_initial_loss(m.cfg, m.facts)
    table = m.off if m.off is not None else m.own
    loss = float(at_epoch(table, 0)["train_objective"])  # regularization off
    numbers = {"initial_loss": loss, "expected": expected}
    measured = f"{loss:.3f} vs {why} = {expected:.3f}"
    if not math.isfinite(loss):
        return Finding(check, FAIL, measured, "the loss at init is not finite: look at the "
                       "data (NaN inputs?) and init.gain", numbers)
    ratio = loss / expected if expected > 0 else math.inf
    numbers["ratio"] = ratio
    if abs(ratio - 1) <= INITIAL_OK:
        return Finding(check, PASS, measured, "", numbers)
    if ratio > 1:
        status = FAIL if ratio > INITIAL_FAIL else WARN
        return Finding(check, status, f"{measured} (x{ratio:.2f})",
                       "the scores do not start near 0: smaller output weights, e.g. "
                       "init.gain=0.5 (a ReLU net's scores scale as gain^layers) or "
                       "init=xavier_normal", numbers)
    status = FAIL if ratio < 1 / INITIAL_FAIL else WARN
    return Finding(check, status, f"{measured} (x{ratio:.2f})",
                   "lower than an untrained net should score: do the labels leak into the "
                   "inputs, or init.bias fit the targets?", numbers)


def regularization(m: Measurements) -> Finding:
    check = "regularization raises the initial objective"
    reg = m.cfg.regularizer
    if reg.name == "none":
        return Finding(check, SKIP, "regularizer=none", "with a penalty (regularizer=l2 "
                       "regularizer.kappa=1e-4) this checks that it raises the objective")
    if m.off is None:
        why = ("kappa=0" if hasattr(reg, "kappa") else
               f"regularizer={reg.name} is a constraint after each update, not a term: the "
               "initial objective is unchanged")
        return Finding(check, SKIP, why, "")
    off = float(at_epoch(m.off, 0)["train_objective"])
    on = float(at_epoch(m.own, 0)["train_objective"])
    penalty = on - off
    share = penalty / off if off > 0 else math.inf
    numbers = {"off": off, "on": on, "penalty": penalty, "penalty_over_loss": share}
    measured = (f"{off:.3f} -> {on:.3f} (+{fmt(penalty)}, "
                f"{f'{share:.0%}' if share < 10 else f'{share:.0f}x'} of the loss)")
    kappa = reg.kappa
    target = lr_range.round_lr(kappa * 0.1 / share) if share > 0 and math.isfinite(share) \
        else None
    if not math.isfinite(penalty) or penalty <= 0:
        return Finding(check, FAIL, measured, f"regularizer.kappa={kappa:g} adds nothing to "
                       "the objective: the penalty is not wired into the loss", numbers)
    if share > PENALTY_WARN:
        status = FAIL if share > PENALTY_FAIL else WARN
        target = target if target is not None else kappa / 100
        return Finding(check, status, measured,
                       f"the penalty outweighs the data loss, training would mostly shrink the "
                       f"weights: regularizer.kappa={target:g} (penalty ~10% of the loss)",
                       numbers)
    return Finding(check, PASS, measured, "", numbers)


def overfit_subset(m: Measurements) -> Finding:
    table = m.overfit
    samples = m.budget.overfit_samples
    check = f"overfit {samples} samples"
    if table is None:
        return Finding(check, SKIP, "not run (--no-overfit)", "")
    steps = int(table.epoch.max())
    classify = m.facts.task != "regression"

    def reached(part: pd.DataFrame) -> tuple[bool, float, int | None]:
        """Every seed done at the end? the worst seed's end value; the first epoch where the
        mean over seeds was done."""
        last = part[part.epoch == part.epoch.max()]
        start = float(part[part.epoch == 0].train_loss.mean())
        if classify:
            done = part.groupby("epoch").train_acc.min() >= 1.0
            value = float(last.train_acc.min())
        else:
            done = part.groupby("epoch").train_loss.max() <= OVERFIT_LOSS * start
            value = float(last.train_loss.max() / start)
        first = int(done.idxmax()) if done.any() else None
        return bool(done.iloc[-1]) if len(done) else False, value, first

    results = {f: reached(p) for f, p in table.groupby("lr_factor")}
    ok, value, first = results[1.0]
    lr = m.cfg.optimizer.lr
    unit = "train accuracy" if classify else "train loss / initial"
    shown = f"{value:.0%}" if classify else fmt(value)
    numbers = {"steps": steps, "end_value": value, "first_step": first,
               "by_lr_factor": {str(f): r[1] for f, r in results.items()}}
    if ok:
        return Finding(check, PASS, f"{unit} {shown} at step {steps} (from step {first})", "",
                       numbers)
    others = [(f, r) for f, r in results.items() if f != 1.0 and r[0]]
    if others:
        factor, (_, _, other_first) = others[0]
        return Finding(check, WARN, f"{unit} {shown} after {steps} steps at the config's lr",
                       f"optimizer.lr={lr * factor:.3g} fits them (from step {other_first}): "
                       "the lr, not the model, holds it back", numbers)
    also = " (also at lr x10, x0.1)" if len(results) > 1 else ""
    own = table[table.lr_factor == 1.0]
    end_loss = own[own.epoch == own.epoch.max()].train_loss
    if not np.isfinite(end_loss).all() or end_loss.max() > own[own.epoch == 0].train_loss.max():
        return Finding(check, FAIL, f"{unit} {shown} after {steps} steps: the loss diverged "
                       f"or went up{also}",
                       f"the lr is too high even for 20 samples: optimizer.lr={lr / 100:.2g}",
                       numbers)
    closest = min(r[1] for r in results.values())
    if not classify and closest <= OVERFIT_LOSS_NEAR:
        return Finding(check, WARN, f"{unit} {shown} after {steps} steps, at best "
                       f"{fmt(closest)} (another lr): close to 0, not near it",
                       "more capacity (model.widths=[256,256]) or more steps "
                       "(--overfit-steps)", numbers)
    return Finding(check, FAIL, f"{unit} {shown} after {steps} steps{also}",
                   "cannot fit them: too little capacity (model.widths=[256,256]), a stuck "
                   "init (init=he_normal), labels that do not match the inputs, or too few "
                   "steps (--overfit-steps)",
                   numbers)


def gradient_check(m: Measurements) -> Finding:
    from trainlab.gradcheck import TOLERANCE

    check = "gradient check (float64)"
    if m.gradcheck is None:
        return Finding(check, SKIP, "not run (--no-gradcheck)", "")
    errors = {g.name: g.error for g in m.gradcheck}
    usable = {k: e for k, e in errors.items() if not math.isnan(e)}
    unchecked = [k for k, e in errors.items() if math.isnan(e)]
    numbers = {"errors": errors, "tolerance": TOLERANCE}
    if not usable:
        return Finding(check, WARN, "no usable check: every difference crossed a kink",
                       "units exactly at 0 (init=zeros?): trainlab gradcheck with another init",
                       numbers)
    worst_name = max(usable, key=usable.get)
    worst_error = usable[worst_name]
    measured = f"worst relative error {worst_error:.1e} ({worst_name}), tolerance {TOLERANCE:g}"
    if worst_error > TOLERANCE:
        return Finding(check, FAIL, measured, "autodiff disagrees with finite differences: a "
                       "layer's backward pass is wrong (a custom_vjp?); trainlab gradcheck "
                       "shows every group", numbers)
    if unchecked:
        return Finding(check, WARN, f"{measured}; no usable check in {', '.join(unchecked)}",
                       "every difference there crossed a kink: units at exactly 0", numbers)
    return Finding(check, PASS, measured, "", numbers)


def dead_units(m: Measurements) -> Finding:
    check = "dead units at init"
    start = layer_values(at_epoch(m.own, 0), "dead_frac")
    if not start:
        return Finding(check, SKIP, "no hidden layer", "")
    end_epoch = int(m.own.epoch.max())
    end = layer_values(at_epoch(m.own, end_epoch), "dead_frac")
    steps = int(at_epoch(m.own, end_epoch)["step"])
    pct = lambda v: f"{v:.0%}"  # noqa: E731
    measured = (f"by layer: {_layers(start, pct)} at init, {_layers(end, pct)} after {steps} "
                "steps")
    numbers = {"init": start, "after_short_run": end}
    worst_start = max(start.values())
    worst_end = max((v for v in end.values() if math.isfinite(v)), default=worst_start)
    if worst_start > DEAD_WARN:
        status = FAIL if worst_start > DEAD_FAIL else WARN
        return Finding(check, status, measured, "units silent on every training sample "
                       "never learn: activation=leaky_relu, or init=he_normal init.bias=0",
                       numbers)
    if worst_end - worst_start > DEAD_WARN:
        return Finding(check, WARN, measured, "units die while training: a lower lr "
                       f"(optimizer.lr={m.cfg.optimizer.lr / 3:.2g}) or activation=leaky_relu",
                       numbers)
    return Finding(check, PASS, measured, "", numbers)


def saturation(m: Measurements) -> Finding:
    check = "saturated units at init"
    start = layer_values(at_epoch(m.own, 0), "act_sat")
    if not start:
        return Finding(check, SKIP, f"activation={m.cfg.activation.name}: no saturation",
                       "")
    worst_value = max(start.values())
    shown = _layers(start, lambda v: f"{v:.0%}")
    measured = f"by layer: {shown} (within 1% of the output range's ends)"
    numbers = {"init": start}
    if worst_value > SAT_WARN:
        status = FAIL if worst_value > SAT_FAIL else WARN
        return Finding(check, status, measured, "saturated units kill the gradient: "
                       "init=xavier_normal (Glorot's init is for tanh), normalization="
                       "batchnorm, or activation=relu", numbers)
    return Finding(check, PASS, measured, "", numbers)


def _ratio_finding(check: str, start: tuple[int, float], end: tuple[int, float],
                   warn: float, fail: float, what: str, small: str, large: str,
                   numbers: dict) -> Finding:
    """Judge ``end / start`` (each a (layer, value)): within a factor ``warn`` either way
    passes; ``small`` and ``large`` are the advice for a ratio below and above."""
    (k0, a), (k1, b) = start, end
    measured = f"{what}, layer {k0} -> {k1}: {fmt(a)} -> {fmt(b)}"
    if a == 0 or b == 0 or not (math.isfinite(a) and math.isfinite(b)):
        return Finding(check, FAIL, measured + ": no signal" if a == 0 or b == 0 else measured,
                       small if a == 0 or b == 0 else large, numbers | {"ratio": None})
    ratio = b / a
    measured += f" (x{fmt(ratio, 2)})"
    numbers = numbers | {"ratio": ratio}
    spread = max(ratio, 1 / ratio) if ratio > 0 else math.inf
    if spread <= warn:
        return Finding(check, PASS, measured, "", numbers)
    status = FAIL if spread > fail else WARN
    return Finding(check, status, measured, small if ratio < 1 else large, numbers)


def activation_scale(m: Measurements) -> Finding:
    """The forward signal: the last hidden layer's activation std over the first's."""
    check = "activation std across layers"
    values = layer_values(at_epoch(m.own, 0), "act_std")
    if len(values) < 2:
        return Finding(check, SKIP, "fewer than two hidden layers", "")
    first, last = min(values), max(values)
    return _ratio_finding(
        check, (first, values[first]), (last, values[last]), SCALE_WARN, SCALE_FAIL,
        "act std",
        "the signal vanishes with depth: init=he_normal (ReLU) or init=xavier_normal (tanh), "
        "or normalization=batchnorm",
        "the signal grows with depth: init=xavier_normal or a smaller init.gain",
        {"act_std": values})


def gradient_flow(m: Measurements) -> Finding:
    """The backward signal: the first layer's gradient norm over the output layer's."""
    check = "gradient norm, output -> first layer"
    values = layer_values(at_epoch(m.own, 0), "grad_norm")
    if len(values) < 2:
        return Finding(check, SKIP, "one layer", "")
    first, last = min(values), max(values)
    return _ratio_finding(
        check, (last, values[last]), (first, values[first]), FLOW_WARN, FLOW_FAIL,
        "|dJ/dW|",
        "gradients vanish on the way back: init=he_normal (ReLU) or xavier_normal (tanh), "
        "activation=relu (the lecture: avoid sigmoid), normalization=batchnorm",
        "gradients explode on the way back: a smaller init.gain, optimizer.clip_norm=1",
        {"grad_norm": values})


def update_ratio(m: Measurements) -> Finding:
    """The first step's ratio (epoch 0's row: the update the optimizer makes next) and the
    ratio after an epoch (the optimizer's state warmed up); too large on either, too small
    after the epoch."""
    check = "update / weight ratio, first steps"
    if m.cfg.optimizer.solver != "gradient":
        return Finding(check, SKIP, f"optimizer={m.cfg.optimizer.name} takes no steps", "")
    row = at_epoch(m.own, 1)
    values = layer_values(row, "update_ratio")
    first = layer_values(at_epoch(m.own, 0), "update_ratio")
    if not values:
        return Finding(check, SKIP, "no gradient steps (closed form)", "")
    weights = layer_values(at_epoch(m.own, 0), "weight_norm")
    numbers = {"update_ratio": values, "first_step": first, "rule_of_thumb": 1e-3}
    lr = m.cfg.optimizer.lr
    measured = (f"by layer, first step: {_layers(first)}; after epoch 1: {_layers(values)} "
                "(rule of thumb ~1e-3)")
    if any(w == 0 for w in weights.values()):
        return Finding(check, FAIL, measured + "; zero weights", "weights that are all 0 "
                       "(init=zeros) make the ratio meaningless: init=he_normal", numbers)
    if not all(math.isfinite(v) for v in [*values.values(), *first.values()]):
        return Finding(check, FAIL, measured, "the run diverged in its first epoch: "
                       f"optimizer.lr={lr / 100:.2g}", numbers)
    high = max(max(values.values()), max(first.values(), default=0.0))
    low = min(values.values())
    if high == 0:
        return Finding(check, FAIL, measured, "no layer moves: every gradient is 0 (dead "
                       "units, see that row)", numbers)
    problems = []
    status = PASS
    if high > UPDATE_HIGH:
        status = FAIL if high > UPDATE_FAIL else WARN
        problems.append("updates too large for the weights: "
                        f"optimizer.lr={lr_range.round_lr(lr * 1e-3 / high):g}")
    elif high < UPDATE_LOW:
        status = WARN
        problems.append("updates too small to move the weights: "
                        f"optimizer.lr={lr_range.round_lr(lr * 1e-3 / high):g}")
    if low < UPDATE_LOW and high >= UPDATE_LOW:
        status = WARN if status == PASS else status
        problems.append(f"layer {min(values, key=values.get)} barely moves (its gradient "
                        "vanishes: see the gradient norm row)")
    return Finding(check, status, measured, "; ".join(problems), numbers)


def symmetry(m: Measurements) -> Finding:
    check = "distinct units (symmetry)"
    start = layer_values(at_epoch(m.own, 0), "distinct")
    if not start:
        return Finding(check, SKIP, "no hidden layer", "")
    widths = {k: w for k, w in enumerate(m.facts.widths, start=1)}
    end = layer_values(at_epoch(m.own, int(m.own.epoch.max())), "distinct")
    text = " ".join(f"{v:.0f}/{widths.get(k, '?')}" for k, v in start.items())
    measured = f"distinct/width by layer: {text} at init"
    if end:
        measured += f", {_layers(end, lambda v: f'{v:.0f}')} after the short run"
    numbers = {"init": start, "after_short_run": end, "widths": widths}
    lost = {k: v / widths[k] for k, v in start.items() if k in widths and v < widths[k]}
    if not lost:
        return Finding(check, PASS, measured, "", numbers)
    status = FAIL if min(lost.values()) <= 0.5 else WARN
    return Finding(check, status, measured, "units that start equal get equal gradients and "
                   "stay equal: init=he_normal (random weights break the symmetry)", numbers)


def learning_rate(m: Measurements) -> tuple[Finding, lr_range.RangeResult | None,
                                            pd.DataFrame | None]:
    """The range test's reading, and the config's own lr judged by it."""
    check = "learning rate (range test)"
    if m.cfg.optimizer.solver != "gradient":
        return Finding(check, SKIP, f"optimizer={m.cfg.optimizer.name} has no lr", ""), \
            None, None
    if m.lr_range is None:
        return Finding(check, SKIP, "not run (--no-lr-range)", ""), None, None
    frame = lr_range.per_lr(m.lr_range)
    chance = chance_loss(m.cfg, m.facts)
    initial = float(at_epoch(m.own, 0)["train_loss"])
    result = lr_range.analyze(frame, chance, initial)
    own = lr_range.per_lr(m.own.assign(lr_value=m.cfg.optimizer.lr))
    own_diverged = bool(lr_range.diverged(own).iloc[0])
    own_stalled = bool(lr_range.no_progress(own, chance).iloc[0])
    own_loss = float(own["max"].iloc[0])
    lr = m.cfg.optimizer.lr
    steps = int(m.own.step.max())
    numbers = {"own_lr": lr, "own_worst_loss": own_loss, "own_diverged": own_diverged,
               "own_no_progress": own_stalled,
               "chance": chance, "steps": steps,
               "grid": frame.to_dict(orient="list")}
    if result is None:
        return Finding(check, FAIL, f"no lr of {frame.lr.min():.0e}..{frame.lr.max():g} gets "
                       f"below chance ({chance:.3g}) in {steps} steps",
                       "not an lr problem: look at the init (symmetry, dead units), the "
                       "penalty and the data", numbers), None, frame
    numbers |= result.as_dict()
    suggestion = lr_range.round_lr(result.suggested)
    edge = (f"; diverges from {result.divergent_from:.2g}" if result.divergent_from
            else "; no divergent end up to the grid's top")
    measured = (f"lr {lr:g}: worst seed {fmt(own_loss)} after {steps} steps; good range "
                f"{result.low:.2g}..{result.high:.2g} (best {result.best:.2g}: "
                f"{fmt(result.best_loss)}){edge}")
    if own_diverged or (own_stalled and lr > result.best):
        what = "diverges" if own_diverged else "collapses to chance"
        return Finding(check, FAIL, measured, f"this lr {what}: optimizer.lr={suggestion:g}",
                       numbers), result, frame
    half_step = math.sqrt(frame.lr.iloc[1] / frame.lr.iloc[0])  # the grid's resolution
    if lr > result.high * half_step:
        return Finding(check, WARN, measured, f"above the good range, near the divergent end: "
                       f"optimizer.lr={suggestion:g}", numbers), result, frame
    if lr < result.low / half_step:
        return Finding(check, WARN, measured, f"below the good range, slow: "
                       f"optimizer.lr={suggestion:g}", numbers), result, frame
    return Finding(check, PASS, measured, "", numbers), result, frame


BEFORE_CHECKS = (initial_loss, regularization, overfit_subset, gradient_check, dead_units,
                 saturation, activation_scale, gradient_flow, update_ratio, symmetry)
