"""Figures of the sloped-ReLU reproduction, drawn from the stored results JSON only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from art_activation_defenses.experiments.report import figure_entry, figure_folder, finish_axes

__all__ = ["render"]

_NAMES = {
    "fgsm": "FGSM", "bim": "BIM", "rfgsm": "R+FGSM", "stepll": "StepLL", "pgd": "PGD (white-box)",
    "deepfool": "DeepFool-L∞", "pgd_margin": "PGD margin (adaptive)", "pgd_bpda": "PGD BPDA (adaptive)",
    "transfer": "PGD transfer from ReLU (adaptive)",
}  # fmt: skip
#: The y axis of the accuracy panels.
_ACCURACY: dict[str, Any] = {"ylabel": "accuracy", "ylim": (-0.02, 1.02)}


def render(results: dict[str, Any], out_dir: str | Path) -> list[Any]:
    """Draw Figures 2-3, 5-6, 7, 8 and 9 as PNGs into ``out_dir``.

    :param results: The stored ``results.json`` of the reproduction.
    :param out_dir: Output folder.
    :return: ``[{"file", "caption"}]`` of the figures written.
    """
    out = figure_folder(out_dir)
    import matplotlib.pyplot as plt

    eps = results["config"]["eps"]
    alphas = results["config"]["alphas"]

    attacks = list(dict.fromkeys(c["attack"] for c in results["curves"]))
    cols = 3
    rows = -(-len(attacks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, attack in zip(axes.flat, attacks, strict=False):
        for c in results["curves"]:
            if c["attack"] == attack:
                ax.plot(eps, c["accuracy"], "o-", label=f"α={c['alpha']:g}")
        finish_axes(ax, legend_size=None, title=_NAMES.get(attack, attack), xlabel="ε (L∞)", **_ACCURACY)
    for ax in list(axes.flat)[len(attacks) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    caption = (
        "Figures 2-3: accuracy vs ε per attack and slope α; the last panels are the adaptive attacks "
        "(margin loss, BPDA, transfer)."
    )
    figures = [figure_entry(fig, out, "fig2_3_accuracy_vs_eps.png", caption)]

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.8))
    k = len(results["targeted"][0]["per_class"])
    width = 0.8 / max(len(results["targeted"]), 1)
    for j, t in enumerate(results["targeted"]):
        line = ax1.plot(eps, t["overall"], "o-", label=f"α={t['alpha']:g} CE")[0]
        ax1.plot(eps, t["overall_margin"], "x--", color=line.get_color(), label=f"α={t['alpha']:g} margin")
        ax2.bar([c + j * width for c in range(k)], t["per_class"], width=width, label=f"α={t['alpha']:g}")
    ax1.set(
        title="Figure 5: targeted FGSM, random target",
        xlabel="ε (L∞)",
        ylabel="target hit rate",
        ylim=(-0.02, 1.02),
    )
    ax1.legend(fontsize=6, ncol=2)
    ax2.set(
        title=f"Figure 6: per target class (CE, ε={results['config']['target_eps']:g})",
        xlabel="target class",
        ylabel="target hit rate",
        ylim=(0, 1.02),
    )
    ax2.set_xticks([c + 0.4 - width / 2 for c in range(k)], [str(c) for c in range(k)])
    ax2.legend(fontsize=6)
    caption = "Figures 5-6: targeted FGSM hit rate (dashed: logit-margin loss) and per target class."
    figures.append(figure_entry(fig, out, "fig5_6_targeted.png", caption))

    fig, axes2 = plt.subplots(1, 2, figsize=(11, 3.8), squeeze=False)
    for ax, clip in zip(axes2.flat, (False, True), strict=False):
        for s in results["scaling"]:
            if s["clip"] == clip:
                line = ax.plot(eps, s["fgsm"], "o-", label=f"s={s['scale']:g}")[0]
                ax.plot(eps, s["fgsm_margin"], "x--", color=line.get_color())
        title = f"Figure 7: input scaled by s, {'with' if clip else 'without'} clipping"
        ylabel = "FGSM accuracy (dashed: margin)"
        finish_axes(ax, title=title, xlabel="ε (L∞)", ylabel=ylabel, ylim=_ACCURACY["ylim"])
    caption = (
        "Figure 7: FGSM accuracy of the ReLU model fed s·x, without and with clipping to [0, 1] "
        "(dashed: logit-margin FGSM)."
    )
    figures.append(figure_entry(fig, out, "fig7_scaling.png", caption))

    fig, ax = plt.subplots(figsize=(6, 4))
    curves = {(c["alpha"], c["attack"]): c["accuracy"] for c in results["curves"]}
    for s in results["surrogate"]:
        line = ax.plot(eps, s["pgd"], "o-", label=f"α={s['alpha']:g} surrogate PGD")[0]
        ax.plot(eps, curves[(s["alpha"], "pgd")], ":", color=line.get_color())
    title = "Figure 8: surrogate transfer (dotted: white-box PGD)"
    finish_axes(ax, title=title, xlabel="ε (L∞)", **_ACCURACY)
    caption = (
        "Figure 8: PGD crafted on a surrogate trained to match the defended logits, evaluated on the "
        "defended model (dotted: white-box PGD on it)."
    )
    figures.append(figure_entry(fig, out, "fig8_surrogate.png", caption))

    n = len(results["tsne"])
    fig, axes3 = plt.subplots(1, n, figsize=(3 * n, 3), squeeze=False)
    for ax, t in zip(axes3.flat, results["tsne"], strict=False):
        xy = list(zip(*t["coords"], strict=False))
        ax.scatter(xy[0], xy[1], c=t["labels"], cmap="tab10", s=6, vmin=0, vmax=9)
        ax.set(title=f"α={t['alpha']:g} (sil. {t['silhouette_tsne']:.2f})", xticks=[], yticks=[])
    caption = f"Figure 9: t-SNE of the last hidden layer for α ∈ {alphas}, coloured by true label."
    figures.append(figure_entry(fig, out, "fig9_tsne.png", caption))
    return figures
