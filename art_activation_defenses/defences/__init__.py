"""
Training defences and parameter tuning: Gaussian data augmentation, virtual adversarial
training, mixed-batch FGSM / PGD adversarial training (ART's ``AdversarialTrainer``, or the
torch-only ``adversarial_augment`` for ``training.fit``), ART's
``FeatureSqueezing`` and ``LabelSmoothing`` wired to our estimators, and ``tune_kappa`` (the
accuracy / robustness trade-off of an activation parameter, white-box and BPDA).
"""

from art_activation_defenses.defences.adversarial import (
    LabelSmoothingTrainer,
    MixedBatchAdversarialTrainer,
    pgd_adversarial_trainer,
    smooth_labels,
    with_feature_squeezing,
)
from art_activation_defenses.defences.augment import adversarial_augment
from art_activation_defenses.defences.gaussian import GaussianAugmentationTrainer
from art_activation_defenses.defences.tuning import NEUTRAL_VALUES, plot_tradeoff, tune_kappa
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
    "plot_tradeoff",
    "smooth_labels",
    "tune_kappa",
    "with_feature_squeezing",
]
