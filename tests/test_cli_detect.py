"""The ``detect`` command (issues 14, 16): --layers, the Markdown report, the no-op defence, CLI wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from art_activation_defenses.cli import main


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "m.pt"
    code = main(
        ["train", "--epochs", "6", "--lr", "3e-3", "--batch-size", "64", "--out", str(path), "--quiet"]
    )
    assert code == 0 and path.exists()
    return path


def _detect(checkpoint: Path, out: Path, *extra: str) -> int:
    args = ["detect", "--weights", str(checkpoint), "--attack", "fgsm", "--n-eval", "80", "--out", str(out)]
    return main([*args, "--quiet", *extra])


def test_layers_are_used_and_unknown_names_rejected(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kw = ("--param", "kappa=0.5", "--adaptive", "none")
    assert _detect(checkpoint, tmp_path / "all", *kw) == 0
    assert _detect(checkpoint, tmp_path / "one", *kw, "--layers", "classifier.4") == 0
    every = json.loads((tmp_path / "all" / "detect.json").read_text())
    one = json.loads((tmp_path / "one" / "detect.json").read_text())
    assert every["layers"] is None and one["layers"] == ["classifier.4"]
    assert every["rows"][0] == pytest.approx(one["rows"][0])  # ReLU row: the same
    assert every["rows"][1]["clean_accuracy"] != one["rows"][1]["clean_accuracy"]  # one site vs all four
    assert "retrofitted sites: classifier.4" in (tmp_path / "one" / "detect.md").read_text()
    capsys.readouterr()
    assert _detect(checkpoint, tmp_path / "bad", *kw, "--layers", "foo") == 2
    err = capsys.readouterr().err
    assert "--layers" in err and "'foo'" in err and "features.1" in err


def test_markdown_names_attack_eps_n_and_every_column(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _detect(checkpoint, tmp_path, "--param", "kappa=0.3", "--adaptive-steps", "5") == 0
    md = (tmp_path / "detect.md").read_text()
    assert capsys.readouterr().out == md + "\n"  # printed from the result: the same report
    result = json.loads((tmp_path / "detect.json").read_text())
    assert "FGSM L∞ ε = 0.1" in md and "n = 80 test images" in md and "5 steps of 0.01" in md
    for header in ("AUC plain", "det@5%FPR plain", "AUC adaptive PGD", "success adaptive C&W", "test pairs"):
        assert f"- **{header}**:" in md and f" {header} |" in md, header
    assert "30% of the correctly classified test images" in md
    for row in result["rows"]:
        assert {"auc", "pgd_auc", "pgd_success_rate", "cw_detection_rate_at_5fpr"} <= set(row)
        assert row["verdict"] in md


def test_noop_defence_is_refused_or_loud(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _detect(checkpoint, tmp_path / "a") == 2
    assert "plain ReLU" in capsys.readouterr().err
    with pytest.warns(UserWarning, match="NO-OP DEFENCE"):
        assert _detect(checkpoint, tmp_path / "b", "--param", "kappa=0", "--adaptive", "none") == 0


def test_too_few_reference_images_speaks_cli_flags(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["detect", "--weights", str(checkpoint), "--param", "kappa=0.3", "--attack", "fgsm"]
    assert main([*args, "--n-eval", "15", "--lid-k", "20", "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--n-eval" in err and "--lid-k" in err, err
    assert "x_reference" not in err and "x_clean" not in err and "`k`" not in err
