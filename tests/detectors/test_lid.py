"""Tests of the LID features, the LID detector and the LID AUC protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from art.estimators.classification import PyTorchClassifier
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler
from torch import nn

from art_activation_defenses.detectors import LIDDetector, lid_auc, lid_features
from art_activation_defenses.detectors import lid as lid_module
from art_activation_defenses.detectors._layers import activation_layer_names, default_layers
from art_activation_defenses.detectors.lid import compute_lid_features, compute_lid_features_multi

Factory = Callable[[nn.Module, tuple[int, ...], int], PyTorchClassifier]


def reference_lid(query: np.ndarray, reference: np.ndarray, k: int, *, self_included: bool) -> np.ndarray:
    """MLE LID with scikit-learn's exact neighbours (independent of the code under test)."""
    nn_index = NearestNeighbors(n_neighbors=k + int(self_included), algorithm="brute").fit(reference)
    dist, _ = nn_index.kneighbors(query)
    if self_included:
        dist = dist[:, 1:]
    return -1.0 / np.mean(np.log(dist / dist[:, -1:]), axis=1)


def mlp_activations(classifier: PyTorchClassifier, x: np.ndarray) -> list[np.ndarray]:
    """Input, both ReLU outputs and logits of the fixture MLP, computed by hand."""
    m = classifier.model
    with torch.no_grad():
        h0 = torch.as_tensor(x).flatten(1)
        h1 = torch.relu(m[1](h0))
        h2 = torch.relu(m[3](h1))
        out = m[5](h2)
    return [t.numpy().astype(np.float64) for t in (h0, h1, h2, out)]


def test_features_match_sklearn_neighbours(
    mlp_classifier: PyTorchClassifier, rng: np.random.Generator
) -> None:
    x = rng.random((60, 1, 4, 4), dtype=np.float32)
    x_ref = rng.random((60, 1, 4, 4), dtype=np.float32)
    x_before = x.copy()
    feats, names = compute_lid_features(mlp_classifier, x, x_ref, k=10, batch_size=30)
    assert names == ["input", "2", "4", "logits"]
    assert feats.shape == (60, 4)
    np.testing.assert_array_equal(x, x_before)
    acts_q, acts_r = mlp_activations(mlp_classifier, x), mlp_activations(mlp_classifier, x_ref)
    for j, (q, r) in enumerate(zip(acts_q, acts_r, strict=True)):
        # query minibatch b uses reference minibatch b (two aligned minibatches of 30)
        expected = np.concatenate(
            [reference_lid(q[s], r[s], 10, self_included=False) for s in (slice(0, 30), slice(30, 60))]
        )
        np.testing.assert_allclose(feats[:, j], expected, rtol=1e-4)


def test_point_in_reference_is_not_its_own_neighbour(
    mlp_classifier: PyTorchClassifier, rng: np.random.Generator
) -> None:
    x = rng.random((50, 1, 4, 4), dtype=np.float32)
    same = lid_features(mlp_classifier, x, x, k=8, batch_size=25)
    copied = lid_features(mlp_classifier, x, x.copy(), k=8, batch_size=25)
    np.testing.assert_allclose(same, copied, rtol=1e-6)
    acts = mlp_activations(mlp_classifier, x)
    for j, a in enumerate(acts):
        expected = np.concatenate(
            [reference_lid(a[s], a[s], 8, self_included=True) for s in (slice(0, 25), slice(25, 50))]
        )
        np.testing.assert_allclose(same[:, j], expected, rtol=1e-4)
    assert np.isfinite(same).all() and (same > 0).all()


def test_one_pass_over_several_query_sets_equals_separate_calls(
    mlp_classifier: PyTorchClassifier, rng: np.random.Generator
) -> None:
    x_ref = rng.random((40, 1, 4, 4), dtype=np.float32)
    x_adv = x_ref + np.float32(0.05) * rng.standard_normal(x_ref.shape).astype(np.float32)
    x_short = x_adv[:25]
    together, names = compute_lid_features_multi(
        mlp_classifier, [x_ref, x_adv, x_short], x_ref, k=5, batch_size=20
    )
    for query, feats in zip([x_ref, x_adv, x_short], together, strict=True):
        np.testing.assert_allclose(
            feats, lid_features(mlp_classifier, query, x_ref, k=5, batch_size=20), rtol=1e-6
        )
    assert len(names) == 4


@pytest.mark.parametrize("dim", [2, 4])
def test_lid_of_known_intrinsic_dimension(dim: int, classifier_factory: Factory) -> None:
    """Uniform points in a dim-dimensional subspace of R^20: E[LID] = dim * k / (k - 2) (MLE bias), +-15%."""
    rng = np.random.default_rng(dim)
    ambient, k = 20, 20
    basis = np.linalg.qr(rng.standard_normal((ambient, dim)))[0]
    reference = (rng.random((2000, dim)) @ basis.T).astype(np.float32)[:, None, None, :]
    query = ((0.25 + 0.5 * rng.random((64, dim))) @ basis.T).astype(np.float32)[:, None, None, :]
    classifier = classifier_factory(nn.Sequential(nn.Flatten(), nn.Linear(ambient, 2)), (1, 1, ambient), 2)
    feats = lid_features(classifier, query, reference, layers=["input"], k=k, batch_size=2000)
    assert feats.shape == (64, 1)
    expected = dim * k / (k - 2)
    assert abs(feats.mean() / expected - 1.0) < 0.15


class FancyReLU(nn.Module):
    """A custom activation found by its class name."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=0.0) * 0.5


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.fc(self.act(x)))  # one ReLU instance used at two sites


def test_default_layers_find_nested_custom_and_shared_activations(
    classifier_factory: Factory, rng: np.random.Generator
) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(16, 6),
        nn.Sequential(Block(), nn.Linear(6, 6), FancyReLU()),
        nn.Linear(6, 6),
        nn.GELU(),
        nn.Linear(6, 3),
    )
    assert activation_layer_names(model) == ["2.0.act", "2.2", "4"]
    assert default_layers(model) == ["input", "2.0.act", "2.2", "4", "logits"]
    classifier = classifier_factory(model, (1, 4, 4), 3)
    x = rng.random((30, 1, 4, 4), dtype=np.float32)
    feats, names = compute_lid_features(classifier, x, x, k=5, batch_size=30)
    assert names == ["input", "2.0.act", "2.0.act#1", "2.2", "4", "logits"]
    assert feats.shape == (30, 6) and np.isfinite(feats).all()
    nested = lid_features(classifier, x, x, layers=["2.0.fc"], k=5, batch_size=30)
    assert nested.shape == (30, 1)


def test_bad_inputs_raise(mlp_classifier: PyTorchClassifier, rng: np.random.Generator) -> None:
    x = rng.random((30, 1, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="Unknown layer 'nope'"):
        lid_features(mlp_classifier, x, x, layers=["nope"], k=5)
    with pytest.raises(ValueError, match="k=20"):
        lid_features(mlp_classifier, x, x[:15], k=20)
    with pytest.raises(ValueError, match="`k`"):
        lid_features(mlp_classifier, x, x, k=0)
    bad = x.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="`x` contains NaN"):
        lid_features(mlp_classifier, bad, x, k=5)
    with pytest.raises(ValueError, match="`x_reference` has sample shape"):
        lid_features(mlp_classifier, x, x.reshape(30, 1, 2, 8), k=5)
    with pytest.raises(ValueError, match="`x` is empty"):
        lid_features(mlp_classifier, x[:0], x, k=5)


def separable_data(rng: np.random.Generator, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Clean points on a 2-d plane of R^16 and 'adversarial' points off it (full-dimensional noise)."""
    basis = np.linalg.qr(rng.standard_normal((16, 2)))[0]
    clean = 0.5 + 0.3 * (rng.random((n, 2)) - 0.5) @ basis.T
    adv = clean + 0.05 * rng.standard_normal((n, 16))
    return clean.astype(np.float32).reshape(n, 1, 4, 4), adv.astype(np.float32).reshape(n, 1, 4, 4)


def test_lid_auc_separates_obviously_different_distributions(
    mlp_classifier: PyTorchClassifier, rng: np.random.Generator
) -> None:
    clean, adv = separable_data(rng)
    y = mlp_classifier.predict(clean).argmax(1)
    result = lid_auc(mlp_classifier, clean, adv, y=y, k=10, batch_size=32, test_size=0.5, seed=0)
    assert result["auc"] > 0.9
    assert result["n_train"] == 32 and result["n_test"] == 32 and result["n_discarded"] == 0
    assert result["feature_names"] == ["input", "2", "4", "logits"]


def test_lid_auc_fits_scaler_on_training_split_only(
    mlp_classifier: PyTorchClassifier, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    fitted_rows: list[int] = []

    class RecordingScaler(StandardScaler):
        def fit(self, X: Any, y: Any = None, sample_weight: Any = None) -> RecordingScaler:
            fitted_rows.append(len(X))
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(lid_module, "StandardScaler", RecordingScaler)
    clean, adv = separable_data(rng)
    noisy = clean + np.float32(0.01)
    y = mlp_classifier.predict(clean).argmax(1)
    y[:4] = (y[:4] + 1) % 3  # four "misclassified" points are discarded
    result = lid_auc(mlp_classifier, clean, adv, y=y, x_noisy=noisy, k=10, batch_size=30, test_size=0.25)
    assert result["n_discarded"] == 4
    assert result["n_train"] + result["n_test"] == 60
    assert fitted_rows == [3 * result["n_train"]]  # clean + adversarial + noisy of the training pairs


def test_detector_fit_detect_report(mlp_classifier: PyTorchClassifier, rng: np.random.Generator) -> None:
    clean, adv = separable_data(rng)
    x = np.concatenate([clean[:48], adv[:48]])
    y = np.concatenate([np.zeros(48), np.ones(48)]).astype(np.int64)
    detector = LIDDetector(mlp_classifier, k=10, batch_size=48)
    detector.fit(x, y)
    assert detector.scaler_ is not None
    train_mean = detector.scaler_.mean_.copy()
    np.testing.assert_allclose(train_mean, detector.features(x).mean(0), rtol=1e-6)
    x_test = np.concatenate([clean[48:], adv[48:]])
    report, is_adv = detector.detect(x_test)
    np.testing.assert_array_equal(detector.scaler_.mean_, train_mean)  # detect never refits
    assert set(report) == {"scores", "features", "feature_names"}
    assert report["features"].shape == (32, 4) and report["scores"].shape == (32,)
    assert is_adv.dtype == bool and is_adv.shape == (32,)
    assert is_adv[16:].mean() > 0.8 and is_adv[:16].mean() < 0.2


def test_detector_bad_parameters(mlp_classifier: PyTorchClassifier, rng: np.random.Generator) -> None:
    with pytest.raises(ValueError, match="`k`"):
        LIDDetector(mlp_classifier, k=0)
    with pytest.raises(ValueError, match="`batch_size`"):
        LIDDetector(mlp_classifier, k=20, batch_size=20)
    with pytest.raises(ValueError, match="`threshold`"):
        LIDDetector(mlp_classifier, threshold=1.5)
    with pytest.raises(ValueError, match="Unknown layer"):
        LIDDetector(mlp_classifier, layers=["missing"])
    detector = LIDDetector(mlp_classifier, k=5, batch_size=10)
    x = rng.random((20, 1, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="not fitted"):
        detector.detect(x)
    with pytest.raises(ValueError, match="`y` must be 0"):
        detector.fit(x, np.full(20, 2))
    with pytest.raises(ValueError, match="Unknown keyword"):
        detector.fit(x, np.arange(20) % 2, x_noise=x)


def test_works_on_retrofit_classifier(rng: np.random.Generator) -> None:
    retrofit_module = pytest.importorskip("art_activation_defenses.estimators.retrofit_classifier")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.ReLU(), nn.Linear(12, 3))
    classifier = retrofit_module.RetrofitClassifier(
        model, nn.CrossEntropyLoss(), (1, 4, 4), 3, activation="jumprelu", kappa=0.1, device_type="cpu"
    )
    x = rng.random((30, 1, 4, 4), dtype=np.float32)
    feats, names = compute_lid_features(classifier, x, x, k=5, batch_size=30)
    assert len(names) == 3 and names[0] == "input" and names[-1] == "logits"
    assert np.isfinite(feats).all()


def _overlapping_data(rng: np.random.Generator, n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Like :func:`separable_data` with a small off-plane noise, so the classes overlap (AUC < 1)."""
    basis = np.linalg.qr(rng.standard_normal((16, 2)))[0]
    clean = 0.5 + 0.3 * (rng.random((n, 2)) - 0.5) @ basis.T
    adv = clean + 0.004 * rng.standard_normal((n, 16))
    return clean.astype(np.float32).reshape(n, 1, 4, 4), adv.astype(np.float32).reshape(n, 1, 4, 4)


def _match_rows(rows: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Index of the row of ``table`` equal to each row of ``rows`` (-1 where none is)."""
    dist = np.abs(rows[:, None, :] - table[None, :, :]).max(2)
    idx = dist.argmin(1)
    return np.where(dist[np.arange(len(rows)), idx] <= 1e-5 * (1.0 + np.abs(rows).max(1)), idx, -1)


def test_lid_auc_is_roc_auc_of_held_out_scores_and_the_classifier_never_sees_them(
    mlp_classifier: PyTorchClassifier, rng: np.random.Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reported AUC equals scikit-learn's ``roc_auc_score`` on the detector's scores of the
    held-out pairs (labels recovered from independently computed features), and neither the
    scaler nor the logistic regression is fitted on a held-out pair."""
    fits: list[tuple[np.ndarray, np.ndarray]] = []
    scored: list[tuple[np.ndarray, np.ndarray]] = []
    regression_rows: list[int] = []

    class RecordingRegression(lid_module.LogisticRegressionCV):  # type: ignore[misc, name-defined]
        def fit(self, X: Any, y: Any, **kwargs: Any) -> Any:
            regression_rows.append(len(X))
            return super().fit(X, y, **kwargs)

    real_fit, real_score = LIDDetector.fit_features, LIDDetector.score_features

    def fit_features(self: LIDDetector, features: np.ndarray, labels: np.ndarray) -> None:
        fits.append((features.copy(), np.asarray(labels).copy()))
        real_fit(self, features, labels)

    def score_features(self: LIDDetector, features: np.ndarray) -> np.ndarray:
        scores = real_score(self, features)
        scored.append((features.copy(), scores.copy()))
        return scores

    monkeypatch.setattr(lid_module, "LogisticRegressionCV", RecordingRegression)
    monkeypatch.setattr(LIDDetector, "fit_features", fit_features)
    monkeypatch.setattr(LIDDetector, "score_features", score_features)
    clean, adv = _overlapping_data(rng)
    y = mlp_classifier.predict(clean).argmax(1)  # every pair is kept
    result = lid_auc(mlp_classifier, clean, adv, y=y, k=10, batch_size=64, test_size=0.5, seed=0)
    assert len(fits) == 1 and len(scored) == 1 and regression_rows == [2 * result["n_train"]]
    # independent features: clean LIDs against the clean set (self excluded), adversarial ones too
    clean_f = lid_features(mlp_classifier, clean, clean, k=10, batch_size=64)
    adv_f = lid_features(mlp_classifier, adv, clean, k=10, batch_size=64)

    def pairs_and_labels(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        as_clean, as_adv = _match_rows(features, clean_f), _match_rows(features, adv_f)
        assert np.all((as_clean >= 0) != (as_adv >= 0)), "every row is exactly one clean or adversarial row"
        return np.where(as_clean >= 0, as_clean, as_adv), (as_adv >= 0).astype(np.int64)

    train_pairs, train_labels = pairs_and_labels(fits[0][0])
    test_pairs, test_labels = pairs_and_labels(scored[0][0])
    np.testing.assert_array_equal(fits[0][1], train_labels)  # fitted with the right labels
    assert set(train_pairs.tolist()).isdisjoint(test_pairs.tolist())  # no held-out pair is fitted on
    assert sorted(test_pairs[test_labels == 0]) == sorted(test_pairs[test_labels == 1])  # pairs, not samples
    assert len(test_pairs) == 2 * result["n_test"] == 64
    expected = roc_auc_score(test_labels, scored[0][1])
    assert 0.55 < expected < 0.99  # overlapping classes: an AUC that a wrong computation would miss
    assert result["auc"] == pytest.approx(expected, abs=1e-12)
    fpr, tpr, _ = roc_curve(test_labels, scored[0][1])
    np.testing.assert_allclose(result["fpr"], fpr)
    np.testing.assert_allclose(result["tpr"], tpr)
