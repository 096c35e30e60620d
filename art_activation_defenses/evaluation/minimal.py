"""The minimal-perturbation audit: relative size ρ = ‖δ‖/‖x‖ of the smallest adversarial
perturbation each minimum-norm attack finds (DeepFool, trust region, FMN), in exact and BPDA
gradient modes, and the per-sample minimum over all of them."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from art.attacks.attack import EvasionAttack
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.attacks import DeepFool, TrustRegion
from art_activation_defenses.evaluation._attacks import gradient_mode

__all__ = ["minimal_attacks", "minimal_audit"]

Factory = Callable[[PyTorchClassifier], EvasionAttack]


def minimal_attacks(norm: float, steps: int, batch_size: int, seed: int) -> dict[str, Factory]:
    """Name -> factory of the minimum-norm attacks for ``norm`` (FMN only when it is installed)."""
    p: float = 2 if norm == 2 else np.inf
    out: dict[str, Factory] = {
        "deepfool": lambda c: DeepFool(c, norm=p, max_iter=steps, batch_size=batch_size, verbose=False),
        "trust_region": lambda c: TrustRegion(
            c, norm=p, max_iter=2 * steps, batch_size=batch_size, verbose=False
        ),
    }
    try:
        from art_activation_defenses.attacks import FMN  # type: ignore[attr-defined]
    except ImportError:
        return out
    out["fmn"] = lambda c: FMN(c, norm=p, steps=2 * steps, batch_size=batch_size, seed=seed, verbose=False)
    return out


def _rho(x: np.ndarray, x_adv: np.ndarray, fooled: np.ndarray, norm: float) -> np.ndarray:
    flat, d = x.reshape(len(x), -1), (x_adv - x).reshape(len(x), -1)
    ord_ = 2 if norm == 2 else np.inf
    size = np.linalg.norm(d.astype(np.float64), ord=ord_, axis=1)
    ref = np.maximum(np.linalg.norm(flat.astype(np.float64), ord=ord_, axis=1), 1e-12)
    return np.where(fooled, size / ref, np.inf)


def minimal_audit(
    defended: PyTorchClassifier,
    x: np.ndarray,
    y: np.ndarray,
    correct_clean: np.ndarray,
    *,
    norm: float,
    modes: list[str],
    steps: int,
    batch_size: int,
    seed: int,
) -> dict[str, Any]:
    """ρ per attack and gradient mode over the clean-correct samples, and the per-sample minimum.

    A sample counts as found when the returned point is misclassified; its ρ is ``inf`` otherwise.

    :return: ``{"norm", "attacks": {"<attack>.<mode>": {"fool_rate", "rho_mean", "rho_median"}},
        "min": {"fool_rate", "rho_mean", "rho_median"}, "n"}`` (means over the samples found).
    """
    xs, ys = x[correct_clean], y[correct_clean]
    result: dict[str, Any] = {"norm": "inf" if norm == math.inf else 2, "attacks": {}, "n": int(len(xs))}
    if len(xs) == 0:
        result["min"] = _summary(np.zeros(0))
        return result
    best = np.full(len(xs), np.inf)
    for name, factory in minimal_attacks(norm, steps, batch_size, seed).items():
        for mode in modes:
            with gradient_mode(defended, mode):
                x_adv = factory(defended).generate(xs, y=ys)
            fooled = np.asarray(defended.predict(x_adv, batch_size=batch_size)).argmax(1) != ys
            rho = _rho(xs, x_adv, fooled, norm)
            best = np.minimum(best, rho)
            result["attacks"][f"{name}.{mode}"] = _summary(rho)
    result["min"] = _summary(best)
    return result


def _summary(rho: np.ndarray) -> dict[str, Any]:
    found = rho[np.isfinite(rho)]
    return {
        "fool_rate": float(len(found) / len(rho)) if len(rho) else math.nan,
        "rho_mean": float(found.mean()) if len(found) else math.nan,
        "rho_median": float(np.median(found)) if len(found) else math.nan,
    }
