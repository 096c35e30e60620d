"""
Robustness metrics: perturbation size, fool rate, robust accuracy, minimal FGSM robustness,
training-set distance, loss sensitivity (ART's), sensitivity map, per-layer perturbation growth,
accuracy vs attack iterations and gradient-masking checks.
"""

from art_activation_defenses.metrics.distance import nearest_training_distances, training_set_distance
from art_activation_defenses.metrics.gradients import (
    gradient_masking_checks,
    loss_sensitivity,
    sensitivity_map,
)
from art_activation_defenses.metrics.iterations import accuracy_vs_iterations
from art_activation_defenses.metrics.layers import layer_perturbation_growth
from art_activation_defenses.metrics.masking import masking_gap
from art_activation_defenses.metrics.perturbation import (
    fool_rate,
    minimal_fgsm_perturbations,
    minimal_fgsm_robustness,
    relative_perturbation,
    robust_accuracy,
)

__all__ = [
    "accuracy_vs_iterations",
    "fool_rate",
    "gradient_masking_checks",
    "layer_perturbation_growth",
    "loss_sensitivity",
    "masking_gap",
    "minimal_fgsm_perturbations",
    "minimal_fgsm_robustness",
    "nearest_training_distances",
    "relative_perturbation",
    "robust_accuracy",
    "sensitivity_map",
    "training_set_distance",
]
