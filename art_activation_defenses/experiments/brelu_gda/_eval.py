"""The evaluation cells of the BReLU + GDA reproduction: per-defence metrics with the adaptive audit,
the FGSM transfer matrix and the black-box attacks from the ResNet."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescentPyTorch
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.defences._common import seeded
from art_activation_defenses.evaluation import audit
from art_activation_defenses.metrics import loss_sensitivity, robust_accuracy, training_set_distance

__all__ = ["Bench", "defence_cell", "transfer_cell", "blackbox_cell"]

FIGURE1_MODELS = ("cnn/plain", "cnn/gda_brelu")


@dataclass
class Bench:
    """The trained models and the data every cell reads.

    :param classifiers: ``"<arch>/<defence>"`` -> ART classifier.
    :param x: Evaluation images. :param y: Their labels.
    :param x_train: Training images (training-set distance).
    :param cfg: Settings. :param seed: Seed of the attacks' random starts.
    """

    classifiers: dict[str, PyTorchClassifier]
    x: np.ndarray
    y: np.ndarray
    x_train: np.ndarray
    cfg: dict[str, Any]
    seed: int

    @property
    def onehot(self) -> np.ndarray:
        return np.eye(10, dtype=np.float32)[self.y]

    def fgsm(self, clf: PyTorchClassifier, eps: float) -> np.ndarray:
        """ART's L∞ FGSM (through a non-differentiable preprocessing: its identity estimate, BPDA)."""
        return FastGradientMethod(clf, eps=eps, batch_size=self.cfg["attack_batch"]).generate(
            self.x, y=self.onehot
        )

    def acc(self, clf: PyTorchClassifier, x_adv: np.ndarray) -> float:
        return robust_accuracy(clf, x_adv, self.y, batch_size=256)


def _minimal_fgsm(bench: Bench, clf: PyTorchClassifier) -> tuple[np.ndarray, np.ndarray]:
    """Smallest L∞ FGSM step on a grid (ART, ``minimal=True``) per image; ``(x_adv, flipped mask)``."""
    step = bench.cfg["minimal_step"]
    x_adv = FastGradientMethod(
        clf, eps=1.0, eps_step=step, minimal=True, batch_size=bench.cfg["attack_batch"]
    ).generate(bench.x, y=bench.onehot)
    clean_pred = clf.predict(bench.x).argmax(1)
    return x_adv, clf.predict(x_adv).argmax(1) != clean_pred


def defence_cell(bench: Bench, name: str, original: str) -> dict[str, Any]:
    """Every per-model number: clean accuracy, FGSM accuracy over ε (Figure 3), robustness ρ (mean
    relative L2 size of the minimal FGSM perturbation over flipped images) and the training-set distance
    of those adversarial images (Table 2), loss sensitivity (Table 3), and the adaptive audit at the
    headline ε (white-box beside BPDA, margin loss and transfer from the undefended model)."""
    clf, cfg = bench.classifiers[name], bench.cfg
    out: dict[str, Any] = {
        "clean": bench.acc(clf, bench.x),
        "fgsm": [bench.acc(clf, bench.fgsm(clf, e)) for e in cfg["eps"]],
    }
    x_min, flipped = _minimal_fgsm(bench, clf)
    flat = (x_min - bench.x).reshape(len(bench.x), -1)
    ratios = np.linalg.norm(flat, axis=1) / np.maximum(
        np.linalg.norm(bench.x.reshape(len(bench.x), -1), axis=1), 1e-12
    )
    out["robustness"] = float(ratios[flipped].mean()) if flipped.any() else math.nan
    out["flipped_share"] = float(flipped.mean())
    out["train_distance"] = (
        training_set_distance(x_min[flipped], bench.x_train) if flipped.any() else math.nan
    )
    out["clean_train_distance"] = training_set_distance(bench.x, bench.x_train)
    out["loss_sensitivity"] = float(loss_sensitivity(clf, bench.x, bench.onehot))
    if name in FIGURE1_MODELS:
        out["figure1"] = {
            "adv": np.round(x_min[:10], 3),
            "flipped": flipped[:10],
            "ratio": np.round(ratios[:10], 4),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the audit warns when it flags masking; the flag is in the rows
        report = audit(
            clf,
            None if name == original else bench.classifiers[original],
            bench.x,
            bench.y,
            attacks=("fgsm", "pgd"),
            eps=cfg["headline_eps"],
            max_iter=cfg["pgd_steps"],
            checks=False,
            batch_size=cfg["attack_batch"],
            seed=bench.seed,
            verbose=False,
        )
    out["audit"] = {
        r["attack"]: {
            k: r.get(k)
            for k in ("white_box", "bpda", "margin", "margin_bpda", "transfer", "worst", "flag", "strongest")
        }
        for r in report["rows"]
    }
    out["audit_notes"] = report["notes"]
    return out


def transfer_cell(bench: Bench, source: str, targets: list[str]) -> dict[str, Any]:
    """Table 1: FGSM at the headline ε crafted on ``source``, accuracy of every target."""
    x_adv = bench.fgsm(bench.classifiers[source], bench.cfg["headline_eps"])
    return {"accuracy": {t: bench.acc(bench.classifiers[t], x_adv) for t in targets}}


def blackbox_cell(bench: Bench, source: str, attack: str, targets: list[str]) -> dict[str, Any]:
    """Tables 4-5: FGSM (Table 4) or PGD (Table 5, ART's, random start seeded through numpy) crafted on the
    ResNet at every ε, evaluated on the targets."""
    src, cfg = bench.classifiers[source], bench.cfg
    crafted = []
    for eps in cfg["eps"]:
        if attack == "fgsm":
            crafted.append(bench.fgsm(src, eps))
        else:
            steps = cfg["pgd_steps"]
            attack_ = ProjectedGradientDescentPyTorch(
                src,
                eps=eps,
                eps_step=2.5 * eps / steps,
                max_iter=steps,
                batch_size=cfg["attack_batch"],
                verbose=False,
            )
            with seeded(bench.seed):
                crafted.append(
                    attack_.generate(bench.x, y=bench.onehot)
                )  # all steps: no early stop on the source
    return {
        "source_accuracy": [bench.acc(src, xa) for xa in crafted],
        "accuracy": {t: [bench.acc(bench.classifiers[t], xa) for xa in crafted] for t in targets},
    }
