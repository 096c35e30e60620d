"""The command line's checks before any work: one-line errors that name flags, exit status 2,
help pages with defaults, the thread count and the honest defaults. The commands' work is
replaced by stubs where only the plumbing is under test, so these tests take seconds."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from art_activation_defenses.cli import _Formatter, build_parser, main
from art_activation_defenses.experiments import _setup, commands
from art_activation_defenses.models import build_model
from art_activation_defenses.training import default_threads, save_checkpoint


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    """The one stderr line of a refused command (no traceback)."""
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Replace evaluate_model / tune_model by stubs that record their arguments."""
    seen: list[dict[str, Any]] = []

    def fake_evaluate(model: str | None, **kwargs: Any) -> dict[str, Any]:
        seen.append({"model": model, **kwargs})
        return {"stub": True}

    def fake_tune(model: str | None, **kwargs: Any) -> dict[str, Any]:
        seen.append({"model": model, **kwargs})
        n = len(kwargs["values"])
        return {
            "param": "kappa",
            "values": list(kwargs["values"]),
            "accuracy": [1.0] * n,
            "chosen": 0.0,
            "select_by": kwargs["select_by"],
            "max_accuracy_drop": 0.01,
            "n_samples": 5,
        }

    monkeypatch.setattr(commands, "evaluate_model", fake_evaluate)
    monkeypatch.setattr(commands, "evaluate_markdown", lambda result: f"report of {sorted(result)}")
    monkeypatch.setattr(commands, "tune_model", fake_tune)
    return seen


def test_evaluate_without_weights_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[dict[str, Any]]
) -> None:
    assert main(["evaluate", "--param", "kappa=0.5", "--out", str(tmp_path / "e")]) == 2
    err = _error_line(capsys)
    assert "--weights is missing" in err and "--allow-random-weights" in err
    assert calls == [] and not (tmp_path / "e").exists()
    # allowed on request, with a loud warning from the library (here: the stub records the flag)
    assert (
        main(["evaluate", "--param", "kappa=0.5", "--allow-random-weights", "--out", str(tmp_path / "e")])
        == 0
    )
    assert calls[0]["allow_random_weights"] is True and calls[0]["weights"] is None


def test_detect_without_weights_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["detect", "--param", "kappa=0.5", "--out", str(tmp_path / "d")]) == 2
    err = _error_line(capsys)
    assert "--weights is missing" in err and "detect" in err and "--allow-random-weights" in err
    assert not (tmp_path / "d").exists()


def test_evaluate_random_weights_warns_in_the_library(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allow_random_weights"):
        commands.evaluate_model(weights=None, activation="jumprelu", activation_params={"kappa": 0.5})
    with pytest.warns(UserWarning, match="NO WEIGHTS"):
        with pytest.raises(ValueError, match="Unknown activation"):  # stops right after the warning
            commands.evaluate_model(
                weights=None, activation="nope", activation_params={}, allow_random_weights=True, out=tmp_path
            )


def test_train_param_without_activation_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--param", "kappa=0.5", "--out", str(tmp_path / "m.pt")]) == 2
    assert "needs --activation" in _error_line(capsys)
    assert main(["train", "--activation", "brelu", "--param", "kapa=1", "--out", str(tmp_path / "m.pt")]) == 2
    err = _error_line(capsys)
    assert "--param kapa" in err and "takes t" in err
    assert not (tmp_path / "m.pt").exists()


@pytest.mark.parametrize("kind", ["garbage", "whole-model"])
def test_unreadable_weights_give_one_line(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[dict[str, Any]]
) -> None:
    path = tmp_path / f"{kind}.pt"
    if kind == "garbage":
        path.write_bytes(bytes(range(256)) * 4)
    else:
        torch.save(nn.Linear(2, 2), path)  # a whole pickled model, refused by weights_only=True
    assert (
        main(["evaluate", "--weights", str(path), "--param", "kappa=0.5", "--out", str(tmp_path / "e")]) == 2
    )
    err = _error_line(capsys)
    assert "weights_only=True" in err and "state_dict()" in err
    assert ("torch.nn.modules.linear.Linear" in err) == (kind == "whole-model")
    assert calls == []


def test_model_factory_type_error_names_the_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["train", "--model", "torch.nn:Linear", "--epochs", "1", "--out", str(tmp_path / "m.pt")]) == 2
    )
    err = _error_line(capsys)
    assert "`--model 'torch.nn:Linear'`" in err and "--model-kwargs" in err and "in_features" in err


def test_param_checks_speak_flags(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[dict[str, Any]]
) -> None:
    base = ["evaluate", "--weights", str(checkpoint), "--out", str(tmp_path / "e")]
    assert main([*base, "--param", "kapa=0.5"]) == 2
    err = _error_line(capsys)
    assert "--param kapa" in err and "kappa" in err and "PyTorchClassifier" not in err
    assert main(base) == 2  # kappa left at its default 0: plain ReLU
    assert "--param kappa=VALUE is missing" in _error_line(capsys)
    with pytest.warns(UserWarning, match="NO-OP DEFENCE"):
        assert main([*base, "--param", "kappa=0"]) == 0
    # a non-neutral default is used, said, and recorded
    assert main([*base, "--activation", "brelu"]) == 0
    assert "using brelu's default t=1" in capsys.readouterr().err
    assert calls[-1]["activation_params"] == {"t": 1.0}
    assert main(["evaluate", "--weights", str(checkpoint), "--activation", "nope", "--param", "kappa=1"]) == 2
    assert "`--activation 'nope'`" in _error_line(capsys)


def test_checkpoint_metadata_fills_model_and_dataset(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], calls: list[dict[str, Any]]
) -> None:
    path = tmp_path / "mlp.pt"
    kwargs = {"hidden": [16]}
    meta = {
        "model": "mlp",
        "dataset": "digits",
        "input_shape": [1, 8, 8],
        "nb_classes": 10,
        "model_kwargs": kwargs,
    }
    save_checkpoint(build_model("mlp", (1, 8, 8), 10, hidden=(16,)), path, metadata=meta)
    assert main(["tune", "--weights", str(path), "--values", "0,0.5", "--out", str(tmp_path / "t")]) == 0
    assert calls[0]["model"] == "mlp" and calls[0]["dataset"] == "digits"
    assert calls[0]["model_kwargs"] == kwargs and calls[0]["select_by"] == "min"  # the honest default
    assert "worst case of white-box and BPDA" in capsys.readouterr().out
    # a checkpoint for 28x28 inputs asked to run on the 8x8 digits: refused, naming --dataset
    path28 = tmp_path / "m28.pt"
    save_checkpoint(
        nn.Linear(2, 2), path28, metadata={**meta, "dataset": "mnist", "input_shape": [1, 28, 28]}
    )
    assert main(["tune", "--weights", str(path28), "--dataset", "digits", "--values", "0,1"]) == 2
    err = _error_line(capsys)
    assert "(1, 28, 28)" in err and "`--dataset 'mnist'`" in err
    # ... and without --dataset the checkpoint's own dataset is used (was: a size-mismatch dump on digits)
    assert (
        main(["evaluate", "--weights", str(path28), "--param", "kappa=0.5", "--out", str(tmp_path / "e")])
        == 0
    )
    assert calls[-1]["dataset"] == "mnist" and calls[-1]["model"] == "mlp"


def test_size_mismatch_is_one_line_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.save(build_model("lenet-like", (1, 28, 28), 10).state_dict(), path)  # an old plain state_dict
    with pytest.raises(ValueError, match=r"does not match the model: .*size mismatch") as info:
        commands.load_model("lenet-like", (1, 8, 8), 10, weights=path)
    assert "\n" not in str(info.value)
    model, meta = commands.load_model("lenet-like", (1, 28, 28), 10, weights=path)
    assert meta == {} and isinstance(model, nn.Module)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "--n-eval", "0"], "--n-eval: expected an integer > 0"),
        (["demo", "--eps", "-1"], "--eps: expected a number > 0"),
        (["train", "--lr", "0"], "--lr: expected a number > 0"),
        (["tune", "--values", "0,nan"], "--values: expected numbers"),
    ],
)
def test_argparse_types_refuse_bad_numbers(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2 and needle in capsys.readouterr().err


def test_large_eps_and_existing_out_file_are_refused_before_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, checkpoint: Path
) -> None:
    from art_activation_defenses.experiments import demo

    def no_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the work started")

    monkeypatch.setattr(demo, "run_demo", no_work)
    monkeypatch.setattr(commands, "evaluate_model", no_work)
    assert main(["demo", "--eps", "25", "--out", str(tmp_path / "d")]) == 2
    assert "--eps 25 exceeds the input range" in _error_line(capsys)
    existing = tmp_path / "taken"
    existing.write_text("x")
    assert main(["demo", "--out", str(existing)]) == 2
    assert "--out" in _error_line(capsys)
    args = ["evaluate", "--weights", str(checkpoint), "--param", "kappa=0.5", "--out", str(existing)]
    assert main(args) == 2
    assert "is an existing file" in _error_line(capsys)
    assert main(["train", "--out", str(tmp_path)]) == 2  # a directory where a file is expected
    assert "is a directory" in _error_line(capsys)
    assert existing.read_text() == "x"


def test_every_option_has_help_showing_its_default() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert set(subparsers.choices) == {"demo", "reproduce", "train", "evaluate", "tune", "detect"}
    formatter = _Formatter("x")
    for name, sub in subparsers.choices.items():
        flags = {s for a in sub._actions for s in a.option_strings}
        assert "--threads" in flags and "--device" in flags, name
        for action in sub._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            if action.help == argparse.SUPPRESS:  # the hidden deprecated spellings (tests/test_cli_flags.py)
                continue
            text = formatter._get_help_string(action)
            assert action.help, f"{name} {action.option_strings} has no help"
            if not isinstance(action, argparse._StoreTrueAction) and not action.required:
                assert "default" in text, f"{name} {action.option_strings}: {text!r}"
    assert "(default: 0)" in subparsers.choices["demo"].format_help()  # --seed, as the user sees it


def test_threads_default_from_free_cores_and_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setattr(os, "getloadavg", lambda: (1.2, 0.0, 0.0))
    assert default_threads() == 3  # 4 usable cores minus a load of 1.2, rounded
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert default_threads() == 1  # a busy machine: never below 1
    monkeypatch.setattr(os, "getloadavg", lambda: (0.0, 0.0, 0.0))
    assert default_threads() == 4  # idle: the cores this process may use, not all 8
    before = torch.get_num_threads()
    try:
        assert main(["reproduce", "--list", "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_console_entry_point_refuses_random_audit() -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "art_activation_defenses", "evaluate", "--param", "kappa=0.5"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines() == [proc.stderr.strip()]
        and "art-activation-defenses evaluate: error: --weights is missing" in proc.stderr
    )


def test_library_refuses_an_out_file_before_any_work(
    tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from art_activation_defenses.experiments import DemoConfig, run_demo

    existing = tmp_path / "taken"
    existing.write_text("x")

    def no_work(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the work started")

    monkeypatch.setattr(_setup, "_data", no_work)  # the test images, loaded by open_target
    with pytest.raises(ValueError, match="`out='.*taken'` is an existing file"):
        commands.evaluate_model(
            weights=checkpoint, activation="jumprelu", activation_params={"kappa": 0.5}, out=existing
        )
    with pytest.raises(ValueError, match="existing file"):
        commands.tune_model(weights=checkpoint, activation="jumprelu", values=[0.0], out=existing)
    with pytest.raises(ValueError, match="existing file"):
        run_demo(DemoConfig(n_eval=5), out=existing, verbose=False)


def test_library_messages_are_rewritten_as_flags() -> None:
    from art_activation_defenses.cli import _subparser
    from art_activation_defenses.cli_checks import speak_cli

    parser = build_parser()
    tune = _subparser(parser, "tune")
    text = "`kappas` must hold one value; `max_accuracy_drop` == -1.0; `model='x'`; `model.state_dict()`"
    assert speak_cli(text, "tune", tune) == (
        "`--values` must hold one value; `--max-accuracy-drop` == -1.0; `--model 'x'`; `model.state_dict()`"
    )
    assert (
        speak_cli("`eps` must lie in (0, 1]", "demo", _subparser(parser, "demo"))
        == "`--eps` must lie in (0, 1]"
    )
    assert speak_cli("`unknown_name` stays", "tune", tune) == "`unknown_name` stays"
