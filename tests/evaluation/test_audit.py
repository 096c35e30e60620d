"""The adaptive-attack audit: it must flag a sloped ReLU with a large alpha (cross-entropy PGD
stalls on the saturated softmax, the logit-margin loss does not) and must not flag plain ReLU."""

from __future__ import annotations

import importlib
import json
from typing import Any

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.evaluation import audit, render_audit_markdown

Digits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
#: the legacy FGSM/PGD rows only (APGD and Square have their own tests in test_ensemble.py)
SETTINGS: dict[str, Any] = {"eps": 0.1, "max_iter": 20, "verbose": False, "budget": "quick"}
ROWS: dict[str, Any] = {**SETTINGS, "attacks": ("fgsm", "pgd")}


def _retrofit(model: nn.Module, activation: str, **params: float) -> RetrofitClassifier:
    return RetrofitClassifier(
        model, input_shape=(1, 8, 8), nb_classes=10, activation=activation, clip_values=(0.0, 1.0),
        device_type="cpu", **params,
    )  # fmt: skip


@pytest.fixture(scope="module")
def sample(digits: Digits) -> tuple[np.ndarray, np.ndarray]:
    return digits[2][:128], digits[3][:128]


def test_flags_sloped_relu_alpha_100(tiny_model: nn.Module, sample: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = sample
    x_copy = x.copy()
    clf = _retrofit(tiny_model, "srelu", alpha=100.0)
    clf.set_params(grad_params={"alpha": 50.0})  # a gray-box setting the audit must put back
    with pytest.warns(UserWarning, match="GRADIENT MASKING"):
        result = audit(clf, tiny_model, x, y, **ROWS)
    assert result["flagged"] and "GRADIENT MASKING SUSPECTED" in result["verdict"]
    pgd = next(r for r in result["rows"] if r["attack"] == "pgd")
    # alpha^2 = 1e4 times the logits: softmax saturates, cross-entropy gradients are exactly zero,
    # with BPDA as well; the attack cannot move (accuracy stays at the clean level) ...
    assert pgd["white_box"] >= result["clean_accuracy"] - 0.02
    assert pgd["bpda"] >= result["clean_accuracy"] - 0.02
    # ... while the margin loss takes it down like the undefended model (measured: 0.93 -> 0.30)
    assert pgd["margin"] <= pgd["white_box"] - 0.4
    assert pgd["flag"] and pgd["strongest"] in ("margin", "margin_bpda")
    assert result["checks"]["zero_gradient_share"] > 0.5
    assert clf.gradient == "exact" and clf.grad_params == {"alpha": 50.0}
    np.testing.assert_array_equal(x, x_copy)
    text = render_audit_markdown(result)
    assert "| PGD |" in text and "**MASKING**" in text and "margin+BPDA" in text
    json.dumps(result)  # plain data


def test_does_not_flag_plain_relu(tiny_model: nn.Module, sample: tuple[np.ndarray, np.ndarray]) -> None:
    clf = _retrofit(tiny_model, "jumprelu", kappa=0.0)  # kappa 0 is ReLU: audited against itself
    result = audit(clf, tiny_model, *sample, **ROWS)
    assert not result["flagged"], result["rows"]
    assert "No sign of gradient masking" in result["verdict"]
    for row in result["rows"]:
        assert row["transfer"] == pytest.approx(row["white_box"])  # the same model, the same attack
        assert row["bpda"] == pytest.approx(row["white_box"])  # ReLU's derivative is the exact one
        assert row["white_box"] < result["clean_accuracy"] - 0.3  # the attack itself works
    assert "ok" in render_audit_markdown(result, title="ReLU")


def test_plain_classifier_and_randomized_columns(
    tiny_model: nn.Module, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = sample[0][:32], sample[1][:32]
    plain = PyTorchClassifier(tiny_model, nn.CrossEntropyLoss(), (1, 8, 8), 10, clip_values=(0.0, 1.0))
    result = audit(plain, None, x, y, attacks=("pgd",), checks=False, **SETTINGS)
    assert result["columns"] == ["white_box", "margin"] and len(result["rows"]) == 1
    rand = _retrofit(tiny_model, "randomized-jumprelu", kappa=0.5)
    rand_result = audit(rand, tiny_model, x, y, attacks="fgsm", eot_samples=3, checks=False, **SETTINGS)
    assert {"eot", "margin_eot", "transfer"} <= set(rand_result["columns"])
    assert rand.gradient == "exact" and rand.eot_samples == 1


@pytest.mark.filterwarnings("ignore:audit:UserWarning")
def test_surrogate_column(
    tiny_model: nn.Module, sample: tuple[np.ndarray, np.ndarray], digits: Digits
) -> None:
    clf = _retrofit(tiny_model, "srelu", alpha=10.0)
    result = audit(
        clf, tiny_model, sample[0][:64], sample[1][:64], attacks=("fgsm",), surrogate=True,
        surrogate_epochs=30,
        surrogate_data=digits[0][:500], surrogate_lr=1e-2, checks=False, **SETTINGS,
    )  # fmt: skip
    assert "surrogate" in result["columns"] and result["surrogate_agreement"] > 0.8
    row = result["rows"][0]
    assert row["surrogate"] < result["clean_accuracy"]  # the surrogate's examples transfer


def test_settings_restored_on_error(
    tiny_model: nn.Module, sample: tuple[np.ndarray, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    audit_module = importlib.import_module("art_activation_defenses.evaluation.ensemble")  # runs the PGD

    clf = _retrofit(tiny_model, "jumprelu", kappa=0.5)
    calls = {"n": 0}
    real = audit_module.pgd

    def failing(*args: Any, **kwargs: Any) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 2:  # inside the BPDA column
            assert clf.gradient == "bpda"
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(audit_module, "pgd", failing)
    with pytest.raises(RuntimeError, match="boom"):
        audit(clf, tiny_model, *sample, **ROWS)
    assert clf.gradient == "exact" and all(m.grad_mode == "exact" for m in clf.activation_modules)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"attacks": ("cw",)}, "attacks"),
        ({"attacks": ()}, "attacks"),
        ({"eps": 0.0}, "eps"),
        ({"margin": 1.5}, "margin"),
        ({"max_iter": 0}, "max_iter"),
        ({"surrogate": True, "original": None}, "surrogate"),
        ({"original": "model"}, "nn.Module"),
    ],
)
def test_bad_input(kwargs: dict[str, Any], match: str, tiny_model: nn.Module, sample: Any) -> None:
    clf = _retrofit(tiny_model, "jumprelu", kappa=0.5)
    original = kwargs.pop("original", tiny_model)
    with pytest.raises(ValueError, match=match):
        audit(clf, original, sample[0][:8], sample[1][:8], verbose=False, **kwargs)
    with pytest.raises(ValueError, match="defended"):
        audit(tiny_model, None, sample[0][:8], sample[1][:8])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`x`"):
        audit(clf, None, sample[0][:8].reshape(8, 64), sample[1][:8])
    with pytest.raises(ValueError, match="rows"):
        render_audit_markdown({"verdict": ""})


def test_margin_pgd_matches_torch_reference(
    tiny_model: nn.Module, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    """Our PGD step against an independent few-line implementation (one step, no random start)."""
    from art_activation_defenses.evaluation import pgd

    x, y = sample[0][:16], sample[1][:16]
    clf = _retrofit(tiny_model, "jumprelu", kappa=0.0)
    ours = pgd(
        clf, x, y, loss="margin", eps=0.05, eps_step=0.05, max_iter=1, random_init=False, seed=0, batch_size=8
    )
    xt = torch.from_numpy(x).requires_grad_(True)
    z = tiny_model(xt)
    yt = torch.from_numpy(y)
    z_y = z.gather(1, yt[:, None]).squeeze(1)
    other = z.clone()
    other[torch.arange(16), yt] = -torch.inf
    (z_y - other.max(1).values).sum().backward()
    assert xt.grad is not None
    ref = torch.clamp(xt.detach() - 0.05 * xt.grad.sign(), 0.0, 1.0).numpy()
    wrong = z.argmax(1).numpy() != y  # already misclassified samples are frozen at x
    ref[wrong] = x[wrong]
    np.testing.assert_allclose(ours, ref, atol=1e-6)


def test_transfer_examples_take_every_step(
    tiny_model: nn.Module, sample: tuple[np.ndarray, np.ndarray]
) -> None:
    """Iterates that stop at the source's first misclassification barely cross its boundary; the
    audit's transfer column takes every step on the source, which transfers better."""
    from art_activation_defenses.evaluation import pgd

    x, y = sample
    source = _retrofit(tiny_model, "jumprelu", kappa=0.0)  # κ = 0 is exactly the ReLU source
    kw: dict[str, Any] = {
        "loss": "ce", "eps": 0.1, "eps_step": 2.5 * 0.1 / 20, "max_iter": 20, "random_init": True,
        "seed": 0, "batch_size": 64,
    }  # fmt: skip
    stopped, full = pgd(source, x, y, **kw), pgd(source, x, y, early_stop=False, **kw)

    def margin(xa: np.ndarray) -> float:  # mean logit margin of the true class on the source
        z = source.predict(xa)
        return float(
            np.mean(z[np.arange(len(y)), y] - np.where(np.eye(10, dtype=bool)[y], -np.inf, z).max(1))
        )

    assert margin(full) < margin(stopped) - 1.0  # every step pushes far past the boundary
    assert np.abs(full - x).max() <= 0.1 + 1e-6 and full.min() >= 0.0 and full.max() <= 1.0
    target = _retrofit(tiny_model, "jumprelu", kappa=0.5)

    def acc(xa: np.ndarray) -> float:
        return float((target.predict(xa).argmax(1) == y).mean())

    assert acc(full) < acc(stopped)
    res = audit(target, tiny_model, x, y, attacks=("pgd",), checks=False, batch_size=64, **SETTINGS)
    assert res["rows"][0]["transfer"] == pytest.approx(acc(full), abs=1e-12)
