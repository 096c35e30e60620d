"""Model zoo of the papers, built by name: ``build_model("lenet-like", (1, 28, 28), 10)``.

Every model outputs logits, uses one distinct activation module per call site (``nn.ReLU``
by default, never functional ``relu``), so module-swap retrofitting reaches every site, and
accepts an ``activation`` factory to be built with another activation (e.g. bounded ReLU)
from the start. All models work for 8x8 digits, 28x28 MNIST and 32x32 CIFAR-10 inputs.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from ._layers import check_input_shape, check_int
from .mobilenet import mobilenet_v2_cifar
from .paper_brelu_gda import paper_brelu_gda
from .paper_srelu import srelu_paper_mnist_cnn
from .resnets import brelu_resnet, wide_resnet
from .small import alex_like, brelu_cnn, lenet_like, mlp, srelu_cifar_cnn, srelu_mnist_cnn

__all__ = ["MODELS", "available_models", "build_model"]

MODELS: dict[str, Callable[..., nn.Module]] = {
    "lenet-like": lenet_like,
    "alex-like": alex_like,
    "wide-resnet": wide_resnet,
    "mobilenet-v2-cifar": mobilenet_v2_cifar,
    "mlp": mlp,
    "srelu-mnist-cnn": srelu_mnist_cnn,
    "srelu-paper-mnist-cnn": srelu_paper_mnist_cnn,
    "srelu-cifar-cnn": srelu_cifar_cnn,
    "brelu-cnn": brelu_cnn,
    "brelu-resnet": brelu_resnet,
    "brelu-gda-paper": paper_brelu_gda,
}
"""Model name -> factory ``f(input_shape, nb_classes, **kwargs) -> nn.Module``."""


def available_models() -> tuple[str, ...]:
    """Names accepted by :func:`build_model`."""
    return tuple(MODELS)


def model_kwargs(name: str) -> dict[str, Any]:
    """The keyword arguments a zoo model accepts, with their defaults.

    :param name: One of :func:`available_models`.
    """
    factory = _factory(name)
    return {
        p.name: p.default
        for p in inspect.signature(factory).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }


def build_model(name: str, input_shape: Sequence[int], nb_classes: int, **kwargs: Any) -> nn.Module:
    """Build a zoo model (randomly initialised from torch's global RNG; seed it for reproducibility).

    :param name: One of :func:`available_models`.
    :param input_shape: ``(C, H, W)`` of one input, e.g. ``(1, 8, 8)`` for digits.
    :param nb_classes: Number of classes (>= 2); the model outputs ``(n, nb_classes)`` logits.
    :param kwargs: Model-specific keyword arguments (see :func:`model_kwargs` and each
        factory's docstring); every model takes ``activation``, a zero-argument callable
        returning a fresh activation module (default ``nn.ReLU``).
    :raises ValueError: Unknown name, unknown keyword argument or invalid value.
    """
    factory = _factory(name)
    shape = check_input_shape(input_shape)
    nb_classes = check_int("nb_classes", nb_classes, 2)
    accepted = model_kwargs(name)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(
            f"unknown keyword argument(s) {', '.join(unknown)} for model {name!r}; "
            f"accepted: {', '.join(accepted)}"
        )
    return factory(shape, nb_classes, **kwargs)


def _factory(name: str) -> Callable[..., nn.Module]:
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"model name must be one of {', '.join(MODELS)}; got {name!r}")
    return MODELS[name]
