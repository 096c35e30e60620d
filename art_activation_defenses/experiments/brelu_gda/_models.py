"""Settings and the models of the BReLU + Gaussian data augmentation reproduction, as recipes the runner
trains once and caches (feature squeezing needs no training: it wraps the plain CNN)."""

from __future__ import annotations

from typing import Any

from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import art_device_type, place_classifier
from art_activation_defenses.activations import BoundedReLU
from art_activation_defenses.defences import (
    GaussianAugmentationTrainer,
    LabelSmoothingTrainer,
    MixedBatchAdversarialTrainer,
    VirtualAdversarialTrainer,
    with_feature_squeezing,
)
from art_activation_defenses.experiments.protocol import ModelRecipe, Run
from art_activation_defenses.models import build_model
from art_activation_defenses.training import fit, set_seed

__all__ = ["SETTINGS", "DEFENCES", "ARCHS", "defence_names", "recipes", "prepare", "classifier"]

#: quick flag -> settings. VAT's ε scales with the image size (2.1 on 784 MNIST pixels). ``cnn`` /
#: ``resnet``: zoo name and keyword arguments of the two architectures (full: the paper's, Sec. 4.1).
#: ``bb_attacks``: Table 4's attacks (quick leaves out ART's JSMA and C&W: a minute each on 64 digits).
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        "dataset": "digits", "n_train": 600, "n_eval": 64, "epochs": 5, "lr": 3e-3, "batch_size": 64,
        "eps": (0.05, 0.1, 0.2, 0.3), "headline_eps": 0.1, "fgsm_train_eps": 0.1, "vat_eps": 0.6,
        "gda_sigma": 0.3, "gda_copies": 2, "gda_epochs": 2, "pgd_steps": 10, "resnet_depth": 8,
        "resnet_defences": ("plain",), "minimal_step": 0.02, "toy_n": 200, "toy_steps": 200, "toy_grid": 30,
        "attack_batch": 256, "cnn": ("brelu-cnn", {}), "resnet": ("brelu-resnet", {"depth": 8}),
        "bb_eps": 0.1, "rfgsm_alpha": 0.05, "deepfool_iter": 100, "jsma": (0.1, 1.0), "cw": (2.3, 10, 10),
        "bb_attacks": ("fgsm", "rand_fgsm", "deepfool"),
    },
    False: {
        "dataset": "mnist", "n_train": 20000, "n_eval": 1000, "epochs": 3, "lr": 1e-3, "batch_size": 128,
        "eps": (0.05, 0.1, 0.2, 0.3), "headline_eps": 0.3, "fgsm_train_eps": 0.3, "vat_eps": 2.1,
        "gda_sigma": 0.3, "gda_copies": 10, "gda_epochs": 1, "pgd_steps": 40,
        "resnet_defences": ("plain", "gda_relu", "gda_brelu"), "minimal_step": 0.01, "toy_n": 500,
        "toy_steps": 600, "toy_grid": 80, "attack_batch": 250, "cnn": ("brelu-gda-paper", {}),
        "resnet": ("brelu-gda-paper", {"residual": True}),
        "bb_eps": 0.1, "rfgsm_alpha": 0.05, "deepfool_iter": 100, "jsma": (0.1, 1.0), "cw": (2.3, 10, 10),
        "bb_attacks": ("fgsm", "rand_fgsm", "deepfool", "jsma", "cw"),
    },
}  # fmt: skip

#: Defence key -> label of the paper's comparison (``brelu``: trained plain with bounded ReLUs, Table 1).
DEFENCES: dict[str, str] = {
    "plain": "no defence",
    "feature_squeezing": "feature squeezing (1 bit)",
    "label_smoothing": "label smoothing (0.9)",
    "fgsm_at": "FGSM adversarial training",
    "vat": "VAT",
    "gda_relu": "GDA + RELU",
    "gda_brelu": "GDA + BRELU",
}

#: Table 1's architectures (model name -> the paper's row / column label).
ARCHS: dict[str, str] = {
    "cnn/plain": "CNN + RELU",
    "cnn/brelu": "CNN + BRELU",
    "resnet/plain": "ResNet + RELU",
    "resnet/brelu": "ResNet + BRELU",
}


def defence_names(cfg: dict[str, Any]) -> list[str]:
    """Model names ``"<arch>/<defence>"``: every defence on the CNN, ``resnet_defences`` on the ResNet."""
    return [f"cnn/{d}" for d in DEFENCES] + [f"resnet/{d}" for d in cfg["resnet_defences"]]


def classifier(run: Run, model: nn.Module) -> PyTorchClassifier:
    """An ART classifier of ``model`` on the run's device."""
    info = run.d.info
    clf = PyTorchClassifier(
        model, nn.CrossEntropyLoss(), info["input_shape"], info["nb_classes"],
        clip_values=info["clip_values"], device_type=art_device_type(run.device),
    )  # fmt: skip
    return place_classifier(clf, run.device)


def _build(run: Run, arch: str, defence: str) -> nn.Module:
    name, kwargs = run.cfg[arch]
    if defence in ("gda_brelu", "brelu"):
        kwargs = {**kwargs, "activation": lambda: BoundedReLU(t=1.0)}
    set_seed(run.seed)  # every model starts from the same seeded initialisation, whatever the order
    return build_model(name, run.d.info["input_shape"], run.d.info["nb_classes"], **kwargs).to(run.device)


def _train(run: Run, model: nn.Module, defence: str) -> dict[str, Any]:
    cfg, d = run.cfg, run.d
    common = {"nb_epochs": cfg["epochs"], "batch_size": cfg["batch_size"], "lr": cfg["lr"], "seed": run.seed}
    if defence in ("plain", "brelu"):
        hist = fit(
            model, d.x_train, d.y_train, epochs=cfg["epochs"], lr=cfg["lr"], batch_size=cfg["batch_size"],
            seed=run.seed, verbose=run.verbose,
        )  # fmt: skip
        return {"epochs": cfg["epochs"], "final_train_accuracy": hist["accuracy"][-1]}
    clf = classifier(run, model)
    if defence == "label_smoothing":
        trainer: Any = LabelSmoothingTrainer(clf, max_value=0.9, verbose=run.verbose, **common)
    elif defence == "fgsm_at":
        trainer = MixedBatchAdversarialTrainer(
            clf, method="fgsm", eps=cfg["fgsm_train_eps"], ratio=0.5, **common
        )
    elif defence == "vat":
        trainer = VirtualAdversarialTrainer(clf, eps=cfg["vat_eps"], verbose=run.verbose, **common)
    else:
        common["nb_epochs"] = cfg["gda_epochs"]
        trainer = GaussianAugmentationTrainer(
            clf, sigma=cfg["gda_sigma"], nb_copies=cfg["gda_copies"], verbose=run.verbose, **common
        )
    trainer.fit(d.x_train, d.y_train)
    return {"epochs": common["nb_epochs"]}


def recipes(run: Run) -> dict[str, ModelRecipe]:
    """Every trained model: the defences of :func:`defence_names`, then Table 1's two BReLU-only models."""
    cfg = run.cfg
    names = [n for n in defence_names(cfg) if n != "cnn/feature_squeezing"] + ["cnn/brelu", "resnet/brelu"]
    out = {}
    for name in names:
        arch, defence = name.split("/")
        keys: tuple[str, ...] = ("dataset", "n_train", "epochs", "lr", "batch_size", arch)
        keys += {"label_smoothing": (), "fgsm_at": ("fgsm_train_eps",), "vat": ("vat_eps",)}.get(
            defence, ("gda_epochs", "gda_sigma", "gda_copies") if defence.startswith("gda") else ()
        )
        out[name] = ModelRecipe(
            build=lambda r, a=arch, d=defence: _build(r, a, d),  # type: ignore[misc]
            train=lambda r, m, d=defence: _train(r, m, d),  # type: ignore[misc]
            settings={"model": name, "seed": run.seed, **{k: cfg[k] for k in keys}},
            tag=f"brelu-{cfg['dataset']}-{arch}-{defence}",
        )
    return out


def prepare(run: Run) -> None:
    """``run.state["clf"]``: model name -> ART classifier (feature squeezing wraps the plain CNN)."""
    clf = {name: classifier(run, model) for name, model in run.models.items()}
    clf["cnn/feature_squeezing"] = with_feature_squeezing(clf["cnn/plain"], bit_depth=1)
    run.state["clf"] = clf
