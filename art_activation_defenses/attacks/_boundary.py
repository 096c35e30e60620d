"""Decision-boundary helpers of the minimal-perturbation attacks (DeepFool, trust region).

* :func:`top_candidates`, :func:`boundary_distances`, :func:`reached`: candidate classes,
  linearised distances to their boundaries, success test.
* :func:`shrink_to_boundary`: after an attack has found an adversarial perturbation ``r``,
  make it smaller while it stays adversarial (forward and single-row backward passes only):

  1. bisection (``bisection_steps`` forward passes) for the smallest scale ``s ∈ [0, 1]`` with
     ``clip(x + s·r)`` adversarial; ``r ← clip(x + s·r) − x`` (a point just past the boundary);
  2. ``projection_steps`` rounds of boundary projection: linearise ``g = z_k − z_ref`` at
     ``x + r`` (``k`` the adversarial class there, the target when targeted; one forward and one
     backward pass), take the point ``x + p`` of that tangent hyperplane closest to ``x``
     (L2: ``p = −(g(x+r) − ∇g·r) ∇g / ||∇g||²``), move half-way ``r' = clip(x + (r + p)/2) − x``,
     and bisect along ``r'`` over ``[0, 2]`` for the boundary again; the result replaces ``r``
     only if it is adversarial and has a smaller L2 norm (so the norm never grows);
  3. the returned point is ``clip(x + c·r)`` when adversarial, else ``clip(x + r)``, with
     ``c = 1 + overshoot`` reduced (not below 1) so that ``||c·r||_2`` stays within ``max_norm``
     (the norm of the unshrunk result) when given.

  A fixed point of step 2 has ``r`` parallel to the boundary normal: the first-order condition
  of the minimal L2 perturbation, which a single linearised crossing (DeepFool's last step)
  only approximates on a curved boundary.
"""

from __future__ import annotations

import math

import torch

from art_activation_defenses.attacks._torch import Geometry, TorchView, flat


def top_candidates(logits: torch.Tensor, ref: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` highest-scoring classes other than ``ref``, per sample: ``(B, k)`` indices."""
    return logits.scatter(1, ref.unsqueeze(1), float("-inf")).topk(k, dim=1).indices


def boundary_distances(
    geo: Geometry, diffs: torch.Tensor, grads: torch.Tensor, cross: float = 0.0
) -> torch.Tensor:
    """Linearised distances ``(|diffs| + cross) / ||grads||_q`` ``(B, R)``; ``inf`` for zero gradients."""
    dual = geo.dual_norm(grads)
    dist = (diffs.abs() + cross) / dual.clamp_min(1e-30)
    return torch.where(dual > 0, dist, torch.full_like(dist, math.inf))


def reached(pred: torch.Tensor, ref: torch.Tensor, target: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Success per sample: prediction = target (targeted) or ≠ reference label (untargeted)."""
    return pred == target if targeted else pred != ref


def shrink_to_boundary(
    view: TorchView,
    x0: torch.Tensor,
    r: torch.Tensor,
    ref: torch.Tensor,
    target: torch.Tensor,
    *,
    targeted: bool,
    bisection_steps: int,
    projection_steps: int,
    overshoot: float,
    max_norm: torch.Tensor | None = None,
) -> torch.Tensor:
    """Smaller adversarial points along/around adversarial perturbations ``r`` (see the module docstring).

    :param x0: Clean inputs, flat ``(B, D)``; ``x0 + r`` must be adversarial.
    :param r: Adversarial perturbations ``(B, D)``.
    :param max_norm: Optional L2 cap ``(B,)`` on the overshoot (the norm of the unshrunk result).
    :return: Adversarial points, shape ``(B, *input_shape)``.
    """
    shape = (-1, *view.estimator.input_shape)

    def point(scale: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        return view.clip((x0 + scale.unsqueeze(1) * d).view(shape))

    def adversarial(pts: torch.Tensor) -> torch.Tensor:
        return reached(view.logits(pts).argmax(1), ref, target, targeted)

    def bisect(d: torch.Tensor, top: float) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = torch.zeros_like(d[:, 0]), torch.full_like(d[:, 0], top)
        ok = adversarial(point(hi, d))
        for _ in range(bisection_steps):
            mid = (lo + hi) / 2
            adv = adversarial(point(mid, d))
            hi, lo = torch.where(adv, mid, hi), torch.where(adv, lo, mid)
        return flat(point(hi, d)) - x0, ok

    if bisection_steps > 0:
        r, _ = bisect(r, 1.0)
    for _ in range(projection_steps):
        xb = (x0 + r).view(shape)
        if targeted:
            k = target
        else:
            logits = view.logits(xb)
            k = logits.argmax(1)
            k = torch.where(k == ref, top_candidates(logits, ref, 1)[:, 0], k)
        _, g_val, g = view.jacobian_rows(xb, k.unsqueeze(1), ref)
        g, g_val = g[:, 0], g_val[:, 0]
        coef = -(g_val - (g * r).sum(1)) / (g * g).sum(1).clamp_min(1e-30)
        r_half = flat(view.clip((x0 + 0.5 * (r + coef.unsqueeze(1) * g)).view(shape))) - x0
        cand, ok = bisect(r_half, 2.0)
        better = ok & (cand.norm(dim=1) < r.norm(dim=1))
        r = torch.where(better.unsqueeze(1), cand, r)
    scale = torch.full_like(r[:, 0], 1.0 + overshoot)
    if max_norm is not None:  # never farther than the unshrunk result
        scale = torch.minimum(scale, max_norm / r.norm(dim=1).clamp_min(1e-30)).clamp_min(1.0)
    final = point(scale, r)
    fallback = (x0 + r).view(shape)
    keep = adversarial(final).view(-1, *([1] * (len(shape) - 1)))
    return torch.where(keep, final, fallback)
