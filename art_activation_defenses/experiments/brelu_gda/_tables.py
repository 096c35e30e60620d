"""Tables, summary and notes of the BReLU + GDA reproduction, with the paper's own values beside ours
(``paper_*`` columns, read from the package's ``tables.json``; the paper's numbers are MNIST ones)."""

from __future__ import annotations

from typing import Any

import numpy as np

from art_activation_defenses.experiments.brelu_gda._models import ARCHS
from art_activation_defenses.experiments.brelu_gda._toy import TOY_METHODS
from art_activation_defenses.experiments.papers import paper_fraction, paper_value
from art_activation_defenses.experiments.report import format_value

__all__ = ["tables", "summary", "notes", "PAPER_ROWS", "BLACKBOX"]

NAME = "brelu-gda"
#: Defence key -> the paper's row of Tables 2-4 (CNN rows only).
PAPER_ROWS: dict[str, str] = {
    "plain": "CNN", "feature_squeezing": "Feature squeezing", "label_smoothing": "Label smoothing",
    "fgsm_at": "FGSM adversarial training", "vat": "VAT", "gda_relu": "GDA + RELU",
    "gda_brelu": "GDA + BRELU",
}  # fmt: skip
#: Table 4's attacks: our key -> the paper's column.
BLACKBOX: dict[str, str] = {
    "fgsm": "FGSM", "rand_fgsm": "Rand + FGSM", "deepfool": "DeepFool", "jsma": "JSMA", "cw": "C&W",
}  # fmt: skip
_MNIST = "paper (MNIST)"


def _paper(name: str, table: str, column: str, *, fraction: bool = True) -> float | None:
    """The paper's value for model ``name`` (``"cnn/<defence>"``) in ``table`` / ``column``."""
    arch, defence = name.split("/")
    if arch != "cnn" or defence not in PAPER_ROWS:
        return None
    row = "Feature squeeze" if table == "Table 3" and defence == "feature_squeezing" else PAPER_ROWS[defence]
    return (paper_fraction if fraction else paper_value)(NAME, table, row, column)


def _main_row(name: str, m: dict[str, Any], eps: list[float], n_eval: int) -> dict[str, Any]:
    return {
        "model": m["label"],
        "clean": m["clean"],
        "paper_accuracy": _paper(name, "Table 2", "Accuracy"),
        "robustness": m["robustness"],
        "paper_robustness": _paper(name, "Table 2", "Robustness", fraction=False),
        "flipped": m["flipped_share"],
        "train_distance": m["train_distance"],
        "paper_train_distance": _paper(name, "Table 2", "Training set distance", fraction=False),
        "clean_distance": m["clean_train_distance"],
        # ART's value is the gradient norm of the *batch-mean* loss: x n = per-image mean
        "loss_sensitivity": m["loss_sensitivity"] * n_eval,
        "paper_loss_sensitivity": _paper(name, "Table 3", "Local sensitivity", fraction=False),
        **{f"fgsm_{e:g}": v for e, v in zip(eps, m["fgsm"], strict=True)},
    }


def _arch_table(data: dict[str, Any], eps: list[float]) -> dict[str, Any]:
    arch, rows = data["architectures"], []
    for s, label in ARCHS.items():
        row: dict[str, Any] = {
            "source": label,
            **{f"fgsm_{e:g}": v for e, v in zip(eps, arch[s]["fgsm"], strict=True)},
        }
        for t, t_label in ARCHS.items():
            row[t] = arch[s]["accuracy"][t]
            row[f"paper_{t}"] = paper_fraction(NAME, "Table 1", label, t_label)
        rows.append(row)
    rows.append({"source": "per-sample worst over the sources", **data["architectures_worst"]})
    return {
        "name": "table1_architectures",
        "title": f"Table 1 (paper): FGSM (ε={data['config']['bb_eps']:g}) transfer between architectures, "
        "accuracy of the target (columns); each source's own white-box FGSM over ε (Figure 3)",
        "rows": rows,
        "columns": [
            ["source", "crafted on ↓ / evaluated on →"],
            *[c for t, lab in ARCHS.items() for c in ([t, lab], [f"paper_{t}", f"{_MNIST} {lab}"])],
            *[[f"fgsm_{e:g}", f"own FGSM ε={e:g}"] for e in eps],
        ],
        "note": "Diagonal: white-box. BRELU models are trained plain with bounded ReLUs (t = 1). Paper "
        "values "
        "are the paper's MNIST numbers, also in quick (digits) runs. Last row: an image counts as robust "
        "only if no source's FGSM fools the target.",
    }


def _blackbox_table(data: dict[str, Any], cnn: list[str]) -> dict[str, Any]:
    bb, models = data["blackbox_attacks"], data["models"]
    rows = []
    for t in cnn:
        row: dict[str, Any] = {"model": models[t]["label"], "worst": data["blackbox_worst"][t]}
        for a, col in BLACKBOX.items():
            row[a], row[f"paper_{a}"] = bb[a]["accuracy"][t] if a in bb else None, _paper(t, "Table 4", col)
        rows.append(row)
    cfg = data["config"]
    jsma, cw = cfg["jsma"], cfg["cw"]
    return {
        "name": "table4_blackbox",
        "title": "Table 4 (paper): black-box attacks crafted on the plain ResNet, accuracy "
        f"(L∞ ε={cfg['bb_eps']:g})",
        "rows": rows,
        "columns": [
            ["model", "model"],
            *[c for a, col in BLACKBOX.items() for c in ([a, col], [f"paper_{a}", f"{_MNIST} {col}"])],
            ["worst", "per-sample worst (the attacks run)"],
        ],
        "note": f"R+FGSM: α={cfg['rfgsm_alpha']:g} sign-noise step, then FGSM with ε−α; DeepFool (L2, ours) "
        f"up to {cfg['deepfool_iter']} steps; JSMA (ART's SaliencyMapMethod, θ={jsma[0]:g}, γ={jsma[1]:g}) "
        f"towards a random other class; C&W L2 (ART's, confidence {cw[0]:g}, {cw[1]} steps, {cw[2]} binary-"
        "search steps); quick runs leave JSMA and C&W out (–). Paper values are the paper's MNIST numbers, "
        "also in quick (digits) runs.",
    }


def tables(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every table: the defence transfer matrix, Tables 2-3, the audit, Tables 4-5, the toy study, and the
    paper's Table 1 (architectures) and Table 4 (five black-box attacks)."""
    cfg, models = data["config"], data["models"]
    eps, he = list(cfg["eps"]), cfg["headline_eps"]
    names = list(models)
    cnn = [n for n in names if n.startswith("cnn/")]
    main = [_main_row(n, models[n], eps, cfg["n_eval"]) for n in names]
    audit_rows = [
        {"model": m["label"], "attack": a.upper(), **r}
        for m in models.values()
        for a, r in m["audit"].items()
    ]
    transfer_rows = [{"source": models[s]["label"], **{t: data["transfer"][s][t] for t in cnn}} for s in cnn]
    bb = {
        a: [
            {
                "model": models[t]["label"],
                **{f"eps_{e:g}": v for e, v in zip(eps, data["blackbox"][a]["accuracy"][t], strict=True)},
                **({"paper_eps_0.1": _paper(t, "Table 4", "FGSM")} if a == "fgsm" else {}),
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
                ["paper_accuracy", f"{_MNIST} accuracy under minimal FGSM (cf. 1 − share flipped)"],
                ["robustness", "robustness ρ (min. FGSM ‖δ‖₂/‖x‖₂)"],
                ["paper_robustness", f"{_MNIST} ρ"],
                ["flipped", "share flipped (ε ≤ 1)"],
                ["train_distance", "adv. train-set distance"],
                ["paper_train_distance", f"{_MNIST} train-set distance"],
                ["clean_distance", "clean train-set distance"],
                ["loss_sensitivity", "loss sensitivity (mean ‖∇ₓ CE‖₂ per image)"],
                ["paper_loss_sensitivity", f"{_MNIST} loss sensitivity"],
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
            "columns": [["model", "model"], *eps_cols, ["paper_eps_0.1", f"{_MNIST} ε=0.1"]],
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
        _arch_table(data, eps),
        _blackbox_table(data, cnn),
    ]


def summary(data: dict[str, Any]) -> str:
    """One line per model: clean, FGSM at the headline ε, ρ, the worst adaptive PGD and the masking flag."""
    cfg, models = data["config"], data["models"]
    he = cfg["headline_eps"]
    i = list(cfg["eps"]).index(he) if he in cfg["eps"] else None
    lines = [
        f"{cfg['n_eval']} test images; FGSM accuracy at ε={he:g}, robustness ρ and the worst adaptive PGD:"
    ]
    for m in models.values():
        fg = format_value(m["fgsm"][i]) if i is not None else "–"
        worst, rho = format_value(m["audit"].get("pgd", {}).get("worst")), format_value(m["robustness"])
        flag = " — **masking flagged**" if any(r.get("flag") for r in m["audit"].values()) else ""
        lines.append(
            f"- {m['label']}: clean {m['clean']:.3f}, FGSM {fg}, ρ {rho}, worst PGD {worst}{flag}"
        )
    return "\n".join(lines)


def notes(data: dict[str, Any]) -> list[str]:
    """The settings in words, one bullet each."""
    cfg = data["config"]
    cnn, resnet = cfg["cnn"], cfg["resnet"]
    return [
        f"Training: {cfg['n_train'] or 'all'} training images, {cfg['epochs']} epochs (Adam, "
        f"lr {cfg['lr']:g}); "
        f"GDA: {cfg['gda_copies']} Gaussian copies (σ={cfg['gda_sigma']:g}) per image, {cfg['gda_epochs']} "
        f"epoch(s) over the augmented set (the paper: 10 copies); FGSM adversarial training "
        f"ε={cfg['fgsm_train_eps']:g}, half of each batch adversarial (ART's AdversarialTrainer); VAT "
        f"ε={cfg['vat_eps']:g} (L2); label smoothing 0.9; feature squeezing 1 bit on the plain CNN.",
        f"Architectures: CNN `{cnn[0]}` {cnn[1] or ''}, ResNet `{resnet[0]}` {resnet[1]}"
        + (
            " (the paper's CNN and ResNet of Sec. 4.1)."
            if cnn[0] == "brelu-gda-paper"
            else " (quick stand-ins; the full run uses the paper's CNN and ResNet of Sec. 4.1)."
        ),
        f"Robustness ρ: ART's FGSM with `minimal=True` (grid step {cfg['minimal_step']:g} up to ε=1), mean "
        "‖δ‖₂/‖x‖₂ over the images whose prediction flips; the training-set distance is the mean L2 distance "
        "of those adversarial images to their nearest training image. Loss sensitivity is ART's "
        "`loss_sensitivity` times the number of images (ART differentiates the batch-mean loss, so its "
        "value shrinks with the batch size; ours is the mean per-image gradient norm).",
        "Audit: this package's `evaluation.audit` (same seeded PGD for every column, frozen at the first "
        "misclassified iterate on the defended model; the transfer column crafts on the plain model of the "
        "same architecture and takes every step there).",
        "Tables 4-5: crafted on the plain ResNet (FGSM: ART's; PGD: ART's PyTorch PGD, all steps; R+FGSM, "
        "DeepFool: ours; JSMA, C&W: ART's) and evaluated on every CNN.",
        "Toy study: 2-32-32-2 ReLU MLP, full-batch Adam; the extra points are crafted once on the plain "
        "model "
        "(JSMA: ART's SaliencyMapMethod towards the other class, θ=0.1 of the plotting range) and the "
        "augmented model is retrained from scratch on clean + extra points.",
        "`paper_*` columns: the paper's own numbers (MNIST; percentages as fractions), read from "
        "`tables.json`; in quick (digits) runs they are still the paper's MNIST values.",
    ]


def worst(correct: dict[str, dict[str, list[int]]], targets: list[str]) -> dict[str, float]:
    """Per-sample worst case: the share of images that every attack in ``correct`` leaves correct."""
    return {
        t: float(np.all([np.asarray(c[t], bool) for c in correct.values()], axis=0).mean()) for t in targets
    }
