"""Activation functions and modules: closed forms, neutral parameters, validation, gradients."""

from __future__ import annotations

import math

import pytest
import torch

from art_activation_defenses import BoundedReLU, CappedReLU, JumpReLU, RandomizedJumpReLU, SlopedReLU
from art_activation_defenses.activations import (
    bounded_relu,
    capped_relu,
    create_activation,
    jump_relu,
    randomized_jump_relu,
    sloped_relu,
)


@pytest.fixture()
def x() -> torch.Tensor:
    return torch.linspace(-3.0, 3.0, 121)


def test_closed_forms(x: torch.Tensor) -> None:
    expected_jump = torch.tensor([v if v > 1.0 else 0.0 for v in x.tolist()])
    assert torch.equal(jump_relu(x, 1.0), expected_jump)
    assert torch.equal(bounded_relu(x, 1.5), torch.tensor([min(max(0.0, v), 1.5) for v in x.tolist()]))
    assert torch.equal(capped_relu(x, 0.5), bounded_relu(x, 0.5))
    assert torch.allclose(sloped_relu(x, 2.5), torch.tensor([2.5 * max(0.0, v) for v in x.tolist()]))


def test_neutral_parameters_equal_relu_bitwise(x: torch.Tensor) -> None:
    relu = torch.relu(x)
    assert torch.equal(jump_relu(x, 0.0), relu)
    assert torch.equal(bounded_relu(x, math.inf), relu)
    assert torch.equal(sloped_relu(x, 1.0), relu)


def test_functions_are_out_of_place(x: torch.Tensor) -> None:
    before = x.clone()
    for out in (jump_relu(x, 0.5), bounded_relu(x, 1.0), sloped_relu(x, 3.0), randomized_jump_relu(x, 1.0)):
        assert out.data_ptr() != x.data_ptr()
    assert torch.equal(x, before)


def test_jump_relu_gradient_is_indicator() -> None:
    x = torch.tensor([-1.0, 0.5, 1.0, 1.5, 2.0], requires_grad=True)
    JumpReLU(kappa=1.0)(x).sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad, torch.tensor([0.0, 0.0, 0.0, 1.0, 1.0]))


def test_bpda_backward_is_relu_derivative_and_forward_unchanged() -> None:
    x = torch.tensor([-1.0, 0.5, 1.0, 1.5], requires_grad=True)
    act = JumpReLU(kappa=1.0, grad_mode="bpda")
    y = act(x)
    assert torch.equal(y.detach(), jump_relu(x.detach(), 1.0))
    y.sum().backward()
    assert x.grad is not None
    assert torch.equal(x.grad, torch.tensor([0.0, 1.0, 1.0, 1.0]))


def test_gray_box_params_only_affect_recorded_passes() -> None:
    act = JumpReLU(kappa=1.0)
    act.grad_params = {"kappa": 0.0}
    x = torch.tensor([0.5, 2.0])
    with torch.no_grad():
        assert torch.equal(act(x), torch.tensor([0.0, 2.0]))
    xg = x.clone().requires_grad_(True)
    assert torch.equal(act(xg).detach(), torch.tensor([0.5, 2.0]))


def test_randomized_jump_relu_draws_in_interval_and_is_seeded() -> None:
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    a, b = RandomizedJumpReLU(kappa=1.0, generator=g1), RandomizedJumpReLU(kappa=1.0, generator=g2)
    x = torch.linspace(0, 2, 201)
    draws = []
    for _ in range(50):
        ya, yb = a(x), b(x)
        assert torch.equal(ya, yb)
        assert a.last_kappa is not None
        draws.append(a.last_kappa)
    assert min(draws) >= 0.6 and max(draws) <= 1.0
    assert len(set(draws)) == 50


@pytest.mark.parametrize(
    ("factory", "match"),
    [
        (lambda: JumpReLU(kappa=-0.1), "kappa"),
        (lambda: JumpReLU(kappa=float("nan")), "kappa"),
        (lambda: BoundedReLU(t=0.0), "t"),
        (lambda: CappedReLU(beta=-1.0), "beta"),
        (lambda: SlopedReLU(alpha=0.0), "alpha"),
        (lambda: RandomizedJumpReLU(kappa=1.0, low=1.5), "low"),
        (lambda: JumpReLU(kappa=1.0, grad_mode="foo"), "grad_mode"),  # type: ignore[arg-type]
        (lambda: create_activation("swish"), "activation"),
        (lambda: create_activation("jumprelu", alpha=2.0), "alpha"),
    ],
)
def test_bad_parameters_raise(factory: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        factory()  # type: ignore[operator]


def test_parameters_settable_and_validated() -> None:
    act = create_activation("capped", beta=0.2)
    assert isinstance(act, CappedReLU)
    act.beta = 0.5
    assert act.get_params() == {"beta": 0.5}
    act.set_params(beta=0.1)
    assert act.beta == 0.1
    with pytest.raises(ValueError, match="beta"):
        act.beta = -1.0
    with pytest.raises(ValueError, match="kappa"):
        act.set_params(kappa=1.0)
    assert "beta=0.1" in repr(act)
