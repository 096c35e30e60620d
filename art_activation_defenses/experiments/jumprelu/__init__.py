"""Reproduction of the JumpReLU paper (Erichson, Yao, Mahoney 2019) with the attacks that could
refute it.

A LeNetLike is trained on MNIST twice (plain, and FGSM-adversarially trained, "robust"); at test
time every ReLU becomes JumpReLU ``x * 1[x > κ]``. Tables 1-4 and Figures 4-8 of the paper are
computed cell by cell (resumable); every accuracy of the defended model is reported beside the
adaptive attacks: BPDA (straight-through ReLU gradient), margin loss through BPDA, transfer from
the ReLU model and, for the randomized JumpReLU, EOT.

| Paper link: https://arxiv.org/abs/1904.03750
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from torch import nn

from art_activation_defenses.data import cifar10_exact_mask, dataset_info, load_dataset
from art_activation_defenses.defences import adversarial_augment
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.experiments.jumprelu._compute import (
    ATTACKS,
    CIFAR_SETTINGS,
    SETTINGS,
    Setup,
    attack_cell,
    images_cell,
    iterations_cell,
    matrix_cell,
    random_cell,
    tune_cell,
)
from art_activation_defenses.experiments.jumprelu._render import render
from art_activation_defenses.experiments.jumprelu._tables import notes, summary, tables
from art_activation_defenses.experiments.runner import ExperimentContext, cached_model
from art_activation_defenses.metrics import masking_gap
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit, set_seed

__all__ = ["run", "render", "SETTINGS", "CIFAR_SETTINGS", "DATASETS", "MODELS", "MASKING_MARGIN"]

logger = logging.getLogger(__name__)

#: The two trained models of the paper.
MODELS: tuple[str, ...] = ("base", "robust")
#: ``dataset`` argument of :func:`run` -> the settings (quick flag -> dict).
DATASETS: dict[str, dict[bool, dict[str, Any]]] = {"mnist": SETTINGS, "cifar10": CIFAR_SETTINGS}
#: Architecture labels of the tables.
ARCH_LABELS: dict[str, str] = {
    "lenet-like": "LeNetLike (6/16 channels, 120/84 units, dropout 0.5)",
    "alex-like": "AlexLike (64/64/128/128 channels, 256/256 units, dropout 0.5)",
}
#: An adaptive attack beating the white-box one by more than this flags gradient masking.
MASKING_MARGIN = 0.05


def _setup(ctx: ExperimentContext, cfg: dict[str, Any], model_name: str) -> tuple[Setup, dict[str, Any]]:
    info = dataset_info(cfg["dataset"])
    data_dir = None if cfg["dataset"] == "digits" else ctx.data_dir
    x_all, y_all = load_dataset(cfg["dataset"], data_dir, "train", limit=cfg["n_train"])
    n_val = cfg["n_val"]
    x_train, y_train, x_val, y_val = x_all[n_val:], y_all[n_val:], x_all[:n_val], y_all[:n_val]
    x_test, y_test = load_dataset(cfg["dataset"], data_dir, "test")
    exact = cifar10_exact_mask(data_dir, "test") if cfg.get("eval_exact") else None
    x_eval, y_eval = (x_test, y_test) if exact is None else (x_test[exact], y_test[exact])

    def build() -> nn.Module:
        return build_model(cfg["arch"], info["input_shape"], info["nb_classes"])

    def train(model: nn.Module) -> dict[str, Any]:
        augment = None
        if model_name == "robust":
            augment = adversarial_augment(model, method="fgsm", eps=cfg["adv_eps"], ratio=0.5, seed=ctx.seed)
        hist = fit(
            model,
            x_train,
            y_train,
            epochs=cfg["epochs"],
            lr=cfg["lr"],
            batch_size=cfg["batch_size"],
            seed=ctx.seed,
            verbose=ctx.verbose,
            augment=augment,
        )
        return {
            "epochs": cfg["epochs"],
            "final_train_accuracy": hist["accuracy"][-1],
            "adversarial_training": "FGSM, eps={:g}, half of each batch".format(cfg["adv_eps"])
            if model_name == "robust"
            else "none",
        }

    set_seed(ctx.seed)
    # the tag names everything the weights depend on, so changed settings never reuse a stale model
    tag = f"{cfg['arch']}-{model_name}-{cfg['dataset']}-n{cfg['n_train']}-val{n_val}-e{cfg['epochs']}"
    tag += f"-adv{cfg['adv_eps']:g}-lr{cfg['lr']:g}"
    model, meta = cached_model(ctx.model_path(tag), build, train)
    kw: dict[str, Any] = {"clip_values": info["clip_values"], "device_type": "cpu"}
    relu = RetrofitClassifier(
        model,
        nn.CrossEntropyLoss(),
        info["input_shape"],
        info["nb_classes"],
        activation="jumprelu",
        kappa=0.0,
        **kw,
    )  # κ = 0 is exactly ReLU
    jump = RetrofitClassifier(
        model,
        nn.CrossEntropyLoss(),
        info["input_shape"],
        info["nb_classes"],
        activation="jumprelu",
        kappa=cfg["kappa"],
        **kw,
    )
    rjump = RetrofitClassifier(
        model,
        nn.CrossEntropyLoss(),
        info["input_shape"],
        info["nb_classes"],
        activation="randomized-jumprelu",
        kappa=cfg["kappa"],
        seed=ctx.seed,
        **kw,
    )
    setup = Setup(
        relu=relu,
        jump=jump,
        rjump=rjump,
        x=x_eval[: cfg["n_eval"]],
        y=y_eval[: cfg["n_eval"]],
        x_val=x_val,
        y_val=y_val,
        cfg=cfg,
        seed=ctx.seed,
    )
    info_out = {
        "model": model_name,
        "architecture": ARCH_LABELS[cfg["arch"]],
        **meta,
        "test_accuracy_full_split": evaluate(model, x_test, y_test),
    }
    if exact is not None:
        info_out["test_accuracy_exact_pixels"] = evaluate(model, x_eval, y_eval)
        info_out["n_exact_test_images"] = int(exact.sum())
    return setup, info_out


def _choose_kappa(cfg: dict[str, Any], tune: dict[str, Any]) -> tuple[float, str]:
    """κ = 1.0 (the paper's) if it is within the accuracy budget on validation data, else the
    paper's rule: the most robust κ within the budget."""
    values = [float(v) for v in tune["values"]]
    k = float(cfg["kappa"])
    if k in values and tune["admissible"][values.index(k)]:
        return k, f"κ={k:g} (the paper's) is within the {cfg['budget']:.0%} validation-accuracy budget"
    chosen = tune["chosen"] if tune["chosen"] is not None else values[0]
    return float(chosen), (
        f"κ={k:g} costs more than {cfg['budget']:.0%} validation accuracy here; "
        f"κ={float(chosen):g} chosen by the paper's rule (most robust within the budget)"
    )


def run(ctx: ExperimentContext, *, dataset: str = "mnist") -> dict[str, Any]:
    """Compute every cell (resumable) and assemble the results dict.

    :param ctx: The experiment context.
    :param dataset: ``"mnist"`` (LeNetLike, κ = 1.0; quick mode uses scikit-learn's digits instead)
        or ``"cifar10"`` (AlexLike, κ = 0.4; needs the CIFAR-10 files in ``ctx.data_dir``, also in
        quick mode, which trains on a 3,000-image subset).
    """
    if dataset not in DATASETS:
        raise ValueError(
            f"`dataset={dataset!r}` is not available for the JumpReLU reproduction; expected one of "
            f"{sorted(DATASETS)}."
        )
    cfg = dict(DATASETS[dataset][ctx.quick])
    base = {"dataset": cfg["dataset"], "n": cfg["n_eval"]}
    setups: dict[str, Setup] = {}
    model_info: list[dict[str, Any]] = []
    tunes: dict[str, dict[str, Any]] = {}
    for m in MODELS:
        setups[m], info = _setup(ctx, cfg, m)
        model_info.append(info)
        tunes[m] = ctx.grid(
            [{**base, "part": "tune", "model": m, "kappas": list(cfg["kappas"]), "n_val": cfg["n_val"]}],
            lambda _c, s=setups[m]: tune_cell(s),  # type: ignore[misc]
            f"{m}: κ trade-off",
        )[0]
    kappa, kappa_reason = _choose_kappa(cfg, tunes["base"]["result"])

    def attack(c: Mapping[str, Any]) -> dict[str, Any]:
        return attack_cell(setups[c["model"]], c["attack"], c["kappa"], lid=c["model"] == "base")

    attacks = ctx.grid(
        [
            {**base, "part": "attack", "model": m, "attack": a, "kappa": kappa}
            for m in MODELS
            for a in ATTACKS
        ],
        attack,
        "Tables 1-3",
    )
    randomized = ctx.grid(
        [{**base, "part": "random", "model": m, "kappa": kappa, "eot": cfg["eot"]} for m in MODELS],
        lambda c: random_cell(setups[c["model"]], c["kappa"]),
        "Table 4",
    )
    matrix = ctx.grid(
        [{**base, "part": "matrix", "model": "base", "kappas": list(cfg["matrix_kappas"])}],
        lambda c: matrix_cell(setups["base"]),
        "Figure 7",
    )[0]
    images = ctx.grid(
        [{**base, "part": "images", "model": m, "kappa": kappa, "n_images": cfg["n_images"]} for m in MODELS],
        lambda c: images_cell(setups[c["model"]], c["kappa"]),
        "Figures 5-6",
    )
    iters = ctx.grid(
        [
            {**base, "part": "iterations", "model": m, "kappa": kappa, "iterations": list(cfg["iterations"])}
            for m in MODELS
        ],
        lambda c: iterations_cell(setups[c["model"]], c["kappa"]),
        "Figure 8",
    )

    attack_rows = []
    for r in attacks:
        row = {
            "model": r["cell"]["model"],
            "attack": ATTACKS[r["cell"]["attack"]][0],
            "key": r["cell"]["attack"],
            **r["result"],
        }
        adaptive = {
            "bpda": row["bpda_acc"],
            "margin_bpda": row["margin_bpda_acc"],
            "transfer": row["gray_acc"],
        }
        flag, strongest, gap = masking_gap(row["white_acc"], adaptive, MASKING_MARGIN)
        row.update(masking_flag=flag, strongest=strongest, gap=gap)
        attack_rows.append(row)
    random_rows = []
    for r in randomized:
        row = {"model": r["cell"]["model"], **r["result"]}
        adaptive = {"eot": row["pgd_eot"], "bpda": row["pgd_bpda"], "transfer": row["pgd_transfer"]}
        flag, strongest, gap = masking_gap(row["pgd_white"], adaptive, MASKING_MARGIN)
        row.update(masking_flag=flag, strongest=strongest, gap=gap)
        random_rows.append(row)
    data = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "kappa": kappa,
        "kappa_reason": kappa_reason,
        "models": model_info,
        "tradeoff": {m: tunes[m]["result"] for m in MODELS},
        "attacks": attack_rows,
        "randomized": random_rows,
        "matrix": matrix["result"],
        "images": {r["cell"]["model"]: r["result"] for r in images},
        "iterations": {r["cell"]["model"]: r["result"] for r in iters},
    }
    return {
        "title": "JumpReLU (Erichson et al. 2019) on " + _data_label(cfg, ctx.quick),
        "summary": summary(data),
        "tables": tables(data),
        "notes": "\n".join(f"- {n}" for n in notes(data)),
        **data,
    }


def _data_label(cfg: dict[str, Any], quick: bool) -> str:
    if cfg["dataset"] == "cifar10":
        return (
            "CIFAR-10"
            + (" (quick: 3,000 training images)" if quick else "")
            + " — the shared copy: labels exact, most pixels JPEG-decoded; evaluated on bit-exact test images"
        )
    return "scikit-learn digits (quick)" if quick else "MNIST"
