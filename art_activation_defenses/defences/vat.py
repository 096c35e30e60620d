"""Virtual adversarial training (Miyato et al.), written in torch: ART only ships the VAT attack."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from art.defences.trainer import Trainer
from art.estimators.classification import PyTorchClassifier
from tqdm.auto import tqdm

from art_activation_defenses._validation import check_scalar
from art_activation_defenses.defences._common import (
    check_classifier,
    check_data,
    ensure_optimizer,
    fit_sizes,
    seeded,
)
from art_activation_defenses.defences.gaussian import batch_bounds

__all__ = ["VirtualAdversarialTrainer", "lds_direction"]


def _unit(d: torch.Tensor) -> torch.Tensor:
    """Per-sample L2-normalised copy of ``d`` (zero rows stay zero). Rows are first scaled by their
    largest entry, so tiny (1e-30) gradients are normalised exactly too."""
    flat = d.reshape(d.shape[0], -1)
    peak = flat.abs().amax(dim=1, keepdim=True)
    flat = flat / torch.where(peak > 0, peak, torch.ones_like(peak))
    norms = flat.norm(dim=1, keepdim=True)
    return (flat / torch.where(norms > 0, norms, torch.ones_like(norms))).reshape(d.shape)


def _kl(p_logits: torch.Tensor, q_logits: torch.Tensor) -> torch.Tensor:
    """Per-sample KL(softmax(p) || softmax(q)) from logits."""
    log_p = F.log_softmax(p_logits, dim=1)
    return (log_p.exp() * (log_p - F.log_softmax(q_logits, dim=1))).sum(1)


def lds_direction(
    forward: Any,
    x: torch.Tensor,
    p_logits: torch.Tensor,
    *,
    xi: float,
    iterations: int,
    generator: torch.Generator,
) -> torch.Tensor:
    """Unit direction (per sample, L2) of the virtual adversarial perturbation by power iteration.

    Starts from a random Gaussian direction ``d`` and repeats ``d <- unit(grad_d KL(p(x) || p(x + xi d)))``;
    a sample whose gradient is exactly zero (float32 underflow at a confident point) keeps its
    previous direction.

    :param forward: ``x -> logits`` (differentiable).
    :param x: Inputs (treated as constants).
    :param p_logits: Logits at ``x`` (detached).
    :param xi: Finite-difference radius of the power iteration.
    :param iterations: Power iterations (>= 1).
    :param generator: Source of the random start (CPU generator; drawn on CPU, moved to ``x``'s device).
    """
    d = torch.randn(x.shape, generator=generator, dtype=x.dtype).to(x.device)
    d = _unit(d)
    for _ in range(iterations):
        d = d.detach().requires_grad_(True)
        with torch.enable_grad():
            dist = _kl(p_logits, forward(x + xi * d)).sum()
            (grad,) = torch.autograd.grad(dist, d)
        # a confident sample can give an exactly zero float32 gradient at radius xi: keep its
        # previous direction rather than a zero one (which would drop it from the LDS term)
        alive = grad.reshape(grad.shape[0], -1).abs().amax(dim=1) > 0
        d = torch.where(alive.reshape(-1, *([1] * (d.dim() - 1))), _unit(grad.detach()), d.detach())
    return d.detach()


class VirtualAdversarialTrainer(Trainer):
    """
    Virtual adversarial training: cross-entropy plus ``alpha`` times the local distributional
    smoothness loss ``LDS(x) = KL(p(x) || p(x + r_adv))`` with ``||r_adv||_2 = eps``.

    ``r_adv = eps * d`` where ``d`` comes from ``iterations`` steps of power iteration on the
    KL divergence, started from a seeded Gaussian direction (:func:`lds_direction`). The power
    iteration runs in eval mode (dropout would drown a finite difference of radius ``xi``); the
    losses are computed in train mode, with ``p(x)`` taken from the same forward pass as the
    cross-entropy and held constant. Inputs pass through the classifier's PyTorch preprocessing,
    so the perturbation lives in input space. The classifier is trained in place.
    The BReLU paper compares with VAT at ``eps = 2.1`` (MNIST, L2 on [0, 1] pixels).

    | Paper link: https://arxiv.org/abs/1507.00677
    """

    def __init__(
        self,
        classifier: PyTorchClassifier,
        *,
        eps: float = 2.1,
        xi: float = 1e-6,
        iterations: int = 1,
        alpha: float = 1.0,
        nb_epochs: int = 5,
        batch_size: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
        verbose: bool = True,
    ) -> None:
        """
        :param classifier: ART ``PyTorchClassifier`` (or ``RetrofitClassifier``) with PyTorch
            preprocessing only.
        :param eps: L2 norm of the virtual adversarial perturbation, > 0 (default 2.1).
        :param xi: Finite-difference radius of the power iteration, > 0 (default 1e-6).
        :param iterations: Power iterations, >= 1 (default 1).
        :param alpha: Weight of the LDS term, >= 0 (default 1.0; 0 is plain training).
        :param nb_epochs: Default number of epochs of :meth:`fit` (default 5).
        :param batch_size: Default batch size of :meth:`fit` (default 128).
        :param lr: Learning rate of the Adam optimizer attached when the classifier has none (default 1e-3).
        :param seed: Seed of the batch order, the power-iteration starts and dropout (default 0).
        :param verbose: Show a progress bar (default True).
        """
        super().__init__(check_classifier(classifier, framework_preprocessing=True))
        self.eps = check_scalar(eps, "eps", min_val=0, include_boundaries="right")
        self.xi = check_scalar(xi, "xi", min_val=0, include_boundaries="right")
        self.iterations = check_scalar(iterations, "iterations", "int", min_val=1)
        self.alpha = check_scalar(alpha, "alpha", min_val=0)
        self.nb_epochs = check_scalar(nb_epochs, "nb_epochs", "int", min_val=1)
        self.batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
        self.lr = check_scalar(lr, "lr", min_val=0, include_boundaries="right")
        self.seed = check_scalar(seed, "seed", "int", min_val=0)
        self.verbose = bool(verbose)
        self.history_: dict[str, list[float]] = {"loss": [], "lds": []}

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        clf = self._classifier
        x_p, _ = clf._apply_preprocessing(x, y=None, fit=True, no_grad=False)
        out = clf.model(x_p)
        return out[-1] if isinstance(out, (list, tuple)) else out

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        nb_epochs: int | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        """
        Train the classifier with the VAT objective. ``history_`` records the mean loss and LDS per epoch.

        :param x: Training inputs ``(n, *input_shape)`` (not modified).
        :param y: Labels, indices or one-hot.
        :param nb_epochs: Epochs (default: the constructor's).
        :param batch_size: Batch size (default: the constructor's).
        """
        if kwargs:
            raise ValueError(
                f"VirtualAdversarialTrainer.fit got unexpected keyword arguments {sorted(kwargs)}."
            )
        clf = self._classifier
        x_np, y_np = check_data(clf, x, y)
        epochs, bs = fit_sizes(nb_epochs, batch_size, self.nb_epochs, self.batch_size)
        opt = ensure_optimizer(clf, self.lr)
        model, device = clf.model, clf.device
        x_t, y_t = torch.from_numpy(x_np), torch.from_numpy(y_np)
        n = len(x_t)
        bounds = batch_bounds(n, bs)
        gen = torch.Generator().manual_seed(self.seed)
        self.history_ = {"loss": [], "lds": []}
        bar = tqdm(total=epochs * (len(bounds) - 1), desc="VAT training", disable=not self.verbose)
        with seeded(self.seed):
            for _ in range(epochs):
                order = torch.randperm(n, generator=gen)
                total_loss, total_lds = 0.0, 0.0
                for b in range(len(bounds) - 1):
                    idx = order[bounds[b] : bounds[b + 1]]
                    xb, yb = x_t[idx].to(device), y_t[idx].to(device)
                    model.train()
                    logits = self._forward(xb)
                    p_logits = logits.detach()
                    model.eval()
                    d = lds_direction(
                        self._forward, xb, p_logits, xi=self.xi, iterations=self.iterations, generator=gen
                    )
                    model.train()
                    lds = _kl(p_logits, self._forward(xb + self.eps * d)).mean()
                    loss = clf.loss(logits, yb) + self.alpha * lds
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total_loss += float(loss.detach()) * len(idx)
                    total_lds += float(lds.detach()) * len(idx)
                    bar.update(1)
                self.history_["loss"].append(total_loss / n)
                self.history_["lds"].append(total_lds / n)
        bar.close()
        model.eval()
