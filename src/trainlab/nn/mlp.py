"""The multilayer perceptron, as two pure functions over a pytree of parameters.

    params = {"layers": [{"w": (fan_in, fan_out), "b": (fan_out,), ...}, ...]}
    state  = {"layers": [{"mean", "var"} for BatchNorm, else {}]}

Hidden layer i computes z = h W_i + b_i, then (normalization before or after) the activation,
then inverted dropout. The last layer is linear unless the model asks for an output
activation. Every model choice is this network: its hidden widths, input features and frozen
layers come from the model's own class (models.py).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trainlab.config import GROUPS, Config


def init(cfg: Config, key: jax.Array, n_features: int, n_outputs: int, dtype) -> tuple:
    """Fresh (params, state) for inputs of ``n_features`` and ``n_outputs`` outputs."""
    widths = cfg.model.hidden_widths()
    fan_ins = [cfg.model.n_inputs(n_features), *widths]
    params, state = [], []
    for i, (fan_in, units) in enumerate(zip(fan_ins, [*widths, n_outputs], strict=True)):
        hidden = i < len(widths)
        fan_out = units * cfg.activation.pieces if hidden else units
        w = cfg.init(jax.random.fold_in(key, i), (fan_in, fan_out), dtype)
        layer = {"w": w, "b": jnp.full((fan_out,), cfg.init.bias, dtype)}
        layer_state = {}
        if hidden:
            layer |= cfg.activation.params(units, dtype)
            norm_width = units if cfg.normalization.after_activation else fan_out
            norm_params, layer_state = cfg.normalization.init(norm_width, dtype)
            layer |= norm_params
        params.append(layer)
        state.append(layer_state)
    return {"layers": params}, {"layers": state}


def _dropout(key: jax.Array, x: jax.Array, rate) -> jax.Array:
    """Inverted dropout: zero each unit with probability ``rate``, scale the rest by 1/(1-rate)
    so that the expected output is unchanged and evaluation needs no rescaling."""
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def _dropout_on(rate) -> bool:
    # A rate of exactly 0.0 is a Python float in the static config: no masks are drawn at all.
    return not (isinstance(rate, float) and rate == 0.0)


def apply(
    cfg: Config, params: dict, state: dict, x: jax.Array, *, train: bool,
    key: jax.Array | None = None,
) -> tuple[jax.Array, dict, list[dict]]:
    """Forward pass. Returns (outputs, new state, taps), taps holding each hidden layer's
    pre-activations ``pre`` and activations ``act`` for the diagnostics."""
    model, norm, activation = cfg.model, cfg.normalization, cfg.activation
    layers = params["layers"]
    h = model.features(x)
    if train and _dropout_on(model.input_dropout):
        h = _dropout(jax.random.fold_in(key, len(layers)), h, model.input_dropout)
    new_state, taps = [], []
    for i, (layer, layer_state) in enumerate(zip(layers[:-1], state["layers"][:-1], strict=True)):
        z = h @ layer["w"] + layer["b"]
        if not norm.after_activation:
            z, layer_state = norm.apply(layer, layer_state, z, train=train)
        a = activation(z, layer)
        if norm.after_activation:
            a, layer_state = norm.apply(layer, layer_state, a, train=train)
        taps.append({"pre": z, "act": a})
        new_state.append(layer_state)
        h = a
        if train and _dropout_on(model.hidden_dropout):
            h = _dropout(jax.random.fold_in(key, i), h, model.hidden_dropout)
    out = h @ layers[-1]["w"] + layers[-1]["b"]
    new_state.append(state["layers"][-1])
    output_activation = GROUPS["activation"][model.output_activation]()
    return output_activation(out, {}), {"layers": new_state}, taps


def n_params(params: dict) -> int:
    return sum(leaf.size for leaf in jax.tree_util.tree_leaves(params))


STATE_ARRAYS = ("mean", "var")  # BatchNorm's running statistics: state, not params


def unflatten(arrays) -> tuple[dict, dict]:
    """(params, state) from ``layers.<i>.<name>`` arrays: the inverse of ``flat_arrays``
    applied to both (what a run's params_*.npz holds)."""
    layers: dict[int, dict] = {}
    for name in arrays:
        _, index, leaf = name.split(".", 2)
        layers.setdefault(int(index), {})[leaf] = arrays[name]
    ordered = [layers[i] for i in sorted(layers)]
    params = [{k: v for k, v in layer.items() if k not in STATE_ARRAYS} for layer in ordered]
    state = [{k: v for k, v in layer.items() if k in STATE_ARRAYS} for layer in ordered]
    return {"layers": params}, {"layers": state}


def flat_arrays(params: dict, prefix: str = "layers") -> dict[str, jax.Array]:
    """``{"layers.<i>.<name>": array}``, the names of the params files of the run contract."""
    return {
        f"{prefix}.{i}.{name}": value
        for i, layer in enumerate(params["layers"])
        for name, value in layer.items()
    }
