"""PGD that runs on to a zero loss gradient (the capped-ReLU paper's Section 6 measurement)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from art_activation_defenses._validation import check_norm, check_scalar
from art_activation_defenses.attacks._base import TorchAttack
from art_activation_defenses.attacks._torch import (
    NORMS,
    Geometry,
    TorchView,
    cross_entropy_to,
    flat,
    geometry,
)


class ZeroGradientPGD(TorchAttack):
    """
    PGD that does not stop when the label flips but runs on until the loss gradient vanishes.

    Each step ascends (descends, when targeted) the cross-entropy ``L`` of the model outputs:
    ``x ← clip(Π_ε(x + eps_step · u))`` with ``u = sign(∇L)`` (L∞) or ``∇L / ||∇L||_2`` (L2)
    and ``Π_ε`` the projection onto the ε-ball around the clean input (no projection when
    ``eps`` is ``None``; ``clip_values`` always apply). A sample stops at the first iterate
    whose gradient satisfies ``||∇_x L||_2 ≤ tol`` (default ``tol = 1e-8``; for a capped-ReLU
    network a saturated point gives an exactly zero gradient) or after ``max_iter`` steps.

    After :meth:`generate`: ``found_`` (bool, per sample) says whether such a zero-gradient
    point was reached, ``distances_`` holds its L2 distance from the clean input (NaN where
    none was found; the paper averages over the samples where it was found, see
    :attr:`mean_distance_`), and ``iterations_`` the steps taken.

    | Paper link: https://arxiv.org/abs/1706.06083 (PGD; the zero-gradient stopping rule is the
      capped-ReLU paper's Section 6)
    """

    attack_params = TorchAttack.attack_params + [
        "norm",
        "eps",
        "eps_step",
        "max_iter",
        "tol",
        "batch_size",
        "targeted",
        "verbose",
    ]
    _desc = "ZeroGradientPGD"

    def __init__(
        self,
        classifier: Any,
        *,
        norm: float | str = np.inf,
        eps: float | None = None,
        eps_step: float = 0.01,
        max_iter: int = 1000,
        tol: float = 1e-8,
        batch_size: int = 128,
        targeted: bool = False,
        verbose: bool = True,
    ) -> None:
        """
        :param classifier: A trained ART PyTorch classifier (``PyTorchClassifier`` or subclass).
        :param norm: Step and ball geometry, ``np.inf`` (``"inf"``) or ``2``. Default ``np.inf``.
        :param eps: Radius of the ball around the clean input; ``None`` (default): unbounded.
        :param eps_step: Step size. Default 0.01.
        :param max_iter: Maximum number of steps. Default 1000.
        :param tol: Zero-gradient tolerance on ``||∇_x L||_2``. Default 1e-8.
        :param batch_size: Samples per batch. Default 128.
        :param targeted: If ``True``, ``y`` holds target labels and the loss is descended.
        :param verbose: Show a progress bar over batches. Default True.
        """
        super().__init__(estimator=classifier)
        self.norm = norm
        self.eps = eps
        self.eps_step = eps_step
        self.max_iter = max_iter
        self.tol = tol
        self.batch_size = batch_size
        self._targeted = targeted
        self.verbose = verbose
        self.found_: np.ndarray = np.zeros(0, dtype=bool)
        self.distances_: np.ndarray = np.zeros(0, dtype=np.float64)
        self.iterations_: np.ndarray = np.zeros(0, dtype=np.int64)
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        check_norm(self.norm, "norm", NORMS)
        if self.eps is not None:
            check_scalar(self.eps, "eps", min_val=0, include_boundaries="right")
        check_scalar(self.eps_step, "eps_step", min_val=0, include_boundaries="right")
        check_scalar(self.max_iter, "max_iter", "int", min_val=1)
        check_scalar(self.tol, "tol", min_val=0)
        self._check_batching()

    @property
    def mean_distance_(self) -> float:
        """Mean L2 distance over the samples where a zero-gradient point was found (NaN if none)."""
        if not np.any(self.found_):
            return math.nan
        return float(np.mean(self.distances_[self.found_]))

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """
        Run PGD to a zero-gradient point (or ``max_iter``).

        :param x: Clean inputs (not modified).
        :param y: True labels (untargeted; ``None``: the model's predictions) or target labels.
        :return: The last iterates, float32, shape of ``x``.
        """
        view, labels = self._prepare(x, y, kwargs)
        geo = geometry(check_norm(self.norm, "norm", NORMS))
        n = x.shape[0]
        out = np.empty(x.shape, dtype=np.float32)
        self.found_ = np.zeros(n, dtype=bool)
        self.distances_ = np.full(n, np.nan, dtype=np.float64)
        self.iterations_ = np.zeros(n, dtype=np.int64)
        for sl in self._batches(view, n):
            x0 = view.tensor(x[sl])
            lab = self._labels(view, x0, labels, sl)
            x_adv, found, its = self._attack_batch(view, geo, x0, lab)
            out[sl] = view.numpy(x_adv)
            found_np = found.cpu().numpy()
            dist = torch.linalg.vector_norm(flat(x_adv - x0), dim=1).cpu().numpy()
            self.found_[sl] = found_np
            self.distances_[sl] = np.where(found_np, dist, np.nan)
            self.iterations_[sl] = its.cpu().numpy()
        return out

    def _attack_batch(
        self, view: TorchView, geo: Geometry, x0: torch.Tensor, lab: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b = x0.shape[0]
        shape = (-1, *x0.shape[1:])
        sign = -1.0 if self.targeted else 1.0
        x_cur = x0.clone()
        found = torch.zeros(b, dtype=torch.bool, device=x0.device)
        its = torch.zeros(b, dtype=torch.int64, device=x0.device)
        active = torch.arange(b, device=x0.device)
        for it in range(self.max_iter + 1):
            idx = active
            _, _, grad = view.value_and_grad(x_cur[idx], cross_entropy_to(lab[idx]))
            g = flat(grad)
            zero = torch.linalg.vector_norm(g, dim=1) <= self.tol
            found[idx[zero]] = True
            active, g = idx[~zero], g[~zero]
            if active.numel() == 0 or it == self.max_iter:
                break
            step = geo.step(g, torch.full((active.numel(),), self.eps_step, device=x0.device))
            delta = flat(x_cur[active]) + sign * step - flat(x0[active])
            if self.eps is not None:
                delta = geo.project(delta, float(self.eps))
            x_cur[active] = view.clip((flat(x0[active]) + delta).view(shape))
            its[active] += 1
        return x_cur, found, its
