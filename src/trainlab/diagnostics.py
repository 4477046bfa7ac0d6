"""Per-layer signals of how a network trains, computed inside the compiled program.

Every number is a column ``<stat>/<k>`` of metrics.csv (DESIGN.md contract). Layer ``k``
counts from 1 and is ``params["layers"][k - 1]`` (``layers.<k-1>.*`` in the params files):
with L hidden layers, 1..L are the hidden layers and L+1 is the output layer. Activation
statistics exist for hidden layers, parameter statistics for every layer. Row 0 is the
network at initialization.

    column            meaning                                                    source
    act_mean/k        mean of the layer's outputs (after its normalization)      probe
    act_std/k         their std over samples and units                           probe
    act_sat/k         fraction saturated: |a| > 0.99 (tanh); a < 0.01 or > 0.99   probe
                      (sigmoid); only for those two activations
    pre_mean/k        mean of the activation function's input                    probe
    pre_std/k         its std
    dead_probe/k      units whose output is exactly 0 on every probe sample      probe
    dead_frac/k       fraction of units whose output is 0 on every training      train set
                      sample (a dead ReLU)
    stuck_frac/k      fraction never positive on any training sample (a leaky    train set
                      unit can be stuck without being exactly 0)
    distinct/k        distinct hidden units: incoming weights and bias equal     params
                      within 1e-3 of the layer's rms norm count as one
    grad_norm/k       ||dJ/dW||_F of the training objective J (loss + penalty)   probe
    grad_norm_b/k     ||dJ/db||
    weight_norm/k     ||W||_F                                                    params
    sparsity/k        fraction of |W| < ``cfg.sparsity_threshold``               params
    update_norm/k     ||update of W||_F the optimizer makes next, from the       probe
                      probe's gradient and its current state
    update_ratio/k    update_norm / weight_norm (lecture rule of thumb: ~1e-3)
    gap_loss          val_loss - train_loss                                      row
    gap_acc           train_acc - val_acc (classification)
    act_hist_<b>/k    fraction of layer k's probe outputs in bin b of            probe
                      ``histogram_edges(cfg)``; diagnostics=full only

Sources: *probe* is one forward and backward pass on the probe batch (the first training
samples, with their labels) in training mode - BatchNorm normalizes with the probe's own
statistics, its running averages untouched - with dropout off, so the numbers are
deterministic. *train set* reuses the evaluation pass over the whole training split that the
program makes anyway; with train_metrics=running there is none, and a unit is dead when it
was 0 on every batch of the epoch, as training computed them. *steps* are accumulated by the
training scan in the program's carry (``init_accumulators``, ``accumulate``). Dead, stuck and
saturated look at the activation function's own output, before a normalization placed after.
Nothing is computed per training step in train_metrics=eval mode: a step of the default MLP
is so small that even one pass over the update (its norm) costs about 5% of it.

``diagnostics=off`` computes none of them; ``default`` all but the histograms; ``full`` adds
the histograms (``split_histograms`` moves them out of the metrics table).
"""

from __future__ import annotations

import dataclasses
import re

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd


SATURATION = 0.99
DISTINCT_TOLERANCE = 1e-3  # relative to the rms norm of a layer's unit vectors
DISTINCT_DIMS = 32
HIST_BINS = 50
HIST_RANGE = (-5.0, 5.0)  # unbounded outputs; values outside fall into the end bins


# ------------------------------------------------------------------------- activations
def on(cfg) -> bool:
    return cfg.diagnostics != "off"


def _unit_outputs(cfg, tap: dict, layer: dict) -> jax.Array:
    """The activation function's own output, before a normalization placed after it."""
    if not cfg.normalization.after_activation:
        return tap["act"]
    return cfg.activation(tap["pre"], layer)


def _saturated(activation, g: jax.Array) -> jax.Array | None:
    """Where a bounded activation's output is within 1% of its range's ends."""
    if activation.saturated_outside is None:
        return None
    low, high = activation.saturated_outside
    return (g < low) | (g > high)


def activation_stats(cfg, params: dict, taps: list[dict]) -> dict:
    """Mean, std and saturation of each hidden layer's outputs and pre-activations, and the
    units silent on every sample, from the taps of one batch."""
    stats = {}
    for k, (tap, layer) in enumerate(zip(taps, params["layers"]), start=1):
        a, z = tap["act"], tap["pre"]
        g = _unit_outputs(cfg, tap, layer)
        stats[f"act_mean/{k}"] = a.mean()
        stats[f"act_std/{k}"] = a.std()
        saturated = _saturated(cfg.activation, g)
        if saturated is not None:
            stats[f"act_sat/{k}"] = saturated.mean(dtype=a.dtype)
        stats[f"pre_mean/{k}"] = z.mean()
        stats[f"pre_std/{k}"] = z.std()
        stats[f"dead_probe/{k}"] = jnp.all(g == 0, axis=0).sum(dtype=jnp.int32)
    return stats


def unit_codes(cfg, params: dict, taps: list[dict]) -> list[jax.Array]:
    """For each hidden layer, per unit, the largest over the samples of 2 where the output is
    positive, 1 where negative, 0 where zero (one pass tells both dead and stuck units)."""
    outputs = [_unit_outputs(cfg, tap, layer) for tap, layer in zip(taps, params["layers"])]
    return [jnp.where(g > 0, 2, g != 0).astype(jnp.int8).max(axis=0) for g in outputs]


def dead_units(codes: list[jax.Array]) -> dict:
    """Fractions of units exactly 0 (dead: code 0) and never positive (stuck: below 2)."""
    stats = {f"dead_frac/{k}": (c == 0).mean() for k, c in enumerate(codes, start=1)}
    stats |= {f"stuck_frac/{k}": (c < 2).mean() for k, c in enumerate(codes, start=1)}
    return stats


# -------------------------------------------------------------------------- parameters
def count_distinct(vectors: jax.Array, tolerance: float = DISTINCT_TOLERANCE) -> jax.Array:
    """How many rows of ``vectors`` differ, two rows being equal when their distance is at
    most ``tolerance`` times the rms row norm. A row counts when no earlier row equals it.

    Long rows are compared through a fixed random projection to ``DISTINCT_DIMS`` dimensions
    (Johnson-Lindenstrauss): equal rows stay equal, distances keep their size within a small
    factor, and the n x n distances cost n^2 * 32 operations instead of n^2 * d."""
    if vectors.shape[1] > DISTINCT_DIMS:
        rng = np.random.default_rng(0)
        projection = rng.standard_normal((vectors.shape[1], DISTINCT_DIMS)) / DISTINCT_DIMS**0.5
        vectors = vectors @ jnp.asarray(projection, vectors.dtype)
    scale = (vectors**2).sum(axis=1).mean()
    # Centering leaves distances unchanged and keeps the Gram-matrix distances below free of
    # cancellation when all rows are (nearly) the same, the case this count is for.
    v = vectors - vectors.mean(axis=0)
    sq = (v**2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2 * v @ v.T
    same = d2 <= tolerance**2 * scale
    has_earlier_twin = jnp.tril(same, k=-1).any(axis=1)
    return vectors.shape[0] - has_earlier_twin.sum(dtype=jnp.int32)


def distinct_units(cfg, params: dict) -> dict:
    """``distinct/k`` for each hidden layer: a unit is its incoming weights and bias (all
    its pieces for maxout), the zero-init trap leaves one distinct unit per layer."""
    pieces = cfg.activation.pieces  # maxout's pieces are adjacent columns of W
    stats = {}
    for k, layer in enumerate(params["layers"][:-1], start=1):
        columns = jnp.concatenate([layer["w"], layer["b"][None]], axis=0).T
        units = columns.reshape(columns.shape[0] // pieces, -1)
        stats[f"distinct/{k}"] = count_distinct(units)
    return stats


def weight_stats(params: dict, threshold: float) -> dict:
    stats = {}
    for k, layer in enumerate(params["layers"], start=1):
        stats[f"weight_norm/{k}"] = jnp.linalg.norm(layer["w"])
    for k, layer in enumerate(params["layers"], start=1):
        stats[f"sparsity/{k}"] = (jnp.abs(layer["w"]) < threshold).mean(dtype=layer["w"].dtype)
    return stats


def grad_stats(grads: dict) -> dict:
    stats = {f"grad_norm/{k}": jnp.linalg.norm(g["w"])
             for k, g in enumerate(grads["layers"], start=1)}
    stats |= {f"grad_norm_b/{k}": jnp.linalg.norm(g["b"])
              for k, g in enumerate(grads["layers"], start=1)}
    return stats


def update_stats(updates: dict, params: dict) -> dict:
    """Norm of each layer's weight update, and its ratio to the weights' norm."""
    norms = [jnp.linalg.norm(u["w"]) for u in updates["layers"]]
    stats = {f"update_norm/{k}": norm for k, norm in enumerate(norms, start=1)}
    for k, (norm, layer) in enumerate(zip(norms, params["layers"]), start=1):
        stats[f"update_ratio/{k}"] = norm / jnp.linalg.norm(layer["w"])
    return stats


def generalization_gap(row: dict) -> dict:
    gap = {}
    if "val_loss" in row:
        gap["gap_loss"] = row["val_loss"] - row["train_loss"]
    if "val_acc" in row and "train_acc" in row:
        gap["gap_acc"] = row["train_acc"] - row["val_acc"]
    return gap


# --------------------------------------------------------------------------- histograms
def histogram_edges(cfg) -> np.ndarray:
    """The fixed bin edges of the activation histograms: the output range of tanh and
    sigmoid, else ``HIST_RANGE``; the same for every layer and epoch of a run."""
    bounded = cfg.activation.output_range
    after = cfg.normalization.after_activation
    lo, hi = HIST_RANGE if after or bounded is None else bounded
    return np.linspace(lo, hi, HIST_BINS + 1)


def activation_histograms(cfg, taps: list[dict]) -> dict:
    """``act_hist/k``: the fractions of layer k's outputs in each bin (end bins take the
    values beyond the edges), one vector per layer: 50 scalar outputs a layer made the
    program far slower to compile. The host splits it into ``act_hist_<b>/k`` columns."""
    edges = histogram_edges(cfg)
    lo, hi = float(edges[0]), float(edges[-1])
    stats = {}
    for k, tap in enumerate(taps, start=1):
        a = tap["act"].ravel()
        index = jnp.clip(jnp.floor((a - lo) / (hi - lo) * HIST_BINS), 0, HIST_BINS - 1)
        # a one-hot sum, not bincount: a scatter is slow to compile and to run under vmap
        fractions = (index[:, None] == jnp.arange(HIST_BINS)).mean(axis=0, dtype=a.dtype)
        stats[f"act_hist/{k}"] = fractions
    return stats


_HIST_COLUMN = re.compile(r"^act_hist_(\d+)/(\d+)$")


def split_histograms(table: pd.DataFrame, edges: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the metrics table without the histogram columns, the histograms in long form:
    seed, epoch, layer, bin, lo, hi, fraction) - for ``histograms.csv`` beside metrics.csv."""
    columns = [c for c in table.columns if _HIST_COLUMN.match(c)]
    long = table.melt(id_vars=["seed", "epoch"], value_vars=columns, var_name="column",
                      value_name="fraction")
    parts = long["column"].str.extract(_HIST_COLUMN.pattern).astype(int)
    long = long.assign(layer=parts[1], bin=parts[0])
    long = long.assign(lo=edges[long["bin"]], hi=edges[long["bin"] + 1])
    long = long.sort_values(["seed", "epoch", "layer", "bin"], kind="stable")
    hist = long[["seed", "epoch", "layer", "bin", "lo", "hi", "fraction"]].reset_index(drop=True)
    return table.drop(columns=columns), hist


# ----------------------------------------------------------- accumulated by the training scan
def init_accumulators(cfg, params: dict) -> dict:
    """What the training scan accumulates for the diagnostics, carried from epoch to epoch:
    with train_metrics=running, the ``unit_codes`` of the epoch's batches so far (with
    train_metrics=eval, nothing: the evaluation pass over the training split tells)."""
    units = [layer["b"].shape[0] // cfg.activation.pieces
             for layer in params.get("layers", [])[:-1]]
    return {"unit_codes": [jnp.zeros((n,), jnp.int8) for n in units]}


def start_epoch(accumulators: dict) -> dict:
    return jax.tree_util.tree_map(jnp.zeros_like, accumulators)


def accumulate(cfg, accumulators: dict, params: dict, taps: list[dict],
               active: jax.Array) -> dict:
    """Add one training step's taps (``active``: the step counted) to the accumulators."""
    if not on(cfg) or cfg.train_metrics != "running":
        return accumulators
    seen = unit_codes(cfg, params, taps)
    return {"unit_codes": [jnp.maximum(old, jnp.where(active, new, 0).astype(jnp.int8))
                           for old, new in zip(accumulators["unit_codes"], seen)]}


# ------------------------------------------------------------------------------ the row
def probe_pass(cfg, net, probe: tuple, objective) -> tuple[dict, list[dict]]:
    """Gradient of the training objective and the taps on the probe batch, in training mode
    with dropout off. ``objective(cfg, params, state, batch, key)`` is the problem's,
    returning ``(value, (state, metrics, taps))``."""
    model = dataclasses.replace(cfg.model, input_dropout=0.0, hidden_dropout=0.0)
    cfg = dataclasses.replace(cfg, model=model)
    grads, (_, _, taps) = jax.grad(objective, argnums=1, has_aux=True)(
        cfg, net.params, net.state, probe, None
    )
    return grads, taps


def epoch_diagnostics(cfg, net, probe: tuple, objective, codes: list[jax.Array],
                      optimizer: tuple, row: dict) -> dict:
    """The diagnostics columns of one epoch's row (see the module docstring). ``codes``: the
    ``unit_codes`` of the training split, from the evaluation pass over it or, with
    train_metrics=running, accumulated over the epoch's batches.
    ``optimizer``: (the optax transformation, its current state)."""
    if not on(cfg):
        return {}
    params = net.params
    grads, taps = probe_pass(cfg, net, probe, objective)
    stats = activation_stats(cfg, params, taps)
    stats |= dead_units(codes)
    stats |= distinct_units(cfg, params)
    stats |= grad_stats(grads)
    stats |= weight_stats(params, cfg.sparsity_threshold)
    tx, opt_state = optimizer
    updates, _ = tx.update(grads, opt_state, params)  # the step it would take on the probe
    stats |= update_stats(updates, params)
    stats |= generalization_gap(row)
    if cfg.diagnostics == "full":
        stats |= activation_histograms(cfg, taps)
    return stats
