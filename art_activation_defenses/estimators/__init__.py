"""ART estimators for retrofitted models."""

from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier, check_input

__all__ = ["RetrofitClassifier", "check_input"]
