"""Adversarial-example detectors (ART ``EvasionDetector`` subclasses) and the layer taps they
share with :mod:`art_activation_defenses.metrics` (``LayerTap``, ``default_layers``, ``eval_mode``,
``to_model_input``)."""

from art_activation_defenses.detectors._layers import LayerTap, default_layers, eval_mode, to_model_input
from art_activation_defenses.detectors.adaptive import AdaptiveLIDAttack, SurrogateLID
from art_activation_defenses.detectors.adaptive_report import lid_verdict
from art_activation_defenses.detectors.lid import LIDDetector, TooFewNeighboursError, lid_auc, lid_features

__all__ = [
    "AdaptiveLIDAttack",
    "LIDDetector",
    "LayerTap",
    "SurrogateLID",
    "TooFewNeighboursError",
    "default_layers",
    "eval_mode",
    "lid_auc",
    "lid_features",
    "lid_verdict",
    "to_model_input",
]
