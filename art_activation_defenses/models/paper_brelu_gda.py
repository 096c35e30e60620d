"""The two networks of the bounded-ReLU paper (Zantedeschi et al. 2017, Sec. 4.1), as specified there.

* CNN: ``Conv2D(64, 8x8) - Conv2D(128, 6x6) - Conv2D(128, 5x5) - Softmax(10)`` (the cleverhans
  basic CNN: strides 2, 2, 1; the first convolution "same"-padded, the others unpadded).
* ResNet: ``Conv2D(64, 8x8) - Conv2D(128, 6x6) - Conv2D(64, 1x1) - Conv2D(64, 1x1) -
  Conv2D(128, 1x1) - MaxPooling(3x3) - Softmax(10)`` with an identity shortcut from the output of
  layer 2 to the input of layer 6 (added before the last activation).

Both output logits (the softmax is in the loss) and own one activation module per call site.
On inputs too small for the unpadded convolutions (8x8 digits) every convolution is "same"-padded.

| Paper link: https://arxiv.org/abs/1707.06728
"""

from __future__ import annotations

import torch
from torch import nn

from ._layers import ActivationFactory, FeatureClassifier, flat_features, resolve_activation

__all__ = ["paper_brelu_gda", "zantedeschi_cnn", "zantedeschi_resnet"]


def _conv(c_in: int, c_out: int, kernel: int, stride: int, size: int, same: bool) -> tuple[nn.Module, int]:
    """A convolution with TensorFlow-style "same" (``ceil(size / stride)``) or "valid" padding."""
    if not same:
        return nn.Conv2d(c_in, c_out, kernel, stride=stride), (size - kernel) // stride + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    pad = (total // 2, total - total // 2) * 2
    return nn.Sequential(nn.ZeroPad2d(pad), nn.Conv2d(c_in, c_out, kernel, stride=stride)), out


def _stem(c_in: int, size: int, act: ActivationFactory) -> tuple[list[nn.Module], int]:
    """``conv64 8x8 /2 (same) - act - conv128 6x6 /2 - act``; the second conv is unpadded when it fits."""
    valid = (-(-size // 2) - 6) // 2 + 1 >= 5  # room left for the CNN's unpadded 5x5 too
    conv1, size = _conv(c_in, 64, 8, 2, size, True)
    conv2, size = _conv(64, 128, 6, 2, size, not valid)
    return [conv1, act(), conv2, act()], size


def zantedeschi_cnn(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """The paper's CNN: ``conv64(8x8, /2) - conv128(6x6, /2) - conv128(5x5) - fc(nb_classes)``.

    On 28x28 MNIST the last convolution leaves a 1x1x128 map. Pass
    ``activation=lambda: BoundedReLU(t=1.0)`` for the paper's CNN + BRELU.

    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    act = resolve_activation(activation)
    c, h, _ = input_shape
    layers, size = _stem(c, h, act)
    conv3, _ = _conv(128, 128, 5, 1, size, size < 5)
    features = nn.Sequential(*layers, conv3, act())
    return FeatureClassifier(features, nn.Linear(flat_features(features, input_shape), nb_classes))


class ZantedeschiResNet(nn.Module):
    """The paper's ResNet: the CNN's two first convolutions, three 1x1 convolutions, an identity
    shortcut around them, 3x3 max pooling and a linear layer."""

    def __init__(self, input_shape: tuple[int, int, int], nb_classes: int, act: ActivationFactory) -> None:
        super().__init__()
        layers, _ = _stem(input_shape[0], input_shape[1], act)
        self.stem = nn.Sequential(*layers)
        self.block = nn.Sequential(
            nn.Conv2d(128, 64, 1), act(), nn.Conv2d(64, 64, 1), act(), nn.Conv2d(64, 128, 1)
        )
        self.act = act()
        self.pool = nn.MaxPool2d(3, stride=3, ceil_mode=True)
        with torch.no_grad():
            n = self._features(torch.zeros(1, *input_shape)).numel()
        self.fc = nn.Linear(n, nb_classes)

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        out = self.stem(x)
        return torch.flatten(self.pool(self.act(self.block(out) + out)), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self._features(x))  # type: ignore[no-any-return]


def zantedeschi_resnet(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """The paper's ResNet (see :class:`ZantedeschiResNet`); on 28x28 MNIST the pooled map is 2x2x128.

    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    return ZantedeschiResNet(input_shape, nb_classes, resolve_activation(activation))


def paper_brelu_gda(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    residual: bool = False,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """The paper's CNN (default) or, with ``residual=True``, its ResNet (the zoo's ``"brelu-gda-paper"``).

    :param residual: Build the ResNet variant. Default False (the CNN).
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    if not isinstance(residual, bool):
        raise ValueError(f"residual must be a bool, got {residual!r}")
    return (zantedeschi_resnet if residual else zantedeschi_cnn)(
        input_shape, nb_classes, activation=activation
    )
