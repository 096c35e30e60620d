"""Resumable evaluation grids: every finished cell is on disk before the next one starts.

An evaluation is a list of *cells* (plain dicts: model x defence parameter x attack x
scenario). :func:`run_grid` computes each cell not yet in the :class:`CellStore` and writes
it at once (atomically), so killing a run loses at most the cell in progress and running
the same command again recomputes nothing that was finished. Trained models are cached the
same way by :func:`cached_model`.
"""

from __future__ import annotations

import json
import logging
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from torch import nn
from tqdm.auto import tqdm

from art_activation_defenses.experiments._common import environment, to_jsonable, write_json
from art_activation_defenses.training import load_checkpoint, save_checkpoint

__all__ = ["cell_key", "CellStore", "run_grid", "cached_model", "ExperimentContext"]

logger = logging.getLogger(__name__)


def cell_key(cell: Mapping[str, Any]) -> str:
    """Stable identity of a cell: its parameters as sorted, compact JSON."""
    return json.dumps(to_jsonable(dict(cell)), sort_keys=True, separators=(",", ":"))


class CellStore:
    """A JSON file of finished cells, keyed by :func:`cell_key`; rewritten after each cell.

    :param path: The JSON file (created with its folder when missing).
    :param meta: Facts recorded once with the store (seed, versions, config).
    """

    def __init__(self, path: str | Path, *, meta: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path)
        self._data: dict[str, Any] = {"meta": dict(meta or {}), "cells": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"Cell store {self.path} is not valid JSON ({err}); move it away to start over."
                ) from err
            if not isinstance(loaded, dict) or "cells" not in loaded:
                raise ValueError(f"{self.path} is not a cell store (no 'cells' key).")
            self._data = loaded
            self._data.setdefault("meta", {}).update(
                {k: v for k, v in (meta or {}).items() if k not in self._data["meta"]}
            )

    def __contains__(self, cell: Mapping[str, Any]) -> bool:
        return cell_key(cell) in self._data["cells"]

    def __len__(self) -> int:
        return len(self._data["cells"])

    def get(self, cell: Mapping[str, Any]) -> dict[str, Any]:
        """The stored record of ``cell`` (``{"cell", "result", "seconds", "finished"}``)."""
        return self._data["cells"][cell_key(cell)]  # type: ignore[no-any-return]

    def put(self, cell: Mapping[str, Any], result: Mapping[str, Any], seconds: float) -> None:
        """Store ``result`` for ``cell`` and write the file now."""
        self._data["cells"][cell_key(cell)] = {
            "cell": to_jsonable(dict(cell)),
            "result": to_jsonable(dict(result)),
            "seconds": round(float(seconds), 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_json(self._data, self.path)

    def records(self) -> list[dict[str, Any]]:
        """All finished records, in insertion order."""
        return list(self._data["cells"].values())

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self._data["meta"])


def run_grid(
    cells: Iterable[Mapping[str, Any]],
    compute: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    store: CellStore,
    *,
    desc: str = "cells",
    verbose: bool = True,
) -> list[dict[str, Any]]:
    """Compute every cell missing from ``store``; return all records in ``cells`` order.

    :param cells: The grid, as dicts of JSON-serialisable parameters.
    :param compute: ``cell -> result dict``.
    :param store: Where finished cells live; cells already there are skipped.
    :param desc: Progress-bar label.
    :param verbose: Show a progress bar.
    """
    cells = [dict(c) for c in cells]
    keys = [cell_key(c) for c in cells]
    if len(set(keys)) != len(keys):
        raise ValueError("`cells` contains duplicate cells.")
    todo = [c for c in cells if c not in store]
    if len(todo) < len(cells):
        logger.info(
            "%s: %d of %d cells already done, skipping them", desc, len(cells) - len(todo), len(cells)
        )
    for cell in tqdm(todo, desc=desc, disable=not verbose):
        start = time.perf_counter()
        result = compute(cell)
        store.put(cell, result, time.perf_counter() - start)
    return [store.get(c) for c in cells]


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


class ExperimentContext:
    """What a reproduction needs: output folder, data folder, quick flag, seed, a cell store.

    :param name: Reproduction name (``"jumprelu"``...).
    :param out: Output folder (``results.json``, ``results.md``, CSV/PNG, ``cells.json``, ``models/``).
    :param data_dir: Folder with the real datasets (``None``: digits only).
    :param quick: Small settings for a smoke run (< 3 minutes on 2 cores).
    :param seed: Seed of everything random.
    :param verbose: Progress bars.
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
    ) -> None:
        self.name, self.out, self.data_dir = name, Path(out), data_dir
        self.quick, self.seed, self.verbose = quick, int(seed), verbose
        self.out.mkdir(parents=True, exist_ok=True)
        self.store = CellStore(
            self.out / "cells.json",
            meta={"name": name, "quick": quick, "seed": seed, "environment": environment()},
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
        records = run_grid(cells, compute, self.store, desc=f"{self.name}: {desc}", verbose=self.verbose)
        self.cell_seconds += sum(float(r.get("seconds", 0.0)) for r in records)
        return records

    def elapsed(self) -> float:
        """Seconds since the context was created (this process)."""
        return time.perf_counter() - self.started

    def write(self, results: dict[str, Any]) -> Path:
        """Write ``results.json`` (adding seed, environment, this run's wall time and the compute
        time of every cell in the results, summed over the runs that computed them)."""
        results = {
            **results,
            "seed": self.seed,
            "quick": self.quick,
            "environment": environment(),
            "wall_seconds_this_run": self.elapsed(),
            "cell_seconds_all_runs": round(self.cell_seconds, 1),
        }
        return write_json(results, self.out / "results.json")
