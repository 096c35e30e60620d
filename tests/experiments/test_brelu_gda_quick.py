"""Smoke test of the BReLU + Gaussian data augmentation reproduction in quick mode (digits, no files)."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from art_activation_defenses.experiments import reproduce
from art_activation_defenses.experiments.brelu_gda import (
    ARCHS,
    DEFENCES,
    SETTINGS,
    SPEC,
    TOY_METHODS,
    defence_names,
)
from art_activation_defenses.experiments.protocol import VERDICTS, judge_claims

NAME = "brelu-gda"
#: Tables added after the golden rendering (the paper's Table 1 and Table 4); every other table is golden.
NEW_TABLES = ("table1_architectures", "table4_blackbox")


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("brelu_gda")
    return out, reproduce(NAME, quick=True, out=out, verbose=False)


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
    # feature squeezing wraps the plain CNN; Table 1 adds the CNN and the ResNet trained plain with BReLU
    assert len(model_files) == len(defence_names(SETTINGS[True])) - 1 + 2
    mtimes = [p.stat().st_mtime_ns for p in model_files]
    again = reproduce(NAME, quick=True, out=out, verbose=False)
    assert json.loads((out / "cells.json").read_text(encoding="utf-8"))["cells"] == cells_before
    assert [p.stat().st_mtime_ns for p in model_files] == mtimes
    assert _table(again, "table2_3")["rows"] == _table(results, "table2_3")["rows"]


def test_tables_match_golden(quick_run: tuple[Path, dict[str, Any]], golden_diff: Any) -> None:
    _, results = quick_run
    old = {**results, "tables": [t for t in results["tables"] if t["name"] not in NEW_TABLES]}
    assert golden_diff(NAME, old) == []
    assert {t["name"] for t in results["tables"]} >= set(NEW_TABLES)


def test_paper_tables(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    md = (out / "results.md").read_text(encoding="utf-8")
    # the paper's own numbers (percent -> fraction, read from tables.json) appear in the rendered tables
    for value in ("0.739", "0.877", "0.202", "0.471", "10.360", "0.061", "0.945", "0.407", "0.911"):
        assert value in md, value
    arch = _table(results, "table1_architectures")
    assert [r["source"] for r in arch["rows"]][: len(ARCHS)] == list(ARCHS.values())
    assert arch["rows"][0]["paper_cnn/plain"] == pytest.approx(0.7388)
    for row in arch["rows"][: len(ARCHS)]:
        assert all(_in_unit(row[t]) for t in ARCHS)
        assert all(_in_unit(row[f"fgsm_{e:g}"]) for e in SETTINGS[True]["eps"])
    # the per-sample worst case over the four sources is at most every source's accuracy
    worst = arch["rows"][-1]
    assert all(worst[t] <= min(r[t] for r in arch["rows"][: len(ARCHS)]) + 1e-9 for t in ARCHS)
    bb = _table(results, "table4_blackbox")
    assert len(bb["rows"]) == len(DEFENCES)
    for row in bb["rows"]:
        run = [row[a] for a in SETTINGS[True]["bb_attacks"]]
        assert all(_in_unit(v) for v in run) and row["jsma"] is None and row["cw"] is None  # full-only
        assert row["worst"] <= min(run) + 1e-9
        assert _in_unit(row["paper_jsma"]) and _in_unit(row["paper_cw"])
    # FGSM at ε=0.1 from the same ResNet: the Table 4 cell equals the ε-grid cell
    fgsm = {r["model"]: r["eps_0.1"] for r in _table(results, "table4_blackbox_fgsm")["rows"]}
    assert all(r["fgsm"] == pytest.approx(fgsm[r["model"]]) for r in bb["rows"])


def _flip(claim: str, verdict: str, data: dict[str, Any]) -> None:
    """Change one evidence cell of ``data`` so that ``claim`` (now judged ``verdict``) is judged otherwise."""
    arch, models, bb = data["architectures"], data["models"], data["blackbox_attacks"]
    good = verdict in ("reproduced", "direction reproduced")
    if claim == "own-examples-fool-most":  # the diagonal far above (or below) the column's minimum
        arch["cnn/plain"]["accuracy"]["cnn/plain"] = 1.0 if good else 0.0
        for t in ARCHS:
            arch[t]["accuracy"][t] = 1.0 if good else 0.0
    elif claim == "cnn-black-box-above-90":
        arch["resnet/plain"]["accuracy"]["cnn/plain"] = 0.0 if good else 0.99
        for s in ARCHS:
            for t in ("cnn/plain", "cnn/brelu"):
                if s != t and not good:
                    arch[s]["accuracy"][t] = 0.99
    elif claim == "brelu-cnn-best-fgsm":
        arch["cnn/brelu"]["fgsm"] = [0.0 if good else 1.0] * len(arch["cnn/brelu"]["fgsm"])
    elif claim in ("gda-most-robust", "gda-farthest-from-training-set"):
        key = "train_distance" if "training" in claim else "robustness"
        for g in ("cnn/gda_relu", "cnn/gda_brelu"):
            models[g][key] = -1.0 if good else 100.0
    elif claim == "fs-ls-less-robust":
        models["cnn/plain"]["robustness"] = -1.0 if good else 100.0
    elif claim == "gda-relu-smoothest":
        models["cnn/gda_relu"]["loss_sensitivity"] = 100.0 if good else 0.0
    elif claim == "rfgsm-only-feature-squeezing":
        bb["rand_fgsm"]["accuracy"]["cnn/feature_squeezing"] = -1.0 if good else 2.0
    elif claim == "gda-brelu-beats-plain-fgsm":  # the adaptive PGD gain decides reproduced vs reversed
        models["cnn/gda_brelu"]["audit"]["pgd"]["worst"] = 0.0 if good else 1.0
        models["cnn/gda_brelu"]["fgsm"] = [1.0] * len(models["cnn/gda_brelu"]["fgsm"])
    elif claim == "gda-best-black-box":  # not run in quick: the full-only cells appear
        bb["jsma"] = bb["cw"] = {"accuracy": dict(bb["fgsm"]["accuracy"])}


def test_claims_judged_from_cells(quick_run: tuple[Path, dict[str, Any]]) -> None:
    out, results = quick_run
    ledger = results["claims"]
    assert 4 <= len(ledger) <= 10 and all(c["verdict"] in VERDICTS for c in ledger)
    assert (out / "claims.md").is_file() and (out / "claims.json").is_file()
    verdicts = {c["id"]: c["verdict"] for c in ledger}
    assert verdicts["gda-best-black-box"] == "not run"  # JSMA and C&W are full-only
    for claim, verdict in verdicts.items():
        data = copy.deepcopy(results)
        _flip(claim, verdict, data)
        again = {c["id"]: c["verdict"] for c in judge_claims(SPEC.claims(data), data)}  # type: ignore[misc]
        assert again[claim] != verdict, (claim, verdict)
