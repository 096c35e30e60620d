"""Figures of the JumpReLU reproduction, drawn from the stored results JSON only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from art_activation_defenses.experiments.report import save_figure

__all__ = ["render"]


def _abs_delta(adv: Any, clean: np.ndarray) -> np.ndarray:
    """|δ| per pixel; for colour images the largest channel (one heat map per image)."""
    delta = np.abs(np.asarray(adv) - clean)
    return delta.max(axis=-1) if delta.ndim == 4 else delta


def render(results: dict[str, Any], out_dir: str | Path) -> list[dict[str, str]]:
    """Draw Figures 4, 5/6, 7 and 8 as PNGs into ``out_dir``; returns ``[{"file", "caption"}]``.

    :param results: The stored ``results.json`` of the JumpReLU reproduction.
    :param out_dir: Output folder.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out, kappa, figures = Path(out_dir), results["kappa"], []
    out.mkdir(parents=True, exist_ok=True)

    def save(fig: Any, name: str, caption: str) -> None:
        figures.append({"file": save_figure(fig, out, name, dpi=100), "caption": caption})

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for m, t in results["tradeoff"].items():
        axes[0].plot(t["values"], t["accuracy"], "o-", label=m)
        for key, style, label in (("rho", "o-", "white-box"), ("rho_bpda", "x--", "BPDA")):
            rho = [np.nan if v is None else v for v in t[key]]
            axes[1].plot(t["values"], rho, style, label=f"{m} {label}")
    axes[0].set(xlabel="κ", ylabel="validation accuracy", title="accuracy")
    axes[1].set(xlabel="κ", ylabel="ρ (DeepFool L2)", title="robustness")
    for ax in axes:
        ax.axvline(kappa, color="grey", ls=":")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save(fig, "fig4_kappa_tradeoff.png",
         "Figure 4: κ trade-off (validation accuracy and DeepFool-L2 ρ, white-box and BPDA).")  # fmt: skip

    for m, im in results["images"].items():
        clean = np.asarray(im["clean"])
        rows = [("clean", clean, im["labels"]),
                ("adv. ReLU", np.clip(np.asarray(im["adv_relu"]), 0.0, 1.0), im["pred_relu"]),
                ("|δ| ReLU", _abs_delta(im["adv_relu"], clean), None),
                ("adv. JumpReLU", np.clip(np.asarray(im["adv_jump"]), 0.0, 1.0), im["pred_jump"]),
                ("|δ| JumpReLU", _abs_delta(im["adv_jump"], clean), None)]  # fmt: skip
        n = len(clean)
        fig, axes = plt.subplots(len(rows), n, figsize=(1.4 * n, 1.5 * len(rows)), squeeze=False)
        for i, (label, imgs, preds) in enumerate(rows):
            vmax = 1.0 if preds is not None else max(float(imgs.max()), 1e-6)
            for j, ax in enumerate(axes[i]):
                ax.imshow(imgs[j], cmap="gray" if preds is not None else "magma", vmin=0.0, vmax=vmax)
                ax.set_xticks([])
                ax.set_yticks([])
                if preds is not None:
                    ax.set_title(str(preds[j]), fontsize=8)
            axes[i, 0].set_ylabel(label, fontsize=7)
        save(fig, f"fig5_6_images_{m}.png", f"Figures 5/6 ({m}): clean images, DeepFool-L2 adversarials and "
             f"|δ| on ReLU and on JumpReLU κ={kappa:g} (titles: label / predicted class).")  # fmt: skip

    mat, ks = np.asarray(results["matrix"]["accuracy"], dtype=float), results["matrix"]["kappas"]
    fig, ax = plt.subplots(figsize=(4.5, 3.8))
    img = ax.imshow(mat, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(ks)), [f"{v:g}" for v in ks])
    ax.set_yticks(range(len(ks)), [f"{v:g}" for v in ks])
    ax.set(xlabel="κ target (evaluated)", ylabel="κ source (crafted)", title="PGD accuracy, gray-box")
    for (i, j), v in np.ndenumerate(mat):
        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(img, ax=ax)
    save(fig, "fig7_kappa_matrix.png", "Figure 7: gray-box κ×κ accuracy matrix (base model).")

    its = results["iterations"]
    fig, axes = plt.subplots(1, len(its), figsize=(4.5 * len(its), 3.5), squeeze=False)
    for ax, (m, it) in zip(axes.flat, its.items(), strict=True):
        for key, label in (("relu", "ReLU"), ("jump", f"JumpReLU κ={kappa:g}"),
                           ("jump_bpda", "JumpReLU BPDA")):
            ax.plot(it["iterations"], it[key], "o-", label=label)
        ax.set(xlabel="PGD iterations", ylabel="accuracy", title=m, ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    save(fig, "fig8_pgd_iterations.png",
         "Figure 8: PGD accuracy vs iterations (white-box and BPDA on JumpReLU).")
    return figures
