"""Perturbation-size and success metrics: relative perturbation, fool rate, robust accuracy, minimal FGSM."""

from __future__ import annotations

import math
import warnings
from typing import TYPE_CHECKING

import numpy as np
import torch
from art.attacks.evasion import FastGradientMethod

from art_activation_defenses._validation import check_array, check_labels, check_norm, check_scalar
from art_activation_defenses.metrics._common import (
    check_classifier,
    check_same_shape,
    flat_norms,
    predict_labels,
)

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = [
    "fool_rate",
    "minimal_fgsm_perturbations",
    "minimal_fgsm_robustness",
    "relative_perturbation",
    "robust_accuracy",
]


def _relative_norms(x: np.ndarray, x_adv: np.ndarray, p: float) -> np.ndarray:
    xt = torch.as_tensor(x, dtype=torch.float64)
    delta = torch.as_tensor(x_adv, dtype=torch.float64) - xt
    denom = flat_norms(xt, p)
    if bool((denom == 0).any()):
        bad = int(torch.nonzero(denom == 0)[0, 0])
        raise ValueError(f"`x` sample {bad} has zero norm; the relative perturbation is undefined.")
    return (flat_norms(delta, p) / denom).numpy()


def relative_perturbation(
    x: np.ndarray,
    x_adv: np.ndarray,
    *,
    norm: int | float | str = 2,
    successful_only: bool = True,
    classifier: PyTorchClassifier | None = None,
    y: np.ndarray | None = None,
    batch_size: int = 128,
) -> float:
    """
    Mean relative perturbation rho = mean_i ||x_i - x_adv_i||_p / ||x_i||_p (the JumpReLU paper's eq. 12).

    Success (for ``successful_only=True``): with a `classifier`, the prediction on ``x_adv`` differs
    from `y` (or from the prediction on `x` when `y` is not given); without one, the attack changed
    the sample at all (ART attacks return failed samples unchanged).

    | Paper link: https://arxiv.org/abs/1904.03750

    :param x: Clean samples, shape (n, ...).
    :param x_adv: Adversarial samples, same shape.
    :param norm: 1, 2 or inf (default 2).
    :param successful_only: Average over successful samples only (default `True`).
    :param classifier: Optional ART classifier deciding success.
    :param y: Optional true labels (indices or one-hot) deciding success with `classifier`.
    :param batch_size: Prediction batch size.
    :return: rho as a float; NaN (with a warning) when no sample is successful.
    """
    p = check_norm(norm)
    check_array(x, "x", ndim_min=2, floating=False)
    check_array(x_adv, "x_adv", ndim_min=2, floating=False)
    check_same_shape(x, x_adv, "x", "x_adv")
    ratios = _relative_norms(x, x_adv, p)
    if not successful_only:
        return float(ratios.mean())
    if classifier is not None:
        check_classifier(classifier)
        batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
        ref = (
            predict_labels(classifier, x, batch_size)
            if y is None
            else check_labels(y, "y", x.shape[0], int(classifier.nb_classes))
        )
        success = predict_labels(classifier, x_adv, batch_size, name="x_adv") != ref
    else:
        if y is not None:
            raise ValueError("`y` is only used together with `classifier`.")
        success = (x_adv != x).reshape(x.shape[0], -1).any(1)
    if not success.any():
        warnings.warn("relative_perturbation: no successful adversarial sample; returning NaN.", stacklevel=2)
        return math.nan
    return float(ratios[success].mean())


def fool_rate(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    x_adv: np.ndarray,
    *,
    y: np.ndarray | None = None,
    batch_size: int = 128,
) -> float:
    """
    Share of samples whose prediction the attack changed.

    Without `y`: share with ``pred(x_adv) != pred(x)``. With `y`: among the samples classified
    correctly on `x`, the share misclassified on ``x_adv`` (NaN with a warning if none is correct).

    | Paper link: https://arxiv.org/abs/1511.04599

    :param classifier: An ART classifier.
    :param x: Clean samples.
    :param x_adv: Adversarial samples, same shape.
    :param y: Optional true labels (indices or one-hot).
    :param batch_size: Prediction batch size.
    :return: Fool rate in [0, 1].
    """
    check_classifier(classifier)
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape, floating=False)
    check_array(x_adv, "x_adv", ndim_min=2, input_shape=classifier.input_shape, floating=False)
    check_same_shape(x, x_adv, "x", "x_adv")
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    pred = predict_labels(classifier, x, batch_size)
    pred_adv = predict_labels(classifier, x_adv, batch_size, name="x_adv")
    if y is None:
        return float((pred_adv != pred).mean())
    y_idx = check_labels(y, "y", x.shape[0], int(classifier.nb_classes))
    correct = pred == y_idx
    if not correct.any():
        warnings.warn("fool_rate: no sample of `x` is classified correctly; returning NaN.", stacklevel=2)
        return math.nan
    return float((pred_adv[correct] != y_idx[correct]).mean())


def robust_accuracy(
    classifier: PyTorchClassifier, x_adv: np.ndarray, y: np.ndarray, *, batch_size: int = 128
) -> float:
    """
    Accuracy of the classifier on adversarial samples.

    :param classifier: An ART classifier.
    :param x_adv: Adversarial samples.
    :param y: True labels (indices or one-hot).
    :param batch_size: Prediction batch size.
    :return: Accuracy in [0, 1].
    """
    check_classifier(classifier)
    check_array(x_adv, "x_adv", ndim_min=2, input_shape=classifier.input_shape, floating=False)
    y_idx = check_labels(y, "y", x_adv.shape[0], int(classifier.nb_classes))
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    return float((predict_labels(classifier, x_adv, batch_size, name="x_adv") == y_idx).mean())


MAX_FGSM_STEPS = 10_000
"""Most grid steps ``eps_max / eps_step`` the minimal-FGSM search accepts (one attack pass each)."""


def minimal_fgsm_perturbations(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    eps_max: float = 1.0,
    eps_step: float = 0.01,
    norm: int | float | str = "inf",
    batch_size: int = 128,
) -> np.ndarray:
    """
    Per-sample relative L2 size ||r||_2 / ||x||_2 of the smallest FGSM step (on the grid
    ``eps_step, 2 eps_step, ... <= eps_max``) that changes the prediction; ART's ``FastGradientMethod``
    with ``minimal=True``.

    | Paper link: https://arxiv.org/abs/1707.06728

    :param classifier: An ART classifier with loss gradients.
    :param x: Clean samples.
    :param y: True labels (indices or one-hot); default: the classifier's predictions.
    :param eps_max: Largest FGSM step tried (default 1.0).
    :param eps_step: Grid step of the search (default 0.01); at most ``MAX_FGSM_STEPS`` steps.
    :param norm: Norm of the FGSM step: inf (default, the sign step), 1 or 2.
    :param batch_size: Attack batch size.
    :return: Array (n,) of float64; NaN where no step up to `eps_max` flips the prediction.
    """
    check_classifier(classifier)
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape, floating=False)
    p = check_norm(norm)
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    eps_step = check_scalar(eps_step, "eps_step", min_val=0, include_boundaries="right")
    eps_max = check_scalar(eps_max, "eps_max", min_val=eps_step)
    steps = eps_max / eps_step
    if steps > MAX_FGSM_STEPS:
        raise ValueError(
            f"`eps_step` == {eps_step!r}, must give at most {MAX_FGSM_STEPS} grid steps up to "
            f"eps_max={eps_max!r} (got {steps:.3g}); use a larger eps_step."
        )
    labels = (
        predict_labels(classifier, x, batch_size)
        if y is None
        else check_labels(y, "y", x.shape[0], int(classifier.nb_classes))
    )
    onehot = np.eye(classifier.nb_classes, dtype=np.float32)[labels]
    attack = FastGradientMethod(
        classifier, norm=p, eps=float(eps_max), eps_step=float(eps_step), minimal=True, batch_size=batch_size
    )
    x_adv = attack.generate(x, y=onehot)
    flipped = predict_labels(classifier, x_adv, batch_size, name="x_adv") != labels
    ratios = _relative_norms(x, x_adv, 2.0)
    return np.where(flipped, ratios, np.nan)


def minimal_fgsm_robustness(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    eps_max: float = 1.0,
    eps_step: float = 0.01,
    norm: int | float | str = "inf",
    batch_size: int = 128,
) -> float:
    """
    The BReLU paper's robustness: mean relative L2 size ||r||_2 / ||x||_2 of the minimal FGSM
    perturbation over the samples it flips (ART's ``FastGradientMethod`` with ``minimal=True``).

    | Paper link: https://arxiv.org/abs/1707.06728

    :param classifier: An ART classifier with loss gradients.
    :param x: Clean samples.
    :param y: True labels (indices or one-hot); default: the classifier's predictions.
    :param eps_max: Largest FGSM step tried (default 1.0).
    :param eps_step: Grid step of the search (default 0.01).
    :param norm: Norm of the FGSM step: inf (default), 1 or 2.
    :param batch_size: Attack batch size.
    :return: Mean relative perturbation; NaN (with a warning) when no sample flips.
    """
    ratios = minimal_fgsm_perturbations(
        classifier, x, y, eps_max=eps_max, eps_step=eps_step, norm=norm, batch_size=batch_size
    )
    flipped = ~np.isnan(ratios)
    if not flipped.any():
        warnings.warn(
            "minimal_fgsm_robustness: no prediction flips up to eps_max; returning NaN.", stacklevel=2
        )
        return math.nan
    if not flipped.all():
        warnings.warn(
            f"minimal_fgsm_robustness: {int((~flipped).sum())} of {flipped.size} predictions do not flip "
            "up to eps_max; they are left out of the mean.",
            stacklevel=2,
        )
    return float(ratios[flipped].mean())
