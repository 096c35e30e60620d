"""Trust-region adversarial attack (Yao et al.), L2 and L∞, batched with per-sample radii."""

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
    logit_gap,
    nb_batches,
    parse_norm,
)

_CROSS = 1e-4  # logit units added to the boundary estimate, as in DeepFool


class TrustRegion(EvasionAttack):
    """
    Trust-region attack (Yao, Gholami, Xu, Keutzer, Mahoney 2018) for the L2 and L∞ norms.

    Exact rule, per sample, with ``f = z_t - z_y`` (model outputs ``z``, reference label ``y``,
    target ``t``), ``w = ∇_x f`` and ``||·||_q`` the dual norm (2 for L2, 1 for L∞):

    1. Target. Untargeted: ``t`` is chosen once, among the top ``nb_candidates`` classes of
       the clean prediction, as the one with the smallest DeepFool ratio
       ``|f_k| / ||∇f_k||_q`` at the clean input. Targeted: ``t = y``.
    2. Radius. ``R_0 = initial_radius · |f_t| / ||∇f_t||_q`` (a fraction of the first boundary
       estimate, so the rule is scale-free).
    3. Step ``i`` (one forward and one backward pass): stop if ``x_i`` is misclassified
       (untargeted: prediction ≠ ``y``; targeted: prediction = ``t``). Otherwise, for ``i > 0``
       the ratio of actual to predicted increase of ``f`` over the last step is
       ``ρ = (f(x_i) - f(x_{i-1})) / (w_{i-1} · (x_i - x_{i-1}))`` (``ρ = 0`` if the predicted
       increase is not positive); ``R ← 1.2 R`` if ``ρ > 0.9``, ``R ← R / 1.2`` if ``ρ < 0.5``,
       then ``R`` is clamped to ``[min_radius, max_radius]``; a step with ``ρ ≤ 0`` is rejected
       (the sample goes back to ``x_{i-1}``, whose gradient is kept).  The step length is
       ``s = min((1 + overshoot) · (|f| + 1e-4) / ||w||_q, R)`` and
       ``x_{i+1} = clip(x_i + s · u)``, with ``u = w / ||w||_2`` (L2) or ``sign(w)`` (L∞).

    After :meth:`generate`, ``iterations_`` holds the steps each sample used.

    | Paper link: https://arxiv.org/abs/1812.06371
    """

    attack_params = EvasionAttack.attack_params + [
        "norm",
        "max_iter",
        "nb_candidates",
        "initial_radius",
        "min_radius",
        "max_radius",
        "overshoot",
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
        max_iter: int = 1000,
        nb_candidates: int = 10,
        initial_radius: float = 0.5,
        min_radius: float = 1e-6,
        max_radius: float = math.inf,
        overshoot: float = 0.02,
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
        self.batch_size = batch_size
        self._targeted = targeted
        self.verbose = verbose
        self.iterations_: np.ndarray = np.zeros(0, dtype=np.int64)
        self._check_params()

    def _check_params(self) -> None:
        super()._check_params()
        parse_norm(self.norm)
        check_positive_int("max_iter", self.max_iter)
        check_positive_int("nb_candidates", self.nb_candidates, minimum=2)
        check_float("initial_radius", self.initial_radius)
        check_float("min_radius", self.min_radius)
        mr = self.max_radius
        if (
            not isinstance(mr, (int, float, np.integer, np.floating))
            or isinstance(mr, bool)
            or not (mr >= self.min_radius)
        ):
            raise ValueError(f"max_radius must be a number >= min_radius ({self.min_radius}), got {mr!r}.")
        check_float("overshoot", self.overshoot, strict=False)
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
            raise ValueError(f"TrustRegion.generate got unexpected keyword arguments {sorted(kwargs)}.")
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
                desc="TrustRegion",
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
        b, dev = x0.shape[0], x0.device
        shape = (-1, *x0.shape[1:])
        ar = torch.arange(b, device=dev)
        logits0 = view.logits(x0)
        pred0 = logits0.argmax(1)
        if self.targeted:
            assert y is not None
            target, ref = y, pred0
        else:
            ref = pred0 if y is None else y
            k = min(self.nb_candidates, nb_classes) - 1
            cand = logits0.scatter(1, ref.unsqueeze(1), float("-inf")).topk(k, dim=1).indices
            _, diffs, grads = view.jacobian_rows(x0, cand, ref)
            grads = view.feasible(x0, grads)
            dual = geo.dual_norm(grads)
            ratio = torch.where(
                dual > 0, diffs.abs() / dual.clamp_min(1e-30), torch.full_like(dual, math.inf)
            )
            target = cand[ar, ratio.argmin(1)]

        x_cur = x0.clone()
        x_prev = x0.clone()
        f_prev = torch.zeros(b, device=dev)
        w_prev = torch.zeros_like(flat(x0))
        radius = torch.full((b,), math.nan, device=dev)
        its = torch.zeros(b, dtype=torch.int64, device=dev)
        active = ar.clone()
        for it in range(self.max_iter + 1):
            idx = active
            logits, f, w = view.value_and_grad(x_cur[idx], logit_gap(target[idx], ref[idx]))
            w = view.feasible(x_cur[idx], flat(w))
            pred = logits.argmax(1)
            done = pred == target[idx] if self.targeted else pred != ref[idx]
            keep = ~done
            active, f, w = idx[keep], f[keep], w[keep]
            if active.numel() == 0 or it == self.max_iter:
                break
            dual = geo.dual_norm(w)
            if it == 0:
                radius[active] = self.initial_radius * f.abs() / dual.clamp_min(1e-30)
            else:
                moved = flat(x_cur[active]) - flat(x_prev[active])
                predicted = (w_prev[active] * moved).sum(1)
                actual = f - f_prev[active]
                rho = torch.where(predicted > 0, actual / predicted.clamp_min(1e-30), torch.zeros_like(f))
                r = radius[active]
                r = torch.where(rho > 0.9, r * 1.2, torch.where(rho < 0.5, r / 1.2, r))
                radius[active] = r.clamp(self.min_radius, self.max_radius)
                reject = rho <= 0
                rej = active[reject]
                x_cur[rej] = x_prev[rej]
                f = torch.where(reject, f_prev[active], f)
                w = torch.where(reject.unsqueeze(1), w_prev[active], w)
                dual = geo.dual_norm(w)
            boundary = (1.0 + self.overshoot) * (f.abs() + _CROSS) / dual.clamp_min(1e-30)
            step_len = torch.minimum(boundary, radius[active])
            step_len = torch.where(dual > 0, step_len, torch.zeros_like(step_len))
            x_prev[active] = x_cur[active]
            f_prev[active], w_prev[active] = f, w
            x_cur[active] = view.clip((flat(x_cur[active]) + geo.step(w, step_len)).view(shape))
            its[active] += 1
        return x_cur, its
