"""The cells of the sloped-ReLU reproduction (Borji 2020): each function computes one cell.

A :class:`Setup` holds what every cell needs (the trained ReLU model, the retrofitted sloped-ReLU
classifier whose ``alpha`` each cell sets, the evaluation images and the settings); the cell
functions return plain dicts of numbers, stored at once by the runner.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from art.attacks.evasion import BasicIterativeMethod, FastGradientMethod
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.activations.modules import RetrofitActivation
from art_activation_defenses.attacks import RFGSM, DeepFool, StepLL
from art_activation_defenses.attacks._torch import TorchView, margin
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import Loss, audit, gradient_mode, pgd, train_surrogate
from art_activation_defenses.metrics import robust_accuracy

__all__ = [
    "SETTINGS",
    "CURVE_ATTACKS",
    "Setup",
    "curve_cell",
    "transfer_cell",
    "audit_cell",
    "surrogate_cell",
    "targeted_cell",
    "scaling_cell",
    "tsne_cell",
]

#: quick flag -> settings. ``eps`` is the L∞ grid of the curves; ``headline_eps`` (in the grid) the
#: budget of the summary table; ``target_eps`` the budget of the per-class targeted FGSM.
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        "dataset": "digits", "n_train": None, "n_eval": 48, "epochs": 25, "lr": 3e-3, "batch_size": 64,
        "alphas": (0.5, 1.0, 10.0, 100.0), "eps": (0.1, 0.3), "headline_eps": 0.1, "target_eps": 0.3,
        "pgd_steps": 20, "bim_steps": 5, "deepfool_iter": 20, "scales": (1.0, 10.0), "tsne_n": 48,
        "surrogate_n": 300, "surrogate_epochs": 8, "attack_batch": 256, "audit_budget": "quick",
    },
    False: {
        "dataset": "mnist", "n_train": 30000, "n_eval": 500, "epochs": 2, "lr": 1e-3, "batch_size": 128,
        "alphas": (0.5, 1.0, 2.0, 5.0, 10.0, 100.0), "eps": (0.05, 0.1, 0.2, 0.3), "headline_eps": 0.1,
        "target_eps": 0.2, "pgd_steps": 40, "bim_steps": 10, "deepfool_iter": 50,
        "scales": (0.5, 1.0, 2.0, 5.0, 10.0, 100.0), "tsne_n": 500, "surrogate_n": 2000,
        "surrogate_epochs": 10,
        "attack_batch": 250, "audit_budget": "standard",
    },
}  # fmt: skip

#: Attacks of Figures 2-3 (paper's) followed by the adaptive ones (ours), each over the eps grid.
CURVE_ATTACKS: dict[str, str] = {
    "fgsm": "FGSM",
    "bim": "BIM",
    "rfgsm": "R+FGSM",
    "stepll": "StepLL",
    "pgd": "PGD (white-box)",
    "deepfool": "DeepFool-L∞",
    "pgd_margin": "PGD margin loss",
    "pgd_bpda": "PGD BPDA",
}


@dataclass
class Setup:
    """Everything a cell needs.

    :param relu: The trained ReLU model as an ART classifier (the transfer source, α = 1).
    :param defended: The same model with every ReLU swapped for a sloped ReLU (α set per cell).
    :param build: Returns a fresh, untrained copy of the architecture (surrogate, scaled models).
    :param x: Evaluation images. :param y: Their labels.
    :param x_queries: Images the surrogate queries the defended model on.
    :param cfg: The settings (:data:`SETTINGS`).
    :param seed: Seed of every random draw.
    """

    relu: PyTorchClassifier
    defended: RetrofitClassifier
    build: Callable[[], nn.Module]
    x: np.ndarray
    y: np.ndarray
    x_queries: np.ndarray
    cfg: dict[str, Any]
    seed: int

    def at(self, alpha: float) -> RetrofitClassifier:
        """The defended classifier with slope ``alpha`` (exact gradients)."""
        self.defended.set_params(alpha=float(alpha), gradient="exact")
        return self.defended

    @property
    def onehot(self) -> np.ndarray:
        return np.eye(self.relu.nb_classes, dtype=np.float32)[self.y]

    def pgd(
        self,
        clf: PyTorchClassifier,
        eps: float,
        *,
        loss: Loss = "ce",
        steps: int | None = None,
        early_stop: bool = True,
    ) -> np.ndarray:
        """L∞ PGD (random start, step 2.5 ε / steps) with the cross-entropy or the logit-margin loss;
        ``early_stop=False`` (every step taken) for examples meant to transfer to another model."""
        n = int(steps or self.cfg["pgd_steps"])
        return pgd(
            clf,
            self.x,
            self.y,
            loss=loss,
            eps=eps,
            eps_step=2.5 * eps / n,
            max_iter=n,
            random_init=True,
            seed=self.seed,
            batch_size=self.cfg["attack_batch"],
            early_stop=early_stop,
        )


def _acc(clf: PyTorchClassifier, x_adv: np.ndarray, y: np.ndarray) -> float:
    return robust_accuracy(clf, x_adv, y, batch_size=256)


def _paper_attack(setup: Setup, clf: PyTorchClassifier, attack: str, eps: float) -> np.ndarray:
    """Adversarial examples of one of the paper's attacks (ART's FGSM/BIM, our R+FGSM/StepLL)."""
    bs = setup.cfg["attack_batch"]
    if attack == "fgsm":
        return FastGradientMethod(clf, eps=eps, batch_size=bs).generate(setup.x, y=setup.onehot)
    if attack == "bim":
        steps = setup.cfg["bim_steps"]
        bim = BasicIterativeMethod(
            clf, eps=eps, eps_step=1.25 * eps / steps, max_iter=steps, batch_size=bs, verbose=False
        )
        return bim.generate(setup.x, y=setup.onehot)
    if attack == "rfgsm":
        return RFGSM(clf, eps=eps, seed=setup.seed, batch_size=bs, verbose=False).generate(setup.x, y=setup.y)
    if attack == "stepll":
        return StepLL(clf, eps=eps, batch_size=bs, verbose=False).generate(setup.x)
    raise ValueError(f"unknown attack {attack!r}")


def curve_cell(setup: Setup, alpha: float, attack: str) -> dict[str, Any]:
    """Accuracy of the sloped-ReLU model (slope ``alpha``) under ``attack`` at every ε of the grid."""
    clf = setup.at(alpha)
    eps_grid = setup.cfg["eps"]
    if attack == "deepfool":  # minimal L∞ perturbation once, then accuracy at each budget
        x_df = DeepFool(
            clf,
            norm=np.inf,
            max_iter=setup.cfg["deepfool_iter"],
            batch_size=setup.cfg["attack_batch"],
            verbose=False,
        ).generate(setup.x)
        size = np.abs(x_df - setup.x).reshape(len(setup.x), -1).max(1)
        fooled = clf.predict(x_df).argmax(1) != setup.y
        return {
            "accuracy": [float((~(fooled & (size <= e + 1e-6))).mean()) for e in eps_grid],
            "median_linf": float(np.median(size[fooled])) if fooled.any() else None,
        }
    acc = []
    for eps in eps_grid:
        if attack in ("pgd", "pgd_margin", "pgd_bpda"):
            with gradient_mode(clf, "bpda" if attack == "pgd_bpda" else "exact"):
                x_adv = setup.pgd(clf, eps, loss="margin" if attack == "pgd_margin" else "ce")
        else:
            x_adv = _paper_attack(setup, clf, attack, eps)
        acc.append(_acc(clf, x_adv, setup.y))
    return {"accuracy": acc}


def transfer_cell(setup: Setup) -> dict[str, Any]:
    """PGD crafted on the ReLU model at every ε, evaluated on every slope (the transfer column)."""
    crafted = [setup.pgd(setup.relu, eps, early_stop=False) for eps in setup.cfg["eps"]]
    return {
        "accuracy": {str(a): [_acc(setup.at(a), xa, setup.y) for xa in crafted] for a in setup.cfg["alphas"]}
    }


def audit_cell(setup: Setup, alpha: float) -> dict[str, Any]:
    """The audit at the headline ε (budget ``cfg["audit_budget"]``; the quick budget runs the PGD
    family only): margin loss through BPDA gradients (the strongest white-box combination), the
    per-sample worst case over the ensemble with its interval, the McNemar masking flag and the
    indicators that fired; plus the share of exactly-zero cross-entropy input gradients."""
    import warnings

    clf, cfg = setup.at(alpha), setup.cfg
    eps, budget = cfg["headline_eps"], cfg.get("audit_budget", "quick")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the masking verdict is in the result
        res = audit(
            clf, setup.relu, setup.x, setup.y, eps=eps, max_iter=cfg["pgd_steps"], budget=budget,
            attacks=("pgd",) if budget == "quick" else None, minimal=False, checks=False,
            batch_size=cfg["attack_batch"], seed=setup.seed, verbose=False,
        )  # fmt: skip
    row = next(r for r in res["rows"] if r["attack"] == "pgd")
    grads = np.asarray(clf.loss_gradient(setup.x, setup.onehot)).reshape(len(setup.x), -1)
    return {
        "margin_bpda": row["margin_bpda"],
        "clean": res["clean_accuracy"],
        "zero_gradient_share": float((np.abs(grads).max(1) == 0).mean()),
        "robust_acc": res["robust_accuracy"],
        "robust_interval": list(res["robust_interval"]),
        "audit_flag": res["flagged"],
        "audit_p_value": res["masking"].get("p_value"),
        "audit_columns": {e["key"]: e["accuracy"] for e in res["ensemble"]},
        "indicators_fired": [k for k, v in res["indicators"].items() if v["flag"]],
    }


def surrogate_cell(setup: Setup, alpha: float) -> dict[str, Any]:
    """Figure 8: a ReLU model trained to match the defended logits, attacked, transferred."""
    clf = setup.at(alpha)
    cfg = setup.cfg
    surrogate, agreement = train_surrogate(
        clf, setup.build(), setup.x_queries, epochs=cfg["surrogate_epochs"], batch_size=128, seed=setup.seed
    )
    fgsm = [
        _acc(
            clf,
            pgd(
                surrogate,
                setup.x,
                setup.y,
                loss="ce",
                eps=e,
                eps_step=e,
                max_iter=1,
                random_init=False,
                seed=setup.seed,
                batch_size=cfg["attack_batch"],
            ),
            setup.y,
        )
        for e in cfg["eps"]
    ]
    pgd_acc = [_acc(clf, setup.pgd(surrogate, e, early_stop=False), setup.y) for e in cfg["eps"]]
    return {
        "agreement": agreement,
        "fgsm": fgsm,
        "pgd": pgd_acc,
        "surrogate_clean": _acc(surrogate, setup.x, setup.y),
    }


def _targeted_margin_fgsm(
    clf: PyTorchClassifier, x: np.ndarray, target: np.ndarray, eps: float
) -> np.ndarray:
    """Targeted one-step attack on the logit margin ``z_t - max_{k != t} z_k`` (does not saturate)."""
    view = TorchView(clf)
    with view.eval_mode():
        x_t = view.tensor(x)
        labels = torch.as_tensor(target, device=view.device)
        _, _, grad = view.value_and_grad(x_t, lambda logits: margin(logits, labels))
        return view.numpy(view.clip(x_t + eps * grad.sign()))


def targeted_cell(setup: Setup, alpha: float) -> dict[str, Any]:
    """Figures 5-6: targeted FGSM (cross-entropy, ART) towards a random other class at every ε, and
    towards each class at ``target_eps``; margin-loss and transfer (from ReLU) versions beside it."""
    clf, cfg, k = setup.at(alpha), setup.cfg, setup.relu.nb_classes
    rng = np.random.default_rng(setup.seed)
    targets = (setup.y + rng.integers(1, k, size=len(setup.y))) % k

    def hit(x_adv: np.ndarray, t: np.ndarray, mask: np.ndarray) -> float:
        return float((clf.predict(x_adv[mask]).argmax(1) == t[mask]).mean())

    def ce(model: PyTorchClassifier, eps: float, t: np.ndarray) -> np.ndarray:
        onehot = np.eye(k, dtype=np.float32)[t]
        return FastGradientMethod(model, eps=eps, targeted=True, batch_size=cfg["attack_batch"]).generate(
            setup.x, y=onehot
        )

    everyone = np.ones(len(setup.y), dtype=bool)
    out: dict[str, Any] = {
        "overall": [],
        "overall_margin": [],
        "overall_transfer": [],
        "overall_accuracy": [],
    }
    for eps in cfg["eps"]:
        x_adv = ce(clf, eps, targets)
        out["overall"].append(hit(x_adv, targets, everyone))
        out["overall_accuracy"].append(_acc(clf, x_adv, setup.y))
        out["overall_margin"].append(
            hit(_targeted_margin_fgsm(clf, setup.x, targets, eps), targets, everyone)
        )
        out["overall_transfer"].append(hit(ce(setup.relu, eps, targets), targets, everyone))
    per_class, per_class_margin = [], []
    for t in range(k):
        tt = np.full_like(setup.y, t)
        mask = setup.y != t
        per_class.append(hit(ce(clf, cfg["target_eps"], tt), tt, mask))
        per_class_margin.append(hit(_targeted_margin_fgsm(clf, setup.x, tt, cfg["target_eps"]), tt, mask))
    out.update(per_class=per_class, per_class_margin=per_class_margin)
    return out


class ScaledInput(nn.Module):
    """``model(s * x)``, optionally clipped to [0, 1] after scaling (Figure 7's pixel scaling).

    :param model: The classifier (not copied, not modified).
    :param scale: Factor ``s`` > 0.
    :param clip: Clip the scaled pixels to [0, 1].
    """

    def __init__(self, model: nn.Module, *, scale: float, clip: bool) -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"`scale` must be > 0, got {scale!r}.")
        self.model, self.scale, self.clip = model, float(scale), bool(clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x * self.scale
        return self.model(z.clamp(0.0, 1.0) if self.clip else z)


def scaling_cell(setup: Setup, scale: float, clip: bool) -> dict[str, Any]:
    """Figure 7: the ReLU model fed ``s * x`` (with or without clipping), under FGSM over ε, with the
    margin-loss FGSM and FGSM transferred from the unscaled model beside it."""
    relu = setup.relu
    clf = PyTorchClassifier(
        ScaledInput(relu.model, scale=scale, clip=clip),
        nn.CrossEntropyLoss(),
        relu.input_shape,
        relu.nb_classes,
        clip_values=relu.clip_values,
        device_type="cpu",
    )
    cfg, bs = setup.cfg, setup.cfg["attack_batch"]
    out: dict[str, Any] = {
        "clean": _acc(clf, setup.x, setup.y),
        "fgsm": [],
        "fgsm_margin": [],
        "fgsm_transfer": [],
    }
    for eps in cfg["eps"]:
        out["fgsm"].append(
            _acc(
                clf,
                FastGradientMethod(clf, eps=eps, batch_size=bs).generate(setup.x, y=setup.onehot),
                setup.y,
            )
        )
        out["fgsm_margin"].append(
            _acc(
                clf,
                pgd(
                    clf,
                    setup.x,
                    setup.y,
                    loss="margin",
                    eps=eps,
                    eps_step=eps,
                    max_iter=1,
                    random_init=False,
                    seed=setup.seed,
                    batch_size=bs,
                ),
                setup.y,
            )
        )
        out["fgsm_transfer"].append(
            _acc(
                clf,
                FastGradientMethod(relu, eps=eps, batch_size=bs).generate(setup.x, y=setup.onehot),
                setup.y,
            )
        )
    return out


def tsne_cell(setup: Setup, alpha: float) -> dict[str, Any]:
    """Figure 9: 2-D t-SNE (scikit-learn) of the last hidden layer's output, with silhouette scores."""
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    clf = setup.at(alpha)
    n = min(setup.cfg["tsne_n"], len(setup.x))
    site = [m for m in clf.model.modules() if isinstance(m, RetrofitActivation)][-1]
    captured: list[torch.Tensor] = []
    handle = site.register_forward_hook(lambda _m, _i, o: captured.append(o.detach().flatten(1).cpu()))
    try:
        clf.predict(setup.x[:n], batch_size=n)
    finally:
        handle.remove()
    feats = torch.cat(captured).numpy().astype(np.float64)
    labels = setup.y[:n]
    coords = TSNE(
        n_components=2, perplexity=min(30.0, (n - 1) / 3.0), init="pca", random_state=setup.seed
    ).fit_transform(feats)
    return {
        "coords": np.round(coords, 3), "labels": labels,
        "silhouette_tsne": float(silhouette_score(coords, labels)),
        "silhouette_features": float(silhouette_score(feats, labels)),
        "feature_norm": float(np.linalg.norm(feats, axis=1).mean()),
    }  # fmt: skip
