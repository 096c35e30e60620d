"""Every ART evasion attack that accepts a PyTorchClassifier runs on a RetrofitClassifier.

Tiny budgets; the checks are the contract: shape, dtype, clip range, input unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from art.attacks.evasion import (
    AutoAttack,
    AutoProjectedGradientDescent,
    BasicIterativeMethod,
    CarliniL2Method,
    DeepFool,
    FastGradientMethod,
    HopSkipJump,
    ProjectedGradientDescentPyTorch,
    SaliencyMapMethod,
    SquareAttack,
    VirtualAdversarialMethod,
)
from torch import nn

from art_activation_defenses import RetrofitClassifier

ATTACKS: dict[str, Callable[[Any], Any]] = {
    "fgsm": lambda c: FastGradientMethod(c, eps=0.1),
    "bim": lambda c: BasicIterativeMethod(c, eps=0.1, eps_step=0.02, max_iter=3, verbose=False),
    "pgd-pytorch": lambda c: ProjectedGradientDescentPyTorch(
        c, eps=0.1, eps_step=0.02, max_iter=3, verbose=False
    ),
    "deepfool": lambda c: DeepFool(c, max_iter=3, verbose=False),
    "carlini-l2": lambda c: CarliniL2Method(c, max_iter=2, binary_search_steps=1, verbose=False),
    "jsma": lambda c: SaliencyMapMethod(c, theta=0.1, gamma=0.1, verbose=False),
    "vat": lambda c: VirtualAdversarialMethod(c, eps=0.1, max_iter=1, verbose=False),
    "autoattack": lambda c: AutoAttack(
        c,
        eps=0.1,
        eps_step=0.05,
        batch_size=8,
        attacks=[
            AutoProjectedGradientDescent(
                c, eps=0.1, eps_step=0.05, max_iter=3, nb_random_init=1, verbose=False
            ),
            AutoProjectedGradientDescent(
                c,
                eps=0.1,
                eps_step=0.05,
                max_iter=3,
                nb_random_init=1,
                loss_type="difference_logits_ratio",
                verbose=False,
            ),
        ],
    ),
    "square": lambda c: SquareAttack(c, eps=0.1, max_iter=5, nb_restarts=1, verbose=False),
    "hopskipjump": lambda c: HopSkipJump(
        c, max_iter=1, max_eval=20, init_eval=5, init_size=20, verbose=False
    ),
}

MODES: dict[str, dict[str, Any]] = {
    "exact": {"activation": "jumprelu", "kappa": 0.2},
    "bpda": {"activation": "jumprelu", "kappa": 0.2, "gradient": "bpda"},
    "eot": {
        "activation": "randomized-jumprelu",
        "kappa": 0.2,
        "gradient": "eot",
        "eot_samples": 2,
        "seed": 0,
    },
    "gray-box": {"activation": "jumprelu", "kappa": 0.2, "grad_params": {"kappa": 0.0}},
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("attack_name", sorted(ATTACKS))
def test_art_attack_runs_on_retrofit_classifier(
    attack_name: str, mode: str, tiny_model: nn.Module, digits: tuple[np.ndarray, ...]
) -> None:
    _, _, x_test, y_test = digits
    x = x_test[:8].copy()
    x_before = x.copy()
    y = np.eye(10, dtype=np.float32)[y_test[:8]]
    # ART's VAT insists on probability outputs: give it a softmax head (still retrofitted).
    model = nn.Sequential(tiny_model, nn.Softmax(dim=1)) if attack_name == "vat" else tiny_model
    clf = RetrofitClassifier(model, None, (1, 8, 8), 10, clip_values=(0.0, 1.0), **MODES[mode])
    attack = ATTACKS[attack_name](clf)
    x_adv = attack.generate(x, y=None if attack_name in ("vat", "hopskipjump") else y)
    assert x_adv.shape == x.shape
    assert x_adv.dtype == np.float32
    assert x_adv.min() >= -1e-6 and x_adv.max() <= 1.0 + 1e-6
    assert np.array_equal(x, x_before)
    assert np.isfinite(clf.predict(x_adv)).all()
