"""Adversarial-example detectors (ART ``EvasionDetector`` subclasses)."""

from art_activation_defenses.detectors.adaptive import AdaptiveLIDAttack, SurrogateLID, lid_verdict
from art_activation_defenses.detectors.lid import LIDDetector, TooFewNeighboursError, lid_auc, lid_features

__all__ = [
    "AdaptiveLIDAttack",
    "LIDDetector",
    "SurrogateLID",
    "TooFewNeighboursError",
    "lid_auc",
    "lid_features",
    "lid_verdict",
]
