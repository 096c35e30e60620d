"""
Honest evaluation of activation defences: the adaptive-attack audit (an attack ensemble per threat
model, L∞ or L2: PGD with cross-entropy and logit-margin loss through exact, BPDA and EOT gradients,
APGD-CE and APGD-DLR-T, Square, transfer and surrogate transfer; the per-sample worst case as the
headline with Wilson intervals; an exact McNemar masking flag; the indicators of attack failure; the
minimal-perturbation audit), and the building blocks the reproductions share: a seeded torch PGD,
a context manager that switches a classifier's gradient mode, and a surrogate trained to match a
defended model's logits; the cells the reproductions and the demo share (white-box beside adaptive);
``tune_kappa``, the accuracy / robustness trade-off of an activation parameter, white-box and BPDA.
"""

from art_activation_defenses.evaluation._attacks import Loss, PGDTrace, gradient_mode, pgd, train_surrogate
from art_activation_defenses.evaluation.audit import ATTACKS, BUDGETS, COLUMNS, audit, render_audit_markdown
from art_activation_defenses.evaluation.cells import MASKING_MARGIN, audit_cell, masking_row
from art_activation_defenses.evaluation.minimal import minimal_audit
from art_activation_defenses.evaluation.stats import accuracy_interval, masking_test, mcnemar_exact
from art_activation_defenses.evaluation.tuning import masking_flags, plot_tradeoff, tune_kappa
from art_activation_defenses.metrics.masking import masking_gap

__all__ = [
    "ATTACKS",
    "MASKING_MARGIN",
    "audit_cell",
    "masking_row",
    "BUDGETS",
    "COLUMNS",
    "Loss",
    "PGDTrace",
    "accuracy_interval",
    "masking_test",
    "mcnemar_exact",
    "minimal_audit",
    "audit",
    "gradient_mode",
    "masking_flags",
    "masking_gap",
    "pgd",
    "plot_tradeoff",
    "render_audit_markdown",
    "train_surrogate",
    "tune_kappa",
]
