"""Sensitivity map, loss sensitivity and gradient-masking checks on models with closed-form gradients."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import art.metrics
import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.metrics import gradient_masking_checks, loss_sensitivity, sensitivity_map

LinearFactory = Callable[..., PyTorchClassifier]


def test_sensitivity_map_closed_form(make_linear: LinearFactory, rng: np.random.Generator) -> None:
    """For z = W x + b, dZ_c/dx = W_c, so the map is max(0, W_t * (sum_c W_c - W_t))."""
    weight, bias = rng.standard_normal((4, 16)), rng.standard_normal(4)
    classifier = make_linear(weight, bias, (1, 4, 4))
    x = rng.random((20, 1, 4, 4), dtype=np.float32)
    y = rng.integers(0, 4, 20)
    x_before = x.copy()
    maps, sums = sensitivity_map(classifier, x, y, batch_size=7)
    w = weight.astype(np.float32).astype(np.float64)
    expected = np.maximum(w[y] * (w.sum(0) - w[y]), 0.0).reshape(x.shape)
    np.testing.assert_allclose(maps, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sums, expected.reshape(20, -1).sum(1), rtol=1e-5)
    assert maps.dtype == np.float32 and maps.shape == x.shape
    np.testing.assert_array_equal(x, x_before)
    one_hot_maps, _ = sensitivity_map(classifier, x, np.eye(4)[y])
    np.testing.assert_array_equal(one_hot_maps, maps)
    with pytest.raises(ValueError, match="`y` has 5 labels for 20 samples"):
        sensitivity_map(classifier, x, y[:5])


def test_loss_sensitivity_is_arts_and_matches_closed_form(
    make_linear: LinearFactory, rng: np.random.Generator
) -> None:
    """Cross-entropy of a linear model: d loss_i / dx_i = W^T (softmax(z_i) - onehot(y_i)); ART differentiates
    the batch-mean loss, so each row is divided by the batch size (ART quirk: the value depends on n)."""
    assert loss_sensitivity is art.metrics.loss_sensitivity
    weight, bias = rng.standard_normal((3, 16)), rng.standard_normal(3)
    classifier = make_linear(weight, bias, (1, 4, 4))
    x = rng.random((16, 1, 4, 4), dtype=np.float32)
    y = np.eye(3)[rng.integers(0, 3, 16)]
    z = x.reshape(16, -1).astype(np.float64) @ weight.T + bias
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    expected = np.linalg.norm((p - y) @ weight, axis=1).mean() / 16
    assert loss_sensitivity(classifier, x, y) == pytest.approx(expected, rel=1e-4)


class Noise(nn.Module):
    """Adds fresh Gaussian noise at every forward pass (a randomized defence)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 0.1 * torch.randn_like(x)


def wrap(model: nn.Module, nb_classes: int = 3) -> PyTorchClassifier:
    return PyTorchClassifier(model, nn.CrossEntropyLoss(), input_shape=(1, 4, 4), nb_classes=nb_classes)


def test_healthy_logit_model_passes_all_checks(make_linear: LinearFactory, rng: np.random.Generator) -> None:
    classifier = make_linear(rng.standard_normal((3, 16)), rng.standard_normal(3), (1, 4, 4))
    x = rng.random((16, 1, 4, 4), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = gradient_masking_checks(classifier, x)
    assert report["warnings"] == []
    assert report["zero_gradient_share"] == 0.0 and report["zero_gradient_entry_share"] == 0.0
    assert not report["outputs_are_probabilities"]
    assert not report["randomized_predictions"] and not report["randomized_gradients"]
    assert report["prediction_max_abs_diff"] == 0.0 and report["n_samples"] == 16


def test_dead_relus_give_zero_gradients(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    hidden = nn.Linear(16, 8)
    with torch.no_grad():
        hidden.bias.fill_(-100.0)  # every pre-activation < 0 on inputs in [0, 1]
    classifier = wrap(nn.Sequential(nn.Flatten(), hidden, nn.ReLU(), nn.Linear(8, 3)))
    x = rng.random((16, 1, 4, 4), dtype=np.float32)
    with pytest.warns(UserWarning, match="all-zero input gradient"):
        report = gradient_masking_checks(classifier, x, np.zeros(16, dtype=np.int64))
    assert report["zero_gradient_share"] == 1.0 and report["zero_gradient_entry_share"] == 1.0


def test_probability_outputs_are_flagged(make_linear: LinearFactory, rng: np.random.Generator) -> None:
    classifier = make_linear(rng.standard_normal((3, 16)), np.zeros(3), (1, 4, 4), head=nn.Softmax(dim=1))
    x = rng.random((16, 1, 4, 4), dtype=np.float32)
    with pytest.warns(UserWarning, match="look like probabilities"):
        report = gradient_masking_checks(classifier, x)
    assert report["outputs_are_probabilities"]
    assert 0.0 <= report["output_min"] <= report["output_max"] <= 1.0


def test_randomized_model_is_flagged_and_warn_false_is_silent(rng: np.random.Generator) -> None:
    torch.manual_seed(0)
    classifier = wrap(nn.Sequential(nn.Flatten(), Noise(), nn.Linear(16, 3)))
    x = rng.random((16, 1, 4, 4), dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = gradient_masking_checks(classifier, x, warn=False)
    assert report["randomized_predictions"] and report["prediction_max_abs_diff"] > 0
    assert report["randomized_gradients"]
    assert any("randomized" in message for message in report["warnings"])
    with pytest.raises(ValueError, match="`zero_atol`"):
        gradient_masking_checks(classifier, x, zero_atol=-1.0)
    with pytest.raises(ValueError, match="`x` has sample shape"):
        gradient_masking_checks(classifier, x.reshape(16, 1, 2, 8))
