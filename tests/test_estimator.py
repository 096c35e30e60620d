"""``RetrofitClassifier``: construction, parameters, gradient modes, gray-box, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import RetrofitClassifier


@pytest.fixture()
def base(tiny_model: nn.Module) -> PyTorchClassifier:
    return PyTorchClassifier(
        tiny_model,
        nn.CrossEntropyLoss(),
        (1, 8, 8),
        10,
        optimizer=torch.optim.Adam(tiny_model.parameters(), lr=1e-3),
        clip_values=(0.0, 1.0),
    )


@pytest.fixture()
def batch(digits: tuple[np.ndarray, ...]) -> tuple[np.ndarray, np.ndarray]:
    _, _, x_test, y_test = digits
    return x_test[:32].copy(), np.eye(10, dtype=np.float32)[y_test[:32]]


def test_neutral_kappa_predictions_equal_relu(
    base: PyTorchClassifier, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = batch
    clf = RetrofitClassifier.from_classifier(base, "jumprelu", kappa=0.0)
    assert np.array_equal(clf.predict(x), base.predict(x))
    assert clf.clip_values is not None and tuple(clf.clip_values) == (0.0, 1.0)
    assert isinstance(clf.optimizer, torch.optim.Adam)
    assert clf.optimizer is not base.optimizer
    assert len(clf.sites) == 2


def test_from_classifier_leaves_original_untouched(
    base: PyTorchClassifier, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = batch
    before = base.predict(x)
    clf = RetrofitClassifier.from_classifier(base, "jumprelu", kappa=1.0)
    clf.fit(x, batch[1], nb_epochs=1, batch_size=16, verbose=False)
    assert any(isinstance(m, nn.ReLU) for m in base.model.modules())
    assert np.array_equal(base.predict(x), before)


def test_set_params_changes_predictions_without_rebuilding(
    tiny_model: nn.Module, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = batch
    clf = RetrofitClassifier(
        tiny_model, None, (1, 8, 8), 10, activation="jumprelu", kappa=0.0, clip_values=(0.0, 1.0)
    )
    model = clf.model
    p0 = clf.predict(x)
    clf.set_params(kappa=0.8)
    assert clf.model is model and clf.activation_params == {"kappa": 0.8}
    assert not np.array_equal(clf.predict(x), p0)
    # Independent computation of JumpReLU(0.8) through the original layers.
    h = torch.from_numpy(x).flatten(1)
    for layer in (tiny_model[1], tiny_model[3]):
        z = layer(h)
        h = z * (z > 0.8)
    assert np.allclose(clf.predict(x), tiny_model[5](h).detach().numpy(), atol=1e-5)


def test_gradient_modes(
    tiny_model: nn.Module, base: PyTorchClassifier, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = batch
    clf = RetrofitClassifier(
        tiny_model, None, (1, 8, 8), 10, activation="jumprelu", kappa=0.5, clip_values=(0.0, 1.0)
    )
    exact = clf.loss_gradient(x, y)
    clf.set_params(gradient="bpda")
    bpda = clf.loss_gradient(x, y)
    assert not np.allclose(exact, bpda)
    # BPDA by hand: forward with JumpReLU, backward with 1[z > 0].
    xt = torch.from_numpy(x).requires_grad_(True)
    h = xt.flatten(1)
    for layer in (tiny_model[1], tiny_model[3]):
        z = layer(h)
        h = torch.relu(z) + (z * (z > 0.5) - torch.relu(z)).detach()
    nn.functional.cross_entropy(tiny_model[5](h), torch.from_numpy(y.argmax(1))).backward()
    assert xt.grad is not None
    assert np.allclose(bpda, xt.grad.numpy(), atol=1e-6)
    # The predictions do not depend on the gradient mode.
    clf.set_params(gradient="exact")
    p = clf.predict(x)
    clf.set_params(gradient="bpda")
    assert np.array_equal(clf.predict(x), p)


def test_gray_box_gradient_with_other_kappa(
    tiny_model: nn.Module, base: PyTorchClassifier, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, y = batch
    clf = RetrofitClassifier(
        tiny_model,
        None,
        (1, 8, 8),
        10,
        activation="jumprelu",
        kappa=1.0,
        grad_params={"kappa": 0.0},
        clip_values=(0.0, 1.0),
    )
    assert np.allclose(clf.loss_gradient(x, y), base.loss_gradient(x, y), atol=1e-7)
    assert not np.array_equal(clf.predict(x), base.predict(x))


def test_eot_averages_draws(tiny_model: nn.Module, batch: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = batch
    kw = dict(activation="randomized-jumprelu", kappa=0.8, clip_values=(0.0, 1.0))
    single = RetrofitClassifier(tiny_model, None, (1, 8, 8), 10, seed=0, **kw)
    eot = RetrofitClassifier(tiny_model, None, (1, 8, 8), 10, seed=0, gradient="eot", eot_samples=5, **kw)
    assert eot.eot_samples == 5 and single.eot_samples == 1
    expected = np.mean([single.loss_gradient(x, y) for _ in range(5)], axis=0)
    assert np.allclose(eot.loss_gradient(x, y), expected, atol=1e-6)
    assert eot.is_randomized
    assert not np.array_equal(single.predict(x), single.predict(x))


def test_seeded_randomized_predictions_repeat(
    tiny_model: nn.Module, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x, _ = batch
    a = RetrofitClassifier(
        tiny_model, None, (1, 8, 8), 10, activation="randomized-jumprelu", kappa=0.8, seed=7
    )
    b = RetrofitClassifier(
        tiny_model, None, (1, 8, 8), 10, activation="randomized-jumprelu", kappa=0.8, seed=7
    )
    assert np.array_equal(a.predict(x), b.predict(x))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"activation": "swish"}, "activation"),
        ({"kappa": -1.0}, "kappa"),
        ({"alpha": 2.0}, "alpha"),
        ({"gradient": "fancy"}, "gradient"),
        ({"eot_samples": 0}, "eot_samples"),
        ({"grad_params": {"t": 1.0}}, "t"),
        ({"nb_classes": None}, "nb_classes"),
        ({"input_shape": None}, "input_shape"),
    ],
)
def test_bad_construction_raises(tiny_model: nn.Module, kwargs: dict, match: str) -> None:
    full = dict(loss=None, input_shape=(1, 8, 8), nb_classes=10, activation="jumprelu")
    full.update(kwargs)
    with pytest.raises(ValueError, match=match):
        RetrofitClassifier(tiny_model, **full)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda x: x[:0], "empty"),
        (lambda x: np.where(x > 0.5, np.nan, x), "NaN"),
        (lambda x: x[:, :, :4], "shape"),
        (lambda x: (x * 255).astype(np.uint8), "dtype"),
        (lambda x: x * 255.0, "clip_values"),
        (lambda x: x * 2.0 - 1.0, "clip_values"),
    ],
)
def test_bad_input_raises(
    tiny_model: nn.Module, batch: tuple[np.ndarray, np.ndarray], make: object, match: str
) -> None:
    x, y = batch
    clf = RetrofitClassifier(tiny_model, None, (1, 8, 8), 10, kappa=0.5, clip_values=(0.0, 1.0))
    bad = make(x)  # type: ignore[operator]
    with pytest.raises(ValueError, match=match):
        clf.predict(bad)
    with pytest.raises(ValueError, match=match):
        clf.loss_gradient(bad, y[: len(bad)])


def test_set_params_is_atomic(tiny_model: nn.Module) -> None:
    clf = RetrofitClassifier(tiny_model, None, (1, 8, 8), 10, kappa=0.5)
    with pytest.raises(ValueError, match="gradient"):
        clf.set_params(kappa=0.9, gradient="nope")
    assert clf.activation_params == {"kappa": 0.5} and clf.gradient == "exact"


def test_float64_input_is_accepted_and_not_modified(
    tiny_model: nn.Module, batch: tuple[np.ndarray, np.ndarray]
) -> None:
    x = batch[0].astype(np.float64)
    copy = x.copy()
    clf = RetrofitClassifier(tiny_model, None, (1, 8, 8), 10, kappa=0.5, clip_values=(0.0, 1.0))
    assert clf.predict(x).dtype == np.float32
    assert np.array_equal(x, copy)


def test_model_trained_with_the_defence_is_adopted(digits: tuple[np.ndarray, ...]) -> None:
    from art_activation_defenses import BoundedReLU, build_model

    torch.manual_seed(0)
    model = build_model("mlp", (1, 8, 8), 10, hidden=(16, 16), activation=lambda: BoundedReLU(t=1.0))
    clf = RetrofitClassifier(model, None, (1, 8, 8), 10, activation="brelu", clip_values=(0.0, 1.0))
    assert len(clf.sites) == 2 and clf.activation_params == {"t": 1.0}
    x = digits[2][:8]
    with torch.no_grad():
        assert np.allclose(clf.predict(x), model(torch.from_numpy(x)).numpy(), atol=1e-6)
    clf.set_params(gradient="bpda")
    assert all(m.grad_mode == "bpda" for m in clf.activation_modules)
    assert all(m.grad_mode == "exact" for m in model.modules() if isinstance(m, BoundedReLU))


def test_clone_for_refitting_keeps_activation_and_resets_weights(tiny_model: nn.Module) -> None:
    clf = RetrofitClassifier(
        tiny_model, None, (1, 8, 8), 10, kappa=0.5, gradient="bpda", optimizer=None, clip_values=(0.0, 1.0)
    )
    clone = clf.clone_for_refitting()
    assert clone.activation == "jumprelu" and clone.activation_params == {"kappa": 0.5}
    assert clone.gradient == "bpda" and len(clone.sites) == len(clf.sites)
    w0 = next(clf.model.parameters())
    w1 = next(clone.model.parameters())
    assert w0.shape == w1.shape and not torch.equal(w0, w1)
