"""The command line's one spelling of a defence parameter (``--param NAME=VALUE``, ``--values [NAME=]...``),
the deprecated old spellings, ``--device`` on every command, ``reproduce --workers/--ray-address``,
printing from the results held in memory, and the path of a κ from the command line to the
activation. The commands' work is replaced by stubs that record their arguments (seconds)."""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
import torch

from art_activation_defenses import experiments
from art_activation_defenses.activations import modules
from art_activation_defenses.cli import build_parser, main
from art_activation_defenses.experiments import commands, demo


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Every command's library function replaced by a stub recording its keyword arguments."""
    seen: dict[str, dict[str, Any]] = {}

    def stub(name: str, result: dict[str, Any]) -> Any:
        def record(*args: Any, **kwargs: Any) -> dict[str, Any]:
            seen[name] = {"args": args, **kwargs}
            return {**result, "recorded": name}

        return record

    tune_result = {"param": "kappa", "values": [0.0], "accuracy": [1.0], "chosen": 0.0, "select_by": "min",
                   "max_accuracy_drop": 0.01}  # fmt: skip
    demo_result = {"rows": [], "wall_seconds": 0.0}
    monkeypatch.setattr(commands, "train_model", stub("train", {"test_accuracy": 0.5}))
    monkeypatch.setattr(commands, "evaluate_model", stub("evaluate", {}))
    monkeypatch.setattr(commands, "detect_model", stub("detect", {}))
    monkeypatch.setattr(commands, "tune_model", stub("tune", tune_result))
    monkeypatch.setattr(commands, "evaluate_markdown", lambda r: f"EVALUATE REPORT {r['recorded']}")
    monkeypatch.setattr(commands, "detect_markdown", lambda r: f"DETECT REPORT {r['recorded']}")

    def run_demo(config: Any, **kwargs: Any) -> dict[str, Any]:
        seen["demo"] = {"config": config, **kwargs}
        return demo_result

    monkeypatch.setattr(demo, "run_demo", run_demo)
    monkeypatch.setattr(experiments, "reproduce", stub("reproduce", {"title": "t"}))
    return seen


def _model_command(command: str, checkpoint: Path, tmp_path: Path, *extra: str) -> int:
    return main([command, "--weights", str(checkpoint), "--out", str(tmp_path / command), "--quiet", *extra])


def test_param_is_one_typed_dict_handed_down_as_is(
    checkpoint: Path, tmp_path: Path, calls: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    args = build_parser().parse_args(["evaluate", "--param", "kappa=1", "--param", "low=0.5"])
    assert args.activation_params == {"kappa": 1.0, "low": 0.5}
    assert build_parser().parse_args(["evaluate"]).activation_params == {}  # never a shared default
    assert _model_command("evaluate", checkpoint, tmp_path, "--param", "kappa=1") == 0
    assert calls["evaluate"]["activation_params"] == {"kappa": 1.0}
    assert _model_command("detect", checkpoint, tmp_path, "--param", "kappa=0.5") == 0
    assert calls["detect"]["activation_params"] == {"kappa": 0.5}
    out = tmp_path / "m.pt"
    assert main(["train", "--activation", "brelu", "--param", "t=2", "--out", str(out), "--quiet"]) == 0
    assert calls["train"]["activation_params"] == {"t": 2.0} and calls["train"]["activation"] == "brelu"
    with pytest.raises(SystemExit) as info:
        main(["evaluate", "--param", "kappa=1", "--param", "kappa=2"])
    assert info.value.code == 2 and "kappa given twice" in capsys.readouterr().err


def test_tune_values_name_the_tuned_parameter(
    checkpoint: Path, tmp_path: Path, calls: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _model_command("tune", checkpoint, tmp_path, "--values", "kappa=0,0.5,1") == 0
    assert calls["tune"]["values"] == (0.0, 0.5, 1.0) and calls["tune"]["param"] == "kappa"
    assert _model_command("tune", checkpoint, tmp_path, "--activation", "brelu", "--values", "1,2") == 0
    assert calls["tune"]["param"] == "t"  # without NAME=: the activation's first parameter
    extra = ("--activation", "randomized-jumprelu", "--values", "kappa=0.5,1", "--param", "low=0.4")
    assert _model_command("tune", checkpoint, tmp_path, *extra) == 0
    assert calls["tune"]["activation_params"] == {"low": 0.4} and calls["tune"]["param"] == "kappa"
    capsys.readouterr()
    assert _model_command("tune", checkpoint, tmp_path, "--values", "t=1,2") == 2
    assert "--values t=...: activation 'jumprelu' has no parameter 't'" in _error_line(capsys)
    assert _model_command("tune", checkpoint, tmp_path, "--values", "kappa=0,1", "--param", "kappa=1") == 2
    assert "fixes the parameter that --values tunes" in _error_line(capsys)


def test_deprecated_spellings_still_work_with_one_notice(
    checkpoint: Path, tmp_path: Path, calls: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert _model_command("tune", checkpoint, tmp_path, "--param-name", "kappa", "--values", "0,1") == 0
    assert calls["tune"]["param"] == "kappa" and calls["tune"]["values"] == (0.0, 1.0)
    notice = [line for line in capsys.readouterr().err.splitlines() if "deprecated" in line]
    assert notice == [
        "art-activation-defenses tune: warning: --param-name is deprecated and will be removed in the next "
        "release; use --values NAME=V1,V2,..."
    ]
    assert main(["demo", "--kappas", "0.3,0.6", "--out", str(tmp_path / "d"), "--quiet"]) == 0
    assert calls["demo"]["config"].kappas == (0.3, 0.6)
    err = capsys.readouterr().err
    assert "--kappas is deprecated" in err and "use --values kappa=V1,V2,..." in err
    assert main(["demo", "--kappas", "0.3", "--values", "0.5", "--out", str(tmp_path / "d")]) == 2
    assert "--kappas and --values" in capsys.readouterr().err.splitlines()[-1]
    assert _model_command("tune", checkpoint, tmp_path, "--param-name", "low", "--values", "kappa=0,1") == 2
    assert "name different parameters" in capsys.readouterr().err.splitlines()[-1]
    for command in ("demo", "tune"):
        with pytest.raises(SystemExit):
            main([command, "-h"])
        shown = capsys.readouterr().out
        assert "--kappas" not in shown and "--param-name" not in shown and "--values" in shown


@pytest.mark.parametrize(
    ("extra", "kappas"),
    [((), None), (("--values", "kappa=0.2,0.4"), (0.2, 0.4)), (("--values", "0.3"), (0.3,)),
     (("--param", "kappa=0.7"), (0.7,))],
)  # fmt: skip
def test_demo_spells_kappa_like_the_others(
    extra: tuple[str, ...], kappas: Any, tmp_path: Path, calls: dict[str, dict[str, Any]]
) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), "--quiet", *extra]) == 0
    assert calls["demo"]["config"].kappas == kappas


def test_demo_refuses_other_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = ["--out", str(tmp_path / "d")]
    assert main(["demo", *out, "--param", "t=1"]) == 2
    assert "--param t=...: the demo's JumpReLU has the one parameter kappa" in _error_line(capsys)
    assert main(["demo", *out, "--param", "kappa=1", "--values", "0.1,0.2"]) == 2
    assert "one value with --param or a grid with --values" in _error_line(capsys)


def test_device_is_validated_and_passed_to_every_command(
    checkpoint: Path, tmp_path: Path, calls: dict[str, dict[str, Any]]
) -> None:
    cpu = ("--device", "cpu")
    assert _model_command("evaluate", checkpoint, tmp_path, "--param", "kappa=1", *cpu) == 0
    assert _model_command("detect", checkpoint, tmp_path, "--param", "kappa=1", *cpu) == 0
    assert _model_command("tune", checkpoint, tmp_path, "--values", "0,1", *cpu) == 0
    assert main(["train", "--out", str(tmp_path / "m.pt"), *cpu]) == 0
    assert main(["reproduce", "capped", "--quick", "--out", str(tmp_path / "r"), *cpu]) == 0
    assert main(["demo", "--out", str(tmp_path / "d"), *cpu]) == 0
    for name in ("evaluate", "detect", "tune", "train", "reproduce"):
        assert calls[name]["device"] == "cpu", name
    assert calls["demo"]["config"].device == "cpu"
    assert main(["train", "--out", str(tmp_path / "m.pt")]) == 0  # auto: the machine's best device
    assert calls["train"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.parametrize("command", ["demo", "train", "evaluate", "tune", "detect", "reproduce"])
def test_cuda_without_a_gpu_is_refused_before_any_work(
    command: str,
    tmp_path: Path,
    calls: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    extras = {"tune": ["--values", "0,1"], "reproduce": ["capped"], "train": ["--out", str(tmp_path / "m")],
              "demo": [], "evaluate": ["--param", "kappa=1"], "detect": ["--param", "kappa=1"]}  # fmt: skip
    extra = extras[command]
    assert main([command, *extra, "--device", "cuda"]) == 2
    err = _error_line(capsys)
    assert f"art-activation-defenses {command}: error: --device 'cuda'" in err and "no CUDA GPU" in err
    assert calls == {}
    assert main([command, *extra, "--device", "tpu"]) == 2
    assert "--device 'tpu', must be 'auto', 'cpu', 'cuda' or 'cuda:N'" in _error_line(capsys)


def test_reproduce_passes_workers_and_ray_address(tmp_path: Path, calls: dict[str, dict[str, Any]]) -> None:
    assert main(["reproduce", "capped", "--quick", "--workers", "3", "--out", str(tmp_path)]) == 0
    assert calls["reproduce"]["workers"] == 3 and calls["reproduce"]["ray_address"] is None
    assert main(["reproduce", "capped", "--quick", "--ray-address", "auto", "--out", str(tmp_path)]) == 0
    assert calls["reproduce"]["ray_address"] == "auto" and calls["reproduce"]["workers"] is None
    with pytest.raises(SystemExit):
        main(["reproduce", "capped", "--workers", "0"])


def test_reproduce_without_ray_is_a_clear_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, installed or not
    out = tmp_path / "r"
    assert main(["reproduce", "capped", "--quick", "--workers", "2", "--out", str(out), "--quiet"]) == 2
    err = _error_line(capsys)
    assert "reproduce: error: --workers needs Ray" in err and "pip install" in err and "[ray]" in err
    assert not (out / "cells.json").exists()


def test_reports_are_printed_from_the_result_not_reread(
    checkpoint: Path, tmp_path: Path, calls: dict[str, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    # the stubs write no file at all: what is printed can only come from the returned result
    assert _model_command("evaluate", checkpoint, tmp_path, "--param", "kappa=1") == 0
    assert "EVALUATE REPORT evaluate" in capsys.readouterr().out
    assert _model_command("detect", checkpoint, tmp_path, "--param", "kappa=1") == 0
    assert "DETECT REPORT detect" in capsys.readouterr().out
    assert not any(tmp_path.rglob("*.md"))


class _Reached(Exception):
    pass


def test_kappa_reaches_the_activation_in_few_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``evaluate --param kappa=1``: the stack from ``main`` to the activation's ``set_params``
    (where the value is checked). The CLI and commands add two frames; 12 calls before the redesign."""
    stacks: list[traceback.StackSummary] = []
    original = modules.RetrofitActivation.set_params

    def spy(self: modules.RetrofitActivation, **params: float) -> None:
        if params.get("kappa") == 1.0:
            stacks.append(traceback.extract_stack()[:-1])
            raise _Reached
        original(self, **params)

    monkeypatch.setattr(modules.RetrofitActivation, "set_params", spy)
    argv = ["evaluate", "--allow-random-weights", "--param", "kappa=1", "--n-eval", "5"]
    with pytest.warns(UserWarning, match="NO WEIGHTS"), pytest.raises(_Reached):
        main([*argv, "--out", str(tmp_path), "--quiet", "--threads", "1", "--device", "cpu"])
    frames = [f for f in stacks[0] if "art_activation_defenses" in f.filename]
    chain = frames[[f.name for f in frames].index("main") + 1 :]
    ours = [f.name for f in chain if Path(f.filename).name in ("cli.py", "commands.py")]
    assert ours == ["_run_evaluate", "evaluate_model"]
    names = [f.name for f in chain]
    # main -> _run_evaluate -> evaluate_model -> RetrofitClassifier.__init__ -> retrofit -> JumpReLU.__init__
    # (κ reaches the activation)
    # (the activation; it stores the checked value with its own set_params): with the one parse
    # (_ParamAction): 6 calls, 2 renames (activation_params -> params -> kappa)
    assert names == ["_run_evaluate", "evaluate_model", "__init__", "retrofit", "__init__"], names
    assert len(names) + 1 <= 6, names
