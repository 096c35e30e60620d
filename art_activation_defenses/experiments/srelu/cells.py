"""The cells of the sloped-ReLU reproduction (Borji 2020): ``compute(run, cell) -> result``.

``run.state`` holds the trained ReLU model as an ART classifier (``relu``, the transfer source)
and the same model with every ReLU swapped for a sloped ReLU (``defended``, α set per cell).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from art.attacks.evasion import (
    BasicIterativeMethod,
    FastGradientMethod,
    ProjectedGradientDescent,
    VirtualAdversarialMethod,
)
from art.attacks.evasion import (
    DeepFool as ArtDeepFool,
)
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import art_device_type, place_classifier
from art_activation_defenses.activations import RetrofitActivation
from art_activation_defenses.attacks import RFGSM, DeepFool, StepLL
from art_activation_defenses.defences import seeded
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import Loss, audit_cell, gradient_mode, pgd, train_surrogate
from art_activation_defenses.experiments.protocol import Run
from art_activation_defenses.metrics import robust_accuracy

Cell = Mapping[str, Any]

#: quick flag -> settings. ``eps`` is the L∞ grid of the curves; ``headline_eps`` (in the grid) the
#: budget of the summary table; ``target_eps`` the budget of the per-class targeted FGSM;
#: ``same_slopes`` the slopes models are trained *and* tested with; ``activations`` the test-time
#: swaps of Fig. 2's bottom row; ``fig4_*`` the slopes and attacks of the Foolbox study (Fig. 4).
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        "dataset": "digits", "model": "srelu-mnist-cnn", "n_train": None, "n_eval": 48, "epochs": 25,
        "lr": 3e-3, "batch_size": 64, "alphas": (0.5, 1.0, 10.0, 100.0), "eps": (0.1, 0.3),
        "headline_eps": 0.1, "target_eps": 0.3, "pgd_steps": 20, "bim_steps": 5, "deepfool_iter": 20,
        "scales": (1.0, 10.0), "tsne_n": 48, "surrogate_n": 300, "surrogate_epochs": 8, "attack_batch": 256,
        "audit_budget": "quick", "same_slopes": (10.0,),
        "activations": ("sigmoid", "tanh", "softsign", "softplus", "celu", "relu"),
        "same_epochs": 10, "fig4_alphas": (1.0, 100.0), "vat_iter": 1,
        "fig4_attacks": ("fgm_l2", "fgsm", "pgd_linf", "vat", "uniform_linf", "gaussian_l2"),
    },
    False: {
        "dataset": "mnist", "model": "srelu-paper-mnist-cnn", "n_train": None, "n_eval": 500, "epochs": 5,
        "lr": 1e-3, "batch_size": 64, "alphas": (0.5, 1.0, 2.0, 5.0, 10.0, 100.0),
        "eps": (0.05, 0.1, 0.2, 0.3), "headline_eps": 0.1, "target_eps": 0.2, "pgd_steps": 40,
        "bim_steps": 10, "deepfool_iter": 50, "scales": (0.5, 1.0, 2.0, 5.0, 10.0, 100.0), "tsne_n": 500,
        "surrogate_n": 2000, "surrogate_epochs": 10, "attack_batch": 250, "audit_budget": "standard",
        "same_slopes": (2.0, 5.0, 10.0), "same_epochs": 5, "vat_iter": 1,
        "activations": ("sigmoid", "tanh", "softsign", "softplus", "celu", "relu"),
        "fig4_alphas": (0.5, 1.0, 2.0, 5.0, 10.0, 100.0),
        "fig4_attacks": ("fgm_l2", "fgsm", "pgd_linf", "pgd_l2", "bim_linf", "bim_l2", "deepfool_linf",
                         "deepfool_l2", "vat", "uniform_linf", "gaussian_l2"),
    },
}  # fmt: skip

#: Attacks of Figures 2-3 (paper's) followed by the adaptive ones (ours), each over the eps grid.
CURVE_ATTACKS: dict[str, str] = {
    "fgsm": "FGSM", "bim": "BIM", "rfgsm": "R+FGSM", "stepll": "StepLL", "pgd": "PGD (white-box)",
    "deepfool": "DeepFool-L∞", "pgd_margin": "PGD margin loss", "pgd_bpda": "PGD BPDA",
}  # fmt: skip

#: Fig. 4: our equivalents of Borji's Foolbox attacks (ART's where ART has one; ε in the attack's norm).
FIG4_ATTACKS: dict[str, str] = {
    "fgm_l2": "FGM-L2 (ART)", "fgsm": "FGSM (ART)", "pgd_linf": "PGD-L∞ (ART)", "pgd_l2": "PGD-L2 (ART)",
    "bim_linf": "BIM-L∞ (ART)", "bim_l2": "BIM-L2 (ART PGD, no random start)",
    "deepfool_linf": "DeepFool-L∞ (ours)", "deepfool_l2": "DeepFool-L2 (ART)",
    "vat": "VirtualAdversarial (ART)", "uniform_linf": "L∞ uniform noise (ours)",
    "gaussian_l2": "L2 Gaussian noise (ours)",
}  # fmt: skip

_ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "softsign": nn.Softsign, "softplus": nn.Softplus,
                "celu": nn.CELU, "relu": nn.ReLU}  # fmt: skip


def prepare(run: Run) -> None:
    """The ReLU classifier (α = 1: a sloped ReLU with slope 1 computes ReLU) and the one α is set on."""
    info = run.d.info
    for key in ("relu", "defended"):
        clf = RetrofitClassifier(
            run.models["relu"], nn.CrossEntropyLoss(), info["input_shape"], info["nb_classes"],
            activation="srelu", alpha=1.0, clip_values=info["clip_values"],
            device_type=art_device_type(run.device),
        )  # fmt: skip
        run.state[key] = place_classifier(clf, run.device)


def plain(run: Run, model: nn.Module, clip: bool = True) -> PyTorchClassifier:
    """``model`` as an ART classifier on the run's device (``clip``: with the data's clip values)."""
    info = run.d.info
    clf = PyTorchClassifier(
        model, nn.CrossEntropyLoss(), info["input_shape"], info["nb_classes"],
        clip_values=info["clip_values"] if clip else None,
        device_type=art_device_type(run.device),
    )  # fmt: skip
    return place_classifier(clf, run.device)


def at(run: Run, alpha: float) -> RetrofitClassifier:
    """The defended classifier with slope ``alpha`` (exact gradients)."""
    clf: RetrofitClassifier = run.state["defended"]
    clf.set_params(alpha=float(alpha), gradient="exact")
    return clf


def _onehot(run: Run, y: np.ndarray | None = None) -> np.ndarray:
    return np.eye(run.d.info["nb_classes"], dtype=np.float32)[run.d.y if y is None else y]


def _pgd(run: Run, clf: PyTorchClassifier, eps: float, *, loss: Loss = "ce", early_stop: bool = True,
         norm: float = math.inf, steps: int | None = None, random_init: bool = True) -> np.ndarray:
    """L∞ (or L2) PGD, random start, step 2.5 ε / steps; ``early_stop=False`` for transfer examples."""
    n = int(steps or run.cfg["pgd_steps"])
    return pgd(clf, run.d.x, run.d.y, loss=loss, eps=eps, eps_step=2.5 * eps / n, max_iter=n, norm=norm,
               random_init=random_init, seed=run.seed, batch_size=run.cfg["attack_batch"],
               early_stop=early_stop)  # fmt: skip


def _fgsm(run: Run, clf: PyTorchClassifier, eps: float, loss: Loss = "ce") -> np.ndarray:
    return pgd(clf, run.d.x, run.d.y, loss=loss, eps=eps, eps_step=eps, max_iter=1, random_init=False,
               seed=run.seed, batch_size=run.cfg["attack_batch"])  # fmt: skip


def _acc(clf: PyTorchClassifier, x_adv: np.ndarray, y: np.ndarray) -> float:
    return robust_accuracy(clf, x_adv, y, batch_size=256)


def _art_fgsm(run: Run, clf: PyTorchClassifier, eps: float, **kw: Any) -> np.ndarray:
    y = kw.pop("y", _onehot(run))
    return FastGradientMethod(clf, eps=eps, batch_size=run.cfg["attack_batch"], **kw).generate(run.d.x, y=y)


def _paper_attack(run: Run, clf: PyTorchClassifier, attack: str, eps: float) -> np.ndarray:
    """Adversarial examples of one of the paper's attacks (ART's FGSM/BIM, our R+FGSM/StepLL)."""
    bs, x = run.cfg["attack_batch"], run.d.x
    if attack == "fgsm":
        return _art_fgsm(run, clf, eps)
    if attack == "bim":
        steps = run.cfg["bim_steps"]
        bim = BasicIterativeMethod(clf, eps=eps, eps_step=1.25 * eps / steps, max_iter=steps, batch_size=bs,
                                   verbose=False)  # fmt: skip
        return bim.generate(x, y=_onehot(run))
    if attack == "rfgsm":
        return RFGSM(clf, eps=eps, seed=run.seed, batch_size=bs, verbose=False).generate(x, y=run.d.y)
    if attack == "stepll":
        return StepLL(clf, eps=eps, batch_size=bs, verbose=False).generate(x)
    raise ValueError(f"unknown attack {attack!r}")


def _minimal(clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray, x_min: np.ndarray, norm: float,
             eps_grid: list[float]) -> list[np.ndarray]:
    """Per ε, which images a minimal-perturbation attack does *not* fool within ε (in ``norm``)."""
    size = np.linalg.norm((x_min - x).reshape(len(x), -1), ord=norm, axis=1)
    fooled = clf.predict(x_min).argmax(1) != y
    return [~(fooled & (size <= e + 1e-6)) for e in eps_grid]  # fmt: skip


def _deepfool(run: Run, clf: PyTorchClassifier) -> np.ndarray:
    return DeepFool(clf, norm=np.inf, max_iter=run.cfg["deepfool_iter"], batch_size=run.cfg["attack_batch"],
                    verbose=False).generate(run.d.x)  # fmt: skip


def curve_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Accuracy of the sloped-ReLU model (slope ``alpha``) under ``attack`` at every ε of the grid."""
    clf, attack, eps_grid, x, y = at(run, cell["alpha"]), cell["attack"], run.cfg["eps"], run.d.x, run.d.y
    if attack == "deepfool":  # minimal L∞ perturbation once, then accuracy at each budget
        x_df = _deepfool(run, clf)
        size = np.abs(x_df - x).reshape(len(x), -1).max(1)
        fooled = clf.predict(x_df).argmax(1) != y
        return {"accuracy": [float(m.mean()) for m in _minimal(clf, x, y, x_df, np.inf, eps_grid)],
                "median_linf": float(np.median(size[fooled])) if fooled.any() else None}  # fmt: skip
    acc = []
    for eps in eps_grid:
        if attack in ("pgd", "pgd_margin", "pgd_bpda"):
            with gradient_mode(clf, "bpda" if attack == "pgd_bpda" else "exact"):
                x_adv = _pgd(run, clf, eps, loss="margin" if attack == "pgd_margin" else "ce")
        else:
            x_adv = _paper_attack(run, clf, attack, eps)
        acc.append(_acc(clf, x_adv, y))
    return {"accuracy": acc}


def transfer_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """PGD crafted on the ReLU model at every ε, evaluated on every slope (the transfer column)."""
    crafted = [_pgd(run, run.state["relu"], eps, early_stop=False) for eps in run.cfg["eps"]]
    alphas = run.cfg["alphas"]
    return {"accuracy": {str(a): [_acc(at(run, a), xa, run.d.y) for xa in crafted] for a in alphas}}


def audit_step(run: Run, cell: Cell) -> dict[str, Any]:
    """The audit at the headline ε (:func:`~art_activation_defenses.evaluation.audit_cell`; the quick
    budget runs the PGD family only) plus clean accuracy and the share of exactly-zero cross-entropy
    input gradients."""
    clf, cfg = at(run, cell["alpha"]), run.cfg
    row = audit_cell(clf, run.state["relu"], run.d.x, run.d.y, eps=cfg["headline_eps"],
                     eps_step=2.5 * cfg["headline_eps"] / cfg["pgd_steps"], max_iter=cfg["pgd_steps"],
                     budget=cfg.get("audit_budget", "quick"), batch_size=cfg["attack_batch"],
                     seed=run.seed)  # fmt: skip
    grads = np.asarray(clf.loss_gradient(run.d.x, _onehot(run))).reshape(len(run.d.x), -1)
    row.update(margin_bpda=row.pop("margin_bpda_acc"), clean=_acc(clf, run.d.x, run.d.y),
               zero_gradient_share=float((np.abs(grads).max(1) == 0).mean()))  # fmt: skip
    return row


def surrogate_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Figure 8: a ReLU model trained to match the defended logits, attacked, transferred."""
    clf, cfg, x, y = at(run, cell["alpha"]), run.cfg, run.d.x, run.d.y
    surrogate, agreement = train_surrogate(  # a fresh, seeded initialisation of the architecture
        clf, run.models["relu"], run.d.x_train[: cfg["surrogate_n"]], epochs=cfg["surrogate_epochs"],
        batch_size=128, seed=run.seed)  # fmt: skip
    return {"agreement": agreement,
            "fgsm": [_acc(clf, _fgsm(run, surrogate, e), y) for e in cfg["eps"]],
            "pgd": [_acc(clf, _pgd(run, surrogate, e, early_stop=False), y) for e in cfg["eps"]],
            "surrogate_clean": _acc(surrogate, x, y)}  # fmt: skip


def _targeted_margin_fgsm(
    clf: PyTorchClassifier, x: np.ndarray, target: np.ndarray, eps: float
) -> np.ndarray:
    """Targeted one-step attack on the logit margin ``z_t - max_{k != t} z_k`` (does not saturate)."""
    model, was_training = clf.model, clf.model.training
    model.eval()
    try:
        x_t = torch.tensor(x, dtype=torch.float32, device=clf.device, requires_grad=True)
        t = torch.as_tensor(target, device=clf.device).unsqueeze(1)
        z = model(x_t)
        (z.gather(1, t).squeeze(1) - z.scatter(1, t, float("-inf")).amax(1)).sum().backward()
        lo, hi = clf.clip_values
        return (x_t + eps * x_t.grad.sign()).clamp(float(lo), float(hi)).detach().cpu().numpy()  # type: ignore[union-attr]
    finally:
        model.train(was_training)


def targeted_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Figures 5-6: targeted FGSM (cross-entropy, ART) towards a random other class at every ε, and
    towards each class at ``target_eps``; margin-loss and transfer (from ReLU) versions beside it."""
    clf, cfg, k, x, y = at(run, cell["alpha"]), run.cfg, run.d.info["nb_classes"], run.d.x, run.d.y
    targets = (y + np.random.default_rng(run.seed).integers(1, k, size=len(y))) % k

    def hit(x_adv: np.ndarray, t: np.ndarray, mask: np.ndarray) -> float:
        return float((clf.predict(x_adv[mask]).argmax(1) == t[mask]).mean())

    def ce(model: PyTorchClassifier, eps: float, t: np.ndarray) -> np.ndarray:
        return _art_fgsm(run, model, eps, targeted=True, y=_onehot(run, t))

    every = np.ones(len(y), dtype=bool)
    keys = ("overall", "overall_margin", "overall_transfer", "overall_accuracy")
    out: dict[str, Any] = {k: [] for k in keys}
    for eps in cfg["eps"]:
        x_adv = ce(clf, eps, targets)
        out["overall"].append(hit(x_adv, targets, every))
        out["overall_accuracy"].append(_acc(clf, x_adv, y))
        out["overall_margin"].append(hit(_targeted_margin_fgsm(clf, x, targets, eps), targets, every))
        out["overall_transfer"].append(hit(ce(run.state["relu"], eps, targets), targets, every))
    per_class, per_class_margin = [], []
    for t in range(k):
        tt, mask = np.full_like(y, t), y != t
        per_class.append(hit(ce(clf, cfg["target_eps"], tt), tt, mask))
        per_class_margin.append(hit(_targeted_margin_fgsm(clf, x, tt, cfg["target_eps"]), tt, mask))
    return {**out, "per_class": per_class, "per_class_margin": per_class_margin}


class ScaledInput(nn.Module):
    """``model(s * x)``, optionally clipped to [0, 1] after scaling (Figure 7's pixel scaling).

    :param model: The classifier (not copied, not modified). :param scale: Factor ``s`` > 0.
    :param clip: Clip the scaled pixels to [0, 1].
    """

    def __init__(self, model: nn.Module, *, scale: float, clip: bool) -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"`scale` must be > 0, got {scale!r}.")
        self.model, self.scale, self.clip = model, float(scale), bool(clip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x * self.scale
        return self.model(z.clamp(0.0, 1.0) if self.clip else z)  # type: ignore[no-any-return]


def scaling_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Figure 7: the ReLU model fed ``s * x`` (with or without clipping), under FGSM over ε, with the
    margin-loss FGSM and FGSM transferred from the unscaled model beside it."""
    relu, y = run.state["relu"], run.d.y
    clf = plain(run, ScaledInput(relu.model, scale=cell["scale"], clip=cell["clip"]))
    eps = run.cfg["eps"]
    return {"clean": _acc(clf, run.d.x, y), "fgsm": [_acc(clf, _art_fgsm(run, clf, e), y) for e in eps],
            "fgsm_margin": [_acc(clf, _fgsm(run, clf, e, "margin"), y) for e in eps],
            "fgsm_transfer": [_acc(clf, _art_fgsm(run, relu, e), y) for e in eps]}  # fmt: skip


def tsne_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Figure 9: 2-D t-SNE (scikit-learn) of the last hidden layer's output, with silhouette scores."""
    from sklearn.manifold import TSNE
    from sklearn.metrics import silhouette_score

    clf = at(run, cell["alpha"])
    n = min(run.cfg["tsne_n"], len(run.d.x))
    site = [m for m in clf.model.modules() if isinstance(m, RetrofitActivation)][-1]
    captured: list[torch.Tensor] = []
    handle = site.register_forward_hook(lambda _m, _i, o: captured.append(o.detach().flatten(1).cpu()))
    try:
        clf.predict(run.d.x[:n], batch_size=n)
    finally:
        handle.remove()
    feats, labels = torch.cat(captured).numpy().astype(np.float64), run.d.y[:n]
    coords = TSNE(n_components=2, perplexity=min(30.0, (n - 1) / 3.0), init="pca",
                  random_state=run.seed).fit_transform(feats)  # fmt: skip
    return {"coords": np.round(coords, 3), "labels": labels,
            "silhouette_tsne": float(silhouette_score(coords, labels)),
            "silhouette_features": float(silhouette_score(feats, labels)),
            "feature_norm": float(np.linalg.norm(feats, axis=1).mean())}  # fmt: skip


def same_slope_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Sec. 3: a model trained *and* tested with slope α (α = 1: the ReLU model), FGSM and PGD over ε
    beside the logit-margin PGD that does not saturate."""
    a = cell["train_alpha"]
    clf = run.state["relu"] if a == 1.0 else plain(run, run.models[f"same-{a:g}"])
    eps, y = run.cfg["eps"], run.d.y
    return {"clean": _acc(clf, run.d.x, y), "fgsm": [_acc(clf, _art_fgsm(run, clf, e), y) for e in eps],
            "pgd": [_acc(clf, _pgd(run, clf, e), y) for e in eps],
            "pgd_margin": [_acc(clf, _pgd(run, clf, e, loss="margin"), y) for e in eps]}  # fmt: skip


def activation_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Fig. 2, bottom row: every ReLU of the trained model swapped for another activation at test time
    (Borji's notebook: sigmoid, tanh, softsign, softplus, CELU, ReLU), FGSM and margin PGD over ε."""
    model = copy.deepcopy(run.models["relu"])
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if isinstance(child, nn.ReLU):
                setattr(parent, name, _ACTIVATIONS[cell["activation"]]())
    clf, eps, y = plain(run, model.eval()), run.cfg["eps"], run.d.y
    return {"clean": _acc(clf, run.d.x, y), "fgsm": [_acc(clf, _art_fgsm(run, clf, e), y) for e in eps],
            "pgd_margin": [_acc(clf, _pgd(run, clf, e, loss="margin"), y) for e in eps]}  # fmt: skip


def _vat_direction(run: Run, clf: PyTorchClassifier) -> np.ndarray:
    """The unit-L2 direction of ART's VirtualAdversarialMethod (on the softmax, unclipped; ART draws its
    start from numpy's global generator: seeded here and put back afterwards; NaN entries become 0)."""
    probs = plain(run, nn.Sequential(clf.model, nn.Softmax(dim=1)), clip=False)
    vat = VirtualAdversarialMethod(probs, eps=1.0, max_iter=run.cfg["vat_iter"],
                                   batch_size=run.cfg["attack_batch"], verbose=False)
    state = np.random.get_state()  # noqa: NPY002 - ART's draw
    np.random.seed(run.seed)  # noqa: NPY002
    try:  # a saturated softmax gives 0 * log(0) in ART's KL: no direction (the attack fails), not NaN
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num(vat.generate(run.d.x) - run.d.x, nan=0.0, posinf=0.0, neginf=0.0)
    finally:
        np.random.set_state(state)  # noqa: NPY002


def fig4_cell(run: Run, cell: Cell) -> dict[str, Any]:
    """Fig. 4: one of our equivalents of Borji's Foolbox attacks on slope α, accuracy at every ε (in the
    attack's own norm, as Foolbox's ``epsilons``) and which images survive at the last ε."""
    clf, attack, x, y, cfg = at(run, cell["alpha"]), cell["attack"], run.d.x, run.d.y, run.cfg
    eps_grid, bs, rng = list(cfg["eps"]), cfg["attack_batch"], np.random.default_rng(run.seed)
    if attack in ("deepfool_linf", "deepfool_l2"):
        norm = np.inf if attack == "deepfool_linf" else 2
        x_min = _deepfool(run, clf) if norm == np.inf else ArtDeepFool(
            clf, max_iter=cfg["deepfool_iter"], batch_size=bs, verbose=False).generate(x)  # fmt: skip
        ok = _minimal(clf, x, y, x_min, norm, eps_grid)
        return {"accuracy": [float(m.mean()) for m in ok], "correct_last": ok[-1].astype(int)}
    if attack == "vat":  # ART's VAT: one finite-difference power iteration per pixel; the direction once
        direction = _vat_direction(run, clf)
    correct = []
    for eps in eps_grid:
        if attack in ("fgm_l2", "fgsm"):
            x_adv = _art_fgsm(run, clf, eps, norm=2 if attack == "fgm_l2" else np.inf)
        elif attack in ("pgd_linf", "pgd_l2", "bim_linf", "bim_l2"):
            steps = cfg["pgd_steps"] if attack.startswith("pgd") else cfg["bim_steps"]
            with seeded(run.seed):  # ART's random start draws from numpy's global generator: seeded, put back
                x_adv = ProjectedGradientDescent(
                    clf, norm=np.inf if attack.endswith("linf") else 2, eps=eps, eps_step=2.5 * eps / steps,
                    max_iter=steps, num_random_init=int(attack.startswith("pgd")), batch_size=bs,
                    verbose=False,
                ).generate(x, y=_onehot(run))  # fmt: skip
        elif attack == "vat":
            x_adv = np.clip(x + eps * direction, 0.0, 1.0).astype(np.float32)
        elif attack == "uniform_linf":
            x_adv = np.clip(x + rng.uniform(-eps, eps, size=x.shape), 0.0, 1.0).astype(np.float32)
        elif attack == "gaussian_l2":
            noise = rng.normal(size=x.shape)
            noise *= eps / np.linalg.norm(noise.reshape(len(x), -1), axis=1).reshape(-1, *[1] * (x.ndim - 1))
            x_adv = np.clip(x + noise, 0.0, 1.0).astype(np.float32)
        else:
            raise ValueError(f"unknown attack {attack!r}")
        correct.append(clf.predict(x_adv, batch_size=256).argmax(1) == y)
    return {"accuracy": [float(c.mean()) for c in correct], "correct_last": correct[-1].astype(int)}
