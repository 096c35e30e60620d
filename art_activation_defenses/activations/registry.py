"""Name registry of the activation defences, for configs and the command line.

>>> act = create_activation("jumprelu", kappa=0.5)
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from art_activation_defenses.activations.modules import (
    BoundedReLU,
    CappedReLU,
    JumpReLU,
    RandomizedJumpReLU,
    RetrofitActivation,
    SlopedReLU,
)

__all__ = [
    "ACTIVATIONS",
    "create_activation",
    "activation_factory",
    "activation_class",
    "available_activations",
]

ACTIVATIONS: dict[str, type[RetrofitActivation]] = {
    "jumprelu": JumpReLU,
    "randomized-jumprelu": RandomizedJumpReLU,
    "brelu": BoundedReLU,
    "capped": CappedReLU,
    "srelu": SlopedReLU,
}


def available_activations() -> list[str]:
    """The registered activation names."""
    return sorted(ACTIVATIONS)


def activation_class(name: str) -> type[RetrofitActivation]:
    """The activation class registered under ``name``.

    :raises ValueError: for an unknown name (the message lists the known ones).
    """
    key = str(name).lower().replace("_", "-")
    if key not in ACTIVATIONS:
        raise ValueError(
            f"Unknown activation `activation={name!r}`; expected one of {available_activations()}."
        )
    return ACTIVATIONS[key]


def create_activation(name: str, **params: Any) -> RetrofitActivation:
    """Build the activation registered under ``name`` with ``params`` (e.g. ``kappa=1.0``).

    Unknown parameters raise ``ValueError`` naming the parameter and the expected ones.
    """
    return activation_factory(name, **params)()


def activation_factory(name: str, **params: Any) -> functools.partial[RetrofitActivation]:
    """The class registered under ``name`` with ``params`` bound (names checked, values checked by
    the constructor when it is called): ``activation_factory("jumprelu", kappa=1.0)(original="relu")``.

    Unknown parameters raise ``ValueError`` naming the parameter and the expected ones.
    """
    cls = activation_class(name)
    allowed = set(cls.param_names) | {"grad_mode", "original", "generator"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown parameter(s) {unknown} for activation {name!r}; expected some of {cls.param_names}."
        )
    return functools.partial(cls, **params)


ActivationFactory = Callable[[], RetrofitActivation]
