"""``evaluation.tune_kappa``: curve shape, the choice respects the accuracy budget, state restored, bad
input, the numbers of the former ``defences.tune_kappa`` and its deprecated alias."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.attacks import DeepFool
from art_activation_defenses.evaluation import plot_tradeoff, tune_kappa

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


# Computed with the former ``defences.tuning.tune_kappa`` (its own ρ, fool rate and gradient save/
# restore) before the move to ``metrics`` / ``gradient_mode``: a weak one-step DeepFool, so the fool
# rate is below 1, an inadmissible value and masking flags appear; capped ReLU gives NaN and 0.
_PINNED = {
    "jumprelu": {
        "accuracy": [0.95, 0.93, 0.78],
        "rho": [0.11584473131658335, 0.1670663483890024, 0.4919833157754272],
        "fool_rate": [0.8421052631578947, 0.978494623655914, 0.9871794871794872],
        "rho_bpda": [0.11584473131658335, 0.14582571429188837, 0.15874171583230703],
        "fool_rate_bpda": [0.8421052631578947, 0.7419354838709677, 0.28205128205128205],
        "admissible": [True, True, False],
        "masking_flag": [False, True, True],
        "chosen": 1.0,
    },
    "capped": {
        "accuracy": [0.984375, 0.203125],
        "rho": [0.10184676764237453, 0.2858312334330507],
        "fool_rate": [0.8095238095238095, 0.15384615384615385],
        "rho_bpda": [0.10184676764237453, math.nan],
        "fool_rate_bpda": [0.8095238095238095, 0.0],
        "admissible": [True, False],
        "masking_flag": [False, False],
        "chosen": math.inf,
    },
}


def _weak_deepfool(c: RetrofitClassifier) -> DeepFool:
    return DeepFool(
        c, norm=2, max_iter=1, refine_steps=0, projection_steps=0, surrogate_search=False, overshoot=0.0,
        verbose=False,
    )  # fmt: skip


@pytest.mark.parametrize("activation", ["jumprelu", "capped"])
def test_numbers_of_the_former_implementation(
    activation: str, digits: Digits, tiny_model: torch.nn.Module
) -> None:
    n, values = (100, [0.0, 1.0, 3.0]) if activation == "jumprelu" else (64, [math.inf, 0.5])
    res = tune_kappa(
        _retrofit(tiny_model, activation), digits[2][:n], digits[3][:n], values, attack=_weak_deepfool,
        max_accuracy_drop=0.05, verbose=False,
    )  # fmt: skip
    pinned = _PINNED[activation]
    for key in ("accuracy", "rho", "fool_rate", "rho_bpda", "fool_rate_bpda"):
        assert res[key] == pytest.approx(pinned[key], rel=1e-9, nan_ok=True), key
    for key in ("admissible", "masking_flag", "chosen"):
        assert res[key] == pinned[key], key


def test_deprecated_aliases_warn_once_and_are_the_same_function(monkeypatch: pytest.MonkeyPatch) -> None:
    import art_activation_defenses.defences as defences
    import art_activation_defenses.defences.tuning as old_tuning
    from art_activation_defenses import evaluation

    aliases = ((defences, "tune_kappa"), (defences, "plot_tradeoff"), (old_tuning, "masking_flags"))
    for module, name in aliases:
        monkeypatch.delitem(vars(module), name, raising=False)  # forget an earlier access's cache
        with pytest.warns(DeprecationWarning, match=f"art_activation_defenses.evaluation.*{name}"):
            alias = getattr(module, name)
        assert alias is getattr(evaluation, name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert getattr(module, name) is alias  # once: later accesses are silent
        monkeypatch.delitem(vars(module), name)
    monkeypatch.delitem(vars(old_tuning), "tune_kappa", raising=False)
    with pytest.warns(DeprecationWarning, match="defences.tuning.tune_kappa"):
        assert old_tuning.tune_kappa is tune_kappa
    with pytest.raises(AttributeError):
        defences.no_such_name  # noqa: B018


def test_defences_and_metrics_do_not_import_evaluation() -> None:
    """Layers: nothing in defences/ or metrics/ imports evaluation at import time; the one sanctioned
    exception is the lazy import inside the deprecation aliases' module ``__getattr__``."""
    import ast

    import art_activation_defenses

    root = Path(art_activation_defenses.__file__).parent
    offenders = []
    for path in sorted([*root.glob("defences/*.py"), *root.glob("metrics/*.py")]):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                continue
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = (
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                )
                if any(n.startswith("art_activation_defenses.evaluation") for n in names):
                    inside = [
                        f.name
                        for f in ast.walk(tree)
                        if isinstance(f, ast.FunctionDef) and f.name == "__getattr__" and node in ast.walk(f)
                    ]
                    if not inside:
                        offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []
