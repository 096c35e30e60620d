"""The neutral value of each activation parameter (where the activation equals the ReLU it replaced).

``tune_kappa``, ``plot_tradeoff`` and ``masking_flags`` moved to
:mod:`art_activation_defenses.evaluation` (tuning is an evaluation); the names here are deprecated
aliases that still work and warn once (a :class:`DeprecationWarning`).
"""

from __future__ import annotations

import importlib
import math
import warnings
from typing import Any

__all__ = ["NEUTRAL_VALUES"]

#: Parameter values at which each activation equals the ReLU it replaced.
NEUTRAL_VALUES: dict[str, float] = {"kappa": 0.0, "t": math.inf, "beta": math.inf, "alpha": 1.0}

#: Deprecated name -> the evaluation module that now holds it.
_MOVED = {
    "tune_kappa": "art_activation_defenses.evaluation",
    "plot_tradeoff": "art_activation_defenses.evaluation",
    "masking_flags": "art_activation_defenses.evaluation.tuning",
}


def _moved(name: str, old: str) -> Any:
    """The object ``name`` from its new home, with a :class:`DeprecationWarning` naming it.

    :param name: A key of :data:`_MOVED`.
    :param old: The deprecated module path the caller used (for the message).
    """
    new = _MOVED[name]
    warnings.warn(
        f"`{old}.{name}` is deprecated; use `{new}.{name}` (tuning is an evaluation).",
        DeprecationWarning,
        stacklevel=3,
    )
    # The one sanctioned upward import (defences -> evaluation): lazy, at attribute access only,
    # for this deprecation alias; importing defences never imports evaluation.
    return getattr(importlib.import_module(new), name)


def __getattr__(name: str) -> Any:
    if name in _MOVED:  # cached: the warning is emitted once
        globals()[name] = value = _moved(name, __name__)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
