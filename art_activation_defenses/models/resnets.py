"""Residual networks: Wide ResNet (JumpReLU paper) and a CIFAR ResNet (bounded-ReLU paper).

Each block owns its activation modules (one per call site), the stem is stride 1 and the
head uses adaptive average pooling, so 8x8, 28x28 and 32x32 inputs all work.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from ._layers import ActivationFactory, check_float, check_int, resolve_activation

__all__ = ["BasicBlock", "PreActBlock", "ResNet", "WideResNet", "brelu_resnet", "wide_resnet"]

logger = logging.getLogger(__name__)


def _conv3x3(c_in: int, c_out: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)


class PreActBlock(nn.Module):
    """Pre-activation wide residual block: ``bn-act-conv-bn-act-[dropout]-conv`` plus shortcut."""

    def __init__(
        self, c_in: int, c_out: int, stride: int, activation: ActivationFactory, dropout: float
    ) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(c_in)
        self.act1 = activation()
        self.conv1 = _conv3x3(c_in, c_out, stride)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = activation()
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.conv2 = _conv3x3(c_out, c_out)
        self.shortcut: nn.Module | None = None
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o = self.act1(self.bn1(x))
        residual = x if self.shortcut is None else self.shortcut(o)
        out = self.conv1(o)
        out = self.conv2(self.dropout(self.act2(self.bn2(out))))
        return out + residual


class WideResNet(nn.Module):
    """WRN-d-k (Zagoruyko & Komodakis 2016) with pre-activation blocks and BatchNorm."""

    def __init__(
        self,
        in_channels: int,
        nb_classes: int,
        *,
        blocks: int,
        width: int,
        activation: ActivationFactory,
        dropout: float,
    ) -> None:
        super().__init__()
        widths = (16, 16 * width, 32 * width, 64 * width)
        self.conv = _conv3x3(in_channels, widths[0])
        stages: list[nn.Module] = []
        c = widths[0]
        for i, stride in enumerate((1, 2, 2)):
            layers = []
            for b in range(blocks):
                layers.append(PreActBlock(c, widths[i + 1], stride if b == 0 else 1, activation, dropout))
                c = widths[i + 1]
            stages.append(nn.Sequential(*layers))
        self.stage1, self.stage2, self.stage3 = stages
        self.bn = nn.BatchNorm2d(c)
        self.act = activation()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, nb_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stage3(self.stage2(self.stage1(self.conv(x))))
        out = self.pool(self.act(self.bn(out)))
        return self.fc(torch.flatten(out, 1))


class BasicBlock(nn.Module):
    """Post-activation residual block of He et al. (2016): ``conv-bn-act-conv-bn + shortcut, act``."""

    def __init__(self, c_in: int, c_out: int, stride: int, activation: ActivationFactory) -> None:
        super().__init__()
        self.conv1 = _conv3x3(c_in, c_out, stride)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.act1 = activation()
        self.conv2 = _conv3x3(c_out, c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.act2 = activation()
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.act2(out + self.shortcut(x))


class ResNet(nn.Module):
    """CIFAR ResNet (He et al. 2016): 3 stages of ``blocks`` basic blocks, 16/32/64 widths."""

    def __init__(
        self, in_channels: int, nb_classes: int, *, blocks: int, activation: ActivationFactory
    ) -> None:
        super().__init__()
        self.conv = _conv3x3(in_channels, 16)
        self.bn = nn.BatchNorm2d(16)
        self.act = activation()
        stages: list[nn.Module] = []
        c = 16
        for width, stride in ((16, 1), (32, 2), (64, 2)):
            layers = []
            for b in range(blocks):
                layers.append(BasicBlock(c, width, stride if b == 0 else 1, activation))
                c = width
            stages.append(nn.Sequential(*layers))
        self.stage1, self.stage2, self.stage3 = stages
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c, nb_classes)
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act(self.bn(self.conv(x)))
        out = self.pool(self.stage3(self.stage2(self.stage1(out))))
        return self.fc(torch.flatten(out, 1))


def _init_weights(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)


def wide_resnet(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    depth: int = 30,
    width: int = 4,
    dropout: float = 0.0,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """Wide ResNet, the CIFAR-10 model of the JumpReLU paper (depth 30, width 4).

    Blocks per stage are ``(depth - 4) // 6``. Depths not of the form ``6n + 4`` round down:
    the paper's depth 30 gives 4 blocks per stage (the same network as WRN-28-4; the paper
    does not say how it counts depth). ``depth=10, width=1`` is a tiny variant for tests.

    | Paper link: https://arxiv.org/abs/1605.07146

    :param depth: Network depth, at least 10. Default 30.
    :param width: Widening factor k, at least 1. Default 4.
    :param dropout: Dropout between the convolutions of each block. Default 0.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    act = resolve_activation(activation)
    depth = check_int("depth", depth, 10)
    width = check_int("width", width, 1)
    p = check_float("dropout", dropout, 0.0, 1.0)
    blocks = (depth - 4) // 6
    if (depth - 4) % 6:
        logger.info("wide-resnet depth %d is not 6n+4; using %d blocks per stage", depth, blocks)
    return WideResNet(input_shape[0], nb_classes, blocks=blocks, width=width, activation=act, dropout=p)


def brelu_resnet(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    depth: int = 20,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """CIFAR ResNet of the bounded-ReLU paper (Zantedeschi et al. 2017), as closely as known.

    A He et al. CIFAR ResNet with ``(depth - 2) / 6`` basic blocks per stage; the default
    depth 20 is ResNet-20, ``depth=8`` a tiny variant for tests. Pass
    ``activation=lambda: BoundedReLU(t)`` to train with bounded ReLU from the start.

    | Paper link: https://arxiv.org/abs/1707.06728

    :param depth: ``6n + 2`` with ``n >= 1``. Default 20.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    act = resolve_activation(activation)
    depth = check_int("depth", depth, 8)
    if (depth - 2) % 6:
        raise ValueError(f"depth must be 6n + 2 (8, 14, 20, 32, ...), got {depth!r}")
    return ResNet(input_shape[0], nb_classes, blocks=(depth - 2) // 6, activation=act)
