"""The main job (``demo``) and the command line, on tiny settings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from art_activation_defenses.cli import main
from art_activation_defenses.experiments import DemoConfig, run_demo
from art_activation_defenses.metrics import masking_gap

TINY = dict(kappas=(0.3,), n_eval=40, epochs=8, pgd_steps=3, deepfool_max_iter=10)


def test_run_demo_writes_json_markdown_csv_and_plot(tmp_path: Path) -> None:
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        results = run_demo(DemoConfig(**TINY, threads=1), out=tmp_path, verbose=False)  # type: ignore[arg-type]
        assert torch.get_num_threads() == 2  # the caller's thread count is restored after the run
    finally:
        torch.set_num_threads(before)
    assert results["config"]["threads"] == 1 and results["environment"]["torch_threads"] == 1
    assert [r["model"] for r in results["rows"]] == ["ReLU", "JumpReLU"]
    relu, jump = results["rows"]
    assert relu["clean_accuracy"] > 0.7
    assert relu["pgd_accuracy"] < relu["clean_accuracy"]
    for key in (
        "pgd_bpda_accuracy",
        "pgd_transfer_accuracy",
        "deepfool_rho",
        "deepfool_bpda_rho",
        "masking_flag",
    ):
        assert key in jump
    assert 0.0 < relu["deepfool_rho"] < 1.0
    tuning = results["tuning"]  # the DeepFool columns are evaluation.tune_kappa's curve (kappa 0 = ReLU)
    assert tuning["values"] == [0.0, 0.3] and tuning["rho"] == [relu["deepfool_rho"], jump["deepfool_rho"]]
    assert jump["deepfool_bpda_fool_rate"] == tuning["fool_rate_bpda"][1]
    assert results["config"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")
    stored = json.loads((tmp_path / "results.json").read_text())
    assert stored["rows"][1]["kappa"] == 0.3 and "environment" in stored
    md = (tmp_path / "results.md").read_text()
    assert "| JumpReLU | 0.300 |" in md and "BPDA" in md
    assert (tmp_path / "results.csv").read_text().startswith("model,kappa,clean_accuracy")
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert "masking_gap" in header and "strongest_adaptive" in header
    for key in header:  # every CSV column is documented in the report's header
        assert f"(`{key}`):" in md, key
    assert "1 torch thread(s)" in md and "Reproducible means" in md
    assert (tmp_path / "kappa_tradeoff.png").stat().st_size > 10_000


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dataset": "imagenet"}, "dataset"),
        ({"kappas": (-1.0,)}, "kappas"),
        ({"eps": 2.0}, "eps"),
        ({"n_eval": 0}, "n_eval"),
    ],
)
def test_demo_config_validation(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        DemoConfig(**kwargs).resolved()


def test_masking_gap_flags_only_beyond_margin() -> None:
    assert masking_gap(0.60, {"bpda": 0.50, "transfer": 0.58}, 0.05) == (True, "bpda", pytest.approx(0.10))
    assert masking_gap(0.60, {"bpda": 0.57}, 0.05)[0] is False
    assert masking_gap(0.60, {}, 0.05) == (False, None, 0.0)


def test_cli_demo_prints_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["demo", "--out", str(tmp_path), "--values", "kappa=0.3", "--n-eval", "30", "--epochs", "5"]
    code = main([*argv, "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "| ReLU |" in out and "| JumpReLU | 0.300 |" in out
    assert (tmp_path / "results.json").exists()


def test_cli_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["demo", "--dataset", "mnist", "--data-dir", str(tmp_path), "--out", str(tmp_path), "--quiet"])
        == 2
    )
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and "--data-dir" in err
    assert main([]) == 2
    with pytest.raises(SystemExit):
        main(["demo", "--values", "kappa=a,b"])
    with pytest.raises(SystemExit):
        main(["demo", "--kappas", "a,b"])  # the deprecated spelling checks its numbers too
