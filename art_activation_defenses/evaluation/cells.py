"""The cells every reproduction and the demo share: white-box beside adaptive, as one flat row.

:func:`audit_cell` runs the audit (:func:`~art_activation_defenses.evaluation.audit`) at a paper's
attack settings and flattens what a table needs: the white-box, BPDA and margin+BPDA accuracies,
the per-sample worst case over the whole ensemble with its interval, the McNemar masking flag and
the failure indicators that fired. :func:`masking_row` adds the simple "an adaptive column beats
the white-box one by more than :data:`MASKING_MARGIN`" flag to a row of accuracies.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from art_activation_defenses.evaluation.audit import audit
from art_activation_defenses.metrics.masking import masking_gap

__all__ = ["MASKING_MARGIN", "audit_cell", "masking_row"]

#: An adaptive attack beating the white-box one by more than this flags gradient masking.
MASKING_MARGIN = 0.05


def audit_cell(
    classifier: Any,
    source: Any,
    x: np.ndarray,
    y: np.ndarray,
    *,
    eps: float,
    eps_step: float,
    max_iter: int,
    budget: str = "quick",
    attack: str = "pgd",
    batch_size: int = 128,
    seed: int = 0,
    margin: float = MASKING_MARGIN,
) -> dict[str, Any]:
    """The audit of ``classifier`` at one attack's settings, flattened into a table row.

    :param classifier: The defended ART classifier.
    :param source: The undefended (ReLU) classifier: the transfer source.
    :param x: Images. :param y: Integer labels.
    :param eps: L∞ radius. :param eps_step: Step size. :param max_iter: Steps.
    :param budget: The audit budget; ``"quick"`` runs the PGD family only.
    :param attack: The audit row to report (``"pgd"`` or ``"fgsm"``).
    :param batch_size: Attack batch. :param seed: Seed of every random start.
    :param margin: The audit's masking threshold in accuracy points (default :data:`MASKING_MARGIN`).
    :return: ``white_acc``, ``bpda_acc``, ``margin_bpda_acc``, ``robust_acc``, ``robust_interval``,
        ``audit_flag``, ``audit_p_value``, ``audit_columns`` (ensemble key -> accuracy) and
        ``indicators_fired``.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a masking verdict is in the row (audit_flag)
        res = audit(
            classifier, source, x, y, eps=eps, eps_step=eps_step, max_iter=max_iter, budget=budget,
            attacks=(attack,) if budget == "quick" else None, minimal=False, checks=False, margin=margin,
            batch_size=batch_size, seed=seed, verbose=False,
        )  # fmt: skip
    row = next(r for r in res["rows"] if r["attack"] == attack)
    return {
        "white_acc": row["white_box"],
        "bpda_acc": row.get("bpda"),
        "margin_bpda_acc": row.get("margin_bpda"),
        "robust_acc": res["robust_accuracy"],
        "robust_interval": list(res["robust_interval"]),
        "audit_flag": res["flagged"],
        "audit_p_value": res["masking"].get("p_value"),
        "audit_columns": {e["key"]: e["accuracy"] for e in res["ensemble"]},
        "indicators_fired": [k for k, v in res["indicators"].items() if v["flag"]],
    }


def masking_row(
    row: dict[str, Any],
    white_box: str,
    adaptive: Mapping[str, str] | Sequence[str],
    *,
    margin: float = MASKING_MARGIN,
) -> dict[str, Any]:
    """Add ``masking_flag``, ``strongest`` and ``gap`` to ``row`` (in place; returned).

    :param row: A table row of accuracies.
    :param white_box: The key of the white-box accuracy.
    :param adaptive: Label -> key of each adaptive accuracy (or the keys, used as labels).
    :param margin: Tolerated gap.
    """
    keys = dict(adaptive) if isinstance(adaptive, Mapping) else {k: k for k in adaptive}
    accuracies: dict[str, Any] = {n: row.get(k) for n, k in keys.items()}  # None: not run, skipped
    flag, strongest, gap = masking_gap(row[white_box], accuracies, margin)
    row.update(masking_flag=flag, strongest=strongest, gap=gap)
    return row
