"""Numbers for reading: each summary field in one format wherever the terminal shows it
(accuracies as percentages, losses to four decimals, counts with thousands separators), and a
mean over seeds with its std in the same format."""

from __future__ import annotations

import math
from typing import Any

_SECONDS = ("wall_s", "compile_s", "time_s")
_COUNTS = ("n_params", "n", "n_diverged", "group_size", "seeds")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def format_value(name: str, value: Any, *, mean: bool = False) -> str:
    """``value`` of the field ``name`` as the terminal shows it; ``mean``: a mean over seeds
    (an epoch or a count then keeps one decimal: the mean of 15, 19, 20, 19, 19 is 18.4)."""
    if _missing(value):
        return "-"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if name.endswith(("_acc", "_error")) or name.startswith(("dead_frac", "sparsity")):
        return f"{value:.2%}"
    if name in _SECONDS:
        return f"{value:.2f}"
    if name == "steps_per_s":
        return f"{value:,.0f}"
    if name.endswith("epoch") or name in _COUNTS:
        if mean and float(value) != round(value):
            return f"{value:,.1f}"
        return f"{round(value):,}"
    if name.endswith(("_loss", "_objective")) or name == "objective":
        return f"{value:.4f}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return f"{value:.4g}"


def format_with_std(name: str, value: Any, std: Any = None) -> str:
    """``18.4 ± 1.7``: the mean and its std, both as the field is formatted; the mean alone
    without a std."""
    if std is None:
        return format_value(name, value)
    text = format_value(name, value, mean=True)
    if text == "-" or _missing(std):
        return text
    return f"{text} ± {format_value(name, std, mean=True)}"
