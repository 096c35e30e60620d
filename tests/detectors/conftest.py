"""Tiny seeded models and classifiers for the detector tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn


def make_classifier(model: nn.Module, input_shape: tuple[int, ...], nb_classes: int) -> PyTorchClassifier:
    """Wrap a module as a CPU ART classifier."""
    return PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=input_shape,
        nb_classes=nb_classes,
        clip_values=None,
        device_type="cpu",
    )


@pytest.fixture
def mlp_classifier() -> PyTorchClassifier:
    """A seeded 16 -> 12 -> 8 -> 3 MLP on 1x4x4 inputs, with two ReLUs."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 3)
    )
    return make_classifier(model, (1, 4, 4), 3)


@pytest.fixture
def classifier_factory() -> Callable[[nn.Module, tuple[int, ...], int], PyTorchClassifier]:
    """Factory wrapping any module as a CPU ART classifier."""
    return make_classifier


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator."""
    return np.random.default_rng(1234)
