"""Scripted evaluations: the demo and one reproduction per paper.

>>> from art_activation_defenses.experiments import reproduce
>>> results = reproduce("jumprelu", quick=True, out="out/jumprelu")
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from art_activation_defenses._device import Device
from art_activation_defenses.experiments.demo import DemoConfig, run_demo
from art_activation_defenses.experiments.protocol import Paper
from art_activation_defenses.experiments.runner import ExperimentContext, run_paper

__all__ = ["DemoConfig", "run_demo", "reproduce", "spec", "REPRODUCTIONS", "available_reproductions"]

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
    device: Device = "auto",
    workers: int | None = None,
    ray_address: str | None = None,
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
    :param device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    :param workers: Run the cells on a local Ray with this many workers (needs the ``ray`` extra);
        ``None`` runs them one after another in this process. Results are identical either way.
    :param ray_address: Run the cells on an existing Ray cluster at this address instead.
    :return: The results dict (as written to ``results.json``).
    """
    if name not in REPRODUCTIONS:
        raise ValueError(f"Unknown reproduction `name={name!r}`; expected one of {sorted(REPRODUCTIONS)}.")
    paper = spec(name)
    cfg = paper.config(dataset, quick)  # raises for an unknown variant before anything is written
    if out is None:
        out = Path("results") / (name + (f"-{dataset}" if dataset else "") + ("-quick" if quick else ""))
    executor = None
    if workers is not None or ray_address is not None:
        from art_activation_defenses.experiments.distributed import RayExecutor

        executor = RayExecutor(workers=workers, address=ray_address)
    ctx = ExperimentContext(
        name,
        Path(out),
        data_dir=data_dir,
        quick=quick,
        seed=seed,
        verbose=verbose,
        settings={"dataset": dataset, "budgets": cfg},  # the cell store is keyed by these too
        device=device,
        executor=executor,
    )
    try:
        results = run_paper(paper, ctx, dataset)
    finally:
        if executor is not None:
            executor.close()
    return ctx.write_rendered(results, paper.figures)


def spec(name: str) -> Paper:
    """The :class:`~art_activation_defenses.experiments.protocol.Paper` spec of a reproduction."""
    if name not in REPRODUCTIONS:
        raise ValueError(f"Unknown reproduction `name={name!r}`; expected one of {sorted(REPRODUCTIONS)}.")
    return importlib.import_module(REPRODUCTIONS[name][0]).SPEC  # type: ignore[no-any-return]
