"""The multilayer perceptron, as two pure functions over a pytree of parameters.

    params = {"layers": [{"w": (fan_in, fan_out), "b": (fan_out,), ...}, ...]}
    state  = {"layers": [{"mean", "var"} for BatchNorm, else {}]}

Hidden layer i computes z = h W_i + b_i, then (normalization before or after) the activation,
then inverted dropout. The last layer is linear unless the model asks for an output
activation. The polynomial model is the same network with no hidden layer, on polynomial
features of its 1-D input.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from trainlab.config import Config, Model
from trainlab.nn import normalization
from trainlab.nn.activations import (
    activate,
    activation_params,
    output_activation,
    pre_activation_width,
)
from trainlab.nn.initializers import weight_initializer


def hidden_widths(model: Model) -> list[int]:
    if model.name == "random_features":
        return [model.width]
    return list(model.widths) if model.name == "mlp" else []


def n_inputs(model: Model, n_features: int) -> int:
    return model.degree + 1 if model.name == "polynomial" else n_features


def features(model: Model, x: jax.Array) -> jax.Array:
    """The network's input: x itself, or polynomial features of a 1-D x."""
    if model.name != "polynomial":
        return x
    x = x[:, 0]
    if model.basis == "monomial":
        return jnp.stack([x**n for n in range(model.degree + 1)], axis=-1)
    # Legendre polynomials by Bonnet's recursion, scaled to be orthonormal on [-1, 1]: unlike
    # raw monomials they keep gradient descent well conditioned at high degree.
    columns = [jnp.ones_like(x), x][: model.degree + 1]
    for n in range(1, model.degree):
        columns.append(((2 * n + 1) * x * columns[n] - n * columns[n - 1]) / (n + 1))
    return jnp.stack([c * math.sqrt((2 * n + 1) / 2) for n, c in enumerate(columns)], axis=-1)


def init(cfg: Config, key: jax.Array, n_features: int, n_outputs: int, dtype) -> tuple:
    """Fresh (params, state) for inputs of ``n_features`` and ``n_outputs`` outputs."""
    widths = hidden_widths(cfg.model)
    fan_ins = [n_inputs(cfg.model, n_features), *widths]
    init_w = weight_initializer(cfg.init)
    params, state = [], []
    for i, (fan_in, units) in enumerate(zip(fan_ins, [*widths, n_outputs], strict=True)):
        hidden = i < len(widths)
        fan_out = pre_activation_width(cfg.activation, units) if hidden else units
        w = init_w(jax.random.fold_in(key, i), (fan_in, fan_out), dtype)
        layer = {"w": w, "b": jnp.full((fan_out,), cfg.init.bias, dtype)}
        layer_state = {}
        if hidden:
            layer |= activation_params(cfg.activation, units, dtype)
            norm_width = fan_out if cfg.normalization.position == "before" else units
            norm_params, layer_state = normalization.init(cfg.normalization, norm_width, dtype)
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
    model, norm = cfg.model, cfg.normalization
    layers = params["layers"]
    h = features(model, x)
    if train and _dropout_on(model.input_dropout):
        h = _dropout(jax.random.fold_in(key, len(layers)), h, model.input_dropout)
    new_state, taps = [], []
    for i, (layer, layer_state) in enumerate(zip(layers[:-1], state["layers"][:-1], strict=True)):
        z = h @ layer["w"] + layer["b"]
        if norm.position == "before":
            z, layer_state = normalization.apply(norm, layer, layer_state, z, train=train)
        a = activate(cfg.activation, z, layer)
        if norm.position == "after":
            a, layer_state = normalization.apply(norm, layer, layer_state, a, train=train)
        taps.append({"pre": z, "act": a})
        new_state.append(layer_state)
        h = a
        if train and _dropout_on(model.hidden_dropout):
            h = _dropout(jax.random.fold_in(key, i), h, model.hidden_dropout)
    out = h @ layers[-1]["w"] + layers[-1]["b"]
    new_state.append(state["layers"][-1])
    return output_activation(model.output_activation, out), {"layers": new_state}, taps


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
