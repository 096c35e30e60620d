"""Settings, models and cells of the capped-ReLU reproduction (Sooksatra et al. 2023).

Every model is an MLP whose hidden activations are all :class:`CappedReLU` modules (``beta=inf``
is exactly ReLU), so ReLU and capped networks share one code path and BPDA applies to all of
them. A model capped at the "max values" is the trained ReLU network with each chosen layer capped
at that layer's largest activation on the training set (no retraining).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from art.attacks.evasion import CarliniL2Method
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import art_device_type, place_classifier
from art_activation_defenses.activations.modules import RetrofitActivation
from art_activation_defenses.activations.retrofit import retrofit
from art_activation_defenses.attacks import ZeroGradientPGD
from art_activation_defenses.defences import adversarial_augment
from art_activation_defenses.evaluation import audit, audit_cell, gradient_mode, pgd
from art_activation_defenses.experiments.protocol import ModelRecipe, Run, settings_tag
from art_activation_defenses.metrics import layer_perturbation_growth, robust_accuracy, sensitivity_map
from art_activation_defenses.models import build_model
from art_activation_defenses.training import fit

__all__ = ["SETTINGS", "PLACES", "recipes", "prepare", "eval_cell", "advtrain_cell", "protocol_cell"]

#: Placement -> capped hidden-layer indices ("relu": none).
PLACES: dict[str, tuple[int, ...]] = {
    "relu": (), "hl1": (0,), "hl2": (1,), "hl3": (2,), "both": (0, 1), "all": (0, 1, 2),
}  # fmt: skip
_SHARED = {"eps": 0.1, "adv_eps": 0.1, "fig1_iter": 20}
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        **_SHARED, "dataset": "digits", "n_train": None, "n_eval": 100, "epochs": 20, "lr": 3e-3,
        "batch_size": 64, "archs": {"general": (32, 16), "reversed": (16, 32), "equal": (64, 64)},
        "betas": (0.05, "max"), "pgd_steps": 10, "adv_steps": 3, "adv_betas": ("relu", 0.05),
        "adv_place": "both", "t1_clean_epochs": 0, "t1_adv_epochs": 20, "t1_iter": 10, "t1_step": None,
        "zg_n": 30, "zg_iter": 50, "zg_step": 0.05, "sens_n": 30, "cw_n": 20, "cw_iter": 5, "cw_bss": 2,
        "cw_const": 1.0, "cw_lr": 0.05, "attack_batch": 128,
        "init_betas": (0.05,), "eval_betas": (0.01, 0.15), "proto_iter": 10, "proto_step": 0.025,
        "fig1_hidden": (32, 16, 8), "fig1_places": ("hl2", "all"), "fig1_betas": (0.1,), "fig1_eps": 0.078125,
        "fig1_step": 0.0078125,
    },
    False: {
        **_SHARED, "dataset": "mnist", "n_train": 20000, "n_eval": 1000, "epochs": 3, "lr": 1e-3,
        "batch_size": 128, "archs": {"general": (392, 196), "reversed": (196, 392), "equal": (784, 784)},
        "betas": (0.01, 0.05, 0.1, 0.15, "max"), "pgd_steps": 20, "adv_steps": 5,
        "adv_betas": ("relu", 1.0, 0.1, 0.01), "adv_place": "hl2", "t1_clean_epochs": 20,
        "t1_adv_epochs": 10, "t1_iter": 10, "t1_step": 0.01, "zg_n": 100, "zg_iter": 100, "zg_step": 0.1,
        "sens_n": 100, "cw_n": 200, "cw_iter": 100, "cw_bss": 9, "cw_const": 0.001, "cw_lr": 0.01,
        "attack_batch": 250, "init_betas": (0.01, 0.1, 1.0),
        "eval_betas": tuple(round(0.01 * i, 2) for i in range(1, 16)), "proto_iter": 10, "proto_step": 0.01,
        "fig1_hidden": (392, 196, 98), "fig1_betas": (0.01, 0.1, 1.0, 10.0, 100.0), "fig1_eps": 20 / 256,
        "fig1_step": 2 / 256, "fig1_places": ("hl1", "hl2", "hl3", "all"),
    },
}  # fmt: skip


def caps(place: str, beta: float | str, n_sites: int = 2) -> list[float | None]:
    """The cap of each hidden activation (``None`` = ReLU) of a ``place`` / numeric ``beta`` model."""
    return [float(beta) if i in PLACES[place] and place != "relu" else None for i in range(n_sites)]


def _settings(
    cfg: Mapping[str, Any],
    hidden: Sequence[int],
    cap: list[float | None],
    training: str = "none",
    clean_epochs: int | None = None,
    adv_epochs: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything one model's weights depend on (keys its checkpoint and :func:`key`)."""
    keys = ("dataset", "n_train", "lr", "batch_size", "adv_eps", "adv_steps")
    clean = cfg["epochs"] if clean_epochs is None else clean_epochs
    return {
        **{k: cfg[k] for k in keys},
        "hidden": list(hidden),
        "caps": cap,
        "training": training,
        "clean_epochs": clean,
        "adv_epochs": adv_epochs,
        "seed": seed,
    }


def key(settings: Mapping[str, Any]) -> str:
    """The model's name in ``run.models``."""
    return f"mlp-{'x'.join(map(str, settings['hidden']))}-{settings['training']}-{settings_tag(settings)}"


def _t1(cfg: Mapping[str, Any], beta: float | str, training: str, seed: int) -> dict[str, Any]:
    """Table 1's model (general MLP, capped at ``adv_place``): clean epochs, then adversarial ones."""
    cap = caps("relu" if beta == "relu" else cfg["adv_place"], beta)
    clean = cfg["epochs"] if training == "none" and not cfg["t1_clean_epochs"] else cfg["t1_clean_epochs"]
    adv = 0 if training == "none" else cfg["t1_adv_epochs"]
    return _settings(cfg, cfg["archs"]["general"], cap, training, clean, adv, seed)


def _capped(run: Run, hidden: Sequence[int], cap: Sequence[float | None]) -> nn.Module:
    """The zoo MLP with every hidden activation a ``CappedReLU`` (``None`` = ``inf`` = ReLU), its
    weights drawn from torch's generator seeded with the run's seed (the global state is kept)."""
    info = run.d.info
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(run.seed)
        model = build_model("mlp", info["input_shape"], info["nb_classes"], hidden=tuple(hidden))
    for i, beta in enumerate(cap):
        retrofit(
            model,
            "capped",
            layers=[f"classifier.{2 * i + 1}"],
            beta=math.inf if beta is None else beta,
            copy=False,
        )
    return model


def _train(run: Run, model: nn.Module, s: Mapping[str, Any]) -> dict[str, Any]:
    d, hist = run.d, {"accuracy": [None]}
    common = dict(lr=s["lr"], batch_size=s["batch_size"], seed=run.seed, verbose=False, device=run.device)
    clean = run.models.get(key({**s, "training": "none", "adv_epochs": 0}))  # trained earlier, same seed
    if s["clean_epochs"] and s["adv_epochs"] and clean is not None:  # Table 1: fine-tune the clean model
        model.load_state_dict(clean.state_dict())
    elif s["clean_epochs"]:
        hist = fit(model, d.x_train, d.y_train, epochs=s["clean_epochs"], **common)  # type: ignore[arg-type]
    if s["adv_epochs"]:
        aug = adversarial_augment(
            model, method=s["training"], eps=s["adv_eps"], steps=s["adv_steps"], ratio=0.5, seed=run.seed
        )
        hist = fit(model, d.x_train, d.y_train, epochs=s["adv_epochs"], augment=aug, **common)  # type: ignore[arg-type]
    return {"final_train_accuracy": hist["accuracy"][-1]}


def _all_settings(run: Run) -> list[dict[str, Any]]:
    cfg, seed = run.cfg, run.seed
    out = []
    for hidden in cfg["archs"].values():
        out.append(_settings(cfg, hidden, caps("relu", 0), seed=seed))
        places = [p for p in ("hl1", "hl2", "both")]
        out += [
            _settings(cfg, hidden, caps(p, b), seed=seed) for p in places for b in cfg["betas"] if b != "max"
        ]
        out += [_settings(cfg, hidden, caps(p, b), seed=seed) for p in places for b in cfg["init_betas"]]
    for training in ("none", "fgsm", "pgd"):
        out += [_t1(cfg, "relu", training, seed)] + [_t1(cfg, b, training, seed) for b in cfg["adv_betas"]]
    n = len(cfg["fig1_hidden"])
    out.append(_settings(cfg, cfg["fig1_hidden"], caps("relu", 0, n), seed=seed))
    out += [
        _settings(cfg, cfg["fig1_hidden"], caps(p, b, n), seed=seed)
        for p in cfg["fig1_places"]
        for b in cfg["fig1_betas"]
    ]
    return out


def recipes(run: Run) -> dict[str, ModelRecipe]:
    """Every trained model of the run, once each (the spec's ``models``)."""
    out: dict[str, ModelRecipe] = {}
    for s in _all_settings(run):
        out.setdefault(
            key(s),
            ModelRecipe(
                build=lambda r, s=s: _capped(r, s["hidden"], s["caps"]),  # type: ignore[misc]
                train=lambda r, m, s=s: _train(r, m, s),  # type: ignore[misc]
                settings=s,
                tag=f"mlp-{'x'.join(map(str, s['hidden']))}-{s['training']}",
            ),
        )
    return out


def _sites(model: nn.Module) -> list[RetrofitActivation]:
    return [m for m in model.modules() if isinstance(m, RetrofitActivation)]


def _layer_max(run: Run, model: nn.Module) -> list[float]:
    """Largest output of each hidden activation on the training images."""
    sites, x = _sites(model), run.d.x_train
    top = [0.0 for _ in sites]
    hooks = [
        s.register_forward_hook(lambda _m, _i, o, k=k: top.__setitem__(k, max(top[k], float(o.max()))))
        for k, s in enumerate(sites)
    ]
    try:
        with torch.no_grad():
            for start in range(0, len(x), 1000):
                model(torch.as_tensor(x[start : start + 1000]).to(run.device))
    finally:
        for h in hooks:
            h.remove()
    return top


def recap(model: nn.Module, cap: Sequence[float | None]) -> nn.Module:
    """A copy of ``model`` with its hidden caps set to ``cap`` (``None`` = ReLU); ``model`` is kept."""
    out = copy.deepcopy(model)
    for site, beta in zip(_sites(out), cap, strict=True):
        site.set_params(beta=math.inf if beta is None else beta)
    return out.eval()


def prepare(run: Run) -> None:
    """The "max" models: each ReLU net capped at its own per-layer training maxima (no retraining)."""
    run.state["max"] = {}
    for arch, hidden in run.cfg["archs"].items():
        relu = run.models[key(_settings(run.cfg, hidden, caps("relu", 0), seed=run.seed))]
        maxima = _layer_max(run, relu)
        for place in ("hl1", "hl2", "both"):
            cap = [maxima[i] if i in PLACES[place] else None for i in range(2)]
            run.state["max"][(arch, place)] = (recap(relu, cap), cap)


def _model(run: Run, arch: str, place: str, beta: float | str) -> tuple[nn.Module, list[float | None]]:
    if beta == "max":
        return run.state["max"][(arch, place)]  # type: ignore[no-any-return]
    cap = caps(place, beta)
    return run.models[key(_settings(run.cfg, run.cfg["archs"][arch], cap, seed=run.seed))], cap


def classifier(run: Run, model: nn.Module) -> PyTorchClassifier:
    """An ART classifier around ``model`` (logits, the dataset's clip values) on the run's device."""
    info = run.d.info
    clf = PyTorchClassifier(
        model,
        nn.CrossEntropyLoss(),
        info["input_shape"],
        info["nb_classes"],
        clip_values=info["clip_values"],
        device_type=art_device_type(run.device),
    )
    return place_classifier(clf, run.device)


def _audit(
    run: Run, clf: PyTorchClassifier, original: nn.Module | None, max_iter: int, eps_step: float | None = None
) -> dict[str, Any]:
    d, cfg = run.d, run.cfg
    res = audit(
        clf,
        original,
        d.x,
        d.y,
        attacks=("fgsm", "pgd"),
        eps=cfg["eps"],
        eps_step=eps_step,
        max_iter=max_iter,
        batch_size=cfg["attack_batch"],
        seed=run.seed,
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


def eval_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """Figures 1, 2, 4-6, 8-11 for one model: clean accuracy, the audit (FGSM/PGD white-box beside
    BPDA, margin, margin+BPDA, transfer from the ReLU model), per-layer perturbation growth,
    zero-gradient distance and sensitivity."""
    cfg, d, arch, place = run.cfg, run.d, cell["arch"], cell["place"]
    model, cap = _model(run, arch, place, cell["beta"])
    clf = classifier(run, model)
    relu = None if place == "relu" else _model(run, arch, "relu", "relu")[0]
    out: dict[str, Any] = {**_audit(run, clf, relu, cfg["pgd_steps"]), "betas": cap}
    with gradient_mode(clf, "bpda"):  # fixed-size perturbation: one margin+BPDA sign step of size eps
        x_adv = pgd(
            clf,
            d.x,
            d.y,
            loss="margin",
            eps=cfg["eps"],
            eps_step=cfg["eps"],
            max_iter=1,
            random_init=False,
            seed=run.seed,
            batch_size=cfg["attack_batch"],
        )
    growth = layer_perturbation_growth(clf, d.x, x_adv)
    out["growth"] = {k: growth[k] for k in ("layers", "l2", "l2_clean", "l2_growth")}
    n = cfg["zg_n"]
    zg = ZeroGradientPGD(
        clf,
        norm=2,
        eps=None,
        eps_step=cfg["zg_step"],
        max_iter=cfg["zg_iter"],
        batch_size=cfg["attack_batch"],
        verbose=False,
    )
    x_zg = zg.generate(d.x[:n], y=d.y[:n])
    out["zero_gradient"] = {
        "found_share": float(zg.found_.mean()),
        "mean_distance": zg.mean_distance_,
        "mean_iterations": float(zg.iterations_.mean()),
        "fooled_share": 1.0 - robust_accuracy(clf, x_zg, d.y[:n]),
    }
    xs, ys = d.x[: cfg["sens_n"]], d.y[: cfg["sens_n"]]
    maps, sums = sensitivity_map(clf, xs, ys)
    with gradient_mode(clf, "bpda"):
        _, sums_bpda = sensitivity_map(clf, xs, ys)
    out["sensitivity"] = {"mean_sum": float(sums.mean()), "mean_sum_bpda": float(sums_bpda.mean())}
    if arch == "general":
        out["sensitivity"]["mean_map"] = np.round(maps.mean(0)[0] / max(float(maps.mean(0).max()), 1e-30), 3)
    return out


def _cw(run: Run, clf: PyTorchClassifier) -> tuple[float, float | None]:
    """C&W-L2 (ART) on the first ``cw_n`` images: accuracy and mean L2 of the successes."""
    cfg = run.cfg
    x, y = run.d.x[: cfg["cw_n"]], run.d.y[: cfg["cw_n"]]
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


def advtrain_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """Table 1: one (training, β) model of the general architecture: FGSM, PGD (with the audit's
    adaptive columns) and C&W-L2 with exact and BPDA gradients."""
    cfg, training, beta = run.cfg, cell["training"], cell["beta"]
    s = _t1(cfg, beta, training, run.seed)
    clf = classifier(run, run.models[key(s)])
    relu = None if beta == "relu" else run.models[key(_t1(cfg, "relu", training, run.seed))]
    out: dict[str, Any] = {**_audit(run, clf, relu, cfg["t1_iter"], cfg["t1_step"]), "betas": s["caps"]}
    out["cw_acc"], out["cw_l2"] = _cw(run, clf)
    with gradient_mode(clf, "bpda"):
        out["cw_bpda_acc"], out["cw_bpda_l2"] = _cw(run, clf)
    return out


def protocol_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """Figures 4-6 as the paper runs them: the model trained at ``init_beta``, re-capped at
    ``eval_beta`` (no retraining); clean accuracy and PGD white-box beside the audit's adaptive
    columns and the per-sample worst case."""
    cfg, d, arch, place = run.cfg, run.d, cell["arch"], cell["place"]
    trained, _ = _model(run, arch, place, cell["init_beta"])
    clf = classifier(run, recap(trained, caps(place, cell["eval_beta"])))
    source = classifier(run, _model(run, arch, "relu", "relu")[0])
    row = audit_cell(
        clf,
        source,
        d.x,
        d.y,
        eps=cfg["eps"],
        eps_step=cfg["proto_step"],
        max_iter=cfg["proto_iter"],
        batch_size=cfg["attack_batch"],
        seed=run.seed,
    )
    return {"clean": robust_accuracy(clf, d.x, d.y), **row}


def fig1_cell(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    """Figure 1 as the paper runs it: PGD examples crafted on the uncapped 3-hidden-layer net, passed
    through the net trained with ``place`` capped at ``beta``: mean L∞ and L2 distance per layer."""
    cfg, d, n = run.cfg, run.d, len(run.cfg["fig1_hidden"])
    net = lambda p, b: run.models[key(_settings(cfg, cfg["fig1_hidden"], caps(p, b, n), seed=run.seed))]  # noqa: E731
    x_adv = pgd(
        classifier(run, net("relu", 0)),
        d.x,
        d.y,
        loss="ce",
        eps=cfg["fig1_eps"],
        eps_step=cfg["fig1_step"],
        max_iter=cfg["fig1_iter"],
        random_init=True,
        seed=run.seed,
        batch_size=cfg["attack_batch"],
        early_stop=False,
    )
    clf = classifier(run, net(cell["place"], cell["beta"]))
    growth = layer_perturbation_growth(clf, d.x, x_adv)
    return {
        "layers": growth["layers"],
        "l2": growth["l2"],
        "linf": growth["linf"],
        "clean": robust_accuracy(clf, d.x, d.y),
        "adv": robust_accuracy(clf, x_adv, d.y),
    }
