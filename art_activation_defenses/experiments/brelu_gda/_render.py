"""Figures of the BReLU + GDA reproduction, drawn from the stored results JSON only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from art_activation_defenses.experiments.report import figure_entry, figure_folder, finish_axes

__all__ = ["render"]


def render(results: dict[str, Any], out_dir: str | Path) -> list[dict[str, str]]:
    """Draw Figure 1 (minimal perturbations), Figure 2 (toy study) and Figure 3 (FGSM vs ε).

    :param results: The stored ``results.json`` of the ``brelu-gda`` reproduction.
    :param out_dir: Output folder.
    :return: ``[{"file", "caption"}]`` of the figures written.
    """
    out = figure_folder(out_dir)
    import matplotlib.pyplot as plt

    eps = results["config"]["eps"]

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for m in results["models"].values():
        style = "o-" if m["label"].startswith("CNN") else "s--"
        ax.plot([0.0, *eps], [m["clean"], *m["fgsm"]], style, label=m["label"])
    title = "Figure 3: white-box FGSM accuracy vs ε"
    finish_axes(ax, xlabel="ε (L∞)", ylabel="accuracy", ylim=(-0.02, 1.02), title=title)
    caption = "Figure 3: white-box FGSM accuracy vs ε for every defence."
    figures = [figure_entry(fig, out, "fig3_fgsm_vs_eps.png", caption)]

    f1 = results["figure1"]
    clean = np.asarray(f1["clean"], dtype=float)[:, 0]
    rows = [("clean", clean, None)]
    for key, label in (("cnn/plain", "CNN"), ("cnn/gda_brelu", "GDA+BRELU")):
        adv = np.asarray(f1[key]["adv"], dtype=float)[:, 0]
        rows += [(f"{label} adversarial", adv, f1[key]), (f"{label} |δ|", np.abs(adv - clean), None)]
    n = clean.shape[0]
    fig, axes = plt.subplots(len(rows), n, figsize=(1.2 * n, 1.3 * len(rows)), squeeze=False)
    for r, (label, imgs, info) in enumerate(rows):
        for c in range(n):
            ax = axes[r, c]
            ax.imshow(
                imgs[c], cmap="gray", vmin=0, vmax=1 if "|δ|" not in label else max(float(imgs.max()), 1e-6)
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if info is not None:
                ax.set_title(f"ρ={info['ratio'][c]:.2f}" if info["flipped"][c] else "not fooled", fontsize=6)
        axes[r, 0].set_ylabel(label, fontsize=6)
    caption = (
        "Figure 1: minimal FGSM perturbations fooling the first ten test images, plain CNN vs GDA+BRELU "
        "(ρ = ‖δ‖₂/‖x‖₂)."
    )
    figures.append(figure_entry(fig, out, "fig1_minimal_perturbations.png", caption))

    toy = results["toy"]
    methods = list(next(iter(toy.values()))["methods"])
    fig, axes = plt.subplots(
        len(toy), len(methods), figsize=(2.6 * len(methods), 2.6 * len(toy)), squeeze=False
    )
    for r, (dname, t) in enumerate(toy.items()):
        lo, hi = t["extent"]
        xy = np.asarray(t["x"])
        for c, method in enumerate(methods):
            ax = axes[r, c]
            proba = np.asarray(t["methods"][method]["proba"])
            ax.contourf(
                np.linspace(lo, hi, proba.shape[0]),
                np.linspace(lo, hi, proba.shape[0]),
                proba,
                levels=np.linspace(0, 1, 11),
                cmap="RdBu_r",
                alpha=0.8,
            )
            ax.contour(
                np.linspace(lo, hi, proba.shape[0]),
                np.linspace(lo, hi, proba.shape[0]),
                proba,
                levels=[0.5],
                colors="k",
                linewidths=1,
            )
            ax.scatter(xy[:, 0], xy[:, 1], c=t["y"], cmap="bwr", s=3, edgecolors="none")
            ax.set(
                xticks=[], yticks=[], title=f"{dname}: {method}\nacc {t['methods'][method]['accuracy']:.2f}"
            )
            ax.title.set_fontsize(7)
    caption = (
        "Figure 2: decision regions and confidence contours (P(class 1), 0.1 steps; black: boundary) of "
        "the MLP trained plain and with one extra point per sample."
    )
    figures.append(figure_entry(fig, out, "fig2_toy.png", caption))
    return figures
