"""Models and cells of the capped-ReLU reproduction (Sooksatra et al. 2023).

Every model is an MLP whose two hidden activations are :class:`CappedReLU` modules (``beta=inf``
is exactly ReLU), so ReLU and capped networks share one code path and BPDA applies to all of
them. A model capped at the "max values" is the trained ReLU network with each chosen layer capped
at that layer's largest activation on the training set (no retraining).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from art.attacks.evasion import CarliniL2Method
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.activations.modules import RetrofitActivation
from art_activation_defenses.activations.retrofit import retrofit
from art_activation_defenses.attacks import ZeroGradientPGD
from art_activation_defenses.defences import adversarial_augment
from art_activation_defenses.evaluation import audit, gradient_mode, pgd
from art_activation_defenses.experiments.runner import ExperimentContext, cached_model
from art_activation_defenses.metrics import layer_perturbation_growth, robust_accuracy, sensitivity_map
from art_activation_defenses.models import build_model
from art_activation_defenses.training import fit, set_seed

__all__ = ["SETTINGS", "SITES", "PLACES", "Zoo", "eval_cell", "advtrain_cell"]

#: Hidden-layer activation sites of the zoo MLP.
SITES: tuple[str, str] = ("classifier.1", "classifier.3")
#: Placement -> capped site indices ("relu": none).
PLACES: dict[str, tuple[int, ...]] = {"relu": (), "hl1": (0,), "hl2": (1,), "both": (0, 1)}

SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        "dataset": "digits",
        "n_train": None,
        "n_eval": 100,
        "epochs": 20,
        "lr": 3e-3,
        "batch_size": 64,
        "archs": {"general": (32, 16), "reversed": (16, 32), "equal": (64, 64)},
        "betas": (0.05, "max"),
        "eps": 0.1,
        "pgd_steps": 10,
        "adv_eps": 0.1,
        "adv_steps": 3,
        "adv_betas": ("relu", 0.05),
        "adv_place": "both",
        "zg_n": 30,
        "zg_iter": 50,
        "zg_step": 0.05,
        "sens_n": 30,
        "cw_n": 20,
        "cw_iter": 5,
        "cw_bss": 2,
        "cw_const": 1.0,
        "cw_lr": 0.05,
        "attack_batch": 128,
    },
    False: {
        "dataset": "mnist",
        "n_train": 20000,
        "n_eval": 1000,
        "epochs": 3,
        "lr": 1e-3,
        "batch_size": 128,
        "archs": {"general": (392, 196), "reversed": (196, 392), "equal": (784, 784)},
        "betas": (0.01, 0.05, 0.15, "max"),
        "eps": 0.1,
        "pgd_steps": 20,
        "adv_eps": 0.1,
        "adv_steps": 5,
        "adv_betas": ("relu", 0.01, 0.05, 0.15),
        "adv_place": "both",
        "zg_n": 100,
        "zg_iter": 100,
        "zg_step": 0.1,
        "sens_n": 100,
        "cw_n": 200,
        "cw_iter": 20,
        "cw_bss": 3,
        "cw_const": 1.0,
        "cw_lr": 0.05,
        "attack_batch": 250,
    },
}


def _capped(
    hidden: tuple[int, int], input_shape: tuple[int, ...], nb_classes: int, betas: tuple[float, float]
) -> nn.Module:
    """The zoo MLP with both hidden activations as ``CappedReLU(beta)`` (``inf`` = ReLU)."""
    model = build_model("mlp", input_shape, nb_classes, hidden=hidden)
    for site, beta in zip(SITES, betas, strict=True):
        retrofit(model, "capped", layers=[site], beta=float(beta), copy=False)
    return model


def _layer_max(model: nn.Module, x: np.ndarray) -> list[float]:
    """Largest output of each hidden activation on ``x``."""
    sites = [m for m in model.modules() if isinstance(m, RetrofitActivation)]
    top = [0.0 for _ in sites]
    hooks = [
        s.register_forward_hook(lambda _m, _i, o, k=k: top.__setitem__(k, max(top[k], float(o.max()))))
        for k, s in enumerate(sites)
    ]
    try:
        with torch.no_grad():
            for start in range(0, len(x), 1000):
                model(torch.as_tensor(x[start : start + 1000]))
    finally:
        for h in hooks:
            h.remove()
    return top


@dataclass
class Zoo:
    """Trains (or loads) and wraps the models of the grid; each is cached on disk once trained.

    :param ctx: The experiment context (model paths, seed, verbosity).
    :param cfg: The settings. :param info: ``dataset_info`` of the dataset.
    :param x_train: Training images. :param y_train: Their labels.
    :param x: Evaluation images. :param y: Their labels.
    """

    ctx: ExperimentContext
    cfg: dict[str, Any]
    info: dict[str, Any]
    x_train: np.ndarray
    y_train: np.ndarray
    x: np.ndarray
    y: np.ndarray
    _cache: dict[str, tuple[nn.Module, dict[str, Any]]] = field(default_factory=dict)

    def model(
        self, arch: str, place: str, beta: float | str, training: str = "none"
    ) -> tuple[nn.Module, dict[str, Any]]:
        """The trained model (eval mode) and its metadata (``betas`` actually used per site)."""
        cfg = self.cfg  # the tag names everything the weights depend on (no stale model is ever reused)
        tag = (
            f"mlp-{arch}-{place}-{beta}-{training}-{cfg['dataset']}-n{cfg['n_train']}-e{cfg['epochs']}"
            f"-adv{cfg['adv_eps']:g}x{cfg['adv_steps']}"
        )
        if tag in self._cache:
            return self._cache[tag]
        hidden = tuple(self.cfg["archs"][arch])
        shape, k = self.info["input_shape"], self.info["nb_classes"]
        if beta == "max":  # the ReLU model, capped at its own per-layer maxima (no retraining)
            relu, _ = self.model(arch, "relu", "relu", training)
            maxima = _layer_max(relu, self.x_train)
            betas = tuple(maxima[i] if i in PLACES[place] else math.inf for i in range(2))
            model = _capped(hidden, shape, k, betas)  # type: ignore[arg-type]
            model.load_state_dict(relu.state_dict())
            model.eval()
            out = (model, {"betas": [None if math.isinf(v) else v for v in betas], "trained": False})
        else:
            b = math.inf if place == "relu" else float(beta)
            betas = tuple(b if i in PLACES[place] else math.inf for i in range(2))

            def build() -> nn.Module:
                return _capped(hidden, shape, k, betas)  # type: ignore[arg-type]

            def train(m: nn.Module) -> dict[str, Any]:
                aug: Callable[..., Any] | None = None
                if training != "none":
                    aug = adversarial_augment(
                        m,
                        method=training,  # type: ignore[arg-type]
                        eps=self.cfg["adv_eps"],
                        steps=self.cfg["adv_steps"],
                        ratio=0.5,
                        seed=self.ctx.seed,
                    )
                hist = fit(
                    m,
                    self.x_train,
                    self.y_train,
                    epochs=self.cfg["epochs"],
                    lr=self.cfg["lr"],
                    batch_size=self.cfg["batch_size"],
                    seed=self.ctx.seed,
                    verbose=False,
                    augment=aug,
                )
                return {"final_train_accuracy": hist["accuracy"][-1]}

            set_seed(self.ctx.seed)
            model, meta = cached_model(self.ctx.model_path(tag), build, train)
            out = (model, {"betas": [None if math.isinf(v) else v for v in betas], "trained": True, **meta})
        self._cache[tag] = out
        return out

    def classifier(self, model: nn.Module) -> PyTorchClassifier:
        """An ART classifier around ``model`` (logits, [0, 1] clip values, CPU)."""
        return PyTorchClassifier(
            model,
            nn.CrossEntropyLoss(),
            self.info["input_shape"],
            self.info["nb_classes"],
            clip_values=self.info["clip_values"],
            device_type="cpu",
        )


def _audit(zoo: Zoo, clf: PyTorchClassifier, original: nn.Module | None) -> dict[str, Any]:
    cfg = zoo.cfg
    res = audit(
        clf,
        original,
        zoo.x,
        zoo.y,
        attacks=("fgsm", "pgd"),
        eps=cfg["eps"],
        max_iter=cfg["pgd_steps"],
        batch_size=cfg["attack_batch"],
        seed=zoo.ctx.seed,
        verbose=False,
    )
    out: dict[str, Any] = {
        "clean": res["clean_accuracy"],
        "zero_gradient_share": (res["checks"] or {}).get("zero_gradient_share"),
    }
    for row in res["rows"]:
        for col in ("white_box", "bpda", "margin", "margin_bpda", "transfer", "worst", "flag", "strongest"):
            out[f"{row['attack']}_{col}"] = row.get(col)
    return out


def eval_cell(zoo: Zoo, arch: str, place: str, beta: float | str) -> dict[str, Any]:
    """Figures 1, 2, 4-6, 8-11 for one model: clean accuracy, the audit (FGSM/PGD white-box beside
    BPDA, margin, margin+BPDA, transfer from the ReLU model), per-layer perturbation growth,
    zero-gradient distance and sensitivity."""
    cfg = zoo.cfg
    model, meta = zoo.model(arch, place, beta)
    clf = zoo.classifier(model)
    relu = None if place == "relu" else zoo.model(arch, "relu", "relu")[0]
    out: dict[str, Any] = {**_audit(zoo, clf, relu), "betas": meta["betas"]}
    with gradient_mode(clf, "bpda"):  # fixed-size perturbation: one margin+BPDA sign step of size eps
        x_adv = pgd(
            clf,
            zoo.x,
            zoo.y,
            loss="margin",
            eps=cfg["eps"],
            eps_step=cfg["eps"],
            max_iter=1,
            random_init=False,
            seed=zoo.ctx.seed,
            batch_size=cfg["attack_batch"],
        )
    growth = layer_perturbation_growth(clf, zoo.x, x_adv)
    out["growth"] = {k: growth[k] for k in ("layers", "l2", "l2_clean", "l2_growth")}
    zg = ZeroGradientPGD(
        clf,
        norm=2,
        eps=None,
        eps_step=cfg["zg_step"],
        max_iter=cfg["zg_iter"],
        batch_size=cfg["attack_batch"],
        verbose=False,
    )
    x_zg = zg.generate(zoo.x[: cfg["zg_n"]], y=zoo.y[: cfg["zg_n"]])
    out["zero_gradient"] = {
        "found_share": float(zg.found_.mean()),
        "mean_distance": zg.mean_distance_,
        "mean_iterations": float(zg.iterations_.mean()),
        "fooled_share": 1.0 - robust_accuracy(clf, x_zg, zoo.y[: cfg["zg_n"]]),
    }
    xs, ys = zoo.x[: cfg["sens_n"]], zoo.y[: cfg["sens_n"]]
    maps, sums = sensitivity_map(clf, xs, ys)
    with gradient_mode(clf, "bpda"):
        _, sums_bpda = sensitivity_map(clf, xs, ys)
    out["sensitivity"] = {"mean_sum": float(sums.mean()), "mean_sum_bpda": float(sums_bpda.mean())}
    if arch == "general":
        out["sensitivity"]["mean_map"] = np.round(maps.mean(0)[0] / max(float(maps.mean(0).max()), 1e-30), 3)
    return out


def _cw(zoo: Zoo, clf: PyTorchClassifier) -> tuple[float, float | None]:
    """C&W-L2 (ART) on the first ``cw_n`` images: accuracy and mean L2 of the successes."""
    cfg = zoo.cfg
    x, y = zoo.x[: cfg["cw_n"]], zoo.y[: cfg["cw_n"]]
    cw = CarliniL2Method(
        clf,
        max_iter=cfg["cw_iter"],
        binary_search_steps=cfg["cw_bss"],
        initial_const=cfg["cw_const"],
        learning_rate=cfg["cw_lr"],
        batch_size=cfg["attack_batch"],
        verbose=False,
    )
    x_adv = cw.generate(x)
    fooled = clf.predict(x_adv).argmax(1) != y
    dist = np.linalg.norm((x_adv - x).reshape(len(x), -1), axis=1)
    return float(1.0 - fooled.mean()), float(dist[fooled].mean()) if fooled.any() else None


def advtrain_cell(zoo: Zoo, training: str, beta: float | str) -> dict[str, Any]:
    """Table 1: one (training, β) model of the general architecture: FGSM, PGD (with the audit's
    adaptive columns) and C&W-L2 with exact and BPDA gradients."""
    place = "relu" if beta == "relu" else zoo.cfg["adv_place"]
    model, meta = zoo.model("general", place, beta, training)
    clf = zoo.classifier(model)
    relu = None if place == "relu" else zoo.model("general", "relu", "relu", training)[0]
    out: dict[str, Any] = {**_audit(zoo, clf, relu), "betas": meta["betas"]}
    out["cw_acc"], out["cw_l2"] = _cw(zoo, clf)
    with gradient_mode(clf, "bpda"):
        out["cw_bpda_acc"], out["cw_bpda_l2"] = _cw(zoo, clf)
    return out
