"""Assembly, tables, summary and notes of the capped-ReLU reproduction (Sooksatra et al. 2023)."""

from __future__ import annotations

from typing import Any

from art_activation_defenses.evaluation import MASKING_MARGIN
from art_activation_defenses.experiments import papers
from art_activation_defenses.experiments.protocol import Run

__all__ = ["assemble", "tables", "summary", "notes"]

_AUDIT_COLS = [
    ["pgd_white_box", "PGD white-box"],
    ["pgd_bpda", "PGD BPDA"],
    ["pgd_margin", "PGD margin"],
    ["pgd_margin_bpda", "PGD margin+BPDA"],
    ["pgd_transfer", "PGD transfer (ReLU)"],
    ["pgd_worst", "PGD worst"],
]
_KEY = [["arch", "arch"], ["place", "capped"], ["beta", "β"]]
_BULKY = ("growth", "sensitivity", "zero_gradient", "betas")  # kept once, in data["models"]
_FLAG = f"masking? = an adaptive attack beats white-box FGSM/PGD by more than {MASKING_MARGIN:.2f}."
_PAPER = "paper (MNIST)"  # the paper's values are its MNIST numbers, in quick (digits) runs too


def _paper_row(training: str, beta: str) -> str:
    """The row label of Table 1 in ``tables.json``."""
    b = "-" if beta == "relu" else f"{float(beta):.2f}"
    return f"Max Val. {b} / Adv. training {'none' if training == 'none' else training.upper()}"


def _derive(row: dict[str, Any]) -> dict[str, Any]:
    clean = row["clean"] or 0.0
    row["pgd_success_white"] = 1.0 - row["pgd_white_box"] / clean if clean else None
    row["pgd_success_worst"] = 1.0 - row["pgd_worst"] / clean if clean else None
    row["masking_flag"] = bool(row.get("pgd_flag") or row.get("fgsm_flag"))
    zg, sens = row.get("zero_gradient", {}), row.get("sensitivity", {})
    row.update(
        zg_found=zg.get("found_share"), zg_distance=zg.get("mean_distance"), zg_fooled=zg.get("fooled_share")
    )
    row.update(sens=sens.get("mean_sum"), sens_bpda=sens.get("mean_sum_bpda"))
    row["max_betas"] = ", ".join("–" if b is None else f"{b:.2f}" for b in row["betas"])
    return row


def assemble(run: Run) -> dict[str, Any]:
    """The results' data: config, the model rows (Figs 1, 2, 4-6, 8-11), Table 1, and the paper-protocol
    rows of Figs 4-6 and Fig. 1."""
    models = [
        _derive(
            {
                "arch": r["cell"]["arch"],
                "place": r["cell"]["place"],
                "beta": str(r["cell"]["beta"]),
                **r["result"],
            }
        )
        for r in run.records["models"]
    ]
    adv = []
    for r in run.records["advtrain"]:
        row = _derive({"training": r["cell"]["training"], "beta": str(r["cell"]["beta"]), **r["result"]})
        label = _paper_row(row["training"], row["beta"])
        for ours, col in (("clean", "Clean %"), ("fgsm", "FGSM %"), ("pgd", "PGD %"), ("cw", "CW(L_2) %")):
            row[f"paper_{ours}"] = papers.paper_fraction("capped", "Table 1", label, col)
        adv.append(row)
    protocol = []
    for r in run.records["protocol"]:
        row = {**{k: r["cell"][k] for k in ("arch", "place", "init_beta", "eval_beta")}, **r["result"]}
        clean = row["clean"] or 0.0
        row["success_white"] = 1.0 - row["white_acc"] / clean if clean else None
        row["success_worst"] = 1.0 - row["robust_acc"] / clean if clean else None
        protocol.append(row)
    fig1 = [
        {"place": r["cell"]["place"], "beta": str(r["cell"]["beta"]), **r["result"]}
        for r in run.records["fig1"]
    ]
    for row in fig1:
        row.update(
            {f"l2_{i}": v for i, v in enumerate(row["l2"])},
            **{f"linf_{i}": v for i, v in enumerate(row["linf"])},
        )
    cfg = {k: (list(v) if isinstance(v, tuple) else v) for k, v in run.cfg.items()}
    return {"config": cfg, "models": models, "advtrain": adv, "protocol": protocol, "fig1": fig1}


def _setup_rows(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The paper's stated settings (every non-Table-1 record of ``tables.json``) beside this run's."""
    n = lambda v: "(audit default)" if v is None else f"{v:g}"  # noqa: E731
    ours = {
        ("hidden sizes", "HL1/HL2/HL3"): "/".join(map(str, cfg["fig1_hidden"])),
        ("PGD", "bound"): n(cfg["fig1_eps"]),
        ("PGD", "step"): n(cfg["fig1_step"]),
        ("PGD", "iterations"): n(cfg["fig1_iter"]),
        ("max values", "β"): None,  # Figure 1 and Figure 11 share the row; filled below
        (
            "evaluated max values",
            "range",
        ): f"{min(cfg['eval_betas'], default=0):g} to {max(cfg['eval_betas'], default=0):g}",
        ("initial max values", "β_init"): ", ".join(map(n, cfg["init_betas"])),
        ("threshold in prose", "max value"): "see claims (fig4-general-hl2)",
        ("clean training", "epochs"): n(cfg["t1_clean_epochs"] or cfg["epochs"]),
        ("Adam", "learning rate"): n(cfg["lr"]),
        ("adversarial training", "extra epochs"): n(cfg["t1_adv_epochs"]),
        ("adversarial training", "bound"): n(cfg["adv_eps"]),
        ("FGSM/PGD", "bound"): n(cfg["eps"]),
        ("FGSM/PGD", "max iterations"): n(cfg["t1_iter"]),
        ("FGSM/PGD", "step"): n(cfg["t1_step"]),
        ("CW", "max iterations"): n(cfg["cw_iter"]),
        ("CW", "learning rate"): n(cfg["cw_lr"]),
        ("CW", "initial balancing factor"): n(cfg["cw_const"]),
        ("CW", "balancing-factor adjustments"): n(cfg["cw_bss"]),
    }
    rows = []
    for r in papers.records("capped"):
        if r["table"] == "Table 1":
            continue
        mine = ours.get((r["row"], r["column"]))
        if r["table"] == "Figure 1" and r["row"] == "max values":
            mine = ", ".join(map(n, cfg["fig1_betas"]))
        elif r["table"] == "Figure 11":
            mine = ", ".join(str(b) for b in cfg["betas"])
        rows.append(
            {
                "table": r["table"],
                "setting": f"{r['row']}: {r['column']}",
                "paper_value": r["raw"],
                "ours": mine,
            }
        )
    return rows


def tables(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The rendered tables: Figs 2, 4-6, 1, 8-10, 11, Table 1, then the paper-protocol Figs 4-6 and 1
    and the paper's settings beside ours."""
    cfg = data["config"]
    growth_rows = [
        {
            "arch": r["arch"],
            "place": r["place"],
            "beta": r["beta"],
            **{f"g_{i}": v for i, v in enumerate(r["growth"]["l2_growth"])},
        }
        for r in data["models"]
    ]
    n_layers = len(data["models"][0]["growth"]["layers"]) if data["models"] else 0
    slim = [{k: v for k, v in r.items() if k not in _BULKY} for r in data["models"]]
    fig1_layers = data["fig1"][0]["layers"] if data["fig1"] else []
    names = ["input", *[f"HL{i}" for i in range(1, len(fig1_layers) - 1)], "logits"]
    return [
        {
            "name": "fig2_accuracy",
            "title": "Figure 2: clean accuracy per architecture, capped layer(s) and β",
            "columns": [*_KEY, ["max_betas", "caps used (HL1, HL2)"], ["clean", "clean accuracy"]],
            "rows": slim,
        },
        {
            "name": "fig4_6_robustness",
            "title": f"Figures 4-6: accuracy under L∞ ε={cfg['eps']:g} attacks "
            "(white-box beside adaptive), attack success",
            "columns": [
                *_KEY,
                ["clean", "clean"],
                ["fgsm_white_box", "FGSM white-box"],
                ["fgsm_worst", "FGSM worst"],
                *_AUDIT_COLS,
                ["pgd_success_white", "PGD success (white-box)"],
                ["pgd_success_worst", "PGD success (worst)"],
                ["zero_gradient_share", "zero-gradient share"],
                ["masking_flag", "masking?"],
            ],
            "rows": slim,
            "note": _FLAG,
        },
        {
            "name": "fig1_growth",
            "title": "Figure 1: L2 perturbation growth per layer (relative to the input), "
            "one margin+BPDA FGSM step of size ε",
            "columns": [
                *_KEY,
                *[[f"g_{i}", name] for i, name in enumerate(["input", "HL1", "HL2", "logits"][:n_layers])],
            ],
            "rows": growth_rows,
        },
        {
            "name": "fig8_10_zero_gradient",
            "title": "Figures 8-10: L2 PGD run until the gradient vanishes",
            "columns": [
                *_KEY,
                ["zg_found", "zero gradient reached"],
                ["zg_distance", "mean L2 distance"],
                ["zg_fooled", "misclassified there"],
            ],
            "rows": slim,
        },
        {
            "name": "fig11_sensitivity",
            "title": "Figure 11: mean summed sensitivity (eq. 2), exact and BPDA gradients",
            "columns": [*_KEY, ["sens", "sensitivity (exact)"], ["sens_bpda", "sensitivity (BPDA)"]],
            "rows": slim,
        },
        {
            "name": "table1_advtrain",
            "title": f"Table 1: adversarial training × β (general MLP, capped: {cfg['adv_place']}), "
            f"ε={cfg['eps']:g}",
            "columns": [
                ["training", "training"],
                ["beta", "β"],
                ["paper_clean", f"{_PAPER} clean"],
                ["clean", "clean"],
                ["paper_fgsm", f"{_PAPER} FGSM"],
                ["fgsm_white_box", "FGSM white-box"],
                ["fgsm_worst", "FGSM worst"],
                ["paper_pgd", f"{_PAPER} PGD"],
                *_AUDIT_COLS,
                ["paper_cw", f"{_PAPER} C&W-L2"],
                ["cw_acc", "C&W-L2 acc"],
                ["cw_l2", "C&W-L2 mean L2"],
                ["cw_bpda_acc", "C&W-L2 BPDA acc"],
                ["cw_bpda_l2", "C&W-L2 BPDA mean L2"],
                ["masking_flag", "masking?"],
            ],
            "rows": [{k: v for k, v in r.items() if k not in _BULKY} for r in data["advtrain"]],
            "note": _FLAG + " C&W-L2 is unbounded: its accuracy is the share it failed on.",
        },
        {
            "name": "fig4_6_paper_protocol",
            "title": "Figures 4-6 (paper's protocol): trained at an initial β, evaluated over max "
            f"values; PGD ε={cfg['eps']:g}, {cfg['proto_iter']} steps of {cfg['proto_step']:g}",
            "columns": [
                ["arch", "arch"],
                ["place", "capped"],
                ["init_beta", "initial β"],
                ["eval_beta", "max value"],
                ["clean", "clean"],
                ["white_acc", "PGD white-box"],
                ["bpda_acc", "PGD BPDA"],
                ["margin_bpda_acc", "PGD margin+BPDA"],
                ["robust_acc", "per-sample worst"],
                ["success_white", "success (white-box)"],
                ["success_worst", "success (worst)"],
                ["audit_flag", "masking?"],
            ],
            "rows": [
                {k: v for k, v in r.items() if k not in ("audit_columns", "robust_interval")}
                for r in data["protocol"]
            ],
            "note": "The paper states no numbers for Figures 4-6 (only orderings: see the claims ledger). "
            "masking? = the audit's McNemar test.",
        },
        {
            "name": "fig1_paper_protocol",
            "title": f"Figure 1 (paper's protocol): PGD ε={cfg['fig1_eps']:g}, step {cfg['fig1_step']:g}, "
            f"{cfg['fig1_iter']} steps on the uncapped {'/'.join(map(str, cfg['fig1_hidden']))} net, "
            "mean distance of clean and adversarial activations per layer",
            "columns": [
                ["place", "capped"],
                ["beta", "β"],
                ["clean", "clean"],
                ["adv", "adv. accuracy"],
                *[[f"l2_{i}", f"L2 {m}"] for i, m in enumerate(names)],
                *[[f"linf_{i}", f"L∞ {m}"] for i, m in enumerate(names)],
            ],
            "rows": [{k: v for k, v in r.items() if k not in ("layers", "l2", "linf")} for r in data["fig1"]],
            "note": "The paper plots these distances (Figure 1) without stating numbers.",
        },
        {
            "name": "paper_setup",
            "title": "The paper's stated settings beside this run's",
            "columns": [
                ["table", "figure/table"],
                ["setting", "setting"],
                ["paper_value", _PAPER],
                ["ours", "ours"],
            ],
            "rows": _setup_rows(cfg),
        },
    ]


def summary(data: dict[str, Any]) -> str:
    """Headline: the general MLP per capped placement and β, white-box beside worst adaptive."""
    lines = [
        f"- general, capped {r['place']}, β={r['beta']}: clean {r['clean']:.3f}, PGD white-box "
        f"{r['pgd_white_box']:.3f}, worst adaptive {r['pgd_worst']:.3f}"
        + (" ⚠ gradient masking" if r["masking_flag"] else "")
        for r in data["models"]
        if r["arch"] == "general"
    ]
    return f"Headline (general MLP {tuple(data['config']['archs']['general'])}):\n" + "\n".join(lines)


def notes(data: dict[str, Any]) -> list[str]:
    """One bullet per protocol choice."""
    cfg = data["config"]
    t1 = (
        f"{cfg['t1_clean_epochs']} clean epochs, then {cfg['t1_adv_epochs']} adversarial ones"
        if cfg["t1_clean_epochs"]
        else f"{cfg['t1_adv_epochs']} adversarial epochs from scratch"
    )
    return [
        f"Models are trained with the cap in place ({cfg['epochs']} epochs of Adam on "
        f"{cfg['n_train'] or 'all'} training images); 'max' = the trained ReLU net capped at each chosen "
        "layer's largest training-set activation, without retraining.",
        f"β subset {list(cfg['betas'])} of the paper's 0.01-0.15 (2 CPU cores). Attacks: L∞ "
        f"ε={cfg['eps']:g}, PGD {cfg['pgd_steps']} steps with random start; evaluation on the first "
        f"{cfg['n_eval']} test images.",
        "Adaptive columns (ours): BPDA = ReLU derivative in the backward pass through the caps; margin = "
        "C&W logit margin instead of cross-entropy; transfer = crafted on the ReLU net of the same "
        "architecture (and training). A small β zeroes the exact input gradient of most samples "
        "(zero-gradient share): white-box numbers then measure gradient masking, and the worst adaptive "
        "column is the robustness estimate.",
        f"Table 1: FGSM / PGD ({cfg['adv_steps']} steps) adversarial training at ε={cfg['adv_eps']:g} "
        f"({t1}), half of every batch adversarial, crafted with the exact (capped) gradient; evaluation "
        f"FGSM/PGD {cfg['t1_iter']} steps; C&W-L2 (ART, {cfg['cw_iter']} iterations, {cfg['cw_bss']} "
        f"binary-search steps, initial constant {cfg['cw_const']:g}, learning rate {cfg['cw_lr']:g}) on "
        f"the first {cfg['cw_n']} test images.",
        "Figure 1 (fig1_growth) uses one margin+BPDA sign step of size ε (a perturbation of the same size "
        "for every model); fig1_paper_protocol follows the paper (PGD crafted on the uncapped "
        "3-hidden-layer net). Figures 8-10 run L2 PGD (no radius) until the exact gradient is zero "
        f"(||∇|| ≤ 1e-8) or {cfg['zg_iter']} steps.",
        f"The '{_PAPER}' columns are the paper's own MNIST numbers (tables.json), shown in quick (digits) "
        "runs too; '–' where the paper has no such row.",
    ]
