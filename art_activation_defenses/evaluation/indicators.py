"""Indicators of attack failure (Pintor et al., NeurIPS 2022), computed from the runs the audit
already has. Each indicator is a per-sample count and a flag; the verdict names the ones that fired
and what to run next.

| Paper link: https://arxiv.org/abs/2106.09947
"""

from __future__ import annotations

from typing import Any

import numpy as np
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.evaluation._attacks import PGDTrace

__all__ = [
    "INDICATORS",
    "incomplete_optimisation",
    "non_converging_restarts",
    "silent_success",
    "transfer_failure",
    "unavailable_gradients",
    "unstable_predictions",
]

#: Indicator -> (title, what to run next when it fires).
INDICATORS: dict[str, tuple[str, str]] = {
    "silent_success": (
        "silent success",
        "an attack saw these samples misclassified but the final evaluation counts them as robust "
        "(random predictions): evaluate each sample several times and count it robust only if it is "
        "correct every time, and raise `eot_samples`",
    ),
    "incomplete_optimisation": (
        "incomplete optimisation",
        "the PGD objective was still improving over the last steps: raise `max_iter` (or use "
        "budget='thorough')",
    ),
    "transfer_failure": (
        "transfer failure",
        "most examples that fool the source model do not fool the defended one, so the transfer "
        "column says little: rely on BPDA / the surrogate (`surrogate=True`)",
    ),
    "unavailable_gradients": (
        "unavailable gradients",
        "attacks failed on samples whose input gradient is exactly zero: the gradient-based columns "
        "are blind there; trust the margin-loss, BPDA and Square columns, and raise the Square budget",
    ),
    "unstable_predictions": (
        "unstable predictions",
        "the same input gets different labels on repeated predictions: use EOT gradients with more "
        "samples (`eot_samples`) and repeated evaluation",
    ),
    "non_converging_restarts": (
        "non-converging restarts",
        "random restarts disagree on which samples they break: raise `restarts` until the worst case "
        "stops moving",
    ),
}


def _result(count: int | None, flag: bool, **detail: Any) -> dict[str, Any]:
    return {"count": count, "flag": bool(flag), **detail}


def silent_success(robust: np.ndarray, traces: list[PGDTrace]) -> dict[str, Any]:
    """Samples counted robust in the headline although an attack iterate was misclassified."""
    seen = np.zeros(len(robust), dtype=bool)
    for t in traces:
        seen |= t.ever_fooled
    count = int((seen & robust).sum())
    return _result(count, count > 0)


def incomplete_optimisation(
    robust: np.ndarray, traces: list[PGDTrace], *, last: float = 0.1, tol: float = 0.05
) -> dict[str, Any]:
    """Robust samples whose PGD objective still improved over the last ``last`` share of the steps by
    more than ``tol`` of its whole improvement, in some multi-step defended PGD run that kept them
    to the end (a sample that stalled or left the batch early is not counted)."""
    hit = np.zeros(len(robust), dtype=bool)
    for t in traces:
        obj = t.objective
        steps = obj.shape[0]
        if steps < 4:
            continue
        k = max(2, round(last * steps))
        ran = np.isfinite(obj[-1])  # still in the batch at the last step
        best = np.fmax.accumulate(np.where(np.isfinite(obj), obj, -np.inf), axis=0)
        total = best[-1] - obj[0]
        recent = best[-1] - best[-k - 1]
        with np.errstate(invalid="ignore"):
            hit |= ran & (recent > tol * np.abs(total)) & (recent > 1e-6)
    count = int((hit & robust).sum())
    return _result(count, count > 0)


def transfer_failure(
    correct_clean: np.ndarray, source_fooled: np.ndarray | None, target_correct: np.ndarray | None
) -> dict[str, Any]:
    """Clean-correct samples whose transfer example fools the source but not the defended model;
    flagged when that is more than half of the source's successes."""
    if source_fooled is None or target_correct is None:
        return _result(None, False, note="no transfer column")
    fooled = source_fooled & correct_clean
    count = int((fooled & target_correct).sum())
    return _result(count, count > 0 and 2 * count > int(fooled.sum()), source_successes=int(fooled.sum()))


def unavailable_gradients(outcomes: dict[str, tuple[np.ndarray, list[PGDTrace]]]) -> dict[str, Any]:
    """Samples that survived a defended gradient column whose start gradient was exactly zero."""
    per_column: dict[str, int] = {}
    hit: np.ndarray | None = None
    for key, (correct, traces) in outcomes.items():
        if not traces:
            continue
        zero = np.logical_or.reduce([t.zero_grad_start for t in traces]) & correct
        per_column[key] = int(zero.sum())
        hit = zero if hit is None else hit | zero
    count = 0 if hit is None else int(hit.sum())
    return _result(count, count > 0, per_column=per_column)


def unstable_predictions(
    classifier: PyTorchClassifier, x: np.ndarray, *, repeats: int = 5, batch_size: int = 128
) -> dict[str, Any]:
    """Samples whose predicted label changes over ``repeats`` predictions of the same input."""
    labels = np.stack(
        [np.asarray(classifier.predict(x, batch_size=batch_size)).argmax(1) for _ in range(repeats)]
    )
    count = int((labels != labels[0]).any(0).sum())
    return _result(count, count > 0, repeats=repeats)


def non_converging_restarts(restart_outcomes: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    """Samples that some random restarts of a column break and others do not (needs restarts >= 2)."""
    hit: np.ndarray | None = None
    for runs in restart_outcomes.values():
        if len(runs) < 2:
            continue
        stack = np.stack(runs)
        disagree = np.asarray(stack.any(0) & ~stack.all(0), dtype=bool)
        hit = disagree if hit is None else hit | disagree
    if hit is None:
        return _result(None, False, note="restarts=1: not measured")
    count = int(hit.sum())
    return _result(count, count > 0)
