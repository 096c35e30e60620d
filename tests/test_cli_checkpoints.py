"""Checkpoints that carry their model, dataset and shape; your own model through ``train``;
file modes of what the commands write; the tuning plot and its honest default."""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from art_activation_defenses.activations import BoundedReLU
from art_activation_defenses.cli import main
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import masking_flags, plot_tradeoff, tune_kappa
from art_activation_defenses.experiments.commands import checkpoint_settings, load_model
from art_activation_defenses.training import evaluate, save_checkpoint

FACTORY = "art_activation_defenses.models.small:mlp"


@pytest.fixture()
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_train_your_own_factory_with_an_activation_and_use_it_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], umask_022: None
) -> None:
    path = tmp_path / "own.pt"
    kwargs = {"input_shape": [1, 8, 8], "nb_classes": 10, "hidden": [32]}
    argv = ["train", "--model", FACTORY, "--model-kwargs", json.dumps(kwargs), "--activation", "brelu"]
    argv += [
        "--param",
        "t=1",
        "--epochs",
        "3",
        "--lr",
        "1e-2",
        "--out",
        str(path),
        "--quiet",
        "--threads",
        "1",
    ]
    assert main(argv) == 0
    meta = torch.load(path, map_location="cpu", weights_only=True)["metadata"]
    assert meta["model"] == FACTORY and meta["model_kwargs"] == kwargs and meta["dataset"] == "digits"
    assert meta["input_shape"] == [1, 8, 8] and meta["nb_classes"] == 10
    assert meta["activation"] == "brelu" and meta["activation_params"] == {"t": 1.0}
    reference = tmp_path / "reference"
    reference.write_text("")  # what a plain open() gives under this umask: 0644
    assert _mode(path) == _mode(reference) == 0o644
    # the checkpoint alone says what to build: the factory, its kwargs and the training activation
    settings = checkpoint_settings(path)
    assert (settings["model"], settings["dataset"], settings["model_kwargs"]) == (FACTORY, "digits", kwargs)
    model, _ = load_model(
        settings["model"], (1, 8, 8), 10, weights=path, model_kwargs=settings["model_kwargs"]
    )
    assert sum(isinstance(m, BoundedReLU) for m in model.modules()) == 1
    assert not any(isinstance(m, nn.ReLU) for m in model.modules())
    from art_activation_defenses.data import load_dataset

    x, y = load_dataset("digits", split="test")
    assert evaluate(model, x, y) == pytest.approx(meta["test_accuracy"], abs=1e-12)


def test_json_outputs_get_the_mode_of_plain_files(tmp_path: Path, umask_022: None) -> None:
    from art_activation_defenses.experiments._common import write_json

    write_json({"a": 1}, tmp_path / "r.json")
    save_checkpoint(nn.Linear(2, 2), tmp_path / "c.pt")
    (tmp_path / "plain.txt").write_text("x")
    assert _mode(tmp_path / "r.json") == _mode(tmp_path / "c.pt") == _mode(tmp_path / "plain.txt") == 0o644


def test_old_plain_state_dict_still_loads(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    torch.save(net.state_dict(), tmp_path / "plain.pt")
    settings = checkpoint_settings(tmp_path / "plain.pt")
    assert (
        settings["metadata"] == {} and settings["model"] == "lenet-like" and settings["dataset"] == "digits"
    )
    spec = "torch.nn:Sequential"
    with pytest.raises(ValueError, match="does not match the model: 2 unexpected"):
        load_model(spec, (1, 8, 8), 10, weights=tmp_path / "plain.pt")


def test_tune_default_is_the_worst_case_and_flags_follow_their_rule(
    tiny_model: nn.Module, digits: tuple[np.ndarray, ...]
) -> None:
    clf = RetrofitClassifier(tiny_model, None, (1, 8, 8), 10, kappa=0.0, clip_values=(0.0, 1.0))
    x, y = digits[2][:32], digits[3][:32]
    res = tune_kappa(clf, x, y, [0.0, 1.0], max_accuracy_drop=1.0, verbose=False)
    assert res["select_by"] == "min" and res["flag_margin"] == 0.1
    worst = [min(w, b) for w, b in zip(res["rho"], res["rho_bpda"], strict=True)]
    assert res["chosen_index"] == int(np.nanargmax(worst))
    assert res["masking_flag"] == [b < 0.9 * w for w, b in zip(res["rho"], res["rho_bpda"], strict=True)]
    lenient = tune_kappa(clf, x, y, [1.0], max_accuracy_drop=1.0, flag_margin=1.0, verbose=False)
    assert lenient["masking_flag"] == [False]  # a margin of 100 % never flags
    assert tune_kappa(clf, x, y, [0.0], bpda=False, verbose=False)["select_by"] == "white-box"


def test_masking_flag_rule_closed_form() -> None:
    # flagged only when BPDA rho is more than 10 % below white-box rho; NaN never flags
    rho, bpda = [0.20, 0.20, 0.20, math.nan, 0.20], [0.19, 0.17, 0.25, 0.1, math.nan]
    assert masking_flags(rho, bpda, 0.1) == [False, True, False, False, False]
    assert masking_flags(rho, bpda, 0.0) == [True, True, False, False, False]


def test_tradeoff_plot_from_json_with_flags_and_infinite_values(tmp_path: Path) -> None:
    result = {
        "param": "t",
        "activation": "brelu",
        "values": [None, 2.0, 1.0],  # JSON writes inf as null
        "accuracy": [0.95, 0.94, 0.90],
        "rho": [0.12, 0.20, 0.30],
        "rho_bpda": [0.12, 0.13, 0.31],
        "admissible": [True, True, False],
        "masking_flag": [False, True, False],
        "chosen_index": 1,
        "reference_accuracy": 0.95,
        "max_accuracy_drop": 0.01,
        "norm": "2",
        "attack": "deepfool",
        "n_samples": 64,
        "select_by": "white-box",
    }
    path = plot_tradeoff(result, tmp_path / "t.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
    with pytest.raises(ValueError, match="missing keys"):
        plot_tradeoff({"param": "t"}, tmp_path / "u.png")
    assert math.isfinite(path.stat().st_mtime)
