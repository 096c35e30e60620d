"""The evaluation cells of the BReLU + GDA reproduction: per-defence metrics with the adaptive audit,
the FGSM transfer matrices (between defences; between architectures, Table 1) and the black-box attacks
crafted on the ResNet (Tables 4-5)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
from art.attacks.evasion import (
    CarliniL2Method,
    FastGradientMethod,
    ProjectedGradientDescentPyTorch,
    SaliencyMapMethod,
)
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.attacks import RFGSM, DeepFool
from art_activation_defenses.evaluation import audit
from art_activation_defenses.experiments.brelu_gda._models import ARCHS
from art_activation_defenses.experiments.protocol import Run
from art_activation_defenses.metrics import loss_sensitivity, robust_accuracy, training_set_distance

__all__ = ["defence_cell", "transfer_cell", "arch_cell", "blackbox_cell"]

FIGURE1_MODELS = ("cnn/plain", "cnn/gda_brelu")


def _onehot(run: Run) -> np.ndarray:
    return np.eye(run.d.info["nb_classes"], dtype=np.float32)[run.d.y]


def _fgsm(run: Run, clf: PyTorchClassifier, eps: float) -> np.ndarray:
    """ART's L∞ FGSM (through a non-differentiable preprocessing: its identity estimate, BPDA)."""
    return FastGradientMethod(clf, eps=eps, batch_size=run.cfg["attack_batch"]).generate(
        run.d.x, y=_onehot(run)
    )


def _correct(run: Run, clf: PyTorchClassifier, x_adv: np.ndarray) -> np.ndarray:
    return clf.predict(x_adv, batch_size=256).argmax(1) == run.d.y


def _acc(run: Run, clf: PyTorchClassifier, x_adv: np.ndarray) -> float:
    return robust_accuracy(clf, x_adv, run.d.y, batch_size=256)


def defence_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """Every per-model number: clean accuracy, FGSM accuracy over ε (Figure 3), robustness ρ (mean
    relative L2 size of the minimal FGSM perturbation over flipped images) and the training-set distance
    of those adversarial images (Table 2), loss sensitivity (Table 3), and the adaptive audit at the
    headline ε (white-box beside BPDA, margin loss and transfer from the undefended model)."""
    cfg, x, name = run.cfg, run.d.x, cell["model"]
    clfs = run.state["clf"]
    clf, original = clfs[name], name.split("/")[0] + "/plain"
    out: dict[str, Any] = {
        "clean": _acc(run, clf, x),
        "fgsm": [_acc(run, clf, _fgsm(run, clf, e)) for e in cfg["eps"]],
    }
    x_min = FastGradientMethod(
        clf, eps=1.0, eps_step=cfg["minimal_step"], minimal=True, batch_size=cfg["attack_batch"]
    ).generate(x, y=_onehot(run))  # the smallest L∞ FGSM step on a grid (ART, minimal=True) per image
    flipped = clf.predict(x_min).argmax(1) != clf.predict(x).argmax(1)
    norms = np.linalg.norm(x.reshape(len(x), -1), axis=1)
    ratios = np.linalg.norm((x_min - x).reshape(len(x), -1), axis=1) / np.maximum(norms, 1e-12)
    out["robustness"] = float(ratios[flipped].mean()) if flipped.any() else math.nan
    out["flipped_share"] = float(flipped.mean())
    out["train_distance"] = (
        training_set_distance(x_min[flipped], run.d.x_train) if flipped.any() else math.nan
    )
    out["clean_train_distance"] = training_set_distance(x, run.d.x_train)
    out["loss_sensitivity"] = float(loss_sensitivity(clf, x, _onehot(run)))
    if name in FIGURE1_MODELS:
        out["figure1"] = {
            "adv": np.round(x_min[:10], 3),
            "flipped": flipped[:10],
            "ratio": np.round(ratios[:10], 4),
        }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the audit warns when it flags masking; the flag is in the rows
        report = audit(
            clf, None if name == original else clfs[original], x, run.d.y, attacks=("fgsm", "pgd"),
            eps=cfg["headline_eps"], max_iter=cfg["pgd_steps"], checks=False, batch_size=cfg["attack_batch"],
            seed=run.seed, verbose=False,
        )  # fmt: skip
    keys = ("white_box", "bpda", "margin", "margin_bpda", "transfer", "worst", "flag", "strongest")
    out["audit"] = {r["attack"]: {k: r.get(k) for k in keys} for r in report["rows"]}
    out["audit_notes"] = report["notes"]
    return out


def transfer_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """FGSM at the cell's ε crafted on its source, accuracy of every target; with ``masks`` the per-image
    correctness too (Table 1's per-sample worst case over the sources)."""
    clfs = run.state["clf"]
    x_adv = _fgsm(run, clfs[cell["source"]], cell["eps"])
    correct = {t: _correct(run, clfs[t], x_adv) for t in cell["targets"]}
    out: dict[str, Any] = {"accuracy": {t: float(c.mean()) for t, c in correct.items()}}
    if cell.get("masks"):
        out["correct"] = {t: c.astype(int) for t, c in correct.items()}
    return out


def arch_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """Table 1 (FGSM at ε crafted on one architecture, accuracy of all four) and the source's own
    white-box FGSM accuracy over the ε grid (Figure 3, by architecture)."""
    clf = run.state["clf"][cell["source"]]
    curve = [_acc(run, clf, _fgsm(run, clf, e)) for e in cell["eps_grid"]]
    return {**transfer_cell(run, {**cell, "targets": list(ARCHS), "masks": True}), "fgsm": curve}


def _craft(run: Run, src: PyTorchClassifier, attack: str, eps: float) -> np.ndarray:
    """One black-box attack crafted on ``src`` (seeded where it draws: R+FGSM's noise, JSMA's targets)."""
    cfg, x, y, bs = run.cfg, run.d.x, run.d.y, run.cfg["attack_batch"]
    if attack == "fgsm":
        return _fgsm(run, src, eps)
    if attack == "pgd":  # ART's PyTorch PGD, no random start, all steps: no early stop on the source
        steps = cfg["pgd_steps"]
        pgd = ProjectedGradientDescentPyTorch(
            src, eps=eps, eps_step=2.5 * eps / steps, max_iter=steps, batch_size=bs, verbose=False
        )
        return pgd.generate(x, y=_onehot(run))
    if attack == "rand_fgsm":
        return RFGSM(
            src, eps=eps, alpha=cfg["rfgsm_alpha"], seed=run.seed, batch_size=bs, verbose=False
        ).generate(x, y=y)
    if attack == "deepfool":
        df = DeepFool(
            src,
            norm=2,
            max_iter=cfg["deepfool_iter"],
            refine_steps=0,
            projection_steps=0,
            batch_size=bs,
            verbose=False,
        )
        return df.generate(x, y=y)
    nb = run.d.info["nb_classes"]
    if attack == "jsma":  # towards a random other class (seeded), θ and γ of the paper
        target = (y + np.random.default_rng(run.seed).integers(1, nb, size=len(y))) % nb
        theta, gamma = cfg["jsma"]
        jsma = SaliencyMapMethod(src, theta=theta, gamma=gamma, batch_size=bs, verbose=False)
        return jsma.generate(x, y=np.eye(nb, dtype=np.float32)[target])
    confidence, max_iter, search = cfg["cw"]
    cw = CarliniL2Method(
        src,
        confidence=confidence,
        max_iter=max_iter,
        binary_search_steps=search,
        batch_size=bs,
        verbose=False,
    )
    return cw.generate(x, y=_onehot(run))


def blackbox_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """Tables 4-5: one attack crafted on the plain ResNet at every ε of the cell, evaluated on the targets
    (a cell with one ``eps`` number also keeps the per-image correctness, for the per-sample worst case)."""
    src, clfs = run.state["clf"]["resnet/plain"], run.state["clf"]
    grid = cell["eps"] if isinstance(cell["eps"], list) else [cell["eps"]]
    crafted = [_craft(run, src, cell["attack"], e) for e in grid]
    out: dict[str, Any] = {
        "source_accuracy": [_acc(run, src, xa) for xa in crafted],
        "accuracy": {t: [_acc(run, clfs[t], xa) for xa in crafted] for t in cell["targets"]},
    }
    if not isinstance(cell["eps"], list):
        out["accuracy"] = {t: v[0] for t, v in out["accuracy"].items()}
        out["correct"] = {t: _correct(run, clfs[t], crafted[0]).astype(int) for t in cell["targets"]}
        out["l2"] = float(np.linalg.norm((crafted[0] - run.d.x).reshape(len(run.d.x), -1), axis=1).mean())
    return out
