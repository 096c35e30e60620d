"""Smoke test of the BReLU + Gaussian data augmentation reproduction in quick mode (digits, no files)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from art_activation_defenses.experiments import reproduce
from art_activation_defenses.experiments.brelu_gda import SETTINGS
from art_activation_defenses.experiments.brelu_gda._models import DEFENCES, defence_names
from art_activation_defenses.experiments.brelu_gda._toy import TOY_METHODS


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("brelu_gda")
    return out, reproduce("brelu-gda", quick=True, out=out, verbose=False)


def _table(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in results["tables"] if t["name"] == name)


def _in_unit(value: Any) -> bool:
    return isinstance(value, float) and 0.0 <= value <= 1.0


def test_files_written(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    for name in ("results.json", "results.md", "cells.json"):
        assert (out / name).is_file()
    for table in results["tables"]:
        assert (out / f"{table['name']}.csv").is_file()
    assert {f["file"] for f in results["figures"]} == {
        "fig1_minimal_perturbations.png",
        "fig2_toy.png",
        "fig3_fgsm_vs_eps.png",
    }
    for fig in results["figures"]:
        assert (out / fig["file"]).stat().st_size > 1000
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "Table 1" in md and "BPDA" in md and "transfer" in md


def test_tables(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    cfg = SETTINGS[True]
    names = defence_names(cfg)
    cnn = [n for n in names if n.startswith("cnn/")]
    assert len(cnn) == len(DEFENCES)
    main = _table(results, "table2_3")
    assert len(main["rows"]) == len(names)
    for row in main["rows"]:
        assert _in_unit(row["clean"]) and _in_unit(row["flipped"])
        assert row["robustness"] is None or 0.0 < row["robustness"] < 5.0
        assert row["loss_sensitivity"] >= 0.0 and row["clean_distance"] >= 0.0
        assert all(_in_unit(row[f"fgsm_{e:g}"]) for e in cfg["eps"])
    transfer = _table(results, "table1_transfer")
    assert len(transfer["rows"]) == len(cnn) and len(transfer["columns"]) == len(cnn) + 1
    assert all(_in_unit(r[t]) for r in transfer["rows"] for t in cnn)
    audit = _table(results, "audit")
    assert len(audit["rows"]) == 2 * len(names)
    assert {c[0] for c in audit["columns"]} >= {"white_box", "bpda", "margin", "transfer", "flag"}
    brelu = [r for r in audit["rows"] if r["model"] == "CNN GDA + BRELU"]
    assert brelu and all(
        _in_unit(r["bpda"]) and _in_unit(r["margin"]) and _in_unit(r["transfer"]) for r in brelu
    )
    for name in ("table4_blackbox_fgsm", "table5_blackbox_pgd"):
        rows = _table(results, name)["rows"]
        assert len(rows) == len(cnn) and all(_in_unit(r[f"eps_{e:g}"]) for r in rows for e in cfg["eps"])
    toy = _table(results, "toy")["rows"]
    assert len(toy) == 2 * len(TOY_METHODS)
    assert all(r["accuracy"] > 0.7 and _in_unit(r["fgsm_l2"]) for r in toy)
    grid = results["toy"]["moons"]["methods"]["plain"]["proba"]
    assert len(grid) == cfg["toy_grid"] and not any(math.isnan(v) for v in grid[0])
    assert len(results["figure1"]["cnn/plain"]["adv"]) == 10


def test_resume_recomputes_nothing(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    cells_before = json.loads((out / "cells.json").read_text(encoding="utf-8"))["cells"]
    model_files = sorted((out / "models").glob("*.pt"))
    assert len(model_files) == len(defence_names(SETTINGS[True])) - 1  # feature squeezing wraps the plain CNN
    mtimes = [p.stat().st_mtime_ns for p in model_files]
    again = reproduce("brelu-gda", quick=True, out=out, verbose=False)
    assert json.loads((out / "cells.json").read_text(encoding="utf-8"))["cells"] == cells_before
    assert [p.stat().st_mtime_ns for p in model_files] == mtimes
    assert again["wall_seconds_this_run"] < results["wall_seconds_this_run"]
    assert _table(again, "table2_3")["rows"] == _table(results, "table2_3")["rows"]
