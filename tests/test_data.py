"""Tests of ``art_activation_defenses.data``: bundled digits, IDX and CIFAR layouts, errors, real data."""

from __future__ import annotations

import gzip
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from art_activation_defenses import data as data_mod
from art_activation_defenses.data import (
    DATASETS,
    DatasetNotFoundError,
    cifar10_exact_mask,
    dataset_info,
    default_data_dir,
    load_dataset,
)

SHARED = Path(
    os.environ.get("ART_ACTIVATION_DEFENSES_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "datasets"
)
HAVE_MNIST = (SHARED / "mnist" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz").is_file()
HAVE_CIFAR = (SHARED / "cifar10" / "cifar10_test_batch.npz").is_file()


# --------------------------------------------------------------------------- helpers


def _write_idx(path: Path, array: np.ndarray, *, compress: bool) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def _fake_idx_dir(
    directory: Path, n: int, *, compress: bool, split: str = "test"
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    prefix = "t10k" if split == "test" else "train"
    _write_idx(directory / f"{prefix}-images-idx3-ubyte", images, compress=compress)
    _write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels, compress=compress)
    return images, labels


def _fake_cifar_batch(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3072), dtype=np.uint8), rng.integers(0, 10, size=n, dtype=np.uint8)


# --------------------------------------------------------------------------- digits and API


def test_digits_default_split_shapes_and_ranges() -> None:
    """Digits (bundled with scikit-learn): 1797 images split 1347/450, float32 NCHW in [0, 1]."""
    x, y = load_dataset()
    xt, yt = load_dataset("digits", split="test")
    assert x.shape == (1347, 1, 8, 8) and xt.shape == (450, 1, 8, 8)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.flags.c_contiguous and xt.flags.c_contiguous
    assert x.min() == 0.0 and x.max() == 1.0
    # digits pixels are integers 0..16, so x * 16 must be integral
    np.testing.assert_array_equal(x * 16, np.round(x * 16))
    # stratified split: each class's test share is a quarter of its total, to within one sample
    total = np.bincount(np.concatenate([y, yt]), minlength=10)
    assert total.sum() == 1797
    assert np.all(np.abs(np.bincount(yt, minlength=10) - total / 4) <= 1)


def test_digits_is_deterministic_and_fresh() -> None:
    """Two calls return equal data, and editing one result does not affect the next."""
    x1, y1 = load_dataset("digits", split="test")
    x1[:] = -1.0
    x2, y2 = load_dataset("digits", split="test")
    x3, _ = load_dataset("digits", split="test")
    np.testing.assert_array_equal(y1, y2)
    np.testing.assert_array_equal(x2, x3)
    assert x2.min() == 0.0


def test_limit_takes_first_samples() -> None:
    x, y = load_dataset("digits", limit=10)
    xa, ya = load_dataset("digits")
    assert x.shape == (10, 1, 8, 8)
    np.testing.assert_array_equal(x, xa[:10])
    np.testing.assert_array_equal(y, ya[:10])


@pytest.mark.parametrize("limit", [0, -3, 2.5, True, "10"])
def test_bad_limit(limit: object) -> None:
    with pytest.raises(ValueError, match="limit"):
        load_dataset("digits", limit=limit)  # type: ignore[arg-type]


def test_unknown_name_and_split() -> None:
    with pytest.raises(ValueError, match=r"name.*digits.*mnist.*fashion-mnist.*cifar10.*'imagenet'"):
        load_dataset("imagenet")
    with pytest.raises(ValueError, match=r"split.*'val'"):
        load_dataset("digits", split="val")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name"):
        dataset_info("svhn")


def test_dataset_info() -> None:
    assert DATASETS == ("digits", "mnist", "fashion-mnist", "cifar10")
    assert dataset_info("digits") == {"input_shape": (1, 8, 8), "nb_classes": 10, "clip_values": (0.0, 1.0)}
    assert dataset_info("fashion-mnist")["input_shape"] == (1, 28, 28)
    assert dataset_info("cifar10")["input_shape"] == (3, 32, 32)
    x, _ = load_dataset("digits", limit=2)
    assert x.shape[1:] == dataset_info("digits")["input_shape"]


def test_default_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ART_ACTIVATION_DEFENSES_DATA", raising=False)
    assert default_data_dir() is None
    monkeypatch.setenv("ART_ACTIVATION_DEFENSES_DATA", "/some/where")
    assert default_data_dir() == "/some/where"


# --------------------------------------------------------------------------- IDX files


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize(
    ("name", "sub"), [("mnist", "MNIST/raw"), ("mnist", ""), ("fashion-mnist", "FashionMNIST/raw")]
)
def test_idx_layouts(tmp_path: Path, name: str, sub: str, compress: bool) -> None:
    """Synthetic IDX files (gz and raw) in torchvision's layout and flat are parsed exactly."""
    images, labels = _fake_idx_dir(tmp_path / sub if sub else tmp_path, 7, compress=compress)
    x, y = load_dataset(name, tmp_path, "test")
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / np.float32(255))
    np.testing.assert_array_equal(y, labels)
    x2, _ = load_dataset(name, str(tmp_path), "test", limit=3)
    np.testing.assert_array_equal(x2, x[:3])


def test_idx_corrupt_header(tmp_path: Path) -> None:
    _fake_idx_dir(tmp_path, 3, compress=False)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(b"\x00\x00\x0d\x03" + bytes(12))  # float dtype code
    with pytest.raises(ValueError, match="IDX"):
        load_dataset("mnist", tmp_path, "test")


def test_idx_truncated(tmp_path: Path) -> None:
    _fake_idx_dir(tmp_path, 3, compress=False)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(ValueError, match="header promises"):
        load_dataset("mnist", tmp_path, "test")


def test_missing_files_error_names_files_dirs_and_options(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as info:
        load_dataset("mnist", tmp_path, "train")
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "train-images-idx3-ubyte" in msg and "train-labels-idx1-ubyte" in msg
    assert str(tmp_path / "MNIST" / "raw") in msg
    assert "--data-dir" in msg and "download=True" in msg and "--download" not in msg  # no such flag
    with pytest.raises(FileNotFoundError, match=r"(?s)test_batch.*cifar10_test_batch\.npz.*download=True"):
        load_dataset("cifar10", tmp_path, "test")


def test_download_uses_torchvision(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``download=True`` calls torchvision's MNIST class with the root and split (network faked)."""
    import torchvision.datasets as tvd

    calls: list[tuple[str, bool, bool]] = []

    class FakeMNIST:
        def __init__(self, root: str, train: bool, download: bool) -> None:
            calls.append((root, train, download))
            _fake_idx_dir(Path(root) / "MNIST" / "raw", 4, compress=True, split="train" if train else "test")

    monkeypatch.setattr(tvd, "MNIST", FakeMNIST)
    with pytest.raises(FileNotFoundError):
        load_dataset("mnist", tmp_path, "test")  # no download by default
    x, y = load_dataset("mnist", tmp_path, "test", download=True)
    assert calls == [(str(tmp_path), False, True)]
    assert x.shape == (4, 1, 28, 28) and y.shape == (4,)


# --------------------------------------------------------------------------- CIFAR-10


def test_cifar_pickle_layout(tmp_path: Path) -> None:
    """Python-pickle batches: RGB planes of 1024 values each become channels 0, 1, 2."""
    d = tmp_path / "cifar-10-batches-py"
    d.mkdir()
    data, labels = _fake_cifar_batch(5, 1)
    with open(d / "test_batch", "wb") as f:
        pickle.dump({b"data": data, b"labels": labels.tolist(), b"batch_label": b"x"}, f)
    x, y = load_dataset("cifar10", tmp_path, "test")
    assert x.shape == (5, 3, 32, 32) and x.flags.c_contiguous
    np.testing.assert_array_equal(x[:, 1].reshape(5, -1), data[:, 1024:2048] / np.float32(255))
    assert x[2, 0, 3, 4] == np.float32(data[2, 3 * 32 + 4]) / np.float32(255)
    np.testing.assert_array_equal(y, labels)


def test_cifar_npz_layout_limit_and_exact_mask(tmp_path: Path) -> None:
    """``.npz`` chunks are read in order; ``limit`` spans chunks; the exact mask is aligned."""
    d = tmp_path / "cifar10"
    d.mkdir()
    parts = []
    for i in range(1, 6):
        data, labels = _fake_cifar_batch(4, i)
        exact = np.arange(4) < i - 1
        np.savez(
            d / f"cifar10_train_batch_{i}.npz",
            data=data,
            labels=labels,
            exact=exact,
            source=exact.astype(np.uint8),
        )
        parts.append((data, labels, exact))
    x, y = load_dataset("cifar10", tmp_path, "train")
    assert x.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(y, np.concatenate([p[1] for p in parts]))
    np.testing.assert_array_equal(x[5].reshape(-1), parts[1][0][1] / np.float32(255))
    x6, y6 = load_dataset("cifar10", tmp_path, "train", limit=6)
    np.testing.assert_array_equal(x6, x[:6])
    mask = cifar10_exact_mask(tmp_path, "train")
    np.testing.assert_array_equal(mask, np.concatenate([p[2] for p in parts]))
    assert mask.dtype == bool and mask.sum() == 0 + 1 + 2 + 3 + 4
    np.testing.assert_array_equal(cifar10_exact_mask(tmp_path, "train", limit=6), mask[:6])
    with pytest.raises(FileNotFoundError, match="cifar10_test_batch.npz"):
        cifar10_exact_mask(tmp_path, "test")


# --------------------------------------------------------------------------- real data


@pytest.mark.skipif(not HAVE_MNIST, reason="real MNIST not found under ../shared/datasets/mnist")
def test_real_mnist_test_split() -> None:
    """Real MNIST test split (../shared/datasets/mnist): 10,000 images and the known label counts."""
    x, y = load_dataset("mnist", SHARED, "test")
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_MNIST, reason="real MNIST not found under ../shared/datasets/mnist")
def test_real_mnist_train_split() -> None:
    """Real MNIST train split (../shared/datasets/mnist): the known label counts."""
    _, y = load_dataset("mnist", SHARED / "mnist", "train")
    assert np.bincount(y).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.skipif(not HAVE_CIFAR, reason="real CIFAR-10 not found under ../shared/datasets/cifar10")
def test_real_cifar10_test_split() -> None:
    """Real CIFAR-10 test split (../shared/datasets/cifar10, mostly JPEG-decoded pixels).

    1000 images per class; the first 1000 test images are the bit-exact ones.
    """
    x, y = load_dataset("cifar10", SHARED, "test")
    assert x.shape == (10000, 3, 32, 32) and x.dtype == np.float32
    assert np.bincount(y).tolist() == [1000] * 10
    mask = cifar10_exact_mask(SHARED, "test")
    assert mask.sum() == 1000 and mask[:1000].all()


@pytest.mark.slow
@pytest.mark.skipif(not HAVE_CIFAR, reason="real CIFAR-10 not found under ../shared/datasets/cifar10")
def test_real_cifar10_train_split() -> None:
    """Real CIFAR-10 train split (../shared/datasets/cifar10): 5000 per class, 7728 exact images."""
    _, y = load_dataset("cifar10", SHARED / "cifar10", "train")
    assert np.bincount(y).tolist() == [5000] * 10
    assert cifar10_exact_mask(SHARED, "train").sum() == 7728


def test_module_exports() -> None:
    assert set(data_mod.__all__) >= {"load_dataset", "dataset_info", "DATASETS", "cifar10_exact_mask"}
