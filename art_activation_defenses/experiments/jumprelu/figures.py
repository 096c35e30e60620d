"""Figures of the JumpReLU reproduction, drawn from the stored results JSON only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from art_activation_defenses.experiments.report import save_figure

__all__ = ["render"]


def _save(fig: Any, out: Path, name: str) -> str:
    return save_figure(fig, out, name, dpi=100)


def _abs_delta(adv: Any, clean: np.ndarray) -> np.ndarray:
    """|δ| per pixel; for colour images the largest channel (one heat map per image)."""
    delta = np.abs(np.asarray(adv) - clean)
    return delta.max(axis=-1) if delta.ndim == 4 else delta


def render(results: dict[str, Any], out_dir: str | Path) -> list[dict[str, str]]:
    """Draw Figures 4, 5/6, 7 and 8 as PNGs into ``out_dir``.

    :param results: The stored ``results.json`` of the JumpReLU reproduction.
    :param out_dir: Output folder.
    :return: ``[{"file", "caption"}]`` of the figures written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures: list[dict[str, str]] = []
    kappa = results["kappa"]

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for m, t in results["tradeoff"].items():
        rho = [np.nan if v is None else v for v in t["rho"]]
        rho_b = [np.nan if v is None else v for v in t["rho_bpda"]]
        axes[0].plot(t["values"], t["accuracy"], "o-", label=m)
        axes[1].plot(t["values"], rho, "o-", label=f"{m} white-box")
        axes[1].plot(t["values"], rho_b, "x--", label=f"{m} BPDA")
    axes[0].set(xlabel="κ", ylabel="validation accuracy", title="accuracy")
    axes[1].set(xlabel="κ", ylabel="ρ (DeepFool L2)", title="robustness")
    for ax in axes:
        ax.axvline(kappa, color="grey", ls=":")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figures.append(
        {
            "file": _save(fig, out, "fig4_kappa_tradeoff.png"),
            "caption": "Figure 4: κ trade-off (validation accuracy and DeepFool-L2 ρ, white-box and BPDA).",
        }
    )

    for m, im in results["images"].items():
        clean = np.asarray(im["clean"])
        n = len(clean)
        rows = [
            ("clean", clean, im["labels"]),
            ("adv. ReLU", np.clip(np.asarray(im["adv_relu"]), 0.0, 1.0), im["pred_relu"]),
            ("|δ| ReLU", _abs_delta(im["adv_relu"], clean), None),
            ("adv. JumpReLU", np.clip(np.asarray(im["adv_jump"]), 0.0, 1.0), im["pred_jump"]),
            ("|δ| JumpReLU", _abs_delta(im["adv_jump"], clean), None),
        ]
        fig, axes = plt.subplots(len(rows), n, figsize=(1.4 * n, 1.5 * len(rows)), squeeze=False)
        for i, (label, imgs, preds) in enumerate(rows):
            vmax = 1.0 if preds is not None else max(float(imgs.max()), 1e-6)
            for j in range(n):
                ax = axes[i, j]
                ax.imshow(imgs[j], cmap="gray" if preds is not None else "magma", vmin=0.0, vmax=vmax)
                ax.set_xticks([])
                ax.set_yticks([])
                if preds is not None:
                    ax.set_title(str(preds[j]), fontsize=8)
            axes[i, 0].set_ylabel(label, fontsize=7)
        name = f"fig5_6_images_{m}.png"
        figures.append(
            {
                "file": _save(fig, out, name),
                "caption": f"Figures 5/6 ({m}): clean images, DeepFool-L2 adversarials and |δ| on ReLU and "
                f"on JumpReLU κ={kappa:g} (titles: label / predicted class).",
            }
        )

    mat = np.asarray(results["matrix"]["accuracy"], dtype=float)
    ks = results["matrix"]["kappas"]
    fig, ax = plt.subplots(figsize=(4.5, 3.8))
    img = ax.imshow(mat, vmin=0.0, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(ks)), [f"{v:g}" for v in ks])
    ax.set_yticks(range(len(ks)), [f"{v:g}" for v in ks])
    ax.set(xlabel="κ target (evaluated)", ylabel="κ source (crafted)", title="PGD accuracy, gray-box")
    for i in range(len(ks)):
        for j in range(len(ks)):
            ax.text(j, i, f"{mat[i, j]:.2f}", ha="center", va="center", fontsize=7, color="w")
    fig.colorbar(img, ax=ax)
    figures.append(
        {
            "file": _save(fig, out, "fig7_kappa_matrix.png"),
            "caption": "Figure 7: gray-box κ×κ accuracy matrix (base model).",
        }
    )

    fig, axes = plt.subplots(
        1, len(results["iterations"]), figsize=(4.5 * len(results["iterations"]), 3.5), squeeze=False
    )
    for ax, (m, it) in zip(axes.flat, results["iterations"].items(), strict=True):
        for key, label in (
            ("relu", "ReLU"),
            ("jump", f"JumpReLU κ={kappa:g}"),
            ("jump_bpda", "JumpReLU BPDA"),
        ):
            ax.plot(it["iterations"], it[key], "o-", label=label)
        ax.set(xlabel="PGD iterations", ylabel="accuracy", title=m, ylim=(-0.02, 1.02))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    figures.append(
        {
            "file": _save(fig, out, "fig8_pgd_iterations.png"),
            "caption": "Figure 8: PGD accuracy vs iterations (white-box and BPDA on JumpReLU).",
        }
    )
    return figures
