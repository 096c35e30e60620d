"""Regression tests of issue 11 (hardening) for the estimator and the activations: clip_values,
nb_classes, model dtype, labels of loss_gradient, ``layers=[]``, ``__repr__``, JumpReLU on NaN."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.activations import retrofit
from art_activation_defenses.activations.functional import jump_relu
from art_activation_defenses.activations.modules import JumpReLU, RandomizedJumpReLU
from art_activation_defenses.estimators import RetrofitClassifier


def _model(n_out: int = 3, dtype: torch.dtype = torch.float32) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, n_out)).to(dtype)


def _clf(**kw: object) -> RetrofitClassifier:
    params: dict[str, object] = {"kappa": 0.0, "clip_values": (0.0, 1.0), "device_type": "cpu"}
    params.update(kw)
    return RetrofitClassifier(_model(), None, (1, 4, 4), 3, **params)  # type: ignore[arg-type]


def _x(n: int = 4) -> np.ndarray:
    return np.random.default_rng(0).random((n, 1, 4, 4), dtype=np.float32)


@pytest.mark.parametrize(
    "clip", [(0.0, float("nan")), (float("-inf"), 1.0), (1.0, 0.0), (0.5, 0.5), (0.0,), "01"]
)
def test_bad_clip_values_refused(clip: object) -> None:
    with pytest.raises(ValueError, match="`clip_values`"):
        _clf(clip_values=clip)
    clf = _clf()
    with pytest.raises(ValueError, match="`clip_values`"):
        clf.set_params(clip_values=clip)
    assert tuple(np.asarray(clf.clip_values, dtype=float)) == (0.0, 1.0)  # unchanged


def test_nb_classes_checked_against_the_model() -> None:
    with pytest.raises(ValueError, match=r"`nb_classes` == 5, but the model outputs 3"):
        RetrofitClassifier(_model(), None, (1, 4, 4), 5, device_type="cpu")
    with pytest.raises(ValueError, match=r"`nb_classes` == 2.7, must be an integer"):
        RetrofitClassifier(_model(), None, (1, 4, 4), 2.7, device_type="cpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`nb_classes`"):
        RetrofitClassifier(_model(), None, (1, 4, 4), True, device_type="cpu")  # type: ignore[arg-type]
    clf = _clf()
    with pytest.raises(ValueError, match="`nb_classes` == 4, but the model outputs 3"):
        clf.set_params(nb_classes=4)
    assert clf.nb_classes == 3
    clf.set_params(nb_classes=3)  # the true width is accepted
    with pytest.raises(ValueError, match="`input_shape`"):
        RetrofitClassifier(_model(), None, (1, 5, 5), 3, device_type="cpu")


def test_probe_keeps_training_flag_and_generator() -> None:
    model = _model().train()
    gen = torch.Generator().manual_seed(7)
    expected = torch.rand((), generator=torch.Generator().manual_seed(7))
    clf = RetrofitClassifier(
        model, None, (1, 4, 4), 3, activation="randomized-jumprelu", kappa=0.5, copy=False, device_type="cpu"
    )
    assert model.training  # put back after the probe
    module = clf.activation_modules[0]
    assert isinstance(module, RandomizedJumpReLU)
    module.generator = gen
    assert torch.rand((), generator=gen) == expected


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16])
def test_non_float32_model_refused_in_one_line(dtype: torch.dtype) -> None:
    with pytest.raises(ValueError, match=r"`model` has float(64|16) parameters.*\.float\(\)") as info:
        RetrofitClassifier(_model(dtype=dtype), None, (1, 4, 4), 3, device_type="cpu")
    assert "\n" not in str(info.value)


def test_loss_gradient_accepts_index_labels_and_checks_the_rest() -> None:
    clf = _clf()
    x = _x()
    idx = np.array([0, 1, 2, 1])
    onehot = np.eye(3, dtype=np.float32)[idx]
    reference = PyTorchClassifier(
        clf.model, nn.CrossEntropyLoss(), (1, 4, 4), 3, clip_values=(0.0, 1.0), device_type="cpu"
    ).loss_gradient(x, onehot)
    np.testing.assert_allclose(clf.loss_gradient(x, idx), reference, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(clf.loss_gradient(x, onehot), reference, rtol=1e-6, atol=1e-8)
    bad: list[tuple[object, str]] = [
        (np.array([0, 1, 2, 3]), r"`y` holds class indices in \[0, 3\], must lie in \[0, 3\)"),
        (np.array([0, 1, -1, 2]), "must lie in"),
        (np.array([0.5, 1, 2, 1]), "non-integer"),
        (None, "`y` == None"),
        (np.eye(5, dtype=np.float32)[[0, 1, 2, 1]], "width 5, must be nb_classes == 3"),
        (np.where(np.arange(3) == 0, np.nan, onehot), "`y` contains NaN"),
        (np.array([0, 1]), "2 labels for 4 samples"),
        (np.array(["a", "b", "c", "d"]), "must hold numbers"),
    ]
    for y, match in bad:
        with pytest.raises(ValueError, match=match):
            clf.loss_gradient(x, y)
    with pytest.raises(ValueError, match="`label`"):
        clf.class_gradient(x, label=3)


def test_empty_layers_refused() -> None:
    with pytest.raises(ValueError, match=r"`layers` == \[\], must be None"):
        retrofit(_model(), "jumprelu", layers=[])
    with pytest.raises(ValueError, match="`layers`"):
        RetrofitClassifier(_model(), None, (1, 4, 4), 3, layers=[], device_type="cpu")


def test_repr_keeps_art_fields_and_adds_ours() -> None:
    clf = _clf(kappa=0.25, clip_values=(0.0, 1.0))
    art_clf = PyTorchClassifier(clf.model, clf.loss, (1, 4, 4), 3, clip_values=(0.0, 1.0), device_type="cpu")
    art_repr = repr(art_clf)
    ours = repr(clf)
    fields = art_repr[art_repr.index("(") + 1 : -1]
    for name in (
        "model=",
        "loss=",
        "optimizer=",
        "input_shape=",
        "nb_classes=",
        "channels_first=",
        "clip_values=",
        "preprocessing_defences=",
        "postprocessing_defences=",
        "preprocessing=",
    ):
        assert name in fields and name in ours
    assert fields in ours  # ART's fields verbatim (same model, loss, clip values)
    assert "RetrofitClassifier(" in ours
    for extra in ("activation='jumprelu'", "'kappa': 0.25", "gradient='exact'", "grad_params=", "sites=1"):
        assert extra in ours


def test_jumprelu_kappa0_keeps_nan_like_relu() -> None:
    x = torch.tensor([float("nan"), -1.0, 0.0, 0.5, float("inf"), float("-inf")])
    ref = torch.relu(x)
    for out in (jump_relu(x, 0.0), JumpReLU(kappa=0.0)(x)):
        assert torch.equal(out.isnan(), ref.isnan())
        assert torch.equal(torch.nan_to_num(out), torch.nan_to_num(ref))
    out = jump_relu(x, 0.6)  # NaN stays NaN for kappa > 0 too
    assert out[0].isnan() and out[3] == 0.0 and out[4] == float("inf")
