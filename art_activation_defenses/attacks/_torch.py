"""Shared torch plumbing of the attacks: numpy at the edges, tensors inside.

Every attack of this package talks to its ART estimator through :class:`TorchView`:

* one numpy → torch conversion per batch (:meth:`TorchView.tensor`) and one back
  (:meth:`TorchView.numpy`);
* the estimator's framework preprocessing (``_apply_preprocessing(..., no_grad=False)``)
  followed by ``estimator.model`` in eval mode, with the caller's ``training`` flags put back
  afterwards (:meth:`TorchView.eval_mode`);
* gradients with ``torch.autograd`` of scalars built from the logits.  Activation modules
  of a retrofitted model implement their own gradient modes (``"exact"``, ``"bpda"``) in
  their autograd functions, so those modes are honoured.  When the estimator has an integer
  attribute ``eot_samples > 1`` (expectation over transformation), logits and gradients
  are averaged over that many forward/backward passes.

Gray-box estimators (a non-empty ``grad_params`` attribute, as ``RetrofitClassifier`` has)
differentiate with other activation parameters than they predict with; the view then takes
the decision logits from an extra no-grad forward pass, so stopping rules follow the
predicting model.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from art.estimators.classification.classifier import ClassifierMixin
from art.estimators.estimator import BaseEstimator, LossGradientsMixin
from art.estimators.pytorch import PyTorchEstimator

from art_activation_defenses import _validation
from art_activation_defenses._device import device_of
from art_activation_defenses._validation import check_array, check_in_clip

#: The ART estimator requirements shared by all attacks of this package.
TORCH_CLASSIFIER_REQUIREMENTS: tuple[Any, ...] = (
    BaseEstimator,
    LossGradientsMixin,
    ClassifierMixin,
    PyTorchEstimator,
)


# ---------------------------------------------------------------------------------- norms
class Geometry:
    """Norm-specific pieces of the attacks: a norm, its dual and the steepest step."""

    p: float = math.nan

    def norm(self, v: torch.Tensor) -> torch.Tensor:
        """Norm over the last axis of flattened vectors ``(..., D)``."""
        raise NotImplementedError

    def dual_norm(self, w: torch.Tensor) -> torch.Tensor:
        """Dual norm over the last axis of flattened vectors ``(..., D)``."""
        raise NotImplementedError

    def step(self, w: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        """The step of norm ``length`` (shape ``(B,)``) that increases ``w · step`` most."""
        raise NotImplementedError

    def project(self, delta: torch.Tensor, eps: float) -> torch.Tensor:
        """Project flattened perturbations ``(B, D)`` onto the ball of radius ``eps``."""
        raise NotImplementedError


class L2Geometry(Geometry):
    """Euclidean geometry (self-dual)."""

    p = 2.0

    def norm(self, v: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(v, ord=2, dim=-1)

    def dual_norm(self, w: torch.Tensor) -> torch.Tensor:
        return torch.linalg.vector_norm(w, ord=2, dim=-1)

    def step(self, w: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        scale = length / self.dual_norm(w).clamp_min(1e-30)
        return w * scale.unsqueeze(-1)

    def project(self, delta: torch.Tensor, eps: float) -> torch.Tensor:
        n = self.norm(delta).clamp_min(1e-30)
        return delta * (eps / n).clamp(max=1.0).unsqueeze(-1)


class LinfGeometry(Geometry):
    """Max-norm geometry (dual: L1)."""

    p = math.inf

    def norm(self, v: torch.Tensor) -> torch.Tensor:
        return v.abs().amax(dim=-1)

    def dual_norm(self, w: torch.Tensor) -> torch.Tensor:
        return w.abs().sum(dim=-1)

    def step(self, w: torch.Tensor, length: torch.Tensor) -> torch.Tensor:
        return torch.sign(w) * length.unsqueeze(-1)

    def project(self, delta: torch.Tensor, eps: float) -> torch.Tensor:
        return delta.clamp(-eps, eps)


#: The norms of the attacks (``check_norm(norm, "norm", NORMS)``).
NORMS: tuple[float, ...] = (2.0, math.inf)


def geometry(norm: float) -> Geometry:
    """The :class:`Geometry` of a parsed norm."""
    return LinfGeometry() if math.isinf(norm) else L2Geometry()


# --------------------------------------------------------------------------- data checks
def check_inputs(x: np.ndarray, estimator: Any) -> None:
    """Validate an input batch (:func:`~art_activation_defenses._validation.check_array`: float,
    non-empty, finite, the estimator's sample shape) inside the estimator's ``clip_values``."""
    check_array(x, "x", ndim_min=2, input_shape=getattr(estimator, "input_shape", None))
    check_in_clip(x, "x", getattr(estimator, "clip_values", None), tolerance=1e-6)


def check_labels(y: np.ndarray | None, n: int, nb_classes: int) -> np.ndarray | None:
    """Return ``y`` (indices or one-hot) as int64 class indices, validated; ``None`` stays."""
    if y is None:
        return None
    return _validation.check_labels(y, "y", n, nb_classes)


def batches(n: int, batch_size: int) -> Iterator[slice]:
    """Consecutive slices of at most ``batch_size`` over ``range(n)``."""
    for start in range(0, n, batch_size):
        yield slice(start, min(start + batch_size, n))


def nb_batches(n: int, batch_size: int) -> int:
    """Number of slices :func:`batches` yields."""
    return int(math.ceil(n / batch_size))


# --------------------------------------------------------------------------- logits math
def margin(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``z_y - max_{k != y} z_k`` per sample (positive: still classified as ``y``)."""
    z_y = logits.gather(1, labels.unsqueeze(1)).squeeze(1)
    other = logits.scatter(1, labels.unsqueeze(1), float("-inf"))
    return z_y - other.amax(dim=1)


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-sample cross-entropy of the model outputs, treated as logits."""
    return F.cross_entropy(logits, labels, reduction="none")


def cross_entropy_to(labels: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``logits -> per-sample cross-entropy w.r.t. labels`` (for :meth:`TorchView.value_and_grad`)."""

    def fn(logits: torch.Tensor) -> torch.Tensor:
        return cross_entropy(logits, labels)

    return fn


def logit_gap(target: torch.Tensor, ref: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """``logits -> z_target - z_ref`` per sample."""

    def fn(logits: torch.Tensor) -> torch.Tensor:
        return (logits.gather(1, target.unsqueeze(1)) - logits.gather(1, ref.unsqueeze(1))).squeeze(1)

    return fn


def flat(t: torch.Tensor) -> torch.Tensor:
    """``(B, ...) -> (B, D)`` view."""
    return t.reshape(t.shape[0], -1)


# ----------------------------------------------------------------------------- the view
class TorchView:
    """Differentiable view of an ART PyTorch classifier (see the module docstring)."""

    def __init__(self, estimator: Any) -> None:
        if estimator.preprocessing_operations and not estimator.all_framework_preprocessing:
            raise ValueError(
                "The estimator's preprocessing is not all in PyTorch, so it cannot be differentiated "
                "inside the attack; use PyTorch preprocessing (ART's *PyTorch defences)."
            )
        self.estimator = estimator
        self.model: torch.nn.Module = estimator.model
        device = getattr(estimator, "device", None)
        self.device: torch.device = device if isinstance(device, torch.device) else device_of(self.model)
        eot = getattr(estimator, "eot_samples", 1)
        self.eot_samples = int(eot) if isinstance(eot, (int, np.integer)) and eot > 1 else 1
        clip = estimator.clip_values
        self._clip: tuple[torch.Tensor, torch.Tensor] | None = None
        if clip is not None:
            shape = tuple(estimator.input_shape)
            lo = torch.as_tensor(np.broadcast_to(np.asarray(clip[0], dtype=np.float32), shape).copy())
            hi = torch.as_tensor(np.broadcast_to(np.asarray(clip[1], dtype=np.float32), shape).copy())
            self._clip = (lo.to(self.device), hi.to(self.device))
        # gray-box estimators predict with other parameters than they differentiate with:
        # then the decision logits come from a separate no-grad pass
        self.separate_predict = bool(getattr(estimator, "grad_params", None))
        self._batched_grads_ok = True

    # ---- conversions
    def tensor(self, x: np.ndarray) -> torch.Tensor:
        """A float32 copy of ``x`` on the estimator's device (the caller's array is untouched)."""
        return torch.tensor(x, dtype=torch.float32, device=self.device)

    @staticmethod
    def numpy(t: torch.Tensor) -> np.ndarray:
        """float32 numpy copy of a tensor."""
        return t.detach().to("cpu", torch.float32).numpy().copy()

    def clip(self, x: torch.Tensor) -> torch.Tensor:
        """Clip to the estimator's ``clip_values`` (no-op without them)."""
        if self._clip is None:
            return x
        return torch.maximum(torch.minimum(x, self._clip[1]), self._clip[0])

    def feasible(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Zero the entries of directions ``w`` (``(B, D)`` or ``(B, R, D)``) that would leave the box.

        An input coordinate at its lower clip value cannot decrease and one at its upper clip
        value cannot increase; linearising with those entries removed makes a step reach the
        linearised boundary inside the box instead of being clipped short.
        """
        if self._clip is None:
            return w
        xf = flat(x)
        lo, hi = self._clip[0].reshape(1, -1), self._clip[1].reshape(1, -1)
        if w.dim() == 3:
            xf, lo, hi = xf.unsqueeze(1), lo.unsqueeze(1), hi.unsqueeze(1)
        blocked = ((xf <= lo) & (w < 0)) | ((xf >= hi) & (w > 0))
        return w.masked_fill(blocked, 0.0)

    def room(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(up, down)``: how far each coordinate of ``x`` can increase / decrease in the box, ``(B, D)``.

        ``inf`` everywhere without ``clip_values``.
        """
        xf = flat(x)
        if self._clip is None:
            inf = torch.full_like(xf, math.inf)
            return inf, inf
        lo, hi = self._clip[0].reshape(1, -1), self._clip[1].reshape(1, -1)
        return (hi - xf).clamp_min(0.0), (xf - lo).clamp_min(0.0)

    def box_width(self) -> float:
        """Mean width ``hi - lo`` of the clip box (1.0 without ``clip_values``)."""
        if self._clip is None:
            return 1.0
        width = float((self._clip[1] - self._clip[0]).mean())
        return width if math.isfinite(width) and width > 0 else 1.0

    # ---- mode handling
    @property
    def has_surrogate(self) -> bool:
        """Whether the model has activation modules in exact gradient mode that also offer ``"bpda"``."""
        return any(getattr(m, "grad_mode", None) == "exact" for m in self.model.modules())

    @contextlib.contextmanager
    def surrogate_gradients(self) -> Iterator[None]:
        """Differentiate with the BPDA (straight-through) gradient of the activation defences.

        Every module whose ``grad_mode`` is ``"exact"`` is switched to ``"bpda"`` (forward
        unchanged, backward with the replaced ReLU's derivative) and switched back afterwards.
        The attacks use it only as a search direction where the exact gradient is zero; the
        exact model stays the judge of success.
        """
        switched = [m for m in self.model.modules() if getattr(m, "grad_mode", None) == "exact"]
        for module in switched:
            module.grad_mode = "bpda"  # type: ignore[assignment]
        try:
            yield
        finally:
            for module in switched:
                module.grad_mode = "exact"  # type: ignore[assignment]

    @contextlib.contextmanager
    def eval_mode(self) -> Iterator[None]:
        """Put the model in eval mode; restore every module's ``training`` flag afterwards."""
        flags = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        try:
            yield
        finally:
            for module, flag in flags:
                module.training = flag

    # ---- forward passes
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``x`` (graph kept), after the estimator's framework preprocessing."""
        x_p, _ = self.estimator._apply_preprocessing(x, y=None, fit=False, no_grad=False)
        out = self.model(x_p)
        if isinstance(out, (list, tuple)):
            out = out[-1]
        return out

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Logits without gradient (averaged over ``eot_samples`` passes)."""
        with torch.no_grad():
            total = self.forward(x)
            for _ in range(self.eot_samples - 1):
                total = total + self.forward(x)
        return total / self.eot_samples

    def value_and_grad(
        self, x: torch.Tensor, fn: Callable[[torch.Tensor], torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits, fn(logits), d sum(fn) / dx)``; ``fn`` maps ``(B, C)`` logits to ``(B,)``.

        Samples are independent in eval mode, so the gradient of the sum is the per-sample
        gradient.  Averaged over ``eot_samples`` passes.
        """

        def step(x_g: torch.Tensor) -> tuple[torch.Tensor, ...]:
            logits = self.forward(x_g)
            values = fn(logits)
            (grad,) = torch.autograd.grad(values.sum(), x_g)
            return logits, values, grad

        return self._eot_average(x, step)

    def _eot_average(
        self, x: torch.Tensor, step: Callable[[torch.Tensor], tuple[torch.Tensor, ...]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Average ``step(x_g) -> (logits, values, grads)`` over ``eot_samples`` passes.

        Gray-box estimators take the returned logits from a separate no-grad pass.
        """
        sums: tuple[torch.Tensor, ...] = ()
        for _ in range(self.eot_samples):
            x_g = x.detach().requires_grad_(True)
            with torch.enable_grad():
                out = tuple(t.detach() for t in step(x_g))
            sums = out if not sums else tuple(a + b for a, b in zip(sums, out, strict=True))
        k = self.eot_samples
        logits, values, grads = (t / k for t in sums) if k > 1 else sums
        return (self.logits(x) if self.separate_predict else logits), values, grads

    def jacobian_rows(
        self, x: torch.Tensor, rows: torch.Tensor, ref: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Differences ``z_rows - z_ref`` and their input gradients, for a whole batch.

        :param x: Inputs ``(B, ...)``.
        :param rows: Class indices ``(B, R)``.
        :param ref: Reference class per sample ``(B,)``.
        :return: ``(logits (B, C), diffs (B, R), grads (B, R, D))`` with ``D`` the flat input size.

        One forward pass and one vmapped backward over the ``R`` rows
        (``is_grads_batched``); if an autograd function of the model does not support vmap,
        ``R`` backward passes over the whole batch instead (never a loop over samples).
        """

        def step(x_g: torch.Tensor) -> tuple[torch.Tensor, ...]:
            logits = self.forward(x_g)
            diffs = logits.gather(1, rows) - logits.gather(1, ref.unsqueeze(1))
            return logits, diffs, self._rows_grad(diffs, x_g)

        return self._eot_average(x, step)

    def _rows_grad(self, diffs: torch.Tensor, x_g: torch.Tensor) -> torch.Tensor:
        b, r = diffs.shape
        if r == 1:
            (g,) = torch.autograd.grad(diffs.sum(), x_g)
            return flat(g).unsqueeze(1)
        if self._batched_grads_ok:
            eye = torch.eye(r, device=diffs.device, dtype=diffs.dtype)
            seeds = eye.unsqueeze(1).expand(r, b, r)
            try:
                (g,) = torch.autograd.grad(
                    diffs, x_g, grad_outputs=seeds, is_grads_batched=True, retain_graph=True
                )
                return flat(g.transpose(0, 1).reshape(b * r, -1)).reshape(b, r, -1)
            except (RuntimeError, NotImplementedError):
                self._batched_grads_ok = False
        out = []
        for j in range(r):  # one backward per candidate rank, over the whole batch
            (g,) = torch.autograd.grad(diffs[:, j].sum(), x_g, retain_graph=j < r - 1)
            out.append(flat(g))
        return torch.stack(out, dim=1)
