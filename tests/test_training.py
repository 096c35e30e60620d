"""Tests of ``art_activation_defenses.training``: learning, reproducibility, checkpoints, validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from art_activation_defenses.data import load_dataset
from art_activation_defenses.models import build_model
from art_activation_defenses.training import (
    evaluate,
    fit,
    load_checkpoint,
    predict_logits,
    save_checkpoint,
    set_seed,
)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = load_dataset("digits", split="train")
    xt, yt = load_dataset("digits", split="test")
    return x, y, xt, yt


def _lenet(seed: int = 0) -> nn.Module:
    set_seed(seed)
    return build_model("lenet-like", (1, 8, 8), 10)


def _state_equal(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_lenet_learns_digits(digits: tuple[np.ndarray, ...]) -> None:
    """lenet-like reaches > 85% test accuracy on digits in 6 epochs (94-96% over seeds 0-3)."""
    x, y, xt, yt = digits
    model = _lenet()
    history = fit(model, x, y, epochs=6, batch_size=32, verbose=False, x_val=xt, y_val=yt)
    acc = evaluate(model, xt, yt)
    assert acc > 0.85
    assert history["val_accuracy"][-1] == pytest.approx(acc)
    assert history["loss"][-1] < history["loss"][0]
    assert set(history) == {"loss", "accuracy", "val_accuracy", "seconds"}
    assert all(len(v) == 6 for v in history.values())
    assert all(isinstance(v, float) for v in history["loss"] + history["accuracy"] + history["seconds"])
    assert not model.training


def test_fit_is_reproducible(digits: tuple[np.ndarray, ...]) -> None:
    """Same seed -> bitwise identical weights and history (dropout included); another seed differs."""
    x, y = digits[0][:256], digits[1][:256]
    runs = []
    for seed in (0, 0, 1):
        model = _lenet()
        h = fit(model, x, y, epochs=2, batch_size=64, seed=seed, verbose=False)
        runs.append((model, h))
    assert _state_equal(runs[0][0], runs[1][0])
    assert runs[0][1]["loss"] == runs[1][1]["loss"]
    assert not _state_equal(runs[0][0], runs[2][0])


def test_fit_leaves_inputs_and_global_rng_untouched(digits: tuple[np.ndarray, ...]) -> None:
    x, y = digits[0][:64].copy(), digits[1][:64].copy()
    x0, y0 = x.copy(), y.copy()
    model = _lenet()
    torch.manual_seed(123)
    before = torch.get_rng_state()

    def noisy(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xb.add_(1.0)  # in place on purpose: fit must hand over a copy
        return xb, yb

    fit(model, x, y, epochs=1, batch_size=16, verbose=False, augment=noisy)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(y, y0)
    assert torch.equal(torch.get_rng_state(), before)


def test_augment_is_called_per_batch(digits: tuple[np.ndarray, ...]) -> None:
    x, y = digits[0][:50], digits[1][:50]
    sizes: list[int] = []

    def aug(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sizes.append(len(xb))
        return torch.cat([xb, xb.flip(-1)]), torch.cat([yb, yb])

    fit(build_model("mlp", (1, 8, 8), 10), x, y, epochs=2, batch_size=16, verbose=False, augment=aug)
    assert sizes == [16, 16, 16, 2] * 2


def test_single_sample_last_batch_is_folded(digits: tuple[np.ndarray, ...]) -> None:
    """A trailing batch of one sample joins the previous one, so BatchNorm models can train."""
    x, y = digits[0][:33], digits[1][:33]
    sizes: list[int] = []

    def record(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sizes.append(len(xb))
        return xb, yb

    set_seed(0)
    model = build_model("mobilenet-v2-cifar", (1, 8, 8), 10, width_mult=0.25)  # 1x1 maps at the end
    fit(model, x, y, epochs=1, batch_size=16, verbose=False, augment=record)
    assert sizes == [16, 17]


def test_sgd_optimizer_learns(digits: tuple[np.ndarray, ...]) -> None:
    x, y = digits[0], digits[1]
    set_seed(0)
    model = build_model("mlp", (1, 8, 8), 10, hidden=(64,))
    history = fit(model, x, y, epochs=3, lr=0.05, optimizer="sgd", weight_decay=1e-4, verbose=False)
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    assert history["val_accuracy"] == []


def test_evaluate_and_predict_restore_training_flag(digits: tuple[np.ndarray, ...]) -> None:
    """Eval-mode predictions (dropout off) that match a manual forward pass; the flag is put back."""
    x, y = digits[2][:40], digits[3][:40]
    model = _lenet().train()
    logits = predict_logits(model, x, batch_size=7)
    assert model.training
    assert logits.shape == (40, 10) and logits.dtype == np.float32
    model.eval()
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    model.train()
    acc = evaluate(model, x, y, batch_size=9, device="cpu")
    assert model.training
    assert acc == pytest.approx(float((expected.argmax(1) == y).mean()))


def test_checkpoint_round_trip(tmp_path: Path, digits: tuple[np.ndarray, ...]) -> None:
    """A reloaded checkpoint gives bitwise identical logits and the saved metadata."""
    x = digits[2][:32]
    model = _lenet(seed=1)
    fit(model, digits[0][:128], digits[1][:128], epochs=1, verbose=False)
    meta = {
        "model": "lenet-like",
        "kwargs": {"hidden": [200, 100]},
        "accuracy": 0.5,
        "shape": (1, 8, 8),
        "x": None,
    }
    path = tmp_path / "sub" / "lenet.pt"
    save_checkpoint(model, path, metadata=meta)
    assert [p.name for p in path.parent.iterdir()] == ["lenet.pt"]  # no temporary file left
    fresh = _lenet(seed=2)
    assert not _state_equal(model, fresh)
    loaded = load_checkpoint(fresh, path)
    assert loaded == meta
    assert torch.equal(torch.from_numpy(predict_logits(fresh, x)), torch.from_numpy(predict_logits(model, x)))
    blob = torch.load(path, map_location="cpu", weights_only=True)
    assert set(blob) == {"state_dict", "metadata"}


def test_checkpoint_errors(tmp_path: Path) -> None:
    model = build_model("mlp", (1, 8, 8), 10)
    with pytest.raises(ValueError, match=r"metadata\['arr'\].*ndarray"):
        save_checkpoint(model, tmp_path / "a.pt", metadata={"arr": np.zeros(2)})
    with pytest.raises(ValueError, match="keys must be str"):
        save_checkpoint(model, tmp_path / "a.pt", metadata={1: "x"})  # type: ignore[dict-item]
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        load_checkpoint(model, tmp_path / "missing.pt")
    save_checkpoint(model, tmp_path / "mlp.pt")
    with pytest.raises(ValueError, match="does not match the model"):
        load_checkpoint(build_model("mlp", (1, 8, 8), 10, hidden=(32,)), tmp_path / "mlp.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(ValueError, match="state_dict"):
        load_checkpoint(model, tmp_path / "tensor.pt")
    assert load_checkpoint(model, tmp_path / "mlp.pt") == {}


def test_set_seed() -> None:
    set_seed(7)
    a = (torch.rand(3), np.random.rand(3))  # noqa: NPY002
    set_seed(7)
    b = (torch.rand(3), np.random.rand(3))  # noqa: NPY002
    assert torch.equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="seed"):
        set_seed(-1)


X = np.zeros((4, 1, 8, 8), dtype=np.float32)
Y = np.zeros(4, dtype=np.int64)
X_NAN = X.copy()
X_NAN[0, 0, 0, 0] = np.nan


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "match"),
    [
        (X, Y[:3], {}, r"`y` must have shape \(4,\)"),
        (X[:0], Y[:0], {}, "`x` is empty"),
        (X_NAN, Y, {}, "NaN"),
        (X.astype(np.int64), Y, {}, "`x` must hold floating-point"),
        (X, Y.astype(np.float32), {}, "integer"),
        (X, Y - 1, {}, "non-negative"),
        (X, Y + 10, {}, "labels up to 10"),
        (list(X), Y, {}, "numpy array"),
        (X, Y, {"epochs": 0}, "epochs.*0"),
        (X, Y, {"batch_size": 0}, "batch_size"),
        (X, Y, {"lr": -1.0}, "lr"),
        (X, Y, {"lr": float("nan")}, "lr"),
        (X, Y, {"weight_decay": -0.1}, "weight_decay"),
        (X, Y, {"momentum": 1.0}, "momentum"),
        (X, Y, {"optimizer": "rmsprop"}, r"optimizer.*'rmsprop'"),
        (X, Y, {"seed": 1.5}, "seed"),
        (X, Y, {"x_val": X}, "x_val and y_val"),
        (X, Y, {"x_val": np.zeros((2, 1, 4, 4), np.float32), "y_val": Y[:2]}, "sample shape"),
        (X, Y, {"augment": 3}, "augment"),
        (X, Y, {"device": "nodevice"}, "device"),
    ],
)
def test_fit_rejects_bad_input(x: Any, y: Any, kwargs: dict[str, Any], match: str) -> None:
    model = build_model("mlp", (1, 8, 8), 10, hidden=(8,))
    with pytest.raises(ValueError, match=match):
        fit(model, x, y, verbose=False, **kwargs)


def test_bad_augment_output() -> None:
    def bad(xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return xb, yb[:1]

    with pytest.raises(ValueError, match="augment returned"):
        fit(build_model("mlp", (1, 8, 8), 10), X, Y, epochs=1, verbose=False, augment=bad)


def test_evaluate_and_predict_reject_bad_input() -> None:
    model = build_model("mlp", (1, 8, 8), 10)
    with pytest.raises(ValueError, match="NaN"):
        predict_logits(model, X_NAN)
    with pytest.raises(ValueError, match="batch_size"):
        evaluate(model, X, Y, batch_size=0)
    with pytest.raises(ValueError, match="model"):
        evaluate(object(), X, Y)  # type: ignore[arg-type]
