"""Data, tables, summary, notes and the claims ledger of the sloped-ReLU reproduction.

The paper has no numeric table; the few numbers its text states (Borji 2020, via ``tables.json``)
appear in the ``paper_*`` columns, read at render time.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

import numpy as np

from art_activation_defenses.evaluation import MASKING_MARGIN, masking_row
from art_activation_defenses.experiments.papers import paper_fraction, paper_value, records
from art_activation_defenses.experiments.protocol import Claim, Run
from art_activation_defenses.experiments.srelu.cells import CURVE_ATTACKS, FIG4_ATTACKS

__all__ = ["assemble", "tables", "summary", "notes", "claims"]

_ADAPTIVE = ("pgd_margin", "pgd_bpda", "margin_bpda", "transfer", "surrogate")


def _cols(prefixes: list[tuple[str, str]], eps: list[float]) -> list[list[str]]:
    return [[f"{p}_{e:g}", f"{lab} ε={e:g}"] for p, lab in prefixes for e in eps]


def _per_eps(key: str, values: list[float], eps: list[float]) -> dict[str, float]:
    return {f"{key}_{e:g}": v for e, v in zip(eps, values, strict=True)}


def assemble(run: Run) -> dict[str, Any]:
    """The results' data from the finished cells: config, model, the per-figure records, headline rows."""
    cfg, r = run.cfg, run.records
    alphas, i = list(cfg["alphas"]), list(cfg["eps"]).index(cfg["headline_eps"])
    curve = {(x["cell"]["alpha"], x["cell"]["attack"]): x["result"]["accuracy"] for x in r["curves"]}
    for a in alphas:
        curve[(a, "transfer")] = r["transfer"][0]["result"]["accuracy"][str(a)]
    headline = []
    for a, aud, sur in zip(alphas, run.results("audits"), run.results("surrogate"), strict=True):
        row: dict[str, Any] = {"alpha": a, "clean": aud["clean"], "zero_grad": aud["zero_gradient_share"],
                               **{k: curve[(a, k)][i] for k in [*CURVE_ATTACKS, "transfer"]},
                               "margin_bpda": aud["margin_bpda"], "surrogate": sur["pgd"][i]}  # fmt: skip
        row["worst"] = min(v for k, v in row.items() if k not in ("alpha", "clean", "zero_grad"))
        masking_row(row, "pgd", _ADAPTIVE)
        row["masking"] = row.pop("masking_flag")
        headline.append(row)
    by = {name: [{**x["cell"], **x["result"]} for x in r[name]] for name in r}
    return {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()},
        "model": {"architecture": cfg["model"], **run.model_info["relu"]},
        "curves": [{"alpha": a, "attack": k, "accuracy": curve[(a, k)]} for a in alphas
                   for k in [*CURVE_ATTACKS, "transfer"]],  # fmt: skip
        "headline": headline,
        **{k: [{f: x[f] for f in x if f not in ("dataset", "n", "eps", "part", "queries")} for x in by[k]]
           for k in ("surrogate", "targeted", "scaling", "tsne", "same_slope", "activations", "fig4")},
    }  # fmt: skip


def _curve(data: dict[str, Any], alpha: float, attack: str) -> list[float]:
    return next(c["accuracy"] for c in data["curves"] if c["alpha"] == alpha and c["attack"] == attack)


def _fig4_summary(data: dict[str, Any]) -> list[dict[str, Any]]:
    cfg, eps = data["config"], data["config"]["eps"]
    rows, base = [], None
    for a in cfg["fig4_alphas"]:
        cells = [x for x in data["fig4"] if x["alpha"] == a]
        means = [mean(x["accuracy"][j] for x in cells) for j in range(len(eps))]
        base = means[-1] if a == 1.0 else base
        row = {"alpha": a, **_per_eps("mean", means, eps),
               "worst_sample": float(np.min([x["correct_last"] for x in cells], axis=0).mean()),
               "paper_recovery": paper_fraction("srelu", "Figure 4", "MNIST", "performance-loss recovery")
               if a == max(cfg["fig4_alphas"]) else None}  # fmt: skip
        if a in cfg["alphas"]:
            row["adaptive"] = min(_curve(data, a, k)[-1] for k in ("pgd_margin", "pgd_bpda", "transfer"))
        rows.append(row)
    for row in rows:
        row["recovery"] = None if base is None else row[f"mean_{eps[-1]:g}"] - base
    return rows


def _helped(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Fig. 6: per slope > 1, the classes whose targeted hit rate is below the ReLU model's."""
    ref = next(t for t in data["targeted"] if t["alpha"] == 1.0)
    return [{"alpha": t["alpha"], "paper_helped": paper_value("srelu", "Figure 6", "MNIST CNN", "classes helped (of 10)"),
             **{f"helped_{k}": sum(v < w for v, w in zip(t[k], ref[k], strict=True))
                for k in ("per_class", "per_class_margin")}}
            for t in data["targeted"] if t["alpha"] > 1.0]  # fmt: skip


def _protocol(data: dict[str, Any]) -> list[dict[str, Any]]:
    cfg = data["config"]
    fig4 = {r["row"]: r["raw"] for r in records("srelu", "Figure 4") if r["setting"] == "Foolbox" or r["row"] == "MNIST"
            and r["column"] == "last ε"}  # fmt: skip
    return [
        {"parameter": "slopes α", "paper_value": ", ".join(r["raw"] for r in records("srelu", "Setup")
                                                           if r["row"] == "α"), "ours": ", ".join(f"{a:g}" for a in cfg["alphas"])},  # fmt: skip
        {"parameter": "PGD iterations", "paper_value": paper_value("srelu", "Setup", "PGD", "iterations"),
         "ours": cfg["pgd_steps"]},
        {"parameter": "Fig. 4 attacks", "paper_value": fig4["number of attacks"], "ours": len(cfg["fig4_attacks"])},
        {"parameter": "Fig. 4 images", "paper_value": fig4["images"], "ours": cfg["n_eval"]},
        {"parameter": "Fig. 4 last ε (MNIST)", "paper_value": fig4["MNIST"], "ours": max(cfg["eps"])},
        {"parameter": "network", "paper_value": "Fig. 10 NetTest", "ours": cfg["model"]},
    ]


def tables(data: dict[str, Any]) -> list[dict[str, Any]]:
    cfg = data["config"]
    eps, he = list(cfg["eps"]), cfg["headline_eps"]
    names = {**CURVE_ATTACKS, "transfer": "PGD transfer from ReLU"}
    mnist = " In quick mode (digits) the paper's values are still its MNIST numbers."
    clean98 = paper_fraction("srelu", "Figure 2", "MNIST CNN", "accuracy")
    headline = [{**r, "paper_clean": clean98 if r["alpha"] == 1.0 else None} for r in data["headline"]]
    acts = [{"activation": x["activation"], "clean": x["clean"], **_per_eps("fgsm", x["fgsm"], eps),
             **_per_eps("margin", x["pgd_margin"], eps)} for x in data["activations"]]  # fmt: skip
    same = [{"train_alpha": x["train_alpha"], "clean": x["clean"], **_per_eps("fgsm", x["fgsm"], eps),
             **_per_eps("pgd", x["pgd"], eps), **_per_eps("margin", x["pgd_margin"], eps)} for x in data["same_slope"]]  # fmt: skip
    return [
        {"name": "headline", "title": f"Accuracy per slope α at L∞ ε={he:g} (white-box beside adaptive attacks)",
         "columns": [["alpha", "α"], ["clean", "clean"], ["paper_clean", "paper clean (Fig. 2, α=1)"], ["fgsm", "FGSM"],
                     ["bim", "BIM"], ["rfgsm", "R+FGSM"], ["stepll", "StepLL"],
                     ["pgd", f"PGD-{cfg['pgd_steps']} (white-box)"], ["deepfool", "DeepFool-L∞"],
                     ["pgd_bpda", "PGD BPDA"], ["pgd_margin", "PGD margin"], ["margin_bpda", "PGD margin+BPDA"],
                     ["transfer", "PGD transfer (ReLU)"], ["surrogate", "PGD surrogate"], ["worst", "worst"],
                     ["zero_grad", "zero CE-gradient share"], ["masking", "masking?"],
                     ["strongest", "strongest adaptive"]],
         "rows": headline,
         "note": f"Flag: an adaptive/transfer attack beats white-box PGD by more than {MASKING_MARGIN:.2f}."},
        {"name": "curves", "title": "Figures 2-3: accuracy vs ε per attack and slope",
         "rows": [{"alpha": x["alpha"], "attack": names[x["attack"]], **_per_eps("eps", x["accuracy"], eps)}
                  for x in data["curves"]], "columns": [["alpha", "α"], ["attack", "attack"],
                                                        *[[f"eps_{e:g}", f"ε={e:g}"] for e in eps]]},
        {"name": "targeted", "title": "Figure 5: targeted FGSM (random other class), target hit rate",
         "rows": [{"alpha": t["alpha"], **_per_eps("ce", t["overall"], eps), **_per_eps("margin", t["overall_margin"], eps),
                   **_per_eps("transfer", t["overall_transfer"], eps)} for t in data["targeted"]],
         "columns": [["alpha", "α"], *_cols([("ce", "CE"), ("margin", "margin"), ("transfer", "transfer")], eps)]},
        {"name": "targeted_per_class", "title": f"Figure 6: targeted FGSM hit rate per target class (ε={cfg['target_eps']:g})",
         "rows": [{"alpha": t["alpha"], "loss": loss, **{f"class_{j}": v for j, v in enumerate(t[key])}}
                  for t in data["targeted"] for loss, key in (("CE", "per_class"), ("margin", "per_class_margin"))],
         "columns": [["alpha", "α"], ["loss", "loss"], *[[f"class_{j}", str(j)] for j in range(len(data["targeted"][0]["per_class"]))]]},
        {"name": "scaling", "title": "Figure 7: pixel scaling s·x of the ReLU model, FGSM accuracy",
         "rows": [{"scale": s["scale"], "clip": "yes" if s["clip"] else "no", "clean": s["clean"],
                   **{k: v for key in ("fgsm", "fgsm_margin", "fgsm_transfer") for k, v in _per_eps(key, s[key], eps).items()}}
                  for s in data["scaling"]],
         "columns": [["scale", "s"], ["clip", "clipped"], ["clean", "clean"],
                     *_cols([("fgsm", "FGSM"), ("fgsm_margin", "margin"), ("fgsm_transfer", "transfer")], eps)]},
        {"name": "surrogate", "title": "Figure 8: surrogate (BPDA-style) transfer: accuracy of the defended model",
         "rows": [{"alpha": s["alpha"], "agreement": s["agreement"], "surrogate_clean": s["surrogate_clean"],
                   **_per_eps("fgsm", s["fgsm"], eps), **_per_eps("pgd", s["pgd"], eps)} for s in data["surrogate"]],
         "columns": [["alpha", "α"], ["agreement", "surrogate agreement"], ["surrogate_clean", "surrogate clean acc"],
                     *_cols([("fgsm", "FGSM"), ("pgd", "PGD")], eps)]},
        {"name": "tsne", "title": "Figure 9: last hidden layer per slope (t-SNE)",
         "rows": [{k: t[k] for k in ("alpha", "silhouette_features", "silhouette_tsne", "feature_norm")} for t in data["tsne"]],
         "columns": [["alpha", "α"], ["silhouette_features", "silhouette (features)"],
                     ["silhouette_tsne", "silhouette (t-SNE)"], ["feature_norm", "mean feature norm"]]},
        {"name": "protocol", "title": "Setup: the paper's protocol beside ours", "rows": _protocol(data),
         "columns": [["parameter", "parameter"], ["paper_value", "paper"], ["ours", "ours"]]},
        {"name": "targeted_helped", "title": "Figure 6: target classes whose hit rate a slope > 1 lowers (of 10)",
         "rows": _helped(data), "note": "Against the ReLU model's (α=1) per-class hit rate." + mnist,
         "columns": [["alpha", "α"], ["helped_per_class", "CE (paper's attack)"], ["paper_helped", "paper (MNIST CNN)"],
                     ["helped_per_class_margin", "margin loss (adaptive)"]]},
        {"name": "same_slope", "title": "Sec. 3: trained and tested with the same slope α (α=1: the ReLU model)",
         "rows": same, "note": "The paper states no number: 'did not improve the robustness'.",
         "columns": [["train_alpha", "train = test α"], ["clean", "clean"],
                     *_cols([("fgsm", "FGSM"), ("pgd", "PGD"), ("margin", "PGD margin (adaptive)")], eps)]},
        {"name": "activations", "title": "Figure 2 (bottom row): the ReLU model with another activation at test time",
         "rows": acts, "note": "The paper states no number: attacks 'even more damaging' than on SReLU.",
         "columns": [["activation", "activation"], ["clean", "clean"],
                     *_cols([("fgsm", "FGSM"), ("margin", "PGD margin (adaptive)")], eps)]},
        {"name": "fig4", "title": "Figure 4 (bottom row): accuracy per attack (ART's equivalents of the Foolbox attacks)",
         "rows": [{"alpha": x["alpha"], "attack": FIG4_ATTACKS[x["attack"]], **_per_eps("eps", x["accuracy"], eps)}
                  for x in data["fig4"]],
         "note": "ε in each attack's own norm (Foolbox's `epsilons`); minimal attacks count images not fooled within ε.",
         "columns": [["alpha", "α"], ["attack", "attack"], *[[f"eps_{e:g}", f"ε={e:g}"] for e in eps]]},
        {"name": "fig4_summary", "title": "Figure 4 (top row): mean accuracy over the attacks, recovery vs α=1",
         "rows": _fig4_summary(data),
         "note": "recovery: mean at the last ε minus α=1's; worst per sample: over all the Fig. 4 attacks at the last "
                 "ε; adaptive: the strongest of margin PGD, BPDA PGD, transfer (L∞) at the last ε." + mnist,
         "columns": [["alpha", "α"], *[[f"mean_{e:g}", f"mean ε={e:g}"] for e in eps], ["recovery", "recovery"],
                     ["paper_recovery", "paper recovery (MNIST)"], ["worst_sample", "worst per sample"],
                     ["adaptive", "strongest adaptive"]]},
    ]  # fmt: skip


def summary(data: dict[str, Any]) -> str:
    cfg, model = data["config"], data["model"]
    lines = [f"Model: {cfg['model']} trained with ReLU ({model['epochs']} epochs, test accuracy "
             f"{model['test_accuracy_full_split']:.3f}); {cfg['n_eval']} test images attacked. At ε={cfg['headline_eps']:g}:"]  # fmt: skip
    for r in data["headline"]:
        lines.append(
            f"- α={r['alpha']:g}: clean {r['clean']:.3f}, white-box PGD {r['pgd']:.3f}, FGSM {r['fgsm']:.3f}; "
            f"margin PGD {r['pgd_margin']:.3f}, transfer {r['transfer']:.3f}, surrogate {r['surrogate']:.3f}; "
            f"worst {r['worst']:.3f}"
            + (f" — **gradient masking** ({r['strongest']}, gap {r['gap']:.3f})" if r["masking"] else "")
        )
    flagged = [f"{r['alpha']:g}" for r in data["headline"] if r["masking"]]
    lines.append("\n" + (f"Flagged as gradient masking: α ∈ {{{', '.join(flagged)}}}: the white-box cross-entropy "
                         "numbers overstate robustness; read the worst column." if flagged
                         else "No slope was flagged as gradient masking."))  # fmt: skip
    return "\n".join(lines)


def notes(data: dict[str, Any]) -> list[str]:
    cfg = data["config"]
    return [
        f"Architecture: `{cfg['model']}`" + (" (the paper's Fig. 10 MNIST network, layer for layer)"
                                             if cfg["model"] == "srelu-paper-mnist-cnn" else
                                             " (conv32-conv64-fc128; the quick run keeps it, the full run uses the "
                                             "paper's Fig. 10 network)") + "; optimiser (Adam) and epochs are ours.",
        "FGSM and BIM are ART's; R+FGSM (α=ε/2), StepLL and DeepFool are this package's. BIM uses "
        f"{cfg['bim_steps']} steps of 1.25ε/steps; PGD {cfg['pgd_steps']} steps of 2.5ε/steps with a seeded random "
        "start, frozen at the first misclassified iterate. DeepFool-L∞ finds a minimal perturbation once; its "
        "accuracy at ε counts the images it does not fool within ε.",
        "Adaptive columns: *PGD margin* ascends the C&W logit margin instead of cross-entropy; *PGD BPDA* "
        "back-propagates the ReLU derivative through the sloped ReLUs; *transfer* is PGD crafted on the ReLU model "
        f"(α=1); *surrogate* is PGD on a ReLU CNN trained (MSE) on the defended model's standardised logits for "
        f"{cfg['surrogate_n']} training images plus 4 noisy copies each (Figure 8's BPDA experiment). BPDA alone "
        "cannot undo softmax saturation (it sits above the activations); the margin loss can.",
        "Targeted FGSM: hit rate = share of images classified as the target after the attack (per-class rows "
        "exclude images of the target class); the margin version ascends z_t − max_{k≠t} z_k.",
        "Pixel scaling: the ReLU model fed s·x (clipped to [0, 1] or not); the attack works in the original pixel "
        "space, ε as elsewhere. t-SNE: scikit-learn, PCA init, seeded; silhouette scores with the true labels.",
        "Figure 4: ART's FGM-L2, FGSM, PGD-L∞/L2, BIM-L∞/L2 (PGD without random start), DeepFool-L2 and "
        "VirtualAdversarial (10 iterations, on the softmax), our DeepFool-L∞ and two noise baselines (L∞ uniform, "
        f"L2 Gaussian); slopes {cfg['fig4_alphas']}; the paper's other Foolbox attacks have no ART equivalent.",
        "Paper values (`paper_*` columns) are read from the transcription of the paper's text (`tables.json`); the "
        "paper has no numeric table, so most of its results (plots) have no paper column.",
    ]  # fmt: skip


def _row(data: dict[str, Any], alpha: float) -> dict[str, Any]:
    return next(r for r in data["headline"] if r["alpha"] == alpha)


def _fig4_at(data: dict[str, Any], alpha: float, attack: str) -> float | None:
    hit = [x["accuracy"][-1] for x in data["fig4"] if x["alpha"] == alpha and x["attack"] == attack]
    return hit[0] if hit else None


def claims(data: dict[str, Any]) -> list[Claim]:
    """The quantitative claims of Borji's text, each judged from the cells."""
    top = max(data["config"]["alphas"])
    tol = 0.05

    def shift(attack: str) -> float:
        return mean(_curve(data, top, attack)) - mean(_curve(data, 1.0, attack))

    def fig4_summary(alpha: float, key: str) -> float | None:
        return next((r.get(key) for r in _fig4_summary(data) if r["alpha"] == alpha), None)

    def same_slope() -> dict[str, float | None]:
        rows = {x["train_alpha"]: x for x in data["same_slope"]}
        return {"fgsm_relu": rows[1.0]["fgsm"][-1], "fgsm_same": rows[max(rows)]["fgsm"][-1],
                "pgd_relu": rows[1.0]["pgd"][-1], "pgd_same": rows[max(rows)]["pgd"][-1]}  # fmt: skip

    def activations() -> dict[str, float | None]:
        other = [x for x in data["activations"] if x["activation"] != "relu"]
        return {"fgsm_other_best": max(mean(x["fgsm"]) for x in other), "fgsm_srelu": mean(_curve(data, top, "fgsm")),
                "margin_other_best": max(mean(x["pgd_margin"]) for x in other),
                "margin_srelu": mean(_curve(data, top, "pgd_margin"))}  # fmt: skip

    def targeted() -> dict[str, float | None]:
        t = {x["alpha"]: x for x in data["targeted"]}
        return {"ce_relu": t[1.0]["overall"][-1], "ce_top": t[top]["overall"][-1], "margin_top": t[top]["overall_margin"][-1]}

    def helped() -> dict[str, float | None]:
        row = next(r for r in _helped(data) if r["alpha"] == top)
        return {"ours": row["helped_per_class"], "paper": row["paper_helped"], "margin": row["helped_per_class_margin"]}

    def not_impacted(e: dict[str, float]) -> str:
        if e["fgsm_top_last"] < e["clean_top"] - tol:
            return "not reproduced"
        return "reversed under adaptive attacks" if e["worst_top"] <= e["pgd_relu"] + tol else "reproduced"

    def recovery(e: dict[str, float]) -> str:
        if e["recovery"] > 0 and e["adaptive_top"] <= e["adaptive_relu"] + tol:
            return "reversed under adaptive attacks"
        if abs(e["recovery"] - e["paper"]) <= tol:
            return "reproduced"
        return "direction reproduced" if e["recovery"] > 0 else "not reproduced"

    def target_judge(e: dict[str, float]) -> str:
        if e["ce_top"] >= e["ce_relu"] - 0.02:
            return "not reproduced"
        return "reversed under adaptive attacks" if e["margin_top"] >= e["ce_relu"] - 0.02 else "reproduced"

    return [
        Claim("clean-98", "Sec. 2.1: on MNIST at α=1, ε=0 the accuracy is around 98%",
              lambda d: {"ours": _row(d, 1.0)["clean"], "paper": paper_fraction("srelu", "Figure 2", "MNIST CNN", "accuracy")},
              lambda e: "reproduced" if abs(e["ours"] - e["paper"]) <= 0.02 + 1e-9 else "not reproduced",
              "within 0.02 (quick mode: digits, not MNIST)", "headline α=1 clean"),
        Claim("alpha-large-not-impacted", f"Sec. 2.1: for α ∈ {{10, 100}} FGSM has not impacted the classifier at all",
              lambda d: {"fgsm_top_last": _curve(d, top, "fgsm")[-1], "clean_top": _row(d, top)["clean"],
                         "worst_top": _row(d, top)["worst"], "pgd_relu": _row(d, 1.0)["pgd"]},
              not_impacted, f"FGSM at the largest ε within {tol} of clean at α={top:g}; reversed when the worst "
              f"attack at α={top:g} is within {tol} of white-box PGD on the ReLU model",
              "curves FGSM, headline worst"),
        Claim("stepll-deepfool-neutral", "Sec. 2.1: against StepLL and DeepFool the defence neither helped nor harmed",
              lambda d: {"stepll_shift": shift("stepll"), "deepfool_shift": shift("deepfool")},
              lambda e: "reproduced" if max(abs(e["stepll_shift"]), abs(e["deepfool_shift"])) <= tol else "not reproduced",
              f"mean accuracy over ε at α={top:g} within {tol} of α=1's", "curves StepLL, DeepFool"),
        Claim("same-slope-no-gain", "Sec. 3: training and testing with the same slope (> 1) did not improve robustness",
              lambda d: same_slope(),
              lambda e: "reproduced" if max(e["fgsm_same"] - e["fgsm_relu"], e["pgd_same"] - e["pgd_relu"]) <= tol
              else "not reproduced", f"FGSM and PGD at the largest ε at most {tol} above the ReLU model's",
              "same_slope"),
        Claim("other-activations-worse", "Sec. 2.1: with other activations the FGSM attack is even more damaging",
              lambda d: activations(),
              lambda e: "not reproduced" if e["fgsm_other_best"] >= e["fgsm_srelu"]
              else "reversed under adaptive attacks" if e["margin_srelu"] <= e["margin_other_best"] + tol else "reproduced",
              f"every other activation's mean FGSM accuracy below SReLU α={top:g}'s; reversed when SReLU's margin-PGD "
              f"accuracy is within {tol} of the best other activation's", "activations, curves"),
        Claim("fig4-recovery-15", "Sec. 2.1: over the Foolbox attacks the defence recovers around 15% of the "
              "performance loss on MNIST (α=100 vs α=1)",
              lambda d: {"recovery": fig4_summary(100.0, "recovery"),
                         "paper": paper_fraction("srelu", "Figure 4", "MNIST", "performance-loss recovery"),
                         "adaptive_top": fig4_summary(100.0, "adaptive"), "adaptive_relu": fig4_summary(1.0, "adaptive")},
              recovery, f"within {tol}; reversed when the strongest adaptive attack at α=100 is within {tol} of α=1's",
              "fig4_summary"),
        Claim("vat-worse", "Sec. 2.1: against VirtualAdversarial the defence made the situation much worse",
              lambda d: {"vat_top": _fig4_at(d, 100.0, "vat"), "vat_relu": _fig4_at(d, 1.0, "vat")},
              lambda e: "reproduced" if e["vat_top"] < e["vat_relu"] - tol else "not reproduced",
              f"accuracy at the last ε at least {tol} lower at α=100", "fig4 VirtualAdversarial"),
        Claim("targeted-lower", "Sec. 2.2: a slope above 1 reduces the targeted FGSM success rate",
              lambda d: targeted(), target_judge,
              "hit rate at the largest ε at least 0.02 lower at the largest α; reversed when the margin-loss "
              "version is not", "targeted"),
        Claim("fig6-six-classes", "Sec. 2.2: increasing the slope helped in 6 of 10 target classes (MNIST CNN)",
              lambda d: helped(),
              lambda e: "reproduced" if abs(e["ours"] - e["paper"]) <= 1 else
              "direction reproduced" if e["ours"] >= 1 else "not reproduced",
              f"within one class (α={top:g} vs α=1)", "targeted_helped"),
        Claim("bpda-hindered", "Sec. 3: the surrogate (BPDA) transfer severely hinders the defended model, but "
              "its accuracy stays above that of direct attacks on the original model",
              lambda d: {"surrogate_top": _row(d, top)["surrogate"], "clean_top": _row(d, top)["clean"],
                         "pgd_relu": _row(d, 1.0)["pgd"]},
              lambda e: "not reproduced" if e["surrogate_top"] > e["clean_top"] - 0.1 else
              "reproduced" if e["surrogate_top"] > e["pgd_relu"] else "direction reproduced",
              "surrogate PGD at least 0.1 below clean, and above white-box PGD on the ReLU model", "headline"),
    ]  # fmt: skip
