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
    lo, hi = f"fgsm_{min(cfg['eps']):g}", f"fgsm_{max(cfg['eps']):g}"
    for row in main["rows"]:
        assert _in_unit(row["clean"]) and _in_unit(row["flipped"])
        assert all(_in_unit(row[f"fgsm_{e:g}"]) for e in cfg["eps"])
        # measured (64 digits, quick training): clean 0.59-0.95; rho 0.16-0.30; loss sensitivity
        # 0.84-2.4; FGSM at the largest eps leaves at most 0.06; adversarial examples lie farther
        # from the training set (1.35-1.63) than the clean test images (1.21, the same for every model)
        assert row["clean"] >= 0.5 and row[hi] <= min(row[lo], row["clean"] - 0.3), row
        assert row["robustness"] is None or 0.05 < row["robustness"] < 1.0
        assert row["loss_sensitivity"] > 0.1
        assert row["clean_distance"] == pytest.approx(main["rows"][0]["clean_distance"])
        assert row["clean_distance"] > 0.5
        assert row["train_distance"] > row["clean_distance"], row
    transfer = _table(results, "table1_transfer")
    assert len(transfer["rows"]) == len(cnn) and len(transfer["columns"]) == len(cnn) + 1
    assert all(_in_unit(r[t]) for r in transfer["rows"] for t in cnn)
    # rows are the sources in model order: each target's own (white-box) FGSM is the strongest
    for i, target in enumerate(cnn):
        column = [r[target] for r in transfer["rows"]]
        assert column[i] <= min(column) + 0.02, (target, column)
    audit = _table(results, "audit")
    assert len(audit["rows"]) == 2 * len(names)
    assert {c[0] for c in audit["columns"]} >= {"white_box", "bpda", "margin", "transfer", "flag"}
    brelu = [r for r in audit["rows"] if r["model"] == "CNN GDA + BRELU"]
    assert brelu and all(
        _in_unit(r["bpda"]) and _in_unit(r["margin"]) and _in_unit(r["transfer"]) for r in brelu
    )
    # no masking: no adaptive attack beats the white-box one by the margin (measured gaps <= 0.016)
    assert not any(r["flag"] for r in brelu)
    assert all(min(r["bpda"], r["margin"], r["transfer"]) >= r["white_box"] - 0.05 for r in brelu), brelu
    for name in ("table4_blackbox_fgsm", "table5_blackbox_pgd"):
        rows = _table(results, name)["rows"]
        assert len(rows) == len(cnn) and all(_in_unit(r[f"eps_{e:g}"]) for r in rows for e in cfg["eps"])
        # black-box accuracy falls with eps: measured drops of 0.30-0.64 from the smallest to the largest
        lo_e, hi_e = f"eps_{min(cfg['eps']):g}", f"eps_{max(cfg['eps']):g}"
        assert all(r[hi_e] <= r[lo_e] - 0.2 for r in rows), (name, rows)
    toy = _table(results, "toy")["rows"]
    assert len(toy) == 2 * len(TOY_METHODS)
    # FGSM-L2 costs every toy model accuracy: measured 0.15 to 0.70
    assert all(r["accuracy"] > 0.7 and _in_unit(r["fgsm_l2"]) for r in toy)
    assert all(r["fgsm_l2"] <= r["accuracy"] - 0.1 for r in toy), toy
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
    assert _table(again, "table2_3")["rows"] == _table(results, "table2_3")["rows"]
