"""``retrofit`` and ``relu_sites`` on edge-case models and torchvision networks."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import fx, nn

from art_activation_defenses import JumpReLU, SlopedReLU, relu_sites, retrofit


class Mixed(nn.Module):
    """One in-place ReLU instance used twice, functional and method calls, a LeakyReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.l1, self.l2, self.l3 = nn.Linear(4, 8), nn.Linear(8, 8), nn.Linear(8, 8)
        self.shared = nn.ReLU(inplace=True)
        self.leaky = nn.LeakyReLU(0.1)
        self.block = nn.Sequential(nn.Sequential(nn.Linear(8, 8), nn.ReLU()), nn.GELU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shared(self.l1(x))
        x = self.shared(self.l2(x))
        x = F.relu(x)
        y = self.leaky(x.relu())
        return self.l3(self.block(y)) + torch.relu(x)


class InplaceFunctional(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.l1 = nn.Linear(4, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.l1(x)
        F.relu(h, inplace=True)
        return h * 2.0


@pytest.fixture()
def x() -> torch.Tensor:
    return torch.randn(16, 4, generator=torch.Generator().manual_seed(0))


def _state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_sites_cover_modules_shared_instances_and_functional_calls() -> None:
    sites = relu_sites(Mixed())
    assert [s.name for s in sites] == ["shared#0", "shared#1", "relu", "relu_1", "block.0.1", "relu_2"]
    assert [s.kind for s in sites] == ["module", "module", "function", "method", "module", "function"]
    assert sites[0].inplace and not sites[4].inplace


def test_leaky_gelu_and_relu6_untouched_by_default() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.LeakyReLU(), nn.GELU(), nn.ReLU6())
    with pytest.raises(ValueError, match="include_relu6"):
        retrofit(model, "jumprelu", kappa=0.1)
    fitted = retrofit(model, "capped", beta=6.0, include_relu6=True)
    assert [s.original for s in fitted.sites] == ["relu6"]
    assert isinstance(fitted.model[1], nn.LeakyReLU) and isinstance(fitted.model[2], nn.GELU)


def test_no_relu_site_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no ReLU site"):
        retrofit(nn.Sequential(nn.Linear(2, 2), nn.Tanh()), "jumprelu")


@pytest.mark.parametrize(
    ("activation", "params"),
    [("jumprelu", {"kappa": 0.0}), ("brelu", {"t": float("inf")}), ("srelu", {"alpha": 1.0})],
)
@pytest.mark.parametrize("model_cls", [Mixed, InplaceFunctional])
def test_neutral_retrofit_equals_original_bitwise(
    model_cls: type[nn.Module], activation: str, params: dict[str, float], x: torch.Tensor
) -> None:
    torch.manual_seed(0)
    model = model_cls().eval()
    fitted = retrofit(model, activation, **params)
    assert torch.equal(fitted.model(x), model(x))


def test_caller_model_bitwise_unchanged(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = Mixed()
    state, structure, out = _state(model), repr(model), model(x)
    fitted = retrofit(model, "jumprelu", kappa=0.5)
    fitted.model(x).sum().backward()
    assert repr(model) == structure
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert torch.equal(model(x), out)


def test_copy_false_swaps_in_place() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 2))
    fitted = retrofit(model, "jumprelu", kappa=0.3, copy=False)
    assert fitted.model is model and isinstance(model[1], JumpReLU)
    assert fitted.mechanism == "module-swap"


def test_layer_selection_by_name_index_and_partial_shared(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = Mixed().eval()
    by_index = retrofit(model, "jumprelu", kappa=10.0, layers=[-1])
    assert [s.name for s in by_index.sites] == ["relu_2"]
    partial = retrofit(model, "jumprelu", kappa=10.0, layers=["shared#1"])
    assert partial.mechanism == "torch.fx" and isinstance(partial.model, fx.GraphModule)
    # Independent computation: kappa=10 zeroes the second use of `shared` only.
    h = torch.relu(model.l1(x))
    h = torch.zeros_like(model.l2(h))
    y = model.leaky(torch.relu(h))
    expected = model.l3(model.block(y)) + torch.relu(h)
    assert torch.allclose(partial.model(x), expected, atol=1e-6)
    whole = retrofit(model, "jumprelu", kappa=0.2, layers="block.0.1")
    assert whole.mechanism == "module-swap" and isinstance(whole.model.block[0][1], JumpReLU)
    with pytest.raises(ValueError, match="not a ReLU site"):
        retrofit(model, "jumprelu", layers=["l1"])
    with pytest.raises(ValueError, match="out of range"):
        retrofit(model, "jumprelu", layers=[99])


def test_inplace_functional_rewrite_keeps_semantics(x: torch.Tensor) -> None:
    torch.manual_seed(0)
    model = InplaceFunctional().eval()
    fitted = retrofit(model, "srelu", alpha=3.0)
    assert torch.allclose(fitted.model(x), 2.0 * 3.0 * torch.relu(model.l1(x)))


def test_parameters_settable_after_retrofit(x: torch.Tensor) -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU())
    fitted = retrofit(model, "srelu", alpha=2.0)
    fitted.set_params(alpha=1.0)
    assert torch.equal(fitted.model(x), model(x))
    assert all(isinstance(m, SlopedReLU) and m.alpha == 1.0 for m in fitted.activations())


def test_template_and_factory_activations() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU())
    fitted = retrofit(model, JumpReLU(kappa=0.4))
    mods = fitted.activations()
    assert len(mods) == 2 and mods[0] is not mods[1] and mods[0].kappa == 0.4
    fitted = retrofit(model, lambda: SlopedReLU(alpha=2.0))
    assert all(m.alpha == 2.0 for m in fitted.activations())
    with pytest.raises(ValueError, match="only accepted with an activation name"):
        retrofit(model, JumpReLU(), kappa=1.0)


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_torchvision_models(name: str) -> None:
    torch.manual_seed(0)
    model = getattr(torchvision.models, name)(num_classes=10).eval()
    xs = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    reference = copy.deepcopy(model)
    if name == "resnet18":
        fitted = retrofit(model, "jumprelu", kappa=0.0)
        assert len(fitted.sites) == 17
    else:
        fitted = retrofit(model, "capped", beta=6.0, include_relu6=True)
        assert len(fitted.sites) == 35
    with torch.no_grad():
        assert torch.equal(fitted.model(xs), reference(xs))
        fitted.set_params(**({"kappa": 0.5} if name == "resnet18" else {"beta": 0.5}))
        assert not torch.equal(fitted.model(xs), reference(xs))


@pytest.mark.parametrize(
    ("name", "shape", "kwargs"),
    [
        ("lenet-like", (1, 28, 28), {}),
        ("alex-like", (3, 32, 32), {}),
        ("wide-resnet", (3, 32, 32), {"depth": 10, "width": 1}),
        ("mobilenet-v2-cifar", (3, 32, 32), {"width_mult": 0.25}),
        ("mlp", (1, 28, 28), {"hidden": (392, 196)}),
        ("srelu-mnist-cnn", (1, 28, 28), {}),
        ("srelu-cifar-cnn", (3, 32, 32), {}),
        ("brelu-cnn", (1, 28, 28), {}),
        ("brelu-resnet", (1, 28, 28), {}),
    ],
)
def test_every_zoo_model_retrofits_exactly(name: str, shape: tuple[int, ...], kwargs: dict) -> None:
    from art_activation_defenses import build_model

    torch.manual_seed(0)
    model = build_model(name, shape, 10, **kwargs).eval()
    xs = torch.rand(2, *shape, generator=torch.Generator().manual_seed(0))
    fitted = retrofit(model, "jumprelu", kappa=0.0)
    n_relu = sum(isinstance(m, nn.ReLU) for m in model.modules())
    assert len(fitted.sites) == n_relu and fitted.mechanism == "module-swap"
    with torch.no_grad():
        assert torch.equal(fitted.model(xs), model(xs))
