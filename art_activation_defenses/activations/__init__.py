"""Activation defences: pure functions, modules, a name registry and model retrofitting."""

from art_activation_defenses.activations.functional import (
    bounded_relu,
    capped_relu,
    jump_relu,
    randomized_jump_relu,
    sloped_relu,
)
from art_activation_defenses.activations.modules import (
    BoundedReLU,
    CappedReLU,
    JumpReLU,
    RandomizedJumpReLU,
    RetrofitActivation,
    SlopedReLU,
)
from art_activation_defenses.activations.registry import (
    ACTIVATIONS,
    activation_class,
    activation_factory,
    available_activations,
    create_activation,
)
from art_activation_defenses.activations.retrofit import Retrofit, Site, relu_sites, retrofit

__all__ = [
    "ACTIVATIONS",
    "BoundedReLU",
    "CappedReLU",
    "JumpReLU",
    "RandomizedJumpReLU",
    "Retrofit",
    "RetrofitActivation",
    "Site",
    "SlopedReLU",
    "activation_class",
    "available_activations",
    "bounded_relu",
    "capped_relu",
    "activation_factory",
    "create_activation",
    "jump_relu",
    "randomized_jump_relu",
    "relu_sites",
    "retrofit",
    "sloped_relu",
]
