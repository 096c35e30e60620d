"""Pure tensor functions of the activation defences; all out of place.

Every function returns a new tensor and leaves ``x`` untouched. With the neutral parameter
(``kappa=0``, ``t=inf``, ``alpha=1``) each one equals :func:`torch.relu` bit for bit.
"""

from __future__ import annotations

import math

import torch

__all__ = ["jump_relu", "randomized_jump_relu", "bounded_relu", "capped_relu", "sloped_relu", "draw_kappa"]


def _check_real(name: str, value: float, *, minimum: float, strict: bool, allow_inf: bool = False) -> float:
    if isinstance(value, bool):
        raise ValueError(f"`{name}` must be a real number, got {value!r}.")
    try:
        value = float(value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must be a real number, got {value!r}.") from err
    if math.isnan(value) or (math.isinf(value) and not allow_inf):
        raise ValueError(f"`{name}` must be finite, got {value!r}.")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"`{name}` must be {relation} {minimum:g}, got {value!r}.")
    return value


def jump_relu(x: torch.Tensor, kappa: float) -> torch.Tensor:
    """JumpReLU (Erichson et al. 2019): ``x * 1[x > kappa]``.

    The derivative is ``1[x > kappa]``; values in ``(0, kappa]`` are zeroed, so the function
    jumps from 0 to ``kappa`` at the threshold.

    :param x: Input tensor.
    :param kappa: Jump threshold, ``kappa >= 0``; ``kappa=0`` is exactly ReLU.
    """
    kappa = _check_real("kappa", kappa, minimum=0.0, strict=False)
    if kappa == 0.0:
        return torch.relu(x)  # bit for bit, NaN kept
    # NaN stays NaN, as in torch.relu
    keep = (x > kappa) | torch.isnan(x)
    return torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))


def draw_kappa(kappa: float, low: float = 0.6, generator: torch.Generator | None = None) -> float:
    """Draw one threshold ``kappa' ~ U(low * kappa, kappa)`` (randomized JumpReLU).

    :param kappa: Upper end of the interval, ``kappa >= 0``.
    :param low: Lower end as a fraction of ``kappa``, in ``[0, 1]``.
    :param generator: Optional CPU ``torch.Generator`` that makes the draw reproducible; without
        one the draw uses fresh operating-system entropy (torch's global RNG is left alone).
    """
    kappa = _check_real("kappa", kappa, minimum=0.0, strict=False)
    low = _check_real("low", low, minimum=0.0, strict=False)
    if low > 1.0:
        raise ValueError(f"`low` must lie in [0, 1], got {low!r}.")
    if generator is None:
        generator = torch.Generator()
        generator.seed()
    u = float(torch.rand((), generator=generator).item())
    return kappa * (low + (1.0 - low) * u)


def randomized_jump_relu(
    x: torch.Tensor, kappa: float, low: float = 0.6, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Randomized JumpReLU: JumpReLU with one fresh ``kappa' ~ U(low * kappa, kappa)`` per call.

    :param x: Input tensor.
    :param kappa: Upper end of the threshold interval.
    :param low: Lower end as a fraction of ``kappa`` (the paper uses 0.6).
    :param generator: Optional CPU ``torch.Generator`` for reproducible draws.
    """
    return jump_relu(x, draw_kappa(kappa, low, generator))


def bounded_relu(x: torch.Tensor, t: float) -> torch.Tensor:
    """Bounded ReLU (Zantedeschi et al. 2017): ``min(max(0, x), t)``.

    :param x: Input tensor.
    :param t: Upper bound, ``t > 0``; ``t=inf`` is exactly ReLU.
    """
    t = _check_real("t", t, minimum=0.0, strict=True, allow_inf=True)
    if math.isinf(t):
        return torch.relu(x)
    return torch.clamp(x, min=0.0, max=t)


def capped_relu(x: torch.Tensor, beta: float) -> torch.Tensor:
    """Capped ReLU (Sooksatra et al. 2023): ``max(0, min(x, beta))``, the same function as
    :func:`bounded_relu` under the capped-ReLU paper's name.

    :param x: Input tensor.
    :param beta: Cap, ``beta > 0``.
    """
    beta = _check_real("beta", beta, minimum=0.0, strict=True, allow_inf=True)
    return bounded_relu(x, beta)


def sloped_relu(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Sloped ReLU (Borji 2020): ``alpha * max(0, x)``.

    :param x: Input tensor.
    :param alpha: Slope, ``alpha > 0``; ``alpha=1`` is exactly ReLU.
    """
    alpha = _check_real("alpha", alpha, minimum=0.0, strict=True)
    if alpha == 1.0:
        return torch.relu(x)
    return torch.relu(x) * alpha
