"""Accuracy against a PGD attack as a function of its number of iterations, from one attack run."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from tqdm.auto import tqdm

from art_activation_defenses._validation import check_array, check_labels, check_norm, check_scalar
from art_activation_defenses.metrics._common import check_classifier, predict_labels

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = ["accuracy_vs_iterations"]


def _check_checkpoints(iterations: Any) -> list[int]:
    if isinstance(iterations, (int, np.integer)) or isinstance(iterations, str):
        raise ValueError(f"`iterations` must be a non-empty sequence of integers >= 0, got {iterations!r}.")
    values = list(iterations)
    if not values or any(
        isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0 for v in values
    ):
        raise ValueError(f"`iterations` must be a non-empty sequence of integers >= 0, got {iterations!r}.")
    return sorted({int(v) for v in values})


def _step(grad: torch.Tensor, p: float) -> torch.Tensor:
    """Steepest-ascent direction of unit p-norm (sign for inf; zero where the gradient is zero)."""
    if p == math.inf:
        return grad.sign()
    flat = grad.flatten(1)
    if p == 2.0:
        norms = torch.linalg.vector_norm(flat, ord=2, dim=1, keepdim=True)
        return (flat / norms.clamp_min(1e-12)).reshape(grad.shape)
    # p == 1: move the largest-magnitude coordinate only
    index = flat.abs().argmax(1, keepdim=True)
    direction = torch.zeros_like(flat).scatter_(1, index, flat.gather(1, index).sign())
    return direction.reshape(grad.shape)


def _project(delta: torch.Tensor, eps: float, p: float) -> torch.Tensor:
    """Project perturbations onto the eps-ball of the p-norm (L1: by rescaling, as ART does)."""
    if p == math.inf:
        return delta.clamp(-eps, eps)
    norms = torch.linalg.vector_norm(delta.flatten(1), ord=p, dim=1)
    scale = torch.clamp(eps / norms.clamp_min(1e-12), max=1.0)
    return delta * scale.view(-1, *([1] * (delta.dim() - 1)))


def accuracy_vs_iterations(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    y: np.ndarray,
    *,
    iterations: Sequence[int],
    eps: float,
    eps_step: float,
    norm: int | float | str = "inf",
    random_init: bool = False,
    seed: int = 0,
    batch_size: int = 128,
    verbose: bool = False,
) -> dict[str, list[Any]]:
    """
    Accuracy under an untargeted PGD attack after each of several iteration counts, from one run
    (the JumpReLU paper's Figure 8).

    One PGD run of ``max(iterations)`` steps per batch; the accuracy at checkpoint N is read on the
    N-th iterate, which is exactly what a separate N-step run from the same start would return (so
    the curve costs one attack, not one per checkpoint). The loop is ART's PGD update in torch
    (step, clip to ``clip_values``, project onto the eps-ball); gradients come from
    ``classifier.loss_gradient`` on tensors, so a ``RetrofitClassifier``'s BPDA/EOT gradient mode and
    the pre-processing are honoured. The accuracy is that of ``classifier.predict`` on the iterate.

    | Paper link: https://arxiv.org/abs/1904.03750

    :param classifier: An ART ``PyTorchClassifier`` (or subclass).
    :param x: Clean samples.
    :param y: True labels (indices or one-hot).
    :param iterations: Checkpoints (iteration counts >= 0; 0 is the clean accuracy).
    :param eps: Radius of the perturbation ball.
    :param eps_step: Step size.
    :param norm: inf (default), 2 or 1.
    :param random_init: Start from ``x`` plus uniform noise in ``[-eps, eps]`` projected onto the
                        eps-ball; default `False` (start at `x`).
    :param seed: Seed of the random start.
    :param batch_size: Attack batch size.
    :param verbose: Show a progress bar over batches.
    :return: Dict with ``iterations`` (sorted checkpoints) and ``accuracy`` (one float per checkpoint).
    """
    check_classifier(classifier)
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape, floating=False)
    y_idx = check_labels(y, "y", x.shape[0], int(classifier.nb_classes))
    checkpoints = _check_checkpoints(iterations)
    eps = check_scalar(eps, "eps", min_val=0, include_boundaries="right")
    eps_step = check_scalar(eps_step, "eps_step", min_val=0, include_boundaries="right")
    p = check_norm(norm)
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    device = classifier.device
    generator = torch.Generator().manual_seed(int(seed))
    clip = classifier.clip_values
    lo, hi = (
        (None, None)
        if clip is None
        else (torch.as_tensor(np.asarray(c, dtype=np.float32), device=device) for c in clip)
    )
    onehot = np.eye(classifier.nb_classes, dtype=np.float32)
    correct = np.zeros(len(checkpoints), dtype=np.int64)
    for start in tqdm(range(0, x.shape[0], batch_size), desc="PGD", disable=not verbose):
        rows = slice(start, start + batch_size)
        x0 = torch.as_tensor(x[rows], dtype=torch.float32).to(device)
        # one-hot: ART 1.20's loss_gradient cannot take index labels as tensors
        labels = torch.as_tensor(onehot[y_idx[rows]], device=device)
        x_adv = x0.clone()
        if random_init:
            noise = torch.rand(x0.shape, generator=generator).to(device) * 2 - 1
            x_adv = x0 + _project(noise * eps, eps, p)
        for it in range(checkpoints[-1] + 1):
            if it > 0:
                grad = classifier.loss_gradient(x_adv, labels)
                x_adv = x_adv + eps_step * _step(torch.as_tensor(grad).to(device), p)
            if lo is not None and hi is not None:
                x_adv = torch.maximum(torch.minimum(x_adv, hi), lo)
            x_adv = (x0 + _project(x_adv - x0, eps, p)).detach()
            if it in checkpoints:
                pred = predict_labels(classifier, x_adv.cpu().numpy(), batch_size)
                correct[checkpoints.index(it)] += int((pred == y_idx[rows]).sum())
    return {"iterations": checkpoints, "accuracy": (correct / x.shape[0]).tolist()}
