"""Gradient-based metrics: sensitivity map, loss sensitivity (ART's) and gradient-masking checks."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from art.metrics import loss_sensitivity

from art_activation_defenses._validation import check_array, check_labels, check_scalar
from art_activation_defenses.metrics._common import check_classifier

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = ["gradient_masking_checks", "loss_sensitivity", "sensitivity_map"]


def sensitivity_map(
    classifier: PyTorchClassifier, x: np.ndarray, y: np.ndarray, *, batch_size: int = 32
) -> tuple[np.ndarray, np.ndarray]:
    """
    Per-pixel sensitivity max(0, dZ_t/dx * sum_{c != t} dZ_c/dx) (capped-ReLU paper, eq. 2) and its sum.

    Z are the model outputs (the logits for a logits model) and t the label. Gradients come from
    ``classifier.class_gradient``, so the classifier's gradient mode (BPDA, EOT, ...) and its
    pre-processing are honoured.

    | Paper link: capped-ReLU paper, eq. 2 (cf. the saliency map of https://arxiv.org/abs/1511.07528)

    :param classifier: An ART classifier with class gradients.
    :param x: Samples, shape (n, *input_shape).
    :param y: Labels t (indices or one-hot).
    :param batch_size: Samples per ``class_gradient`` call (memory: batch * nb_classes * input size).
    :return: (maps of the shape of `x`, float32; per-sample sums, float64 of shape (n,)).
    """
    check_classifier(classifier)
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape, floating=False)
    y_idx = check_labels(y, "y", x.shape[0], int(classifier.nb_classes))
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    maps = np.empty(x.shape, dtype=np.float32)
    for start in range(0, x.shape[0], batch_size):
        rows = slice(start, start + batch_size)
        grads = np.asarray(classifier.class_gradient(x[rows]))  # (b, C, *input_shape)
        own = grads[np.arange(grads.shape[0]), y_idx[rows]]
        others = grads.sum(1) - own
        maps[rows] = np.maximum(own * others, 0.0)
    return maps, maps.reshape(x.shape[0], -1).sum(1, dtype=np.float64)


def _outputs_are_probabilities(pred: np.ndarray, atol: float) -> bool:
    in_range = bool((pred >= -atol).all() and (pred <= 1.0 + atol).all())
    return in_range and bool(np.allclose(pred.sum(1), 1.0, atol=max(atol, 1e-4)))


def gradient_masking_checks(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    y: np.ndarray | None = None,
    *,
    zero_atol: float = 1e-12,
    batch_size: int = 128,
    warn: bool = True,
) -> dict[str, Any]:
    """
    Sanity checks for gradient masking in the spirit of AutoAttack's: zero input gradients, probability
    outputs instead of logits, and randomness of predictions and gradients.

    Each failed check issues a ``UserWarning`` (when `warn`) and is listed under ``"warnings"``.

    | Paper link: https://arxiv.org/abs/2003.01690

    :param classifier: An ART classifier with loss gradients.
    :param x: Samples, shape (n, *input_shape).
    :param y: Labels for the loss gradient (indices or one-hot); default: the predictions.
    :param zero_atol: A gradient entry with ``|g| <= zero_atol`` counts as zero (default 1e-12).
    :param batch_size: Prediction batch size.
    :param warn: Issue warnings for failed checks.
    :return: Dict with ``zero_gradient_share`` (samples whose whole input gradient is zero),
             ``zero_gradient_entry_share``, ``outputs_are_probabilities``, ``output_min``/``output_max``,
             ``randomized_predictions``, ``prediction_max_abs_diff``, ``label_flip_share``,
             ``randomized_gradients``, ``gradient_max_abs_diff`` and ``warnings`` (list of messages).
    """
    check_classifier(classifier)
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape, floating=False)
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    zero_atol = check_scalar(zero_atol, "zero_atol", min_val=0)
    n = x.shape[0]
    pred_a = np.asarray(classifier.predict(x, batch_size=batch_size), dtype=np.float64)
    pred_b = np.asarray(classifier.predict(x, batch_size=batch_size), dtype=np.float64)
    labels = pred_a.argmax(1) if y is None else check_labels(y, "y", n, int(classifier.nb_classes))
    # one-hot: ART 1.20's PyTorchClassifier.loss_gradient fails on index labels (reduce_labels, 1-d tensor)
    onehot = np.eye(classifier.nb_classes, dtype=np.float32)[labels]
    grad_a = np.asarray(classifier.loss_gradient(x, onehot), dtype=np.float64).reshape(n, -1)
    grad_b = np.asarray(classifier.loss_gradient(x, onehot), dtype=np.float64).reshape(n, -1)
    zero = np.abs(grad_a) <= zero_atol
    prediction_diff = float(np.abs(pred_a - pred_b).max())
    gradient_diff = float(np.abs(grad_a - grad_b).max())
    report: dict[str, Any] = {
        "n_samples": n,
        "zero_gradient_share": float(zero.all(1).mean()),
        "zero_gradient_entry_share": float(zero.mean()),
        "outputs_are_probabilities": _outputs_are_probabilities(pred_a, 1e-6),
        "output_min": float(pred_a.min()),
        "output_max": float(pred_a.max()),
        "randomized_predictions": prediction_diff > 0.0,
        "prediction_max_abs_diff": prediction_diff,
        "label_flip_share": float((pred_a.argmax(1) != pred_b.argmax(1)).mean()),
        "randomized_gradients": gradient_diff > 0.0,
        "gradient_max_abs_diff": gradient_diff,
    }
    messages: list[str] = []
    if report["zero_gradient_share"] > 0:
        messages.append(
            f"{report['zero_gradient_share']:.1%} of the samples have an all-zero input gradient: "
            "gradient-based attacks cannot move them; evaluate with BPDA/straight-through gradients "
            "or a black-box attack."
        )
    if report["outputs_are_probabilities"]:
        messages.append(
            "The model outputs look like probabilities (in [0, 1], summing to 1): use logits for the "
            "attacks, saturated softmax outputs mask gradients."
        )
    if report["randomized_predictions"] or report["randomized_gradients"]:
        messages.append(
            "The model is randomized (two identical predictions or gradients differ): use EOT and report the "
            "attack's success over several draws."
        )
    if warn:
        for message in messages:
            warnings.warn(f"gradient_masking_checks: {message}", stacklevel=2)
    report["warnings"] = messages
    return report
