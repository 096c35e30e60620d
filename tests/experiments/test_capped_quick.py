"""Smoke test of the capped-ReLU reproduction in quick mode (digits, no files needed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from art_activation_defenses.experiments import reproduce
from art_activation_defenses.experiments.capped import SETTINGS


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("capped")
    return out, reproduce("capped", quick=True, out=out, verbose=False)


def _table(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in results["tables"] if t["name"] == name)


def test_files_written(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    for name in ("results.json", "results.md", "cells.json"):
        assert (out / name).is_file()
    for table in results["tables"]:
        assert (out / f"{table['name']}.csv").is_file()
    assert len(results["figures"]) == 5
    for fig in results["figures"]:
        assert (out / fig["file"]).stat().st_size > 1000
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "PGD BPDA" in md and "PGD margin" in md and "masking?" in md


def test_model_grid(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    cfg = SETTINGS[True]
    rows = _table(results, "fig4_6_robustness")["rows"]
    assert len(rows) == len(cfg["archs"]) * (1 + 3 * len(cfg["betas"]))
    keys = [c[0] for c in _table(results, "fig4_6_robustness")["columns"]]
    for key in ("pgd_white_box", "pgd_bpda", "pgd_margin", "pgd_margin_bpda", "pgd_transfer", "masking_flag"):
        assert key in keys
    for row in rows:
        for key in ("clean", "fgsm_white_box", "pgd_white_box", "pgd_bpda", "pgd_margin", "pgd_worst"):
            assert 0.0 <= row[key] <= 1.0, (key, row[key])
        assert row["pgd_worst"] <= row["pgd_white_box"] + 1e-9
        if row["beta"] in ("relu", "max"):  # uncapped: measured clean 0.89-0.94, PGD 0.31-0.32
            assert row["clean"] >= 0.8 and row["pgd_white_box"] <= row["clean"] - 0.4, row
            assert row["zg_found"] == 0.0  # a ReLU net has no zero-gradient point on the way
        else:  # cap 0.05: saturated points everywhere (measured 0.97-1.0), BPDA/transfer beat white-box
            assert row["zg_found"] >= 0.9, row
            assert row["pgd_worst"] <= row["pgd_white_box"] - 0.15, row  # measured gaps 0.23-0.50
    for model in results["models"]:  # the full records keep the per-layer growth
        growth = model["growth"]["l2_growth"]
        assert len(growth) == 4
        if model["beta"] in ("relu", "max"):  # ReLU layers amplify an input perturbation: 12.6-14.5
            assert growth[-1] > 5.0, (model["arch"], model["place"], growth)
        elif model["place"] == "both":  # two saturated caps absorb it: measured 0.01-0.41
            assert growth[-1] < 1.0, (model["arch"], growth)
    by = {(r["arch"], r["place"], r["beta"]): r for r in rows}
    # ReLU networks: no zero gradients, nothing masked; "max" caps never bind on the training data
    for arch in cfg["archs"]:
        assert by[(arch, "relu", "relu")]["zero_gradient_share"] == 0.0
        assert by[(arch, "both", "max")]["clean"] == pytest.approx(
            by[(arch, "relu", "relu")]["clean"], abs=0.02
        )
    # a small cap on both layers saturates: many exact gradients vanish and the audit flags it
    small = [by[(a, "both", "0.05")] for a in cfg["archs"]]
    assert max(r["zero_gradient_share"] for r in small) > 0.2
    assert any(r["masking_flag"] for r in small)


def test_table1(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    cfg = SETTINGS[True]
    rows = _table(results, "table1_advtrain")["rows"]
    assert [(r["training"], r["beta"]) for r in rows] == [
        (t, str(b)) for t in ("none", "fgsm", "pgd") for b in cfg["adv_betas"]
    ]
    for row in rows:
        for key in ("clean", "fgsm_white_box", "pgd_white_box", "pgd_bpda", "cw_acc", "cw_bpda_acc"):
            assert 0.0 <= row[key] <= 1.0, (key, row[key])
    by = {(r["training"], r["beta"]): r for r in rows}
    # ReLU: clean 0.89-0.91; adversarial training lifts PGD accuracy (measured 0.31 -> 0.63 with
    # FGSM and PGD training); the minimal-perturbation C&W attack fools nearly all (0.05-0.10 left)
    for training in ("none", "fgsm", "pgd"):
        relu = by[(training, "relu")]
        assert relu["clean"] >= 0.8 and relu["cw_acc"] <= 0.2, relu
    for training in ("fgsm", "pgd"):
        assert by[(training, "relu")]["pgd_white_box"] >= by[("none", "relu")]["pgd_white_box"] + 0.15


def test_resume_recomputes_nothing(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    cells_before = json.loads((out / "cells.json").read_text(encoding="utf-8"))["cells"]
    model_files = sorted((out / "models").glob("*.pt"))
    mtimes = [p.stat().st_mtime_ns for p in model_files]
    again = reproduce("capped", quick=True, out=out, verbose=False)
    cells_after = json.loads((out / "cells.json").read_text(encoding="utf-8"))["cells"]
    assert cells_after == cells_before
    assert [p.stat().st_mtime_ns for p in model_files] == mtimes
    assert _table(again, "fig4_6_robustness")["rows"] == _table(results, "fig4_6_robustness")["rows"]
