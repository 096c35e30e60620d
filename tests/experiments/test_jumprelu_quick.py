"""Smoke test of the JumpReLU reproduction in quick mode (digits, no files needed)."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch

from art_activation_defenses.experiments import reproduce
from art_activation_defenses.experiments.jumprelu import (
    ATTACKS,
    CIFAR_SETTINGS,
    MODELS,
    SETTINGS,
    SPEC,
    paper_pgd,
)  # fmt: skip
from art_activation_defenses.experiments.papers import paper_fraction, records
from art_activation_defenses.experiments.protocol import Run, judge_claims

NAME = "jumprelu"


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
    with pytest.raises(ValueError, match=r"no `dataset='svhn'` variant; expected one of \['cifar10'\]"):
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


def test_tables_match_golden(quick_run: tuple[Path, dict[str, Any]], golden_diff: Any) -> None:
    """Same seeds -> the tables rendered before the spec; ``pgd_protocols`` is new (the paper's protocol)."""
    _, results = quick_run
    assert [t["name"] for t in results["tables"]][-1] == "pgd_protocols"
    old = {**results, "tables": [t for t in results["tables"] if t["name"] != "pgd_protocols"]}
    assert golden_diff(NAME, old) == []


def test_paper_values_in_tables(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "paper (MNIST): JumpReLU (gray-box)" in md and "paper: JumpReLU" in md
    t1, proto = _table(results, "table1_graybox"), _table(results, "pgd_protocols")
    base_pgd = next(r for r in t1["rows"] if r["model"] == "base" and r["key"] == "pgd")
    assert base_pgd["paper_gray_acc"] == paper_fraction(NAME, "Table 1a", "JumpReLU (Base)", "PGD")
    assert base_pgd["paper_gray_acc"] == pytest.approx(0.9165)
    white = next(r for r in proto["rows"] if r["model"] == "robust" and r["net"] == "JumpReLU, white-box")
    assert white["paper_acc"] == pytest.approx(0.9436) and _in_unit(white["protocol_acc"])
    t4 = _table(results, "table4_randomized")["rows"]
    assert t4[0]["paper_df2_rho"] == pytest.approx(0.476) and t4[0]["paper_kappa"] == 1.0
    # every paper column holds a number in most rows (the paper's values, as fractions)
    for table in results["tables"]:
        for key in (c[0] for c in table["columns"] if c[0].startswith("paper_") and c[0] != "paper_kappa"):
            values = [r.get(key) for r in table["rows"]]
            assert any(v is not None for v in values), key
            assert all(v is None or 0.0 <= v <= 1.0 for v in values), key


def test_claims_follow_the_cells(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    ledger = {c["id"]: c for c in results["claims"]}
    assert 4 <= len(ledger) <= 10 and (out / "claims.md").is_file()
    assert ledger["graybox-unidirectional"]["verdict"] == "reproduced"  # measured 0.98 vs 0.19
    assert ledger["lid-improves"]["verdict"] == "not reproduced"  # κ = 0 here: the same AUC

    def rejudge(change: Callable[[dict[str, Any]], None]) -> dict[str, str]:
        data = copy.deepcopy(results)
        change(data)
        return {c["id"]: c["verdict"] for c in judge_claims(SPEC.claims(data), data)}  # type: ignore[misc]

    def corner(d: dict[str, Any]) -> None:
        d["matrix"]["accuracy"][-1][0] = 0.0

    def lid(d: dict[str, Any]) -> None:
        for r in d["attacks"]:
            if "lid_relu" in r:
                r["lid_jump"], r["lid_jump_pgd"] = r["lid_relu"] + 0.01, r["lid_relu_pgd"] + 0.01

    def protocol(d: dict[str, Any]) -> None:  # the paper's protocol gains, the worst case does not
        r = next(r for r in d["attacks"] if r["model"] == "base" and r["key"] == "pgd")
        r["ifgsm_white_acc"] = r["ifgsm_relu_acc"] + 0.2

    assert rejudge(corner)["graybox-unidirectional"] == "not reproduced"
    assert rejudge(lid)["lid-improves"] == "reproduced"
    assert ledger["whitebox-pgd-base"]["verdict"] == "not reproduced"
    assert rejudge(protocol)["whitebox-pgd-base"] == "reversed under adaptive attacks"


def test_paper_protocol_is_unprojected_and_stops_per_image() -> None:
    """The authors' iterative FGSM: no projection (L∞ up to steps × step), frozen at the first mistake."""
    from art.estimators.classification import PyTorchClassifier

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    clf = PyTorchClassifier(model, torch.nn.CrossEntropyLoss(), (1, 4, 4), 3, clip_values=(0.0, 1.0))
    x = np.random.default_rng(0).uniform(0.3, 0.7, (64, 1, 4, 4)).astype(np.float32)
    y = clf.predict(x).argmax(1)
    y[:4] = (y[:4] + 1) % 3  # misclassified already: left where they are
    run = SimpleNamespace(cfg={"pgd_step": 0.01, "pgd_steps": 40, "attack_batch": 32}, seed=0)
    x_adv = paper_pgd(run, clf, x, y)  # type: ignore[arg-type]
    delta = np.abs(x_adv - x).reshape(len(x), -1).max(1)
    assert np.all(delta[:4] == 0.0) and delta.max() <= 0.4 + 1e-6
    assert delta.max() > 0.1  # beyond the L∞ ball of our PGD: no projection
    fooled = clf.predict(x_adv).argmax(1) != y
    steps = np.round(delta / 0.01)
    assert np.all(fooled[steps < 40])  # an image stops before the last step only once misclassified


def test_full_settings_construct_and_gpu_rows_need_cuda(caplog: pytest.LogCaptureFixture) -> None:
    """The full settings build their recipes; the WideResNet/MobileNetV2 rows only on a CUDA device."""
    def run(device: str, cfg: dict[str, Any]) -> Run:
        return Run(ctx=SimpleNamespace(device=torch.device(device), seed=0), cfg=cfg)  # type: ignore[arg-type]

    mnist = SPEC.models(run("cpu", SETTINGS[False]))  # type: ignore[misc]
    assert list(mnist) == list(MODELS) and mnist["robust"].settings["adv_eps"] == 0.3  # the paper's ε
    cifar = dict(CIFAR_SETTINGS[False])
    cpu = SPEC.models(run("cpu", cifar))  # type: ignore[misc]
    assert list(cpu) == ["base", "robust"] and "need a CUDA device" in caplog.text
    gpu = SPEC.models(run("cuda", cifar))  # type: ignore[misc]
    assert list(gpu) == ["base", "robust", "wrn-base", "wrn-robust", "mnv2-base", "mnv2-robust"]
    assert gpu["wrn-base"].settings["arch"] == "wide-resnet"
    assert gpu["mnv2-robust"].settings["optimizer"] == "sgd"
    assert len(records(NAME, "Table 1c")) == 20  # the paper's rows they fill
