"""Strength of the minimum-perturbation attacks (issue 13): exact box steps, defended models, radii."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from scipy.optimize import linprog, minimize
from torch import nn

from art_activation_defenses.attacks import DeepFool, TrustRegion
from art_activation_defenses.attacks._boundary import box_linear_step
from art_activation_defenses.attacks._torch import L2Geometry, LinfGeometry
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier

# The trust-region attack as it was before issue 13 (git HEAD 8d2db5b), measured on the tiny
# digits CNN of conftest.py retrofitted with JumpReLU kappa = 2 and the 32 held-out digits
# of ``test_batch`` (defaults, 1 thread): samples it did not fool (each ran all 1000 steps),
# and the mean absolute perturbation over the samples it fooled.
OLD_UNFOOLED = {2.0: [17], np.inf: [1, 9, 17]}
OLD_MEAN_NORM = {2.0: 0.38065556, np.inf: 0.10317124}


def test_box_linear_step_matches_scipy() -> None:
    """The exact box-constrained linear step against scipy's LP (L∞) and SLSQP (L2) solutions."""
    gen = torch.Generator().manual_seed(0)
    b, d = 6, 12
    w = torch.randn(b, d, generator=gen)
    w[0, :3] = 0.0
    x = torch.rand(b, d, generator=gen)
    x[:, :2], x[:, 2] = 0.0, 1.0  # coordinates at the box faces
    up, down = 1.0 - x, x
    c = torch.rand(b, generator=gen) * 1.5
    for geo in (LinfGeometry(), L2Geometry()):
        p, ok = box_linear_step(geo, w, c, up, down)
        assert bool(ok.all())
        np.testing.assert_allclose((w * p).sum(1).numpy(), c.numpy(), rtol=1e-5)
        assert bool(((p <= up + 1e-6) & (p >= -down - 1e-6)).all())
        for i in range(b):
            wi, ci = w[i].double().numpy(), float(c[i])
            bounds = list(zip(-down[i].double().numpy(), up[i].double().numpy(), strict=True))
            if geo.p == 2:
                res = minimize(
                    lambda v: v @ v,
                    np.zeros(d),
                    jac=lambda v: 2 * v,
                    constraints=[{"type": "eq", "fun": lambda v, wi=wi, ci=ci: wi @ v - ci}],
                    bounds=bounds,
                    method="SLSQP",
                    options={"ftol": 1e-12},
                )
                expected = float(np.sqrt(res.fun))
            else:  # min t  s.t.  w·p = c, -t <= p_j <= t, p in the box
                a_ub = np.block([[np.eye(d), -np.ones((d, 1))], [-np.eye(d), -np.ones((d, 1))]])
                res = linprog(
                    np.r_[np.zeros(d), 1.0],
                    A_ub=a_ub,
                    b_ub=np.zeros(2 * d),
                    A_eq=np.r_[wi, 0.0][None],
                    b_eq=[ci],
                    bounds=bounds + [(0, None)],
                )
                expected = float(res.fun)
            assert res.success
            got = float(geo.norm(p[i : i + 1])[0])
            assert got == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_box_linear_step_unreachable_returns_the_corner() -> None:
    w = torch.tensor([[1.0, -2.0, 0.0]])
    up, down = torch.tensor([[0.1, 0.1, 0.1]]), torch.tensor([[0.2, 0.3, 0.2]])
    p, ok = box_linear_step(LinfGeometry(), w, torch.tensor([10.0]), up, down)
    assert not bool(ok[0])
    np.testing.assert_allclose(p.numpy(), [[0.1, -0.3, 0.0]])


@pytest.mark.parametrize("norm", [2.0, np.inf])
def test_new_attacks_hit_the_linear_closed_form(norm: float) -> None:
    """Linear model, wide box: DeepFool (1 step) and TrustRegion reach min_k |f_k - f_y| / ||w_k - w_y||_q."""
    torch.manual_seed(0)
    model = nn.Linear(20, 6)
    from art.estimators.classification import PyTorchClassifier

    clf = PyTorchClassifier(
        model=model, loss=nn.CrossEntropyLoss(), input_shape=(20,), nb_classes=6, clip_values=(-1e3, 1e3)
    )
    w, bias = model.weight.detach().double().numpy(), model.bias.detach().double().numpy()
    x = np.random.default_rng(2).normal(size=(32, 20)).astype(np.float32)
    f = x.astype(np.float64) @ w.T + bias
    y = f.argmax(1)
    rows = np.arange(len(x))
    dual = 1.0 if np.isinf(norm) else 2.0
    dist = np.abs(f - f[rows, y][:, None]) / np.linalg.norm(w[None] - w[y][:, None], ord=dual, axis=2).clip(
        1e-30
    )
    dist[rows, y] = np.inf
    expected = dist.min(1)
    for attack in (
        DeepFool(clf, norm=norm, overshoot=0.0, nb_candidates=6, verbose=False),
        TrustRegion(clf, norm=norm, overshoot=0.0, nb_candidates=6, verbose=False),
    ):
        x_adv = attack.generate(x)
        assert np.all(clf.predict(x_adv).argmax(1) != y)
        got = np.linalg.norm((x_adv - x).astype(np.float64), ord=norm, axis=1)
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("norm", [2.0, np.inf])
def test_trust_region_no_longer_stalls_on_jumprelu(
    trained_model: nn.Module, test_batch: tuple[np.ndarray, np.ndarray], norm: float
) -> None:
    """JumpReLU kappa = 2: the old TR stalled (1000 steps, unfooled samples); the new one fools all
    32 in few steps, with a smaller mean perturbation on the old TR's fooled samples: already with
    the in-loop fallbacks alone (``surrogate_search=False``), and with the BPDA search (the default)
    at least 10 % smaller in L∞."""
    x, _ = test_batch
    clf = RetrofitClassifier(
        trained_model,
        nn.CrossEntropyLoss(),
        (1, 8, 8),
        10,
        activation="jumprelu",
        kappa=2.0,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )
    pred = clf.predict(x).argmax(1)
    old_fooled = np.setdiff1d(np.arange(len(x)), OLD_UNFOOLED[norm])
    for surrogate_search in (False, True):
        attack = TrustRegion(clf, norm=norm, surrogate_search=surrogate_search, verbose=False)
        x_adv = attack.generate(x)
        fooled = clf.predict(x_adv).argmax(1) != pred
        assert fooled.all()
        assert attack.iterations_.max() < 1000
        sizes = np.linalg.norm((x_adv - x).reshape(len(x), -1), ord=norm, axis=1)
        new_mean = float(sizes[old_fooled].mean())
        factor = 0.9 if surrogate_search and np.isinf(norm) else 1.0
        assert new_mean < OLD_MEAN_NORM[norm] * factor
    # the activation modules are back in exact mode after the BPDA search
    assert all(m.grad_mode == "exact" for m in clf.activation_modules)


def test_max_radius_applies_to_the_first_step(
    classifier: Any, test_batch: tuple[np.ndarray, np.ndarray]
) -> None:
    """min = max radius 0.01 and one step: no sample moves farther than the radius."""
    x, _ = test_batch
    attack = TrustRegion(
        classifier,
        norm=2,
        max_iter=1,
        min_radius=0.01,
        max_radius=0.01,
        refine_steps=0,
        projection_steps=0,
        verbose=False,
    )
    x_adv = attack.generate(x)
    moved = np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)
    assert moved.max() <= 0.01 + 1e-5
    assert moved.max() > 0.005  # it did step


@pytest.mark.parametrize("cls", [DeepFool, TrustRegion])
def test_surrogate_search_is_validated(classifier: Any, cls: Any) -> None:
    with pytest.raises(ValueError, match="surrogate_search"):
        cls(classifier, surrogate_search="yes")
