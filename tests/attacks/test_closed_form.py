"""DeepFool on a linear classifier: the exact minimal perturbation in one step (closed form)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.attacks import DeepFool, TrustRegion


@pytest.fixture()
def linear() -> tuple[Any, np.ndarray, np.ndarray]:
    """A random 20 -> 6 linear classifier with wide clip values, its weights and bias (float64)."""
    torch.manual_seed(0)
    model = nn.Linear(20, 6)
    clf = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=(20,),
        nb_classes=6,
        clip_values=(-1e3, 1e3),
        device_type="cpu",
    )
    return clf, model.weight.detach().double().numpy(), model.bias.detach().double().numpy()


def _minimal_distance(w: np.ndarray, b: np.ndarray, x: np.ndarray, dual_ord: float) -> np.ndarray:
    """min_{k != y} |f_k - f_y| / ||w_k - w_y||_q with y = argmax f (q the dual norm)."""
    f = x.astype(np.float64) @ w.T + b
    y = f.argmax(1)
    rows = np.arange(len(x))
    dist = np.abs(f - f[rows, y][:, None]) / np.linalg.norm(
        w[None] - w[y][:, None], ord=dual_ord, axis=2
    ).clip(1e-30)
    dist[rows, y] = np.inf
    return dist.min(1)


@pytest.mark.parametrize(("norm", "primal", "dual"), [(2, 2, 2), (np.inf, np.inf, 1)])
def test_deepfool_is_exact_on_linear_models(
    linear: tuple[Any, np.ndarray, np.ndarray], norm: float, primal: float, dual: float
) -> None:
    clf, w, b = linear
    x = np.random.default_rng(0).normal(size=(64, 20)).astype(np.float32)
    attack = DeepFool(clf, norm=norm, overshoot=0.0, nb_candidates=6, verbose=False)
    x_adv = attack.generate(x)
    assert np.all(attack.iterations_ == 1)
    assert np.all(clf.predict(x_adv).argmax(1) != clf.predict(x).argmax(1))
    got = np.linalg.norm((x_adv - x).astype(np.float64), ord=primal, axis=1)
    expected = _minimal_distance(w, b, x, dual)
    # tolerance: float32 arithmetic plus the 1e-4 logit push past the boundary
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


def test_trust_region_reaches_the_linear_boundary(linear: tuple[Any, np.ndarray, np.ndarray]) -> None:
    """On a linear model the trust-region path is a straight line towards its target's boundary."""
    clf, w, b = linear
    x = np.random.default_rng(1).normal(size=(32, 20)).astype(np.float32)
    attack = TrustRegion(clf, norm=2, overshoot=0.0, nb_candidates=6, verbose=False)
    x_adv = attack.generate(x)
    assert np.all(clf.predict(x_adv).argmax(1) != clf.predict(x).argmax(1))
    got = np.linalg.norm((x_adv - x).astype(np.float64), axis=1)
    # the target is the closest boundary, so the path length equals the minimal distance
    np.testing.assert_allclose(got, _minimal_distance(w, b, x, 2), rtol=1e-3, atol=1e-3)


def test_trust_region_linf_reaches_the_minimal_linf_distance(
    linear: tuple[Any, np.ndarray, np.ndarray],
) -> None:
    """L∞ on a linear model: min_k |f_k - f_y| / ||w_k - w_y||_1, reached along sign(w_k - w_y)."""
    clf, w, b = linear
    x = np.random.default_rng(2).normal(size=(32, 20)).astype(np.float32)
    attack = TrustRegion(clf, norm="inf", overshoot=0.0, nb_candidates=6, verbose=False)
    x_adv = attack.generate(x)
    assert np.all(clf.predict(x_adv).argmax(1) != clf.predict(x).argmax(1))
    got = np.abs((x_adv - x).astype(np.float64)).max(1)
    expected = _minimal_distance(w, b, x, 1)
    # no L∞ perturbation smaller than `expected` changes the label, so got >= expected (up to float32)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)
