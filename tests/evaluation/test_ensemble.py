"""The audit's ensemble, statistics and indicators of attack failure: new columns on a tiny model,
the per-sample worst case on constructed outcomes, Wilson / McNemar against closed forms, and a
must-fire and a must-not-fire case for every indicator."""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
import pytest
import torch
from art.attacks.evasion import AutoProjectedGradientDescent, SquareAttack
from torch import nn

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.evaluation import (
    PGDTrace,
    accuracy_interval,
    audit,
    masking_test,
    mcnemar_exact,
    pgd,
    render_audit_markdown,
)
from art_activation_defenses.evaluation import indicators as ind

ensemble = importlib.import_module("art_activation_defenses.evaluation.ensemble")
audit_module = importlib.import_module("art_activation_defenses.evaluation.audit")

Digits = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
FAST: dict[str, Any] = {"budget": "quick", "verbose": False, "checks": False, "batch_size": 64}


def _clf(model: nn.Module, activation: str = "jumprelu", **params: float) -> RetrofitClassifier:
    return RetrofitClassifier(
        model, input_shape=(1, 8, 8), nb_classes=10, activation=activation, clip_values=(0.0, 1.0),
        device_type="cpu", **params,
    )  # fmt: skip


@pytest.fixture(scope="module")
def small(digits: Digits) -> tuple[np.ndarray, np.ndarray]:
    return digits[2][:32], digits[3][:32]


# ---------------------------------------------------------------- statistics
def test_wilson_interval_matches_closed_form() -> None:
    k, n, z = 17, 20, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = accuracy_interval(np.array([True] * k + [False] * (n - k)))
    assert lo == pytest.approx(centre - half, abs=1e-9) and hi == pytest.approx(centre + half, abs=1e-9)


def test_mcnemar_exact_and_no_float_artefact() -> None:
    white = np.array([True] * 18 + [False] * 2)  # 0.90
    # 0.85: one more sample broken -> gap exactly one sample = margin 0.05 * 20: no flag
    adaptive = white.copy()
    adaptive[0] = False
    assert 0.90 - 0.85 > 0.05  # the float artefact the old flag tripped over
    test = masking_test(white, adaptive, margin=0.05)
    assert test["gap_samples"] == 1 and not test["flag"]
    b, c, p = mcnemar_exact(np.ones(10, dtype=bool), np.array([False] * 5 + [True] * 5))
    assert (b, c) == (5, 0) and p == pytest.approx(0.5**5)  # one-sided binomial, closed form
    strong = np.array([False] * 10 + [True] * 10)  # b = 10, c = 2: P(X >= 10 | 12, 1/2)
    flagged = masking_test(white, strong, margin=0.05)
    assert (
        flagged["flag"]
        and flagged["gap_samples"] == 8
        and flagged["p_value"] == pytest.approx((66 + 12 + 1) / 2**12)
    )


# ---------------------------------------------------------------- per-sample worst case
def test_per_sample_worst_case_on_constructed_outcomes() -> None:
    clean = np.array([1, 1, 1, 1, 1, 1, 0, 1], dtype=bool)
    a = np.array([1, 0, 1, 1, 1, 1, 1, 1], dtype=bool)
    b = np.array([1, 1, 0, 1, 1, 0, 1, 1], dtype=bool)
    c = np.array([1, 1, 1, 0, 1, 0, 1, 1], dtype=bool)
    cols = [
        ensemble.Column(f"pgd.{k}", "pgd", "ce", "exact", "defended", k)
        for k in ("white_box", "bpda", "margin")
    ]
    outcomes = {col.key: ensemble.Outcome(correct=v) for col, v in zip(cols, (a, b, c), strict=True)}
    res = audit_module._assemble(cols, outcomes, clean, 0.05, 0.05)
    # by hand: robust = clean & a & b & c = samples 0, 4, 7
    assert res["robust_accuracy"] == pytest.approx(3 / 8) and res["per_sample_robust"] == [
        1,
        0,
        0,
        0,
        1,
        0,
        0,
        1,
    ]
    per_col = {e["key"]: e for e in res["ensemble"]}
    assert per_col["pgd.white_box"]["accuracy"] == pytest.approx(
        6 / 8
    )  # clean-wrong sample 6 counts as broken
    # alone: a breaks sample 1, b sample 2, c sample 3 (sample 5 is broken by b and c both)
    assert [per_col[k]["broke_alone"] for k in ("pgd.white_box", "pgd.bpda", "pgd.margin")] == [1, 1, 1]
    assert res["rows"][0]["worst"] == pytest.approx(3 / 8)
    assert res["masking"]["gap_samples"] == 3  # white-box 6 correct, worst case 3


# ---------------------------------------------------------------- the new columns
def test_apgd_and_square_columns(tiny_model: nn.Module, small: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = small
    clf = _clf(tiny_model, kappa=0.0)  # ReLU
    kw: dict[str, Any] = {**FAST, "attacks": ("apgd", "square"), "apgd_iter": 10, "square_queries": 10}
    res = audit(clf, None, x, y, dlr_targets=2, **kw)
    keys = [e["key"] for e in res["ensemble"]]
    assert keys == ["apgd_ce.exact", "apgd_ce.bpda", "apgd_dlr.exact", "apgd_dlr.bpda", "square.exact"]
    acc = {e["key"]: e["accuracy"] for e in res["ensemble"]}
    # APGD-CE against ART's own run with the same seed and settings (global numpy state put back)
    state = np.random.get_state()  # noqa: NPY002 - ART draws from the global generator
    np.random.seed(0)  # noqa: NPY002
    x_ref = AutoProjectedGradientDescent(
        clf, norm=np.inf, eps=0.1, eps_step=0.2, max_iter=10, nb_random_init=1, batch_size=64, verbose=False
    ).generate(x, y=y)
    np.random.set_state(state)  # noqa: NPY002
    ref = float((clf.predict(x_ref).argmax(1) == y).mean())
    assert acc["apgd_ce.exact"] == pytest.approx(ref)
    assert acc["apgd_ce.bpda"] == pytest.approx(acc["apgd_ce.exact"])  # ReLU: BPDA is exact
    assert acc["apgd_ce.exact"] < res["clean_accuracy"] - 0.3
    assert acc["square.exact"] is None  # survivors only under the quick budget
    assert res["robust_accuracy"] <= min(v for v in acc.values() if v is not None)
    # all samples (square_subset off): Square's accuracy equals ART's own run with the same seed
    full = audit(clf, None, x, y, square_queries=10, attacks=("square",), **{**FAST, "budget": "thorough"})
    np.random.seed(0)  # noqa: NPY002
    x_sq = SquareAttack(clf, eps=0.1, max_iter=10, nb_restarts=1, batch_size=64, verbose=False).generate(
        x, y=np.eye(10, dtype=np.float32)[y]
    )
    np.random.set_state(state)  # noqa: NPY002
    sq = float((clf.predict(x_sq).argmax(1) == y).mean())
    assert full["ensemble"][0]["accuracy"] == pytest.approx(sq) and sq < res["clean_accuracy"]
    assert "APGD-DLR-T" in render_audit_markdown(res)
    # ReLU: APGD-CE is a stronger optimiser of the same white-box loss, not a sign of masking
    assert res["masking"]["reference"] == ["apgd_ce.exact"] and not res["masking"]["flag"]


def test_l2_pgd_step_matches_reference(tiny_model: nn.Module, small: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = small[0][:16], small[1][:16]
    clf = _clf(tiny_model, kappa=0.0)
    ours = pgd(
        clf,
        x,
        y,
        loss="ce",
        eps=1.0,
        eps_step=0.3,
        max_iter=1,
        random_init=False,
        seed=0,
        batch_size=8,
        norm=2,
    )
    xt = torch.from_numpy(x).requires_grad_(True)
    nn.functional.cross_entropy(tiny_model(xt), torch.from_numpy(y), reduction="sum").backward()
    assert xt.grad is not None
    g = xt.grad.reshape(16, -1)
    ref = (xt.detach().reshape(16, -1) + 0.3 * g / g.norm(dim=1, keepdim=True)).clamp(0, 1).reshape(x.shape)
    wrong = tiny_model(torch.from_numpy(x)).argmax(1).numpy() != y
    ref_np = ref.numpy()
    ref_np[wrong] = x[wrong]
    np.testing.assert_allclose(ours, ref_np, atol=1e-5)
    many = pgd(
        clf,
        x,
        y,
        loss="margin",
        eps=1.0,
        eps_step=0.3,
        max_iter=10,
        random_init=True,
        seed=1,
        batch_size=8,
        norm=2,
    )
    assert np.linalg.norm((many - x).reshape(16, -1), axis=1).max() <= 1.0 + 1e-5
    res = audit(clf, tiny_model, x, y, norm=2, eps=1.0, attacks=("pgd",), **FAST)
    assert res["settings"]["norm"] == 2 and "L2 eps=1" in render_audit_markdown(res)
    assert res["robust_accuracy"] < res["clean_accuracy"]


# ---------------------------------------------------------------- indicators: must fire / must not fire
def _trace(objective: np.ndarray, ever: np.ndarray | None = None) -> PGDTrace:
    t = PGDTrace()
    t.reset(objective.shape[1], objective.shape[0])
    t.objective[:] = objective
    if ever is not None:
        t.ever_fooled[:] = ever
    return t


def test_silent_success() -> None:
    robust = np.array([True, True, False])
    assert ind.silent_success(robust, [_trace(np.zeros((3, 3)), np.array([True, False, True]))])["count"] == 1
    quiet = ind.silent_success(robust, [_trace(np.zeros((3, 3)), np.array([False, False, True]))])
    assert quiet["count"] == 0 and not quiet["flag"]


def test_incomplete_optimisation(tiny_model: nn.Module, small: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = small
    clf = _clf(tiny_model, kappa=0.0)
    kw: dict[str, Any] = {"loss": "ce", "eps": 0.1, "random_init": False, "seed": 0, "batch_size": 64}
    slow, done = PGDTrace(), PGDTrace()
    adv = pgd(clf, x, y, eps_step=0.0005, max_iter=10, trace=slow, **kw)  # far too small steps
    robust = clf.predict(adv).argmax(1) == y
    fired = ind.incomplete_optimisation(robust, [slow])
    assert fired["flag"] and fired["count"] >= robust.sum() // 2
    adv = pgd(clf, x, y, eps_step=0.05, max_iter=40, trace=done, **kw)  # reaches the box corners and stalls
    quiet = ind.incomplete_optimisation(clf.predict(adv).argmax(1) == y, [done])
    assert not quiet["flag"] and quiet["count"] == 0


def test_transfer_failure(tiny_model: nn.Module, small: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = small
    torch.manual_seed(1)
    untrained = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10)).eval()
    clf = _clf(tiny_model, kappa=0.0)
    bad = audit(clf, untrained, x, y, attacks=("pgd",), **FAST)["indicators"]["transfer_failure"]
    assert bad["flag"] and bad["count"] > 0
    same = audit(clf, tiny_model, x, y, attacks=("pgd",), **FAST)["indicators"]["transfer_failure"]
    assert same["count"] == 0 and not same["flag"]


def test_unavailable_gradients_and_unstable_predictions(
    tiny_model: nn.Module, small: tuple[np.ndarray, np.ndarray], digits: Digits
) -> None:
    x, y = small
    with pytest.warns(UserWarning, match="GRADIENT MASKING"):  # softmax saturation: zero CE gradients
        srelu = audit(_clf(tiny_model, "srelu", alpha=100.0), None, x, y, attacks=("fgsm",), **FAST)
    assert srelu["indicators"]["unavailable_gradients"]["flag"]
    assert "unavailable gradients" in srelu["verdict"]
    relu = audit(_clf(tiny_model, kappa=0.0), None, x, y, attacks=("fgsm",), **FAST)
    assert relu["indicators"]["unavailable_gradients"]["count"] == 0
    assert relu["indicators"]["unstable_predictions"]["count"] == 0
    assert not any(v["flag"] for v in relu["indicators"].values())
    rand = _clf(tiny_model, "randomized-jumprelu", kappa=1.0)
    # its draws come from OS entropy: many repeats on many samples, so at least one label flips
    unstable = ind.unstable_predictions(rand, digits[2][:256], repeats=20)
    assert unstable["flag"] and unstable["count"] > 0


def test_non_converging_restarts(tiny_model: nn.Module, small: tuple[np.ndarray, np.ndarray]) -> None:
    runs = [np.array([True, False, True]), np.array([True, True, True])]
    assert ind.non_converging_restarts({"pgd.white_box": runs})["count"] == 1
    assert ind.non_converging_restarts({"pgd.white_box": [runs[1], runs[1]]})["count"] == 0
    assert ind.non_converging_restarts({"pgd.white_box": runs[:1]})["count"] is None  # one restart
    x, y = small
    res = audit(_clf(tiny_model, kappa=0.0), None, x, y, attacks=("pgd",), restarts=2, eps=0.05, **FAST)
    assert res["indicators"]["non_converging_restarts"]["count"] is not None


# ---------------------------------------------------------------- minimal-perturbation audit
def test_minimal_audit_per_sample_minimum(
    tiny_model: nn.Module, small: tuple[np.ndarray, np.ndarray]
) -> None:
    from art_activation_defenses.attacks import DeepFool
    from art_activation_defenses.evaluation import minimal_audit

    x, y = small[0][:16], small[1][:16]
    clf = _clf(tiny_model, kappa=0.0)
    ok = clf.predict(x).argmax(1) == y
    res = minimal_audit(clf, x, y, ok, norm=2, modes=["exact", "bpda"], steps=10, batch_size=16, seed=0)
    assert {"deepfool.exact", "deepfool.bpda", "trust_region.exact", "fmn.exact", "fmn.bpda"} <= set(
        res["attacks"]
    )
    assert res["min"]["fool_rate"] >= max(v["fool_rate"] for v in res["attacks"].values())
    assert res["min"]["rho_median"] <= min(v["rho_median"] for v in res["attacks"].values()) + 1e-12
    # DeepFool's ρ against the package's metric on an independent DeepFool run
    x_df = DeepFool(clf, norm=2, max_iter=10, batch_size=16, verbose=False).generate(x[ok], y=y[ok])
    fooled = clf.predict(x_df).argmax(1) != y[ok]
    rho = np.linalg.norm((x_df - x[ok]).reshape(len(x_df), -1), axis=1) / np.linalg.norm(
        x[ok].reshape(len(x_df), -1), axis=1
    )
    assert res["attacks"]["deepfool.exact"]["rho_mean"] == pytest.approx(rho[fooled].mean(), rel=1e-5)
    assert res["attacks"]["deepfool.bpda"]["rho_mean"] == pytest.approx(rho[fooled].mean(), rel=1e-5)  # ReLU
