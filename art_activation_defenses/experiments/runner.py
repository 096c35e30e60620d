"""The runner: executes a :class:`~art_activation_defenses.experiments.protocol.Paper` spec, resumably.

An evaluation is a list of *cells* (plain dicts: model x defence parameter x attack x
scenario). :func:`run_grid` computes each cell not yet in the :class:`~.store.CellStore` (on an
:class:`Executor`: serially here, or on Ray) and stores it at once, so killing a run loses at most
the cells in progress and running the same command again recomputes nothing that was finished.
Trained models are cached the same way by :func:`cached_model`. :func:`run_paper` runs a spec:
data, models, steps, the assembled results and the claims ledger; :class:`ExperimentContext`
renders and writes them once.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from torch import nn
from tqdm.auto import tqdm

from art_activation_defenses._device import Device, resolve_device
from art_activation_defenses.experiments._common import environment, to_jsonable, write_json
from art_activation_defenses.experiments.protocol import (
    Data,
    ModelRecipe,
    Paper,
    Run,
    judge_claims,
    settings_tag,
)
from art_activation_defenses.experiments.store import CellStore, cell_key
from art_activation_defenses.training import load_checkpoint, save_checkpoint

__all__ = [
    "cell_key",
    "CellStore",
    "run_grid",
    "cached_model",
    "ExperimentContext",
    "Executor",
    "Compute",
    "Done",
    "SerialExecutor",
    "run_paper",
]

logger = logging.getLogger(__name__)


def run_grid(
    cells: Iterable[Mapping[str, Any]],
    compute: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    store: CellStore,
    *,
    desc: str = "cells",
    verbose: bool = True,
    executor: Executor | None = None,
) -> list[dict[str, Any]]:
    """Compute every cell missing from ``store``; return all records in ``cells`` order.

    :param cells: The grid, as dicts of JSON-serialisable parameters.
    :param compute: ``cell -> result dict``.
    :param store: Where finished cells live; cells already there are skipped.
    :param desc: Progress-bar label.
    :param verbose: Show a progress bar.
    :param executor: Runs the missing cells (``None``: one after another in this process). Whatever
        runs them, the results are stored by this process, each as soon as it arrives.
    """
    grid: list[dict[str, Any]] = [dict(c) for c in cells]
    keys = [cell_key(c) for c in grid]
    if len(set(keys)) != len(keys):
        raise ValueError("`cells` contains duplicate cells.")
    todo = [c for c in grid if c not in store]
    if len(todo) < len(grid):
        logger.info("%s: %d of %d cells already done, skipping them", desc, len(grid) - len(todo), len(grid))
    with tqdm(total=len(todo), desc=desc, disable=not verbose) as bar:

        def done(cell: Mapping[str, Any], result: Mapping[str, Any], seconds: float) -> None:
            store.put(cell, result, seconds)
            bar.update(1)

        (executor or SerialExecutor()).map(todo, compute, done)
    return [store.get(c) for c in grid]


#: ``cell -> result``: what an executor runs.
Compute = Callable[[Mapping[str, Any]], Mapping[str, Any]]
#: ``(cell, result, seconds) -> None``: called in the driver for each finished cell (it stores it).
Done = Callable[[Mapping[str, Any], Mapping[str, Any], float], None]


class Executor(Protocol):
    """Runs cells: calls ``done(cell, result, seconds)`` in the calling process for each finished one."""

    def map(self, cells: list[dict[str, Any]], compute: Compute, done: Done) -> None: ...


class SerialExecutor:
    """One cell after another, in this process (the default)."""

    def map(self, cells: list[dict[str, Any]], compute: Compute, done: Done) -> None:
        for cell in cells:
            start = time.perf_counter()
            result = compute(cell)
            done(cell, result, time.perf_counter() - start)


def cached_model(
    path: str | Path,
    build: Callable[[], nn.Module],
    train: Callable[[nn.Module], Mapping[str, Any]],
    *,
    settings: Mapping[str, Any] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a trained model from ``path`` or build, train and save it there.

    :param path: Checkpoint file (``state_dict`` + metadata; loaded with ``weights_only=True``).
    :param build: Returns the untrained architecture (called in both cases).
    :param train: Trains the model in place and returns metadata (plain types) to store.
    :param settings: The training settings (plain types). They are stored with the checkpoint,
        and a checkpoint trained with other settings is retrained (with a warning) instead of
        silently reused.
    :return: The model (eval mode) and its metadata (``{"cached": True, ...}`` when loaded).
    """
    path = Path(path)
    model = build()
    wanted = to_jsonable(dict(settings)) if settings is not None else None
    if path.exists():
        meta = load_checkpoint(model, path)
        if wanted is None or meta.get("settings") == wanted:
            model.eval()
            return model, {**meta, "cached": True}
        warnings.warn(
            f"{path} was trained with settings {meta.get('settings')}, not {wanted}: retraining it.",
            stacklevel=2,
        )
        model = build()
    start = time.perf_counter()
    meta = dict(train(model))
    meta.setdefault("train_seconds", round(time.perf_counter() - start, 1))
    if wanted is not None:
        meta["settings"] = wanted
    save_checkpoint(model, path, metadata=to_jsonable(meta))
    model.eval()
    return model, {**meta, "cached": False}


def _package_version() -> str:
    from art_activation_defenses import __version__

    return __version__


class ExperimentContext:
    """What a reproduction needs: output folder, data folder, quick flag, seed, a cell store.

    :param name: Reproduction name (``"jumprelu"``...).
    :param out: Output folder (``results.json``, ``results.md``, CSV/PNG, ``cells.json``, ``models/``).
    :param data_dir: Folder with the real datasets (``None``: digits only).
    :param quick: Small settings for a smoke run (< 3 minutes on 2 cores).
    :param seed: Seed of everything random.
    :param verbose: Progress bars.
    :param settings: Further settings the cells depend on (dataset, budgets); with name, quick,
        seed and the package/torch/ART versions they key the cell store (see :class:`CellStore`).
    :param device: Where models and classifiers live (``auto``: CUDA when available). Not part of
        the store's key: the same seeds give the same numbers up to floating-point reordering.
    :param executor: Runs the cells of :meth:`grid` (default: serially, in this process).
    """

    def __init__(
        self,
        name: str,
        out: str | Path,
        *,
        data_dir: str | None = None,
        quick: bool = False,
        seed: int = 0,
        verbose: bool = True,
        settings: Mapping[str, Any] | None = None,
        device: Device = "auto",
        executor: Executor | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.executor = executor
        self.name, self.out, self.data_dir = name, Path(out), data_dir
        self.quick, self.seed, self.verbose = quick, int(seed), verbose
        self.out.mkdir(parents=True, exist_ok=True)
        env = environment()
        keyed = {
            "name": name,
            "quick": bool(quick),
            "seed": int(seed),
            "package_version": _package_version(),
            "torch": env["torch"],
            "adversarial-robustness-toolbox": env["adversarial-robustness-toolbox"],
            # another thread count reorders floating-point sums: other numbers, so other cells
            "torch_threads": env["torch_threads"],
            **dict(settings or {}),
        }
        self.store = CellStore(
            self.out / "cells.json",
            meta={"name": name, "quick": quick, "seed": seed, "environment": env},
            settings=keyed,
        )
        self.started = time.perf_counter()
        self.cell_seconds = 0.0  # compute time of the cells requested so far, whichever run did them

    def model_path(self, tag: str) -> Path:
        """Checkpoint path for a trained model named ``tag``."""
        return self.out / "models" / f"{tag}.pt"

    def grid(
        self,
        cells: Iterable[Mapping[str, Any]],
        compute: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        desc: str,
    ) -> list[dict[str, Any]]:
        """:func:`run_grid` on this context's store."""
        records = run_grid(
            cells,
            compute,
            self.store,
            desc=f"{self.name}: {desc}",
            verbose=self.verbose,
            executor=self.executor,
        )
        self.cell_seconds += sum(float(r.get("seconds", 0.0)) for r in records)
        return records

    def elapsed(self) -> float:
        """Seconds since the context was created (this process)."""
        return time.perf_counter() - self.started

    def finalise(self, results: dict[str, Any]) -> dict[str, Any]:
        """``results`` in plain JSON types with seed, quick flag, environment, device, this run's wall
        time and the compute time of every cell in it (summed over the runs that computed them)."""
        final = {
            **results,
            "seed": self.seed,
            "quick": self.quick,
            "environment": {**environment(), "device": str(self.device)},
            "wall_seconds_this_run": self.elapsed(),
            "cell_seconds_all_runs": round(self.cell_seconds, 1),
        }
        return json.loads(json.dumps(to_jsonable(final)))  # type: ignore[no-any-return]

    def write(self, results: dict[str, Any]) -> Path:
        """Write ``results.json`` (:meth:`finalise`-d)."""
        return write_json(self.finalise(results), self.out / "results.json")

    def write_rendered(
        self,
        results: dict[str, Any],
        figures: Callable[[dict[str, Any], Path], list[Any]] | None = None,
    ) -> dict[str, Any]:
        """Render ``results`` once and write everything: the plain (JSON) form of the results gets
        its figures drawn from it, then ``results.json``, ``results.md`` and one CSV per table.
        Returns the results as written."""
        from art_activation_defenses.experiments.report import render_results_markdown, write_tables_csv

        stored = self.finalise(results)
        if figures is not None:
            stored["figures"] = figures(stored, self.out)  # PNGs drawn from the JSON form only
        write_json(stored, self.out / "results.json")
        (self.out / "results.md").write_text(render_results_markdown(stored), encoding="utf-8")
        write_tables_csv(stored, self.out)
        if stored.get("claims") is not None:
            from art_activation_defenses.experiments.report import render_claims_markdown

            (self.out / "claims.md").write_text(render_claims_markdown(stored), encoding="utf-8")
            write_json({"name": stored.get("name"), "claims": stored["claims"]}, self.out / "claims.json")
        return stored


def default_data(run: Run) -> Data:
    """The data of most specs: ``cfg["dataset"]`` (digits needs no files), the first ``n_val`` of the
    first ``n_train`` training images held out for validation, the first ``n_eval`` test images to attack."""
    from art_activation_defenses.data import dataset_info, load_dataset

    cfg = run.cfg
    name = cfg["dataset"]
    data_dir = None if name == "digits" else run.ctx.data_dir
    x_all, y_all = load_dataset(name, data_dir, "train", limit=cfg.get("n_train"))
    n_val = int(cfg.get("n_val") or 0)
    x_test, y_test = load_dataset(name, data_dir, "test")
    n_eval = cfg.get("n_eval")
    return Data(
        info=dataset_info(name),
        x_train=x_all[n_val:],
        y_train=y_all[n_val:],
        x_val=x_all[:n_val],
        y_val=y_all[:n_val],
        x_test=x_test,
        y_test=y_test,
        x=x_test[:n_eval],
        y=y_test[:n_eval],
    )


def train_models(run: Run, recipes: Mapping[str, ModelRecipe]) -> None:
    """Train (or load from the checkpoint cache) every recipe, in order, onto ``run.device``."""
    for name, recipe in recipes.items():
        path = run.ctx.model_path(f"{recipe.tag}-{settings_tag(recipe.settings)}")
        model, meta = cached_model(
            path,
            lambda r=recipe: r.build(run),  # type: ignore[misc]
            lambda m, r=recipe: r.train(run, m),  # type: ignore[misc]
            settings=recipe.settings,
        )
        run.models[name] = model.to(run.device)
        run.model_info[name] = meta


def run_paper(paper: Paper, ctx: ExperimentContext, dataset: str | None = None) -> dict[str, Any]:
    """Execute ``paper``'s spec in ``ctx``: data, models, every step's cells (resumable), then the
    results dict (``name``, ``title``, ``summary``, ``tables``, ``notes`` as a list, and the data)."""
    run = Run(ctx=ctx, cfg=paper.config(dataset, ctx.quick), dataset=dataset)
    run.data = (paper.data or default_data)(run)
    if paper.models is not None:
        train_models(run, paper.models(run))
    if paper.prepare is not None:
        paper.prepare(run)
    for step in paper.steps:
        run.records[step.name] = ctx.grid(
            step.cells(run),
            lambda cell, s=step: s.compute(run, cell),  # type: ignore[misc]
            step.label,
        )
    data = paper.assemble(run)
    results = {
        "name": paper.name,
        "title": paper.title(run),
        "summary": paper.summary(data),
        "tables": paper.tables(data),
        "notes": list(paper.notes(data)),
        **data,
    }
    if paper.claims is not None:
        results["claims"] = judge_claims(paper.claims(data), data)
    return results
