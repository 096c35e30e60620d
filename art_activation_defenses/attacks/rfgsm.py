"""R+FGSM (random step, then FGSM) and StepLL (single-step and iterative least-likely class)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from art_activation_defenses._validation import check_scalar
from art_activation_defenses.attacks._base import TorchAttack
from art_activation_defenses.attacks._torch import cross_entropy_to


class RFGSM(TorchAttack):
    """
    R+FGSM (Tramèr et al., 2018), L∞: a random sign step, then an FGSM step from there.

    ``x' = clip(x + α · sign(N(0, I)))`` and ``x_adv = clip(x' + (ε − α) · sign(∇_x L(x', y)))``
    with ``L`` the cross-entropy of the model outputs (descended towards ``y`` when targeted).
    ``||x_adv − x||_∞ ≤ ε``. The noise is drawn from a ``torch.Generator`` seeded with ``seed``.

    | Paper link: https://arxiv.org/abs/1705.07204
    """

    attack_params = TorchAttack.attack_params + [
        "eps",
        "alpha",
        "seed",
        "batch_size",
        "targeted",
        "verbose",
    ]
    _desc = "R+FGSM"

    def __init__(
        self,
        classifier: Any,
        *,
        eps: float = 0.3,
        alpha: float | None = None,
        seed: int | None = 0,
        batch_size: int = 128,
        targeted: bool = False,
        verbose: bool = True,
    ) -> None:
        """
        :param classifier: A trained ART PyTorch classifier (``PyTorchClassifier`` or subclass).
        :param eps: L∞ budget ε. Default 0.3.
        :param alpha: Size α of the random step, ``0 ≤ α < ε``; ``None`` means ε / 2 (Tramèr et al.).
        :param seed: Seed of the noise generator; ``None`` draws a fresh seed. Default 0.
        :param batch_size: Samples per batch. Default 128.
        :param targeted: If ``True``, ``y`` holds target labels.
        :param verbose: Show a progress bar over batches. Default True.
        """
        super().__init__(estimator=classifier)
        self.eps = eps
        self.alpha = alpha
        self.seed = seed
        self.batch_size = batch_size
        self._targeted = targeted
        self.verbose = verbose
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        check_scalar(self.eps, "eps", min_val=0, include_boundaries="right")
        if self.alpha is not None:
            check_scalar(self.alpha, "alpha", min_val=0)
            if self.alpha >= self.eps:
                raise ValueError(f"`alpha` == {self.alpha!r}, must be < eps == {self.eps!r}.")
        if self.seed is not None:
            check_scalar(self.seed, "seed", "int", min_val=0)
        self._check_batching()

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """
        Generate adversarial examples.

        :param x: Clean inputs (not modified).
        :param y: True labels (untargeted; ``None``: the model's predictions) or target labels.
        :return: Adversarial examples, float32, shape of ``x``.
        """
        view, labels = self._prepare(x, y, kwargs)
        gen = torch.Generator(device=view.device)
        if self.seed is not None:
            gen.manual_seed(self.seed)
        else:  # fresh private entropy: torch's global RNG is neither reseeded nor advanced
            gen.seed()
        alpha = self.eps / 2 if self.alpha is None else float(self.alpha)
        sign = -1.0 if self.targeted else 1.0
        out = np.empty(x.shape, dtype=np.float32)
        for sl in self._batches(view, len(x)):
            x0 = view.tensor(x[sl])
            noise = torch.randn(x0.shape, generator=gen, device=view.device)
            x1 = view.clip(x0 + alpha * torch.sign(noise))
            lab = self._labels(view, x0, labels, sl)
            _, _, grad = view.value_and_grad(x1, cross_entropy_to(lab))
            x_adv = view.clip(x1 + sign * (self.eps - alpha) * torch.sign(grad))
            x_adv = view.clip(x0 + (x_adv - x0).clamp(-self.eps, self.eps))
            out[sl] = view.numpy(x_adv)
        return out


class StepLL(TorchAttack):
    """
    StepLL and iterative least-likely class (Kurakin et al.), L∞.

    The target is the least-likely class of the clean input; each of the ``max_iter`` steps is
    ``x ← clip(Π_ε(x − eps_step · sign(∇_x L(x, y_LL))))`` with ``L`` the cross-entropy of the
    model outputs and ``Π_ε`` the projection onto the L∞ ball of radius ε around the clean
    input. ``max_iter=1`` with ``eps_step=eps`` is the single-step StepLL. ``y`` is not used.

    | Paper link: https://arxiv.org/abs/1611.01236
    """

    attack_params = TorchAttack.attack_params + ["eps", "eps_step", "max_iter", "batch_size", "verbose"]
    _desc = "StepLL"

    def __init__(
        self,
        classifier: Any,
        eps: float = 0.3,
        eps_step: float | None = None,
        max_iter: int = 1,
        *,
        batch_size: int = 128,
        verbose: bool = True,
    ) -> None:
        """
        :param classifier: A trained ART PyTorch classifier (``PyTorchClassifier`` or subclass).
        :param eps: L∞ budget ε. Default 0.3.
        :param eps_step: Step size; ``None`` means ε for one step and
                         ``min(ε, 1.25 ε / max_iter)`` for the iterative variant (Kurakin's rule).
        :param max_iter: Number of steps; 1 is StepLL. Default 1.
        :param batch_size: Samples per batch. Default 128.
        :param verbose: Show a progress bar over batches. Default True.
        """
        super().__init__(estimator=classifier)
        self.eps = eps
        self.eps_step = eps_step
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.verbose = verbose
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        check_scalar(self.eps, "eps", min_val=0, include_boundaries="right")
        if self.eps_step is not None:
            check_scalar(self.eps_step, "eps_step", min_val=0, include_boundaries="right")
        check_scalar(self.max_iter, "max_iter", "int", min_val=1)
        self._check_batching()

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """
        Generate adversarial examples towards the least-likely class.

        :param x: Clean inputs (not modified).
        :param y: Ignored (the target is the least-likely class); accepted for ART compatibility.
        :return: Adversarial examples, float32, shape of ``x``.
        """
        view, _ = self._prepare(x, y, kwargs, use_labels=False)
        if self.eps_step is not None:
            step = float(self.eps_step)
        else:
            step = self.eps if self.max_iter == 1 else min(self.eps, 1.25 * self.eps / self.max_iter)
        out = np.empty(x.shape, dtype=np.float32)
        for sl in self._batches(view, len(x)):
            x0 = view.tensor(x[sl])
            x_adv = x0.clone()
            target = view.logits(x0).argmin(1)
            for _ in range(self.max_iter):
                _, _, grad = view.value_and_grad(x_adv, cross_entropy_to(target))
                x_adv = view.clip(x0 + (x_adv - step * torch.sign(grad) - x0).clamp(-self.eps, self.eps))
            out[sl] = view.numpy(x_adv)
        return out
