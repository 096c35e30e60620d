"""Building blocks and argument checks shared by the model zoo.

Every activation is a fresh module from the ``activation`` factory, so each call site owns
exactly one instance and module-swap retrofitting can address every site by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
from torch import nn

from art_activation_defenses._validation import check_choice, check_scalar

ActivationFactory = Callable[[], nn.Module]
Padding = Literal["valid", "same", "auto"]


def resolve_activation(activation: ActivationFactory | None) -> ActivationFactory:
    """Return ``activation`` (default :class:`torch.nn.ReLU`) after checking it makes fresh modules.

    :param activation: A zero-argument callable returning a new ``nn.Module`` on each call, or ``None``.
    :raises ValueError: It is not callable, does not return a module, or returns a shared instance.
    """
    if activation is None:
        return nn.ReLU
    if not callable(activation):
        raise ValueError(
            f"activation must be a zero-argument callable returning an nn.Module, got {activation!r}"
        )
    first, second = activation(), activation()
    if not isinstance(first, nn.Module):
        raise ValueError(
            f"activation must return an nn.Module, got {type(first).__name__} from {activation!r}"
        )
    if first is second:
        raise ValueError(
            f"activation must return a new module on every call; {activation!r} returns one instance"
        )
    return activation


def check_int(name: str, value: object, minimum: int) -> int:
    """``check_scalar(value, name, "int", min_val=minimum)``: the models' spelling (name first),
    kept for the zoo's builders; new code calls :func:`~art_activation_defenses._validation.check_scalar`."""
    return int(check_scalar(value, name, "int", min_val=minimum))


def check_float(name: str, value: object, low: float, high: float, *, high_open: bool = True) -> float:
    """``check_scalar`` for a real number in ``[low, high)`` (``[low, high]`` when not ``high_open``);
    the models' spelling (name first), kept for the zoo's builders."""
    return float(
        check_scalar(
            value, name, min_val=low, max_val=high, include_boundaries="left" if high_open else "both"
        )
    )


def check_int_seq(name: str, value: object, *, min_len: int = 1) -> tuple[int, ...]:
    """Check a sequence of positive ints (e.g. channel or hidden-layer sizes)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) < min_len:
        raise ValueError(f"`{name}` == {value!r}, must be a sequence of at least {min_len} positive ints.")
    return tuple(int(check_scalar(v, f"{name}[{i}]", "int", min_val=1)) for i, v in enumerate(value))


def check_input_shape(input_shape: object) -> tuple[int, int, int]:
    """Check ``(C, H, W)`` with positive ints."""
    shape = check_int_seq("input_shape", input_shape)
    if len(shape) != 3:
        raise ValueError(f"`input_shape` == {input_shape!r}, must be (C, H, W).")
    return shape[0], shape[1], shape[2]


def check_padding(padding: object) -> Padding:
    return check_choice(padding, "padding", ("valid", "same", "auto"))  # type: ignore[no-any-return]


def _valid_fits(hw: tuple[int, int], stages: Sequence[Sequence[int]], kernel: int) -> bool:
    """Whether unpadded convolutions followed by 2x2 pooling keep every map at least 1x1."""
    for size in hw:
        for stage in stages:
            for _ in stage:
                if size < kernel:
                    return False
                size -= kernel - 1
            size = -(-size // 2)
    return True


def conv_stack(
    in_channels: int,
    stages: Sequence[Sequence[int]],
    activation: ActivationFactory,
    *,
    hw: tuple[int, int],
    kernel: int = 3,
    padding: Padding = "auto",
    pool_dropout: float = 0.0,
) -> nn.Sequential:
    """Plain conv stack: for each stage, ``conv-act`` per width in it, then 2x2 max pooling.

    Pooling uses ``ceil_mode=True`` so odd and tiny maps (8x8 digits) never shrink to zero.

    :param in_channels: Input channels.
    :param stages: Conv widths per stage, e.g. ``[[64, 64], [128, 128]]``.
    :param activation: Factory for a fresh activation module per conv.
    :param hw: Input height and width (used by ``padding="auto"``).
    :param kernel: Square kernel size (odd).
    :param padding: ``"valid"`` (none), ``"same"`` (``kernel // 2``) or ``"auto"`` (valid if the
        maps stay at least 1x1, else same).
    :param pool_dropout: Dropout probability after each pooling layer (0 disables).
    """
    if padding == "auto":
        padding = "valid" if _valid_fits(hw, stages, kernel) else "same"
    elif padding == "valid" and not _valid_fits(hw, stages, kernel):
        raise ValueError(f"padding='valid' shrinks a {hw[0]}x{hw[1]} input to nothing; use 'same' or 'auto'")
    pad = 0 if padding == "valid" else kernel // 2
    layers: list[nn.Module] = []
    c = in_channels
    for stage in stages:
        for width in stage:
            layers += [nn.Conv2d(c, width, kernel, padding=pad), activation()]
            c = width
        layers.append(nn.MaxPool2d(2, ceil_mode=True))
        if pool_dropout > 0:
            layers.append(nn.Dropout(pool_dropout))
    return nn.Sequential(*layers)


def dense_head(
    in_features: int,
    hidden: Sequence[int],
    nb_classes: int,
    activation: ActivationFactory,
    *,
    dropout: float = 0.0,
    dropout_every: bool = False,
) -> nn.Sequential:
    """``Linear-act[-dropout]`` per hidden width, then a linear layer to the logits.

    :param dropout: Dropout probability (0 disables).
    :param dropout_every: Dropout after every hidden layer; otherwise after the first only
        (the LeNet, C&W and Keras-example convention).
    """
    layers: list[nn.Module] = []
    f = in_features
    for i, width in enumerate(hidden):
        layers += [nn.Linear(f, width), activation()]
        if dropout > 0 and (dropout_every or i == 0):
            layers.append(nn.Dropout(dropout))
        f = width
    layers.append(nn.Linear(f, nb_classes))
    return nn.Sequential(*layers)


def flat_features(features: nn.Module, input_shape: tuple[int, int, int]) -> int:
    """Number of features after ``features`` and flattening, by one dummy forward pass.

    The pass runs in eval mode under ``no_grad`` (no RNG draws, no BatchNorm statistics
    updated), and the module's training flag is put back.
    """
    was_training = features.training
    features.eval()
    try:
        with torch.no_grad():
            out = features(torch.zeros(1, *input_shape))
    finally:
        features.train(was_training)
    if out.numel() == 0:
        raise ValueError(f"input_shape {input_shape} is too small for this architecture (empty feature map)")
    return int(out.numel())


class FeatureClassifier(nn.Module):
    """``features -> flatten -> classifier``; outputs logits."""

    def __init__(self, features: nn.Module, classifier: nn.Module) -> None:
        super().__init__()
        self.features = features
        self.classifier = classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))
