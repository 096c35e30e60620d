"""Datasets as numpy arrays: float32 NCHW images in [0, 1] and int64 labels.

``digits`` (scikit-learn's bundled 8x8 digits) needs no files and is the default. ``mnist``,
``fashion-mnist`` and ``cifar10`` are read from the usual local layouts (torchvision's, the
original archives' and the ``.npz`` chunks of the shared offline copy); ``download=True``
fetches missing files with torchvision's downloaders where a network exists.

Note on CIFAR-10 from the ``.npz`` chunk layout: most of those pixels were decoded from JPEG
copies and are *not* the original CIFAR-10 pixels (labels are exact). Use
:func:`cifar10_exact_mask` to select the bit-exact images, and say so wherever CIFAR-10
numbers computed on this copy are reported.
"""

from __future__ import annotations

import gzip
import logging
import os
import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from art_activation_defenses._validation import check_choice, check_scalar

__all__ = [
    "DATASETS",
    "DatasetNotFoundError",
    "cifar10_exact_mask",
    "dataset_info",
    "default_data_dir",
    "load_dataset",
]

logger = logging.getLogger(__name__)

DATASETS: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "cifar10")
"""Names accepted by :func:`load_dataset`."""

ENV_VAR = "ART_ACTIVATION_DEFENSES_DATA"
_SPLITS = ("train", "test")
_INFO: dict[str, tuple[int, int, int]] = {
    "digits": (1, 8, 8),
    "mnist": (1, 28, 28),
    "fashion-mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}
_IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Sub-directories of ``root`` searched for the IDX files (torchvision's layout first).
_IDX_SUBDIRS = {
    "mnist": ("", "MNIST/raw", "mnist/MNIST/raw", "mnist", "mnist/raw", "raw"),
    "fashion-mnist": (
        "",
        "FashionMNIST/raw",
        "fashion-mnist/FashionMNIST/raw",
        "fashion_mnist/FashionMNIST/raw",
        "fashion-mnist",
        "fashion_mnist",
        "FashionMNIST",
        "raw",
    ),
}
_CIFAR_PICKLES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_CIFAR_NPZ = {
    "train": tuple(f"cifar10_train_batch_{i}.npz" for i in range(1, 6)),
    "test": ("cifar10_test_batch.npz",),
}
_CIFAR_SUBDIRS = ("", "cifar-10-batches-py", "cifar10", "cifar-10", "cifar10/cifar-10-batches-py")


class DatasetNotFoundError(FileNotFoundError):
    """The files of a dataset were not found in any of the searched directories."""


def default_data_dir() -> str | None:
    """Return the data directory named by ``$ART_ACTIVATION_DEFENSES_DATA``, or ``None`` if unset."""
    value = os.environ.get(ENV_VAR, "").strip()
    return value or None


def dataset_info(name: str) -> dict[str, Any]:
    """Describe a dataset without loading it.

    :param name: One of :data:`DATASETS`.
    :return: ``{"input_shape": (C, H, W), "nb_classes": 10, "clip_values": (0.0, 1.0)}``.
    """
    name = _check_name(name)
    return {"input_shape": _INFO[name], "nb_classes": 10, "clip_values": (0.0, 1.0)}


def load_dataset(
    name: str = "digits",
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    *,
    download: bool = False,
    limit: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Load a dataset split as ``(x, y)``.

    ``x`` is a C-contiguous float32 array of shape ``(n, C, H, W)`` with values in [0, 1];
    ``y`` is an int64 array of shape ``(n,)``. The result is a fresh copy on every call.

    :param name: One of :data:`DATASETS`: ``"digits"`` (scikit-learn's bundled 8x8 digits,
        values/16, a fixed stratified 75/25 train/test split with ``random_state=0``; needs no
        files), ``"mnist"``, ``"fashion-mnist"`` (IDX files, ``.gz`` or uncompressed) or
        ``"cifar10"`` (``cifar-10-batches-py`` pickles or ``cifar10_*_batch*.npz`` chunks;
        the chunks' pixels are mostly JPEG-decoded, see :func:`cifar10_exact_mask`).
    :param root: Directory holding the files, searched with the usual sub-directories
        (e.g. ``root/MNIST/raw``, ``root/mnist/MNIST/raw``, ``root/cifar10``). Default:
        ``$ART_ACTIVATION_DEFENSES_DATA``, then ``~/.cache/art_activation_defenses``.
        Ignored for ``"digits"``.
    :param split: ``"train"`` or ``"test"``.
    :param download: Download missing files into ``root`` with torchvision's downloader
        (needs a network). Default ``False``.
    :param limit: Keep only the first ``limit`` samples (deterministic); ``None`` keeps all.
    :raises ValueError: Unknown ``name`` or ``split``, invalid ``limit``, corrupt files.
    :raises DatasetNotFoundError: The files are missing (a :class:`FileNotFoundError`).
    """
    name = _check_name(name)
    split = _check_split(split)
    if limit is not None:
        limit = check_scalar(limit, "limit", "int", min_val=1)
    if name == "digits":
        x, y = _load_digits(split)
    elif name == "cifar10":
        x, y = _load_cifar10(_roots(root), split, download=download, limit=limit)
    else:
        x, y = _load_idx_dataset(name, _roots(root), split, download=download)
    if limit is not None:
        x, y = x[:limit], y[:limit]
    return np.ascontiguousarray(x, dtype=np.float32), np.ascontiguousarray(y, dtype=np.int64)


def cifar10_exact_mask(
    root: str | os.PathLike[str] | None = None,
    split: Literal["train", "test"] = "train",
    *,
    limit: int | None = None,
) -> np.ndarray:
    """Which CIFAR-10 images of the ``.npz`` chunk layout carry the original pixels.

    The offline ``.npz`` copy holds all original labels, but most pixels were decoded from
    JPEG copies (about 7.7k of 50k train and 1k of 10k test images are bit-exact). The mask
    is aligned with ``load_dataset("cifar10", root, split, limit=limit)`` when that call
    reads the same ``.npz`` files.

    :param root: Directory holding ``cifar10_{train,test}_batch*.npz`` (searched like
        :func:`load_dataset`).
    :param split: ``"train"`` or ``"test"``.
    :param limit: Keep only the first ``limit`` entries; ``None`` keeps all.
    :return: Boolean array of shape ``(n,)``, True where the pixels are exact.
    :raises DatasetNotFoundError: No ``.npz`` chunks found (the pickle layout has no such flag).
    """
    split = _check_split(split)
    if limit is not None:
        limit = check_scalar(limit, "limit", "int", min_val=1)
    dirs = _candidate_dirs(_roots(root), _CIFAR_SUBDIRS)
    files = _find_all(dirs, _CIFAR_NPZ[split])
    if files is None:
        raise _not_found(
            "cifar10", _CIFAR_NPZ[split], dirs, extra="(the exact flag exists only in .npz chunks)"
        )
    masks: list[np.ndarray] = []
    count = 0
    for path in files:
        with np.load(path, allow_pickle=False) as z:
            if "exact" not in z.files:
                raise ValueError(f"CIFAR-10 chunk {path} has no 'exact' array (keys: {z.files})")
            masks.append(np.asarray(z["exact"], dtype=bool))
        count += len(masks[-1])
        if limit is not None and count >= limit:
            break
    mask = np.concatenate(masks)
    return mask[:limit] if limit is not None else mask


# --------------------------------------------------------------------------- validation


def _check_name(name: str) -> str:
    if not isinstance(name, str) or name.lower() not in DATASETS:
        raise ValueError(f"`name` must be one of {', '.join(DATASETS)}; got {name!r}.")
    return name.lower()


def _check_split(split: str) -> Literal["train", "test"]:
    return check_choice(split, "split", ("train", "test"))  # type: ignore[no-any-return]


def _roots(root: str | os.PathLike[str] | None) -> list[Path]:
    """Directories to search: ``root`` if given, else the env var and the cache directory."""
    if root is not None:
        return [Path(root).expanduser()]
    roots = [Path(d).expanduser() for d in (default_data_dir(),) if d]
    roots.append(Path.home() / ".cache" / "art_activation_defenses")
    return roots


def _candidate_dirs(roots: Sequence[Path], subdirs: Sequence[str]) -> list[Path]:
    dirs: list[Path] = []
    for r in roots:
        for sub in subdirs:
            d = r / sub if sub else r
            if d not in dirs:
                dirs.append(d)
    return dirs


def _find(dirs: Sequence[Path], stem: str, suffixes: Sequence[str] = ("", ".gz")) -> Path | None:
    for d in dirs:
        for suffix in suffixes:
            p = d / (stem + suffix)
            if p.is_file():
                return p
    return None


def _find_all(
    dirs: Sequence[Path], names: Sequence[str], suffixes: Sequence[str] = ("",)
) -> list[Path] | None:
    """The first directory that holds *all* ``names`` (each with one of ``suffixes``)."""
    for d in dirs:
        found = [_find([d], n, suffixes) for n in names]
        if all(p is not None for p in found):
            return [p for p in found if p is not None]
    return None


def _not_found(
    name: str, files: Sequence[str], dirs: Sequence[Path], extra: str = ""
) -> DatasetNotFoundError:
    searched = "\n  ".join(str(d) for d in dirs)
    return DatasetNotFoundError(
        f"dataset {name!r}: expected files {', '.join(files)}{' ' + extra if extra else ''}\n"
        f"not found in any of:\n  {searched}\n"
        f"Pass the directory holding them with --data-dir (command line) or root=... (Python), or set "
        f"${ENV_VAR}; in Python, load_dataset(..., download=True) fetches them with torchvision "
        f"(needs a network)."
    )


# --------------------------------------------------------------------------- digits


def _load_digits(split: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)).reshape(-1, 1, 8, 8)
    y = np.asarray(bunch.target, dtype=np.int64)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)
    return (x_tr, y_tr) if split == "train" else (x_te, y_te)


# --------------------------------------------------------------------------- IDX (MNIST)


def _read_idx(path: Path) -> np.ndarray:
    """Parse an IDX file (``.gz`` or raw) of unsigned bytes into an array of its stated shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte IDX file (header {data[:4]!r})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int(v) for v in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64))
    if len(data) - header != expected:
        raise ValueError(
            f"{path}: header promises shape {shape} ({expected} bytes) but holds {len(data) - header}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _download_torchvision(name: str, root: Path, split: str) -> None:
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "fashion-mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    root.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s (%s) into %s with torchvision", name, split, root)
    cls(str(root), train=split == "train", download=True)


def _load_idx_dataset(
    name: str, roots: list[Path], split: str, *, download: bool
) -> tuple[np.ndarray, np.ndarray]:
    dirs = _candidate_dirs(roots, _IDX_SUBDIRS[name])
    img_stem, lbl_stem = _IDX_FILES[split]
    img, lbl = _find(dirs, img_stem), _find(dirs, lbl_stem)
    if (img is None or lbl is None) and download:
        _download_torchvision(name, roots[0], split)
        img, lbl = _find(dirs, img_stem), _find(dirs, lbl_stem)
    if img is None or lbl is None:
        raise _not_found(name, (f"{img_stem}[.gz]", f"{lbl_stem}[.gz]"), dirs)
    images, labels = _read_idx(img), _read_idx(lbl)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(
            f"{name}: images {img} have shape {images.shape}, labels {lbl} have shape {labels.shape}"
        )
    x = images.astype(np.float32)[:, None, :, :] / np.float32(255.0)
    return x, labels.astype(np.int64)


# --------------------------------------------------------------------------- CIFAR-10


def _load_cifar10(
    roots: list[Path], split: str, *, download: bool, limit: int | None
) -> tuple[np.ndarray, np.ndarray]:
    dirs = _candidate_dirs(roots, _CIFAR_SUBDIRS)
    npz = _find_all(dirs, _CIFAR_NPZ[split])
    pickles = _find_all(dirs, _CIFAR_PICKLES[split])
    if npz is None and pickles is None and download:
        _download_torchvision("cifar10", roots[0], split)
        pickles = _find_all(dirs, _CIFAR_PICKLES[split])
    if npz is not None:  # the safe format first
        reader, files = _read_cifar_npz, npz
    elif pickles is not None:
        reader, files = _read_cifar_pickle, pickles
    else:
        pickle_files, npz_files = ", ".join(_CIFAR_PICKLES[split]), ", ".join(_CIFAR_NPZ[split])
        raise _not_found("cifar10", (f"{pickle_files} (cifar-10-batches-py) or {npz_files}",), dirs)
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    for path in files:  # read only as many chunks as ``limit`` needs
        data, labels = reader(path)
        if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
            raise ValueError(f"CIFAR-10 file {path}: data shape {data.shape}, {len(labels)} labels")
        xs.append(data)
        ys.append(labels)
        if limit is not None and sum(len(v) for v in ys) >= limit:
            break
    data = np.concatenate(xs)
    x = data.reshape(-1, 3, 32, 32).astype(np.float32) / np.float32(255.0)
    return x, np.concatenate(ys).astype(np.int64)


# What a CIFAR-10 batch pickle may reference: numpy's array reconstruction (both module paths,
# numpy 1 and 2), dtypes and str -> bytes encoding, nothing else; builtin containers need no global.
_SAFE_PICKLE_GLOBALS = frozenset(
    {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),  # bytes in protocol-2 pickles written by Python 3
    }
)


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits builtin containers, bytes/str, numbers and numpy arrays/dtypes
    only: any other global (``os.system``, ``builtins.eval``, ...) is refused, so a crafted
    batch file cannot run code."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _SAFE_PICKLE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR-10 batch")


def _read_cifar_pickle(path: Path) -> tuple[np.ndarray, np.ndarray]:
    # The original archive format is a pickle: read it with a restricted unpickler (no code runs).
    with open(path, "rb") as f:
        try:
            batch = _RestrictedUnpickler(f, encoding="bytes").load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError, TypeError) as err:
            raise ValueError(f"CIFAR-10 file {path} is not a plain CIFAR-10 batch pickle: {err}") from err
    if not isinstance(batch, dict):
        raise ValueError(f"CIFAR-10 file {path} does not hold a dict")
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    if data is None or labels is None:
        raise ValueError(f"CIFAR-10 file {path} lacks 'data' or 'labels'")
    return np.asarray(data, dtype=np.uint8), np.asarray(labels, dtype=np.int64)


def _read_cifar_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        if "data" not in z.files or "labels" not in z.files:
            raise ValueError(f"CIFAR-10 chunk {path} lacks 'data' or 'labels' (keys: {z.files})")
        return np.asarray(z["data"], dtype=np.uint8), np.asarray(z["labels"], dtype=np.int64)
