"""Tests of the model zoo: shapes for every dataset, one distinct nn.ReLU per call site, validation."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.fx
from torch import nn

from art_activation_defenses.models import MODELS, available_models, build_model, model_kwargs

SHAPES = [(1, 8, 8), (1, 28, 28), (3, 32, 32)]
# Tiny variants of the large models keep the suite fast; defaults are checked separately.
SMALL: dict[str, dict[str, Any]] = {
    "wide-resnet": {"depth": 10, "width": 1},
    "mobilenet-v2-cifar": {"width_mult": 0.25},
    "brelu-resnet": {"depth": 8},
}
# Activation call sites per model with the SMALL settings (independent count from the architectures).
SITES = {
    "lenet-like": 4,  # 2 conv + 2 dense
    "alex-like": 6,  # 4 conv + 2 dense
    "wide-resnet": 7,  # 3 blocks x 2 + final
    "mobilenet-v2-cifar": 35,  # stem + 17 blocks x 2 (first block has no expansion: 1) + last conv
    "mlp": 2,
    "srelu-mnist-cnn": 3,
    "srelu-paper-mnist-cnn": 3,
    "srelu-cifar-cnn": 5,
    "brelu-cnn": 6,
    "brelu-resnet": 7,  # stem + 3 blocks x 2
    "brelu-gda-paper": 3,  # the BReLU paper's CNN: 3 conv (its ResNet: experiments/test_brelu_gda_models.py)
}


def _build(name: str, shape: tuple[int, int, int], **kw: Any) -> nn.Module:
    torch.manual_seed(0)
    return build_model(name, shape, 10, **{**SMALL.get(name, {}), **kw})


def test_registry_lists_all_paper_models() -> None:
    assert set(available_models()) == set(SITES) == set(MODELS)
    for name in available_models():
        assert "activation" in model_kwargs(name)


@pytest.mark.parametrize("shape", SHAPES, ids=["digits", "mnist", "cifar"])
@pytest.mark.parametrize("name", sorted(SITES))
def test_builds_and_outputs_logits(name: str, shape: tuple[int, int, int]) -> None:
    """Every model takes every dataset's input size and returns finite (n, nb_classes) logits."""
    model = _build(name, shape).eval()
    with torch.no_grad():
        out = model(torch.rand(3, *shape, generator=torch.Generator().manual_seed(1)))
    assert out.shape == (3, 10) and out.dtype == torch.float32
    assert torch.isfinite(out).all()
    # logits, not probabilities: rows do not sum to one
    assert not torch.allclose(out.sum(1), torch.ones(3))


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32)], ids=["digits", "cifar"])
@pytest.mark.parametrize("name", sorted(SITES))
def test_one_distinct_relu_module_per_call_site(name: str, shape: tuple[int, int, int]) -> None:
    """Each nn.ReLU is called exactly once per forward pass and no functional relu is used."""
    model = _build(name, shape)
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == SITES[name]
    assert len({id(m) for m in relus}) == len(relus)
    calls: list[int] = []
    for m in relus:
        m.register_forward_hook(lambda mod, _inp, _out: calls.append(id(mod)))
    model.train()  # batch of 2 keeps BatchNorm valid in training mode
    model(torch.rand(2, *shape)).sum().backward()
    assert sorted(calls) == sorted(id(m) for m in relus)
    graph = torch.fx.symbolic_trace(model).graph
    functional = [
        n for n in graph.nodes if n.op in ("call_function", "call_method") and "relu" in str(n.target)
    ]
    assert functional == []
    assert all(p.grad is not None for p in model.parameters()), "some parameters are not used"


@pytest.mark.parametrize("name", sorted(SITES))
def test_activation_factory_replaces_every_relu(name: str) -> None:
    """``activation=`` builds the model with another activation at every site from the start."""
    model = _build(name, (1, 8, 8), activation=nn.Tanh)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == SITES[name]
    assert model.eval()(torch.rand(2, 1, 8, 8)).shape == (2, 10)


def test_same_seed_same_weights() -> None:
    a, b = _build("alex-like", (3, 32, 32)), _build("alex-like", (3, 32, 32))
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_construction_leaves_no_batchnorm_statistics_changed() -> None:
    model = _build("wide-resnet", (3, 32, 32))
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(m.num_batches_tracked is not None and int(m.num_batches_tracked) == 0 for m in bns)


def test_carlini_wagner_parameter_counts() -> None:
    """Unpadded C&W nets have the parameter counts computed from the architecture by hand."""
    cifar = 1792 + 36928 + 73856 + 147584 + (128 * 5 * 5 * 256 + 256) + (256 * 256 + 256) + (256 * 10 + 10)
    mnist = 320 + 9248 + 18496 + 36928 + (64 * 4 * 4 * 200 + 200) + (200 * 200 + 200) + (200 * 10 + 10)
    assert sum(p.numel() for p in _build("alex-like", (3, 32, 32)).parameters()) == cifar == 1147978
    assert sum(p.numel() for p in _build("brelu-cnn", (1, 28, 28)).parameters()) == mnist == 312202


def test_mlp_hidden_sizes() -> None:
    model = _build("mlp", (1, 28, 28), hidden=(196, 392))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(784, 196), (196, 392), (392, 10)]


def test_wide_resnet_defaults_follow_paper() -> None:
    """Default depth 30, width 4: 4 pre-activation blocks per stage, widths 64/128/256."""
    model = build_model("wide-resnet", (3, 32, 32), 10)
    assert len(model.stage1) == len(model.stage2) == len(model.stage3) == 4  # type: ignore[arg-type]
    assert model.fc.in_features == 256  # type: ignore[union-attr]
    assert sum(isinstance(m, nn.ReLU) for m in model.modules()) == 4 * 3 * 2 + 1


def test_mobilenet_relu6_option() -> None:
    model = _build("mobilenet-v2-cifar", (3, 32, 32), relu6=True)
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    assert sum(isinstance(m, nn.ReLU6) for m in model.modules()) == SITES["mobilenet-v2-cifar"]


def test_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"model name.*lenet-like.*'resnet1000'"):
        build_model("resnet1000", (1, 8, 8), 10)


def test_unknown_kwarg() -> None:
    with pytest.raises(ValueError, match=r"unknown keyword argument.*bogus.*'lenet-like'.*accepted.*dropout"):
        build_model("lenet-like", (1, 8, 8), 10, bogus=1)


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("wide-resnet", {"depth": 4}, "depth"),
        ("wide-resnet", {"width": 0}, "width"),
        ("brelu-resnet", {"depth": 11}, r"depth.*6n \+ 2.*11"),
        ("mlp", {"hidden": ()}, "hidden"),
        ("mlp", {"hidden": (10, -1)}, "hidden"),
        ("lenet-like", {"channels": (6, 16, 32)}, "channels"),
        ("lenet-like", {"dropout": 1.0}, "dropout"),
        ("alex-like", {"padding": "full"}, r"padding.*'full'"),
        ("mobilenet-v2-cifar", {"width_mult": 0}, "width_mult"),
        ("mobilenet-v2-cifar", {"relu6": True, "activation": nn.ReLU}, "relu6"),
        ("brelu-cnn", {"activation": 3}, "activation"),
    ],
)
def test_invalid_kwargs(name: str, kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_model(name, (1, 28, 28), 10, **kwargs)


def test_shared_activation_instance_rejected() -> None:
    shared = nn.ReLU()
    with pytest.raises(ValueError, match="new module"):
        build_model("mlp", (1, 8, 8), 10, activation=lambda: shared)
    with pytest.raises(ValueError, match="nn.Module"):
        build_model("mlp", (1, 8, 8), 10, activation=lambda: "relu")


@pytest.mark.parametrize(
    ("shape", "nb_classes", "match"),
    [((1, 8), 10, "input_shape"), ((1, 0, 8), 10, "input_shape"), ((1, 8, 8), 1, "nb_classes")],
)
def test_invalid_shape_or_classes(shape: tuple[int, ...], nb_classes: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build_model("mlp", shape, nb_classes)


def test_valid_padding_too_small_for_digits() -> None:
    with pytest.raises(ValueError, match=r"padding='valid'.*8x8"):
        build_model("alex-like", (1, 8, 8), 10, padding="valid")
