"""The attacks on a ``RetrofitClassifier`` in every gradient mode (gray-box included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
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


# -- the gradients of each mode against a reference written here --------------------------------


def _reference_loss_gradient(
    model: nn.Module, act: Callable[[torch.Tensor], torch.Tensor], x: np.ndarray, y: np.ndarray
) -> np.ndarray:
    """Gradient of the mean cross-entropy (ART's loss) of ``model`` (a Sequential) with every
    ``nn.ReLU`` replaced by ``act``, by plain autograd."""
    xt = torch.from_numpy(x).requires_grad_(True)
    h = xt
    for layer in model.children():
        h = act(h) if isinstance(layer, nn.ReLU) else layer(h)
    nn.functional.cross_entropy(h, torch.from_numpy(y)).backward()
    assert xt.grad is not None
    return xt.grad.numpy()


def _jump(kappa: float) -> Callable[[torch.Tensor], torch.Tensor]:
    return lambda z: z * (z > kappa).to(z.dtype)


def _straight_through(kappa: float) -> Callable[[torch.Tensor], torch.Tensor]:
    """JumpReLU's value, ReLU's derivative: relu(z) + (jump(z) - relu(z)) with the bracket detached."""
    return lambda z: torch.relu(z) + (_jump(kappa)(z) - torch.relu(z)).detach()


def _assert_same_gradient(got: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * float(np.abs(expected).max()))


def _clearly_different(a: np.ndarray, b: np.ndarray) -> bool:
    return float(np.linalg.norm(a - b)) > 0.1 * float(np.linalg.norm(b))


def _retrofit_classifier(model: nn.Module, **kwargs: Any) -> Any:
    module = pytest.importorskip("art_activation_defenses.estimators.retrofit_classifier")
    return module.RetrofitClassifier(
        model, nn.CrossEntropyLoss(), (1, 8, 8), 10, clip_values=(0.0, 1.0), device_type="cpu", **kwargs
    )


# measured on the 32 test digits: 39% of the positive conv pre-activations of the tiny CNN and 3% of
# the hidden fully-connected ones lie in (0, 0.5], where JumpReLU and ReLU differ
KAPPA = 0.5


def test_bpda_gradient_is_the_relu_derivative_through_the_defended_forward(
    trained_model: nn.Module, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = test_batch
    clf = _retrofit_classifier(trained_model, activation="jumprelu", kappa=KAPPA, gradient="bpda")
    expected = _reference_loss_gradient(trained_model, _straight_through(KAPPA), x, y)
    exact = _reference_loss_gradient(trained_model, _jump(KAPPA), x, y)
    assert _clearly_different(expected, exact)  # so returning the exact gradient cannot pass
    _assert_same_gradient(clf.loss_gradient(x, y), expected)
    # the same through the model itself, the path our attacks and ART's APGD differentiate
    xt = torch.from_numpy(x).requires_grad_(True)
    nn.functional.cross_entropy(clf.model(xt), torch.from_numpy(y)).backward()
    assert xt.grad is not None
    _assert_same_gradient(xt.grad.numpy(), expected)
    # forward values stay the defence's
    with torch.no_grad():
        h = torch.from_numpy(x)
        for layer in trained_model.children():
            h = _jump(KAPPA)(h) if isinstance(layer, nn.ReLU) else layer(h)
    np.testing.assert_allclose(clf.predict(x), h.numpy(), rtol=1e-5, atol=1e-5)


def test_exact_gradient_is_the_jumprelu_derivative(
    trained_model: nn.Module, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = test_batch
    clf = _retrofit_classifier(trained_model, activation="jumprelu", kappa=KAPPA, gradient="exact")
    expected = _reference_loss_gradient(trained_model, _jump(KAPPA), x, y)
    _assert_same_gradient(clf.loss_gradient(x, y), expected)


def test_eot_gradient_is_the_mean_of_per_draw_gradients(
    trained_model: nn.Module, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    """Same seed, same draws: one EOT gradient of 4 draws equals the mean of 4 single-draw gradients."""
    x, y = test_batch
    x, y = x[:16], y[:16]
    params: dict[str, Any] = {"activation": "randomized-jumprelu", "kappa": KAPPA, "seed": 7}
    eot = _retrofit_classifier(trained_model, gradient="eot", eot_samples=4, **params)
    single = _retrofit_classifier(trained_model, gradient="exact", **params)
    draws = [single.loss_gradient(x, y) for _ in range(4)]
    assert all(_clearly_different(draws[0], d) for d in draws[1:])  # the draws differ
    mean = np.mean(draws, axis=0)
    assert _clearly_different(draws[0], mean)
    _assert_same_gradient(eot.loss_gradient(x, y), mean)


def test_gray_box_gradient_is_the_gradient_at_grad_params(
    trained_model: nn.Module, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = test_batch
    clf = _retrofit_classifier(trained_model, activation="jumprelu", kappa=KAPPA, grad_params={"kappa": 0.1})
    expected = _reference_loss_gradient(trained_model, _jump(0.1), x, y)
    assert _clearly_different(expected, _reference_loss_gradient(trained_model, _jump(KAPPA), x, y))
    _assert_same_gradient(clf.loss_gradient(x, y), expected)
    with torch.no_grad():  # predictions keep kappa = KAPPA
        h = torch.from_numpy(x)
        for layer in trained_model.children():
            h = _jump(KAPPA)(h) if isinstance(layer, nn.ReLU) else layer(h)
    np.testing.assert_allclose(clf.predict(x), h.numpy(), rtol=1e-5, atol=1e-5)
