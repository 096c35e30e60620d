"""Fixtures of the training-defence tests: fresh seeded MLPs on scikit-learn digits, wrapped for ART.

(Test modules are imported with ``--import-mode=importlib``, so helpers are handed out as fixtures.)
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import BoundedReLU

MakeClassifier = Callable[..., PyTorchClassifier]


def _mlp(activation: Callable[[], nn.Module], seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), activation(), nn.Linear(32, 32), activation(), nn.Linear(32, 10)
    )


@pytest.fixture(scope="session")
def make_classifier() -> MakeClassifier:
    """``make_classifier(brelu=False, seed=0, lr=1e-2)``: an untrained 64-32-32-10 MLP (ReLU, or
    bounded ReLU t=1 as the BReLU paper trains) as an ART classifier with clip values [0, 1] and Adam."""

    def make(*, brelu: bool = False, seed: int = 0, lr: float = 1e-2) -> PyTorchClassifier:
        model = _mlp((lambda: BoundedReLU(t=1.0)) if brelu else nn.ReLU, seed)
        return PyTorchClassifier(
            model,
            nn.CrossEntropyLoss(),
            (1, 8, 8),
            10,
            optimizer=torch.optim.Adam(model.parameters(), lr=lr),
            clip_values=(0.0, 1.0),
            device_type="cpu",
        )

    return make
