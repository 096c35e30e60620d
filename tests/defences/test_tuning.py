"""``tune_kappa``: curve shape, the choice respects the accuracy budget, state restored, bad input."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.attacks import DeepFool
from art_activation_defenses.defences import plot_tradeoff, tune_kappa

Digits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _retrofit(model: torch.nn.Module, activation: str = "jumprelu", **params: float) -> RetrofitClassifier:
    return RetrofitClassifier(
        model, input_shape=(1, 8, 8), nb_classes=10, activation=activation, clip_values=(0.0, 1.0),
        device_type="cpu", **params,
    )  # fmt: skip


@pytest.fixture(scope="module")
def jump_result(digits: Digits, tiny_model: torch.nn.Module) -> tuple[dict[str, Any], RetrofitClassifier]:
    clf = _retrofit(tiny_model, kappa=0.3)
    clf.set_params(grad_params={"kappa": 0.1})  # gray-box settings, to check they are restored
    result = tune_kappa(clf, digits[2][:64], digits[3][:64], [0.0, 0.5, 1.0, 2.0], verbose=False)
    return result, clf


def test_curve_shape_and_choice(jump_result: tuple[dict[str, Any], RetrofitClassifier]) -> None:
    result, _ = jump_result
    assert result["param"] == "kappa" and result["values"] == [0.0, 0.5, 1.0, 2.0]
    for key in ("accuracy", "rho", "fool_rate", "rho_bpda", "fool_rate_bpda", "admissible"):
        assert len(result[key]) == 4, key
    # kappa = 0 is ReLU: the reference accuracy is the first point of the curve
    assert result["reference_value"] == 0.0 and result["accuracy"][0] == result["reference_accuracy"]
    assert all(0.0 <= a <= 1.0 for a in result["accuracy"])
    assert all(r > 0 for r in result["rho"] if not math.isnan(r))
    budget = result["reference_accuracy"] - result["max_accuracy_drop"]
    assert result["admissible"] == [a >= budget - 1e-12 for a in result["accuracy"]]
    i = result["chosen_index"]
    assert i is not None and result["chosen"] == result["values"][i]
    assert result["accuracy"][i] >= budget - 1e-12
    # the default choice is the worst case of white-box and BPDA rho ("min")
    assert result["select_by"] == "min"
    worst = [min(w, b) for w, b in zip(result["rho"], result["rho_bpda"], strict=True)]
    best = max(r for r, ok in zip(worst, result["admissible"], strict=True) if ok)
    assert worst[i] == best


def test_state_restored(jump_result: tuple[dict[str, Any], RetrofitClassifier]) -> None:
    _, clf = jump_result
    assert clf.activation_params == {"kappa": 0.3} and clf.gradient == "exact"
    assert clf.grad_params == {"kappa": 0.1}


def test_budget_zero_and_large_drop(digits: Digits, tiny_model: torch.nn.Module) -> None:
    clf = _retrofit(tiny_model)
    x, y = digits[2][:48], digits[3][:48]
    strict = tune_kappa(clf, x, y, [0.0, 3.0], max_accuracy_drop=0.0, bpda=False, verbose=False)
    assert all(math.isnan(v) for v in strict["rho_bpda"])
    assert strict["accuracy"][1] < strict["accuracy"][0]  # kappa 3 destroys this tiny MLP
    assert strict["chosen"] == 0.0
    with pytest.warns(UserWarning, match="nothing chosen"):
        none = tune_kappa(clf, x, y, [3.0], max_accuracy_drop=0.0, bpda=False, verbose=False)
    assert none["chosen"] is None and none["chosen_index"] is None


@pytest.mark.parametrize(
    ("activation", "param", "values", "reference"),
    [
        ("srelu", "alpha", [1.0, 10.0], 1.0),
        ("capped", "beta", [math.inf, 2.0], math.inf),
        ("brelu", "t", [1.0], math.inf),
    ],
)
def test_any_registered_parameter(
    activation: str,
    param: str,
    values: list[float],
    reference: float,
    digits: Digits,
    tiny_model: torch.nn.Module,
) -> None:
    clf = _retrofit(tiny_model, activation)
    before = clf.activation_params
    res = tune_kappa(
        clf, digits[2][:32], digits[3][:32], values, max_accuracy_drop=1.0, bpda=False, verbose=False
    )
    assert res["param"] == param and res["reference_value"] == reference
    assert len(res["accuracy"]) == len(values)
    # a budget of 1.0 admits every value, so the choice is the most robust one
    assert all(res["admissible"])
    assert res["chosen"] == values[int(np.nanargmax(res["rho"]))]
    assert clf.activation_params == before


def test_callable_attack_and_plot(digits: Digits, tiny_model: torch.nn.Module, tmp_path: Path) -> None:
    clf = _retrofit(tiny_model)

    def attack(c: RetrofitClassifier) -> DeepFool:
        return DeepFool(c, norm=np.inf, max_iter=20, verbose=False)

    res = tune_kappa(
        clf, digits[2][:32], digits[3][:32], [0.0, 1.0], attack=attack, select_by="min", verbose=False
    )
    assert res["attack"] == "attack" and res["select_by"] == "min"
    path = plot_tradeoff(res, tmp_path / "sub" / "tradeoff.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kappas": []}, "kappas"),
        ({"kappas": [float("nan")]}, "kappas"),
        ({"kappas": [-1.0]}, "kappa"),
        ({"param": "t"}, "param"),
        ({"max_accuracy_drop": -0.1}, "max_accuracy_drop"),
        ({"attack": "cw"}, "attack"),
        ({"select_by": "bpda", "bpda": False}, "bpda"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], match: str, digits: Digits, tiny_model: torch.nn.Module) -> None:
    clf = _retrofit(tiny_model, kappa=0.2)
    args: dict[str, Any] = {"kappas": [0.0, 1.0], "verbose": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        tune_kappa(clf, digits[2][:8], digits[3][:8], **args)
    assert clf.activation_params == {"kappa": 0.2}
    with pytest.raises(ValueError, match="RetrofitClassifier"):
        tune_kappa(clf.model, digits[2][:8], digits[3][:8], [0.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`y`"):
        tune_kappa(clf, digits[2][:8], digits[3][:4], [0.0])


def test_budget_excludes_the_values_that_cost_accuracy(digits: Digits, tiny_model: torch.nn.Module) -> None:
    """A 0.02 budget on 64 digits: kappa 2 and 3 cost more (accuracy measured 0.984, 0.984, 0.938, 0.781
    for kappa 0, 0.5, 2, 3) and are excluded although their rho is larger (measured rho 0.10, 0.10,
    0.13, 0.14), so the choice is kappa 0 or 0.5, whichever has the larger rho."""
    x, y = digits[2][:64], digits[3][:64]
    values = [0.0, 0.5, 2.0, 3.0]
    accuracy = [
        float((_retrofit(tiny_model, kappa=k).predict(x).argmax(1) == y).mean()) for k in values
    ]  # independent of tune_kappa: a fresh classifier per value
    admissible = [a >= accuracy[0] - 0.02 for a in accuracy]
    assert admissible == [True, True, False, False]
    res = tune_kappa(_retrofit(tiny_model), x, y, values, max_accuracy_drop=0.02, bpda=False, verbose=False)
    assert res["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert res["admissible"] == admissible
    # the most robust admissible value is chosen, although an excluded one has a larger rho
    assert res["chosen"] in (0.0, 0.5)
    assert res["rho"][values.index(res["chosen"])] == max(res["rho"][:2])
    assert max(res["rho"][2:]) > max(res["rho"][:2]), res["rho"]
