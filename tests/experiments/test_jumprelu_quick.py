"""Smoke test of the JumpReLU reproduction in quick mode (digits, no files needed)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from art_activation_defenses.experiments import reproduce
from art_activation_defenses.experiments.jumprelu import MODELS, SETTINGS
from art_activation_defenses.experiments.jumprelu._compute import ATTACKS


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("jumprelu")
    return out, reproduce("jumprelu", quick=True, out=out, verbose=False)


def _table(results: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in results["tables"] if t["name"] == name)


def _in_unit(value: Any) -> bool:
    return value is not None and not math.isnan(value) and 0.0 <= value <= 1.0


def test_files_written(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    for name in ("results.json", "results.md", "cells.json"):
        assert (out / name).is_file()
    for table in results["tables"]:
        assert (out / f"{table['name']}.csv").is_file()
    assert len(results["figures"]) >= 4
    for fig in results["figures"]:
        assert fig["file"].endswith(".png") and (out / fig["file"]).stat().st_size > 1000
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "BPDA" in md and "masking?" in md and "EOT" in md
    assert json.loads((out / "results.json").read_text(encoding="utf-8"))["quick"] is True


def test_attack_tables(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    t1, t2 = _table(results, "table1_graybox"), _table(results, "table2_whitebox")
    assert len(t1["rows"]) == len(MODELS) * len(ATTACKS)
    keys = [c[0] for c in t2["columns"]]
    for key in ("white_acc", "white_rho", "bpda_acc", "bpda_rho", "gray_acc", "masking_flag"):
        assert key in keys
    for row in t1["rows"]:
        for key in ("clean_relu", "clean_jump", "relu_acc", "gray_acc", "white_acc", "bpda_acc"):
            assert _in_unit(row[key]), (key, row[key])
        # measured (48 digits): clean 0.98 (base) / 0.90 (FGSM-trained), the same with the chosen kappa
        assert row["clean_relu"] >= 0.8 and abs(row["clean_jump"] - row["clean_relu"]) <= 0.05
        assert row["white_acc"] <= row["clean_jump"] + 1e-9
        # gray-box examples (crafted with kappa 0) transfer worse than white-box ones: +0.06 to +0.5
        assert row["gray_acc"] >= row["white_acc"] - 0.03, row
        assert row["bpda_acc"] <= row["white_acc"] + 0.1, row
        if row["key"] == "pgd":  # PGD works on the ReLU net: measured 0.98 -> 0.40, 0.90 -> 0.67
            assert row["relu_acc"] <= row["clean_relu"] - 0.15
    # minimal-perturbation attacks fool (nearly) every image of the ReLU net they were crafted on
    for row in t1["rows"]:
        if row["key"] in ("df_2", "df_inf", "tr"):
            assert row["relu_acc"] <= 0.1
            assert row["relu_rho"] > 0.0
    lid = _table(results, "table3_lid")["rows"]
    assert len(lid) == len(ATTACKS)
    for row in lid:
        # LID AUCs measured 0.91-1.0 on these obvious attacks
        assert all(row[k] is None or row[k] >= 0.75 for k in ("lid_relu", "lid_jump", "lid_jump_bpda")), row


def test_randomized_and_figures(quick_run: tuple[Path, dict[str, Any]]) -> None:
    _, results = quick_run
    cfg = SETTINGS[True]
    t4 = _table(results, "table4_randomized")
    assert [r["model"] for r in t4["rows"]] == list(MODELS)
    for row in t4["rows"]:
        assert row["clean"] >= 0.8  # measured 0.98 / 0.90
        for key in ("pgd_white", "pgd_eot", "pgd_bpda", "pgd_transfer"):
            # every attack costs accuracy: measured at least 0.10 (FGSM-trained, white-box PGD)
            assert _in_unit(row[key]) and row[key] <= row["clean"] - 0.05, (key, row)
    assert len(_table(results, "fig4_tradeoff")["rows"]) == len(MODELS) * len(cfg["kappas"])
    assert results["kappa"] in cfg["kappas"]
    mat = results["matrix"]["accuracy"]
    assert len(mat) == len(cfg["matrix_kappas"]) and all(
        len(r) == len(mat) and all(map(_in_unit, r)) for r in mat
    )
    for it in results["iterations"].values():
        assert it["iterations"] == list(cfg["iterations"])
        # clean accuracy first, attacked accuracy last: measured 0.98 -> 0.40 and 0.90 -> 0.67
        assert it["relu"][-1] <= it["relu"][0] - 0.15


def test_resume_recomputes_nothing(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    cells_before = json.loads((out / "cells.json").read_text(encoding="utf-8"))["cells"]
    model_files = sorted((out / "models").glob("*.pt"))
    mtimes = [p.stat().st_mtime_ns for p in model_files]
    again = reproduce("jumprelu", quick=True, out=out, verbose=False)
    cells_after = json.loads((out / "cells.json").read_text(encoding="utf-8"))["cells"]
    assert cells_after == cells_before  # same cells, same finish stamps: nothing recomputed
    assert [p.stat().st_mtime_ns for p in model_files] == mtimes
    # the compute time of the cells is carried over from the run that did them
    assert again["cell_seconds_all_runs"] == results["cell_seconds_all_runs"] > 0.0
    assert "took" in (out / "results.md").read_text(encoding="utf-8")
    assert _table(again, "table1_graybox")["rows"] == _table(results, "table1_graybox")["rows"]


def test_unknown_dataset_variants_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'svhn'.*'cifar10', 'mnist'"):
        reproduce("jumprelu", quick=True, dataset="svhn", out=tmp_path / "a", verbose=False)
    with pytest.raises(ValueError, match="no `dataset='cifar10'` variant"):
        reproduce("srelu", quick=True, dataset="cifar10", out=tmp_path / "b", verbose=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()  # refused before any work


def test_cli_passes_the_dataset(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from art_activation_defenses.cli import main

    assert (
        main(["reproduce", "capped", "--dataset", "cifar10", "--quick", "--quiet", "--out", str(tmp_path)])
        == 2
    )
    assert "no `--dataset 'cifar10'` variant" in capsys.readouterr().err


SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


@pytest.mark.slow
@pytest.mark.skipif(
    not (SHARED / "cifar10" / "cifar10_test_batch.npz").is_file(),
    reason="real CIFAR-10 not found under ../shared/datasets/cifar10",
)
def test_cifar10_variant_quick(tmp_path: Path) -> None:
    """The AlexLike variant on the shared CIFAR-10 copy (../shared/datasets/cifar10: labels exact,
    most pixels JPEG-decoded): trains on 2,000 images, evaluates on bit-exact test images only."""
    from art_activation_defenses.data import cifar10_exact_mask, load_dataset
    from art_activation_defenses.experiments.jumprelu import CIFAR_SETTINGS

    cfg = CIFAR_SETTINGS[True]
    results = reproduce(
        "jumprelu",
        quick=True,
        dataset="cifar10",
        data_dir=str(SHARED / "cifar10"),
        out=tmp_path,
        verbose=False,
    )
    assert results["config"]["arch"] == "alex-like" and results["config"]["dataset"] == "cifar10"
    assert "JPEG" in results["title"] and "bit-exact" in results["title"]
    assert all(m["n_exact_test_images"] == 1000 for m in results["models"])
    assert results["kappa"] in cfg["kappas"]
    # the evaluation images shown in Figures 5/6 are the first bit-exact test images, in colour
    x, _ = load_dataset("cifar10", str(SHARED / "cifar10"), "test")
    exact = x[cifar10_exact_mask(str(SHARED / "cifar10"), "test")][: cfg["n_images"]]
    clean = np.asarray(results["images"]["base"]["clean"])
    assert clean.shape == (cfg["n_images"], 32, 32, 3)
    np.testing.assert_allclose(clean, np.transpose(exact, (0, 2, 3, 1)), atol=5e-4)
    assert len(_table(results, "table1_graybox")["rows"]) == len(MODELS) * len(ATTACKS)
    assert any(f["file"] == "fig5_6_images_base.png" for f in results["figures"])
