"""Regression tests of issue 11, finding 1: CIFAR-10 batches are read without running pickled code,
and the safe ``.npz`` layout is preferred over the pickles."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from art_activation_defenses.data import load_dataset


def _batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 3072), dtype=np.uint8), rng.integers(0, 10, n).astype(np.int64)


class _Payload:
    """Unpickling this calls ``os.system`` (the classic pickle exploit)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_crafted_batch_runs_no_code(tmp_path: Path) -> None:
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    marker = tmp_path / "pwned"
    with open(d / "test_batch", "wb") as f:
        pickle.dump({b"data": _Payload(marker), b"labels": [0]}, f)
    with pytest.raises(ValueError, match=r"test_batch.*posix\.system|test_batch.*os\.system|not allowed"):
        load_dataset("cifar10", tmp_path, "test")
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_plain_batches_still_load(tmp_path: Path, protocol: int) -> None:
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    data, labels = _batch(3, 0)
    batch = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": labels.tolist(),
        b"data": data,
        b"filenames": [b"a.png", b"b.png", b"c.png"],
    }
    with open(d / "test_batch", "wb") as f:
        pickle.dump(batch, f, protocol=protocol)
    x, y = load_dataset("cifar10", tmp_path, "test")
    np.testing.assert_array_equal(x.reshape(3, -1), data / np.float32(255))
    np.testing.assert_array_equal(y, labels)


def test_npz_preferred_over_pickles(tmp_path: Path) -> None:
    d = tmp_path / "cifar10"
    d.mkdir()
    data, labels = _batch(2, 1)
    np.savez(d / "cifar10_test_batch.npz", data=data, labels=labels)
    with open(d / "test_batch", "wb") as f:  # a different pickle beside it must be ignored
        pickle.dump({b"data": np.zeros((5, 3072), np.uint8), b"labels": [0] * 5}, f)
    x, y = load_dataset("cifar10", tmp_path, "test")
    assert len(x) == 2
    np.testing.assert_array_equal(y, labels)
