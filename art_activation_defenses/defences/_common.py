"""Validation, seeding and optimizer helpers shared by the training defences."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses._validation import (
    check_array,
    check_in_clip,
    check_labels,
    check_model_dtype,
    check_scalar,
)

__all__ = [
    "check_classifier",
    "check_data",
    "ensure_optimizer",
    "fit_sizes",
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


def fit_sizes(
    nb_epochs: int | None, batch_size: int | None, default_epochs: int, default_batch_size: int
) -> tuple[int, int]:
    """A trainer's ``fit(nb_epochs=..., batch_size=...)``: the given values, checked, else its defaults."""
    epochs = default_epochs if nb_epochs is None else check_scalar(nb_epochs, "nb_epochs", "int", min_val=1)
    if batch_size is None:
        return epochs, default_batch_size
    return epochs, check_scalar(batch_size, "batch_size", "int", min_val=1)


def check_data(classifier: PyTorchClassifier, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate training data for ``classifier``; return float32 ``x`` and int64 label indices.

    ``x`` is returned as is when already float32 (callers never write to it).

    :param x: Inputs of shape ``(n, *input_shape)``, finite, within the classifier's clip_values.
    :param y: Labels, indices ``(n,)`` or one-hot ``(n, nb_classes)``.
    """
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape)
    # Data on another scale (0-255 for (0, 1) clip values) is refused, never silently clipped.
    check_in_clip(x, "x", classifier.clip_values, tolerance=1e-6)
    y_idx = check_labels(y, "y", x.shape[0], int(classifier.nb_classes))
    return x.astype(np.float32, copy=False), y_idx


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
