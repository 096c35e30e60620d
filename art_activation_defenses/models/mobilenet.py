"""MobileNetV2 adapted to 32x32 inputs (stride-1 stem, stride-1 second stage)."""

from __future__ import annotations

import torch
from torch import nn

from ._layers import ActivationFactory, check_float, resolve_activation

__all__ = ["InvertedResidual", "MobileNetV2", "mobilenet_v2_cifar"]

# (expansion t, output channels c, repeats n, first stride s); CIFAR variant: stage 2 has s=1.
_CONFIG = (
    (1, 16, 1, 1),
    (6, 24, 2, 1),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor`` without dropping more than 10%."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


def _conv_bn(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel, stride, kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]


class InvertedResidual(nn.Module):
    """``[1x1 expand-bn-act]-3x3 depthwise-bn-act-1x1 project-bn`` with a residual when shapes match."""

    def __init__(
        self, c_in: int, c_out: int, stride: int, expand: int, activation: ActivationFactory
    ) -> None:
        super().__init__()
        hidden = c_in * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [*_conv_bn(c_in, hidden, 1), activation()]
        layers += [*_conv_bn(hidden, hidden, 3, stride, groups=hidden), activation()]
        layers += _conv_bn(hidden, c_out, 1)
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) for small images; adaptive pooling before the classifier."""

    def __init__(
        self,
        in_channels: int,
        nb_classes: int,
        *,
        width_mult: float,
        activation: ActivationFactory,
        dropout: float,
    ) -> None:
        super().__init__()
        c = _divisible(32 * width_mult)
        last = _divisible(1280 * max(1.0, width_mult))
        layers: list[nn.Module] = [*_conv_bn(in_channels, c, 3, 1), activation()]
        for t, channels, n, s in _CONFIG:
            c_out = _divisible(channels * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, s if i == 0 else 1, t, activation))
                c = c_out
        layers += [*_conv_bn(c, last, 1), activation()]
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout) if dropout > 0 else nn.Identity(), nn.Linear(last, nb_classes)
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def mobilenet_v2_cifar(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    width_mult: float = 1.0,
    dropout: float = 0.2,
    relu6: bool = False,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """MobileNetV2 for 32x32 images: stride-1 stem and second stage (total stride 8).

    Activations are ``nn.ReLU`` by default so that ReLU retrofits reach every site;
    ``relu6=True`` keeps the original ReLU6.

    | Paper link: https://arxiv.org/abs/1801.04381

    :param width_mult: Channel multiplier (> 0). Default 1.0.
    :param dropout: Dropout before the classifier. Default 0.2.
    :param relu6: Use ``nn.ReLU6`` like the original (not with ``activation``). Default False.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    width_mult = check_float("width_mult", width_mult, 0.0, 10.0, high_open=False)
    if width_mult <= 0:
        raise ValueError(f"width_mult must be > 0, got {width_mult!r}")
    p = check_float("dropout", dropout, 0.0, 1.0)
    if not isinstance(relu6, bool):
        raise ValueError(f"relu6 must be a bool, got {relu6!r}")
    if relu6 and activation is not None:
        raise ValueError(f"relu6=True conflicts with activation={activation!r}; pass only one")
    act = nn.ReLU6 if relu6 else resolve_activation(activation)
    return MobileNetV2(input_shape[0], nb_classes, width_mult=width_mult, activation=act, dropout=p)
