"""
Honest evaluation of activation defences: the adaptive-attack audit (white-box beside BPDA,
logit-margin loss, EOT, transfer and surrogate transfer, with a gradient-masking flag), and
the building blocks the reproductions share: a seeded torch PGD with a cross-entropy or
logit-margin loss, a context manager that switches a classifier's gradient mode, and a
surrogate trained to match a defended model's logits.
"""

from art_activation_defenses.evaluation._attacks import Loss, gradient_mode, pgd, train_surrogate
from art_activation_defenses.evaluation.audit import ATTACKS, COLUMNS, audit, render_audit_markdown
from art_activation_defenses.metrics.masking import masking_gap

__all__ = [
    "ATTACKS",
    "COLUMNS",
    "Loss",
    "audit",
    "gradient_mode",
    "masking_gap",
    "pgd",
    "render_audit_markdown",
    "train_surrogate",
]
