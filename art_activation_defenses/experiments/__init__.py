"""Scripted evaluations: the demo and one reproduction per paper.

>>> from art_activation_defenses.experiments import reproduce
>>> results = reproduce("jumprelu", quick=True, out="out/jumprelu")
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from art_activation_defenses.experiments.demo import DemoConfig, run_demo
from art_activation_defenses.experiments.report import render_results_markdown, write_tables_csv
from art_activation_defenses.experiments.runner import ExperimentContext

__all__ = ["DemoConfig", "run_demo", "reproduce", "REPRODUCTIONS", "available_reproductions"]

#: Reproduction name -> (module, one-line description).
REPRODUCTIONS: dict[str, tuple[str, str]] = {
    "jumprelu": (
        "art_activation_defenses.experiments.jumprelu",
        "JumpReLU (Erichson et al. 2019): Tables 1-4, Figures 4-8",
    ),
    "brelu-gda": (
        "art_activation_defenses.experiments.brelu_gda",
        "Bounded ReLU + Gaussian augmentation (Zantedeschi et al. 2017)",
    ),
    "srelu": (
        "art_activation_defenses.experiments.srelu",
        "Sloped ReLU (Borji 2020), with BPDA/surrogate transfer",
    ),
    "capped": ("art_activation_defenses.experiments.capped", "Capped ReLU (Sooksatra et al. 2023)"),
}


def available_reproductions() -> dict[str, str]:
    """Name -> description of every reproduction."""
    return {name: desc for name, (_, desc) in REPRODUCTIONS.items()}


def reproduce(
    name: str,
    *,
    quick: bool = False,
    data_dir: str | None = None,
    out: str | Path | None = None,
    seed: int = 0,
    verbose: bool = True,
    dataset: str | None = None,
) -> dict[str, Any]:
    """Run one paper's reproduction; resumable (finished cells are kept in ``out/cells.json``).

    Writes ``results.json``, ``results.md``, one CSV per table and the PNG figures into ``out``.

    :param name: One of :data:`REPRODUCTIONS` (``"jumprelu"``, ``"brelu-gda"``, ``"srelu"``, ``"capped"``).
    :param quick: Small data and grids (digits or a subset), < 3 minutes on 2 cores.
    :param data_dir: Folder with the real datasets (e.g. ``shared/datasets/mnist``); full runs need it.
    :param out: Output folder (default ``results/<name>`` or ``results/<name>-quick``).
    :param seed: Seed of everything random.
    :param verbose: Progress bars.
    :param dataset: A variant on another dataset, where the reproduction has one (``"cifar10"`` for
        ``"jumprelu"``); ``None`` runs the paper's main dataset. Default ``out`` then gets the
        dataset as suffix.
    :return: The results dict (as written to ``results.json``).
    """
    if name not in REPRODUCTIONS:
        raise ValueError(f"Unknown reproduction `name={name!r}`; expected one of {sorted(REPRODUCTIONS)}.")
    module = importlib.import_module(REPRODUCTIONS[name][0])
    variants = getattr(module, "DATASETS", None)
    if dataset is not None and (variants is None or dataset not in variants):
        raise ValueError(
            f"Reproduction {name!r} has no `dataset={dataset!r}` variant; "
            + (f"expected one of {sorted(variants)}." if variants else "it runs on its paper's dataset only.")
        )
    if out is None:
        out = Path("results") / (name + (f"-{dataset}" if dataset else "") + ("-quick" if quick else ""))
    table = (
        variants[dataset]
        if variants is not None and dataset is not None
        else getattr(module, "SETTINGS", None)
    )
    budgets = table.get(quick) if isinstance(table, dict) else None
    ctx = ExperimentContext(
        name,
        Path(out),
        data_dir=data_dir,
        quick=quick,
        seed=seed,
        verbose=verbose,
        settings={"dataset": dataset, "budgets": budgets},  # the cell store is keyed by these too
    )
    results: dict[str, Any] = module.run(ctx) if dataset is None else module.run(ctx, dataset=dataset)
    results.setdefault("name", name)
    path = ctx.write(results)
    import json

    stored = json.loads(path.read_text(encoding="utf-8"))
    if hasattr(module, "render"):
        stored["figures"] = module.render(stored, ctx.out)  # PNGs drawn from the stored JSON only
        ctx.write({k: v for k, v in stored.items() if k not in ("environment", "wall_seconds_this_run")})
        stored = json.loads(path.read_text(encoding="utf-8"))
    (ctx.out / "results.md").write_text(render_results_markdown(stored), encoding="utf-8")
    write_tables_csv(stored, ctx.out)
    return stored
