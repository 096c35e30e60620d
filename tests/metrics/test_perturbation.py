"""Relative perturbation, fool rate, robust accuracy and minimal-FGSM robustness against closed forms."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pytest
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.metrics import (
    fool_rate,
    minimal_fgsm_robustness,
    relative_perturbation,
    robust_accuracy,
)
from art_activation_defenses.metrics.perturbation import minimal_fgsm_perturbations

LinearFactory = Callable[..., PyTorchClassifier]

SUM_WEIGHTS = (np.stack([np.ones(16), -np.ones(16)]), np.zeros(2))  # class 0 iff sum(x) > 0


@pytest.mark.parametrize(("norm", "ord_"), [(2, 2), ("inf", np.inf), (np.inf, np.inf), (1, 1)])
def test_relative_perturbation_matches_numpy(norm: object, ord_: float, rng: np.random.Generator) -> None:
    x = rng.random((32, 1, 4, 4), dtype=np.float32) + 0.1
    x_adv = x + 0.05 * rng.standard_normal(x.shape).astype(np.float32)
    x_before, adv_before = x.copy(), x_adv.copy()
    flat, flat_adv = x.reshape(32, -1).astype(np.float64), x_adv.reshape(32, -1).astype(np.float64)
    expected = np.mean(
        np.linalg.norm(flat_adv - flat, ord=ord_, axis=1) / np.linalg.norm(flat, ord=ord_, axis=1)
    )
    got = relative_perturbation(x, x_adv, norm=norm, successful_only=False)  # type: ignore[arg-type]
    assert got == pytest.approx(expected, rel=1e-12)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(x_adv, adv_before)


def test_relative_perturbation_successful_only_without_classifier(rng: np.random.Generator) -> None:
    x = np.ones((8, 1, 2, 2), dtype=np.float32)  # ||x||_2 = 2
    x_adv = x.copy()
    x_adv[:4] += 0.5  # ||delta||_2 = 1 on the four changed samples, the others are failures
    assert relative_perturbation(x, x_adv) == pytest.approx(0.5)
    assert relative_perturbation(x, x_adv, successful_only=False) == pytest.approx(0.25)
    with pytest.warns(UserWarning, match="no successful"):
        assert np.isnan(relative_perturbation(x, x.copy()))


def test_relative_perturbation_success_from_classifier(
    make_linear: LinearFactory, rng: np.random.Generator
) -> None:
    classifier = make_linear(*SUM_WEIGHTS, (1, 4, 4))
    x = rng.random((16, 1, 4, 4), dtype=np.float32) + 0.5  # all class 0
    x_adv = x.copy()
    x_adv[:6] = -x[:6]  # flipped, relative L2 size 2
    x_adv[6:] = 1.1 * x[6:]  # still class 0, relative size 0.1
    assert relative_perturbation(x, x_adv, classifier=classifier) == pytest.approx(2.0, rel=1e-6)
    y = np.zeros(16, dtype=np.int64)
    assert relative_perturbation(x, x_adv, classifier=classifier, y=y) == pytest.approx(2.0, rel=1e-6)
    assert fool_rate(classifier, x, x_adv) == pytest.approx(6 / 16)
    assert robust_accuracy(classifier, x_adv, y) == pytest.approx(10 / 16)
    y_wrong = y.copy()
    y_wrong[:8] = 1  # eight clean points now "misclassified"; among the rest, none is fooled
    assert fool_rate(classifier, x, x_adv, y=y_wrong) == pytest.approx(0.0)
    assert fool_rate(classifier, x, x_adv, y=np.eye(2)[y]) == pytest.approx(6 / 16)


def test_bad_inputs_raise(make_linear: LinearFactory, rng: np.random.Generator) -> None:
    classifier = make_linear(*SUM_WEIGHTS, (1, 4, 4))
    x = rng.random((4, 1, 4, 4), dtype=np.float32) + 0.1
    with pytest.raises(ValueError, match=r"`norm` == 3, must be one of 1, 2, inf"):
        relative_perturbation(x, x, norm=3)
    with pytest.raises(ValueError, match="`x_adv` shape"):
        relative_perturbation(x, x[:2])
    bad = x.copy()
    bad[1, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="`x_adv` contains NaN"):
        relative_perturbation(x, bad)
    with pytest.raises(ValueError, match="zero norm"):
        relative_perturbation(np.zeros_like(x), x)
    with pytest.raises(ValueError, match="`x` is empty"):
        relative_perturbation(x[:0], x[:0])
    with pytest.raises(ValueError, match="`y` has 3 labels for 4 samples"):
        robust_accuracy(classifier, x, np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match=r"class indices in \[7, 7\], must lie in \[0, "):
        robust_accuracy(classifier, x, np.full(4, 7))
    with pytest.raises(ValueError, match="`classifier`"):
        fool_rate(object(), x, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`eps_step`"):
        minimal_fgsm_robustness(classifier, x, eps_step=0.0)
    with pytest.raises(ValueError, match="`eps_max`"):
        minimal_fgsm_robustness(classifier, x, eps_max=0.001, eps_step=0.01)


def test_minimal_fgsm_matches_closed_form(make_linear: LinearFactory, rng: np.random.Generator) -> None:
    """Binary linear model: the sign step moves the margin m by eps * ||w0 - w1||_1, so the smallest
    flipping grid step is step * ceil(|m| / (step ||w0 - w1||_1)) and ||r||_2 = eps sqrt(D)."""
    d, step, eps_max = 16, 0.01, 0.5
    weight = rng.standard_normal((2, d))
    bias = rng.standard_normal(2) * 0.1
    classifier = make_linear(weight, bias, (1, 4, 4))
    x = rng.random((48, 1, 4, 4), dtype=np.float32)
    x_before = x.copy()
    w = (weight[0] - weight[1]).astype(np.float32).astype(np.float64)
    margin = x.reshape(48, -1).astype(np.float64) @ w + (bias[0] - bias[1])
    eps_star = np.abs(margin) / np.abs(w).sum()
    eps_grid = step * np.ceil(eps_star / step)
    expected = np.where(
        eps_grid <= eps_max + 1e-9, eps_grid * np.sqrt(d) / np.linalg.norm(x.reshape(48, -1), axis=1), np.nan
    )
    got = minimal_fgsm_perturbations(classifier, x, eps_max=eps_max, eps_step=step)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_array_equal(x, x_before)
    flipped = ~np.isnan(expected)
    assert 0 < flipped.sum() < 48  # both cases are exercised
    with pytest.warns(UserWarning, match="do not flip"):
        mean = minimal_fgsm_robustness(classifier, x, eps_max=eps_max, eps_step=step)
    assert mean == pytest.approx(expected[flipped].mean(), rel=1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert minimal_fgsm_robustness(
            classifier, x[flipped], eps_max=eps_max, eps_step=step
        ) == pytest.approx(mean, rel=1e-6)
