"""Batched DeepFool, L2 and L∞, on any ART PyTorch classifier."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from art_activation_defenses._validation import check_scalar
from art_activation_defenses.attacks._base import MinimalPerturbationAttack
from art_activation_defenses.attacks._boundary import (
    boundary_distances,
    box_linear_step,
    reached,
    restart_step,
)
from art_activation_defenses.attacks._torch import (
    Geometry,
    TorchView,
    flat,
)

#: Added to |f_k - f_y| (logit units) so a linearised step lands just past the boundary.
_CROSS = 1e-4


class DeepFool(MinimalPerturbationAttack):
    """
    Batched DeepFool (Moosavi-Dezfooli et al., 2016) for the L2 and L∞ norms.

    At every step the top ``nb_candidates`` classes of the clean prediction are linearised
    at the current point ``x_i``; for each candidate ``k`` the distance to its boundary is
    ``(|f_k - f_y| + 1e-4) / ||∇f_k - ∇f_y||_q`` (``q`` the dual norm: 2 for L2, 1 for L∞,
    ``f`` the model outputs) and the step to the closest one is added to the total
    perturbation ``r``; the next point is ``x_{i+1} = clip(x + r)`` and a sample stops as soon
    as it is misclassified there (untargeted: prediction ≠ reference label; targeted: = target).
    Finished samples leave the batch (masks), so late iterations only run on the rest.
    Linearisation is box-aware: the closest candidate is chosen with the gradient entries that
    would push a coordinate already at a clip value out of the box zeroed, and the step is the
    exact smallest step inside the box that reaches its linearised boundary
    (:func:`~art_activation_defenses.attacks._boundary.box_linear_step`), so it is not clipped
    short (few iterations: ``iterations_`` counts these steps).  Where the exact gradient is zero
    (activation defences), the BPDA gradient gives the direction and the step doubles with every
    flat visit; without any gradient, a random step (private generator) of doubling length.
    Large linear steps overshoot a curved boundary, so each fooled sample's ``r`` is then shrunk
    while it stays adversarial by :func:`~art_activation_defenses.attacks._boundary.shrink_to_boundary`:
    ``refine_steps`` bisection steps along ``r`` (forward passes), then ``projection_steps``
    rounds of box-aware boundary projection over the candidate classes (L2 and L∞; one
    forward pass and one Jacobian of the candidate rows each, plus bisections; BPDA gradients
    every second round on activation defences).  With ``surrogate_search`` on a classifier
    whose activations offer BPDA gradients, the whole search runs a second time along BPDA
    gradients and each sample keeps the smaller adversarial perturbation (the exact model
    judges).  The overshoot is applied to the total perturbation: the result is
    ``clip(x + (1 + overshoot) · r)`` (``clip(x + r)`` if that is not adversarial).
    Candidate Jacobian rows come from one forward pass and one batched backward pass
    (see :meth:`TorchView.jacobian_rows`).

    After :meth:`generate`, ``iterations_`` holds the steps each sample used, both searches
    (0 for samples that were misclassified from the start).

    | Paper link: https://arxiv.org/abs/1511.04599
    """

    attack_params = MinimalPerturbationAttack.attack_params + [
        "norm",
        "max_iter",
        "nb_candidates",
        "overshoot",
        "refine_steps",
        "projection_steps",
        "surrogate_search",
        "batch_size",
        "targeted",
        "verbose",
    ]
    _desc = "DeepFool"

    def __init__(
        self,
        classifier: Any,
        *,
        norm: float | str = 2,
        max_iter: int = 50,
        nb_candidates: int = 10,
        overshoot: float = 0.02,
        refine_steps: int = 8,
        projection_steps: int = 3,
        surrogate_search: bool = True,
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
        :param projection_steps: Boundary-projection rounds after the bisection, see
                                 the class docstring; 0 disables. Default 3.
        :param surrogate_search: On a classifier whose activation defences offer BPDA gradients
                                 (a ``RetrofitClassifier`` in ``"exact"`` mode), run the search a
                                 second time along BPDA gradients and keep, per sample, the smaller
                                 adversarial perturbation (the exact model judges). Default True.
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
        self.projection_steps = projection_steps
        self.surrogate_search = surrogate_search
        self.batch_size = batch_size
        self._targeted = targeted
        self.verbose = verbose
        self.iterations_: np.ndarray = np.zeros(0, dtype=np.int64)
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        check_scalar(self.max_iter, "max_iter", "int", min_val=0)
        self._check_shared()

    def _attack_batch(
        self,
        view: TorchView,
        geo: Geometry,
        x0: torch.Tensor,
        y: torch.Tensor | None,
        nb_classes: int,
        max_iter: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        n_iter = self.max_iter if max_iter is None else min(max_iter, self.max_iter)
        b, dev = x0.shape[0], x0.device
        shape = (-1, *x0.shape[1:])
        ref, cand = self._reference(view, x0, y, nb_classes)
        target = cand[:, 0] if self.targeted else ref
        x0_flat = flat(x0)
        r_tot = torch.zeros_like(x0_flat)
        its = torch.zeros(b, dtype=torch.int64, device=dev)
        fooled = torch.zeros(b, dtype=torch.bool, device=dev)
        active = torch.arange(b, device=dev)
        use_surrogate = view.has_surrogate
        hits = torch.zeros(b, dtype=torch.int64, device=dev)  # random restarts per sample
        gen = torch.Generator(device=dev).manual_seed(0)  # private: restarts only
        for it in range(n_iter + 1):
            xa = view.clip((x0_flat[active] + r_tot[active]).view(shape))
            if it == n_iter:
                logits = view.logits(xa)
            else:
                logits, diffs, grads = view.jacobian_rows(xa, cand[active], ref[active])
            done = reached(logits.argmax(1), ref[active], target[active], self.targeted)
            fooled[active[done]] = True
            if it == n_iter:
                break
            keep = ~done
            active, diffs, grads = active[keep], diffs[keep], grads[keep]
            if active.numel() == 0:
                break
            # closest linearised boundary among the candidates, inside the clip box
            xk = xa[keep]
            grads = view.feasible(xk, grads)
            dist = boundary_distances(geo, diffs, grads, _CROSS)
            stalled = ~torch.isfinite(dist).any(1)
            flat_pt = stalled  # the exact model is flat here
            if use_surrogate and bool(stalled.any()):  # zero exact gradient: BPDA direction
                sid = torch.nonzero(stalled).squeeze(1)
                with view.surrogate_gradients():
                    _, d_s, g_s = view.jacobian_rows(xk[sid], cand[active[sid]], ref[active[sid]])
                g_s = view.feasible(xk[sid], g_s)
                diffs[sid], grads[sid] = d_s, g_s
                dist[sid] = boundary_distances(geo, d_s, g_s, _CROSS)
                stalled = ~torch.isfinite(dist).any(1)
            best = dist.argmin(1)
            rows = torch.arange(active.numel(), device=dev)
            w, c = grads[rows, best], diffs[rows, best].abs() + _CROSS
            up, down = view.room(xk)
            step, _ = box_linear_step(geo, w, c, up, down)  # exact linear step inside the box
            if bool(flat_pt.any()):  # flat regions: a step that doubles with every flat visit
                sid = torch.nonzero(flat_pt).squeeze(1)
                growth = torch.pow(2.0, hits[active[sid]].clamp(max=10).to(step.dtype))
                step[sid] = step[sid] * growth.unsqueeze(1)
                hits[active[sid]] += ~stalled[sid]
            if bool(stalled.any()):  # still no direction: random restart from a perturbed point
                sid = torch.nonzero(stalled).squeeze(1)
                step[sid] = restart_step(view, geo, len(sid), step.shape[1], hits[active[sid]], gen)
                hits[active[sid]] += 1
            x0a = x0_flat[active]
            r_tot[active] = flat(view.clip((x0a + r_tot[active] + step).view(shape))) - x0a
            its[active] += 1
        x_out = view.clip((x0_flat + (1.0 + self.overshoot) * r_tot).view(shape))
        ids = torch.nonzero(fooled & (its > 0)).squeeze(1)
        x_out = self._shrink(view, geo, x0_flat, x_out, r_tot, ref, target, ids, cand)
        return x_out, its


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
