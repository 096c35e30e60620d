"""Reproduction of the bounded-ReLU + Gaussian data augmentation paper (Zantedeschi et al. 2017).

The paper's MNIST CNN (and a ResNet) trained plain, with feature squeezing, label smoothing,
FGSM adversarial training, VAT, Gaussian data augmentation (GDA) with ReLU and GDA with a
bounded ReLU (t = 1): Table 1 (FGSM transfer between CNN / ResNet with ReLU / BReLU), Figure 3
(FGSM accuracy vs ε), Table 2 (accuracy, robustness = mean relative minimal FGSM perturbation,
training-set distance), Table 3 (loss sensitivity), Table 4 (black-box FGSM, R+FGSM, DeepFool,
JSMA and C&W from the ResNet), PGD from the ResNet, the FGSM transfer matrix between the defences,
Figure 1 (the minimal perturbations of the first ten test images) and Figure 2 (the 2-D toy study).
Beside every white-box number sits the adaptive audit (BPDA through the bounded ReLU, logit-margin
loss, transfer from the undefended model).

| Paper link: https://arxiv.org/abs/1707.06728
"""

from __future__ import annotations

from typing import Any

from art_activation_defenses.experiments.brelu_gda._claims import claims
from art_activation_defenses.experiments.brelu_gda._eval import (
    arch_cell,
    blackbox_cell,
    defence_cell,
    transfer_cell,
)
from art_activation_defenses.experiments.brelu_gda._models import (
    ARCHS,
    DEFENCES,
    SETTINGS,
    defence_names,
    prepare,
    recipes,
)
from art_activation_defenses.experiments.brelu_gda._render import render
from art_activation_defenses.experiments.brelu_gda._tables import notes, summary, tables, worst
from art_activation_defenses.experiments.brelu_gda._toy import TOY_METHODS, toy_cell
from art_activation_defenses.experiments.protocol import Paper, Run, Step

__all__ = ["SPEC", "SETTINGS", "DEFENCES", "ARCHS", "TOY_METHODS", "defence_names", "render"]

NAME = "brelu-gda"


def _base(run: Run) -> dict[str, Any]:
    return {"dataset": run.cfg["dataset"], "n": run.cfg["n_eval"], "n_train": run.cfg["n_train"]}


def _cnn(run: Run) -> list[str]:
    return [n for n in defence_names(run.cfg) if n.startswith("cnn/")]


def _label(name: str) -> str:
    arch, defence = name.split("/")
    return f"{arch.upper() if arch == 'cnn' else 'ResNet'} {DEFENCES[defence]}"


STEPS = [
    Step(
        "defences", "defences",
        lambda run: [
            {**_base(run), "part": "defence", "model": n, "eps": list(run.cfg["eps"]),
             "headline_eps": run.cfg["headline_eps"]}
            for n in defence_names(run.cfg)
        ],
        defence_cell,
    ),
    Step(
        "transfer", "FGSM transfer matrix",
        lambda run: [
            {**_base(run), "part": "transfer", "source": s, "eps": run.cfg["headline_eps"],
             "targets": _cnn(run)}
            for s in _cnn(run)
        ],
        transfer_cell,
    ),
    Step(
        "blackbox", "black-box from ResNet",
        lambda run: [
            {**_base(run), "part": "blackbox", "attack": a, "eps": list(run.cfg["eps"]), "targets": _cnn(run)}
            for a in ("fgsm", "pgd")
        ],
        blackbox_cell,
    ),
    Step(
        "toy", "toy",
        lambda run: [
            {"part": "toy", "dataset": d, "n": run.cfg["toy_n"], "steps": run.cfg["toy_steps"],
             "grid": run.cfg["toy_grid"]}
            for d in ("circles", "moons")
        ],
        lambda run, c: toy_cell(c["dataset"], n=c["n"], steps=c["steps"], grid=c["grid"], seed=run.seed,
                                device=run.device),
    ),
    Step(
        "architectures", "Table 1 (architectures)",
        lambda run: [
            {**_base(run), "part": "architecture", "source": s, "eps": run.cfg["bb_eps"],
             "eps_grid": list(run.cfg["eps"]), "models": {a: run.cfg[a] for a in ("cnn", "resnet")}}
            for s in ARCHS
        ],
        arch_cell,
    ),
    Step(
        "blackbox_attacks", "Table 4 (five black-box attacks)",
        lambda run: [
            {**_base(run), "part": "blackbox", "attack": a, "eps": run.cfg["bb_eps"], "targets": _cnn(run),
             "params": {k: run.cfg[k] for k in ("rfgsm_alpha", "deepfool_iter", "jsma", "cw")}}
            for a in run.cfg["bb_attacks"]
        ],
        blackbox_cell,
    ),
]  # fmt: skip


def assemble(run: Run) -> dict[str, Any]:
    """The results' data: settings, training metadata, per-model numbers, transfer and black-box cells."""
    cfg, d = run.cfg, run.d
    per_model = {r["cell"]["model"]: dict(r["result"]) for r in run.records["defences"]}
    figure1: dict[str, Any] = {n: per_model[n].pop("figure1") for n in ("cnn/plain", "cnn/gda_brelu")}
    figure1.update(clean=d.x[:10].round(3), labels=d.y[:10])
    arch = {r["cell"]["source"]: r["result"] for r in run.records["architectures"]}
    attacks = {r["cell"]["attack"]: r["result"] for r in run.records["blackbox_attacks"]}
    fs = {"trained": "no (wraps the plain model)"}
    return {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "training": {
            n: run.model_info.get(n, fs) for n in [*defence_names(cfg), "cnn/brelu", "resnet/brelu"]
        },
        "models": {n: {"label": _label(n), **r} for n, r in per_model.items()},
        "transfer": {r["cell"]["source"]: r["result"]["accuracy"] for r in run.records["transfer"]},
        "blackbox": {r["cell"]["attack"]: r["result"] for r in run.records["blackbox"]},
        "toy": {r["cell"]["dataset"]: r["result"] for r in run.records["toy"]},
        "figure1": figure1,
        "architectures": {s: {"accuracy": r["accuracy"], "fgsm": r["fgsm"]} for s, r in arch.items()},
        "architectures_worst": worst({s: r["correct"] for s, r in arch.items()}, list(ARCHS)),
        "blackbox_attacks": {a: {"accuracy": r["accuracy"], "l2": r["l2"]} for a, r in attacks.items()},
        "blackbox_worst": worst({a: r["correct"] for a, r in attacks.items()}, _cnn(run)),
    }


SPEC = Paper(
    name=NAME,
    description="Bounded ReLU + Gaussian augmentation (Zantedeschi et al. 2017)",
    settings={None: SETTINGS},
    steps=STEPS,
    assemble=assemble,
    tables=tables,
    summary=summary,
    notes=notes,
    title=lambda run: (
        "Bounded ReLU + Gaussian data augmentation (Zantedeschi et al. 2017) on "
        + ("scikit-learn digits (quick)" if run.quick else "MNIST")
    ),
    models=recipes,
    prepare=prepare,
    figures=render,
    claims=claims,
)
