"""Settings and the defended models of the BReLU + Gaussian data augmentation reproduction.

Every defence of the paper's comparison is trained (or wrapped) here and cached as a
checkpoint, so a resumed run loads it instead of training it again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.activations import BoundedReLU
from art_activation_defenses.defences import (
    GaussianAugmentationTrainer,
    LabelSmoothingTrainer,
    MixedBatchAdversarialTrainer,
    VirtualAdversarialTrainer,
    with_feature_squeezing,
)
from art_activation_defenses.experiments.runner import ExperimentContext, cached_model
from art_activation_defenses.models import build_model
from art_activation_defenses.training import fit, set_seed

__all__ = ["SETTINGS", "DEFENCES", "defence_names", "train_defences"]

#: quick flag -> settings. VAT's ε scales with the image size (2.1 on 784 MNIST pixels).
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        "dataset": "digits", "n_train": 600, "n_eval": 64, "epochs": 5, "lr": 3e-3, "batch_size": 64,
        "eps": (0.05, 0.1, 0.2, 0.3), "headline_eps": 0.1, "fgsm_train_eps": 0.1, "vat_eps": 0.6,
        "gda_sigma": 0.3, "gda_copies": 2, "gda_epochs": 2, "pgd_steps": 10, "resnet_depth": 8,
        "resnet_defences": ("plain",), "minimal_step": 0.02, "toy_n": 200, "toy_steps": 200, "toy_grid": 30,
        "attack_batch": 256,
    },
    False: {
        "dataset": "mnist", "n_train": 20000, "n_eval": 1000, "epochs": 3, "lr": 1e-3, "batch_size": 128,
        "eps": (0.05, 0.1, 0.2, 0.3), "headline_eps": 0.3, "fgsm_train_eps": 0.3, "vat_eps": 2.1,
        "gda_sigma": 0.3, "gda_copies": 4, "gda_epochs": 1, "pgd_steps": 40, "resnet_depth": 8,
        "resnet_defences": ("plain", "gda_relu", "gda_brelu"), "minimal_step": 0.01, "toy_n": 500,
        "toy_steps": 600, "toy_grid": 80, "attack_batch": 250,
    },
}  # fmt: skip

#: Defence key -> label of the paper's comparison.
DEFENCES: dict[str, str] = {
    "plain": "no defence",
    "feature_squeezing": "feature squeezing (1 bit)",
    "label_smoothing": "label smoothing (0.9)",
    "fgsm_at": "FGSM adversarial training",
    "vat": "VAT",
    "gda_relu": "GDA + RELU",
    "gda_brelu": "GDA + BRELU",
}


def defence_names(cfg: dict[str, Any]) -> list[str]:
    """Model names ``"<arch>/<defence>"``: every defence on the CNN, ``resnet_defences`` on the ResNet."""
    return [f"cnn/{d}" for d in DEFENCES] + [f"resnet/{d}" for d in cfg["resnet_defences"]]


def _classifier(model: nn.Module, info: dict[str, Any]) -> PyTorchClassifier:
    return PyTorchClassifier(
        model,
        nn.CrossEntropyLoss(),
        info["input_shape"],
        info["nb_classes"],
        clip_values=info["clip_values"],
        device_type="cpu",
    )


def _builder(arch: str, defence: str, info: dict[str, Any], cfg: dict[str, Any]) -> Callable[[], nn.Module]:
    kwargs: dict[str, Any] = {"activation": lambda: BoundedReLU(t=1.0)} if defence == "gda_brelu" else {}
    if arch == "resnet":
        kwargs["depth"] = cfg["resnet_depth"]
    name = "brelu-cnn" if arch == "cnn" else "brelu-resnet"
    return lambda: build_model(name, info["input_shape"], info["nb_classes"], **kwargs)


def _trainer(defence: str, clf: PyTorchClassifier, cfg: dict[str, Any], seed: int, verbose: bool) -> Any:
    common = {"nb_epochs": cfg["epochs"], "batch_size": cfg["batch_size"], "lr": cfg["lr"], "seed": seed}
    if defence == "label_smoothing":
        return LabelSmoothingTrainer(clf, max_value=0.9, verbose=verbose, **common)
    if defence == "fgsm_at":
        return MixedBatchAdversarialTrainer(
            clf, method="fgsm", eps=cfg["fgsm_train_eps"], ratio=0.5, **common
        )
    if defence == "vat":
        return VirtualAdversarialTrainer(clf, eps=cfg["vat_eps"], verbose=verbose, **common)
    if defence in ("gda_relu", "gda_brelu"):
        return GaussianAugmentationTrainer(
            clf,
            sigma=cfg["gda_sigma"],
            nb_copies=cfg["gda_copies"],
            verbose=verbose,
            **{**common, "nb_epochs": cfg["gda_epochs"]},
        )
    raise ValueError(f"unknown defence {defence!r}")


def train_defences(
    ctx: ExperimentContext,
    cfg: dict[str, Any],
    info: dict[str, Any],
    x_train: np.ndarray,
    y_train: np.ndarray,
) -> tuple[dict[str, PyTorchClassifier], dict[str, dict[str, Any]]]:
    """Train (or load from the checkpoints) every model of :func:`defence_names`.

    Feature squeezing needs no training: it wraps the plain CNN. Plain models train with
    :func:`~art_activation_defenses.training.fit`; the others with the package's trainers.

    :return: ``(name -> ART classifier, name -> training metadata)``.
    """
    classifiers: dict[str, PyTorchClassifier] = {}
    meta: dict[str, dict[str, Any]] = {}
    for name in defence_names(cfg):
        arch, defence = name.split("/")
        if defence == "feature_squeezing":
            classifiers[name] = with_feature_squeezing(classifiers[f"{arch}/plain"], bit_depth=1)
            meta[name] = {"trained": "no (wraps the plain model)"}
            continue

        def train(model: nn.Module, defence: str = defence) -> dict[str, Any]:
            if defence == "plain":
                hist = fit(
                    model,
                    x_train,
                    y_train,
                    epochs=cfg["epochs"],
                    lr=cfg["lr"],
                    batch_size=cfg["batch_size"],
                    seed=ctx.seed,
                    verbose=ctx.verbose,
                )
                return {"epochs": cfg["epochs"], "final_train_accuracy": hist["accuracy"][-1]}
            _trainer(defence, _classifier(model, info), cfg, ctx.seed, ctx.verbose).fit(x_train, y_train)
            return {"epochs": cfg["gda_epochs"] if defence.startswith("gda") else cfg["epochs"]}

        set_seed(ctx.seed)
        tag = f"brelu-{cfg['dataset']}-{arch}-{defence}"
        train_keys = ("dataset", "n_train", "epochs", "gda_epochs", "lr", "batch_size")
        settings = {k: cfg[k] for k in train_keys if k in cfg}
        model, meta[name] = cached_model(
            ctx.model_path(tag), _builder(arch, defence, info, cfg), train, settings=settings
        )
        classifiers[name] = _classifier(model, info)
    return classifiers, meta
