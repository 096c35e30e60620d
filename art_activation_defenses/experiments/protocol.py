"""The reproduction protocol: a paper is a declarative :class:`Paper` spec that :func:`run_paper` executes.

A spec names its settings (per dataset variant and quick/full), the models it needs (recipes the
runner builds, trains and caches once), its steps (named groups of cells: ``cells(run) -> [cell]``
and ``compute(run, cell) -> result``; every cell is keyed by every setting it depends on), how
the finished records become the results' data, and the tables, summary, notes and figures drawn
from that data. The runner owns everything else: data loading, model caching, resumability,
timing, versions, the executor (serial or Ray) and rendering (JSON -> Markdown/CSV/PNG, once).

A paper package therefore holds its spec and the few computations that are truly its own::

    SPEC = Paper(
        name="capped", title=title, settings={None: SETTINGS},
        models=recipes, steps=[Step("models", "Figures 1-11", cells, eval_cell)],
        assemble=assemble, tables=tables, summary=summary, notes=notes, figures=render,
    )
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import nn

from art_activation_defenses.experiments._common import to_jsonable

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from art_activation_defenses.experiments.runner import ExperimentContext

__all__ = ["ModelRecipe", "Step", "Paper", "Run", "Data", "Claim", "VERDICTS", "settings_tag", "judge_claims"]


def settings_tag(settings: Mapping[str, Any], length: int = 10) -> str:
    """A short, stable hash of ``settings`` (plain JSON types) for file names."""
    blob = json.dumps(to_jsonable(dict(settings)), sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:length]


@dataclass(frozen=True)
class ModelRecipe:
    """How the runner builds and trains one model (trained once per settings, then cached).

    :param build: ``run -> untrained nn.Module`` (the architecture).
    :param train: ``(run, model) -> metadata``: trains ``model`` in place (data from ``run``);
        the metadata (plain types) is stored with the checkpoint.
    :param settings: Everything the weights depend on (architecture, data, training, adversarial
        training); it keys the checkpoint, so changed settings never reuse stale weights.
    :param tag: Readable prefix of the checkpoint file (``models/<tag>-<hash>.pt``).
    """

    build: Callable[[Run], nn.Module]
    train: Callable[[Run, nn.Module], Mapping[str, Any]]
    settings: Mapping[str, Any]
    tag: str


@dataclass(frozen=True)
class Step:
    """A named group of cells.

    :param name: Key of the step's records in :attr:`Run.records`.
    :param label: Progress-bar label (e.g. ``"Tables 1-3"``).
    :param cells: ``run -> [cell]``: the grid (plain JSON-able dicts naming every setting the
        result depends on). It may read the records of earlier steps (e.g. a tuned κ).
    :param compute: ``(run, cell) -> result`` (a plain dict).
    """

    name: str
    label: str
    cells: Callable[[Run], list[dict[str, Any]]]
    compute: Callable[[Run, Mapping[str, Any]], Mapping[str, Any]]


#: The verdicts a claim can get, strongest support first.
VERDICTS: tuple[str, ...] = (
    "reproduced",
    "direction reproduced",
    "not reproduced",
    "reversed under adaptive attacks",
    "not run",
)


@dataclass(frozen=True)
class Claim:
    """One quantitative claim of a paper's text, judged from the cells of a run.

    :param id: Short stable key (``"rho-doubles-mnist"``).
    :param text: What the paper says, with where (``"Sec. 4.2: ρ roughly doubles on MNIST"``).
    :param evidence: ``data -> {name: number}``: the numbers the verdict rests on, read from the
        assembled data (so flipping a cell flips the verdict); ``None`` values mean "not run".
    :param judge: ``evidence -> verdict`` (one of :data:`VERDICTS`).
    :param tolerance: The tolerance the judge applies, in words (rendered with the verdict).
    :param cells: Where the evidence lives (table / row names), for the reader.
    """

    id: str
    text: str
    evidence: Callable[[dict[str, Any]], Mapping[str, float | None]]
    judge: Callable[[Mapping[str, float]], str]
    tolerance: str
    cells: str = ""


def judge_claims(claims: Sequence[Claim], data: dict[str, Any]) -> list[dict[str, Any]]:
    """The ledger: every claim with its evidence and verdict (``"not run"`` when evidence is missing)."""
    ledger = []
    for claim in claims:
        evidence = {k: (None if v is None else float(v)) for k, v in claim.evidence(data).items()}
        if not evidence or any(v is None or v != v for v in evidence.values()):
            verdict = "not run"
        else:
            verdict = claim.judge(evidence)  # type: ignore[arg-type]
            if verdict not in VERDICTS:
                raise ValueError(f"Claim {claim.id!r} judged {verdict!r}, not one of {VERDICTS}.")
        ledger.append(
            {
                "id": claim.id,
                "claim": claim.text,
                "verdict": verdict,
                "tolerance": claim.tolerance,
                "evidence": evidence,
                "cells": claim.cells,
            }
        )
    return ledger


@dataclass(frozen=True)
class Paper:
    """One paper's reproduction, declared.

    :param name: Registry name (``"jumprelu"``).
    :param description: One line for ``reproduce --list``.
    :param settings: Dataset variant (``None`` = the paper's main one) -> quick flag -> settings dict.
    :param steps: The cell groups, run in order.
    :param assemble: ``(run) -> data``: the results' data from ``run.records`` (config, rows...).
    :param tables: ``data -> [table]`` (``{"name", "title", "columns", "rows", "note"?}``).
    :param summary: ``data -> str``. :param notes: ``data -> [str]`` (one bullet each).
    :param title: ``run -> str``.
    :param models: ``run -> {name: ModelRecipe}``: trained (or loaded) by the runner before the
        first step, in order; a cell reads them as ``run.models[name]``.
    :param prepare: ``run -> None``: builds whatever the cells share (classifiers, holders) into
        ``run.state`` after the models exist.
    :param data: ``run -> Data``; the default loads ``cfg["dataset"]`` (train split limited to
        ``cfg["n_train"]``, the first ``cfg["n_val"]`` of it held out, the first ``cfg["n_eval"]``
        test images as the evaluation set).
    :param figures: ``(stored results, out folder) -> [{"file", "caption"}]``, drawn from the JSON only.
    :param claims: ``data -> [Claim]``: the paper's quantitative claims; the runner judges them
        into the claims ledger (``results["claims"]``, ``claims.md``).
    """

    name: str
    description: str
    settings: Mapping[str | None, Mapping[bool, Mapping[str, Any]]]
    steps: Sequence[Step]
    assemble: Callable[[Run], dict[str, Any]]
    tables: Callable[[dict[str, Any]], list[dict[str, Any]]]
    summary: Callable[[dict[str, Any]], str]
    notes: Callable[[dict[str, Any]], list[str]]
    title: Callable[[Run], str]
    models: Callable[[Run], Mapping[str, ModelRecipe]] | None = None
    prepare: Callable[[Run], None] | None = None
    data: Callable[[Run], Data] | None = None
    figures: Callable[[dict[str, Any], Path], list[Any]] | None = None
    claims: Callable[[dict[str, Any]], Sequence[Claim]] | None = None

    @property
    def datasets(self) -> list[str]:
        """The named dataset variants besides the main one."""
        return sorted(k for k in self.settings if k is not None)

    def config(self, dataset: str | None, quick: bool) -> dict[str, Any]:
        """The settings of one variant (a copy)."""
        if dataset not in self.settings:
            variants = self.datasets
            raise ValueError(
                f"Reproduction {self.name!r} has no `dataset={dataset!r}` variant; "
                + (f"expected one of {variants}." if variants else "it runs on its paper's dataset only.")
            )
        return dict(self.settings[dataset][bool(quick)])


@dataclass
class Data:
    """The arrays a reproduction uses (float32 NCHW in [0, 1], int64 labels) and the dataset facts."""

    info: dict[str, Any]
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x: np.ndarray
    y: np.ndarray


def _from_context(name: str, doc: str) -> Any:
    """A read-only property of :class:`Run` forwarded to its context."""
    return property(lambda self: getattr(self.ctx, name), doc=doc)


@dataclass
class Run:
    """One execution of a :class:`Paper`: its context, settings, data, models and records so far.

    :param ctx: The experiment context (output folder, seed, quick flag, device, cell store).
    :param cfg: The variant's settings.
    :param dataset: The variant (``None`` = the paper's main dataset).
    """

    ctx: ExperimentContext
    cfg: dict[str, Any]
    dataset: str | None = None
    data: Data | None = None
    models: dict[str, nn.Module] = field(default_factory=dict)
    model_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)

    seed = _from_context("seed", "The seed of everything random.")
    quick = _from_context("quick", "Small settings (a smoke run).")
    verbose = _from_context("verbose", "Progress bars.")
    device = _from_context(
        "device", "The :class:`torch.device` every model and classifier of this run lives on."
    )

    @property
    def d(self) -> Data:
        """:attr:`data`, loaded (raises when the spec has not loaded it yet)."""
        if self.data is None:
            raise RuntimeError("The run's data is not loaded yet.")
        return self.data

    def results(self, step: str) -> list[dict[str, Any]]:
        """The ``result`` dicts of an earlier step, in cell order."""
        return [r["result"] for r in self.records[step]]
