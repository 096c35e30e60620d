"""Regression tests of issue 11 (hardening): evaluation.pgd validation, minimal-FGSM step cap,
LID on the wrong scale/dtype, training defences on out-of-range data, the keyed cell store."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._validation import check_scalar
from art_activation_defenses.defences import GaussianAugmentationTrainer, VirtualAdversarialTrainer
from art_activation_defenses.detectors import LIDDetector, lid_auc
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import pgd
from art_activation_defenses.experiments.runner import CellStore, ExperimentContext, run_grid
from art_activation_defenses.metrics import minimal_fgsm_robustness, robust_accuracy


@pytest.fixture
def clf() -> RetrofitClassifier:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3))
    return RetrofitClassifier(model, None, (1, 4, 4), 3, kappa=0.0, clip_values=(0.0, 1.0), device_type="cpu")


def _xy(n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.random((n, 1, 4, 4), dtype=np.float32), rng.integers(0, 3, n)


def test_check_scalar_message_style() -> None:
    with pytest.raises(ValueError, match=r"^`eps` == -1.0, must be > 0\.$"):
        check_scalar(-1.0, "eps", min_val=0, include_boundaries="right")
    with pytest.raises(ValueError, match=r"^`n` == 2.5, must be an integer\.$"):
        check_scalar(2.5, "n", "int")
    assert check_scalar(np.int64(3), "n", "int", min_val=1) == 3


def test_pgd_validates_its_arguments(clf: RetrofitClassifier) -> None:
    x, y = _xy(4)
    kw: dict[str, object] = dict(
        loss="ce", eps=0.1, eps_step=0.05, max_iter=2, random_init=False, seed=0, batch_size=4
    )
    out = pgd(clf, x, y, **kw)  # type: ignore[arg-type]
    assert out.shape == x.shape and np.isfinite(out).all()
    x_nan = x.copy()
    x_nan[0, 0, 0, 0] = np.nan
    cases: list[tuple[np.ndarray, dict[str, object], str]] = [
        (x_nan, {}, "`x` contains NaN"),
        (x, {"eps": float("nan")}, "`eps` == nan, must be finite"),
        (x, {"eps": 0.0}, r"`eps` == 0.0, must be > 0"),
        (x, {"loss": "foo"}, r"`loss` == 'foo', must be one of \('ce', 'margin'\)"),
        (x, {"batch_size": 0}, r"`batch_size` == 0, must be >= 1"),
        (x, {"max_iter": 0}, "`max_iter`"),
        (x * 255, {}, "outside clip_values"),
    ]
    for xx, change, match in cases:
        with pytest.raises(ValueError, match=match):
            pgd(clf, xx, y, **{**kw, **change})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`y`"):
        pgd(clf, x, np.array([0, 1, 2, 7]), **kw)  # type: ignore[arg-type]


class _Hang(BaseException):
    pass


def _raise_hang(signum: int, frame: object) -> None:
    raise _Hang


def test_minimal_fgsm_caps_the_number_of_steps(clf: RetrofitClassifier) -> None:
    x, y = _xy(4)
    previous = signal.signal(signal.SIGALRM, _raise_hang)
    signal.alarm(30)  # without the cap this runs ~1e9 FGSM steps: fail instead of hanging
    try:
        with pytest.raises(ValueError, match=r"`eps_step` == 1e-09, must give at most 10000 grid steps"):
            minimal_fgsm_robustness(clf, x, y, eps_step=1e-9)
    except _Hang:
        pytest.fail("minimal_fgsm_robustness(eps_step=1e-9) ran for more than 30 s")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_lid_refuses_wrong_scale_and_dtype(clf: RetrofitClassifier) -> None:
    x, y = _xy(30)
    x_adv = np.clip(x + 0.05, 0, 1).astype(np.float32)
    with pytest.raises(ValueError, match="`x_adv` has values in .*outside clip_values"):
        lid_auc(clf, x, x_adv * 255, y=y, k=3, batch_size=10)
    with pytest.raises(ValueError, match="`x_adv` must hold floating-point"):
        lid_auc(clf, x, (x_adv * 255).astype(np.uint8), y=y, k=3, batch_size=10)
    det = LIDDetector(clf, k=3, batch_size=10)
    xs = np.concatenate([x, x_adv])
    labels = np.r_[np.zeros(30, int), np.ones(30, int)]
    with pytest.raises(ValueError, match="`x` must hold floating-point"):
        det.fit((xs * 255).astype(np.int64), labels)
    with pytest.raises(ValueError, match="`x` has values in .*outside clip_values"):
        det.fit(xs * 255, labels)
    det.fit(xs, labels)
    with pytest.raises(ValueError, match="`x` has values"):
        det.detect(x_adv * 255)
    # without clip_values, the scale is compared with the reference
    noclip = RetrofitClassifier(clf.model, None, (1, 4, 4), 3, kappa=0.0, device_type="cpu")
    with pytest.raises(ValueError, match="far outside `x_clean`"):
        lid_auc(noclip, x, x_adv * 255, y=y, k=3, batch_size=10)


@pytest.mark.parametrize("trainer", ["gda", "vat"])
def test_trainers_refuse_data_outside_clip_values(clf: RetrofitClassifier, trainer: str) -> None:
    x, y = _xy(8)
    before = [p.detach().clone() for p in clf.model.parameters()]
    t = (
        GaussianAugmentationTrainer(clf, nb_copies=1, nb_epochs=1, verbose=False)
        if trainer == "gda"
        else VirtualAdversarialTrainer(clf, nb_epochs=1, verbose=False)
    )
    with pytest.raises(ValueError, match="`x` has values in .*outside clip_values"):
        t.fit(x * 255, y)
    assert all(torch.equal(a, b) for a, b in zip(before, clf.model.parameters(), strict=True))


def test_cell_store_is_keyed_by_its_settings(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute(cell: dict[str, int]) -> dict[str, int]:
        calls.append(cell["a"])
        return {"v": cell["a"]}

    path = tmp_path / "cells.json"
    run_grid([{"a": 1}], compute, CellStore(path, settings={"seed": 0, "quick": True}), verbose=False)  # type: ignore[arg-type]
    run_grid([{"a": 1}], compute, CellStore(path, settings={"seed": 0, "quick": True}), verbose=False)  # type: ignore[arg-type]
    assert calls == [1]  # same settings: resumed
    with pytest.raises(
        ValueError, match=r"seed: stored 0 != now 1.*another output folder \(--out\) or delete"
    ):
        CellStore(path, settings={"seed": 1, "quick": True})
    with pytest.raises(ValueError, match="budgets: stored '<missing>'"):
        CellStore(path, settings={"seed": 0, "quick": True, "budgets": {"n": 3}})
    # the experiment context keys its store by seed, quick, versions and the given settings
    out = tmp_path / "run"
    for _ in range(2):
        ctx = ExperimentContext("x", out, quick=True, seed=0, verbose=False, settings={"budgets": {"n": 1}})
        ctx.grid([{"a": 2}], compute, "cells")  # type: ignore[arg-type]
    assert calls == [1, 2]
    for change in ({"seed": 1}, {"quick": False}):
        kw = {"quick": True, "seed": 0, **change}
        with pytest.raises(ValueError, match=next(iter(change))):
            ExperimentContext("x", out, verbose=False, settings={"budgets": {"n": 1}}, **kw)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="budgets"):
        ExperimentContext("x", out, quick=True, seed=0, verbose=False, settings={"budgets": {"n": 2}})


@pytest.mark.parametrize(
    "content",
    [
        [],
        {"cells": []},
        {"cells": {"k": 1}},
        {"cells": {"k": {"result": 1}}},
        {"cells": {}, "meta": 3},
        {"cells": {"{}": {"cell": {"a": 1}, "result": {}}}},
    ],
)
def test_cell_store_of_wrong_shape_is_a_clear_error(tmp_path: Path, content: object) -> None:
    path = tmp_path / "cells.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(ValueError, match="is not a cell store"):
        CellStore(path)


def test_float64_model_refused_by_every_entry_point() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    art_clf = PyTorchClassifier(
        model, nn.CrossEntropyLoss(), (1, 4, 4), 3, clip_values=(0.0, 1.0), device_type="cpu"
    )
    x, y = _xy(30)
    calls = [
        lambda: lid_auc(art_clf, x, x, y=y, k=3, batch_size=10),
        lambda: LIDDetector(art_clf, k=3, batch_size=10),
        lambda: pgd(
            art_clf,
            x,
            y,
            loss="ce",
            eps=0.1,
            eps_step=0.05,
            max_iter=1,
            random_init=False,
            seed=0,
            batch_size=8,
        ),
        lambda: GaussianAugmentationTrainer(art_clf, verbose=False),
        lambda: robust_accuracy(art_clf, x, y),
    ]
    for call in calls:
        with pytest.raises(ValueError, match=r"`classifier.model` has float64 parameters"):
            call()
