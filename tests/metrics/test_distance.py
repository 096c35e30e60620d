"""Training-set distance against scikit-learn's exact nearest neighbours."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from art_activation_defenses.metrics import nearest_training_distances, training_set_distance


def sklearn_distances(x: np.ndarray, x_train: np.ndarray) -> np.ndarray:
    index = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(x_train.reshape(len(x_train), -1))
    return index.kneighbors(x.reshape(len(x), -1).astype(np.float64))[0][:, 0]


def test_matches_sklearn_and_chunking_does_not_matter(rng: np.random.Generator) -> None:
    x_train = rng.random((500, 1, 6, 6), dtype=np.float32)
    x = rng.random((40, 1, 6, 6), dtype=np.float32)
    x_before, train_before = x.copy(), x_train.copy()
    expected = sklearn_distances(x, x_train)
    got = nearest_training_distances(x, x_train)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    tiny = nearest_training_distances(x, x_train, max_memory_mb=0.001, query_batch=7)  # blocks of 2 x 7
    np.testing.assert_allclose(tiny, expected, rtol=1e-6)
    assert training_set_distance(x, x_train) == pytest.approx(expected.mean(), rel=1e-6)
    np.testing.assert_array_equal(x, x_before)
    np.testing.assert_array_equal(x_train, train_before)


def test_training_points_have_distance_zero(rng: np.random.Generator) -> None:
    x_train = (rng.random((200, 1, 28, 28)) * 255).astype(np.float32)  # large norms: cdist cancellation
    got = nearest_training_distances(x_train[::10], x_train)
    np.testing.assert_array_equal(got, np.zeros(20))
    shifted = x_train[:5] + np.float32(1e-3)
    exact_shift = np.linalg.norm((shifted.astype(np.float64) - x_train[:5]).reshape(5, -1), axis=1)
    np.testing.assert_allclose(nearest_training_distances(shifted, x_train), exact_shift, rtol=1e-12)


def test_float64_and_flat_inputs(rng: np.random.Generator) -> None:
    x_train = rng.random((64, 10))
    x = rng.random((8, 10))
    np.testing.assert_allclose(
        nearest_training_distances(x, x_train), sklearn_distances(x, x_train), rtol=1e-6
    )


def test_bad_inputs_raise(rng: np.random.Generator) -> None:
    x_train = rng.random((20, 1, 4, 4), dtype=np.float32)
    with pytest.raises(ValueError, match="`x_train` sample shape"):
        training_set_distance(x_train[:, :, :2], x_train)
    bad = x_train.copy()
    bad[3, 0, 1, 1] = np.inf
    with pytest.raises(ValueError, match="`x_train` contains NaN or infinite"):
        training_set_distance(x_train, bad)
    with pytest.raises(ValueError, match="`x_adv`|`x` is empty"):
        training_set_distance(x_train[:0], x_train)
    with pytest.raises(ValueError, match="`max_memory_mb`"):
        training_set_distance(x_train, x_train, max_memory_mb=0)
    with pytest.raises(ValueError, match="`query_batch`"):
        training_set_distance(x_train, x_train, query_batch=0)


@pytest.mark.slow
def test_mnist_sized_training_set_stays_in_bounded_memory() -> None:
    """60k x 784 float32 training set: peak extra memory well under 2 GB."""
    import resource

    rng = np.random.default_rng(0)
    x_train = rng.random((60000, 1, 28, 28), dtype=np.float32)
    x = rng.random((64, 1, 28, 28), dtype=np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = nearest_training_distances(x, x_train)
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert peak_mb < 2048
    np.testing.assert_allclose(got, sklearn_distances(x, x_train), rtol=1e-5)
