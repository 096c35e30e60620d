"""Batched DeepFool, L2 and L∞, on any ART PyTorch classifier."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from art.attacks.attack import EvasionAttack
from tqdm.auto import tqdm

from art_activation_defenses.attacks._torch import (
    TORCH_CLASSIFIER_REQUIREMENTS,
    Geometry,
    TorchView,
    batches,
    check_bool,
    check_float,
    check_inputs,
    check_labels,
    check_positive_int,
    flat,
    geometry,
    nb_batches,
    parse_norm,
)

#: Added to |f_k - f_y| (logit units) so a linearised step lands just past the boundary.
_CROSS = 1e-4


class DeepFool(EvasionAttack):
    """
    Batched DeepFool (Moosavi-Dezfooli et al., 2016) for the L2 and L∞ norms.

    At every step the top ``nb_candidates`` classes of the clean prediction are linearised
    at the current point ``x_i``; for each candidate ``k`` the distance to its boundary is
    ``(|f_k - f_y| + 1e-4) / ||∇f_k - ∇f_y||_q`` (``q`` the dual norm: 2 for L2, 1 for L∞,
    ``f`` the model outputs) and the step to the closest one is added to the total
    perturbation ``r``.  The next point is ``x_{i+1} = clip(x + (1 + overshoot) · r)``, so the
    overshoot is applied to the total perturbation, and a sample stops as soon as it is
    misclassified there (untargeted: prediction ≠ reference label; targeted: = target).
    Finished samples leave the batch (masks), so late iterations only run on the rest.
    Linearisation is box-aware: gradient entries that would push a coordinate already at a
    clip value out of the box are zeroed, so a step reaches its linearised boundary instead
    of being clipped short (few iterations).  Large linear steps overshoot a curved
    boundary, so with ``refine_steps > 0`` each fooled sample's total perturbation ``r`` is
    then shrunk: ``refine_steps`` bisection steps (forward passes only) find the smallest
    scale ``s`` in ``[0, 1 + overshoot]`` at which ``clip(x + s · r)`` is still misclassified,
    and ``clip(x + min((1 + overshoot) s, 1 + overshoot) · r)`` is returned when it is
    misclassified (``clip(x + s · r)`` otherwise).
    Candidate Jacobian rows come from one forward pass and one batched backward pass
    (see :meth:`TorchView.jacobian_rows`).

    After :meth:`generate`, ``iterations_`` holds the steps each sample used (0 for samples
    that were misclassified from the start).

    | Paper link: https://arxiv.org/abs/1511.04599
    """

    attack_params = EvasionAttack.attack_params + [
        "norm",
        "max_iter",
        "nb_candidates",
        "overshoot",
        "refine_steps",
        "batch_size",
        "targeted",
        "verbose",
    ]
    _estimator_requirements = TORCH_CLASSIFIER_REQUIREMENTS

    def __init__(
        self,
        classifier: Any,
        *,
        norm: float | str = 2,
        max_iter: int = 50,
        nb_candidates: int = 10,
        overshoot: float = 0.02,
        refine_steps: int = 8,
        batch_size: int = 128,
        targeted: bool = False,
        verbose: bool = True,
    ) -> None:
        """
        :param classifier: A trained ART PyTorch classifier (``PyTorchClassifier`` or subclass).
        :param norm: ``2`` or ``np.inf`` (``"inf"``). Default 2.
        :param max_iter: Maximum number of steps per sample. Default 50.
        :param nb_candidates: Number of top classes (the reference class included) linearised
                              at every step. Default 10.
        :param overshoot: Factor ``(1 + overshoot)`` applied to the total perturbation. Default 0.02.
        :param refine_steps: Bisection steps (forward passes only) along each fooled sample's total
                             perturbation, see the class docstring; 0 disables. Default 8.
        :param batch_size: Samples per batch. Default 128.
        :param targeted: If ``True``, ``y`` holds target labels and the only candidate is the target.
        :param verbose: Show a progress bar over batches. Default True.
        """
        super().__init__(estimator=classifier)
        self.norm = norm
        self.max_iter = max_iter
        self.nb_candidates = nb_candidates
        self.overshoot = overshoot
        self.refine_steps = refine_steps
        self.batch_size = batch_size
        self._targeted = targeted
        self.verbose = verbose
        self.iterations_: np.ndarray = np.zeros(0, dtype=np.int64)
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        parse_norm(self.norm)
        check_positive_int("max_iter", self.max_iter, minimum=0)
        check_positive_int("nb_candidates", self.nb_candidates, minimum=2)
        check_float("overshoot", self.overshoot, strict=False)
        check_positive_int("refine_steps", self.refine_steps, minimum=0)
        check_positive_int("batch_size", self.batch_size)
        check_bool("targeted", self.targeted)
        check_bool("verbose", self.verbose)

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """
        Generate adversarial examples.

        :param x: Clean inputs (not modified).
        :param y: Untargeted: true labels (indices or one-hot); if ``None`` the model's
                  predictions are the reference. Targeted: target labels (required).
        :return: Adversarial examples, float32, shape of ``x``.
        """
        if kwargs:
            raise ValueError(f"DeepFool.generate got unexpected keyword arguments {sorted(kwargs)}.")
        check_inputs(x, self.estimator)
        nb_classes = int(self.estimator.nb_classes)
        labels = check_labels(y, x.shape[0], nb_classes)
        if self.targeted and labels is None:
            raise ValueError("y (target labels) is required when targeted=True.")
        view = TorchView(self.estimator)
        geo = geometry(parse_norm(self.norm))
        out = np.empty(x.shape, dtype=np.float32)
        self.iterations_ = np.zeros(x.shape[0], dtype=np.int64)
        with view.eval_mode():
            for sl in tqdm(
                batches(len(x), self.batch_size),
                total=nb_batches(len(x), self.batch_size),
                desc="DeepFool",
                disable=not self.verbose,
            ):
                x_t = view.tensor(x[sl])
                y_t = None if labels is None else torch.as_tensor(labels[sl], device=view.device)
                x_adv, its = self._attack_batch(view, geo, x_t, y_t, nb_classes)
                out[sl] = view.numpy(x_adv)
                self.iterations_[sl] = its.cpu().numpy()
        return out

    def _attack_batch(
        self, view: TorchView, geo: Geometry, x0: torch.Tensor, y: torch.Tensor | None, nb_classes: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b = x0.shape[0]
        logits0 = view.logits(x0)
        if self.targeted:
            assert y is not None
            target = y
            ref = logits0.argmax(1)  # moved away from through the target's boundary
            cand = target.unsqueeze(1)
        else:
            ref = logits0.argmax(1) if y is None else y
            k = min(self.nb_candidates, nb_classes) - 1
            cand = logits0.scatter(1, ref.unsqueeze(1), float("-inf")).topk(k, dim=1).indices
            target = ref
        r_tot = torch.zeros_like(flat(x0))
        x_cur = x0.clone()
        its = torch.zeros(b, dtype=torch.int64, device=x0.device)
        fooled = torch.zeros(b, dtype=torch.bool, device=x0.device)
        active = torch.arange(b, device=x0.device)
        x0_flat = flat(x0)
        shape = (-1, *x0.shape[1:])
        for it in range(self.max_iter + 1):
            xa = x_cur[active]
            if it == self.max_iter:
                logits = view.logits(xa)
            else:
                logits, diffs, grads = view.jacobian_rows(xa, cand[active], ref[active])
            pred = logits.argmax(1)
            done = pred == target[active] if self.targeted else pred != ref[active]
            fooled[active[done]] = True
            if it == self.max_iter:
                break
            keep = ~done
            active, diffs, grads = active[keep], diffs[keep], grads[keep]
            if active.numel() == 0:
                break
            # closest linearised boundary among the candidates, inside the clip box
            grads = view.feasible(xa[keep], grads)
            dual = geo.dual_norm(grads)  # (B', R)
            dist = (diffs.abs() + _CROSS) / dual.clamp_min(1e-30)
            dist = torch.where(dual > 0, dist, torch.full_like(dist, math.inf))
            best = dist.argmin(1)
            rows = torch.arange(active.numel(), device=x0.device)
            w, d = grads[rows, best], dist[rows, best]
            d = torch.where(torch.isfinite(d), d, torch.zeros_like(d))
            r_new = r_tot[active] + geo.step(w, d)
            x0a = x0_flat[active]
            r_new = flat(view.clip((x0a + r_new).view(shape))) - x0a
            r_tot[active] = r_new
            x_cur[active] = view.clip((x0a + (1.0 + self.overshoot) * r_new).view(shape))
            its[active] += 1
        ids = torch.nonzero(fooled & (its > 0)).squeeze(1)
        if self.refine_steps > 0 and ids.numel() > 0:
            x_cur[ids] = self._refine(view, x0_flat[ids], r_tot[ids], ref[ids], target[ids], shape)
        return x_cur, its

    def _refine(
        self,
        view: TorchView,
        x0: torch.Tensor,
        r: torch.Tensor,
        ref: torch.Tensor,
        target: torch.Tensor,
        shape: tuple[int, ...],
    ) -> torch.Tensor:
        """Bisection on the scale of ``r`` (see the class docstring); returns adversarial points."""

        def adversarial(scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            pts = view.clip((x0 + scale.unsqueeze(1) * r).view(shape))
            pred = view.logits(pts).argmax(1)
            return (pred == target if self.targeted else pred != ref), pts

        top = 1.0 + self.overshoot
        lo, hi = torch.zeros_like(r[:, 0]), torch.full_like(r[:, 0], top)  # hi: adversarial
        for _ in range(self.refine_steps):
            mid = (lo + hi) / 2
            adv, _ = adversarial(mid)
            hi, lo = torch.where(adv, mid, hi), torch.where(adv, lo, mid)
        adv, pts = adversarial(torch.clamp(hi * top, max=top))
        fallback = view.clip((x0 + hi.unsqueeze(1) * r).view(shape))
        return torch.where(adv.view(-1, *([1] * (len(shape) - 1))), pts, fallback)


class DeepFoolL2(DeepFool):
    """
    Batched DeepFool for the L2 norm (``DeepFool(norm=2)``).

    | Paper link: https://arxiv.org/abs/1511.04599
    """

    def __init__(self, classifier: Any, **kwargs: Any) -> None:
        """
        :param classifier: A trained ART PyTorch classifier.
        :param kwargs: The keyword-only parameters of :class:`DeepFool` except ``norm``.
        """
        if "norm" in kwargs:
            raise ValueError(f"DeepFoolL2 fixes norm=2, got norm={kwargs['norm']!r}.")
        super().__init__(classifier, norm=2, **kwargs)


class DeepFoolLinf(DeepFool):
    """
    Batched DeepFool for the L∞ norm (``DeepFool(norm=np.inf)``).

    | Paper link: https://arxiv.org/abs/1511.04599
    """

    def __init__(self, classifier: Any, **kwargs: Any) -> None:
        """
        :param classifier: A trained ART PyTorch classifier.
        :param kwargs: The keyword-only parameters of :class:`DeepFool` except ``norm``.
        """
        if "norm" in kwargs:
            raise ValueError(f"DeepFoolLinf fixes norm=inf, got norm={kwargs['norm']!r}.")
        super().__init__(classifier, norm=np.inf, **kwargs)
