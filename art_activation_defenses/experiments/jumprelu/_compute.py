"""The cells of the JumpReLU reproduction (Erichson, Yao, Mahoney 2019): each function computes one
cell and returns plain numbers, stored at once by the runner.

A :class:`Setup` holds one trained LeNetLike or AlexLike (base or FGSM-robust) as a ReLU classifier, the same
model retrofitted with JumpReLU (``kappa`` set per cell) and with the randomized JumpReLU, the
evaluation images and the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier

from art_activation_defenses.activations.modules import RetrofitActivation
from art_activation_defenses.attacks import DeepFoolL2, DeepFoolLinf, TrustRegion
from art_activation_defenses.defences import tune_kappa
from art_activation_defenses.detectors import lid_auc
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import audit, gradient_mode, pgd
from art_activation_defenses.metrics import accuracy_vs_iterations, relative_perturbation, robust_accuracy

__all__ = [
    "SETTINGS",
    "CIFAR_SETTINGS",
    "ATTACKS",
    "Setup",
    "tune_cell",
    "attack_cell",
    "matrix_cell",
    "random_cell",
    "images_cell",
    "iterations_cell",
]

#: quick flag -> settings. ``pgd_eps`` is the L∞ radius of PGD, ``pgd_step`` its step (the paper's
#: "ε = 0.01, 40 steps" read as step size and step count, see the notes).
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        "dataset": "digits",
        "arch": "lenet-like",
        "n_train": None,
        "n_val": 100,
        "n_eval": 48,
        "epochs": 15,
        "lr": 3e-3,
        "batch_size": 64,
        "adv_eps": 0.1,
        "kappa": 1.0,
        "kappas": (0.0, 0.1, 0.25, 1.0),
        "budget": 0.03,
        "pgd_eps": 0.1,
        "pgd_step": 0.01,
        "pgd_steps": 20,
        "df_iter": 20,
        "tr_iter": 50,
        "eot": 4,
        "lid_k": 10,
        "lid_batch": 24,
        "lid_adaptive_steps": 10,
        "matrix_kappas": (0.0, 0.25, 1.0),
        "iterations": (0, 1, 5, 20),
        "n_images": 4,
        "attack_batch": 128,
        "audit_budget": "quick",
    },
    False: {
        "dataset": "mnist",
        "arch": "lenet-like",
        "n_train": None,
        "n_val": 1000,
        "n_eval": 800,
        "epochs": 3,
        "lr": 1e-3,
        "batch_size": 128,
        "adv_eps": 0.1,
        "kappa": 1.0,
        "kappas": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
        "budget": 0.01,
        "pgd_eps": 0.1,
        "pgd_step": 0.01,
        "pgd_steps": 40,
        "df_iter": 50,
        "tr_iter": 200,
        "eot": 10,
        "lid_k": 20,
        "lid_batch": 100,
        "lid_adaptive_steps": 100,
        "matrix_kappas": (0.0, 0.5, 1.0, 1.5, 2.0),
        "iterations": (0, 1, 2, 5, 10, 20, 40, 80),
        "n_images": 6,
        "attack_batch": 300,
        "audit_budget": "standard",
    },
}

#: The ``--dataset cifar10`` variant (the paper's AlexLike, κ = 0.4; quick flag -> settings). The
#: shared CIFAR-10 copy has exact labels but mostly JPEG-decoded pixels: training uses all of it,
#: evaluation only the bit-exact test images (``eval_exact``). PGD: the paper's 7 CIFAR steps of
#: 0.01 in an L∞ ball of radius 0.03 (about 8/255). The κ grid reaches well below 0.4: κ is a
#: threshold on activations whose scale depends on the training recipe, and it is tuned per network.
CIFAR_SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        **SETTINGS[True],
        "dataset": "cifar10", "arch": "alex-like", "eval_exact": True, "n_train": 2100, "n_val": 100,
        "n_eval": 16, "epochs": 1, "lr": 1e-3, "adv_eps": 0.03, "kappa": 0.4, "kappas": (0.0, 0.4),
        "budget": 0.05, "pgd_eps": 0.03, "pgd_step": 0.01, "pgd_steps": 7, "df_iter": 5, "tr_iter": 10,
        "eot": 2, "matrix_kappas": (0.0, 0.4), "iterations": (0, 1, 7), "n_images": 3,
    },
    False: {
        **SETTINGS[False],
        "dataset": "cifar10", "arch": "alex-like", "eval_exact": True, "n_train": 25500, "n_val": 500,
        "n_eval": 150, "epochs": 5, "lr": 1e-3, "adv_eps": 0.03, "kappa": 0.4,
        "kappas": (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4), "budget": 0.02, "pgd_eps": 0.03, "pgd_step": 0.01,
        "pgd_steps": 7, "df_iter": 30, "tr_iter": 50, "eot": 10, "lid_k": 20, "lid_batch": 75,
        "matrix_kappas": (0.0, 0.02, 0.05, 0.1, 0.4), "iterations": (0, 1, 2, 3, 5, 7, 14, 28), "n_images": 6,
        "attack_batch": 150,
    },
}  # fmt: skip

#: The paper's attacks: key -> (label, norm of the relative perturbation).
ATTACKS: dict[str, tuple[str, float]] = {
    "pgd": ("PGD (L∞)", np.inf),
    "df_inf": ("DeepFool L∞", np.inf),
    "df_2": ("DeepFool L2", 2.0),
    "tr": ("TrustRegion L2", 2.0),
}


@dataclass
class Setup:
    """Everything a cell needs for one trained model.

    :param relu: The trained network (LeNetLike, or AlexLike on CIFAR-10) as an ART classifier (ReLU).
    :param jump: The same weights with every ReLU replaced by JumpReLU (``kappa`` set per cell).
    :param rjump: The same weights with the randomized JumpReLU (``kappa`` set per cell).
    :param x: Evaluation images. :param y: Their labels.
    :param x_val: Validation images (κ tuning). :param y_val: Their labels.
    :param cfg: The settings (:data:`SETTINGS`). :param seed: Seed of every random draw.
    """

    relu: PyTorchClassifier
    jump: RetrofitClassifier
    rjump: RetrofitClassifier
    x: np.ndarray
    y: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    cfg: dict[str, Any]
    seed: int

    def at(self, kappa: float) -> RetrofitClassifier:
        """The JumpReLU classifier at threshold ``kappa`` (exact gradients, white-box)."""
        self.jump.set_params(kappa=float(kappa), gradient="exact", grad_params={})
        return self.jump

    def craft(self, clf: PyTorchClassifier, attack: str, *, loss: str = "ce") -> np.ndarray:
        """Adversarial examples of ``attack`` against ``clf`` (its current gradient mode)."""
        cfg, bs = self.cfg, self.cfg["attack_batch"]
        if attack == "pgd":
            return pgd(
                clf,
                self.x,
                self.y,
                loss=loss,  # type: ignore[arg-type]
                eps=cfg["pgd_eps"],
                eps_step=cfg["pgd_step"],
                max_iter=cfg["pgd_steps"],
                random_init=True,
                seed=self.seed,
                batch_size=bs,
            )
        if attack == "df_inf":
            return DeepFoolLinf(
                clf, max_iter=cfg["df_iter"], nb_candidates=5, batch_size=bs, verbose=False
            ).generate(self.x)
        if attack == "df_2":
            return DeepFoolL2(
                clf, max_iter=cfg["df_iter"], nb_candidates=5, batch_size=bs, verbose=False
            ).generate(self.x)
        if attack == "tr":
            return TrustRegion(
                clf, norm=2, max_iter=cfg["tr_iter"], nb_candidates=5, batch_size=bs, verbose=False
            ).generate(self.x)
        raise ValueError(f"unknown attack {attack!r}")


def _acc(clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray) -> float:
    return robust_accuracy(clf, x, y, batch_size=256)


def _rho(clf: PyTorchClassifier, setup: Setup, x_adv: np.ndarray, norm: float) -> float:
    """Mean relative perturbation over the samples ``clf`` misclassifies (NaN if none)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return relative_perturbation(setup.x, x_adv, norm=norm, classifier=clf, y=setup.y)


def _activation_scale(setup: Setup) -> dict[str, list[float]]:
    """Percentiles (50, 90, 99) of the positive inputs of every ReLU site on the evaluation images:
    is κ = 1 small or large for this network?"""
    sites = [m for m in setup.jump.model.modules() if isinstance(m, RetrofitActivation)]
    captured: list[list[torch.Tensor]] = [[] for _ in sites]
    hooks = [
        s.register_forward_hook(lambda _m, i, _o, k=k: captured[k].append(i[0].detach().flatten()))
        for k, s in enumerate(sites)
    ]
    try:
        setup.at(0.0).predict(setup.x_val, batch_size=256)
    finally:
        for h in hooks:
            h.remove()
    out: dict[str, list[float]] = {}
    for k, values in enumerate(captured):
        v = torch.cat(values)
        v = v[v > 0]
        out[f"site_{k}"] = [float(torch.quantile(v[:200_000], q)) for q in (0.5, 0.9, 0.99)]
    return out


def tune_cell(setup: Setup) -> dict[str, Any]:
    """Figure 4: the κ trade-off on validation data (DeepFool L2 ρ, white-box and BPDA) and the
    activation scale of the sites."""
    cfg = setup.cfg

    def deepfool(clf: PyTorchClassifier) -> DeepFoolL2:  # L2, as the paper's Figure 4
        return DeepFoolL2(
            clf, max_iter=cfg["df_iter"], nb_candidates=5, batch_size=cfg["attack_batch"], verbose=False
        )

    res = tune_kappa(
        setup.at(0.0),
        setup.x_val,
        setup.y_val,
        list(cfg["kappas"]),
        attack=deepfool,
        max_accuracy_drop=cfg["budget"],
        bpda=True,
        select_by="white-box",  # the paper's rule (Figure 4); the library default is "min"
        batch_size=cfg["attack_batch"],
        verbose=False,
    )
    keep = (
        "values",
        "accuracy",
        "rho",
        "fool_rate",
        "rho_bpda",
        "fool_rate_bpda",
        "reference_accuracy",
        "admissible",
        "chosen",
    )
    return {**{k: res[k] for k in keep}, "activation_scale": _activation_scale(setup)}


def attack_cell(setup: Setup, attack: str, kappa: float, *, lid: bool) -> dict[str, Any]:
    """Tables 1-3 for one attack: crafted on ReLU (white-box on ReLU, gray-box on JumpReLU),
    white-box on JumpReLU (exact and BPDA gradients), and the LID AUCs. For PGD the white-box,
    BPDA and margin+BPDA accuracies come from the audit (``audit_row``), with its per-sample worst
    case over the whole ensemble."""
    norm = ATTACKS[attack][1]
    relu, jump = setup.relu, setup.at(kappa)
    x_relu = setup.craft(relu, attack)
    x_white = setup.craft(jump, attack)
    with gradient_mode(jump, "bpda"):
        x_bpda = setup.craft(jump, attack)
    out: dict[str, Any] = {
        "clean_relu": _acc(relu, setup.x, setup.y),
        "clean_jump": _acc(jump, setup.x, setup.y),
        "relu_acc": _acc(relu, x_relu, setup.y),
        "relu_rho": _rho(relu, setup, x_relu, norm),
        "gray_acc": _acc(jump, x_relu, setup.y),
        "gray_rho": _rho(jump, setup, x_relu, norm),
        "white_acc": _acc(jump, x_white, setup.y),
        "white_rho": _rho(jump, setup, x_white, norm),
        "bpda_acc": _acc(jump, x_bpda, setup.y),
        "bpda_rho": _rho(jump, setup, x_bpda, norm),
        "margin_bpda_acc": None,
    }
    if attack == "pgd":
        out.update(audit_row(setup, jump))
    if lid:
        kw = {"y": setup.y, "k": setup.cfg["lid_k"], "batch_size": setup.cfg["lid_batch"], "seed": setup.seed}
        ad = {"eps": setup.cfg["pgd_eps"], "eps_step": setup.cfg["pgd_step"], "seed": setup.seed,
              "max_iter": setup.cfg["lid_adaptive_steps"]}  # fmt: skip
        out.update(_lid("lid_relu", relu, setup.x, x_relu, kw, ad))
        out.update(_lid("lid_jump", jump, setup.x, x_white, kw, ad))
        out.update(_lid("lid_jump_bpda", jump, setup.x, x_bpda, kw, None))
    return out


def audit_row(setup: Setup, clf: PyTorchClassifier) -> dict[str, Any]:
    """The audit of ``clf`` at the paper's PGD settings (budget ``cfg["audit_budget"]``; the quick
    budget runs the PGD family only): white-box, BPDA and margin+BPDA accuracies, the per-sample
    worst case with its interval, the McNemar masking flag and the indicators that fired."""
    import warnings

    cfg = setup.cfg
    budget = cfg.get("audit_budget", "quick")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a masking verdict is in the row (audit_flag)
        res = audit(
            clf, setup.relu, setup.x, setup.y, eps=cfg["pgd_eps"], eps_step=cfg["pgd_step"],
            max_iter=cfg["pgd_steps"], budget=budget, attacks=("pgd",) if budget == "quick" else None,
            minimal=False, checks=False, batch_size=cfg["attack_batch"], seed=setup.seed, verbose=False,
        )  # fmt: skip
    row = next(r for r in res["rows"] if r["attack"] == "pgd")
    return {
        "white_acc": row["white_box"],
        "bpda_acc": row.get("bpda"),
        "margin_bpda_acc": row.get("margin_bpda"),
        "robust_acc": res["robust_accuracy"],
        "robust_interval": list(res["robust_interval"]),
        "audit_flag": res["flagged"],
        "audit_p_value": res["masking"].get("p_value"),
        "audit_columns": {e["key"]: e["accuracy"] for e in res["ensemble"]},
        "indicators_fired": [k for k, v in res["indicators"].items() if v["flag"]],
    }


def _lid(
    key: str,
    clf: PyTorchClassifier,
    x: np.ndarray,
    x_adv: np.ndarray,
    kw: dict[str, Any],
    adaptive: dict[str, Any] | None,
) -> dict[str, float | None]:
    """Table 3: LID AUC against ``x_adv`` under ``key``; with ``adaptive`` (the attacks' settings) also the
    AUC against the detector-aware PGD and C&W attacks on the fitted detector (``key_pgd``, ``key_cw``),
    the lower of their detection rates at 5% false positives (``key_det5``) and the higher success rate
    (misclassified and unflagged, ``key_success``). None when too few correctly classified pairs remain."""
    names = [key] + ([] if adaptive is None else [f"{key}_{s}" for s in ("pgd", "cw", "det5", "success")])
    extra: dict[str, Any] = {}
    if adaptive is not None:
        extra = {"adaptive": ("pgd", "cw"), "adaptive_params": adaptive}
    try:
        res = lid_auc(clf, x, x_adv, **kw, **extra)
    except ValueError:
        return dict.fromkeys(names)
    out: dict[str, float | None] = {key: float(res["auc"])}
    if adaptive is not None:
        ad = res["adaptive"]
        out.update({f"{key}_pgd": ad["pgd"]["auc"], f"{key}_cw": ad["cw"]["auc"]})
        out[f"{key}_det5"] = min(a["detection_rate_at_5fpr"] for a in ad.values())
        out[f"{key}_success"] = max(a["success_rate"] for a in ad.values())
    return out


def matrix_cell(setup: Setup) -> dict[str, Any]:
    """Figure 7: PGD crafted at κ_source (rows), accuracy at κ_target (columns)."""
    kappas = list(setup.cfg["matrix_kappas"])
    rows = []
    for ks in kappas:
        x_adv = setup.craft(setup.at(ks), "pgd")
        rows.append([_acc(setup.at(kt), x_adv, setup.y) for kt in kappas])
    return {"kappas": kappas, "accuracy": rows}


def random_cell(setup: Setup, kappa: float) -> dict[str, Any]:
    """Table 4: randomized JumpReLU (κ' ~ U(0.6 κ, κ) per call) under PGD with single-draw gradients,
    EOT gradients, BPDA gradients and transfer from ReLU; DeepFool L2 white-box ρ."""
    clf = setup.rjump
    clf.set_params(kappa=float(kappa), gradient="exact", grad_params={})
    out: dict[str, Any] = {"clean": _acc(clf, setup.x, setup.y)}
    out["pgd_white"] = _acc(clf, setup.craft(clf, "pgd"), setup.y)
    with gradient_mode(clf, "eot", eot_samples=setup.cfg["eot"]):
        out["pgd_eot"] = _acc(clf, setup.craft(clf, "pgd"), setup.y)
    with gradient_mode(clf, "bpda"):
        out["pgd_bpda"] = _acc(clf, setup.craft(clf, "pgd"), setup.y)
    out["pgd_transfer"] = _acc(clf, setup.craft(setup.relu, "pgd"), setup.y)
    x_df = setup.craft(clf, "df_2")
    out["df2_acc"], out["df2_rho"] = _acc(clf, x_df, setup.y), _rho(clf, setup, x_df, 2.0)
    return out


def _images(x: np.ndarray) -> np.ndarray:
    """``(n, H, W)`` for one channel, ``(n, H, W, 3)`` for colour, rounded for the JSON store."""
    return np.round(x[:, 0] if x.shape[1] == 1 else np.transpose(x, (0, 2, 3, 1)), 3)


def images_cell(setup: Setup, kappa: float) -> dict[str, Any]:
    """Figures 5-6: the first images, their DeepFool L2 adversarials on ReLU and on JumpReLU."""
    n = setup.cfg["n_images"]
    sub = Setup(
        relu=setup.relu,
        jump=setup.jump,
        rjump=setup.rjump,
        x=setup.x[:n],
        y=setup.y[:n],
        x_val=setup.x_val,
        y_val=setup.y_val,
        cfg=setup.cfg,
        seed=setup.seed,
    )
    jump = sub.at(kappa)
    adv_relu, adv_jump = sub.craft(sub.relu, "df_2"), sub.craft(jump, "df_2")
    return {
        "clean": _images(sub.x),
        "labels": sub.y,
        "adv_relu": _images(adv_relu),
        "adv_jump": _images(adv_jump),
        "pred_relu": sub.relu.predict(adv_relu).argmax(1),
        "pred_jump": jump.predict(adv_jump).argmax(1),
    }


def iterations_cell(setup: Setup, kappa: float) -> dict[str, Any]:
    """Figure 8: PGD accuracy vs iterations on ReLU, JumpReLU (exact) and JumpReLU (BPDA)."""
    cfg = setup.cfg
    kw = {
        "iterations": list(cfg["iterations"]),
        "eps": cfg["pgd_eps"],
        "eps_step": cfg["pgd_step"],
        "random_init": True,
        "seed": setup.seed,
        "batch_size": cfg["attack_batch"],
    }
    out = {
        "iterations": list(cfg["iterations"]),
        "relu": accuracy_vs_iterations(setup.relu, setup.x, setup.y, **kw)["accuracy"],
    }
    jump = setup.at(kappa)
    out["jump"] = accuracy_vs_iterations(jump, setup.x, setup.y, **kw)["accuracy"]
    with gradient_mode(jump, "bpda"):
        out["jump_bpda"] = accuracy_vs_iterations(jump, setup.x, setup.y, **kw)["accuracy"]
    return out
