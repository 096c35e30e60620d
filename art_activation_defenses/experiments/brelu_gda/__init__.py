"""Reproduction of the bounded-ReLU + Gaussian data augmentation paper (Zantedeschi et al. 2017).

The paper's MNIST CNN (and a ResNet) trained plain, with feature squeezing, label smoothing,
FGSM adversarial training, VAT, Gaussian data augmentation (GDA) with ReLU and GDA with a
bounded ReLU (t = 1): Table 1 (FGSM transfer matrix), Figure 3 (FGSM accuracy vs ε), Table 2
(accuracy, robustness = mean relative minimal FGSM perturbation, training-set distance),
Table 3 (loss sensitivity), Tables 4-5 (black-box FGSM / PGD from the ResNet), Figure 1 (the
minimal perturbations of the first ten test images) and Figure 2 (the 2-D toy study). Beside
every white-box number sits the adaptive audit (BPDA through the bounded ReLU, logit-margin
loss, transfer from the undefended model).

| Paper link: https://arxiv.org/abs/1707.06728
"""

from __future__ import annotations

from typing import Any

from art_activation_defenses.data import dataset_info, load_dataset
from art_activation_defenses.experiments.brelu_gda._eval import (
    Bench,
    blackbox_cell,
    defence_cell,
    transfer_cell,
)
from art_activation_defenses.experiments.brelu_gda._models import (
    DEFENCES,
    SETTINGS,
    defence_names,
    train_defences,
)
from art_activation_defenses.experiments.brelu_gda._render import render
from art_activation_defenses.experiments.brelu_gda._toy import TOY_METHODS, toy_cell
from art_activation_defenses.experiments.runner import ExperimentContext

__all__ = ["run", "render", "SETTINGS"]


def _label(name: str) -> str:
    arch, defence = name.split("/")
    return f"{arch.upper() if arch == 'cnn' else 'ResNet'} {DEFENCES[defence]}"


def run(ctx: ExperimentContext) -> dict[str, Any]:
    """Train (or load) every model, compute every cell (resumable) and assemble the results dict."""
    cfg = dict(SETTINGS[ctx.quick])
    info = dataset_info(cfg["dataset"])
    data_dir = None if cfg["dataset"] == "digits" else ctx.data_dir
    x_train, y_train = load_dataset(cfg["dataset"], data_dir, "train", limit=cfg["n_train"])
    x_test, y_test = load_dataset(cfg["dataset"], data_dir, "test", limit=cfg["n_eval"])
    classifiers, train_meta = train_defences(ctx, cfg, info, x_train, y_train)
    bench = Bench(classifiers, x_test, y_test, x_train, cfg, ctx.seed)
    names = defence_names(cfg)
    cnn = [n for n in names if n.startswith("cnn/")]
    eps = list(cfg["eps"])
    base = {"dataset": cfg["dataset"], "n": cfg["n_eval"], "n_train": cfg["n_train"]}

    evals = ctx.grid(
        [
            {**base, "part": "defence", "model": n, "eps": eps, "headline_eps": cfg["headline_eps"]}
            for n in names
        ],
        lambda c: defence_cell(bench, c["model"], c["model"].split("/")[0] + "/plain"),
        "defences",
    )
    transfers = ctx.grid(
        [{**base, "part": "transfer", "source": s, "eps": cfg["headline_eps"], "targets": cnn} for s in cnn],
        lambda c: transfer_cell(bench, c["source"], cnn),
        "FGSM transfer matrix",
    )
    blackbox = ctx.grid(
        [{**base, "part": "blackbox", "attack": a, "eps": eps, "targets": cnn} for a in ("fgsm", "pgd")],
        lambda c: blackbox_cell(bench, "resnet/plain", c["attack"], cnn),
        "black-box from ResNet",
    )
    toy = ctx.grid(
        [
            {
                "part": "toy",
                "dataset": d,
                "n": cfg["toy_n"],
                "steps": cfg["toy_steps"],
                "grid": cfg["toy_grid"],
            }
            for d in ("circles", "moons")
        ],
        lambda c: toy_cell(c["dataset"], n=c["n"], steps=c["steps"], grid=c["grid"], seed=ctx.seed),
        "toy",
    )

    per_model = {r["cell"]["model"]: r["result"] for r in evals}
    figure1 = {n: per_model[n].pop("figure1") for n in ("cnn/plain", "cnn/gda_brelu")}
    figure1["clean"] = x_test[:10].round(3)
    figure1["labels"] = y_test[:10]
    data = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "training": train_meta,
        "models": {n: {"label": _label(n), **{k: v for k, v in r.items()}} for n, r in per_model.items()},
        "transfer": {r["cell"]["source"]: r["result"]["accuracy"] for r in transfers},
        "blackbox": {r["cell"]["attack"]: r["result"] for r in blackbox},
        "toy": {r["cell"]["dataset"]: r["result"] for r in toy},
        "figure1": figure1,
    }
    return {
        "title": "Bounded ReLU + Gaussian data augmentation (Zantedeschi et al. 2017) on "
        + ("scikit-learn digits (quick)" if ctx.quick else "MNIST"),
        "summary": _summary(cfg, data),
        "tables": _tables(cfg, names, cnn, data),
        "notes": _notes(cfg),
        **data,
    }


def _tables(
    cfg: dict[str, Any], names: list[str], cnn: list[str], data: dict[str, Any]
) -> list[dict[str, Any]]:
    eps, he = list(cfg["eps"]), cfg["headline_eps"]
    models = data["models"]
    main, audit_rows = [], []
    for n in names:
        m = models[n]
        main.append(
            {
                "model": m["label"],
                "clean": m["clean"],
                "robustness": m["robustness"],
                "flipped": m["flipped_share"],
                "train_distance": m["train_distance"],
                "clean_distance": m["clean_train_distance"],
                # ART's value is the gradient norm of the *batch-mean* loss: x n = per-image mean
                "loss_sensitivity": m["loss_sensitivity"] * cfg["n_eval"],
                **{f"fgsm_{e:g}": v for e, v in zip(eps, m["fgsm"], strict=True)},
            }
        )
        for attack, r in m["audit"].items():
            audit_rows.append({"model": m["label"], "attack": attack.upper(), **r})
    transfer_rows = [{"source": models[s]["label"], **{t: data["transfer"][s][t] for t in cnn}} for s in cnn]
    bb = {
        a: [
            {
                "model": models[t]["label"],
                **{f"eps_{e:g}": v for e, v in zip(eps, data["blackbox"][a]["accuracy"][t], strict=True)},
            }
            for t in cnn
        ]
        for a in ("fgsm", "pgd")
    }
    toy_rows = [
        {"dataset": d, "method": TOY_METHODS[k], "accuracy": v["accuracy"], "fgsm_l2": v["fgsm_l2_accuracy"]}
        for d, t in data["toy"].items()
        for k, v in t["methods"].items()
    ]
    eps_cols = [[f"eps_{e:g}", f"ε={e:g}"] for e in eps]
    return [
        {
            "name": "table1_transfer",
            "title": f"Table 1: FGSM (ε={he:g}) transfer matrix, accuracy of the target (columns)",
            "rows": transfer_rows,
            "columns": [
                ["source", "crafted on ↓ / evaluated on →"],
                *[[t, models[t]["label"].removeprefix("CNN ")] for t in cnn],
            ],
            "note": "Diagonal: white-box FGSM (ART's; through feature squeezing with its identity "
            "gradient estimate).",
        },
        {
            "name": "table2_3",
            "title": "Tables 2-3 and Figure 3: accuracy, robustness, training-set distance, "
            "loss sensitivity, FGSM accuracy vs ε",
            "rows": main,
            "columns": [
                ["model", "model"],
                ["clean", "accuracy"],
                ["robustness", "robustness ρ (min. FGSM ‖δ‖₂/‖x‖₂)"],
                ["flipped", "share flipped (ε ≤ 1)"],
                ["train_distance", "adv. train-set distance"],
                ["clean_distance", "clean train-set distance"],
                ["loss_sensitivity", "loss sensitivity (mean ‖∇ₓ CE‖₂ per image)"],
                *[[f"fgsm_{e:g}", f"FGSM ε={e:g}"] for e in eps],
            ],
        },
        {
            "name": "audit",
            "title": f"Adaptive audit at L∞ ε={he:g}: white-box beside BPDA, margin loss and transfer",
            "rows": audit_rows,
            "columns": [
                ["model", "model"],
                ["attack", "attack"],
                ["white_box", "white-box"],
                ["bpda", "BPDA"],
                ["margin", "margin"],
                ["margin_bpda", "margin+BPDA"],
                ["transfer", "transfer (from plain)"],
                ["worst", "worst"],
                ["flag", "masking?"],
                ["strongest", "strongest"],
            ],
            "note": "BPDA only where the model has activation-defence modules (GDA+BRELU); our PGD needs a "
            "differentiable pipeline, so feature squeezing's torch-side columns are empty (–).",
        },
        {
            "name": "table4_blackbox_fgsm",
            "title": "Table 4: black-box FGSM crafted on the ResNet, accuracy",
            "rows": bb["fgsm"],
            "columns": [["model", "model"], *eps_cols],
        },
        {
            "name": "table5_blackbox_pgd",
            "title": f"Table 5: black-box PGD-{cfg['pgd_steps']} crafted on the ResNet, accuracy",
            "rows": bb["pgd"],
            "columns": [["model", "model"], *eps_cols],
        },
        {
            "name": "toy",
            "title": "Figure 2 (toy study): test accuracy, clean and under FGSM-L2 ε=0.3",
            "rows": toy_rows,
            "columns": [
                ["dataset", "data"],
                ["method", "training"],
                ["accuracy", "clean"],
                ["fgsm_l2", "FGSM-L2 ε=0.3"],
            ],
        },
    ]


def _summary(cfg: dict[str, Any], data: dict[str, Any]) -> str:
    he, models = cfg["headline_eps"], data["models"]
    i = list(cfg["eps"]).index(he) if he in cfg["eps"] else None
    lines = [
        f"{cfg['n_eval']} test images; FGSM accuracy at ε={he:g}, robustness ρ and the worst adaptive PGD:"
    ]
    for m in models.values():
        fg = f"{m['fgsm'][i]:.3f}" if i is not None else "–"
        worst = m["audit"].get("pgd", {}).get("worst")
        flag = " — **masking flagged**" if any(r.get("flag") for r in m["audit"].values()) else ""
        lines.append(
            f"- {m['label']}: clean {m['clean']:.3f}, FGSM {fg}, ρ {m['robustness']:.3f}, "
            f"worst PGD {worst if worst is None else f'{worst:.3f}'}{flag}"
        )
    return "\n".join(lines)


def _notes(cfg: dict[str, Any]) -> str:
    return (
        f"- Training: {cfg['n_train'] or 'all'} training images, {cfg['epochs']} epochs (Adam, lr "
        f"{cfg['lr']:g}); GDA: "
        f"{cfg['gda_copies']} Gaussian copies (σ={cfg['gda_sigma']:g}) per image, {cfg['gda_epochs']} "
        "epoch(s) over the "
        "augmented set (the paper uses more copies); FGSM adversarial training "
        f"ε={cfg['fgsm_train_eps']:g}, half of each "
        f"batch adversarial (ART's AdversarialTrainer); VAT ε={cfg['vat_eps']:g} (L2); label smoothing "
        "0.9; feature "
        "squeezing 1 bit on the plain CNN. The ResNet is `brelu-resnet` of depth "
        f"{cfg['resnet_depth']} (smaller than the paper's; as closely as known).\n"
        "- Robustness ρ: ART's FGSM with `minimal=True` (grid step "
        f"{cfg['minimal_step']:g} up to ε=1), mean ‖δ‖₂/‖x‖₂ over the images whose prediction flips; "
        "the training-set "
        "distance is the mean L2 distance of those adversarial images to their nearest training image. Loss "
        "sensitivity is ART's `loss_sensitivity` times the number of images (ART differentiates the "
        "batch-mean loss, so its value shrinks with the batch size; ours is the mean per-image gradient "
        "norm).\n"
        "- Audit: this package's `evaluation.audit` (same seeded PGD for every column, frozen at the first "
        "misclassified iterate on the defended model; the transfer column crafts on the plain model of the "
        "same architecture and takes every step there).\n"
        "- Tables 4-5: crafted on the plain ResNet (FGSM: ART's; PGD: ART's PyTorch PGD, all steps) and "
        "evaluated on "
        "every CNN.\n"
        "- Toy study: 2-32-32-2 ReLU MLP, full-batch Adam; the extra points are crafted once on the "
        "plain model "
        "(JSMA: ART's SaliencyMapMethod towards the other class, θ=0.1 of the plotting range) and the "
        "augmented "
        "model is retrained from scratch on clean + extra points.\n"
        "- Paper numbers are not copied here and none was verified against the paper in this run."
    )
