"""Devices in the evaluation layer and the demo: wrappers and surrogates follow the classifier's
device, the demo's ``device`` is validated before any training, and (where a GPU is visible) the
shared cells run on it with the CPU's numbers."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.evaluation import audit, audit_cell, train_surrogate, tune_kappa
from art_activation_defenses.evaluation._attacks import as_classifier
from art_activation_defenses.experiments import DemoConfig

Digits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
CUDA = torch.cuda.is_available()


def _retrofit(model: nn.Module, device_type: str = "cpu", **params: float) -> RetrofitClassifier:
    return RetrofitClassifier(
        model, input_shape=(1, 8, 8), nb_classes=10, activation="jumprelu", clip_values=(0.0, 1.0),
        device_type=device_type, **params,
    )  # fmt: skip


def test_wrapper_and_surrogate_follow_the_classifier_device(tiny_model: nn.Module, digits: Digits) -> None:
    like = _retrofit(copy.deepcopy(tiny_model))
    wrapped = as_classifier(copy.deepcopy(tiny_model), like)
    assert isinstance(wrapped, PyTorchClassifier) and wrapped.device == like.device
    assert next(wrapped.model.parameters()).device == like.device
    surrogate, agree = train_surrogate(like, tiny_model, digits[2][:32], epochs=1, copies=0, seed=0)
    assert surrogate.device == like.device and 0.0 <= agree <= 1.0
    assert next(tiny_model.parameters()).device.type == "cpu"  # the architecture given is untouched


@pytest.mark.parametrize(
    ("device", "match"),
    [("tpu", "device"), pytest.param("cuda", "CUDA", marks=pytest.mark.skipif(CUDA, reason="GPU here"))],
)
def test_demo_device_is_validated_before_training(device: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DemoConfig(device=device).resolved()
    assert DemoConfig(device="cpu").resolved().device == "cpu"


@pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")
def test_cells_on_the_gpu_match_the_cpu(tiny_model: nn.Module, digits: Digits) -> None:
    x, y = digits[2][:64], digits[3][:64]
    out = {}
    for device_type in ("cpu", "gpu"):
        clf = _retrofit(copy.deepcopy(tiny_model), device_type, kappa=0.5)
        source = _retrofit(copy.deepcopy(tiny_model), device_type)
        cell = audit_cell(clf, source, x, y, eps=0.1, eps_step=0.025, max_iter=5, batch_size=64)
        res = tune_kappa(clf, x, y, [0.0, 0.5], verbose=False)
        assert next(clf.model.parameters()).device.type == ("cpu" if device_type == "cpu" else "cuda")
        out[device_type] = (cell, res)
    (cell_cpu, res_cpu), (cell_gpu, res_gpu) = out["cpu"], out["gpu"]
    for key in ("white_acc", "bpda_acc", "robust_acc"):
        assert cell_gpu[key] == pytest.approx(cell_cpu[key], abs=2 / len(x)), key  # a sample or two
    assert res_gpu["accuracy"] == pytest.approx(res_cpu["accuracy"], abs=2 / len(x))
    assert res_gpu["rho"] == pytest.approx(res_cpu["rho"], rel=0.05)


def test_audit_device_cpu_equals_default_and_cuda_is_refused(tiny_model: nn.Module, digits: Digits) -> None:
    x, y = digits[2][:24], digits[3][:24]
    kw = {"eps": 0.1, "budget": "quick", "attacks": ("pgd",), "minimal": False, "checks": False,
          "verbose": False, "seed": 0}  # fmt: skip
    plain = audit(_retrofit(copy.deepcopy(tiny_model), kappa=0.3), tiny_model, x, y, **kw)
    on_cpu = audit(_retrofit(copy.deepcopy(tiny_model), kappa=0.3), tiny_model, x, y, device="cpu", **kw)
    assert on_cpu["per_sample_robust"] == plain["per_sample_robust"]
    assert on_cpu["ensemble"] == plain["ensemble"]
    if not CUDA:
        with pytest.raises(ValueError, match="CUDA"):
            audit(_retrofit(copy.deepcopy(tiny_model), kappa=0.3), tiny_model, x, y, device="cuda", **kw)
