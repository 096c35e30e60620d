"""``adversarial_augment``: the batch it returns against a hand-written FGSM / PGD, bounds, side
effects on the model, reproducibility, and the benefit of training with it."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from art_activation_defenses.defences import adversarial_augment
from art_activation_defenses.training import evaluate, fit

Digits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _batch(digits: Digits, n: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = digits[2][:n], digits[3][:n]
    return torch.from_numpy(x.copy()), torch.from_numpy(y.copy())


def _with_dropout(model: nn.Module) -> nn.Module:
    return nn.Sequential(*copy.deepcopy(model), nn.Dropout(0.5)).train()


def test_fgsm_half_of_the_batch(digits: Digits, tiny_model: nn.Module) -> None:
    model = _with_dropout(tiny_model)
    xb, yb = _batch(digits)
    x_before = xb.clone()
    x_out, y_out = adversarial_augment(model, method="fgsm", eps=0.1, ratio=0.5)(xb, yb)
    # reference: FGSM on the eval-mode model (dropout off), written out by hand
    x0 = x_before[:20].clone().requires_grad_(True)
    model.eval()
    nn.functional.cross_entropy(model(x0), yb[:20]).backward()
    expected = (x_before[:20] + 0.1 * x0.grad.sign()).clamp(0.0, 1.0)
    torch.testing.assert_close(x_out[:20], expected)
    assert torch.equal(x_out[20:], x_before[20:]) and torch.equal(y_out, yb)
    assert torch.equal(xb, x_before)  # the caller's batch is not modified in place


def test_model_state_is_untouched(digits: Digits, tiny_model: nn.Module) -> None:
    model = _with_dropout(tiny_model)
    weights = copy.deepcopy(model.state_dict())
    xb, yb = _batch(digits)
    adversarial_augment(model, method="pgd", eps=0.1, steps=3)(xb, yb)
    assert model.training  # training mode restored after crafting in eval mode
    assert all(p.grad is None for p in model.parameters())  # only input gradients were taken
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("eps", [0.05, 0.2])
def test_pgd_stays_in_the_ball_and_the_box(digits: Digits, tiny_model: nn.Module, eps: float) -> None:
    xb, yb = _batch(digits)
    x_out, _ = adversarial_augment(tiny_model, method="pgd", eps=eps, steps=5, ratio=1.0, seed=3)(xb, yb)
    delta = (x_out - xb).abs().amax(dim=(1, 2, 3))
    assert float(delta.max()) <= eps + 1e-6 and float(x_out.min()) >= 0.0 and float(x_out.max()) <= 1.0
    assert float(delta.mean()) > 0.5 * eps  # the iterates really move towards the boundary of the ball
    # stronger than FGSM at the same budget on this model
    x_fgsm, _ = adversarial_augment(tiny_model, method="fgsm", eps=eps, ratio=1.0)(xb, yb)
    with torch.no_grad():
        acc_pgd = float((tiny_model(x_out).argmax(1) == yb).float().mean())
        acc_fgsm = float((tiny_model(x_fgsm).argmax(1) == yb).float().mean())
    assert acc_pgd <= acc_fgsm


def test_pgd_is_seeded(digits: Digits, tiny_model: nn.Module) -> None:
    xb, yb = _batch(digits)

    def run(seed: int) -> torch.Tensor:
        return adversarial_augment(tiny_model, method="pgd", eps=0.1, steps=2, ratio=1.0, seed=seed)(xb, yb)[
            0
        ]

    assert torch.equal(run(1), run(1)) and not torch.equal(run(1), run(2))


def test_training_with_it_buys_fgsm_robustness(digits: Digits) -> None:
    x_train, y_train, x_test, y_test = digits

    def train(augment: bool) -> nn.Module:
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
        kw: dict[str, Any] = {}
        if augment:
            kw["augment"] = adversarial_augment(model, method="fgsm", eps=0.15, ratio=0.5)
        fit(model, x_train, y_train, epochs=15, lr=1e-2, batch_size=64, seed=0, verbose=False, **kw)
        return model.eval()

    def fgsm_acc(model: nn.Module) -> float:
        x, y = torch.from_numpy(x_test), torch.from_numpy(y_test)
        x_adv, _ = adversarial_augment(model, method="fgsm", eps=0.15, ratio=1.0)(x, y)
        return evaluate(model, x_adv.numpy(), y_test)

    plain, robust = train(False), train(True)
    assert evaluate(robust, x_test, y_test) > 0.85
    assert fgsm_acc(robust) > fgsm_acc(plain) + 0.2  # measured: 0.544 vs 0.123 (seed 0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "bim", "eps": 0.1}, "method"),
        ({"method": "fgsm", "eps": 0.0}, "eps"),
        ({"method": "pgd", "eps": 0.1, "steps": 0}, "steps"),
        ({"method": "fgsm", "eps": 0.1, "ratio": 0.0}, "ratio"),
        ({"method": "fgsm", "eps": 0.1, "ratio": 1.5}, "ratio"),
    ],
)
def test_bad_parameters(tiny_model: nn.Module, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        adversarial_augment(tiny_model, **kwargs)
