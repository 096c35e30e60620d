"""Statistics of the audit: binomial intervals for accuracies and the paired test behind the
gradient-masking flag. Everything is decided on integer counts (no float-comparison artefacts)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
from scipy.stats import binomtest

__all__ = ["accuracy_interval", "mcnemar_exact", "masking_test"]


def accuracy_interval(correct: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval (scipy's ``binomtest(...).proportion_ci(method="wilson")``) of the share
    of True entries of ``correct``; ``(nan, nan)`` for an empty array."""
    arr = np.asarray(correct, dtype=bool)
    if arr.size == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(arr.sum()), int(arr.size)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def mcnemar_exact(reference: np.ndarray, other: np.ndarray) -> tuple[int, int, float]:
    """Exact one-sided McNemar test that ``other`` is correct on fewer samples than ``reference``
    (paired per-sample outcomes, True = correctly classified).

    :return: ``(b, c, p)``: ``b`` samples right under ``reference`` and wrong under ``other``, ``c``
        the reverse, ``p`` the binomial p-value of ``b`` successes in ``b + c`` fair trials
        (``alternative="greater"``; 1.0 when there is no discordant pair).
    """
    ref, oth = np.asarray(reference, dtype=bool), np.asarray(other, dtype=bool)
    if ref.shape != oth.shape:
        raise ValueError(f"paired outcomes must have the same shape, got {ref.shape} and {oth.shape}.")
    b, c = int((ref & ~oth).sum()), int((~ref & oth).sum())
    p = 1.0 if b + c == 0 else float(binomtest(b, b + c, 0.5, alternative="greater").pvalue)
    return b, c, p


def masking_test(
    white_box: np.ndarray, adaptive: np.ndarray, margin: float, alpha: float = 0.05
) -> dict[str, Any]:
    """Does ``adaptive`` beat ``white_box`` by more than ``margin`` accuracy points, significantly?

    The gap is counted in samples, ``b - c`` (McNemar's discordant pairs), and compared with
    ``margin * n`` as an exact fraction, so ``n = 20``, 18 against 17 correct and ``margin = 0.05``
    is a gap of exactly one sample, not more than the margin. The flag needs both the gap and
    ``p < alpha`` of :func:`mcnemar_exact`.

    :return: ``{"flag", "gap", "gap_samples", "b", "c", "p_value"}`` (``gap`` in accuracy points).
    """
    n = int(np.asarray(white_box).size)
    b, c, p = mcnemar_exact(white_box, adaptive)
    gap_samples = b - c
    threshold = Fraction(margin).limit_denominator(10**6) * n
    flag = n > 0 and gap_samples > threshold and p < alpha
    return {
        "flag": bool(flag),
        "gap": gap_samples / n if n else 0.0,
        "gap_samples": gap_samples,
        "b": b,
        "c": c,
        "p_value": p,
    }
