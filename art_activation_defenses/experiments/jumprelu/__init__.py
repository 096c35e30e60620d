"""Reproduction of the JumpReLU paper (Erichson, Yao, Mahoney 2019) with the attacks that could
refute it, as a declarative :class:`~art_activation_defenses.experiments.protocol.Paper` spec.

A LeNetLike is trained on MNIST twice (plain, and FGSM-adversarially trained, "robust"); at test
time every ReLU becomes JumpReLU ``x * 1[x > κ]``. Tables 1-4 and Figures 4-8 of the paper are
computed cell by cell (resumable); every accuracy of the defended model is reported beside the
adaptive attacks: BPDA (straight-through ReLU gradient), margin loss through BPDA, transfer from
the ReLU model and, for the randomized JumpReLU, EOT. The ``cifar10`` variant runs the AlexLike
(κ = 0.4) and, on a CUDA device, the WideResNet and MobileNetV2 rows (κ = 0.07 / 0.06).

| Paper link: https://arxiv.org/abs/1904.03750
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from torch import nn

from art_activation_defenses._device import art_device_type, place_classifier
from art_activation_defenses.data import cifar10_exact_mask
from art_activation_defenses.defences import adversarial_augment
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import masking_row
from art_activation_defenses.experiments.jumprelu import cells
from art_activation_defenses.experiments.jumprelu import tables as tab
from art_activation_defenses.experiments.jumprelu.cells import ATTACKS, paper_pgd
from art_activation_defenses.experiments.jumprelu.claims import claims
from art_activation_defenses.experiments.jumprelu.figures import render
from art_activation_defenses.experiments.protocol import Data, ModelRecipe, Paper, Run, Step
from art_activation_defenses.experiments.runner import default_data
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit, set_seed

__all__ = ["SPEC", "SETTINGS", "CIFAR_SETTINGS", "MODELS", "ATTACKS", "render", "paper_pgd"]

logger = logging.getLogger(__name__)

#: The two trained models of the paper (per architecture).
MODELS: tuple[str, ...] = ("base", "robust")

#: quick flag -> settings. ``pgd_eps`` is the L∞ radius of our PGD, ``pgd_step`` its step (the paper's
#: "ε = 0.01, 40 steps" read as step size and count; the authors' unprojected iterate is the
#: ``paper protocol`` column); ``minimal``: the minimal-perturbation attacks of Table 4.
SETTINGS: dict[bool, dict[str, Any]] = {
    True: {
        "dataset": "digits", "arch": "lenet-like", "n_train": None, "n_val": 100, "n_eval": 48, "epochs": 15,
        "lr": 3e-3, "batch_size": 64, "adv_eps": 0.1, "kappa": 1.0, "kappas": (0.0, 0.1, 0.25, 1.0),
        "budget": 0.03, "pgd_eps": 0.1, "pgd_step": 0.01, "pgd_steps": 20, "df_iter": 20, "tr_iter": 50,
        "eot": 4, "lid_k": 10, "lid_batch": 24, "lid_adaptive_steps": 10, "matrix_kappas": (0.0, 0.25, 1.0),
        "iterations": (0, 1, 5, 20), "n_images": 4, "attack_batch": 128, "audit_budget": "quick",
        "minimal": ("df_2",), "gpu_archs": {},
    },
    False: {
        "dataset": "mnist", "arch": "lenet-like", "n_train": None, "n_val": 1000, "n_eval": 800, "epochs": 3,
        "lr": 1e-3, "batch_size": 128, "adv_eps": 0.3, "kappa": 1.0,
        "kappas": (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
        "budget": 0.01, "pgd_eps": 0.1, "pgd_step": 0.01, "pgd_steps": 40, "df_iter": 50, "tr_iter": 200,
        "eot": 10, "lid_k": 20, "lid_batch": 100, "lid_adaptive_steps": 100,
        "matrix_kappas": (0.0, 0.5, 1.0, 1.5, 2.0), "iterations": (0, 1, 2, 5, 10, 20, 40, 80), "n_images": 6,
        "attack_batch": 300, "audit_budget": "standard", "minimal": ("df_2", "df_inf", "tr"), "gpu_archs": {},
    },
}  # fmt: skip

_GPU = {"epochs": 30, "lr": 0.05, "optimizer": "sgd", "weight_decay": 5e-4}
#: The ``cifar10`` variant (the paper's AlexLike, κ = 0.4): the shared CIFAR-10 copy has exact labels but
#: mostly JPEG-decoded pixels, so the evaluation uses only the bit-exact test images (``eval_exact``).
#: PGD: 7 steps of 0.01 in an L∞ ball of 0.03. The κ grid reaches well below 0.4 (κ is tuned per network).
#: ``gpu_archs`` (full only, CUDA only): prefix -> [architecture, its κ in the paper, its training recipe].
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
        "gpu_archs": {"wrn": ["wide-resnet", 0.07, _GPU], "mnv2": ["mobilenet-v2-cifar", 0.06, _GPU]},
    },
}  # fmt: skip


def _archs(run: Run) -> dict[str, tuple[str, dict[str, Any]]]:
    """Model-name prefix -> (architecture, training overrides); the GPU rows only on a CUDA device."""
    out: dict[str, tuple[str, dict[str, Any]]] = {"": (run.cfg["arch"], {})}
    if run.cfg["gpu_archs"] and run.device.type != "cuda":
        logger.warning("jumprelu: the %s rows need a CUDA device; skipped on %s.", list(run.cfg["gpu_archs"]),
                       run.device)  # fmt: skip
    elif run.device.type == "cuda":
        out.update({f"{p}-": (a[0], a[2]) for p, a in run.cfg["gpu_archs"].items()})
    return out


def _build(run: Run, arch: str) -> nn.Module:
    set_seed(run.seed)  # the initial weights, as before the spec (same seeds -> same numbers)
    return build_model(arch, run.d.info["input_shape"], run.d.info["nb_classes"])


def _train(run: Run, model: nn.Module, adv: float | None, hyper: dict[str, Any]) -> dict[str, Any]:
    aug = None if adv is None else adversarial_augment(model, method="fgsm", eps=adv, ratio=0.5,
                                                       seed=run.seed)
    hist = fit(model, run.d.x_train, run.d.y_train, **hyper, seed=run.seed, verbose=run.verbose, augment=aug,
               device=run.device)  # fmt: skip
    return {"epochs": hyper["epochs"], "final_train_accuracy": hist["accuracy"][-1],
            "adversarial_training": f"FGSM, eps={adv:g}, half of each batch" if adv else "none"}  # fmt: skip


def _recipes(run: Run) -> dict[str, ModelRecipe]:
    """Base and FGSM-robust model of every architecture; the checkpoint is keyed by all they depend on."""
    cfg, recipes = run.cfg, {}
    for prefix, (arch, over) in _archs(run).items():
        hyper = {k: over.get(k, cfg.get(k)) for k in ("epochs", "lr", "batch_size")}
        hyper.update(optimizer=over.get("optimizer", "adam"), weight_decay=over.get("weight_decay", 0.0))
        for m in MODELS:
            adv = cfg["adv_eps"] if m == "robust" else None
            keyed = {"arch": arch, **{k: cfg[k] for k in ("dataset", "n_train", "n_val")}, **hyper}
            recipes[prefix + m] = ModelRecipe(
                partial(_build, arch=arch), partial(_train, adv=adv, hyper=hyper),
                {**keyed, "adv_eps": adv, "seed": run.seed}, tag=f"{arch}-{m}-{cfg['dataset']}",
            )  # fmt: skip
    return recipes


def _data(run: Run) -> Data:
    """:func:`default_data`; on CIFAR-10 the evaluation images are the first bit-exact test images."""
    d = default_data(run)
    if run.cfg.get("eval_exact"):
        run.state["exact"] = exact = cifar10_exact_mask(run.ctx.data_dir, "test")
        d.x, d.y = d.x_test[exact][: run.cfg["n_eval"]], d.y_test[exact][: run.cfg["n_eval"]]
    return d


def _prepare(run: Run) -> None:
    """Per model: the ReLU (κ = 0 is ReLU), JumpReLU and randomized-JumpReLU classifiers, and its facts."""
    d, exact, dev, info = run.d, run.state.get("exact"), run.device, run.d.info
    kw: dict[str, Any] = {"clip_values": info["clip_values"], "device_type": art_device_type(dev)}
    run.state["clf"], run.state["models"] = {}, []
    for m, model in run.models.items():
        def wrap(act: str, kappa: float, seed: int | None = None, model: nn.Module = model) -> Any:
            clf = RetrofitClassifier(model, nn.CrossEntropyLoss(), info["input_shape"], info["nb_classes"],
                                     activation=act, kappa=kappa, seed=seed, **kw)
            return place_classifier(clf, dev)

        k = run.cfg["kappa"]
        run.state["clf"][m] = {"relu": wrap("jumprelu", 0.0), "jump": wrap("jumprelu", k),
                               "rjump": wrap("randomized-jumprelu", k, run.seed)}
        facts = {"model": m, "architecture": tab.ARCH_LABELS[tab.arch_of(run.cfg, m)], **run.model_info[m],
                 "test_accuracy_full_split": evaluate(model, d.x_test, d.y_test, device=dev)}
        if exact is not None:
            x_exact, y_exact = d.x_test[exact], d.y_test[exact]
            facts["test_accuracy_exact_pixels"] = evaluate(model, x_exact, y_exact, device=dev)
            facts["n_exact_test_images"] = int(exact.sum())
        run.state["models"].append(facts)  # fmt: skip


def _kappa(run: Run) -> tuple[float, str]:
    """κ = the paper's if it is within the accuracy budget on validation data, else the paper's rule:
    the most robust κ within the budget (base model)."""
    cfg, tune = run.cfg, run.results("tune")[0]
    values, k = [float(v) for v in tune["values"]], float(cfg["kappa"])
    if k in values and tune["admissible"][values.index(k)]:
        return k, f"κ={k:g} (the paper's) is within the {cfg['budget']:.0%} validation-accuracy budget"
    chosen = float(tune["chosen"] if tune["chosen"] is not None else values[0])
    return chosen, (f"κ={k:g} costs more than {cfg['budget']:.0%} validation accuracy here; "
                    f"κ={chosen:g} chosen by the paper's rule (most robust within the budget)")  # fmt: skip


def _kappa_of(run: Run, model: str) -> float:
    """The tuned κ for the main architecture, the paper's κ for the GPU rows."""
    return _kappa(run)[0] if "-" not in model else float(run.cfg["gpu_archs"][model.split("-")[0]][1])


def _cells(part: str, models: str = "main", **fields: Any) -> Callable[[Run], list[dict[str, Any]]]:
    """``run -> [cell]``: one cell per model (``main``: base and robust; ``all``: every trained model; or
    one model's name); ``fields`` maps a cell key to a settings key or to ``(run, model) -> value``."""

    def value(run: Run, v: Any, m: str) -> Any:
        return v(run, m) if callable(v) else list(run.cfg[v]) if isinstance(run.cfg[v], tuple) else run.cfg[v]

    def cells_of(run: Run) -> list[dict[str, Any]]:
        names = {"main": list(MODELS), "all": list(run.models)}.get(models, [models])
        return [{"dataset": run.cfg["dataset"], "n": run.cfg["n_eval"], "part": part, "model": m,
                 **{k: value(run, v, m) for k, v in fields.items()}} for m in names]  # fmt: skip

    return cells_of


def _attack_cells(run: Run) -> list[dict[str, Any]]:
    return [{**c, "attack": a} for c in _cells("attack", "all", kappa=_kappa_of)(run) for a in ATTACKS]


def _assemble(run: Run) -> dict[str, Any]:
    adaptive = {"bpda": "bpda_acc", "margin_bpda": "margin_bpda_acc", "transfer": "gray_acc"}
    attacks = [masking_row({"model": r["cell"]["model"], "attack": ATTACKS[r["cell"]["attack"]][0],
                            "key": r["cell"]["attack"], **r["result"]}, "white_acc", adaptive)
               for r in run.records["attack"]]
    eot = {"eot": "pgd_eot", "bpda": "pgd_bpda", "transfer": "pgd_transfer"}
    randomized = [masking_row({"model": r["cell"]["model"], "kappa": r["cell"]["kappa"], **r["result"]},
                              "pgd_white", eot) for r in run.records["random"]]
    kappa, reason = _kappa(run)
    by_model = {s: {r["cell"]["model"]: r["result"] for r in run.records[s]} for s in ("tune", "images",
                                                                                          "iterations")}
    return {"config": {k: list(v) if isinstance(v, tuple) else v for k, v in run.cfg.items()}, "kappa": kappa,
            "kappa_reason": reason, "models": run.state["models"], "tradeoff": by_model["tune"],
            "attacks": attacks,
            "randomized": randomized, "matrix": run.results("matrix")[0], "images": by_model["images"],
            "iterations": by_model["iterations"],
            "skipped_gpu_rows": list(run.cfg["gpu_archs"]) if run.device.type != "cuda" else []}  # fmt: skip


SPEC = Paper(
    name="jumprelu",
    description="JumpReLU (Erichson et al. 2019): Tables 1-4, Figures 4-8",
    settings={None: SETTINGS, "cifar10": CIFAR_SETTINGS},
    models=_recipes,
    data=_data,
    prepare=_prepare,
    steps=[
        Step("tune", "κ trade-off", _cells("tune", kappas="kappas", n_val="n_val"), cells.tune),
        Step("attack", "Tables 1-3", _attack_cells, cells.attack),
        Step("random", "Table 4", _cells("random", "all", kappa=_kappa_of, eot="eot", minimal="minimal"),
             cells.randomized),
        Step("matrix", "Figure 7", _cells("matrix", "base", kappas="matrix_kappas"), cells.matrix),
        Step("images", "Figures 5-6", _cells("images", kappa=_kappa_of, n_images="n_images"), cells.images),
        Step("iterations", "Figure 8", _cells("iterations", kappa=_kappa_of, iterations="iterations"),
             cells.iterations),
    ],
    assemble=_assemble,
    tables=tab.tables,
    summary=tab.summary,
    notes=tab.notes,
    title=tab.title,
    figures=render,
    claims=claims,
)  # fmt: skip
