"""``nn.Module`` wrappers of the activation functions, with the gradient modes that the
adaptive evaluation needs.

Every module has

* settable parameters (``set_params(kappa=...)`` or plain attribute assignment, both
  validated) so a built model is re-tuned without rebuilding it;
* ``grad_mode``: ``"exact"`` (autograd of the function itself) or ``"bpda"`` (the forward
  pass is the defence, the backward pass is the derivative of the activation it replaced:
  the straight-through / BPDA attack of Athalye et al. 2018);
* ``grad_params``: gray-box parameters used by every forward pass that autograd records
  (``torch.is_grad_enabled()`` and an input that requires grad), while ``no_grad``
  forward passes (predictions) keep the regular parameters. This is how the JumpReLU
  paper's gray-box setting (gradient with one kappa, prediction with another) reaches
  *every* attack, ours and ART's, without wrapping each one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from art_activation_defenses import _validation
from art_activation_defenses.activations import functional as F

__all__ = [
    "RetrofitActivation",
    "JumpReLU",
    "RandomizedJumpReLU",
    "BoundedReLU",
    "CappedReLU",
    "SlopedReLU",
    "GradMode",
]

GradMode = Literal["exact", "bpda"]
_GRAD_MODES = ("exact", "bpda")
_ORIGINALS = ("relu", "relu6")


class _StraightThrough(torch.autograd.Function):
    """Forward: ``fn(x)``; backward: the derivative of the replaced ReLU (or ReLU6)."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor], upper: float
    ) -> torch.Tensor:
        mask = (x > 0) & (x < upper) if math.isfinite(upper) else x > 0
        ctx.save_for_backward(mask)
        with torch.no_grad():
            return fn(x)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (mask,) = ctx.saved_tensors
        return grad_output * mask.to(grad_output.dtype), None, None


class RetrofitActivation(nn.Module):
    """Base class of the activation defences; subclasses define ``param_names`` and
    ``_activate(x, **params)``."""

    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, *, grad_mode: GradMode = "exact", original: Literal["relu", "relu6"] = "relu") -> None:
        super().__init__()
        self._params: dict[str, float] = {}
        self._grad_params: dict[str, float] = {}
        self.grad_mode = grad_mode
        self.original = _validation.check_choice(original, "original", _ORIGINALS)

    # -- parameters --------------------------------------------------------------------
    def _validate(self, name: str, value: float) -> float:
        """Check one parameter (:func:`~art_activation_defenses.activations.functional.check_param`);
        the only place a parameter is checked: forward passes use the checked values as they are."""
        return F.check_param(name, value)

    def set_params(self, **params: float) -> None:
        """Set activation parameters (validated) without rebuilding the model."""
        checked = {}
        for name, value in params.items():
            if name not in self.param_names:
                raise ValueError(
                    f"Unknown parameter `{name}` for {type(self).__name__}; "
                    f"expected one of {self.param_names}."
                )
            checked[name] = self._validate(name, value)
        self._params.update(checked)

    def get_params(self) -> dict[str, float]:
        """The current activation parameters."""
        return dict(self._params)

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            return params[name]
        return super().__getattr__(name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name in type(self).param_names:
            self.set_params(**{name: value})
        else:
            super().__setattr__(name, value)

    @property
    def grad_mode(self) -> GradMode:
        """``"exact"`` or ``"bpda"`` (ReLU derivative in the backward pass)."""
        return self._grad_mode

    @grad_mode.setter
    def grad_mode(self, value: GradMode) -> None:
        self._grad_mode: GradMode = _validation.check_choice(value, "grad_mode", _GRAD_MODES)

    @property
    def grad_params(self) -> dict[str, float]:
        """Gray-box parameters used for recorded (differentiated) forward passes."""
        return dict(self._grad_params)

    @grad_params.setter
    def grad_params(self, value: Mapping[str, float] | None) -> None:
        value = dict(value or {})
        for name in value:
            if name not in self.param_names:
                raise ValueError(
                    f"Unknown gray-box parameter `{name}` for {type(self).__name__}; "
                    f"expected one of {self.param_names}."
                )
        self._grad_params = {name: self._validate(name, v) for name, v in value.items()}

    # -- forward -----------------------------------------------------------------------
    def _activate(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        recorded = torch.is_grad_enabled() and x.requires_grad
        params = {**self._params, **self._grad_params} if recorded else self._params
        if recorded and self._grad_mode == "bpda":
            upper = 6.0 if self.original == "relu6" else math.inf
            return _StraightThrough.apply(x, lambda t: self._activate(t, **params), upper)
        return self._activate(x, **params)

    def extra_repr(self) -> str:
        parts = [f"{k}={v:g}" for k, v in self._params.items()]
        if self._grad_mode != "exact":
            parts.append(f"grad_mode={self._grad_mode!r}")
        if self._grad_params:
            parts.append(
                "grad_params={" + ", ".join(f"{k}={v:g}" for k, v in self._grad_params.items()) + "}"
            )
        return ", ".join(parts)


class JumpReLU(RetrofitActivation):
    """JumpReLU ``x * 1[x > kappa]`` (Erichson, Yao, Mahoney 2019).

    | Paper link: https://arxiv.org/abs/1904.03750

    :param kappa: Jump threshold, ``kappa >= 0`` (default 0.0, i.e. ReLU).
    :param grad_mode: ``"exact"`` or ``"bpda"``.
    """

    param_names: ClassVar[tuple[str, ...]] = ("kappa",)

    def __init__(
        self,
        kappa: float = 0.0,
        *,
        grad_mode: GradMode = "exact",
        original: Literal["relu", "relu6"] = "relu",
    ) -> None:
        super().__init__(grad_mode=grad_mode, original=original)
        self.set_params(kappa=kappa)

    def _activate(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        return F._jump_relu(x, params["kappa"])


class RandomizedJumpReLU(JumpReLU):
    """Randomized JumpReLU: each forward pass draws ``kappa' ~ U(low * kappa, kappa)``.

    | Paper link: https://arxiv.org/abs/1904.03750

    :param kappa: Upper end of the threshold interval.
    :param low: Lower end as a fraction of ``kappa`` (default 0.6, the paper's choice).
    :param generator: Optional CPU ``torch.Generator`` for reproducible draws. Default: a
        private generator seeded from the operating system's entropy, so the draws never
        advance (or depend on) torch's global RNG.
    """

    param_names: ClassVar[tuple[str, ...]] = ("kappa", "low")

    def __init__(
        self,
        kappa: float = 0.0,
        low: float = 0.6,
        *,
        generator: torch.Generator | None = None,
        grad_mode: GradMode = "exact",
        original: Literal["relu", "relu6"] = "relu",
    ) -> None:
        RetrofitActivation.__init__(self, grad_mode=grad_mode, original=original)
        self.set_params(kappa=kappa, low=low)
        if generator is not None and not isinstance(generator, torch.Generator):
            raise ValueError(
                f"`generator` must be a torch.Generator or None, got {type(generator).__name__}."
            )
        if generator is None:
            generator = torch.Generator()
            generator.seed()  # private entropy; torch's global RNG is neither read nor advanced
        self.generator = generator
        self.last_kappa: float | None = None

    def _activate(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        kappa = F._draw_kappa(params["kappa"], params["low"], self.generator)
        self.last_kappa = kappa
        return F._jump_relu(x, kappa)


class BoundedReLU(RetrofitActivation):
    """Bounded ReLU ``min(max(0, x), t)`` (Zantedeschi et al. 2017).

    | Paper link: https://arxiv.org/abs/1707.06728

    :param t: Upper bound, ``t > 0`` (``inf`` is ReLU; the paper trains with ``t=1``).
    """

    param_names: ClassVar[tuple[str, ...]] = ("t",)

    def __init__(
        self, t: float = 1.0, *, grad_mode: GradMode = "exact", original: Literal["relu", "relu6"] = "relu"
    ) -> None:
        super().__init__(grad_mode=grad_mode, original=original)
        self.set_params(**{self.param_names[0]: t})

    def _activate(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        return F._bounded_relu(x, params[self.param_names[0]])


class CappedReLU(BoundedReLU):
    """Capped ReLU ``max(0, min(x, beta))`` (Sooksatra et al. 2023): bounded ReLU by the
    capped-ReLU paper's name, applied to chosen layers.

    Paper: Sooksatra et al. (2023), capped ReLU on chosen hidden layers.

    :param beta: Cap, ``beta > 0``.
    """

    param_names: ClassVar[tuple[str, ...]] = ("beta",)

    def __init__(
        self, beta: float = 1.0, *, grad_mode: GradMode = "exact", original: Literal["relu", "relu6"] = "relu"
    ) -> None:
        super().__init__(beta, grad_mode=grad_mode, original=original)


class SlopedReLU(RetrofitActivation):
    """Sloped ReLU ``alpha * max(0, x)`` (Borji 2020), swapped in at test time.

    Paper: Borji (2020), sloped ReLU at test time.

    :param alpha: Slope, ``alpha > 0``; ``alpha=1`` is ReLU.
    """

    param_names: ClassVar[tuple[str, ...]] = ("alpha",)

    def __init__(
        self,
        alpha: float = 1.0,
        *,
        grad_mode: GradMode = "exact",
        original: Literal["relu", "relu6"] = "relu",
    ) -> None:
        super().__init__(grad_mode=grad_mode, original=original)
        self.set_params(alpha=alpha)

    def _activate(self, x: torch.Tensor, **params: float) -> torch.Tensor:
        return F._sloped_relu(x, params["alpha"])
