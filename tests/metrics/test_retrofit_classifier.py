"""The metrics run on a RetrofitClassifier and see what its gradient mode does."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.metrics import accuracy_vs_iterations, gradient_masking_checks

retrofit_classifier = pytest.importorskip("art_activation_defenses.estimators.retrofit_classifier")


def make(gradient: str) -> PyTorchClassifier:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3))
    classifier: PyTorchClassifier = retrofit_classifier.RetrofitClassifier(
        model,
        nn.CrossEntropyLoss(),
        (1, 4, 4),
        3,
        activation="jumprelu",
        kappa=50.0,  # every unit is cut: exact gradients vanish, BPDA ones do not
        gradient=gradient,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    return classifier


def test_jumprelu_masking_is_flagged_in_exact_mode_only(rng: np.random.Generator) -> None:
    x = rng.random((16, 1, 4, 4), dtype=np.float32)
    with pytest.warns(UserWarning, match="all-zero input gradient"):
        exact = gradient_masking_checks(make("exact"), x)
    assert exact["zero_gradient_share"] == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bpda = gradient_masking_checks(make("bpda"), x)
    assert bpda["zero_gradient_share"] == 0.0


def test_accuracy_vs_iterations_runs_with_bpda(rng: np.random.Generator) -> None:
    classifier = make("bpda")
    x = rng.random((16, 1, 4, 4), dtype=np.float32)
    y = rng.integers(0, 3, 16)
    result = accuracy_vs_iterations(classifier, x, y, iterations=[0, 2], eps=0.1, eps_step=0.05)
    assert len(result["accuracy"]) == 2
