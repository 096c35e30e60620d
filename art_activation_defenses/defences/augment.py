"""Adversarial training inside our own training loop: a ``training.fit(augment=...)`` callable that
replaces a share of every batch by FGSM or PGD examples crafted on the model being trained.

A light, torch-only alternative to :class:`MixedBatchAdversarialTrainer` (ART's
``AdversarialTrainer``) for models trained with :func:`art_activation_defenses.training.fit`: no
ART classifier, no global numpy RNG, one progress bar. The capped-ReLU reproduction (Table 1: no /
FGSM / PGD training) and the JumpReLU one (its "FGSM-robust" network) train with it. The examples
are crafted in eval mode (no dropout) with gradients of the input only, so the parameter gradients
of the training step are untouched.

>>> augment = adversarial_augment(model, method="pgd", eps=0.1, steps=7, ratio=0.5)
>>> fit(model, x, y, epochs=3, augment=augment)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from art_activation_defenses._device import Device, resolve_device
from art_activation_defenses._validation import check_choice, check_scalar

__all__ = ["adversarial_augment"]


def adversarial_augment(
    model: nn.Module,
    *,
    method: Literal["fgsm", "pgd"],
    eps: float,
    steps: int = 1,
    ratio: float = 0.5,
    seed: int = 0,
    device: Device = None,
) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """A ``fit(augment=...)`` callable: the first ``ratio`` share of each batch becomes adversarial.

    FGSM: ``x + eps * sign(∇ CE)``. PGD: uniform random start in the L∞ ball, ``steps`` steps of
    size ``2.5 * eps / steps``, projection and clipping to [0, 1] after each step.

    :param model: The model being trained (the same object ``fit`` trains).
    :param method: ``"fgsm"`` or ``"pgd"``.
    :param eps: L∞ budget, > 0.
    :param steps: PGD steps (ignored for FGSM), >= 1.
    :param ratio: Share of each batch replaced, in (0, 1].
    :param seed: Seed of the PGD random starts (drawn on the CPU, then moved: the same starts on every
        device).
    :param device: Where the examples are crafted. Default ``None``: where each batch already is
        (``fit`` puts batches on the model's device); an explicit device moves the model there now
        and each batch there while it is attacked (the batch comes back on its own device).
    """
    check_choice(method, "method", ("fgsm", "pgd"))
    eps = check_scalar(eps, "eps", min_val=0, include_boundaries="right")
    steps = check_scalar(steps, "steps", "int", min_val=1)
    ratio = check_scalar(ratio, "ratio", min_val=0, max_val=1, include_boundaries="right")
    seed = check_scalar(seed, "seed", "int", min_val=0)
    dev = None if device is None else resolve_device(device)
    if dev is not None:
        model.to(dev)
    gen = torch.Generator().manual_seed(seed)

    def grad_sign(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        x = x.detach().requires_grad_(True)
        loss = F.cross_entropy(model(x), y)
        (grad,) = torch.autograd.grad(loss, x)
        return grad.sign()

    def augment(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        k = max(1, int(round(ratio * len(xb))))
        home = xb.device
        if dev is not None:
            xb, yb = xb.to(dev), yb.to(dev)
        was_training = model.training
        model.eval()
        try:
            x0, y0 = xb[:k].detach(), yb[:k]
            if method == "fgsm":
                x_adv = (x0 + eps * grad_sign(x0, y0)).clamp(0.0, 1.0)
            else:
                noise = (torch.rand(x0.shape, generator=gen) * 2.0 - 1.0).to(x0.device) * eps
                x_adv = (x0 + noise).clamp(0.0, 1.0)
                step = 2.5 * eps / steps
                for _ in range(steps):
                    x_adv = x_adv + step * grad_sign(x_adv, y0)
                    x_adv = (x0 + (x_adv - x0).clamp(-eps, eps)).clamp(0.0, 1.0)
        finally:
            model.train(was_training)
        return torch.cat([x_adv.detach(), xb[k:]]).to(home), yb.to(home)

    return augment
