"""Distance of (adversarial) samples to the training set, in bounded memory."""

from __future__ import annotations

import numpy as np
import torch

from art_activation_defenses._device import Device, resolve_device
from art_activation_defenses._validation import check_array, check_scalar

__all__ = ["nearest_training_distances", "training_set_distance"]


def _block(x: np.ndarray, rows: slice, device: torch.device) -> torch.Tensor:
    """A float32 tensor view (no copy when possible) of rows of `x`, flattened."""
    part = x[rows].reshape(rows.stop - rows.start, -1)
    return torch.as_tensor(np.ascontiguousarray(part, dtype=np.float32), device=device)


def nearest_training_distances(
    x: np.ndarray,
    x_train: np.ndarray,
    *,
    max_memory_mb: float = 256.0,
    query_batch: int = 1024,
    device: Device = "auto",
) -> np.ndarray:
    """
    Euclidean distance from each sample of `x` to its nearest neighbour in `x_train`.

    Candidates are ranked with ``torch.cdist`` block by block (the distance block never exceeds
    `max_memory_mb`; the training set is read in row chunks without being copied whole), then the
    distance to the winner is recomputed exactly in float64.

    :param x: Samples (e.g. adversarial examples), shape (n, ...).
    :param x_train: Training samples, shape (n_train, ...) with the same sample shape.
    :param max_memory_mb: Memory budget of one distance block in MiB (default 256).
    :param query_batch: Rows of `x` processed at once (default 1024).
    :param device: Torch device of the ranking (``"auto"``: CUDA when available, else the CPU);
        the returned distances are recomputed exactly in float64 numpy, so they do not depend on it.
    :return: Array (n,) of float64 distances.
    """
    check_array(x, "x", ndim_min=2, floating=False)
    check_array(x_train, "x_train", ndim_min=2, floating=False)
    if x.shape[1:] != x_train.shape[1:]:
        raise ValueError(
            f"`x_train` sample shape {x_train.shape[1:]} differs from `x` sample shape {x.shape[1:]}."
        )
    query_batch = check_scalar(query_batch, "query_batch", "int", min_val=1)
    max_memory_mb = check_scalar(
        max_memory_mb, "max_memory_mb", min_val=0, include_boundaries="right", allow_inf=True
    )
    dev = resolve_device(device)
    n, n_train = x.shape[0], x_train.shape[0]
    q_rows = min(query_batch, n)
    # cdist result (q x t) plus its temporaries: budget about three float32 blocks
    t_rows = int(max(1, min(n_train, max_memory_mb * 2**20 // (3 * 4 * q_rows))))
    best_d2 = np.full(n, np.inf)
    best_idx = np.zeros(n, dtype=np.int64)
    for q0 in range(0, n, q_rows):
        q_slice = slice(q0, min(n, q0 + q_rows))
        q = _block(x, q_slice, dev)
        d2_best = torch.full((q.shape[0],), float("inf"), device=dev)
        i_best = torch.zeros(q.shape[0], dtype=torch.int64, device=dev)
        for t0 in range(0, n_train, t_rows):
            t = _block(x_train, slice(t0, min(n_train, t0 + t_rows)), dev)
            centre = t.mean(0, keepdim=True)
            d2 = torch.cdist(q - centre, t - centre).square_()
            values, index = d2.min(1)
            better = values < d2_best
            d2_best = torch.where(better, values, d2_best)
            i_best = torch.where(better, index + t0, i_best)
        best_d2[q_slice] = d2_best.cpu().numpy()
        best_idx[q_slice] = i_best.cpu().numpy()
    # exact distance to the selected neighbour (cdist's matrix-product form loses precision near 0)
    out = np.empty(n, dtype=np.float64)
    for q0 in range(0, n, q_rows):
        q_slice = slice(q0, min(n, q0 + q_rows))
        diff = x[q_slice].reshape(q_slice.stop - q_slice.start, -1).astype(np.float64) - x_train[
            best_idx[q_slice]
        ].reshape(q_slice.stop - q_slice.start, -1)
        out[q_slice] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def training_set_distance(
    x_adv: np.ndarray,
    x_train: np.ndarray,
    *,
    max_memory_mb: float = 256.0,
    query_batch: int = 1024,
    device: Device = "auto",
) -> float:
    """
    Mean nearest-neighbour L2 distance of `x_adv` to the training set (bounded memory; 60k MNIST
    training images stay well under 2 GB beyond the arrays themselves).

    :param x_adv: Samples, shape (n, ...).
    :param x_train: Training samples, shape (n_train, ...).
    :param max_memory_mb: Memory budget of one distance block in MiB (default 256).
    :param query_batch: Rows of `x_adv` processed at once (default 1024).
    :param device: Torch device of the ranking (default ``"auto"``).
    :return: The mean distance.
    """
    check_array(x_adv, "x_adv", ndim_min=2, floating=False)
    if isinstance(x_train, np.ndarray) and x_train.ndim >= 2 and tuple(x_train.shape[1:]) != x_adv.shape[1:]:
        raise ValueError(
            f"`x_train` sample shape {x_train.shape[1:]} differs from `x_adv` sample shape {x_adv.shape[1:]}."
        )
    return float(
        nearest_training_distances(
            x_adv, x_train, max_memory_mb=max_memory_mb, query_batch=query_batch, device=device
        ).mean()
    )
