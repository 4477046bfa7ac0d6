"""trainlab's configuration: typed schemas, the registry of choices, checks, and composition.

    fields.py     typed fields that carry their own check, and ConfigError
    schema.py     one base class per group, and the top-level Config
    registry.py   @choice and GROUPS: every choice of every group, registered in one place
    signature.py  the static signature vs the traced numbers of a config
    compose.py    overrides -> a checked Config (compose, to_config, validate)
    yamls.py      the conf/<group>/<name>.yaml files, written from the classes
"""

from trainlab.config.compose import batch_size_of, compose, explain, to_config, validate
from trainlab.config.fields import ConfigError
from trainlab.config.registry import GROUPS, choice, default_choices, register_configs
from trainlab.config.schema import (
    SUMMARY_OBJECTIVES,
    Activation,
    Config,
    Data,
    EarlyStopping,
    Init,
    Loss,
    Model,
    Normalization,
    Optimizer,
    Regularizer,
    Schedule,
)
from trainlab.config.signature import (
    TRACED_GROUPS,
    ZERO_IS_STATIC,
    static_signature,
    traced_values,
    with_values,
)

__all__ = [
    "GROUPS", "SUMMARY_OBJECTIVES", "TRACED_GROUPS", "ZERO_IS_STATIC", "Activation", "Config",
    "ConfigError", "Data", "EarlyStopping", "Init", "Loss", "Model", "Normalization",
    "Optimizer", "Regularizer", "Schedule", "batch_size_of", "choice", "compose", "default_choices", "explain",
    "register_configs", "static_signature", "to_config", "traced_values", "validate",
    "with_values",
]
