"""Pure tensor functions of the activation defences; all out of place.

Every function returns a new tensor and leaves ``x`` untouched. With the neutral parameter
(``kappa=0``, ``t=inf``, ``alpha=1``) each one equals :func:`torch.relu` bit for bit.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from art_activation_defenses import _validation

__all__ = [
    "PARAM_RANGES",
    "bounded_relu",
    "capped_relu",
    "check_param",
    "draw_kappa",
    "jump_relu",
    "randomized_jump_relu",
    "sloped_relu",
]

#: ``check_scalar`` keywords of every activation parameter: the one place their ranges are written.
PARAM_RANGES: dict[str, dict[str, Any]] = {
    "kappa": {"min_val": 0.0},
    "low": {"min_val": 0.0, "max_val": 1.0},
    "t": {"min_val": 0.0, "include_boundaries": "right", "allow_inf": True},
    "beta": {"min_val": 0.0, "include_boundaries": "right", "allow_inf": True},
    "alpha": {"min_val": 0.0, "include_boundaries": "right"},
}


def check_param(name: str, value: Any) -> float:
    """Check an activation parameter (``kappa``, ``low``, ``t``, ``beta``, ``alpha``) against
    :data:`PARAM_RANGES` with :func:`~art_activation_defenses._validation.check_scalar`.

    :param name: The parameter's name.
    :param value: Its value.
    :return: The value as ``float``.
    :raises ValueError: ```kappa` == -0.1, must be >= 0.``
    """
    return float(_validation.check_scalar(value, name, **PARAM_RANGES[name]))


# The unchecked fast paths below are what the modules' forward passes run: their parameters
# were checked once, when set.
def _jump_relu(x: torch.Tensor, kappa: float) -> torch.Tensor:
    if kappa == 0.0:
        return torch.relu(x)  # bit for bit, NaN kept
    # NaN stays NaN, as in torch.relu
    keep = (x > kappa) | torch.isnan(x)
    return torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))


def _draw_kappa(kappa: float, low: float, generator: torch.Generator | None) -> float:
    if generator is None:
        generator = torch.Generator()
        generator.seed()
    u = float(torch.rand((), generator=generator).item())
    return kappa * (low + (1.0 - low) * u)


def _bounded_relu(x: torch.Tensor, t: float) -> torch.Tensor:
    if math.isinf(t):
        return torch.relu(x)
    return torch.clamp(x, min=0.0, max=t)


def _sloped_relu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    if alpha == 1.0:
        return torch.relu(x)
    return torch.relu(x) * alpha


def jump_relu(x: torch.Tensor, kappa: float) -> torch.Tensor:
    """JumpReLU (Erichson et al. 2019): ``x * 1[x > kappa]``.

    The derivative is ``1[x > kappa]``; values in ``(0, kappa]`` are zeroed, so the function
    jumps from 0 to ``kappa`` at the threshold.

    :param x: Input tensor.
    :param kappa: Jump threshold, ``kappa >= 0``; ``kappa=0`` is exactly ReLU.
    """
    return _jump_relu(x, check_param("kappa", kappa))


def draw_kappa(kappa: float, low: float = 0.6, generator: torch.Generator | None = None) -> float:
    """Draw one threshold ``kappa' ~ U(low * kappa, kappa)`` (randomized JumpReLU).

    :param kappa: Upper end of the interval, ``kappa >= 0``.
    :param low: Lower end as a fraction of ``kappa``, in ``[0, 1]``.
    :param generator: Optional CPU ``torch.Generator`` that makes the draw reproducible; without
        one the draw uses fresh operating-system entropy (torch's global RNG is left alone).
    """
    return _draw_kappa(check_param("kappa", kappa), check_param("low", low), generator)


def randomized_jump_relu(
    x: torch.Tensor, kappa: float, low: float = 0.6, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Randomized JumpReLU: JumpReLU with one fresh ``kappa' ~ U(low * kappa, kappa)`` per call.

    :param x: Input tensor.
    :param kappa: Upper end of the threshold interval.
    :param low: Lower end as a fraction of ``kappa`` (the paper uses 0.6).
    :param generator: Optional CPU ``torch.Generator`` for reproducible draws.
    """
    return _jump_relu(x, draw_kappa(kappa, low, generator))


def bounded_relu(x: torch.Tensor, t: float) -> torch.Tensor:
    """Bounded ReLU (Zantedeschi et al. 2017): ``min(max(0, x), t)``.

    :param x: Input tensor.
    :param t: Upper bound, ``t > 0``; ``t=inf`` is exactly ReLU.
    """
    return _bounded_relu(x, check_param("t", t))


def capped_relu(x: torch.Tensor, beta: float) -> torch.Tensor:
    """Capped ReLU (Sooksatra et al. 2023): ``max(0, min(x, beta))``, the same function as
    :func:`bounded_relu` under the capped-ReLU paper's name.

    :param x: Input tensor.
    :param beta: Cap, ``beta > 0``.
    """
    return _bounded_relu(x, check_param("beta", beta))


def sloped_relu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Sloped ReLU (Borji 2020): ``alpha * max(0, x)``.

    :param x: Input tensor.
    :param alpha: Slope, ``alpha > 0``; ``alpha=1`` is exactly ReLU.
    """
    return _sloped_relu(x, check_param("alpha", alpha))
