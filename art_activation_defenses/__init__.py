"""Activation-function defences for the Adversarial Robustness Toolbox (ART).

Swap the ReLUs of an already trained PyTorch model for JumpReLU, bounded/capped ReLU or
sloped ReLU, wrap it as an ART classifier, attack it with ART and with the attacks ART
lacks, and measure honestly what the swap buys.

Layers, each importing only those to its left (``docs/architecture.md`` has the module map)::

    activations -> estimators -> attacks / detectors / defences -> metrics -> evaluation -> experiments -> cli

with leaf helpers used by all: ``_validation`` (argument checks), ``_device`` (``auto``/``cpu``/
``cuda[:N]``), ``models``, ``data``, ``training``. A reproduction is a declarative
``experiments.protocol.Paper`` spec executed by ``experiments.runner.run_paper``.

The public names are imported lazily so that ``import art_activation_defenses`` stays
cheap; ``from art_activation_defenses import X`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "retrofit": "art_activation_defenses.activations.retrofit",
    "relu_sites": "art_activation_defenses.activations.retrofit",
    "Retrofit": "art_activation_defenses.activations.retrofit",
    "Site": "art_activation_defenses.activations.retrofit",
    "JumpReLU": "art_activation_defenses.activations.modules",
    "RandomizedJumpReLU": "art_activation_defenses.activations.modules",
    "BoundedReLU": "art_activation_defenses.activations.modules",
    "CappedReLU": "art_activation_defenses.activations.modules",
    "SlopedReLU": "art_activation_defenses.activations.modules",
    "create_activation": "art_activation_defenses.activations.registry",
    "RetrofitClassifier": "art_activation_defenses.estimators.retrofit_classifier",
    "load_dataset": "art_activation_defenses.data",
    "build_model": "art_activation_defenses.models",
    "audit": "art_activation_defenses.evaluation",
    "tune_kappa": "art_activation_defenses.evaluation",
    "GaussianAugmentationTrainer": "art_activation_defenses.defences",
    "VirtualAdversarialTrainer": "art_activation_defenses.defences",
    "LIDDetector": "art_activation_defenses.detectors",
    "reproduce": "art_activation_defenses.experiments",
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'art_activation_defenses' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
