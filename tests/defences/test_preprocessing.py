"""ART's FeatureSqueezing and LabelSmoothing, wired to our estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from art.attacks.evasion import FastGradientMethod

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.defences import smooth_labels, with_feature_squeezing

Digits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def test_feature_squeezing_composes_with_retrofit_classifier(
    digits: Digits, tiny_model: torch.nn.Module
) -> None:
    x = digits[2][:32]
    clf = RetrofitClassifier(
        tiny_model, input_shape=(1, 8, 8), nb_classes=10, activation="jumprelu", kappa=0.5,
        clip_values=(0.0, 1.0), device_type="cpu",
    )  # fmt: skip
    squeezed = with_feature_squeezing(clf, 1)
    assert isinstance(squeezed, RetrofitClassifier) and squeezed is not clf
    assert not clf.preprocessing_defences  # the original is untouched
    np.testing.assert_allclose(squeezed.predict(x), clf.predict(np.rint(x)), rtol=1e-5, atol=1e-5)
    squeezed.set_params(kappa=0.0)  # still our estimator: activation parameters settable
    assert squeezed.activation_params == {"kappa": 0.0} and clf.activation_params == {"kappa": 0.5}
    x_adv = FastGradientMethod(squeezed, eps=0.1).generate(x)  # ART: identity gradient through the squeezer
    assert x_adv.shape == x.shape and np.abs(x_adv - x).max() <= 0.1 + 1e-6


def test_feature_squeezing_three_bits(make_classifier: Any) -> None:
    clf = make_classifier()
    squeezed = with_feature_squeezing(clf, 3)
    x = np.random.default_rng(0).random((4, 1, 8, 8), dtype=np.float32)
    np.testing.assert_allclose(squeezed.predict(x), clf.predict(np.rint(x * 7) / 7), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("bits", "match"), [(0, "bit_depth"), (65, "bit_depth"), (1.5, "bit_depth")])
def test_feature_squeezing_bad_input(bits: Any, match: str, make_classifier: Any) -> None:
    with pytest.raises(ValueError, match=match):
        with_feature_squeezing(make_classifier(), bits)


def test_smooth_labels_closed_form() -> None:
    y = np.array([0, 3, 9])
    smooth = smooth_labels(y, 10, max_value=0.9)
    expected = np.full((3, 10), 0.1 / 9, dtype=np.float32)
    expected[np.arange(3), y] = 0.9
    np.testing.assert_allclose(smooth, expected, rtol=1e-6)
    np.testing.assert_allclose(smooth_labels(np.eye(10)[y], 10), smooth)  # one-hot input too
    with pytest.raises(ValueError, match="max_value"):
        smooth_labels(y, 10, max_value=1.5)
    with pytest.raises(ValueError, match="`y`"):
        smooth_labels(np.array([0, 10]), 10)
