"""The detector-aware columns of ``lid_auc(..., adaptive=...)``: which attacks, their report on a fitted
detector (AUC, detection rate at 5% false positives, success rate) and the verdict line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.detectors.adaptive import AdaptiveLIDAttack
from art_activation_defenses.detectors.lid import LIDDetector

__all__ = ["ADAPTIVE_ATTACKS", "EVASION_SUCCESS_RATE", "adaptive_report", "check_adaptive", "lid_verdict"]


#: The adaptive columns: name -> keyword arguments of :class:`AdaptiveLIDAttack`.
ADAPTIVE_ATTACKS: dict[str, dict[str, Any]] = {"pgd": {"loss": "ce"}, "cw": {"loss": "cw"}}
#: An adaptive attack whose success rate (misclassified and not flagged at 5% false positives) reaches
#: this share of the held-out images is reported as evading the detector.
EVASION_SUCCESS_RATE = 0.5


def check_adaptive(attacks: Sequence[str] | str) -> list[str]:
    """Validate the names of the adaptive attacks (a single name is allowed).

    :return: The names as a list.
    """
    names = [attacks] if isinstance(attacks, str) else list(attacks)
    unknown = [a for a in names if a not in ADAPTIVE_ATTACKS]
    if unknown:
        raise ValueError(f"`adaptive` entries must be in {sorted(ADAPTIVE_ATTACKS)}, got {unknown!r}.")
    return names


def adaptive_report(
    classifier: PyTorchClassifier,
    detector: LIDDetector,
    x_clean: np.ndarray,
    y: np.ndarray,
    test: np.ndarray,
    clean_scores: np.ndarray,
    attacks: Sequence[str],
    params: Mapping[str, Any],
) -> dict[str, dict[str, float]]:
    """
    Run the detector-aware attacks against a fitted detector and score them on the held-out pairs.

    The attacks are crafted from every sample of `x_clean` (the detector's reference set, so each query
    minibatch meets the aligned reference minibatch, as the plain attack's examples do) and scored on the
    indices `test` only, against the held-out clean scores `clean_scores`.

    :param classifier: The classifier. :param detector: The fitted detector (reference = `x_clean`).
    :param x_clean: The correctly classified clean samples. :param y: Their labels (indices).
    :param test: Held-out indices into `x_clean`. :param clean_scores: Detector scores of ``x_clean[test]``.
    :param attacks: Names of :data:`ADAPTIVE_ATTACKS`. :param params: Keyword arguments of every attack.
    :return: Per attack: ``auc``, ``detection_rate_at_5fpr``, ``misclassification_rate``, ``success_rate``,
             ``mean_score`` and ``linf`` (largest L∞ perturbation).
    """
    from sklearn.metrics import roc_auc_score

    from art_activation_defenses.detectors.lid import threshold_at_fpr

    attacks = check_adaptive(attacks)
    threshold = threshold_at_fpr(clean_scores)
    out: dict[str, dict[str, float]] = {}
    for name in attacks:
        attack = AdaptiveLIDAttack(classifier, detector, **{**ADAPTIVE_ATTACKS[name], **dict(params)})
        x_adv = attack.generate(x_clean, y)
        scores = detector.score_features(detector.features(x_adv))[test]
        fooled = classifier.predict(x_adv[test]).argmax(1) != y[test]
        flagged = scores > threshold
        labels = np.r_[np.zeros(clean_scores.size), np.ones(scores.size)]
        out[name] = {
            "auc": float(roc_auc_score(labels, np.r_[clean_scores, scores])),
            "detection_rate_at_5fpr": float(flagged.mean()),
            "misclassification_rate": float(fooled.mean()),
            "success_rate": float((fooled & ~flagged).mean()),
            "mean_score": float(scores.mean()),
            "linf": float(np.abs(x_adv - x_clean).max()),
        }
    return out


def lid_verdict(result: Mapping[str, Any]) -> str:
    """
    One sentence on the detector: evaded (an adaptive success rate >= :data:`EVASION_SUCCESS_RATE`) or not.

    :param result: A :func:`~art_activation_defenses.detectors.lid_auc` result with ``adaptive``.
    """
    adaptive = result.get("adaptive") or {}
    plain = f"AUC {result['auc']:.3f} against the plain attack"
    if not adaptive:
        return f"{plain}; no detector-aware attack was run, so this is an upper bound on what LID detects."
    name, best = max(adaptive.items(), key=lambda kv: kv[1]["success_rate"])
    detail = (
        f"the detector-aware {name.upper()} attack leaves {best['success_rate']:.0%} of the held-out images "
        f"misclassified and unflagged at 5% false positives (AUC {best['auc']:.3f}, detection rate "
        f"{best['detection_rate_at_5fpr']:.0%})"
    )
    if best["success_rate"] >= EVASION_SUCCESS_RATE:
        return f"EVADED: {detail}; {plain} does not survive an attacker who knows the detector."
    return f"Not evaded (success < {EVASION_SUCCESS_RATE:.0%}): {detail}; {plain}."
