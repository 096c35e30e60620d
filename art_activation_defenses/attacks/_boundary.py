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
  only approximates on a curved boundary.  With ``geo`` given (L2 or L∞), the tangent-plane
  point is the box-constrained minimal-norm one of :func:`box_linear_step` (for L∞ its fixed
  point is the first-order condition of the minimal L∞ perturbation inside the box), and
  "smaller" is measured in ``geo``'s norm.
* :func:`box_linear_step`: the smallest step (L2 or L∞) inside the clip box that raises a
  linear function by a given amount (exact, by sorting the coordinates' breakpoints).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable

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


def box_linear_step(
    geo: Geometry, w: torch.Tensor, c: torch.Tensor, up: torch.Tensor, down: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The smallest step ``p`` (``geo``'s norm) with ``w · p = c`` and ``-down <= p <= up``.

    :param w: Directions ``(B, D)``.
    :param c: Required increases ``(B,)``, ``>= 0``.
    :param up: Room to increase each coordinate ``(B, D)`` (``>= 0``, may be ``inf``).
    :param down: Room to decrease each coordinate ``(B, D)``.
    :return: ``(p, reachable)``: the step ``(B, D)`` and whether ``w · p = c`` is reachable
             inside the box (if not, ``p`` is the box corner that increases ``w · p`` most).

    The minimiser is ``p_i = sign(w_i) · min(t · s_i, room_i)`` with ``s_i = 1`` (L∞) or
    ``|w_i|`` (L2) and ``room_i`` the room in the direction of ``sign(w_i)``;
    ``h(t) = w · p(t)`` is piecewise linear and increasing in ``t``, with breakpoints
    ``room_i / s_i``, so sorting them gives ``t`` exactly.  Without box constraints this is
    the plain DeepFool step ``c · w / ||w||_2²`` (L2) or ``c · sign(w) / ||w||_1`` (L∞).
    """
    a = w.abs()
    live = a > 0
    big = torch.full_like(a, 1e30)
    room = torch.where(w > 0, up, down).clamp(max=1e30)
    room = torch.where(live, room, torch.zeros_like(room))
    speed = a if geo.p == 2 else live.to(a.dtype)
    bp = torch.where(live, room / speed.clamp_min(1e-30), big).clamp(max=1e30)
    bp_s, idx = bp.sort(dim=-1)
    ar = (a * room).gather(-1, idx)
    as_ = (a * speed).gather(-1, idx)
    prefix = torch.cumsum(ar, dim=-1) - ar  # sum over saturated coordinates j < k
    suffix = as_.flip(-1).cumsum(-1).flip(-1)  # sum over free coordinates j >= k
    h = prefix + bp_s * suffix  # h(t) at t = k-th breakpoint
    c = c.unsqueeze(-1)
    ok = h >= c
    reachable = ok.any(dim=-1)
    k = ok.to(torch.int8).argmax(dim=-1, keepdim=True)
    t = (c - prefix.gather(-1, k)) / suffix.gather(-1, k).clamp_min(1e-30)
    t = torch.where(reachable.unsqueeze(-1), t, torch.full_like(t, math.inf))
    step = torch.where(live, torch.minimum(t * speed, room), torch.zeros_like(room))
    return torch.sign(w) * step, reachable


#: First random restart step, as a fraction of the clip box width (L∞; times sqrt(D) for L2).
RESTART_FRACTION = 0.01


def restart_step(
    view: TorchView, geo: Geometry, n: int, d: int, hits: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Random steps ``(n, d)`` for samples stuck at a zero gradient (exact and surrogate).

    The length doubles with every hit of a sample (``hits``, ``(n,)``): ``RESTART_FRACTION ·
    2**hits`` box widths in L∞, times ``sqrt(d)`` in L2, so a flat region is left in a few steps.
    """
    noise = torch.randn(n, d, generator=generator, device=view.device)
    length = RESTART_FRACTION * view.box_width() * torch.pow(2.0, hits.clamp(max=10).to(noise.dtype))
    if geo.p == 2:
        length = length * math.sqrt(d)
    return geo.step(noise, length)


def reached(pred: torch.Tensor, ref: torch.Tensor, target: torch.Tensor, targeted: bool) -> torch.Tensor:
    """Success per sample: prediction = target (targeted) or ≠ reference label (untargeted)."""
    return pred == target if targeted else pred != ref


def _project_candidates(
    view: TorchView,
    geo: Geometry,
    x0: torch.Tensor,
    r: torch.Tensor,
    xb: torch.Tensor,
    ref: torch.Tensor,
    candidates: torch.Tensor,
    up0: torch.Tensor,
    down0: torch.Tensor,
    bisect: Callable[[torch.Tensor, float], tuple[torch.Tensor, torch.Tensor]],
    norm_of: Callable[[torch.Tensor], torch.Tensor],
    surrogate: bool,
) -> torch.Tensor:
    """One multi-class projection round of :func:`shrink_to_boundary` (see its ``candidates``)."""
    b, n_rows = candidates.shape
    # activation defences, every other round: linearise with the BPDA gradient (it sees the
    # units a jump would switch on); the exact model judges every candidate point
    ctx = view.surrogate_gradients() if surrogate else contextlib.nullcontext()
    with ctx:
        _, g_val, g = view.jacobian_rows(xb, candidates, ref)  # (B, R), (B, R, D)
    c = (g * r.unsqueeze(1)).sum(-1) - g_val  # tangent plane of row k: g_k · p = c_k
    sgn = torch.where(c >= 0, 1.0, -1.0).unsqueeze(-1)
    d = r.shape[1]
    rep = (b * n_rows, d)
    p, ok = box_linear_step(
        geo,
        (sgn * g).reshape(rep),
        c.abs().reshape(-1),
        up0.unsqueeze(1).expand(b, n_rows, d).reshape(rep),
        down0.unsqueeze(1).expand(b, n_rows, d).reshape(rep),
    )
    p = p.reshape(b, n_rows, d)
    size = torch.where(ok.reshape(b, n_rows), norm_of(p.reshape(rep)).reshape(b, n_rows), math.inf)
    best = size.argmin(1)
    p = p[torch.arange(b, device=p.device), best]
    shape = (-1, *view.estimator.input_shape)
    for move in (0.5 * (r + p), p):
        cand, adv = bisect(flat(view.clip((x0 + move).view(shape))) - x0, 2.0)
        better = adv & (norm_of(cand) < norm_of(r))
        r = torch.where(better.unsqueeze(1), cand, r)
    return r


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
    geo: Geometry | None = None,
    candidates: torch.Tensor | None = None,
) -> torch.Tensor:
    """Smaller adversarial points along/around adversarial perturbations ``r`` (see the module docstring).

    :param x0: Clean inputs, flat ``(B, D)``; ``x0 + r`` must be adversarial.
    :param r: Adversarial perturbations ``(B, D)``.
    :param max_norm: Optional cap ``(B,)`` on the overshoot (the norm of the unshrunk result),
                     in ``geo``'s norm (L2 without ``geo``).
    :param geo: Geometry of the projection rounds (box-aware tangent-plane points, norms
                compared in its norm); ``None``: L2 with the plain (box-unaware) projection.
    :param candidates: Optional classes ``(B, R)`` (untargeted, with ``geo``): every projection
                       round linearises all of them at ``x0 + r`` (one Jacobian of ``R`` rows)
                       and projects onto the tangent plane closest to ``x0``, trying both the
                       half-way and the full move; on activation defences with BPDA gradients,
                       every second round linearises with them.
    :return: Adversarial points, shape ``(B, *input_shape)``.
    """
    shape = (-1, *view.estimator.input_shape)
    norm_of = (lambda v: v.norm(dim=1)) if geo is None else geo.norm
    up0, down0 = view.room(x0.view(shape)) if geo is not None else (x0, x0)

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
    for round_ in range(projection_steps):
        xb = (x0 + r).view(shape)
        if candidates is not None and geo is not None:
            surrogate = round_ % 2 == 1 and view.has_surrogate
            r = _project_candidates(
                view, geo, x0, r, xb, ref, candidates, up0, down0, bisect, norm_of, surrogate
            )
            continue
        if targeted:
            k = target
        else:
            logits = view.logits(xb)
            k = logits.argmax(1)
            k = torch.where(k == ref, top_candidates(logits, ref, 1)[:, 0], k)
        _, g_val, g = view.jacobian_rows(xb, k.unsqueeze(1), ref)
        g, g_val = g[:, 0], g_val[:, 0]
        if geo is None:
            coef = -(g_val - (g * r).sum(1)) / (g * g).sum(1).clamp_min(1e-30)
            p = coef.unsqueeze(1) * g
        else:  # the box point of the tangent plane g_val + g·(p - r) = 0 closest to x0
            c = (g * r).sum(1) - g_val
            sgn = torch.where(c >= 0, 1.0, -1.0).unsqueeze(1)
            p, _ = box_linear_step(geo, sgn * g, c.abs(), up0, down0)
        r_half = flat(view.clip((x0 + 0.5 * (r + p)).view(shape))) - x0
        cand, ok = bisect(r_half, 2.0)
        better = ok & (norm_of(cand) < norm_of(r))
        r = torch.where(better.unsqueeze(1), cand, r)
    scale = torch.full_like(r[:, 0], 1.0 + overshoot)
    if max_norm is not None:  # never farther than the unshrunk result
        scale = torch.minimum(scale, max_norm / norm_of(r).clamp_min(1e-30)).clamp_min(1.0)
    final = point(scale, r)
    fallback = (x0 + r).view(shape)
    keep = adversarial(final).view(-1, *([1] * (len(shape) - 1)))
    return torch.where(keep, final, fallback)
