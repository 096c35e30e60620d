"""Adversarial-example detectors (ART ``EvasionDetector`` subclasses)."""

from art_activation_defenses.detectors.lid import LIDDetector, lid_auc, lid_features

__all__ = ["LIDDetector", "lid_auc", "lid_features"]
