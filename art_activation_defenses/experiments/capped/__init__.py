"""Reproduction of the capped-ReLU paper (Sooksatra et al. 2023) with the attacks that could refute it.

MNIST MLPs 392-196 ("general"), 196-392 ("reversed") and 784-784 ("equal") are trained with the
first, the second or both hidden activations capped, ``min(max(0, x), β)``, for a few β, plus the
ReLU networks capped at their own per-layer maxima ("max"). Per model: clean accuracy (Figure 2),
FGSM/PGD accuracy and attack success (Figures 4-6) beside BPDA, margin-loss and transfer attacks,
per-layer perturbation growth (Figure 1), zero-gradient distance (Figures 8-10) and sensitivity
(Figure 11); Table 1 crosses no / FGSM / PGD adversarial training with β (FGSM, PGD, C&W-L2).
Figures 4-6 and 1 are also run as the paper runs them (trained at an initial β, evaluated over
max values; PGD crafted on an uncapped 3-hidden-layer net). A tiny β saturates the cap: the exact
gradient is zero almost everywhere, so white-box gradient attacks stall while BPDA and the margin
loss do not.
"""

from __future__ import annotations

from typing import Any

from art_activation_defenses.experiments.capped._render import render
from art_activation_defenses.experiments.capped.cells import (
    SETTINGS,
    advtrain_cell,
    eval_cell,
    fig1_cell,
    prepare,
    protocol_cell,
    recipes,
)
from art_activation_defenses.experiments.capped.claims import claims
from art_activation_defenses.experiments.capped.tables import assemble, notes, summary, tables
from art_activation_defenses.experiments.protocol import Paper, Run, Step

__all__ = ["SPEC", "SETTINGS", "render"]


def _base(run: Run) -> dict[str, Any]:
    return {"dataset": run.cfg["dataset"], "n": run.cfg["n_eval"], "eps": run.cfg["eps"]}


def _eval_cells(run: Run) -> list[dict[str, Any]]:
    cfg, out = run.cfg, []
    for arch, hidden in cfg["archs"].items():
        grid = [("relu", "relu")] + [(p, b) for p in ("hl1", "hl2", "both") for b in cfg["betas"]]
        out += [
            {**_base(run), "part": "eval", "arch": arch, "hidden": list(hidden), "place": p, "beta": b}
            for p, b in grid
        ]
    return out


def _advtrain_cells(run: Run) -> list[dict[str, Any]]:
    cfg = run.cfg
    cw = {k: cfg[k] for k in ("cw_n", "cw_iter", "cw_bss", "cw_const", "cw_lr")}
    return [
        {**_base(run), "part": "advtrain", "training": t, "beta": b, "place": cfg["adv_place"], "cw": cw}
        for t in ("none", "fgsm", "pgd")
        for b in cfg["adv_betas"]
    ]


def _protocol_cells(run: Run) -> list[dict[str, Any]]:
    cfg = run.cfg
    return [
        {
            **_base(run),
            "part": "protocol",
            "arch": a,
            "place": p,
            "init_beta": i,
            "eval_beta": e,
            "steps": cfg["proto_iter"],
            "step": cfg["proto_step"],
        }
        for a in cfg["archs"]
        for p in ("hl1", "hl2", "both")
        for i in cfg["init_betas"]
        for e in cfg["eval_betas"]
    ]


def _fig1_cells(run: Run) -> list[dict[str, Any]]:
    cfg = run.cfg
    base = {**_base(run), "part": "fig1", "hidden": list(cfg["fig1_hidden"]), "eps": cfg["fig1_eps"]}
    grid = [("relu", "relu")] + [(p, b) for p in cfg["fig1_places"] for b in cfg["fig1_betas"]]
    return [{**base, "place": p, "beta": b} for p, b in grid]


def _title(run: Run) -> str:
    return "Capped ReLU (Sooksatra et al. 2023) on " + (
        "scikit-learn digits (quick)" if run.quick else "MNIST"
    )


SPEC = Paper(
    name="capped",
    description="Capped ReLU (Sooksatra et al. 2023)",
    settings={None: SETTINGS},
    models=recipes,
    prepare=prepare,
    steps=[
        Step("models", "models", _eval_cells, eval_cell),
        Step("advtrain", "Table 1", _advtrain_cells, advtrain_cell),
        Step("protocol", "Figures 4-6 (paper's protocol)", _protocol_cells, protocol_cell),
        Step("fig1", "Figure 1 (paper's protocol)", _fig1_cells, fig1_cell),
    ],
    assemble=assemble,
    tables=tables,
    summary=summary,
    notes=notes,
    title=_title,
    figures=render,
    claims=claims,
)
