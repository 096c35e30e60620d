"""The attacks of the audit: one small torch PGD with a cross-entropy or logit-margin loss, and
the surrogate model of the sloped-ReLU paper's BPDA experiment."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import art_device_type, place_classifier
from art_activation_defenses._validation import (
    check_array,
    check_choice,
    check_in_clip,
    check_labels,
    check_model_dtype,
    check_scalar,
)
from art_activation_defenses.activations.modules import RandomizedJumpReLU, RetrofitActivation
from art_activation_defenses.attacks import TorchView, cross_entropy, margin
from art_activation_defenses.defences import seeded
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier

__all__ = ["Loss", "PGDTrace", "as_classifier", "gradient_mode", "pgd", "train_surrogate"]

Loss = Literal["ce", "margin"]


def _objective(loss: Loss, labels: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
    """Per-sample quantity the attack *ascends*: cross-entropy, or minus the C&W logit margin
    ``z_y - max_{k != y} z_k`` (which does not saturate with the softmax)."""
    if loss == "ce":
        return lambda logits: cross_entropy(logits, labels)
    return lambda logits: -margin(logits, labels)


def _check_pgd(
    classifier: object,
    x: object,
    y: object,
    loss: object,
    eps: object,
    eps_step: object,
    max_iter: object,
    seed: object,
    batch_size: object,
    random_init: object,
    early_stop: object,
) -> np.ndarray:
    """Validate :func:`pgd`'s arguments (one message style, see ``_validation``); return the labels
    as int64 indices."""
    if not isinstance(classifier, PyTorchClassifier):
        raise ValueError(f"`classifier` must be an ART PyTorchClassifier, got {type(classifier).__name__}.")
    check_model_dtype(classifier.model, "classifier.model")
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape)
    check_in_clip(x, "x", classifier.clip_values, tolerance=1e-6)
    labels = check_labels(y, "y", len(x), classifier.nb_classes)  # type: ignore[arg-type]
    check_choice(loss, "loss", ("ce", "margin"))
    check_scalar(eps, "eps", min_val=0.0, include_boundaries="right")
    check_scalar(eps_step, "eps_step", min_val=0.0, include_boundaries="right")
    check_scalar(max_iter, "max_iter", "int", min_val=1)
    check_scalar(seed, "seed", "int", min_val=0)
    check_scalar(batch_size, "batch_size", "int", min_val=1)
    for name, flag in (("random_init", random_init), ("early_stop", early_stop)):
        if not isinstance(flag, (bool, np.bool_)):
            raise ValueError(f"`{name}` == {flag!r}, must be a bool.")
    return labels


def pgd(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    y: np.ndarray,
    *,
    loss: Loss,
    eps: float,
    eps_step: float,
    max_iter: int,
    random_init: bool,
    seed: int,
    batch_size: int,
    early_stop: bool = True,
    norm: float = math.inf,
    trace: PGDTrace | None = None,
) -> np.ndarray:
    """
    L∞ or L2 PGD (FGSM with ``max_iter=1``, ``eps_step=eps``, no random start) on ``classifier``'s own
    model and gradient modes (BPDA, EOT, gray-box all apply; see ``TorchView``).

    Steps ``x <- clip(Π_eps(x + eps_step * sign(∇ objective)))``; with ``early_stop`` a sample is
    frozen at the first iterate the model misclassifies (the iterate is returned), else the last
    iterate is returned. Examples meant to *transfer* to another model should take every step
    (``early_stop=False``): an iterate that only just crosses the source model's boundary rarely
    crosses the target's.
    A zero gradient gives a zero step: saturated cross-entropy leaves the sample where it is; on a
    deterministic model (no EOT, no randomized activation) such a stalled sample would stay there
    for every later step, so it is dropped from the batch (same result, less work), as are the
    misclassified ones.

    :param classifier: ART PyTorch classifier with PyTorch preprocessing only.
    :param x: Inputs (not modified). :param y: Label indices ``(n,)``.
    :param loss: ``"ce"`` or ``"margin"``.
    :param eps: L∞ budget. :param eps_step: Step size. :param max_iter: Steps.
    :param random_init: Uniform random start in the eps-ball. :param seed: Seed of the start.
    :param batch_size: Samples per batch.
    :param early_stop: Freeze a sample at its first misclassified iterate (default True).
    :param norm: ``math.inf`` (default: sign steps, box projection) or ``2`` (steps along the
        normalised gradient, projection onto the L2 ball; random start: a random direction scaled by
        ``eps * U(0, 1)``).
    :param trace: Optional :class:`PGDTrace` filled with the per-step objective, the samples ever
        misclassified at an iterate and the samples with a zero gradient at the start.
    :return: float32 adversarial examples, shape of ``x``.
    """
    y = _check_pgd(classifier, x, y, loss, eps, eps_step, max_iter, seed, batch_size, random_init, early_stop)
    if norm not in (2, math.inf):
        raise ValueError(f"`norm` must be 2 or math.inf, got {norm!r}.")
    if trace is not None:
        trace.reset(len(x), max_iter)
    view = TorchView(classifier)
    gen = torch.Generator().manual_seed(seed)
    # a deterministic model maps a stalled iterate (zero step) to the same zero step forever
    deterministic = view.eot_samples == 1 and not any(
        isinstance(m, RandomizedJumpReLU) for m in classifier.model.modules()
    )
    out = np.empty(x.shape, dtype=np.float32)
    with view.eval_mode():
        for start in range(0, len(x), batch_size):
            sl = slice(start, start + batch_size)
            x0 = view.tensor(x[sl])
            labels = torch.as_tensor(y[sl], device=view.device)
            x_adv = x0.clone()
            ones = [1] * (x0.dim() - 1)
            if random_init:
                noise = torch.rand(x0.shape, generator=gen) * 2.0 - 1.0
                if norm == 2:
                    noise = torch.randn(x0.shape, generator=gen)
                    noise = noise * (torch.rand(len(x0), generator=gen) / _l2(noise)).reshape(-1, *ones)
                x_adv = view.clip(x0 + (noise * eps).to(view.device))
            active = torch.arange(len(x0), device=view.device)  # neither misclassified nor stalled
            for it in range(max_iter):
                xa, x0a, ya = x_adv[active], x0[active], labels[active]
                logits, values, grad = view.value_and_grad(xa, _objective(loss, ya))
                fooled = logits.argmax(1) != ya  # frozen at this iterate
                if trace is not None:
                    trace.record(start + active.cpu().numpy(), it, values, fooled, grad)
                if not early_stop:
                    fooled = torch.zeros_like(fooled)
                if norm == 2:
                    step = grad / _l2(grad).clamp_min(1e-12).reshape(-1, *ones)
                    delta = xa + eps_step * step - x0a
                    delta = delta * (eps / _l2(delta).clamp_min(eps)).reshape(-1, *ones)
                    stepped = view.clip(x0a + delta)
                else:
                    stepped = view.clip(x0a + (xa + eps_step * grad.sign() - x0a).clamp(-eps, eps))
                stalled = (
                    (stepped == xa).reshape(len(xa), -1).all(1) if deterministic else torch.zeros_like(fooled)
                )
                x_adv[active] = torch.where(fooled.reshape(-1, *([1] * (x0.dim() - 1))), xa, stepped)
                active = active[~(fooled | stalled)]
                if len(active) == 0:
                    break
            out[sl] = view.numpy(x_adv)
    return out


def _l2(t: torch.Tensor) -> torch.Tensor:
    return t.reshape(len(t), -1).norm(dim=1)


@dataclass
class PGDTrace:
    """What one :func:`pgd` run saw, per sample: ``objective`` ``(max_iter, n)`` (the ascended
    objective at each iterate, NaN once the sample left the batch), ``ever_fooled`` (misclassified
    at some iterate), ``zero_grad_start`` (the first gradient was exactly zero)."""

    objective: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    ever_fooled: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    zero_grad_start: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def reset(self, n: int, steps: int) -> None:
        self.objective = np.full((steps, n), np.nan)
        self.ever_fooled = np.zeros(n, dtype=bool)
        self.zero_grad_start = np.zeros(n, dtype=bool)

    def record(
        self, ids: np.ndarray, it: int, values: torch.Tensor, fooled: torch.Tensor, grad: torch.Tensor
    ) -> None:
        self.objective[it, ids] = values.detach().cpu().double().numpy()
        self.ever_fooled[ids] |= fooled.cpu().numpy()
        if it == 0:
            self.zero_grad_start[ids] = (grad.reshape(len(grad), -1) == 0).all(1).cpu().numpy()


def as_classifier(model: nn.Module | PyTorchClassifier, like: PyTorchClassifier) -> PyTorchClassifier:
    """``model`` itself if it is an ART PyTorch classifier, else an ART wrapper of it with the
    loss, shapes, clip values and device of ``like``."""
    if isinstance(model, PyTorchClassifier):
        return model
    if not isinstance(model, nn.Module):
        raise ValueError(f"expected an nn.Module or an ART PyTorchClassifier, got {type(model).__name__}.")
    clf = PyTorchClassifier(
        model,
        like.loss if like.loss is not None else nn.CrossEntropyLoss(),
        tuple(like.input_shape),
        like.nb_classes,
        clip_values=like.clip_values,
        device_type=art_device_type(like.device),
    )
    return place_classifier(clf, like.device)  # cuda:N as well, not only ART's current device


def activation_modules(classifier: PyTorchClassifier) -> list[RetrofitActivation]:
    """The activation-defence modules inside ``classifier.model``."""
    return [m for m in classifier.model.modules() if isinstance(m, RetrofitActivation)]


@contextmanager
def gradient_mode(classifier: PyTorchClassifier, mode: str, eot_samples: int = 10) -> Iterator[None]:
    """Temporarily differentiate ``classifier`` with ``mode`` (``"exact"``, ``"bpda"``, ``"eot"``),
    white-box (no gray-box ``grad_params``); everything is put back afterwards, even on error.
    Works on a ``RetrofitClassifier`` and on any classifier whose model contains our activation
    modules (``"eot"`` needs a ``RetrofitClassifier``)."""
    if isinstance(classifier, RetrofitClassifier):
        saved = classifier.gradient_settings
        try:
            classifier.set_params(gradient=mode, eot_samples=eot_samples, grad_params={})
            yield
        finally:
            classifier.set_params(**saved)
        return
    modules = activation_modules(classifier)
    if mode == "eot" or (mode == "bpda" and not modules):
        raise ValueError(f"gradient mode {mode!r} is not available for {type(classifier).__name__}.")
    states = [(m, m.grad_mode, m.grad_params) for m in modules]
    try:
        for m in modules:
            m.grad_mode, m.grad_params = ("bpda" if mode == "bpda" else "exact"), {}
        yield
    finally:
        for m, grad_mode, grad_params in states:
            m.grad_mode, m.grad_params = grad_mode, grad_params


def _reset_parameters(model: nn.Module) -> None:
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset):
            reset()


def train_surrogate(
    defended: PyTorchClassifier,
    architecture: nn.Module,
    x: np.ndarray,
    *,
    epochs: int,
    copies: int = 4,
    sigma: float = 0.1,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> tuple[PyTorchClassifier, float]:
    """
    A surrogate trained to match the defended model's logits (the sloped-ReLU paper's BPDA
    experiment): a fresh, seeded initialisation of ``architecture`` (deep-copied; the caller's is
    untouched) regresses, with mean squared error, the defended logits divided by their overall
    standard deviation (scale-free: a sloped ReLU multiplies the logits by alpha^depth) on ``x``
    plus ``copies`` Gaussian copies (``sigma``, clipped), queried from ``defended.predict``.

    :return: ``(the surrogate as an ART classifier, its agreement with the defended labels on the
        clean queries x)``.
    """
    rng = np.random.default_rng(seed)
    clip = defended.clip_values
    queries = [x] + [x + rng.normal(0.0, sigma, size=x.shape).astype(np.float32) for _ in range(copies)]
    q = np.concatenate(queries).astype(np.float32)
    if clip is not None:
        q = np.clip(q, clip[0], clip[1]).astype(np.float32)
    targets = np.asarray(defended.predict(q, batch_size=batch_size), dtype=np.float64)
    scale = float(targets.std()) or 1.0
    model = copy.deepcopy(architecture)
    device = defended.device
    with seeded(seed):
        _reset_parameters(model)
        model.to(device)
        q_t = torch.from_numpy(q)
        t_t = torch.from_numpy((targets / scale).astype(np.float32))
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(q_t), generator=gen)
            for start in range(0, len(order), batch_size):
                idx = order[start : start + batch_size]
                if len(idx) < 2:
                    continue
                pred = model(q_t[idx].to(device))
                loss = F.mse_loss(pred, t_t[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    model.eval()
    surrogate = as_classifier(model, defended)
    agree = float(
        (surrogate.predict(x, batch_size=batch_size).argmax(1) == targets[: len(x)].argmax(1)).mean()
    )
    return surrogate, agree if math.isfinite(agree) else math.nan
