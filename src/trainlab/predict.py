"""Predictions of a trained network: class probabilities in evaluation mode, and Monte-Carlo
dropout (lecture 001: dropout at test time).

At test time a network trained with dropout can be run three ways:
- *weight scaling* (the original paper): every unit kept, each weight after a dropout layer
  multiplied by the keep probability 1 - p;
- *inverted dropout* (trainlab, and most libraries): the kept units were scaled by 1/(1 - p)
  during training, so the test pass needs no change - the same network as weight scaling;
- *Monte-Carlo averaging*: run the net with dropout on, many times, and average the predicted
  probabilities (an ensemble of the thinned sub-networks).

``params`` and ``state`` are what ``trainlab.nn.mlp.init`` makes (or what
``figures.common.load_params`` reads back from a run's params file).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from trainlab.config import Config
from trainlab.nn import mlp


def empty_state(params: dict) -> dict:
    """The state of a network without BatchNorm (no running statistics)."""
    return {"layers": [{} for _ in params["layers"]]}


def _check_classifier(cfg: Config, x) -> None:
    if cfg.loss.name != "cross_entropy":
        raise ValueError(f"loss={cfg.loss.name}: class probabilities need loss=cross_entropy")
    if jnp.ndim(x) != 2:
        raise ValueError(f"x must be (samples, features), got shape {jnp.shape(x)}")


def logits(cfg: Config, params: dict, x, state: dict | None = None) -> jax.Array:
    """The net's outputs before the softmax (samples, classes), in evaluation mode."""
    _check_classifier(cfg, x)
    if state is None:
        if cfg.normalization.stateful:
            raise ValueError(f"normalization={cfg.normalization.name}: evaluation needs the "
                             "running statistics (pass state)")
        state = empty_state(params)
    out, _, _ = mlp.apply(cfg, params, state, jnp.asarray(x), train=False)
    return out


def probabilities(cfg: Config, params: dict, x, state: dict | None = None) -> jax.Array:
    """Softmax class probabilities (samples, classes) of the net in evaluation mode."""
    return jax.nn.softmax(logits(cfg, params, x, state), axis=-1)


def mc_dropout_probabilities(cfg: Config, params: dict, x, key: jax.Array, samples: int,
                             state: dict | None = None) -> jax.Array:
    """Softmax probabilities of ``samples`` forward passes with dropout on, one independent set
    of masks per pass (drawn from ``key``): an array (samples, n, classes). Their mean over the
    first axis is the Monte-Carlo dropout prediction.

    BatchNorm is refused: trainlab's training-mode pass would normalize with the test batch's
    own statistics, not the running averages, so the passes would not be the trained net."""
    return jax.nn.softmax(mc_dropout_logits(cfg, params, x, key, samples, state), axis=-1)


def mc_dropout_logits(cfg: Config, params: dict, x, key: jax.Array, samples: int,
                      state: dict | None = None) -> jax.Array:
    """The outputs before the softmax of ``samples`` passes with dropout on (samples, n,
    classes): what the net computed in training, mask by mask."""
    _check_classifier(cfg, x)
    if cfg.normalization.stateful:
        raise ValueError(f"normalization={cfg.normalization.name}: Monte-Carlo dropout is not "
                         "supported (the training-mode pass would use the batch's statistics)")
    if samples < 1:
        raise ValueError(f"samples={samples}: must be >= 1")
    state = empty_state(params) if state is None else state
    x = jnp.asarray(x)

    def one(k):
        out, _, _ = mlp.apply(cfg, params, state, x, train=True, key=k)
        return out

    return jax.lax.map(one, jax.random.split(key, samples))


def mc_dropout_predictions(cfg: Config, params: dict, x, key: jax.Array, samples: int,
                           state: dict | None = None) -> jax.Array:
    """The Monte-Carlo dropout prediction: the mean of ``samples`` dropout passes'
    probabilities, (n, classes)."""
    return mc_dropout_probabilities(cfg, params, x, key, samples, state).mean(axis=0)


def _rates(cfg: Config, params: dict) -> list[float]:
    """The dropout rate in front of each layer: input dropout before layer 0, hidden dropout
    before every later layer."""
    p_in, p_hidden = cfg.model.input_dropout, cfg.model.hidden_dropout
    return [p_in if i == 0 else p_hidden for i in range(len(params["layers"]))]


def as_standard_dropout(cfg: Config, params: dict) -> dict:
    """The weights a net trained with *standard* (not inverted) dropout would hold.

    Inverted dropout scales the kept units by 1/(1 - p) in training; standard dropout does not,
    so to compute the same training-time function its weights after a dropout layer are
    W / (1 - p). Used as they are at test time (no rescaling) they over-drive every layer."""
    return {"layers": [layer | {"w": layer["w"] / (1.0 - p)}
                       for layer, p in zip(params["layers"], _rates(cfg, params), strict=True)]}


def weight_scaling(cfg: Config, params: dict) -> dict:
    """The weight-scaling rule (Srivastava et al. 2014) for a net trained with standard
    dropout: each weight after a dropout layer multiplied by the keep probability 1 - p.
    ``weight_scaling(cfg, as_standard_dropout(cfg, W))`` is W again (up to rounding): weight
    scaling and inverted dropout are the same test-time network."""
    return {"layers": [layer | {"w": layer["w"] * (1.0 - p)}
                       for layer, p in zip(params["layers"], _rates(cfg, params), strict=True)]}
