"""Validation, seeding and optimizer helpers shared by the training defences."""

from __future__ import annotations

import contextlib
import math
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses._validation import check_in_clip, check_model_dtype

__all__ = [
    "check_classifier",
    "check_data",
    "check_float",
    "check_int",
    "ensure_optimizer",
    "seeded",
]


def check_classifier(classifier: Any, *, framework_preprocessing: bool = False) -> PyTorchClassifier:
    """Check that ``classifier`` is an ART ``PyTorchClassifier`` (ours included).

    :param classifier: The candidate.
    :param framework_preprocessing: Also require that all its preprocessing runs in PyTorch
        (needed where the defence differentiates through the preprocessing itself).
    :raises ValueError: naming the parameter and the type it got.
    """
    if not isinstance(classifier, PyTorchClassifier):
        raise ValueError(f"`classifier` must be an ART PyTorchClassifier, got {type(classifier).__name__}.")
    check_model_dtype(classifier.model, "classifier.model")
    if (
        framework_preprocessing
        and classifier.preprocessing_operations
        and not classifier.all_framework_preprocessing
    ):
        raise ValueError(
            "`classifier` has preprocessing that does not run in PyTorch, so it cannot be differentiated "
            "here; use PyTorch preprocessing (ART's *PyTorch defences)."
        )
    return classifier


def check_int(name: str, value: Any, minimum: int) -> int:
    """An integer ``>= minimum`` (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_float(
    name: str,
    value: Any,
    *,
    low: float = 0.0,
    strict: bool = True,
    high: float = math.inf,
    high_strict: bool = False,
) -> float:
    """A finite real in ``(low, high]``; the low end is closed when not ``strict``, the high end
    open when ``high_strict``."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if ok:
        v = float(value)
        ok = (
            math.isfinite(v)
            and (v > low if strict else v >= low)
            and (v < high if high_strict else v <= high)
        )
    if not ok:
        lo = "(" if strict else "["
        hi = ")" if high_strict or math.isinf(high) else "]"
        raise ValueError(f"`{name}` must be a finite number in {lo}{low:g}, {high:g}{hi}, got {value!r}.")
    return float(value)


def check_data(classifier: PyTorchClassifier, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data for ``classifier``; return float32 ``x`` and int64 label indices.

    ``x`` is returned as is when already float32 (callers never write to it).

    :param x: Inputs of shape ``(n, *input_shape)``, finite, within the classifier's clip_values.
    :param y: Labels, indices ``(n,)`` or one-hot ``(n, nb_classes)``.
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"`x` must be a floating-point numpy array, got {type(x).__name__}.")
    if x.ndim < 2 or x.shape[0] == 0 or tuple(x.shape[1:]) != tuple(classifier.input_shape):
        raise ValueError(
            f"`x` has shape {x.shape}; expected (n, {', '.join(map(str, classifier.input_shape))}), n > 0."
        )
    if not np.isfinite(x).all():
        raise ValueError("`x` contains NaN or infinite values.")
    # Data on another scale (0-255 for (0, 1) clip values) is refused, never silently clipped.
    check_in_clip(x, "x", classifier.clip_values, tolerance=1e-6)
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == classifier.nb_classes:
        if not np.issubdtype(y_arr.dtype, np.number) or not np.isfinite(y_arr).all():
            raise ValueError("`y` one-hot rows must hold finite numbers.")
        y_arr = y_arr.argmax(1)
    if y_arr.ndim != 1 or y_arr.shape[0] != x.shape[0]:
        raise ValueError(f"`y` must hold {x.shape[0]} labels (indices or one-hot), got shape {np.shape(y)}.")
    if not np.issubdtype(y_arr.dtype, np.integer):
        raise ValueError(f"`y` must hold integer class indices or one-hot rows, got dtype {y_arr.dtype}.")
    if y_arr.min() < 0 or y_arr.max() >= classifier.nb_classes:
        raise ValueError(
            f"`y` must hold class indices in [0, {classifier.nb_classes}), "
            f"got [{y_arr.min()}, {y_arr.max()}]."
        )
    return x.astype(np.float32, copy=False), y_arr.astype(np.int64)


def ensure_optimizer(classifier: PyTorchClassifier, lr: float) -> torch.optim.Optimizer:
    """The classifier's optimizer; an Adam with learning rate ``lr`` is attached when it has none
    (ART's ``fit`` needs one)."""
    if classifier.optimizer is None:
        classifier._optimizer = torch.optim.Adam(classifier.model.parameters(), lr=lr)
    return classifier.optimizer  # type: ignore[return-value]


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python's, numpy's and torch's *global* generators for the block and put their
    previous states back afterwards (ART's trainers and ``fit`` draw from the global ones)."""
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - ART draws from the legacy global generator
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        random.seed(seed)
        np.random.seed(seed % 2**32)  # noqa: NPY002
        torch.manual_seed(seed)
        try:
            yield
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002
