"""The attacks on a ``RetrofitClassifier`` in every gradient mode (gray-box included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from torch import nn

from art_activation_defenses.attacks import RFGSM, DeepFool, StepLL, TrustRegion, ZeroGradientPGD

ATTACKS: dict[str, Callable[[Any], Any]] = {
    "deepfool": lambda c: DeepFool(c, max_iter=20, verbose=False),
    "trust-region": lambda c: TrustRegion(c, max_iter=50, verbose=False),
    "rfgsm": lambda c: RFGSM(c, eps=0.2, verbose=False),
    "stepll": lambda c: StepLL(c, 0.2, max_iter=3, verbose=False),
    "zero-gradient-pgd": lambda c: ZeroGradientPGD(c, eps=0.2, max_iter=5, verbose=False),
}

MODES: dict[str, dict[str, Any]] = {
    "exact": {"activation": "jumprelu", "kappa": 0.1, "gradient": "exact"},
    "bpda": {"activation": "jumprelu", "kappa": 0.1, "gradient": "bpda"},
    "eot": {"activation": "randomized-jumprelu", "kappa": 0.1, "gradient": "eot", "eot_samples": 2},
    "gray-box": {"activation": "jumprelu", "kappa": 0.1, "grad_params": {"kappa": 0.0}},
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attacks_run_on_retrofit_classifier(
    name: str, mode: str, trained_model: nn.Module, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    module = pytest.importorskip("art_activation_defenses.estimators.retrofit_classifier")
    clf = module.RetrofitClassifier(
        trained_model, nn.CrossEntropyLoss(), (1, 8, 8), 10, clip_values=(0.0, 1.0), **MODES[mode]
    )
    x, y = test_batch
    x = x[:12]
    x_before = x.copy()
    x_adv = ATTACKS[name](clf).generate(x, y[:12])
    np.testing.assert_array_equal(x, x_before)
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape
    assert 0.0 <= x_adv.min() and x_adv.max() <= 1.0
    assert not np.array_equal(x_adv, x)
