"""
Training defences and parameter tuning: Gaussian data augmentation, virtual adversarial
training, mixed-batch FGSM / PGD adversarial training (ART's ``AdversarialTrainer``, or the
torch-only ``adversarial_augment`` for ``training.fit``), ART's
``FeatureSqueezing`` and ``LabelSmoothing`` wired to our estimators, ``NEUTRAL_VALUES`` (the
parameter value at which each activation is the ReLU), and ``seeded`` (a block with seeded, then
restored, global RNGs: ART's trainers draw from them). ``tune_kappa`` and ``plot_tradeoff`` moved to
:mod:`art_activation_defenses.evaluation`; the names here are deprecated aliases.
"""

from typing import Any

from art_activation_defenses.defences._common import seeded
from art_activation_defenses.defences.adversarial import (
    LabelSmoothingTrainer,
    MixedBatchAdversarialTrainer,
    pgd_adversarial_trainer,
    smooth_labels,
    with_feature_squeezing,
)
from art_activation_defenses.defences.augment import adversarial_augment
from art_activation_defenses.defences.gaussian import GaussianAugmentationTrainer
from art_activation_defenses.defences.tuning import NEUTRAL_VALUES, _moved
from art_activation_defenses.defences.vat import VirtualAdversarialTrainer, lds_direction

__all__ = [
    "GaussianAugmentationTrainer",
    "LabelSmoothingTrainer",
    "MixedBatchAdversarialTrainer",
    "NEUTRAL_VALUES",
    "VirtualAdversarialTrainer",
    "adversarial_augment",
    "lds_direction",
    "pgd_adversarial_trainer",
    "seeded",
    "smooth_labels",
    "with_feature_squeezing",
]


def __getattr__(name: str) -> Any:
    # deprecated aliases (tune_kappa, plot_tradeoff): a lazy import of evaluation at attribute access,
    # the one sanctioned exception to the layers (see defences.tuning._moved); cached, so it warns once
    if name in ("tune_kappa", "plot_tradeoff"):
        globals()[name] = value = _moved(name, __name__)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
