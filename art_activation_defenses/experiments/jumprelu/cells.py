"""The cells of the JumpReLU reproduction: each computes one cell of the spec and returns plain numbers.

``run.state["clf"][model]`` holds, per trained model, the network as a ReLU classifier (``relu``),
retrofitted with JumpReLU (``jump``, κ set per cell) and with the randomized JumpReLU (``rjump``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from art_activation_defenses.activations.modules import RetrofitActivation
from art_activation_defenses.attacks import DeepFoolL2, DeepFoolLinf, TrustRegion
from art_activation_defenses.defences import tune_kappa
from art_activation_defenses.detectors import lid_auc
from art_activation_defenses.evaluation import audit_cell, gradient_mode, pgd
from art_activation_defenses.experiments.protocol import Run
from art_activation_defenses.metrics import accuracy_vs_iterations, relative_perturbation, robust_accuracy

__all__ = ["ATTACKS", "craft", "paper_pgd", "tune", "attack", "matrix", "randomized", "images", "iterations"]

#: The paper's attacks: key -> (label, norm of the relative perturbation).
ATTACKS: dict[str, tuple[str, float]] = {
    "pgd": ("PGD (L∞)", np.inf),
    "df_inf": ("DeepFool L∞", np.inf),
    "df_2": ("DeepFool L2", 2.0),
    "tr": ("TrustRegion L2", 2.0),
}
Result = dict[str, Any]


def _jump(run: Run, model: str, kappa: float, name: str = "jump") -> Any:
    """The (randomized) JumpReLU classifier of ``model`` at ``kappa``, exact gradients."""
    clf = run.state["clf"][model][name]
    clf.set_params(kappa=float(kappa), gradient="exact", grad_params={})
    return clf


def craft(run: Run, clf: Any, attack: str, x: Any = None, y: Any = None) -> np.ndarray:
    """Adversarial examples of ``attack`` against ``clf`` (in its current gradient mode)."""
    cfg, bs = run.cfg, run.cfg["attack_batch"]
    x, y = (run.d.x, run.d.y) if x is None else (x, y)
    if attack == "pgd":
        return pgd(clf, x, y, loss="ce", eps=cfg["pgd_eps"], eps_step=cfg["pgd_step"],
                   max_iter=cfg["pgd_steps"], random_init=True, seed=run.seed, batch_size=bs)  # fmt: skip
    kw = {"nb_candidates": 5, "batch_size": bs, "verbose": False}
    if attack == "tr":
        return TrustRegion(clf, norm=2, max_iter=cfg["tr_iter"], **kw).generate(x)  # type: ignore[no-any-return]
    df = {"df_inf": DeepFoolLinf, "df_2": DeepFoolL2}[attack]
    return df(clf, max_iter=cfg["df_iter"], **kw).generate(x)  # type: ignore[no-any-return]


def paper_pgd(run: Run, clf: Any, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The authors' "PGD ε = 0.01, 40 steps" (7 on CIFAR-10): FGSM steps of ``pgd_step``, no projection
    (pixels clipped to the data range), each image frozen at its first misclassification.
    Our :func:`pgd` with an L∞ radius of 1 (the whole box), no random start and early stopping."""
    cfg = run.cfg
    return pgd(clf, x, y, loss="ce", eps=1.0, eps_step=cfg["pgd_step"], max_iter=cfg["pgd_steps"],
               random_init=False, early_stop=True, seed=run.seed, batch_size=cfg["attack_batch"])  # fmt: skip


def _acc(clf: Any, x: np.ndarray, y: np.ndarray) -> float:
    return robust_accuracy(clf, x, y, batch_size=256)


def _rho(run: Run, clf: Any, x_adv: np.ndarray, norm: float, x: Any = None, y: Any = None) -> float:
    """Mean relative perturbation over the samples ``clf`` misclassifies (NaN if none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        x, y = (run.d.x, run.d.y) if x is None else (x, y)
        return relative_perturbation(x, x_adv, norm=norm, classifier=clf, y=y)


def _activation_scale(run: Run, model: str) -> dict[str, list[float]]:
    """Percentiles (50, 90, 99) of the positive inputs of every ReLU site on the validation images."""
    jump = _jump(run, model, 0.0)
    sites = [m for m in jump.model.modules() if isinstance(m, RetrofitActivation)]
    captured: list[list[torch.Tensor]] = [[] for _ in sites]
    hooks = [s.register_forward_hook(lambda _m, i, _o, k=k: captured[k].append(i[0].detach().flatten().cpu()))
             for k, s in enumerate(sites)]  # fmt: skip
    try:
        jump.predict(run.d.x_val, batch_size=256)
    finally:
        for h in hooks:
            h.remove()
    out = {}
    for k, values in enumerate(captured):
        v = torch.cat(values)
        v = v[v > 0]
        out[f"site_{k}"] = [float(torch.quantile(v[:200_000], q)) for q in (0.5, 0.9, 0.99)]
    return out


def tune(run: Run, cell: Mapping[str, Any]) -> Result:
    """Figure 4: the κ trade-off on validation data (DeepFool L2 ρ, white-box and BPDA; the paper's
    rule: the most robust κ within the accuracy budget) and the activation scale of the sites."""
    cfg, m = run.cfg, cell["model"]
    res = tune_kappa(
        _jump(run, m, 0.0), run.d.x_val, run.d.y_val, list(cfg["kappas"]),
        attack=lambda clf: DeepFoolL2(clf, max_iter=cfg["df_iter"], nb_candidates=5,
                                      batch_size=cfg["attack_batch"], verbose=False),
        max_accuracy_drop=cfg["budget"], bpda=True, select_by="white-box",
        batch_size=cfg["attack_batch"], verbose=False,
    )  # fmt: skip
    keep = ("values", "accuracy", "rho", "fool_rate", "rho_bpda", "fool_rate_bpda", "reference_accuracy",
            "admissible", "chosen")  # fmt: skip
    return {**{k: res[k] for k in keep}, "activation_scale": _activation_scale(run, m)}


def attack(run: Run, cell: Mapping[str, Any]) -> Result:
    """Tables 1-3 for one attack and model: crafted on ReLU (white-box on ReLU, gray-box on JumpReLU),
    white-box on JumpReLU (exact and BPDA gradients); for PGD the audit's white-box, BPDA and
    margin+BPDA accuracies and per-sample worst case, and the authors' protocol (:func:`paper_pgd`,
    keys ``ifgsm_*``); the LID AUCs on the base model."""
    a, m, x, y = cell["attack"], cell["model"], run.d.x, run.d.y
    norm, relu, jump = ATTACKS[a][1], run.state["clf"][m]["relu"], _jump(run, m, cell["kappa"])
    x_relu, x_white = craft(run, relu, a), craft(run, jump, a)
    with gradient_mode(jump, "bpda"):
        x_bpda = craft(run, jump, a)
    out: Result = {
        "clean_relu": _acc(relu, x, y), "clean_jump": _acc(jump, x, y),
        "relu_acc": _acc(relu, x_relu, y), "relu_rho": _rho(run, relu, x_relu, norm),
        "gray_acc": _acc(jump, x_relu, y), "gray_rho": _rho(run, jump, x_relu, norm),
        "white_acc": _acc(jump, x_white, y), "white_rho": _rho(run, jump, x_white, norm),
        "bpda_acc": _acc(jump, x_bpda, y), "bpda_rho": _rho(run, jump, x_bpda, norm), "margin_bpda_acc": None,
    }  # fmt: skip
    cfg = run.cfg
    if a == "pgd":
        out.update(audit_cell(jump, relu, x, y, eps=cfg["pgd_eps"], eps_step=cfg["pgd_step"],
                              max_iter=cfg["pgd_steps"], budget=cfg["audit_budget"], attack="pgd",
                              batch_size=cfg["attack_batch"], seed=run.seed))  # fmt: skip
    if m == "base":  # Table 3: the base model
        kw = {"y": y, "k": cfg["lid_k"], "batch_size": cfg["lid_batch"], "seed": run.seed}
        ad = {"eps": cfg["pgd_eps"], "eps_step": cfg["pgd_step"], "seed": run.seed,
              "max_iter": cfg["lid_adaptive_steps"]}  # fmt: skip
        out.update(_lid("lid_relu", relu, x, x_relu, kw, ad))
        out.update(_lid("lid_jump", jump, x, x_white, kw, ad))
        out.update(_lid("lid_jump_bpda", jump, x, x_bpda, kw, None))
    if a == "pgd":  # the paper's protocol, beside our projected PGD
        xp_relu, xp_jump = paper_pgd(run, relu, x, y), paper_pgd(run, jump, x, y)
        out.update(ifgsm_relu_acc=_acc(relu, xp_relu, y), ifgsm_relu_rho=_rho(run, relu, xp_relu, norm),
                   ifgsm_gray_acc=_acc(jump, xp_relu, y), ifgsm_white_acc=_acc(jump, xp_jump, y),
                   ifgsm_white_rho=_rho(run, jump, xp_jump, norm))  # fmt: skip
    return out


def _lid(key: str, clf: Any, x: np.ndarray, x_adv: np.ndarray, kw: dict[str, Any],
         adaptive: dict[str, Any] | None) -> dict[str, float | None]:  # fmt: skip
    """Table 3: LID AUC against ``x_adv``; with ``adaptive`` (the attacks' settings) also the AUC against
    the detector-aware PGD and C&W attacks (``key_pgd``, ``key_cw``), the lower detection rate at 5%
    false positives (``key_det5``) and the higher success rate (``key_success``). None when too few
    correctly classified pairs remain."""
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


def matrix(run: Run, cell: Mapping[str, Any]) -> Result:
    """Figure 7: PGD crafted at κ_source (rows), accuracy at κ_target (columns), base model."""
    ks, m, y = list(run.cfg["matrix_kappas"]), cell["model"], run.d.y
    rows = []
    for k_source in ks:
        x_adv = craft(run, _jump(run, m, k_source), "pgd")
        rows.append([_acc(_jump(run, m, k_target), x_adv, y) for k_target in ks])
    return {"kappas": ks, "accuracy": rows}


def randomized(run: Run, cell: Mapping[str, Any]) -> Result:
    """Table 4: randomized JumpReLU (κ' ~ U(0.6 κ, κ) per call) under PGD with single-draw, EOT and BPDA
    gradients and transfer from ReLU; white-box accuracy and ρ of the minimal attacks ``cell["minimal"]``."""
    m, y = cell["model"], run.d.y
    clf = _jump(run, m, cell["kappa"], "rjump")
    out: Result = {"clean": _acc(clf, run.d.x, y), "pgd_white": _acc(clf, craft(run, clf, "pgd"), y)}
    with gradient_mode(clf, "eot", eot_samples=run.cfg["eot"]):
        out["pgd_eot"] = _acc(clf, craft(run, clf, "pgd"), y)
    with gradient_mode(clf, "bpda"):
        out["pgd_bpda"] = _acc(clf, craft(run, clf, "pgd"), y)
    out["pgd_transfer"] = _acc(clf, craft(run, run.state["clf"][m]["relu"], "pgd"), y)
    for a in cell["minimal"]:  # df_2 first: the random draws of the older cells stay where they were
        x_adv = craft(run, clf, a)
        key = a.replace("_", "")
        out[f"{key}_acc"], out[f"{key}_rho"] = _acc(clf, x_adv, y), _rho(run, clf, x_adv, ATTACKS[a][1])
    return out


def _images(x: np.ndarray) -> np.ndarray:
    """``(n, H, W)`` for one channel, ``(n, H, W, 3)`` for colour, rounded for the JSON store."""
    return np.round(x[:, 0] if x.shape[1] == 1 else np.transpose(x, (0, 2, 3, 1)), 3)


def images(run: Run, cell: Mapping[str, Any]) -> Result:
    """Figures 5-6: the first images, their DeepFool L2 adversarials on ReLU and on JumpReLU."""
    n, m = run.cfg["n_images"], cell["model"]
    x, y = run.d.x[:n], run.d.y[:n]
    relu, jump = run.state["clf"][m]["relu"], _jump(run, m, cell["kappa"])
    adv_relu, adv_jump = craft(run, relu, "df_2", x, y), craft(run, jump, "df_2", x, y)
    return {"clean": _images(x), "labels": y, "adv_relu": _images(adv_relu), "adv_jump": _images(adv_jump),
            "pred_relu": relu.predict(adv_relu).argmax(1),
            "pred_jump": jump.predict(adv_jump).argmax(1)}  # fmt: skip


def iterations(run: Run, cell: Mapping[str, Any]) -> Result:
    """Figure 8: PGD accuracy vs iterations on ReLU, JumpReLU (exact) and JumpReLU (BPDA)."""
    cfg, m, x, y = run.cfg, cell["model"], run.d.x, run.d.y
    kw = {"iterations": list(cfg["iterations"]), "eps": cfg["pgd_eps"], "eps_step": cfg["pgd_step"],
          "random_init": True, "seed": run.seed, "batch_size": cfg["attack_batch"]}  # fmt: skip
    out = {"iterations": list(cfg["iterations"]),
           "relu": accuracy_vs_iterations(run.state["clf"][m]["relu"], x, y, **kw)["accuracy"]}  # fmt: skip
    jump = _jump(run, m, cell["kappa"])
    out["jump"] = accuracy_vs_iterations(jump, x, y, **kw)["accuracy"]
    with gradient_mode(jump, "bpda"):
        out["jump_bpda"] = accuracy_vs_iterations(jump, x, y, **kw)["accuracy"]
    return out
