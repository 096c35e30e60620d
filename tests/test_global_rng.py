"""No public call reseeds or advances a global RNG it does not own (issue 11, finding 9): torch's,
numpy's legacy and Python's ``random`` states are the same before and after every call."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from art_activation_defenses.activations import retrofit
from art_activation_defenses.activations.functional import randomized_jump_relu
from art_activation_defenses.activations.modules import RandomizedJumpReLU
from art_activation_defenses.attacks import (
    FMNL2,
    RFGSM,
    DeepFoolL2,
    DeepFoolLinf,
    FMNLinf,
    StepLL,
    TrustRegion,
    ZeroGradientPGD,
)
from art_activation_defenses.data import load_dataset
from art_activation_defenses.detectors import LIDDetector
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import audit


def _states() -> tuple[torch.Tensor, Any, object]:
    return torch.get_rng_state(), np.random.get_state(), random.getstate()  # noqa: NPY002


def _assert_untouched(call: Callable[[], object]) -> object:
    torch_before, np_before, py_before = _states()
    out = call()
    torch_after, np_after, py_after = _states()
    assert torch.equal(torch_before, torch_after), "torch's global RNG changed"
    assert np_before[0] == np_after[0] and np.array_equal(np_before[1], np_after[1])
    assert np_before[2:] == np_after[2:], "numpy's global RNG changed"
    assert py_before == py_after, "Python's random state changed"
    return out


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3)).eval()


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((24, 1, 4, 4), dtype=np.float32), rng.integers(0, 3, 24)


def _clf(activation: str = "jumprelu", model: nn.Module | None = None, **kw: object) -> RetrofitClassifier:
    return RetrofitClassifier(
        _model() if model is None else model,
        None,
        (1, 4, 4),
        3,
        activation=activation,
        clip_values=(0.0, 1.0),
        device_type="cpu",
        **kw,  # type: ignore[arg-type]
    )


def test_estimator_and_retrofit_calls() -> None:
    x, y = _data()
    model = _model()
    _assert_untouched(lambda: retrofit(model, "randomized-jumprelu", kappa=0.5))
    clf = _assert_untouched(lambda: _clf(model=model, kappa=0.1))
    assert isinstance(clf, RetrofitClassifier)
    _assert_untouched(lambda: clf.predict(x))
    _assert_untouched(lambda: clf.loss_gradient(x, y))
    for seed in (None, 3):
        rnd = _assert_untouched(lambda s=seed: _clf("randomized-jumprelu", model=model, kappa=0.5, seed=s))  # type: ignore[misc]
        assert isinstance(rnd, RetrofitClassifier)
        _assert_untouched(lambda r=rnd: r.predict(x))  # type: ignore[misc]
        _assert_untouched(lambda r=rnd: r.loss_gradient(x, y))  # type: ignore[misc]
    module = RandomizedJumpReLU(kappa=0.5)  # no generator given: a private one
    _assert_untouched(lambda: module(torch.ones(3)))
    _assert_untouched(lambda: randomized_jump_relu(torch.ones(3), 0.5))  # no generator: private entropy
    _assert_untouched(lambda: load_dataset("digits", split="test", limit=5))


ATTACKS: list[tuple[str, Callable[..., object]]] = [
    ("deepfool-l2", lambda c, s: DeepFoolL2(c, max_iter=3, verbose=False)),
    ("deepfool-linf", lambda c, s: DeepFoolLinf(c, max_iter=3, verbose=False)),
    ("fmn-l2", lambda c, s: FMNL2(c, steps=3, seed=s, verbose=False)),
    ("fmn-linf", lambda c, s: FMNLinf(c, steps=3, seed=s, verbose=False)),
    ("rfgsm", lambda c, s: RFGSM(c, eps=0.1, seed=s, verbose=False)),
    ("stepll", lambda c, s: StepLL(c, eps=0.1, verbose=False)),
    ("trust-region", lambda c, s: TrustRegion(c, max_iter=3, verbose=False)),
    ("zero-gradient-pgd", lambda c, s: ZeroGradientPGD(c, eps=0.1, max_iter=3, verbose=False)),
]


@pytest.mark.parametrize("seed", [None, 1])
@pytest.mark.parametrize("name,make", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_attacks_leave_global_rngs_alone(name: str, make: Callable[..., object], seed: int | None) -> None:
    x, y = _data()
    clf = _clf(kappa=0.0)
    attack = make(clf, seed)
    out = _assert_untouched(lambda: attack.generate(x[:6], y=y[:6]))  # type: ignore[attr-defined]
    assert isinstance(out, np.ndarray) and out.shape == (6, 1, 4, 4)


def test_lid_and_audit_leave_global_rngs_alone() -> None:
    x, _ = _data()
    clf = _clf(kappa=0.0)
    x_adv = np.clip(x + 0.1, 0.0, 1.0).astype(np.float32)
    det = LIDDetector(clf, k=3, batch_size=8)
    xs, labels = np.concatenate([x, x_adv]), np.r_[np.zeros(24, int), np.ones(24, int)]
    _assert_untouched(lambda: det.fit(xs, labels))
    _assert_untouched(lambda: det.detect(x_adv))
    y = clf.predict(x).argmax(1)
    _assert_untouched(
        lambda: audit(clf, None, x[:8], y[:8], budget="quick", attacks=["pgd"], checks=False, verbose=False)
    )
    # with an original model: a plain ART PyTorchClassifier, whose DataLoader-based predict draws
    # from torch's global RNG; the audit must put the caller's state back
    _assert_untouched(
        lambda: audit(
            clf, clf.model, x[:8], y[:8], budget="quick", attacks=["pgd"], checks=False, verbose=False
        )
    )
