"""The adaptive-attack audit: every white-box robustness number of an activation defence beside
the attacks that could refute it, with a flag wherever one of them does."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from art.estimators.classification import PyTorchClassifier
from torch import nn
from tqdm.auto import tqdm

from art_activation_defenses.defences._common import check_data, check_float, check_int
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier
from art_activation_defenses.evaluation._attacks import (
    activation_modules,
    as_classifier,
    gradient_mode,
    pgd,
    train_surrogate,
)
from art_activation_defenses.metrics import gradient_masking_checks
from art_activation_defenses.metrics.masking import masking_gap

__all__ = ["ATTACKS", "COLUMNS", "audit", "render_audit_markdown"]

ATTACKS = ("fgsm", "pgd")

#: Column -> (loss, gradient mode, source, title). ``source`` "defended" differentiates the defended
#: classifier in that gradient mode; "original"/"surrogate" craft there and transfer.
COLUMNS: dict[str, tuple[str, str, str, str]] = {
    "white_box": ("ce", "exact", "defended", "white-box"),
    "bpda": ("ce", "bpda", "defended", "BPDA"),
    "margin": ("margin", "exact", "defended", "margin"),
    "margin_bpda": ("margin", "bpda", "defended", "margin+BPDA"),
    "eot": ("ce", "eot", "defended", "EOT"),
    "margin_eot": ("margin", "eot", "defended", "margin+EOT"),
    "transfer": ("ce", "exact", "original", "transfer"),
    "surrogate": ("ce", "exact", "surrogate", "surrogate"),
}


def _accuracy(classifier: PyTorchClassifier, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    return float((np.asarray(classifier.predict(x, batch_size=batch_size)).argmax(1) == y).mean())


def _columns(defended: PyTorchClassifier, has_original: bool, surrogate: bool) -> list[str]:
    bpda_ok = isinstance(defended, RetrofitClassifier) or bool(activation_modules(defended))
    randomized = isinstance(defended, RetrofitClassifier) and defended.is_randomized
    cols = ["white_box", "margin"]
    if bpda_ok:
        cols[1:1] = ["bpda"]
        cols.append("margin_bpda")
    if randomized:
        cols += ["eot", "margin_eot"]
    if has_original:
        cols.append("transfer")
    if surrogate:
        cols.append("surrogate")
    return cols


def audit(
    defended: PyTorchClassifier,
    original: nn.Module | PyTorchClassifier | None,
    x: np.ndarray,
    y: np.ndarray,
    *,
    attacks: Sequence[str] = ATTACKS,
    eps: float = 0.1,
    eps_step: float | None = None,
    max_iter: int = 40,
    margin: float = 0.05,
    surrogate: bool = False,
    surrogate_model: nn.Module | None = None,
    surrogate_epochs: int = 30,
    surrogate_data: np.ndarray | None = None,
    surrogate_lr: float = 1e-3,
    eot_samples: int = 10,
    checks: bool = True,
    batch_size: int = 128,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """
    Audit an activation defence for gradient masking: per attack (L∞ FGSM, PGD), the accuracy
    under the plain white-box attack (cross-entropy, exact gradient) beside the attacks that
    could refute it:

    * ``bpda``: straight-through gradients (ReLU's derivative in the backward pass);
    * ``margin``: the C&W logit margin ``z_y - max_{k != y} z_k`` instead of cross-entropy (a
      sloped ReLU with a large alpha saturates the softmax, so the cross-entropy gradient
      underflows to zero whatever the backward path; the margin does not), and ``margin_bpda``;
    * ``eot`` / ``margin_eot`` when the defence is random (mean gradient over ``eot_samples`` draws);
    * ``transfer``: crafted on the ``original`` (undefended) model, evaluated on the defended one;
    * ``surrogate`` (optional): crafted on a model trained to match the defended logits.

    Every attack uses the same PGD (same steps, same seeded random start), differentiating the
    defended classifier itself in the named gradient mode, so only the loss or the gradient
    path differs between columns. On the defended model a sample stops at its first
    misclassified iterate; the transfer and surrogate columns take every step on their source
    model (an iterate just past the source's boundary rarely fools the target). A row is flagged
    when an adaptive or transfer attack beats the white-box one by more than ``margin`` accuracy
    points (``masking_gap``), the textbook sign of gradient masking. ``gradient_masking_checks``
    runs as well (zero gradients, probability outputs, randomness). The defended classifier's
    gradient settings are restored afterwards, even on error.

    | Paper link: https://arxiv.org/abs/1802.00420 (BPDA, EOT), https://arxiv.org/abs/1608.04644 (margin loss)

    :param defended: The defended ART classifier (a ``RetrofitClassifier``, or any ``PyTorchClassifier``;
        BPDA needs our activation modules in its model, EOT a randomized ``RetrofitClassifier``).
    :param original: The undefended model (``nn.Module`` or ART classifier) for the transfer
        column; None skips it.
    :param x: Inputs ``(n, *input_shape)`` (not modified).
    :param y: True labels (indices or one-hot).
    :param attacks: Subset of ``("fgsm", "pgd")`` (default both), one row each.
    :param eps: L∞ budget, > 0 (default 0.1).
    :param eps_step: PGD step (default ``2.5 * eps / max_iter``).
    :param max_iter: PGD steps, >= 1 (default 40).
    :param margin: Flag threshold in accuracy points, in [0, 1] (default 0.05).
    :param surrogate: Add the surrogate-transfer column (default False).
    :param surrogate_model: Architecture of the surrogate (default: the original's), re-initialised.
    :param surrogate_epochs: Surrogate training epochs (default 30).
    :param surrogate_data: Inputs the surrogate queries the defended model on (plus 4 Gaussian
        copies each, sigma 0.1); default ``x`` itself.
    :param surrogate_lr: Adam learning rate of the surrogate (default 1e-3).
    :param eot_samples: Draws per EOT gradient (default 10).
    :param checks: Run ``gradient_masking_checks`` on up to 256 samples (default True).
    :param batch_size: Batch size of attacks and predictions (default 128).
    :param seed: Seed of the random starts and the surrogate (default 0).
    :param verbose: Progress bar over the attack columns (default True).
    :return: ``{"rows": [{"attack", "white_box", ..., "worst", "strongest", "gap", "flag"}], "columns",
        "clean_accuracy", "original_clean_accuracy", "surrogate_agreement", "checks", "flagged",
        "verdict", "settings", "defence", "n_samples", "seconds"}``; unavailable entries are None.
    """
    start = time.perf_counter()
    if not isinstance(defended, PyTorchClassifier):
        raise ValueError(f"`defended` must be an ART PyTorchClassifier, got {type(defended).__name__}.")
    x_np, y_np = check_data(defended, x, y)
    names = [attacks] if isinstance(attacks, str) else list(attacks)
    if not names or any(a not in ATTACKS for a in names):
        raise ValueError(f"`attacks` must be a non-empty subset of {ATTACKS}, got {attacks!r}.")
    eps = check_float("eps", eps)
    max_iter = check_int("max_iter", max_iter, 1)
    eps_step = 2.5 * eps / max_iter if eps_step is None else check_float("eps_step", eps_step)
    margin = check_float("margin", margin, strict=False, high=1.0)
    surrogate_epochs = check_int("surrogate_epochs", surrogate_epochs, 1)
    surrogate_lr = check_float("surrogate_lr", surrogate_lr)
    eot_samples = check_int("eot_samples", eot_samples, 1)
    batch_size = check_int("batch_size", batch_size, 1)
    seed = check_int("seed", seed, 0)
    original_clf = None if original is None else as_classifier(original, defended)
    if surrogate and surrogate_model is None and original_clf is None:
        raise ValueError(
            "`surrogate=True` needs `original` or `surrogate_model` (the surrogate's architecture)."
        )
    if surrogate_model is not None and not isinstance(surrogate_model, nn.Module):
        raise ValueError(f"`surrogate_model` must be an nn.Module, got {type(surrogate_model).__name__}.")
    queries = x_np
    if surrogate_data is not None:  # labels are not needed: the defended model labels the queries
        n_q = len(surrogate_data) if isinstance(surrogate_data, np.ndarray) and surrogate_data.ndim > 0 else 0
        queries = check_data(defended, surrogate_data, np.zeros(n_q, dtype=np.int64))[0]
    columns = _columns(defended, original_clf is not None, surrogate)

    clean = _accuracy(defended, x_np, y_np, batch_size)
    original_clean = None if original_clf is None else _accuracy(original_clf, x_np, y_np, batch_size)
    surrogate_clf, agreement = None, None
    if surrogate:
        arch = surrogate_model if surrogate_model is not None else original_clf.model  # type: ignore[union-attr]
        with gradient_mode(defended, "exact"):
            surrogate_clf, agreement = train_surrogate(
                defended,
                arch,
                queries,
                epochs=surrogate_epochs,
                lr=surrogate_lr,
                batch_size=batch_size,
                seed=seed,
            )

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    bar = tqdm(total=len(names) * len(columns), desc="audit", disable=not verbose)
    for name in names:
        steps = (eps, 1, False) if name == "fgsm" else (eps_step, max_iter, True)
        row: dict[str, Any] = {"attack": name, "clean": clean}
        for col in columns:
            loss, mode, source, _ = COLUMNS[col]
            bar.set_postfix_str(col)
            kwargs: dict[str, Any] = {
                "loss": loss, "eps": eps, "eps_step": steps[0], "max_iter": steps[1],
                "random_init": steps[2], "seed": seed, "batch_size": batch_size,
            }  # fmt: skip
            try:
                if source == "defended":
                    with gradient_mode(defended, mode, eot_samples):
                        x_adv = pgd(defended, x_np, y_np, **kwargs)
                else:
                    crafter = original_clf if source == "original" else surrogate_clf
                    # all steps: an iterate frozen just past the source's boundary transfers poorly
                    x_adv = pgd(crafter, x_np, y_np, early_stop=False, **kwargs)  # type: ignore[arg-type]
                row[col] = _accuracy(defended, x_adv, y_np, batch_size)
            except ValueError as err:  # e.g. non-PyTorch preprocessing cannot be differentiated here
                row[col] = None
                notes.append(f"{name}/{col}: not run ({err})")
            bar.update(1)
        adaptive = {c: row[c] for c in columns if c != "white_box" and row.get(c) is not None}
        flag, strongest, gap = (
            masking_gap(row["white_box"], adaptive, margin)
            if row.get("white_box") is not None
            else (False, None, 0.0)
        )
        finite = [row[c] for c in columns if row.get(c) is not None]
        row.update(worst=min(finite) if finite else None, strongest=strongest, gap=gap, flag=flag)
        rows.append(row)
    bar.close()

    check_report = None
    if checks:
        n_checks = min(len(x_np), 256)
        with gradient_mode(defended, "exact"):
            check_report = gradient_masking_checks(
                defended, x_np[:n_checks], y_np[:n_checks], batch_size=batch_size, warn=False
            )
    flagged = any(r["flag"] for r in rows)
    result: dict[str, Any] = {
        "defence": repr(defended),
        "columns": columns,
        "rows": rows,
        "clean_accuracy": clean,
        "original_clean_accuracy": original_clean,
        "surrogate_agreement": agreement,
        "checks": check_report,
        "flagged": flagged,
        "notes": notes,
        "settings": {
            "attacks": names,
            "eps": eps,
            "eps_step": eps_step,
            "max_iter": max_iter,
            "norm": "inf",
            "margin": margin,
            "surrogate": surrogate,
            "surrogate_epochs": surrogate_epochs,
            "surrogate_lr": surrogate_lr,
            "eot_samples": eot_samples,
            "seed": seed,
            "batch_size": batch_size,
        },  # fmt: skip
        "n_samples": int(len(x_np)),
    }
    result["verdict"] = _verdict(result)
    result["seconds"] = time.perf_counter() - start
    if flagged:
        warnings.warn(f"audit: {result['verdict']}", stacklevel=2)
    return result


def _pct(v: float | None) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}%"


def _verdict(result: dict[str, Any]) -> str:
    margin = result["settings"]["margin"]
    parts: list[str] = []
    flagged = [r for r in result["rows"] if r["flag"]]
    for r in flagged:
        parts.append(
            f"{r['attack'].upper()}: {COLUMNS[r['strongest']][3]} brings accuracy to "
            f"{_pct(r[r['strongest']])} "
            f"against {_pct(r['white_box'])} white-box (gap {_pct(r['gap'])} > margin {_pct(margin)})"
        )
    if flagged:
        worst = min(r["worst"] for r in result["rows"] if r["worst"] is not None)
        text = (
            "GRADIENT MASKING SUSPECTED. "
            + "; ".join(parts)
            + f". Report the worst-case accuracy ({_pct(worst)}), "
            "not the white-box number."
        )
    else:
        text = (
            "No sign of gradient masking: no adaptive or transfer attack beats the white-box one "
            "by more than "
            f"{_pct(margin)}."
        )
    checks = result.get("checks")
    if checks and checks.get("warnings"):
        text += f" Sanity checks: zero-gradient share {_pct(checks['zero_gradient_share'])}; " + " ".join(
            checks["warnings"]
        )
    return text


def render_audit_markdown(result: dict[str, Any], *, title: str | None = None) -> str:
    """
    Render an :func:`audit` result (or its JSON) as a Markdown table with the verdict.

    :param result: The dict returned by :func:`audit`.
    :param title: Optional heading.
    :return: Markdown text.
    """
    missing = [k for k in ("rows", "columns", "settings", "verdict") if k not in result]
    if missing:
        raise ValueError(f"`result` is not an audit result: missing keys {missing}.")
    cols = list(result["columns"])
    s = result["settings"]
    lines = [f"### {title}", ""] if title else []
    lines.append(
        f"L∞ eps={s['eps']:g}, PGD {s['max_iter']} steps of {s['eps_step']:.4g}, "
        f"n={result.get('n_samples')}, "
        f"clean accuracy {_pct(result['clean_accuracy'])}"
        + (
            f" (original {_pct(result['original_clean_accuracy'])})"
            if result.get("original_clean_accuracy") is not None
            else ""
        )
        + (
            f", surrogate agreement {_pct(result['surrogate_agreement'])}"
            if result.get("surrogate_agreement") is not None
            else ""
        )
        + "."
    )
    lines.append("")
    header = ["attack"] + [COLUMNS[c][3] for c in cols] + ["worst", "flag"]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for r in result["rows"]:
        flag = f"**MASKING** ({COLUMNS[r['strongest']][3]}, −{_pct(r['gap'])})" if r["flag"] else "ok"
        cells = [r["attack"].upper()] + [_pct(r.get(c)) for c in cols] + [_pct(r.get("worst")), flag]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", f"Verdict: {result['verdict']}"]
    for note in result.get("notes") or []:
        lines.append(f"- {note}")
    return "\n".join(lines) + "\n"
