"""Validation and small helpers shared by the metrics (numpy at the edges, torch inside)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from art_activation_defenses._validation import check_model_dtype, check_samples
from art_activation_defenses.detectors._layers import check_array

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = [
    "check_array",
    "check_classifier",
    "check_positive_float",
    "check_positive_int",
    "check_same_shape",
    "flat_norms",
    "label_indices",
    "parse_norm",
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


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """
    Check an integer hyper-parameter.

    :param value: The value.
    :param name: Parameter name for the error message.
    :param minimum: Smallest accepted value.
    :return: The value as ``int``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_positive_float(value: Any, name: str) -> float:
    """
    Check a positive, finite real hyper-parameter.

    :param value: The value.
    :param name: Parameter name for the error message.
    :return: The value as ``float``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise ValueError(f"`{name}` must be a positive finite number, got {value!r}.")
    if not (math.isfinite(float(value)) and float(value) > 0):
        raise ValueError(f"`{name}` must be a positive finite number, got {value!r}.")
    return float(value)


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


def parse_norm(norm: Any) -> float:
    """
    Parse a norm given as ``1``, ``2``, ``np.inf``, ``"inf"`` or ``"1"``/``"2"``.

    :param norm: The norm.
    :return: ``1.0``, ``2.0`` or ``math.inf``.
    """
    aliases = {"1": 1.0, "2": 2.0, "inf": math.inf, "linf": math.inf, "l1": 1.0, "l2": 2.0}
    if isinstance(norm, str) and norm.lower() in aliases:
        return aliases[norm.lower()]
    if isinstance(norm, (int, float, np.integer, np.floating)) and not isinstance(norm, bool):
        if float(norm) in (1.0, 2.0, math.inf):
            return float(norm)
    raise ValueError(f"`norm` must be 1, 2 or inf (or 'inf'), got {norm!r}.")


def flat_norms(t: torch.Tensor, p: float) -> torch.Tensor:
    """
    Per-sample p-norm of a batch flattened after the first dimension.

    :param t: Tensor (n, ...).
    :param p: 1, 2 or inf.
    :return: Tensor (n,).
    """
    return torch.linalg.vector_norm(t.flatten(1), ord=p, dim=1)


def label_indices(y: Any, n: int, nb_classes: int | None = None, name: str = "y") -> np.ndarray:
    """
    Convert labels (indices or one-hot) to int64 indices and check them.

    :param y: Labels, shape (n,) or (n, nb_classes).
    :param n: Expected number of samples.
    :param nb_classes: Number of classes, if known.
    :param name: Parameter name for error messages.
    :return: Array (n,) of int64 class indices.
    """
    y_arr = np.asarray(y)
    if y_arr.ndim == 2:
        if nb_classes is not None and y_arr.shape[1] != nb_classes:
            raise ValueError(f"`{name}` has {y_arr.shape[1]} one-hot columns, expected {nb_classes}.")
        y_arr = y_arr.argmax(1)
    if y_arr.shape != (n,):
        raise ValueError(
            f"`{name}` must hold {n} labels (shape ({n},) or ({n}, nb_classes)), got {np.shape(y)}."
        )
    if y_arr.dtype.kind == "f":
        if not np.isfinite(y_arr).all() or not np.array_equal(y_arr, np.round(y_arr)):
            raise ValueError(f"`{name}` must hold integer class labels.")
    elif y_arr.dtype.kind not in "iu":
        raise ValueError(f"`{name}` must hold integer class labels, got dtype {y_arr.dtype}.")
    y_idx = y_arr.astype(np.int64)
    if y_idx.min() < 0 or (nb_classes is not None and y_idx.max() >= nb_classes):
        raise ValueError(f"`{name}` has labels outside [0, {nb_classes}): {np.unique(y_idx)[:10]!r}.")
    return y_idx


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
