"""Accuracy vs PGD iterations: one run equals ART's PGD rerun at each checkpoint."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from art.attacks.evasion import ProjectedGradientDescentPyTorch
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.metrics import accuracy_vs_iterations

LinearFactory = Callable[..., PyTorchClassifier]


@pytest.mark.parametrize(("norm", "eps", "eps_step"), [("inf", 0.08, 0.02), (2, 0.5, 0.15)])
def test_one_run_equals_art_pgd_reruns(
    norm: Any, eps: float, eps_step: float, make_linear: LinearFactory, rng: np.random.Generator
) -> None:
    weight, bias = rng.standard_normal((3, 16)), rng.standard_normal(3)
    classifier = make_linear(weight, bias, (1, 4, 4), clip_values=(0.0, 1.0))
    x = rng.random((48, 1, 4, 4), dtype=np.float32)
    y = classifier.predict(x).argmax(1)
    x_before = x.copy()
    result = accuracy_vs_iterations(
        classifier, x, y, iterations=[5, 0, 1, 3], eps=eps, eps_step=eps_step, norm=norm
    )
    np.testing.assert_array_equal(x, x_before)
    assert result["iterations"] == [0, 1, 3, 5]
    assert result["accuracy"][0] == 1.0
    for n_iter, accuracy in zip(result["iterations"][1:], result["accuracy"][1:], strict=True):
        attack = ProjectedGradientDescentPyTorch(
            classifier, norm=norm, eps=eps, eps_step=eps_step, max_iter=n_iter, batch_size=64, verbose=False
        )
        x_adv = attack.generate(x, y=np.eye(3)[y])
        assert accuracy == pytest.approx(float((classifier.predict(x_adv).argmax(1) == y).mean()))
    assert result["accuracy"][-1] < 1.0  # the attack does something


def test_attack_runs_once(
    make_linear: LinearFactory, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    classifier = make_linear(rng.standard_normal((3, 16)), np.zeros(3), (1, 4, 4), clip_values=(0.0, 1.0))
    calls: list[int] = []
    original = classifier.loss_gradient

    def counting(x: Any, y: Any, **kwargs: Any) -> Any:
        calls.append(len(x))
        return original(x, y, **kwargs)

    monkeypatch.setattr(classifier, "loss_gradient", counting)
    x = rng.random((20, 1, 4, 4), dtype=np.float32)
    y = rng.integers(0, 3, 20)
    result = accuracy_vs_iterations(
        classifier, x, y, iterations=[2, 4, 8], eps=0.1, eps_step=0.02, batch_size=8, random_init=True
    )
    assert len(calls) == 8 * 3  # max(iterations) steps for each of the 3 batches, not one run per checkpoint
    assert len(result["accuracy"]) == 3


def test_bad_inputs_raise(make_linear: LinearFactory, rng: np.random.Generator) -> None:
    classifier = make_linear(rng.standard_normal((3, 16)), np.zeros(3), (1, 4, 4))
    x = rng.random((4, 1, 4, 4), dtype=np.float32)
    y = np.zeros(4, dtype=np.int64)
    kwargs: dict[str, Any] = {"eps": 0.1, "eps_step": 0.01}
    with pytest.raises(ValueError, match="`iterations`"):
        accuracy_vs_iterations(classifier, x, y, iterations=5, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`iterations`"):
        accuracy_vs_iterations(classifier, x, y, iterations=[-1], **kwargs)
    with pytest.raises(ValueError, match="`eps`"):
        accuracy_vs_iterations(classifier, x, y, iterations=[1], eps=0.0, eps_step=0.01)
    with pytest.raises(ValueError, match="`norm`"):
        accuracy_vs_iterations(classifier, x, y, iterations=[1], norm=3, **kwargs)
    with pytest.raises(ValueError, match="`y`"):
        accuracy_vs_iterations(classifier, x, y[:2], iterations=[1], **kwargs)
