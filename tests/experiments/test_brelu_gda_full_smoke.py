"""The full (MNIST) settings of the BReLU + GDA reproduction construct and run end to end: the paper's CNN
and ResNet, 10 GDA copies and all five black-box attacks of Table 4, on a few digits (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from art_activation_defenses.experiments import reproduce
from art_activation_defenses.experiments.brelu_gda import SETTINGS


@pytest.mark.slow
def test_full_settings_smoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    full = SETTINGS[False]
    assert full["cnn"][0] == full["resnet"][0] == "brelu-gda-paper" and full["gda_copies"] == 10
    assert full["bb_attacks"] == ("fgsm", "rand_fgsm", "deepfool", "jsma", "cw")
    small = {
        **full, "dataset": "digits", "n_train": 200, "n_eval": 8, "epochs": 1, "pgd_steps": 2,
        "resnet_defences": ("plain", "gda_brelu"), "minimal_step": 0.1, "toy_n": 40, "toy_steps": 5,
        "toy_grid": 5, "deepfool_iter": 5, "cw": (2.3, 2, 1), "jsma": (0.5, 0.2), "vat_eps": 0.6,
    }  # fmt: skip
    monkeypatch.setitem(SETTINGS, False, small)
    results = reproduce("brelu-gda", quick=False, out=tmp_path, verbose=False, device="cpu")
    bb = next(t for t in results["tables"] if t["name"] == "table4_blackbox")["rows"]
    assert all(0.0 <= r[a] <= 1.0 for r in bb for a in small["bb_attacks"])
    assert "brelu-gda-paper" in " ".join(results["notes"])
    ledger = {c["id"]: c["verdict"] for c in results["claims"]}
    assert ledger["gda-best-black-box"] != "not run"
    assert len(results["models"]) == 7 + 2
