"""Shared fixtures of the attack tests: a tiny seeded CNN trained on scikit-learn digits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from sklearn.datasets import load_digits
from torch import nn


def tiny_cnn() -> nn.Module:
    """A small CNN for 1x8x8 digits (conv-relu-pool-fc-relu-fc)."""
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 4 * 4, 32),
        nn.ReLU(),
        nn.Linear(32, 10),
    )


def wrap(model: nn.Module, input_shape: tuple[int, ...] = (1, 8, 8), nb_classes: int = 10) -> Any:
    """An ART PyTorchClassifier around ``model`` with clip values [0, 1]."""
    return PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=input_shape,
        nb_classes=nb_classes,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )


@pytest.fixture(scope="session")
def make_classifier() -> Any:
    """The :func:`wrap` helper, for tests that build their own models."""
    return wrap


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn digits as float32 NCHW in [0, 1] and int64 labels."""
    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    return x, data.target.astype(np.int64)


def train_tiny_cnn(x_np: np.ndarray, y_np: np.ndarray) -> nn.Module:
    """Train :func:`tiny_cnn` (seeded, about a second on one core); returned in eval mode."""
    torch.manual_seed(0)
    model = tiny_cnn()
    x = torch.from_numpy(x_np)
    y = torch.from_numpy(y_np)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(15):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), 100):
            idx = perm[i : i + 100]
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            opt.step()
    return model.eval()


@pytest.fixture(scope="session")
def trained_model(digits: tuple[np.ndarray, np.ndarray]) -> nn.Module:
    """The tiny CNN trained on the first 1,500 digits."""
    return train_tiny_cnn(digits[0][:1500], digits[1][:1500])


@pytest.fixture()
def classifier(trained_model: nn.Module) -> Any:
    """A fresh ART wrapper around the trained tiny CNN."""
    return wrap(trained_model)


@pytest.fixture(scope="session")
def test_batch(digits: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """32 held-out digits."""
    x, y = digits
    return x[1500:1532].copy(), y[1500:1532].copy()


@pytest.fixture(scope="session")
def success_batch(digits: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """64 held-out digits (the 32 of ``test_batch`` first), for success-rate bars."""
    x, y = digits
    return x[1500:1564].copy(), y[1500:1564].copy()
