"""Issue 10: one home for argument checks (``_validation``), validation once at the boundary (never
in a forward pass), and no private cross-package imports below the evaluation layer."""

from __future__ import annotations

import ast
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

import art_activation_defenses
from art_activation_defenses import _validation
from art_activation_defenses._validation import check_bool, check_norm, check_scalar
from art_activation_defenses.activations import (
    BoundedReLU,
    CappedReLU,
    JumpReLU,
    RandomizedJumpReLU,
    SlopedReLU,
    jump_relu,
)
from art_activation_defenses.attacks import FMN, DeepFool, TrustRegion, ZeroGradientPGD
from art_activation_defenses.defences import GaussianAugmentationTrainer, adversarial_augment
from art_activation_defenses.detectors import LIDDetector
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.metrics import nearest_training_distances, relative_perturbation
from art_activation_defenses.models._layers import check_int
from art_activation_defenses.training import fit

PACKAGE = Path(art_activation_defenses.__file__).parent
#: The packages below the evaluation layer (evaluation, experiments and the CLI are above it).
LOWER = ("activations", "estimators", "attacks", "detectors", "defences", "metrics", "models")
LOWER_MODULES = ("training.py", "data.py", "_validation.py", "_device.py")


@pytest.fixture()
def clf(tiny_model: nn.Module) -> RetrofitClassifier:
    return RetrofitClassifier(
        tiny_model, None, (1, 8, 8), 10, kappa=0.1, clip_values=(0.0, 1.0), device_type="cpu"
    )


class _Counter:
    """Wraps ``_validation.check_scalar`` and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self._inner = _validation.check_scalar

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        return self._inner(*args, **kwargs)


@pytest.fixture()
def counter(monkeypatch: pytest.MonkeyPatch) -> _Counter:
    count = _Counter()
    monkeypatch.setattr(_validation, "check_scalar", count)
    return count


ACTIVATIONS: list[Callable[[], nn.Module]] = [
    lambda: JumpReLU(kappa=0.3),
    lambda: RandomizedJumpReLU(kappa=0.3, generator=torch.Generator().manual_seed(0)),
    lambda: BoundedReLU(t=0.5),
    lambda: CappedReLU(beta=0.5),
    lambda: SlopedReLU(alpha=2.0),
    lambda: JumpReLU(kappa=0.3, grad_mode="bpda"),
]


@pytest.mark.parametrize("factory", ACTIVATIONS)
def test_forward_passes_never_validate(factory: Callable[[], nn.Module], counter: _Counter) -> None:
    module = factory()
    assert counter.calls > 0  # the constructor validated the parameters
    name = type(module).param_names[0]  # type: ignore[attr-defined]
    module.grad_params = {name: 0.6}  # type: ignore[assignment]
    counter.calls = 0
    x = torch.linspace(-1.0, 1.0, 64).reshape(4, 16)
    with torch.no_grad():
        module(x)
    x_g = x.clone().requires_grad_(True)
    module(x_g).sum().backward()  # the gray-box branch (and the BPDA one for grad_mode="bpda")
    assert counter.calls == 0
    module.set_params(**{name: 0.2})  # the setter validates
    assert counter.calls == 1


def test_functional_api_validates_once_per_call(counter: _Counter) -> None:
    jump_relu(torch.ones(3), 0.5)
    assert counter.calls == 1
    with pytest.raises(ValueError, match=r"^`kappa` == -0.1, must be >= 0\.$"):
        jump_relu(torch.ones(3), -0.1)


def test_retrofitted_model_forward_never_validates(clf: RetrofitClassifier, counter: _Counter) -> None:
    x = torch.rand((5, 1, 8, 8), generator=torch.Generator().manual_seed(0))
    counter.calls = 0
    with torch.no_grad():
        clf.model(x)
    assert counter.calls == 0
    clf.set_params(gradient="bpda", kappa=0.2)
    assert counter.calls > 0  # the setter checks kappa (on a probe, then on every module)
    counter.calls = 0
    x_g = x.clone().requires_grad_(True)
    clf.model(x_g).sum().backward()
    assert counter.calls == 0


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda c: DeepFool(c, max_iter=-1), r"^`max_iter` == -1, must be >= 0\.$"),
        (lambda c: TrustRegion(c, initial_radius=0.0), r"^`initial_radius` == 0.0, must be > 0\.$"),
        (lambda c: FMN(c, gamma_init=1.0), r"^`gamma_init` == 1.0, must be < 1\.$"),
        (lambda c: ZeroGradientPGD(c, verbose=1), r"^`verbose` == 1, must be a bool\.$"),
        (lambda c: ZeroGradientPGD(c, norm=1), r"^`norm` == 1, must be one of 2, inf\.$"),
        (lambda c: LIDDetector(c, k=0), r"^`k` == 0, must be >= 1\.$"),
        (lambda c: LIDDetector(c, k=5, batch_size=5), r"^`batch_size` == 5, must be > 5\.$"),
        (lambda c: GaussianAugmentationTrainer(c, sigma=0), r"^`sigma` == 0, must be > 0\.$"),
        (lambda c: c.set_params(eot_samples=0), r"^`eot_samples` == 0, must be >= 1\.$"),
        (lambda c: c.set_params(kappa=float("inf")), r"^`kappa` == inf, must be finite\.$"),
        (lambda c: c.set_params(gradient="sign"), r"^`gradient` == 'sign', must be one of"),
        (
            lambda c: adversarial_augment(c.model, method="fgsm", eps=0.1, ratio=2),
            r"^`ratio` == 2, must be <= 1\.$",
        ),
    ],
)
def test_one_message_style(clf: RetrofitClassifier, build: Callable[[Any], Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(clf)


def test_one_message_style_without_classifier(digits: tuple[np.ndarray, ...]) -> None:
    x, y = digits[0][:8], digits[1][:8]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    with pytest.raises(ValueError, match=r"^`epochs` == 0, must be >= 1\.$"):
        fit(model, x, y, epochs=0, verbose=False)
    with pytest.raises(ValueError, match=r"^`momentum` == 1.0, must be < 1\.$"):
        fit(model, x, y, momentum=1.0, verbose=False)
    with pytest.raises(ValueError, match=r"^`norm` == 3, must be one of 1, 2, inf\.$"):
        relative_perturbation(x, x, norm=3)
    with pytest.raises(ValueError, match=r"^`query_batch` == 0, must be >= 1\.$"):
        nearest_training_distances(x, x, query_batch=0, device="cpu")
    # the name-first spelling kept for the model zoo delegates to check_scalar
    with pytest.raises(ValueError, match=r"^`nb_classes` == 1, must be >= 2\.$"):
        check_int("nb_classes", 1, 2)


def test_check_bool_and_check_norm() -> None:
    assert check_bool(np.bool_(True), "flag") is True
    for bad in (1, "yes", None):
        with pytest.raises(ValueError, match="^`flag` == .*, must be a bool\\.$"):
            check_bool(bad, "flag")
    assert check_norm("inf") == math.inf and check_norm("L2") == 2.0 and check_norm(np.int64(1)) == 1.0
    assert check_norm(np.inf, allowed=(2.0, math.inf)) == math.inf
    for bad in (True, "l3", 0.5, None):
        with pytest.raises(ValueError, match="^`norm` =="):
            check_norm(bad)
    with pytest.raises(ValueError, match=r"must be one of 2, inf"):
        check_norm(1, allowed=(2.0, math.inf))
    assert check_scalar(np.float32(0.5), "x", min_val=0, max_val=1) == 0.5


def test_gradient_settings_round_trip(clf: RetrofitClassifier) -> None:
    clf.set_params(gradient="bpda", eot_samples=7, grad_params={"kappa": 0.0})
    saved = clf.gradient_settings
    assert saved == {"gradient": "bpda", "eot_samples": 7, "grad_params": {"kappa": 0.0}}
    assert clf.eot_samples == 1  # the effective value outside "eot" mode
    clf.set_params(gradient="exact", eot_samples=2, grad_params={})
    clf.set_params(**saved)
    assert clf.gradient_settings == saved
    saved["grad_params"]["kappa"] = 5.0  # a copy: the classifier is not changed through it
    assert clf.grad_params == {"kappa": 0.0}


def _imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every ``import`` / ``from ... import`` of ``path`` (relative ones resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(("art_activation_defenses", *path.relative_to(PACKAGE).parent.parts))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base]) if base else ".".join(parts)
            out.append((node.lineno, base))
            out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return out


def test_no_private_module_of_another_package_is_imported_below_evaluation() -> None:
    files = [p for pkg in LOWER for p in sorted((PACKAGE / pkg).rglob("*.py"))]
    files += [PACKAGE / name for name in LOWER_MODULES]
    offences = []
    for path in files:
        own = path.relative_to(PACKAGE).parts[0]
        for line, module in _imports(path):
            parts = module.split(".")
            if parts[0] != "art_activation_defenses" or len(parts) < 3:
                continue
            # art_activation_defenses.<pkg>._private... imported from outside <pkg>
            if parts[1] != own and parts[2].startswith("_"):
                offences.append(f"{path.relative_to(PACKAGE)}:{line} imports {module}")
    assert not offences, offences
