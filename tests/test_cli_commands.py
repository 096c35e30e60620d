"""The train / evaluate / tune / detect / reproduce commands on digits, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from art_activation_defenses.cli import main
from art_activation_defenses.experiments.commands import load_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "m.pt"
    code = main(
        ["train", "--epochs", "15", "--lr", "3e-3", "--batch-size", "64", "--out", str(path), "--quiet"]
    )
    assert code == 0 and path.exists()
    return path


def test_train_writes_metadata(checkpoint: Path) -> None:
    blob = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert blob["metadata"]["model"] == "lenet-like"
    assert blob["metadata"]["test_accuracy"] > 0.85


def test_evaluate_flags_sloped_relu_masking(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["evaluate", "--weights", str(checkpoint), "--activation", "srelu", "--param", "alpha=100"]
    with pytest.warns(UserWarning, match="MASKING"):
        code = main(
            args
            + ["--n-eval", "60", "--max-iter", "10", "--budget", "quick", "--out", str(tmp_path), "--quiet"]
        )
    assert code == 0
    result = json.loads((tmp_path / "audit.json").read_text())
    assert result["flagged"] and result["activation_params"] == {"alpha": 100.0}
    out = capsys.readouterr().out
    assert "MASKING" in out
    assert out == (tmp_path / "audit.md").read_text() + "\n"  # printed from the result: the same report


def test_tune_and_detect(checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "tune",
                "--weights",
                str(checkpoint),
                "--values",
                "0,0.3",
                "--n-eval",
                "60",
                "--out",
                str(tmp_path / "t"),
                "--quiet",
            ]
        )
        == 0
    )
    tuned = json.loads((tmp_path / "t" / "tune.json").read_text())
    assert tuned["values"] == [0.0, 0.3] and (tmp_path / "t" / "tradeoff.png").exists()
    assert "chosen kappa" in capsys.readouterr().out
    assert (
        main(
            [
                "detect",
                "--weights",
                str(checkpoint),
                "--param",
                "kappa=0.3",
                "--attack",
                "fgsm",
                "--adaptive-steps",
                "5",
                "--n-eval",
                "120",
                "--out",
                str(tmp_path / "d"),
                "--quiet",
            ]
        )
        == 0
    )
    detected = json.loads((tmp_path / "d" / "detect.json").read_text())
    assert [r["model"] for r in detected["rows"]][0] == "ReLU"
    assert all(0.0 <= r["auc"] <= 1.0 for r in detected["rows"])


def test_load_model_from_import_path() -> None:
    model, meta = load_model(
        "art_activation_defenses.models.small:mlp",
        (1, 8, 8),
        10,
        model_kwargs={"input_shape": (1, 8, 8), "nb_classes": 10, "hidden": (16,)},
    )
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10) and meta == {}
    with pytest.raises(ValueError, match="Unknown `model="):
        load_model("resnet9000", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="Cannot import"):
        load_model("no_such_module:Net", (1, 8, 8), 10)


def test_reproduce_list_and_bad_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "--list"]) == 0
    assert "jumprelu" in capsys.readouterr().out
    assert main(["reproduce", "nonsense", "--quick", "--quiet"]) == 2
    assert "Unknown reproduction" in capsys.readouterr().err


def test_bad_param_syntax_exits() -> None:
    with pytest.raises(SystemExit):
        main(["evaluate", "--param", "kappa"])
