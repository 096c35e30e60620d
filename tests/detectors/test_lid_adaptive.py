"""The detector-aware attack on the LID detector (issue 16), on scikit-learn's digits."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from art.attacks.evasion import ProjectedGradientDescentPyTorch
from art.estimators.classification import PyTorchClassifier
from sklearn.metrics import roc_curve
from torch import nn

from art_activation_defenses.detectors import (
    AdaptiveLIDAttack,
    LIDDetector,
    SurrogateLID,
    TooFewNeighboursError,
    lid_auc,
    lid_verdict,
)
from art_activation_defenses.detectors.lid import threshold_at_fpr
from art_activation_defenses.estimators import RetrofitClassifier

EPS = 0.1
N = 150  # test images; 50 per LID minibatch, k = 10
LID: dict[str, Any] = {"k": 10, "batch_size": 50, "seed": 0}
ADAPTIVE = {"eps": EPS, "eps_step": 0.01, "max_iter": 30, "seed": 0}

Digits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@pytest.fixture(scope="module")
def classifier(tiny_model: nn.Module) -> PyTorchClassifier:
    return PyTorchClassifier(
        tiny_model, nn.CrossEntropyLoss(), (1, 8, 8), 10, clip_values=(0.0, 1.0), device_type="cpu"
    )


@pytest.fixture(scope="module")
def data(digits: Digits, classifier: PyTorchClassifier) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, y = digits[2][:N], digits[3][:N]
    x_adv = ProjectedGradientDescentPyTorch(
        classifier, eps=EPS, eps_step=EPS / 10, max_iter=20, verbose=False
    ).generate(x, y=y)
    return x, y, x_adv


@pytest.fixture(scope="module")
def result(classifier: PyTorchClassifier, data: tuple[np.ndarray, ...]) -> dict[str, Any]:
    x, y, x_adv = data
    return lid_auc(classifier, x, x_adv, y=y, adaptive=("pgd", "cw"), adaptive_params=ADAPTIVE, **LID)


def _fitted(classifier: PyTorchClassifier, data: tuple[np.ndarray, ...]) -> LIDDetector:
    x, y, x_adv = data
    keep = classifier.predict(x).argmax(1) == y
    detector = LIDDetector(classifier, x_reference=x[keep], k=10, batch_size=50)
    detector.fit(np.concatenate([x[keep], x_adv[keep]]), np.r_[np.zeros(keep.sum()), np.ones(keep.sum())])
    return detector


def test_surrogate_equals_exact_features_on_unperturbed_inputs(
    classifier: PyTorchClassifier, data: tuple[np.ndarray, ...], digits: Digits
) -> None:
    """Tolerance: 1e-6 relative on the LID features, 1e-9 on the detector probability (float32 layers)."""
    detector = _fitted(classifier, data)
    surrogate = SurrogateLID(classifier, detector)
    other = digits[2][N : N + 60]  # unperturbed images outside the reference set
    assert detector.x_reference is not None
    for x in (detector.x_reference, other):
        exact = detector.features(x)
        assert detector.scaler_ is not None and detector.model_ is not None
        proba = detector.model_.predict_proba(detector.scaler_.transform(exact))[:, 1]  # sklearn
        with surrogate.tap() as tap:
            parts = [
                surrogate(torch.as_tensor(x[q]), r, tap) for q, r in surrogate.query_plan(x.shape[0])
            ]
        feats = torch.cat([p[1] for p in parts]).detach().numpy()
        logit = torch.cat([p[2] for p in parts]).detach().numpy()
        np.testing.assert_allclose(feats, exact, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(1.0 / (1.0 + np.exp(-logit)), proba, rtol=0, atol=1e-9)
    x_q = torch.as_tensor(other[:50]).requires_grad_(True)
    with surrogate.tap() as tap:
        grad = torch.autograd.grad(surrogate(x_q, 0, tap)[2].sum(), x_q)[0]
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0  # differentiable in the query


def test_adaptive_attack_lowers_auc_and_keeps_misclassification(
    classifier: PyTorchClassifier, data: tuple[np.ndarray, ...], result: dict[str, Any]
) -> None:
    """Measured (150 digits, 42 test pairs, 30 steps of 0.01 in L∞ 0.1): AUC 0.959 against plain PGD,
    0.769 against the detector-aware PGD and 0.747 against the C&W variant; detection rate at 5% false
    positives 0.81 -> 0.45 / 0.45; misclassified 0.64 of the test pairs (both adaptive attacks) against
    0.66 of all kept pairs for plain PGD; success (misclassified and unflagged) 0.48 / 0.48."""
    x, y, x_adv = data
    keep = classifier.predict(x).argmax(1) == y
    plain_mis = float((classifier.predict(x_adv[keep]).argmax(1) != y[keep]).mean())
    assert result["auc"] > 0.9 and result["detection_rate_at_5fpr"] > 0.7
    for name in ("pgd", "cw"):
        ad = result["adaptive"][name]
        assert ad["auc"] < result["auc"] - 0.15, (name, ad, result["auc"])
        assert ad["misclassification_rate"] >= plain_mis - 0.05, (name, ad, plain_mis)
        assert ad["detection_rate_at_5fpr"] < result["detection_rate_at_5fpr"] - 0.2, (name, ad)
        assert ad["success_rate"] >= 0.4 and ad["linf"] <= EPS + 1e-6, (name, ad)
    assert f"{result['adaptive']['pgd']['success_rate']:.0%}" in result["verdict"]


def test_detection_rate_matches_sklearn_roc_curve(result: dict[str, Any]) -> None:
    fpr, tpr = np.asarray(result["fpr"]), np.asarray(result["tpr"])
    assert result["detection_rate_at_5fpr"] == pytest.approx(tpr[fpr <= 0.05].max())
    scores = np.array([0.9, 0.1, 0.2, 0.3, 0.8])
    assert threshold_at_fpr(scores, 0.2) == 0.8  # one of five may lie above: the 2nd largest
    fpr2, tpr2, thr = roc_curve(np.r_[np.zeros(5), 1], np.r_[scores, 0.85], drop_intermediate=False)
    assert tpr2[fpr2 <= 0.2].max() == float(0.85 > threshold_at_fpr(scores, 0.2))


def test_attack_on_jumprelu_restores_state_and_leaves_inputs(
    tiny_model: nn.Module, data: tuple[np.ndarray, ...]
) -> None:
    x, y, x_adv = data
    clf = RetrofitClassifier(
        tiny_model, nn.CrossEntropyLoss(), (1, 8, 8), 10, activation="jumprelu", kappa=0.2,
        clip_values=(0.0, 1.0), device_type="cpu",
    )  # fmt: skip
    clf.set_params(grad_params={"kappa": 0.0})  # gray-box setting, must be put back
    detector = _fitted(clf, (x, y, x_adv))
    x_copy = x.copy()
    out = AdaptiveLIDAttack(clf, detector, max_iter=3).generate(x, y)
    assert out.dtype == np.float32 and out.shape == x.shape and np.array_equal(x, x_copy)
    assert np.abs(out - x).max() <= 0.1 + 1e-6 and out.min() >= 0.0 and out.max() <= 1.0
    assert all(m.grad_mode == "exact" and m.grad_params == {"kappa": 0.0} for m in clf.activation_modules)
    assert not tiny_model.training


def test_bad_parameters_raise(classifier: PyTorchClassifier, data: tuple[np.ndarray, ...]) -> None:
    x, y, x_adv = data
    unfitted = LIDDetector(classifier, x_reference=x, k=10, batch_size=50)
    with pytest.raises(ValueError, match="not fitted"):
        AdaptiveLIDAttack(classifier, unfitted)
    with pytest.raises(TypeError, match="`detector` must be a fitted LIDDetector"):
        AdaptiveLIDAttack(classifier, object())  # type: ignore[arg-type]
    detector = _fitted(classifier, data)
    for kwargs, match in (
        ({"loss": "hinge"}, r"`loss` == 'hinge', must be one of"),
        ({"eps": -0.1}, r"^`eps` == -0.1, must be > 0\.$"),
        ({"max_iter": 0}, r"`max_iter` == 0, must be >= 1"),
        ({"confidence": float("nan")}, "`confidence`"),
    ):
        with pytest.raises(ValueError, match=match):
            AdaptiveLIDAttack(classifier, detector, **kwargs)
    attack = AdaptiveLIDAttack(classifier, detector, max_iter=1)
    with pytest.raises(ValueError, match="sample shape"):
        attack.generate(x[:, :, :4])
    with pytest.raises(ValueError, match="unexpected keyword"):
        attack.generate(x, y, mask=None)
    with pytest.raises(ValueError, match="`adaptive` entries must be in"):
        lid_auc(classifier, x, x_adv, y=y, adaptive=("fgsm",), **LID)
    with pytest.raises(TooFewNeighboursError, match="more `x_clean` samples"):
        lid_auc(classifier, x[:40], x_adv[:40], y=y[:40], k=40, batch_size=50)


def test_verdict_wording() -> None:
    base = {"auc": 0.95}
    assert "no detector-aware attack" in lid_verdict(base)
    evaded = {**base, "adaptive": {"pgd": {"auc": 0.5, "detection_rate_at_5fpr": 0.05, "success_rate": 0.7}}}
    assert lid_verdict(evaded).startswith("EVADED") and "70%" in lid_verdict(evaded)
    holds = {**base, "adaptive": {"cw": {"auc": 0.9, "detection_rate_at_5fpr": 0.8, "success_rate": 0.1}}}
    assert lid_verdict(holds).startswith("Not evaded")
