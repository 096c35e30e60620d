"""Trust-region adversarial attack (Yao et al.), L2 and L∞, batched with per-sample radii."""

from __future__ import annotations

import math
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
    logit_gap,
)

_CROSS = 1e-4  # logit units added to the boundary estimate, as in DeepFool


class TrustRegion(MinimalPerturbationAttack):
    """
    Trust-region attack (Yao, Gholami, Xu, Keutzer, Mahoney 2018) for the L2 and L∞ norms.

    Exact rule, per sample, with ``f = z_t - z_y`` (model outputs ``z``, reference label ``y``,
    target ``t``), ``w = ∇_x f`` and ``||·||_q`` the dual norm (2 for L2, 1 for L∞):

    1. Target. Untargeted: ``t`` is chosen once, among the top ``nb_candidates`` classes of
       the clean prediction, as the one with the smallest DeepFool ratio
       ``|f_k| / ||∇f_k||_q`` at the clean input. Targeted: ``t = y``.
    2. Radius. ``R_0 = initial_radius · |f_t| / ||∇f_t||_q`` (a fraction of the first boundary
       estimate, so the rule is scale-free), clamped to ``[min_radius, max_radius]`` from the
       first step on.
    3. Step ``i`` (one forward and one backward pass): stop if ``x_i`` is misclassified
       (untargeted: prediction ≠ ``y``; targeted: prediction = ``t``). Otherwise, for ``i > 0``
       the ratio of actual to predicted increase of ``f`` over the last step is
       ``ρ = (f(x_i) - f(x_{i-1})) / (w_{i-1} · (x_i - x_{i-1}))``; ``R ← 1.2 R`` if ``ρ > 0.9``,
       ``R ← R / 1.2`` if ``ρ < 0.5``, then ``R`` is clamped to ``[min_radius, max_radius]``; a
       step with ``ρ ≤ 0`` is rejected (the sample goes back to ``x_{i-1}``, whose gradient is
       kept).  The step is the smallest one inside the clip box that reaches the overshot
       boundary estimate ``w · p = (1 + overshoot) · (|f| + 1e-4)``
       (:func:`~art_activation_defenses.attacks._boundary.box_linear_step`), cut to length ``R``
       (L2: ``R · w / ||w||_2``; L∞: ``sign(w) · min(R, room)``) when longer.
       Activation defences: where the exact gradient is zero (a flat region) the BPDA gradient
       is the direction (random directions without one), the step is a full radius and the
       radius doubles while the region stays flat; a radius that shrinks below 1 % of the
       boundary estimate (the linear model keeps failing across a jump) accepts the step, restarts
       from the boundary estimate and switches that sample to BPDA directions.  The exact model
       always decides success.
    4. Shrink. Each fooled sample's perturbation ``r`` is then made smaller while it stays
       adversarial, as in :class:`DeepFool`: ``refine_steps`` bisection steps along ``r``, then
       ``projection_steps`` box-aware boundary-projection rounds over the candidate classes (L2
       and L∞), then the overshoot applied to the total perturbation
       (:func:`~art_activation_defenses.attacks._boundary.shrink_to_boundary`).
       ``refine_steps=0, projection_steps=0`` gives the plain trust-region result.
    5. Surrogate search (``surrogate_search``, on classifiers whose activations offer BPDA
       gradients): steps 1-4 run again with BPDA gradients (at most ``4 × `` the exact run's
       steps ``+ 20``) and each sample keeps the smaller adversarial perturbation of the two.

    After :meth:`generate`, ``iterations_`` holds the steps each sample used (both searches).

    | Paper link: https://arxiv.org/abs/1812.06371
    """

    attack_params = MinimalPerturbationAttack.attack_params + [
        "norm",
        "max_iter",
        "nb_candidates",
        "initial_radius",
        "min_radius",
        "max_radius",
        "overshoot",
        "refine_steps",
        "projection_steps",
        "surrogate_search",
        "batch_size",
        "targeted",
        "verbose",
    ]
    _desc = "TrustRegion"

    def __init__(
        self,
        classifier: Any,
        *,
        norm: float | str = 2,
        max_iter: int = 1000,
        nb_candidates: int = 10,
        initial_radius: float = 0.5,
        min_radius: float = 1e-6,
        max_radius: float = math.inf,
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
        :param max_iter: Maximum number of steps per sample. Default 1000.
        :param nb_candidates: Top classes (reference included) considered for the target. Default 10.
        :param initial_radius: First radius as a fraction of the first boundary estimate. Default 0.5.
        :param min_radius: Lower bound of the radius (input units of the norm). Default 1e-6.
        :param max_radius: Upper bound of the radius. Default ``inf``.
        :param overshoot: Relative overshoot of a step that reaches the boundary estimate. Default 0.02.
        :param refine_steps: Bisection steps along each fooled sample's perturbation (step 4). Default 8.
        :param projection_steps: Boundary-projection rounds (step 4). Default 3.
        :param surrogate_search: On a classifier whose activation defences offer BPDA gradients,
                                 also search along BPDA gradients and keep, per sample, the smaller
                                 adversarial perturbation (step 5). Default True.
        :param batch_size: Samples per batch. Default 128.
        :param targeted: If ``True``, ``y`` holds target labels.
        :param verbose: Show a progress bar over batches. Default True.
        """
        super().__init__(estimator=classifier)
        self.norm = norm
        self.max_iter = max_iter
        self.nb_candidates = nb_candidates
        self.initial_radius = initial_radius
        self.min_radius = min_radius
        self.max_radius = max_radius
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
        check_scalar(self.max_iter, "max_iter", "int", min_val=1)
        check_scalar(self.nb_candidates, "nb_candidates", "int", min_val=2)
        check_scalar(self.initial_radius, "initial_radius", min_val=0, include_boundaries="right")
        check_scalar(self.min_radius, "min_radius", min_val=0, include_boundaries="right")
        check_scalar(self.max_radius, "max_radius", min_val=self.min_radius, allow_inf=True)
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
        if self.targeted:
            target = cand[:, 0]
        else:
            _, diffs, grads = view.jacobian_rows(x0, cand, ref)
            dist = boundary_distances(geo, diffs, view.feasible(x0, grads))
            target = cand[torch.arange(b, device=dev), dist.argmin(1)]

        x_out = x0.clone()
        fooled = torch.zeros(b, dtype=torch.bool, device=dev)
        its = torch.zeros(b, dtype=torch.int64, device=dev)
        hits = torch.zeros(b, dtype=torch.int64, device=dev)  # random restarts per sample
        use_surrogate = view.has_surrogate
        bpda = torch.zeros(b, dtype=torch.bool, device=dev)  # samples searching along BPDA gradients
        gen = torch.Generator(device=dev).manual_seed(0)  # private: restarts only
        # state of the active samples only, compacted when samples finish
        active = torch.arange(b, device=dev)
        xa, tgt, rf = flat(x0).clone(), target, ref
        x_prev = f_prev = w_prev = radius = was_flat = torch.empty(0)
        for it in range(n_iter + 1):
            logits, f, w = view.value_and_grad(xa.view(shape), logit_gap(tgt, rf))
            w = view.feasible(xa, flat(w))
            done = reached(logits.argmax(1), rf, tgt, self.targeted)
            if bool(done.any()):
                x_out[active[done]] = xa[done].view(shape)
                fooled[active[done]] = True
                keep = ~done
                active, xa, tgt, rf, f, w = active[keep], xa[keep], tgt[keep], rf[keep], f[keep], w[keep]
                if it > 0:
                    x_prev, f_prev, w_prev, radius = x_prev[keep], f_prev[keep], w_prev[keep], radius[keep]
                    was_flat = was_flat[keep]
            if active.numel() == 0:
                break
            if it == n_iter:
                x_out[active] = xa.view(shape)
                break
            dual = geo.dual_norm(w)
            flat_pt = dual == 0  # the exact model is flat here: no linear model to trust
            swap = flat_pt | bpda[active]
            if use_surrogate and bool(swap.any()):  # zero or failing exact gradient: BPDA direction
                sid = torch.nonzero(swap).squeeze(1)
                with view.surrogate_gradients():
                    _, _, w_s = view.value_and_grad(xa[sid].view(shape), logit_gap(tgt[sid], rf[sid]))
                w[sid] = view.feasible(xa[sid], flat(w_s))
                dual = geo.dual_norm(w)
            estimate = (f.abs() + _CROSS) / dual.clamp_min(1e-30)
            if it == 0:
                radius = (self.initial_radius * estimate).clamp(self.min_radius, self.max_radius)
            else:
                predicted = (w_prev * (xa - x_prev)).sum(1)
                rho = (f - f_prev) / predicted.clamp_min(1e-30)
                informative = predicted > 0  # a zero-gradient (random) step tells nothing
                radius = torch.where(
                    informative & (rho > 0.9),
                    radius * 1.2,
                    torch.where(informative & (rho < 0.5), radius / 1.2, radius),
                )
                # leaving a flat region: accept and double the radius while still flat
                informative = informative & ~was_flat
                radius = torch.where(was_flat & flat_pt, 2.0 * radius, radius)
                # a radius at its floor means the linear model keeps failing (a jump of the
                # activations): accept the step and restart the radius from the boundary estimate
                floor = ~was_flat & (radius <= (1e-2 * estimate).clamp_min(self.min_radius))
                bpda[active[floor]] = True  # from now on the BPDA direction, the exact model as judge
                radius = torch.where(floor, self.initial_radius * estimate, radius)
                radius = radius.clamp(self.min_radius, self.max_radius)
                reject = informative & (rho <= 0) & ~floor
                flat_pt = flat_pt & ~reject
                if bool(reject.any()):  # back to the previous point, with its gradient
                    xa = torch.where(reject.unsqueeze(1), x_prev, xa)
                    f = torch.where(reject, f_prev, f)
                    w = torch.where(reject.unsqueeze(1), w_prev, w)
                    dual = geo.dual_norm(w)
            # the step: the box-constrained linear step to the overshot boundary estimate,
            # cut to the trust radius (L∞: the best box step of that length; L2: scaled down)
            up, down = view.room(xa)
            c = (1.0 + self.overshoot) * (f.abs() + _CROSS)
            # the masked estimate c / ||w||_q is a lower bound of the box step's length: only
            # samples whose bound is inside the radius need the exact box step (a sort)
            inside = torch.nonzero((c / dual.clamp_min(1e-30) < radius) & ~flat_pt).squeeze(1)
            if geo.p == 2:
                step = geo.step(w, radius)
            else:
                step = torch.sign(w) * torch.minimum(torch.where(w > 0, up, down), radius.unsqueeze(1))
            if inside.numel() > 0:
                box, _ = box_linear_step(geo, w[inside], c[inside], up[inside], down[inside])
                length = geo.norm(box)
                over = (length > radius[inside]).unsqueeze(1)
                if geo.p == 2:  # scaled down to the radius (stays in the box)
                    cut = box * (radius[inside] / length.clamp_min(1e-30)).unsqueeze(1)
                else:
                    cut = step[inside]
                step[inside] = torch.where(over, cut, box)
            stalled = dual == 0
            if bool(stalled.any()):  # still no direction: random restart from a perturbed point
                sid = torch.nonzero(stalled).squeeze(1)
                step[sid] = restart_step(view, geo, len(sid), step.shape[1], hits[active[sid]], gen)
                hits[active[sid]] += 1
            x_prev, f_prev, w_prev, was_flat = xa, f, w, flat_pt
            xa = flat(view.clip((xa + step).view(shape)))
            its[active] += 1
        ids = torch.nonzero(fooled & (its > 0)).squeeze(1)
        x0_flat = flat(x0)
        return self._shrink(view, geo, x0_flat, x_out, flat(x_out) - x0_flat, ref, target, ids, cand), its
