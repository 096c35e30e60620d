"""
Local intrinsic dimensionality (LID) features: per-layer maximum-likelihood LID estimates over
the k nearest neighbours in a clean reference minibatch (Ma et al. 2018), computed in torch on
the classifier's device with one numpy -> torch conversion per minibatch; distances with
``torch.cdist`` and neighbours with ``topk``.

| Paper link: https://arxiv.org/abs/1801.02613
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm

from art_activation_defenses._validation import check_samples, check_scalar
from art_activation_defenses.detectors._layers import (
    LayerTap,
    default_layers,
    eval_mode,
    to_model_input,
)

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier


class TooFewNeighboursError(ValueError):
    """Too few clean reference samples per minibatch for k neighbours; each interface words the fix.

    :param n_reference: Number of reference samples available. :param k: The requested k.
    """

    def __init__(self, message: str, *, n_reference: int, k: int) -> None:
        super().__init__(message)
        self.n_reference = n_reference
        self.k = k


def _split(n: int, batch_size: int) -> list[slice]:
    """Split ``range(n)`` into ``ceil(n / batch_size)`` contiguous, near-equal slices."""
    bounds = np.linspace(0, n, math.ceil(n / batch_size) + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


class _Reference:
    """One reference minibatch at one layer: centred rows and their squared norms, reused by every query."""

    def __init__(self, features: torch.Tensor) -> None:
        self.centre = features.mean(0, keepdim=True)
        self.rows = features - self.centre
        self.sq_norms = self.rows.square().sum(1)

    def sq_distances(self, query: torch.Tensor | None) -> torch.Tensor:
        """Squared distances (n_query, n_ref); `query` None means the reference rows themselves."""
        if query is None:
            q, q_norms = self.rows, self.sq_norms
        else:
            q = query - self.centre
            q_norms = q.square().sum(1)
        d2 = torch.addmm(self.sq_norms[None, :], q, self.rows.T, beta=1.0, alpha=-2.0)
        return d2.add_(q_norms[:, None]).clamp_min_(0.0)


def _self_mask(xq: torch.Tensor, xr: torch.Tensor) -> torch.Tensor:
    """Boolean (n_query, n_ref) mask of reference rows that are the query point itself (equal inputs)."""
    d2 = _Reference(xr).sq_distances(xq)
    scale = xq.square().sum(1, keepdim=True) + xr.square().sum(1)[None, :]
    rows, cols = torch.nonzero(d2 <= 1e-5 * scale + 1e-30, as_tuple=True)
    mask = torch.zeros_like(d2, dtype=torch.bool)
    if rows.numel():
        equal = (xq[rows] == xr[cols]).all(1)
        mask[rows[equal], cols[equal]] = True
    return mask


def mle_lid(sq_distances: torch.Tensor, k: int) -> torch.Tensor:
    """
    Maximum-likelihood LID from squared distances to candidate neighbours (``inf`` = excluded).

    LID = -( (1/k) sum_i log(r_i / r_k) )^-1 over the k nearest neighbours; 0 where the k
    neighbours coincide with the point, and finite (≈ 1e12) where all k distances are equal.

    | Paper link: https://arxiv.org/abs/1801.02613

    :param sq_distances: (n_query, n_ref) squared distances.
    :param k: Number of neighbours.
    :return: (n_query,) float64 LID estimates.
    """
    d2 = torch.topk(sq_distances, k, dim=1, largest=False, sorted=True).values.double()
    if torch.isinf(d2).any():
        raise ValueError(f"Fewer than k={k} reference neighbours are available for some points.")
    r = d2.clamp_min(0.0).sqrt()
    r_k = r[:, -1:]
    mean_log = torch.log(r.clamp_min(1e-300) / r_k.clamp_min(1e-300)).mean(1)
    lid = -1.0 / mean_log.clamp(max=-1e-12)
    return torch.where(r_k[:, 0] > 0, lid, torch.zeros_like(lid))


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    return a is b or (
        a.shape == b.shape
        and a.strides == b.strides
        and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    )


def compute_lid_features_multi(
    classifier: PyTorchClassifier,
    queries: Sequence[np.ndarray],
    x_reference: np.ndarray,
    *,
    layers: Sequence[str] | None = None,
    k: int = 20,
    batch_size: int = 100,
    verbose: bool = False,
) -> tuple[list[np.ndarray], list[str]]:
    """
    LID features of several query sets against one reference, each reference minibatch forwarded once.

    Query set ``j``'s minibatch ``b`` uses reference minibatch ``b mod n_ref_batches``; a query set
    that *is* `x_reference` (the same array) reuses the reference forward pass. See :func:`lid_features`.

    :return: (one (n_j, n_columns) array per query set, column names).
    """
    input_shape = getattr(classifier, "input_shape", None)
    clip = getattr(classifier, "clip_values", None)
    check_samples(x_reference, "x_reference", input_shape=input_shape, clip_values=clip)
    for j, x in enumerate(queries):
        check_samples(
            x,
            "x" if len(queries) == 1 else f"x (query set {j})",
            input_shape=input_shape,
            clip_values=clip,
            reference=x_reference,
        )
    check_scalar(k, "k", "int", min_val=1)
    check_scalar(batch_size, "batch_size", "int", min_val=2)
    ref_slices = _split(x_reference.shape[0], int(batch_size))
    smallest = min(s.stop - s.start for s in ref_slices)
    if smallest < k + 1:
        raise TooFewNeighboursError(
            f"Reference minibatches of {smallest} samples cannot give k={k} neighbours besides the point "
            f"itself; pass more `x_reference` samples (>= {k + 1}) or a smaller `k`.",
            n_reference=int(x_reference.shape[0]),
            k=int(k),
        )
    same = [_same_array(x, x_reference) for x in queries]
    plans = [
        ref_slices if s else _split(x.shape[0], int(batch_size)) for x, s in zip(queries, same, strict=True)
    ]
    device = classifier.device
    model = classifier.model
    names: list[str] = []
    outs: list[np.ndarray] = []
    ref: tuple[int, torch.Tensor, list[_Reference]] | None = None
    with eval_mode(model), LayerTap(model, layers or default_layers(model)) as tap:
        for b in tqdm(range(max(len(plan) for plan in plans)), desc="LID", disable=not verbose):
            r_index = b % len(ref_slices)
            if ref is None or ref[0] != r_index:
                xr_raw = x_reference[ref_slices[r_index]]
                names, feats_r = tap.run(to_model_input(classifier, xr_raw))
                xr = torch.as_tensor(xr_raw, dtype=torch.float32, device=device).flatten(1)
                ref = (r_index, xr, [_Reference(f) for f in feats_r])
                if not outs:
                    outs = [np.empty((x.shape[0], len(names)), dtype=np.float64) for x in queries]
            _, xr, refs = ref
            for x, is_ref, plan, out in zip(queries, same, plans, outs, strict=True):
                if b >= len(plan):
                    continue
                q_slice = plan[b]
                if is_ref:
                    feats_q: list[torch.Tensor | None] = [None] * len(refs)
                    excluded = torch.eye(xr.shape[0], dtype=torch.bool, device=device)
                else:
                    feats_q = list(tap.run(to_model_input(classifier, x[q_slice]))[1])
                    xq = torch.as_tensor(x[q_slice], dtype=torch.float32, device=device).flatten(1)
                    excluded = _self_mask(xq, xr)
                for j, (fq, r) in enumerate(zip(feats_q, refs, strict=True)):
                    d2 = r.sq_distances(fq).masked_fill_(excluded, math.inf)
                    out[q_slice, j] = mle_lid(d2, int(k)).cpu().numpy()
    return outs, names


def compute_lid_features(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    x_reference: np.ndarray,
    *,
    layers: Sequence[str] | None = None,
    k: int = 20,
    batch_size: int = 100,
    verbose: bool = False,
) -> tuple[np.ndarray, list[str]]:
    """
    LID features and the names of their columns; see :func:`lid_features`.

    :return: (features of shape (n_samples, n_columns), column names).
    """
    outs, names = compute_lid_features_multi(
        classifier, [x], x_reference, layers=layers, k=k, batch_size=batch_size, verbose=verbose
    )
    return outs[0], names


def lid_features(
    classifier: PyTorchClassifier,
    x: np.ndarray,
    x_reference: np.ndarray,
    *,
    layers: Sequence[str] | None = None,
    k: int = 20,
    batch_size: int = 100,
    verbose: bool = False,
) -> np.ndarray:
    """
    Per-layer maximum-likelihood LID of each sample w.r.t. a clean reference minibatch.

    `x_reference` is split into ``ceil(n / batch_size)`` near-equal minibatches, and so is `x`; the
    b-th query minibatch uses reference minibatch ``b mod n_ref_batches`` (aligned when `x` and
    `x_reference` have the same length, e.g. adversarial examples crafted from the reference). A
    reference sample equal to the query sample (the point itself) is never its own neighbour.

    | Paper link: https://arxiv.org/abs/1801.02613

    :param classifier: An ART ``PyTorchClassifier`` (or subclass, e.g. ``RetrofitClassifier``).
    :param x: Samples to characterise, shape (n_samples, *input_shape).
    :param x_reference: Clean reference samples, shape (n_ref, *input_shape).
    :param layers: Layer names: ``"input"``, ``"logits"`` or names of ``classifier.model.named_modules()``
                   (nested names like ``"features.1"`` work). Default: input, every activation output, logits.
    :param k: Number of nearest neighbours (default 20).
    :param batch_size: Reference minibatch size (default 100).
    :param verbose: Show a progress bar.
    :return: Array (n_samples, n_layers) of float64 LID estimates; a module called at m sites gives m columns.
    """
    return compute_lid_features(
        classifier, x, x_reference, layers=layers, k=k, batch_size=batch_size, verbose=verbose
    )[0]
