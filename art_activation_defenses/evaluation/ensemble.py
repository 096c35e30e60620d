"""The attack ensemble of the audit, per threat model (L∞ or L2): which columns run, with which
budget, and one runner per column that returns per-sample outcomes.

Columns: FGSM and PGD with cross-entropy and logit-margin loss in every gradient mode the
defence has (exact, BPDA, EOT for randomized activations), transfer from the undefended model and
from the optional surrogate; ART's ``AutoProjectedGradientDescent`` with cross-entropy and with the
targeted difference-of-logits-ratio loss (exact and BPDA); ART's gradient-free ``SquareAttack``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from art.attacks.evasion import AutoProjectedGradientDescent, SquareAttack
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._validation import check_norm
from art_activation_defenses.defences import seeded
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier
from art_activation_defenses.evaluation._attacks import PGDTrace, activation_modules, gradient_mode, pgd

__all__ = ["ATTACKS", "BUDGETS", "COLUMNS", "Budget", "Column", "Outcome", "plan", "run_column"]

#: Attack families of the ensemble (``attacks=`` of the audit).
ATTACKS = ("fgsm", "pgd", "apgd", "square")

#: Legacy column -> (loss, gradient mode, source, title): the FGSM and PGD columns of each row.
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


@dataclass(frozen=True)
class Budget:
    """Attack budget of the audit. ``square_queries`` of ``"standard"`` is read off the measured
    curve in ``benchmarks/results/square_budget.md``. With ``square_subset`` Square runs, as in
    AutoAttack, only on the samples every earlier column left standing (ART's Square costs three
    forward passes over its whole input per query), so it adds to the worst case but has no
    accuracy of its own."""

    max_iter: int
    restarts: int
    apgd_iter: int
    apgd_restarts: int
    dlr_targets: int
    square_queries: int
    minimal: bool
    minimal_iter: int
    eot_samples: int
    square_subset: bool = True


BUDGETS: dict[str, Budget] = {
    "quick": Budget(20, 1, 20, 1, 1, 100, False, 20, 4),
    "standard": Budget(40, 1, 100, 1, 3, 3000, True, 50, 10),
    "thorough": Budget(100, 5, 100, 5, 9, 10000, True, 200, 20, square_subset=False),
}


@dataclass(frozen=True)
class Column:
    """One attack run of the ensemble; ``key`` is ``"<family>.<variant>"`` (e.g. ``"pgd.margin_bpda"``,
    ``"apgd_dlr.bpda"``, ``"square.exact"``)."""

    key: str
    family: str
    loss: str
    mode: str
    source: str
    title: str

    @property
    def variant(self) -> str:
        return self.key.split(".", 1)[1]


@dataclass
class Outcome:
    """Per-sample result of one column: ``correct`` on the defended model at the returned point,
    the per-restart outcomes, the PGD traces (defended gradient columns), and, for transfer, the
    samples whose example fooled its source; ``evaluated`` marks the samples a survivors-only column
    ran on (``correct`` is True elsewhere)."""

    correct: np.ndarray
    evaluated: np.ndarray | None = None
    restarts: list[np.ndarray] = field(default_factory=list)
    traces: list[PGDTrace] = field(default_factory=list)
    source_fooled: np.ndarray | None = None


def plan(
    defended: PyTorchClassifier,
    families: list[str],
    *,
    has_original: bool,
    surrogate: bool,
    loss_is_ce: bool,
) -> list[Column]:
    """The columns the ensemble runs on ``defended``: every family in ``families`` in every gradient
    mode the defence has."""
    bpda_ok = isinstance(defended, RetrofitClassifier) or bool(activation_modules(defended))
    randomized = isinstance(defended, RetrofitClassifier) and defended.is_randomized
    modes = ["exact"] + (["bpda"] if bpda_ok else []) + (["eot"] if randomized else [])
    cols: list[Column] = []
    for fam in ("fgsm", "pgd"):
        if fam not in families:
            continue
        names = (
            ["white_box"] + (["bpda"] if bpda_ok else []) + ["margin"] + (["margin_bpda"] if bpda_ok else [])
        )
        names += ["eot", "margin_eot"] if randomized else []
        names += (["transfer"] if has_original else []) + (["surrogate"] if surrogate else [])
        for name in names:
            loss, mode, source, title = COLUMNS[name]
            cols.append(Column(f"{fam}.{name}", fam, loss, mode, source, f"{fam.upper()} {title}"))
    if "apgd" in families:
        for mode in modes:
            if mode != "eot" or loss_is_ce:  # ART's DLR estimator has no EOT; CE-EOT needs the own loss
                cols.append(Column(f"apgd_ce.{mode}", "apgd", "ce", mode, "defended", f"APGD-CE {mode}"))
        for mode in [m for m in modes if m != "eot"]:
            cols.append(Column(f"apgd_dlr.{mode}", "apgd", "dlr", mode, "defended", f"APGD-DLR-T {mode}"))
    if "square" in families:
        cols.append(Column("square.exact", "square", "margin", "exact", "defended", "Square"))
    return cols


@dataclass
class Context:
    """What every column runner needs."""

    defended: PyTorchClassifier
    crafters: dict[str, PyTorchClassifier]
    x: np.ndarray
    y: np.ndarray
    norm: float
    eps: float
    eps_step: float
    budget: Budget
    batch_size: int
    seed: int

    def correct(self, x_adv: np.ndarray) -> np.ndarray:
        pred = np.asarray(self.defended.predict(x_adv, batch_size=self.batch_size)).argmax(1)
        return pred == self.y


def run_column(col: Column, ctx: Context, survivors: np.ndarray | None = None) -> Outcome:
    """Run one column; the defended classifier's gradient settings are restored afterwards.
    ``survivors`` (the samples still standing) restricts Square when ``budget.square_subset``."""
    if col.family in ("fgsm", "pgd"):
        return _pgd_column(col, ctx)
    if col.family == "apgd":
        with gradient_mode(ctx.defended, col.mode, ctx.budget.eot_samples):
            return _apgd_column(col, ctx)
    if ctx.budget.square_subset and survivors is not None:
        out = Outcome(correct=np.ones(len(ctx.x), dtype=bool), evaluated=survivors.copy())
        if survivors.any():
            sub = replace(ctx, x=ctx.x[survivors], y=ctx.y[survivors])
            out.correct[survivors] = _square_column(sub).correct
        return out
    return _square_column(ctx)


def _pgd_column(col: Column, ctx: Context) -> Outcome:
    fgsm = col.family == "fgsm"
    kwargs: dict[str, Any] = {
        "loss": col.loss, "eps": ctx.eps, "eps_step": ctx.eps if fgsm else ctx.eps_step,
        "max_iter": 1 if fgsm else ctx.budget.max_iter, "random_init": not fgsm,
        "batch_size": ctx.batch_size, "norm": ctx.norm,
    }  # fmt: skip
    restarts = 1 if fgsm else ctx.budget.restarts
    out = Outcome(correct=np.ones(len(ctx.x), dtype=bool))
    for r in range(restarts):
        if col.source == "defended":
            trace = PGDTrace()
            with gradient_mode(ctx.defended, col.mode, ctx.budget.eot_samples):
                x_adv = pgd(ctx.defended, ctx.x, ctx.y, seed=ctx.seed + r, trace=trace, **kwargs)
            out.traces.append(trace)
        else:
            crafter = ctx.crafters[col.source]
            # all steps: an iterate frozen just past the source's boundary transfers poorly
            x_adv = pgd(crafter, ctx.x, ctx.y, seed=ctx.seed + r, early_stop=False, **kwargs)
            pred = np.asarray(crafter.predict(x_adv, batch_size=ctx.batch_size)).argmax(1)
            fooled = pred != ctx.y
            out.source_fooled = fooled if out.source_fooled is None else out.source_fooled | fooled
        ok = ctx.correct(x_adv)
        out.restarts.append(ok)
        out.correct &= ok
    return out


def _apgd_column(col: Column, ctx: Context) -> Outcome:
    clf, b = ctx.defended, ctx.budget
    common: dict[str, Any] = {
        "norm": ctx.norm, "eps": ctx.eps, "eps_step": 2.0 * ctx.eps, "max_iter": b.apgd_iter,
        "nb_random_init": b.apgd_restarts, "batch_size": ctx.batch_size, "verbose": False,
    }  # fmt: skip
    out = Outcome(correct=np.ones(len(ctx.x), dtype=bool))
    if col.loss == "ce":
        loss_type = None if isinstance(clf.loss, nn.CrossEntropyLoss) else "cross_entropy"
        with seeded(ctx.seed):  # ART's random start draws from numpy's global generator: restored after
            x_adv = AutoProjectedGradientDescent(clf, loss_type=loss_type, **common).generate(ctx.x, y=ctx.y)
        out.correct &= ctx.correct(x_adv)
        return out
    logits = np.asarray(clf.predict(ctx.x, batch_size=ctx.batch_size))
    logits[np.arange(len(ctx.y)), ctx.y] = -np.inf
    order = np.argsort(-logits, axis=1)  # most likely wrong classes first
    for t in range(min(b.dlr_targets, logits.shape[1] - 1)):
        with seeded(ctx.seed + t):
            attack = AutoProjectedGradientDescent(
                clf, loss_type="difference_logits_ratio", targeted=True, **common
            )
            x_adv = attack.generate(ctx.x, y=order[:, t])
        out.correct &= ctx.correct(x_adv)
    return out


def _square_column(ctx: Context) -> Outcome:
    with seeded(ctx.seed):
        x_adv = SquareAttack(
            ctx.defended, norm=ctx.norm, eps=ctx.eps, max_iter=ctx.budget.square_queries, nb_restarts=1,
            batch_size=ctx.batch_size, verbose=False,
        ).generate(ctx.x, y=np.eye(ctx.defended.nb_classes, dtype=np.float32)[ctx.y])  # fmt: skip
    return Outcome(correct=ctx.correct(x_adv))


def parse_norm(norm: Any) -> float:
    """``"inf"``/``np.inf`` -> ``math.inf``; ``2``/``"2"`` -> ``2.0``; else ValueError (the threat models
    the audit has)."""
    return check_norm(norm, "norm", allowed=(2.0, math.inf))
