"""The adaptive-attack audit: an attack ensemble per threat model, the per-sample worst case as the
headline robust accuracy (with its 95% interval), the gradient-masking flag decided by an exact
McNemar test, the indicators of attack failure and the minimal-perturbation audit."""

from __future__ import annotations

import functools
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn
from tqdm.auto import tqdm

from art_activation_defenses._device import Device, place_classifier
from art_activation_defenses._validation import check_array, check_in_clip, check_labels, check_scalar
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier
from art_activation_defenses.evaluation import indicators as ind
from art_activation_defenses.evaluation._attacks import as_classifier, gradient_mode, train_surrogate
from art_activation_defenses.evaluation.ensemble import (
    ATTACKS,
    BUDGETS,
    COLUMNS,
    Column,
    Context,
    Outcome,
    parse_norm,
    plan,
    run_column,
)
from art_activation_defenses.evaluation.minimal import minimal_audit
from art_activation_defenses.evaluation.render import render_audit_markdown, verdict
from art_activation_defenses.evaluation.stats import accuracy_interval, masking_test
from art_activation_defenses.metrics import gradient_masking_checks

__all__ = ["ATTACKS", "BUDGETS", "COLUMNS", "audit", "render_audit_markdown"]

_OVERRIDES = (
    "max_iter",
    "restarts",
    "apgd_iter",
    "apgd_restarts",
    "dlr_targets",
    "square_queries",
)


def _check_xy(classifier: PyTorchClassifier, x: Any, y: Any, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The shared checks of an evaluation set: float32 ``x`` within the clip values, int64 labels."""
    check_array(x, name, ndim_min=2, input_shape=classifier.input_shape)
    check_in_clip(x, name, classifier.clip_values, tolerance=1e-6)
    return np.asarray(x, dtype=np.float32), check_labels(y, "y", len(x), classifier.nb_classes)


def _audit(
    defended: PyTorchClassifier,
    original: nn.Module | PyTorchClassifier | None,
    x: np.ndarray,
    y: np.ndarray,
    *,
    norm: float | str = "inf",
    budget: str = "standard",
    attacks: Sequence[str] | None = None,
    eps: float | None = None,
    eps_step: float | None = None,
    max_iter: int | None = None,
    restarts: int | None = None,
    apgd_iter: int | None = None,
    apgd_restarts: int | None = None,
    dlr_targets: int | None = None,
    square_queries: int | None = None,
    minimal: bool | None = None,
    margin: float = 0.05,
    alpha: float = 0.05,
    surrogate: bool = False,
    surrogate_model: nn.Module | None = None,
    surrogate_epochs: int = 30,
    surrogate_data: np.ndarray | None = None,
    surrogate_lr: float = 1e-3,
    eot_samples: int | None = None,
    checks: bool = True,
    batch_size: int = 128,
    seed: int = 0,
    verbose: bool = True,
    device: Device = None,
) -> dict[str, Any]:
    """
    Audit an activation defence against an attack ensemble (L∞ or L2) and report the per-sample
    worst case: a sample is robust only if it is classified correctly clean and under *every* column.

    Columns (see :mod:`art_activation_defenses.evaluation.ensemble`): FGSM and PGD with
    cross-entropy and the C&W logit margin, each with exact, BPDA (straight-through) and, for
    randomized activations, EOT gradients, plus transfer from ``original`` and the optional
    surrogate (all steps on the source); ART's APGD with cross-entropy and the targeted DLR loss
    (exact and BPDA); ART's gradient-free Square attack. The FGSM and PGD columns also form the
    legacy ``rows`` (one per family, white-box beside the adaptive columns). The masking flag
    compares the plain white-box evaluation (per sample: FGSM, PGD and APGD with cross-entropy through
    the exact gradient) with the worst case per sample: flagged when the gap exceeds ``margin`` *and*
    an exact one-sided McNemar test gives ``p < alpha``. Every accuracy
    carries a 95% Wilson interval; the indicators of attack failure (Pintor et al. 2022) are
    computed from the runs; with ``minimal`` the minimal-perturbation audit (DeepFool, trust
    region, FMN, exact and BPDA) runs as well. The classifier's gradient settings are restored.

    | Paper link: https://arxiv.org/abs/2003.01690 (APGD, DLR), https://arxiv.org/abs/1912.00049 (Square),
    | https://arxiv.org/abs/1802.00420 (BPDA, EOT), https://arxiv.org/abs/2106.09947 (indicators)

    :param defended: The defended ART ``PyTorchClassifier`` (``RetrofitClassifier`` for BPDA/EOT).
    :param original: Undefended model (``nn.Module`` or ART classifier) for the transfer column;
        None skips it.
    :param x: Inputs ``(n, *input_shape)`` (not modified). :param y: Labels (indices or one-hot).
    :param norm: ``"inf"`` (default) or ``2``.
    :param budget: ``"quick"``, ``"standard"`` (default) or ``"thorough"`` (:data:`BUDGETS`); the
        explicit parameters below override it.
    :param attacks: Families among :data:`ATTACKS` (default all).
    :param eps: Budget (default 0.1 for L∞, 1.5 for L2).
    :param eps_step: PGD step (default 2.5 eps / max_iter).
    :param max_iter: PGD steps. :param restarts: PGD random restarts.
    :param apgd_iter: APGD iterations. :param apgd_restarts: APGD random starts.
    :param dlr_targets: Target classes of APGD-DLR-T. :param square_queries: Square queries.
    :param minimal: Run the minimal-perturbation audit (default: the budget's when ``attacks`` is
        None, else False).
    :param margin: Masking threshold in accuracy points, in [0, 1] (default 0.05).
    :param alpha: Significance level of the McNemar test (default 0.05).
    :param surrogate: Add the surrogate-transfer columns. :param surrogate_model: Its architecture
        (default the original's). :param surrogate_epochs: Its epochs (30). :param surrogate_data:
        Its queries (default ``x``). :param surrogate_lr: Its Adam rate (1e-3).
    :param eot_samples: Draws per EOT gradient (default from the budget).
    :param checks: Run ``gradient_masking_checks`` on up to 256 samples (default True).
    :param batch_size: Batch size (128). :param seed: Seed of every random draw (0).
    :param verbose: Progress bar over the columns.
    :param device: ``None`` (default): run where ``defended`` lives. Else (``"auto"``, ``"cpu"``,
        ``"cuda"``, ``"cuda:N"``) ``defended`` and an ART ``original`` are first moved there (their
        models with them); the transfer source and the surrogate follow ``defended``'s device.
    :return: Plain dict: ``robust_accuracy``, ``robust_interval``, ``ensemble`` (per column accuracy,
        interval, ``broke_alone``), ``masking``, ``indicators``, ``minimal``, ``rows``/``columns``
        (legacy FGSM/PGD table), ``clean_accuracy``, ``flagged``, ``verdict``, ``settings``, ...
    """
    start = time.perf_counter()
    if device is not None and isinstance(defended, PyTorchClassifier):
        place_classifier(defended, device)
        if isinstance(original, PyTorchClassifier):
            place_classifier(original, device)
    if not isinstance(defended, PyTorchClassifier):
        raise ValueError(f"`defended` must be an ART PyTorchClassifier, got {type(defended).__name__}.")
    x_np, y_np = _check_xy(defended, x, y, "x")
    p = parse_norm(norm)
    if budget not in BUDGETS:
        raise ValueError(f"`budget` must be one of {sorted(BUDGETS)}, got {budget!r}.")
    names = list(ATTACKS) if attacks is None else [attacks] if isinstance(attacks, str) else list(attacks)
    if not names or any(a not in ATTACKS for a in names):
        raise ValueError(f"`attacks` must be a non-empty subset of {ATTACKS}, got {attacks!r}.")
    positive: dict[str, Any] = {"min_val": 0.0, "include_boundaries": "right"}
    eps = check_scalar((0.1 if p == np.inf else 1.5) if eps is None else eps, "eps", **positive)
    values = (max_iter, restarts, apgd_iter, apgd_restarts, dlr_targets, square_queries)
    given = dict(zip(_OVERRIDES, values, strict=True))
    plan_budget = BUDGETS[budget]
    for key, value in given.items():
        if value is not None:
            plan_budget = replace(plan_budget, **{key: check_scalar(value, key, "int", min_val=1)})  # type: ignore[arg-type]
    if minimal is not None or attacks is not None:  # a subset of families: no minimal audit unless asked
        plan_budget = replace(plan_budget, minimal=bool(minimal))
    if eot_samples is not None:
        eot_samples = check_scalar(eot_samples, "eot_samples", "int", min_val=1)
        plan_budget = replace(plan_budget, eot_samples=eot_samples)
    b = plan_budget
    eps_step = 2.5 * eps / b.max_iter if eps_step is None else check_scalar(eps_step, "eps_step", **positive)
    margin = check_scalar(margin, "margin", min_val=0.0, max_val=1.0)
    alpha = check_scalar(alpha, "alpha", max_val=1.0, **positive)
    surrogate_epochs = check_scalar(surrogate_epochs, "surrogate_epochs", "int", min_val=1)
    surrogate_lr = check_scalar(surrogate_lr, "surrogate_lr", **positive)
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    seed = check_scalar(seed, "seed", "int", min_val=0)
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
        queries = _check_xy(defended, surrogate_data, np.zeros(n_q, dtype=np.int64), "surrogate_data")[0]

    def predict_ok(clf: PyTorchClassifier, xs: np.ndarray) -> np.ndarray:
        return np.asarray(clf.predict(xs, batch_size=batch_size)).argmax(1) == y_np

    clean_ok = predict_ok(defended, x_np)
    original_clean = None if original_clf is None else float(predict_ok(original_clf, x_np).mean())
    crafters: dict[str, PyTorchClassifier] = {} if original_clf is None else {"original": original_clf}
    agreement = None
    if surrogate:
        arch = surrogate_model if surrogate_model is not None else original_clf.model  # type: ignore[union-attr]
        with gradient_mode(defended, "exact"):
            crafters["surrogate"], agreement = train_surrogate(
                defended,
                arch,
                queries,
                epochs=surrogate_epochs,
                lr=surrogate_lr,
                batch_size=batch_size,
                seed=seed,
            )
    loss_is_ce = isinstance(defended.loss, nn.CrossEntropyLoss)
    columns = plan(
        defended, names, has_original=original_clf is not None, surrogate=surrogate, loss_is_ce=loss_is_ce
    )
    ctx = Context(defended, crafters, x_np, y_np, p, eps, eps_step, b, batch_size, seed)
    outcomes: dict[str, Outcome] = {}
    notes: list[str] = []
    bar = tqdm(total=len(columns), desc="audit", disable=not verbose)
    for col in columns:
        bar.set_postfix_str(col.key)
        survivors = clean_ok.copy()
        for o in outcomes.values():
            survivors &= o.correct
        try:
            outcomes[col.key] = run_column(col, ctx, survivors)
        except ValueError as err:  # e.g. non-PyTorch preprocessing cannot be differentiated here
            notes.append(f"{col.key}: not run ({err})")
        bar.update(1)
    bar.close()

    result = _assemble(columns, outcomes, clean_ok, margin, alpha)
    robust = np.asarray(result["per_sample_robust"], dtype=bool)
    traces = [t for o in outcomes.values() for t in o.traces]
    transfer = outcomes.get("pgd.transfer") or outcomes.get("fgsm.transfer")
    result["indicators"] = {
        "silent_success": ind.silent_success(robust, traces),
        "incomplete_optimisation": ind.incomplete_optimisation(
            robust, [t for t in traces if t.objective.shape[0] > 1]
        ),
        "transfer_failure": ind.transfer_failure(
            clean_ok,
            None if transfer is None else transfer.source_fooled,
            None if transfer is None else transfer.correct,
        ),
        "unavailable_gradients": ind.unavailable_gradients(
            {k: (o.correct, o.traces) for k, o in outcomes.items()}
        ),
        "unstable_predictions": ind.unstable_predictions(defended, x_np, batch_size=batch_size),
        "non_converging_restarts": ind.non_converging_restarts(
            {
                k: o.restarts
                for k, o in outcomes.items()
                if k.startswith("pgd.") and not k.endswith(("transfer", "surrogate"))
            }
        ),
    }
    result["minimal"] = None
    if b.minimal:
        bpda_ok = any(c.mode == "bpda" for c in columns) or isinstance(defended, RetrofitClassifier)
        result["minimal"] = minimal_audit(
            defended, x_np, y_np, clean_ok, norm=p, modes=["exact"] + (["bpda"] if bpda_ok else []),
            steps=b.minimal_iter, batch_size=batch_size, seed=seed,
        )  # fmt: skip
    check_report = None
    if checks:
        n_checks = min(len(x_np), 256)
        with gradient_mode(defended, "exact"):
            check_report = gradient_masking_checks(
                defended, x_np[:n_checks], y_np[:n_checks], batch_size=batch_size, warn=False
            )
    result.update(
        defence=repr(defended),
        original_clean_accuracy=original_clean,
        surrogate_agreement=agreement,
        checks=check_report,
        notes=notes,
        n_samples=int(len(x_np)),
        settings={
            "norm": "inf" if p == np.inf else 2, "budget": budget, "attacks": names, "eps": eps,
            "eps_step": eps_step, "max_iter": b.max_iter, "restarts": b.restarts, "apgd_iter": b.apgd_iter,
            "apgd_restarts": b.apgd_restarts, "dlr_targets": b.dlr_targets,
            "square_queries": b.square_queries,
            "minimal": b.minimal, "minimal_iter": b.minimal_iter, "margin": margin, "alpha": alpha,
            "surrogate": surrogate, "surrogate_epochs": surrogate_epochs, "surrogate_lr": surrogate_lr,
            "eot_samples": b.eot_samples, "seed": seed, "batch_size": batch_size,
        },
    )  # fmt: skip
    result["verdict"] = verdict(result)
    result["seconds"] = time.perf_counter() - start
    if result["flagged"]:
        warnings.warn(f"audit: {result['verdict']}", stacklevel=2)
    return result


def _assemble(
    columns: list[Column], outcomes: dict[str, Outcome], clean_ok: np.ndarray, margin: float, alpha: float
) -> dict[str, Any]:
    """Per-column accuracies with intervals, the per-sample worst case, who broke what alone, the
    masking test, and the legacy FGSM/PGD rows."""
    n = len(clean_ok)
    ran = [c for c in columns if c.key in outcomes]
    ok = {c.key: outcomes[c.key].correct & clean_ok for c in ran}
    robust = clean_ok.copy()
    for v in ok.values():
        robust &= v
    ensemble: list[dict[str, Any]] = []
    for c in ran:
        others = np.ones(n, dtype=bool) & clean_ok
        for k, v in ok.items():
            if k != c.key:
                others &= v
        evaluated = outcomes[c.key].evaluated
        full = evaluated is None  # a survivors-only column has no accuracy of its own
        ensemble.append({
            "key": c.key, "title": c.title, "family": c.family, "loss": c.loss, "mode": c.mode,
            "source": c.source, "accuracy": float(ok[c.key].mean()) if full else None,
            "interval": accuracy_interval(ok[c.key]) if full else None,
            "evaluated": n if evaluated is None else int(evaluated.sum()),
            "broke_alone": int((others & ~ok[c.key]).sum()),
        })  # fmt: skip
    # the plain white-box evaluation: cross-entropy through the exact gradient of the defended model
    # (a stronger optimiser of the same loss, APGD-CE, included); everything else can refute it
    reference = [k for k in ("fgsm.white_box", "pgd.white_box", "apgd_ce.exact") if k in ok]
    masking: dict[str, Any] = {"reference": reference, "flag": False}
    if reference:
        white = clean_ok.copy()
        for k in reference:
            white &= ok[k]
        masking.update(masking_test(white, robust, margin, alpha), reference_accuracy=float(white.mean()))
        adaptive = [e for e in ensemble if e["key"] not in reference and e["accuracy"] is not None]
        masking["strongest"] = min(adaptive, key=lambda e: e["accuracy"])["key"] if adaptive else None
    rows, legacy_cols = [], []
    for fam in ("fgsm", "pgd"):
        keys = [c for c in ran if c.family == fam]
        if not keys:
            continue
        row: dict[str, Any] = {"attack": fam, "clean": float(clean_ok.mean())}
        worst = clean_ok.copy()
        for c in keys:
            row[c.variant] = float(ok[c.key].mean())
            worst &= ok[c.key]
            if c.variant not in legacy_cols:
                legacy_cols.append(c.variant)
        row.update(worst=float(worst.mean()), strongest=None, gap=0.0, flag=False, p_value=1.0)
        white = f"{fam}.white_box"
        adaptive_keys = [c.key for c in keys if c.key != white]
        if white in ok and adaptive_keys:
            strongest = min(adaptive_keys, key=lambda k: int(ok[k].sum()))
            test = masking_test(ok[white], ok[strongest], margin, alpha)
            row.update(
                strongest=strongest.split(".", 1)[1],
                gap=test["gap"],
                flag=test["flag"],
                p_value=test["p_value"],
            )
        rows.append(row)
    return {
        "robust_accuracy": float(robust.mean()),
        "robust_interval": accuracy_interval(robust),
        "clean_accuracy": float(clean_ok.mean()),
        "clean_interval": accuracy_interval(clean_ok),
        "ensemble": ensemble,
        "masking": masking,
        "flagged": bool(masking["flag"] or any(r["flag"] for r in rows)),
        "rows": rows,
        "columns": legacy_cols,
        "per_sample_robust": robust.astype(int).tolist(),
    }


@functools.wraps(_audit)
def audit(*args: Any, **kwargs: Any) -> dict[str, Any]:
    # ART's plain PyTorchClassifier.predict (the transfer source, the surrogate) draws from torch's
    # global generator through its DataLoader, and ART's attacks from numpy's: the caller's global
    # RNG states are put back afterwards, so an audit never advances a generator it does not own.
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 - restoring the caller's legacy global state
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        try:
            return _audit(*args, **kwargs)
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)  # noqa: NPY002
