"""The BReLU paper's own CNN and ResNet (Sec. 4.1), zoo name ``brelu-gda-paper``."""

from __future__ import annotations

import pytest
import torch
import torch.fx
from torch import nn

from art_activation_defenses.activations import BoundedReLU
from art_activation_defenses.models import build_model


def test_paper_cnn_layers_on_mnist() -> None:
    """Conv2D(64, 8x8) - Conv2D(128, 6x6) - Conv2D(128, 5x5) - Softmax(10): a 1x1x128 map before the head."""
    torch.manual_seed(0)
    model = build_model("brelu-gda-paper", (1, 28, 28), 10)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convs] == [
        (64, (8, 8), (2, 2)), (128, (6, 6), (2, 2)), (128, (5, 5), (1, 1))
    ]  # fmt: skip
    head = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(head) == 1 and head[0].in_features == 128
    by_hand = (64 * 64 + 64) + (128 * 64 * 36 + 128) + (128 * 128 * 25 + 128) + (128 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == by_hand


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)], ids=["digits", "mnist", "cifar"])
def test_paper_resnet(shape: tuple[int, int, int]) -> None:
    """Conv 8x8 - Conv 6x6 - three 1x1 convs with an identity shortcut - 3x3 max pooling - linear."""
    torch.manual_seed(0)
    model = build_model("brelu-gda-paper", shape, 10, residual=True)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    widths = [(64, 8), (128, 6), (64, 1), (64, 1), (128, 1)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == widths
    assert any(isinstance(m, nn.MaxPool2d) and m.kernel_size == 3 for m in model.modules())
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert len(relus) == 5 and len({id(m) for m in relus}) == 5
    out = model(torch.rand(2, *shape))
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    assert not [n for n in torch.fx.symbolic_trace(model).graph.nodes if "relu" in str(n.target)]


def test_paper_models_with_bounded_relu_and_validation() -> None:
    brelu = lambda: BoundedReLU(t=1.0)  # noqa: E731
    model = build_model("brelu-gda-paper", (1, 28, 28), 10, residual=True, activation=brelu)
    assert sum(isinstance(m, BoundedReLU) for m in model.modules()) == 5
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    with pytest.raises(ValueError, match="residual"):
        build_model("brelu-gda-paper", (1, 28, 28), 10, residual=1)
