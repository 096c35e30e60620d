"""Figures of the capped-ReLU reproduction, drawn from the stored results JSON only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from art_activation_defenses.experiments.report import figure_entry, figure_folder, finish_axes

__all__ = ["render"]

_PLACES = ("hl1", "hl2", "both")


def _entry(fig: Any, out: Path, name: str, caption: str) -> dict[str, str]:
    return figure_entry(fig, out, name, caption, dpi=100)


def _num(v: Any) -> float:
    return float("nan") if v is None else float(v)


def _vs_beta(
    results: dict[str, Any],
    out: Path,
    name: str,
    series: list[tuple[str, str, str]],
    ylabel: str,
    caption: str,
) -> dict[str, str]:
    """One panel per architecture: each (key, style, label) series against β, per capped placement."""
    import matplotlib.pyplot as plt

    archs = list(results["config"]["archs"])
    betas = [str(b) for b in results["config"]["betas"]]
    fig, axes = plt.subplots(1, len(archs), figsize=(4.3 * len(archs), 3.4), squeeze=False)
    for ax, arch in zip(axes.flat, archs, strict=True):
        rows = [r for r in results["models"] if r["arch"] == arch]
        relu = next(r for r in rows if r["place"] == "relu")
        for place in _PLACES:
            by_beta = {r["beta"]: r for r in rows if r["place"] == place}
            for key, style, label in series:
                ax.plot(
                    range(len(betas)), [_num(by_beta[b][key]) for b in betas], style, label=f"{place} {label}"
                )
        for key, _, _label in series:
            ax.axhline(_num(relu[key]), color="grey", ls=":", lw=1)
        ax.set_xticks(range(len(betas)), betas)
        title = f"{arch} {tuple(results['config']['archs'][arch])} (dotted: ReLU)"
        finish_axes(ax, legend_size=None, title=title, xlabel="β", ylabel=ylabel)
    axes.flat[0].legend(fontsize=6)
    return _entry(fig, out, name, caption)


def render(results: dict[str, Any], out_dir: str | Path) -> list[dict[str, str]]:
    """Draw Figures 1, 2, 4-6, 8-10 and 11 as PNGs into ``out_dir``.

    :param results: The stored ``results.json`` of the capped-ReLU reproduction.
    :param out_dir: Output folder.
    :return: ``[{"file", "caption"}]`` of the figures written.
    """
    out = figure_folder(out_dir)
    import matplotlib.pyplot as plt

    general = [r for r in results["models"] if r["arch"] == "general"]
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for r in general:
        if r["place"] in ("relu", "both"):
            ax.plot(
                r["growth"]["layers"], r["growth"]["l2_growth"], "o-", label=f"{r['place']} β={r['beta']}"
            )
    ax.tick_params(axis="x", labelsize=7)
    ylabel = "L2 perturbation / input perturbation"
    finish_axes(ax, yscale="log", ylabel=ylabel, title="general MLP: perturbation growth")
    caption = "Figure 1: per-layer L2 perturbation growth (general MLP, ReLU vs both layers capped)."
    figures = [_entry(fig, out, "fig1_growth.png", caption)]
    figures.append(
        _vs_beta(
            results,
            out,
            "fig2_accuracy.png",
            [("clean", "o-", "clean")],
            "clean accuracy",
            "Figure 2: clean accuracy vs β per capped placement.",
        )
    )
    figures.append(
        _vs_beta(
            results,
            out,
            "fig4_6_robustness.png",
            [("pgd_white_box", "o-", "PGD white-box"), ("pgd_worst", "x--", "PGD worst adaptive")],
            "accuracy",
            "Figures 4-6: PGD accuracy vs β, white-box (solid) and the worst of "
            "BPDA/margin/transfer (dashed).",
        )
    )
    figures.append(
        _vs_beta(
            results,
            out,
            "fig8_10_zero_gradient.png",
            [("zg_distance", "o-", "distance")],
            "mean L2 distance to a zero gradient",
            "Figures 8-10: L2 distance PGD travels before the gradient vanishes.",
        )
    )

    maps = [(r, r["sensitivity"]["mean_map"]) for r in general if r.get("sensitivity", {}).get("mean_map")]
    if maps:
        fig, axes = plt.subplots(1, len(maps), figsize=(1.6 * len(maps), 2.0), squeeze=False)
        for ax, (r, m) in zip(axes.flat, maps, strict=True):
            ax.imshow(np.asarray(m), cmap="inferno")
            ax.set_title(f"{r['place']}\nβ={r['beta']}", fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
        caption = (
            "Figure 11: mean sensitivity map (eq. 2, exact gradients, each normalised to its maximum) of "
            "the general MLP per capped placement and β."
        )
        figures.append(_entry(fig, out, "fig11_sensitivity.png", caption))
    return figures
