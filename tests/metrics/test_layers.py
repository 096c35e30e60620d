"""Per-layer perturbation growth against activations computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.metrics import layer_perturbation_growth


def make_model() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(16, 12),
        nn.ReLU(),
        nn.Sequential(nn.Linear(12, 8), nn.ReLU()),
        nn.Linear(8, 3),
    )


def by_hand(model: nn.Sequential, x: np.ndarray) -> list[np.ndarray]:
    inner = model[3]
    assert isinstance(inner, nn.Sequential)
    with torch.no_grad():
        h0 = torch.as_tensor(x).flatten(1)
        h1 = torch.relu(model[1](h0))
        h2 = torch.relu(inner[0](h1))
        return [t.double().numpy() for t in (h0, h1, h2, model[4](h2))]


def test_matches_hand_computation_for_module_and_classifier(rng: np.random.Generator) -> None:
    model = make_model()
    x = rng.random((24, 1, 4, 4), dtype=np.float32)
    x_adv = x + 0.1 * rng.standard_normal(x.shape).astype(np.float32)
    x_before = x.copy()
    model.train()
    result = layer_perturbation_growth(model, x, x_adv, batch_size=10)
    assert model.training  # mode restored
    assert result["layers"] == ["input", "2", "3.1", "logits"]
    clean, adv = by_hand(model, x), by_hand(model, x_adv)
    l2 = [np.linalg.norm(a - c, axis=1).mean() for c, a in zip(clean, adv, strict=True)]
    linf = [np.abs(a - c).max(1).mean() for c, a in zip(clean, adv, strict=True)]
    np.testing.assert_allclose(result["l2"], l2, rtol=1e-5)
    np.testing.assert_allclose(result["linf"], linf, rtol=1e-5)
    np.testing.assert_allclose(
        result["l2_clean"], [np.linalg.norm(c, axis=1).mean() for c in clean], rtol=1e-5
    )
    np.testing.assert_allclose(result["l2_growth"], np.array(l2) / l2[0], rtol=1e-5)
    np.testing.assert_array_equal(x, x_before)
    classifier = PyTorchClassifier(model, nn.CrossEntropyLoss(), input_shape=(1, 4, 4), nb_classes=3)
    via_classifier = layer_perturbation_growth(classifier, x, x_adv, ["3.0", "logits"])
    assert via_classifier["layers"] == ["3.0", "logits"]
    np.testing.assert_allclose(via_classifier["l2"][1], l2[3], rtol=1e-5)


def test_bad_inputs_raise(rng: np.random.Generator) -> None:
    model = make_model()
    x = rng.random((4, 1, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="Unknown layer 'fc9'"):
        layer_perturbation_growth(model, x, x, ["fc9"])
    with pytest.raises(ValueError, match="`x_adv` shape"):
        layer_perturbation_growth(model, x, x[:2])
    with pytest.raises(ValueError, match="`model`"):
        layer_perturbation_growth("net", x, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="`batch_size`"):
        layer_perturbation_growth(model, x, x, batch_size=0)
