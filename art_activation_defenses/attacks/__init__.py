"""Evasion attacks ART lacks, as ART ``EvasionAttack`` subclasses on PyTorch classifiers.

Batched DeepFool (L2, L∞), the trust-region attack (L2, L∞), R+FGSM, StepLL (single-step
and iterative least-likely class) and zero-gradient PGD. numpy at the edges, torch inside
(see :mod:`art_activation_defenses.attacks._torch`). :class:`TorchView` (the differentiable view of
an ART PyTorch classifier every attack uses) and its per-sample losses :func:`margin` and
:func:`cross_entropy` are public, for attacks written elsewhere (``evaluation``).
"""

from __future__ import annotations

from art_activation_defenses.attacks._torch import TorchView, cross_entropy, margin
from art_activation_defenses.attacks.deepfool import DeepFool, DeepFoolL2, DeepFoolLinf
from art_activation_defenses.attacks.fmn import FMN, FMNL2, FMNLinf
from art_activation_defenses.attacks.rfgsm import RFGSM, StepLL
from art_activation_defenses.attacks.trust_region import TrustRegion
from art_activation_defenses.attacks.zero_gradient_pgd import ZeroGradientPGD

__all__ = [
    "DeepFool",
    "DeepFoolL2",
    "DeepFoolLinf",
    "FMN",
    "FMNL2",
    "FMNLinf",
    "RFGSM",
    "StepLL",
    "TorchView",
    "TrustRegion",
    "ZeroGradientPGD",
    "cross_entropy",
    "margin",
]
