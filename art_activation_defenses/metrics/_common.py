"""Small helpers shared by the metrics (numpy at the edges, torch inside); the checks of
arguments are those of :mod:`art_activation_defenses._validation`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from art_activation_defenses._validation import check_model_dtype, check_samples

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = [
    "check_classifier",
    "check_same_shape",
    "flat_norms",
    "predict_labels",
]


def check_classifier(classifier: Any) -> PyTorchClassifier:
    """
    Check that `classifier` looks like an ART ``PyTorchClassifier`` (has ``predict`` and ``model``).

    :param classifier: The candidate.
    :return: The classifier.
    """
    if not (
        hasattr(classifier, "predict") and hasattr(classifier, "model") and hasattr(classifier, "nb_classes")
    ):
        raise ValueError(f"`classifier` must be an ART PyTorchClassifier, got {type(classifier).__name__}.")
    if isinstance(classifier.model, torch.nn.Module):
        check_model_dtype(classifier.model, "classifier.model")
    return classifier  # type: ignore[no-any-return]


def check_same_shape(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """
    Raise when two arrays differ in shape.

    :param a: First array.
    :param b: Second array.
    :param name_a: Name of `a`.
    :param name_b: Name of `b`.
    """
    if a.shape != b.shape:
        raise ValueError(f"`{name_b}` shape {b.shape} differs from `{name_a}` shape {a.shape}.")


def flat_norms(t: torch.Tensor, p: float) -> torch.Tensor:
    """
    Per-sample p-norm of a batch flattened after the first dimension.

    :param t: Tensor (n, ...).
    :param p: 1, 2 or inf.
    :return: Tensor (n,).
    """
    return torch.linalg.vector_norm(t.flatten(1), ord=p, dim=1)


def predict_labels(
    classifier: PyTorchClassifier, x: np.ndarray, batch_size: int, *, name: str = "x"
) -> np.ndarray:
    """
    Predicted class indices of `x`, after checking `x` under its public ``name`` (floating,
    finite, the classifier's sample shape, within its clip_values).

    :param classifier: An ART classifier.
    :param x: Inputs.
    :param batch_size: Prediction batch size.
    :param name: The argument's public name (``"x_adv"``...), for error messages.
    :return: Array (n,) of int64.
    """
    check_samples(
        x, name, input_shape=getattr(classifier, "input_shape", None), clip_values=classifier.clip_values
    )
    return np.asarray(classifier.predict(x, batch_size=batch_size)).argmax(1).astype(np.int64)
