"""Small plain networks of the papers: LeNet-like, C&W's CIFAR net, MLPs and simple CNNs.

All of them are ``features -> flatten -> classifier`` stacks with one fresh activation module
per call site and logits as output. Flatten sizes come from a dummy forward pass at
construction, and pooling uses ``ceil_mode=True``, so any input size of the datasets works
(8x8 digits, 28x28 MNIST, 32x32 CIFAR-10).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from ._layers import (
    ActivationFactory,
    FeatureClassifier,
    Padding,
    check_float,
    check_int_seq,
    check_padding,
    conv_stack,
    dense_head,
    flat_features,
    resolve_activation,
)

__all__ = ["alex_like", "brelu_cnn", "lenet_like", "mlp", "srelu_cifar_cnn", "srelu_mnist_cnn"]


def _conv_net(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    stages: Sequence[Sequence[int]],
    hidden: Sequence[int],
    activation: ActivationFactory | None,
    kernel: int,
    padding: Padding,
    dropout: float,
    pool_dropout: float = 0.0,
) -> FeatureClassifier:
    act = resolve_activation(activation)
    padding = check_padding(padding)
    dropout = check_float("dropout", dropout, 0.0, 1.0)
    pool_dropout = check_float("pool_dropout", pool_dropout, 0.0, 1.0)
    c, h, w = input_shape
    features = conv_stack(
        c, stages, act, hw=(h, w), kernel=kernel, padding=padding, pool_dropout=pool_dropout
    )
    head = dense_head(flat_features(features, input_shape), hidden, nb_classes, act, dropout=dropout)
    return FeatureClassifier(features, head)


def lenet_like(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    channels: Sequence[int] = (6, 16),
    hidden: Sequence[int] = (120, 84),
    dropout: float = 0.5,
    padding: Padding = "same",
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """LeNet-5-like network with dropout, the MNIST model of the JumpReLU paper.

    ``conv5x5(channels[0])-act-pool-conv5x5(channels[1])-act-pool-fc(hidden[0])-act-dropout-
    fc(hidden[1])-act-fc(nb_classes)``. The paper describes it only as "LeNet5-like with
    dropout"; the widths default to LeNet-5's (6/16 channels, 120/84 units), small enough for
    the demo, the attacks and the LID features to run at speed on two CPU cores.

    | Paper link: https://arxiv.org/abs/1904.03750

    :param channels: Widths of the two convolutions. Default ``(6, 16)`` (LeNet-5).
    :param hidden: Widths of the two hidden dense layers. Default ``(120, 84)`` (LeNet-5).
    :param dropout: Dropout after the first dense layer. Default 0.5.
    :param padding: ``"same"`` (default), ``"valid"`` or ``"auto"``.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    ch = check_int_seq("channels", channels)
    hid = check_int_seq("hidden", hidden)
    if len(ch) != 2 or len(hid) != 2:
        raise ValueError(
            f"lenet-like needs 2 channels and 2 hidden sizes, got channels={channels!r}, hidden={hidden!r}"
        )
    return _conv_net(
        input_shape,
        nb_classes,
        stages=[[ch[0]], [ch[1]]],
        hidden=hid,
        activation=activation,
        kernel=5,
        padding=padding,
        dropout=dropout,
    )


def alex_like(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    dropout: float = 0.5,
    padding: Padding = "auto",
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """The Carlini & Wagner CIFAR-10 network, used as "AlexLike" in the JumpReLU paper.

    ``conv64-conv64-pool-conv128-conv128-pool-fc256-fc256-fc(nb_classes)``, 3x3 kernels,
    an activation after every conv and hidden dense layer, dropout after the first dense layer.

    | Paper link: https://arxiv.org/abs/1608.04644

    :param dropout: Dropout after the first dense layer. Default 0.5 (as C&W); 0 disables.
    :param padding: ``"auto"`` (default: unpadded as C&W when the input allows, padded for
        8x8 digits), ``"valid"`` or ``"same"``.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    return _conv_net(
        input_shape,
        nb_classes,
        stages=[[64, 64], [128, 128]],
        hidden=(256, 256),
        activation=activation,
        kernel=3,
        padding=padding,
        dropout=dropout,
    )


def brelu_cnn(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    dropout: float = 0.5,
    padding: Padding = "auto",
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """The MNIST CNN of the bounded-ReLU paper (Zantedeschi et al. 2017).

    ``conv32-conv32-pool-conv64-conv64-pool-fc200-fc200-fc(nb_classes)`` with 3x3 kernels
    (the Carlini & Wagner MNIST architecture, which the paper follows as closely as known).
    Pass ``activation=lambda: BoundedReLU(t)`` to train with bounded ReLU from the start.

    | Paper link: https://arxiv.org/abs/1707.06728

    :param dropout: Dropout after the first dense layer. Default 0.5; 0 disables.
    :param padding: ``"auto"`` (default), ``"valid"`` or ``"same"``.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    return _conv_net(
        input_shape,
        nb_classes,
        stages=[[32, 32], [64, 64]],
        hidden=(200, 200),
        activation=activation,
        kernel=3,
        padding=padding,
        dropout=dropout,
    )


def srelu_mnist_cnn(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    dropout: float = 0.5,
    pool_dropout: float = 0.25,
    padding: Padding = "auto",
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """The simple MNIST CNN of the sloped-ReLU paper (Borji 2020).

    ``conv32-conv64-pool-dropout(0.25)-fc128-dropout(0.5)-fc(nb_classes)``, 3x3 kernels.
    The paper gives only a short description; the architecture follows it as closely as
    known (it matches the classic Keras MNIST CNN).

    :param dropout: Dropout after the dense layer. Default 0.5.
    :param pool_dropout: Dropout after pooling. Default 0.25.
    :param padding: ``"auto"`` (default), ``"valid"`` or ``"same"``.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    return _conv_net(
        input_shape,
        nb_classes,
        stages=[[32, 64]],
        hidden=(128,),
        activation=activation,
        kernel=3,
        padding=padding,
        dropout=dropout,
        pool_dropout=pool_dropout,
    )


def srelu_cifar_cnn(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    dropout: float = 0.5,
    pool_dropout: float = 0.25,
    padding: Padding = "same",
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """The simple VGG-like CIFAR-10 CNN of the sloped-ReLU paper (Borji 2020).

    ``conv32-conv32-pool-dropout-conv64-conv64-pool-dropout-fc512-dropout-fc(nb_classes)``,
    3x3 kernels. The paper gives only a short description; the architecture follows it as
    closely as known (it matches the classic Keras CIFAR-10 CNN).

    :param dropout: Dropout after the dense layer. Default 0.5.
    :param pool_dropout: Dropout after each pooling layer. Default 0.25.
    :param padding: ``"same"`` (default), ``"valid"`` or ``"auto"``.
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    return _conv_net(
        input_shape,
        nb_classes,
        stages=[[32, 32], [64, 64]],
        hidden=(512,),
        activation=activation,
        kernel=3,
        padding=padding,
        dropout=dropout,
        pool_dropout=pool_dropout,
    )


def mlp(
    input_shape: tuple[int, int, int],
    nb_classes: int,
    *,
    hidden: Sequence[int] = (392, 196),
    dropout: float = 0.0,
    activation: ActivationFactory | None = None,
) -> nn.Module:
    """Fully connected network on the flattened input, as in the capped-ReLU paper.

    That paper's MNIST MLPs have hidden sizes 392-196, 196-392 and 784-784.

    :param hidden: Hidden layer widths, at least one. Default ``(392, 196)``.
    :param dropout: Dropout after every hidden layer. Default 0 (none).
    :param activation: Factory for each activation. Default ``nn.ReLU``.
    """
    act = resolve_activation(activation)
    hid = check_int_seq("hidden", hidden)
    p = check_float("dropout", dropout, 0.0, 1.0)
    c, h, w = input_shape
    head = dense_head(c * h * w, hid, nb_classes, act, dropout=p, dropout_every=True)
    return FeatureClassifier(nn.Identity(), head)
