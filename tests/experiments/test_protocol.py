"""The reproduction protocol: a synthetic two-step spec through the runner; claims; the papers' values."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from art_activation_defenses.experiments.papers import paper_fraction, paper_value, records
from art_activation_defenses.experiments.protocol import Claim, ModelRecipe, Paper, Run, Step, judge_claims
from art_activation_defenses.experiments.runner import ExperimentContext, run_paper

CALLS: list[str] = []


def _train(run: Run, model: nn.Module) -> dict[str, Any]:
    CALLS.append("train")
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float(run.cfg["w"]))
    return {"w": run.cfg["w"]}


def _square(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    CALLS.append(f"square{cell['a']}")
    out = run.models["lin"](torch.full((1, 2), float(cell["a"]))).sum().item()
    return {"out": out, "n_eval": len(run.d.x)}


def _after(run: Run, cell: Mapping[str, Any]) -> dict[str, Any]:
    CALLS.append("after")
    return {"total": sum(r["out"] for r in run.results("first"))}


def _claims(data: dict[str, Any]) -> list[Claim]:
    return [
        Claim(
            id="total-positive",
            text="the total is positive",
            evidence=lambda d: {"total": d["total"]},
            judge=lambda e: "reproduced" if e["total"] > 0 else "not reproduced",
            tolerance="> 0",
            cells="first / after",
        ),
        Claim(
            id="missing",
            text="a claim whose cell was not run",
            evidence=lambda d: {"x": None},
            judge=lambda e: "reproduced",
            tolerance="-",
        ),
    ]


SPEC = Paper(
    name="toy",
    description="a synthetic spec",
    settings={None: {True: {"dataset": "digits", "n_train": 200, "n_val": 20, "n_eval": 30, "w": 0.5}}},
    models=lambda run: {
        "lin": ModelRecipe(
            build=lambda run: nn.Linear(2, 1), train=_train, settings={"w": run.cfg["w"]}, tag="lin"
        )
    },
    steps=[
        Step("first", "first", lambda run: [{"a": a} for a in (1, 2, 3)], _square),
        Step("after", "after", lambda run: [{"sum_of": [1, 2, 3]}], _after),
    ],
    assemble=lambda run: {"total": run.results("after")[0]["total"], "rows": run.results("first")},
    tables=lambda data: [{"name": "t", "title": "T", "columns": [["out", "out"]], "rows": data["rows"]}],
    summary=lambda data: f"total {data['total']:.1f}",
    notes=lambda data: ["one note"],
    title=lambda run: "Toy",
    claims=_claims,
)


def _run(out: Path) -> dict[str, Any]:
    ctx = ExperimentContext(
        "toy", out, quick=True, verbose=False, device="cpu", settings={"budgets": {"w": 0.5}}
    )
    return ctx.write_rendered(run_paper(SPEC, ctx), None)


def test_spec_runs_resumes_and_renders(tmp_path: Path) -> None:
    CALLS.clear()
    results = _run(tmp_path)
    assert CALLS == ["train", "square1", "square2", "square3", "after"]
    # Linear(2 -> 1) with every weight and the bias 0.5: out = 0.5 * 2a + 0.5
    assert [r["out"] for r in results["rows"]] == [1.5, 2.5, 3.5] and results["total"] == 7.5
    assert results["rows"][0]["n_eval"] == 30 and results["notes"] == ["one note"]
    assert results["environment"]["device"] == "cpu"
    assert [c["verdict"] for c in results["claims"]] == ["reproduced", "not run"]
    for name in ("results.json", "results.md", "t.csv", "claims.md", "claims.json", "cells.json"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "results.json").read_text())["total"] == 7.5
    assert "**reproduced**" in (tmp_path / "claims.md").read_text()
    CALLS.clear()
    again = _run(tmp_path)  # everything cached: no training, no cell recomputed
    assert CALLS == [] and again["tables"] == results["tables"]


def test_claims_follow_the_cells() -> None:
    data = {"total": 7.5}
    assert judge_claims(_claims(data), data)[0]["verdict"] == "reproduced"
    data = {"total": -1.0}  # flip the cell the claim rests on
    assert judge_claims(_claims(data), data)[0]["verdict"] == "not reproduced"
    bad = Claim(id="b", text="b", evidence=lambda d: {"v": 1.0}, judge=lambda e: "sort of", tolerance="-")
    with pytest.raises(ValueError, match="not one of"):
        judge_claims([bad], {})


def test_unknown_variant_is_refused() -> None:
    with pytest.raises(ValueError, match="no `dataset='cifar10'` variant"):
        SPEC.config("cifar10", True)


def test_paper_values_come_from_tables_json() -> None:
    assert paper_value("jumprelu", "Table 1a", "ReLU (Base)*", "Accuracy") == 99.55
    assert paper_fraction("jumprelu", "Table 1a", "ReLU (Base)*", "Accuracy") == pytest.approx(0.9955)
    assert paper_value("jumprelu", "Table 1a", "no such row", "Accuracy") is None
    assert len(records("jumprelu")) == 417 and len(records("capped")) == 68
    with pytest.raises(ValueError, match="must be one of"):
        records("nope")
