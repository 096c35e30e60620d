"""Tiny seeded linear models with closed-form gradients for the metric tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

LinearFactory = Callable[..., PyTorchClassifier]


def linear_classifier(
    weight: np.ndarray,
    bias: np.ndarray,
    input_shape: tuple[int, ...],
    *,
    clip_values: tuple[float, float] | None = None,
    head: nn.Module | None = None,
) -> PyTorchClassifier:
    """ART classifier of z = W flatten(x) + b (optionally followed by `head`, e.g. a Softmax)."""
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    layers: list[nn.Module] = [nn.Flatten(), linear]
    if head is not None:
        layers.append(head)
    return PyTorchClassifier(
        model=nn.Sequential(*layers),
        loss=nn.CrossEntropyLoss(),
        input_shape=input_shape,
        nb_classes=weight.shape[0],
        clip_values=clip_values,
        device_type="cpu",
    )


@pytest.fixture
def make_linear() -> LinearFactory:
    """Factory of linear ART classifiers with given weights."""
    return linear_classifier


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator."""
    return np.random.default_rng(2024)
