"""The exact MNIST network of the sloped-ReLU paper (Borji 2020, Fig. 10, ``NetTest``)."""

from __future__ import annotations

import torch
from torch import nn

from ._layers import ActivationFactory, FeatureClassifier, check_float, resolve_activation

__all__ = ["srelu_paper_mnist_cnn"]


def srelu_paper_mnist_cnn(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    dropout: float = 0.5,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """Borji's MNIST CNN (the PyTorch FGSM tutorial's LeNet), layer for layer as in Fig. 10.

    ``conv5x5(10)-maxpool2-act-conv5x5(20)-dropout2d-maxpool2-act-fc(50)-act-dropout-fc(nb_classes)``
    (320 flattened features on 28x28 MNIST). Inputs smaller than 16 pixels (8x8 digits) get
    2 pixels of zero padding per convolution so that both 5x5 kernels fit.

    | Paper link: https://arxiv.org/abs/2006.05594

    :param dropout: Dropout rate of the ``Dropout2d`` after conv2 and of the dropout after fc1
        (``F.dropout``'s and ``nn.Dropout2d``'s default 0.5 in the paper's code).
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    act = resolve_activation(activation)
    p = check_float("dropout", dropout, 0.0, 1.0)
    c, h, w = input_shape
    pad = 0 if min(h, w) >= 16 else 2
    features = nn.Sequential(
        nn.Conv2d(c, 10, kernel_size=5, padding=pad),
        nn.MaxPool2d(2, ceil_mode=True),
        act(),
        nn.Conv2d(10, 20, kernel_size=5, padding=pad),
        nn.Dropout2d(p),
        nn.MaxPool2d(2, ceil_mode=True),
        act(),
    )
    with torch.no_grad():
        flat = int(features(torch.zeros(1, c, h, w)).flatten(1).shape[1])
    head = nn.Sequential(nn.Linear(flat, 50), act(), nn.Dropout(p), nn.Linear(50, nb_classes))
    return FeatureClassifier(features, head)
