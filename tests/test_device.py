"""Issue 15: nothing below the experiments hard-codes the CPU.

* ``device="cpu"`` and ``device="auto"`` give the same numbers on a machine without a GPU;
* a CUDA request on such a machine is a clear ``ValueError`` everywhere a ``device`` is taken;
* the tests marked ``device`` run on every device torch sees (the CPU, and CUDA when present:
  ``benchmarks/gpu_check.sh`` runs them on a GPU with ``-m device``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from art_activation_defenses._device import resolve_device
from art_activation_defenses.attacks import FMN, DeepFool, TorchView, TrustRegion, ZeroGradientPGD
from art_activation_defenses.defences import GaussianAugmentationTrainer, adversarial_augment
from art_activation_defenses.detectors import lid_features
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.metrics import nearest_training_distances
from art_activation_defenses.training import evaluate, fit, predict_logits

CUDA = torch.cuda.is_available()
DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(not CUDA, reason="no CUDA"))]
cpu_only = pytest.mark.skipif(CUDA, reason="'auto' is CUDA on this machine")

ATTACKS: dict[str, Callable[[Any], Any]] = {
    "deepfool-l2": lambda c: DeepFool(c, max_iter=20, batch_size=16, verbose=False),
    "deepfool-linf": lambda c: DeepFool(c, norm=np.inf, max_iter=20, batch_size=16, verbose=False),
    "trust-region": lambda c: TrustRegion(c, max_iter=20, batch_size=16, verbose=False),
    "fmn": lambda c: FMN(c, steps=20, binary_search_steps=3, batch_size=16, verbose=False),
    "pgd": lambda c: ZeroGradientPGD(c, eps=0.3, eps_step=0.05, max_iter=10, batch_size=16, verbose=False),
}


def _retrofit(model: nn.Module, device: str) -> RetrofitClassifier:
    return RetrofitClassifier(
        model, None, (1, 8, 8), 10, kappa=0.05, clip_values=(0.0, 1.0), device=device
    )  # copies the model: the session fixture stays on the CPU


@pytest.fixture()
def batch(digits: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    return digits[2][:32], digits[3][:32]


def _fit(digits: tuple[np.ndarray, ...], device: str | None) -> tuple[dict[str, Any], nn.Module]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    # no dropout: CUDA draws its masks from another generator than the CPU
    x, y = digits[0][:256], digits[1][:256]
    history = fit(model, x, y, epochs=3, batch_size=64, lr=1e-2, device=device, verbose=False)
    return history, model


# ------------------------------------------------------------------ "cpu" == "auto" here
@cpu_only
def test_training_cpu_and_auto_identical(digits: tuple[np.ndarray, ...]) -> None:
    (h_cpu, m_cpu), (h_auto, m_auto), (h_none, _) = (_fit(digits, d) for d in ("cpu", "auto", None))
    assert h_cpu["loss"] == h_auto["loss"] == h_none["loss"] and h_cpu["accuracy"] == h_auto["accuracy"]
    for a, b in zip(m_cpu.state_dict().values(), m_auto.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    x, y = digits[2][:64], digits[3][:64]
    assert evaluate(m_cpu, x, y, device="cpu") == evaluate(m_auto, x, y, device="auto")
    np.testing.assert_array_equal(predict_logits(m_cpu, x, device="cpu"), predict_logits(m_auto, x))


@cpu_only
@pytest.mark.parametrize("name", ["deepfool-l2", "fmn"])
def test_attack_cpu_and_auto_identical(name: str, tiny_model: nn.Module, batch: Any) -> None:
    x, y = batch
    out = [ATTACKS[name](_retrofit(tiny_model, d)).generate(x, y) for d in ("cpu", "auto")]
    np.testing.assert_array_equal(out[0], out[1])


@cpu_only
def test_lid_and_distances_cpu_and_auto_identical(tiny_model: nn.Module, batch: Any) -> None:
    x, _ = batch
    feats = [lid_features(_retrofit(tiny_model, d), x, x, k=5, batch_size=16) for d in ("cpu", "auto")]
    np.testing.assert_array_equal(feats[0], feats[1])
    dists = [nearest_training_distances(x[:8], x[8:], device=d) for d in ("cpu", "auto")]
    np.testing.assert_array_equal(dists[0], dists[1])


# ------------------------------------------------------------- CUDA without a GPU: ValueError
@cpu_only
def test_cuda_request_without_gpu_is_a_clear_error(tiny_model: nn.Module, batch: Any) -> None:
    x, y = batch
    clf = _retrofit(tiny_model, "cpu")
    model = copy.deepcopy(tiny_model)
    calls: list[Callable[[], Any]] = [
        lambda: resolve_device("cuda"),
        lambda: resolve_device("cuda:1"),
        lambda: fit(model, x, y, epochs=1, device="cuda", verbose=False),
        lambda: evaluate(model, x, y, device="cuda"),
        lambda: _retrofit(tiny_model, "cuda"),
        lambda: RetrofitClassifier.from_classifier(clf, device="cuda"),
        lambda: nearest_training_distances(x, x, device="cuda"),
        lambda: adversarial_augment(model, method="fgsm", eps=0.1, device="cuda"),
        lambda: GaussianAugmentationTrainer(clf, device="cuda"),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"`device` == 'cuda(:1)?', but torch sees no CUDA GPU"):
            call()
    assert next(model.parameters()).device.type == "cpu" and clf.device.type == "cpu"  # nothing moved
    with pytest.raises(ValueError, match="must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
        fit(model, x, y, device="tpu", verbose=False)


# ------------------------------------------------------------- on every device torch sees
@pytest.mark.device
@pytest.mark.parametrize("device", DEVICES)
def test_retrofit_predict_and_gradients_on(device: str, tiny_model: nn.Module, batch: Any) -> None:
    x, y = batch
    clf = _retrofit(tiny_model, device)
    assert clf.device.type == device and next(clf.model.parameters()).device.type == device
    assert TorchView(clf).device == clf.device
    ref = _retrofit(tiny_model, "cpu")
    np.testing.assert_allclose(clf.predict(x), ref.predict(x), atol=1e-4)
    np.testing.assert_allclose(clf.loss_gradient(x, y), ref.loss_gradient(x, y), atol=1e-4)
    np.testing.assert_allclose(clf.class_gradient(x, label=3), ref.class_gradient(x, label=3), atol=1e-4)
    clf.set_params(gradient="bpda")
    grad = clf.loss_gradient(x, y)
    assert isinstance(grad, np.ndarray) and grad.shape == x.shape and np.abs(grad).sum() > 0


@pytest.mark.device
@pytest.mark.parametrize("name", sorted(ATTACKS))
@pytest.mark.parametrize("device", DEVICES)
def test_our_attacks_on(device: str, name: str, tiny_model: nn.Module, batch: Any) -> None:
    x, y = batch
    x_adv = ATTACKS[name](_retrofit(tiny_model, device)).generate(x, y)
    assert x_adv.dtype == np.float32 and x_adv.shape == x.shape and np.isfinite(x_adv).all()
    assert x_adv.min() >= 0.0 and x_adv.max() <= 1.0
    ref = ATTACKS[name](_retrofit(tiny_model, "cpu")).generate(x, y)
    judge = _retrofit(tiny_model, "cpu")
    fooled = (judge.predict(x_adv).argmax(1) != y).mean()
    assert fooled >= 0.5  # a tiny MLP on digits: every attack fools most of the batch
    assert abs(fooled - (judge.predict(ref).argmax(1) != y).mean()) <= 2 / len(x)


@pytest.mark.device
@pytest.mark.parametrize("device", DEVICES)
def test_lid_on(device: str, tiny_model: nn.Module, batch: Any) -> None:
    x, _ = batch
    feats = lid_features(_retrofit(tiny_model, device), x, x, k=5, batch_size=16)
    ref = lid_features(_retrofit(tiny_model, "cpu"), x, x, k=5, batch_size=16)
    assert np.isfinite(feats).all()
    np.testing.assert_allclose(feats, ref, rtol=1e-3, atol=1e-4)


@pytest.mark.device
@pytest.mark.parametrize("device", DEVICES)
def test_fit_on(device: str, digits: tuple[np.ndarray, ...]) -> None:
    history, model = _fit(digits, device)
    assert next(model.parameters()).device.type == device
    assert all(np.isfinite(history["loss"])) and history["accuracy"][-1] > 0.3
    ref, _ = _fit(digits, "cpu")
    np.testing.assert_allclose(history["loss"], ref["loss"], rtol=1e-3)
    aug = adversarial_augment(model, method="pgd", eps=0.1, steps=2, seed=0)
    xb = torch.as_tensor(digits[0][:8], device=device)
    x_out, _ = aug(xb, torch.as_tensor(digits[1][:8], device=device))
    assert x_out.device.type == device and float((x_out - xb).abs().max()) <= 0.1 + 1e-6
