"""The ART plumbing every attack of this package shares: checks, batching, progress bars.

:class:`TorchAttack` is an ART ``EvasionAttack`` on PyTorch classifiers; subclasses call
:meth:`TorchAttack._prepare` at the start of ``generate`` (keyword, input and label checks,
then a :class:`~art_activation_defenses.attacks._torch.TorchView`) and iterate
:meth:`TorchAttack._batches` (eval mode, progress bar).  :class:`MinimalPerturbationAttack`
adds the whole ``generate`` of the minimal-perturbation attacks (DeepFool, trust region):
per batch, ``_attack_batch`` returns the adversarial points and the steps each sample used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from art.attacks.attack import EvasionAttack
from tqdm.auto import tqdm

from art_activation_defenses._validation import check_bool, check_norm, check_scalar
from art_activation_defenses.attacks._boundary import reached, shrink_to_boundary, top_candidates
from art_activation_defenses.attacks._torch import (
    NORMS,
    TORCH_CLASSIFIER_REQUIREMENTS,
    Geometry,
    TorchView,
    batches,
    check_inputs,
    check_labels,
    geometry,
    nb_batches,
)


class TorchAttack(EvasionAttack):
    """Base of the package's attacks: shared parameter checks, input checks and batching."""

    _estimator_requirements = TORCH_CLASSIFIER_REQUIREMENTS
    #: Label of the progress bar.
    _desc = "attack"

    batch_size: int
    verbose: bool

    def _check_batching(self) -> None:
        """Check ``batch_size``, ``targeted`` and ``verbose``."""
        check_scalar(self.batch_size, "batch_size", "int", min_val=1)
        check_bool(self.targeted, "targeted")
        check_bool(self.verbose, "verbose")

    def _prepare(
        self, x: np.ndarray, y: np.ndarray | None, kwargs: dict[str, Any], *, use_labels: bool = True
    ) -> tuple[TorchView, np.ndarray | None]:
        """Validate ``generate``'s arguments; return the torch view and the labels (indices or ``None``).

        With ``use_labels=False`` (an attack that ignores ``y``) ``y`` is neither checked nor returned.
        """
        if kwargs:
            name = type(self).__name__
            raise ValueError(f"{name}.generate got unexpected keyword arguments {sorted(kwargs)}.")
        check_inputs(x, self.estimator)
        if not use_labels:
            return TorchView(self.estimator), None
        labels = check_labels(y, x.shape[0], int(self.estimator.nb_classes))
        if self.targeted and labels is None:
            raise ValueError("y (target labels) is required when targeted=True.")
        return TorchView(self.estimator), labels

    def _batches(self, view: TorchView, n: int) -> Iterator[slice]:
        """Slices of ``batch_size`` over ``n`` samples, in eval mode, with a progress bar."""
        with view.eval_mode():
            yield from tqdm(
                batches(n, self.batch_size),
                total=nb_batches(n, self.batch_size),
                desc=self._desc,
                disable=not self.verbose,
            )

    @staticmethod
    def _labels(view: TorchView, x0: torch.Tensor, labels: np.ndarray | None, sl: slice) -> torch.Tensor:
        """The given labels of the batch, or the model's predictions when there are none."""
        if labels is None:
            return view.logits(x0).argmax(1)
        return torch.as_tensor(labels[sl], device=view.device)


class MinimalPerturbationAttack(TorchAttack):
    """``generate`` of the attacks that search the smallest perturbation (``norm``, ``iterations_``)."""

    norm: float | str
    nb_candidates: int
    overshoot: float
    refine_steps: int
    projection_steps: int
    surrogate_search: bool

    def _check_shared(self) -> None:
        """Checks of the parameters DeepFool and the trust-region attack share."""
        check_norm(self.norm, "norm", NORMS)
        check_scalar(self.nb_candidates, "nb_candidates", "int", min_val=2)
        check_scalar(self.overshoot, "overshoot", min_val=0)
        check_scalar(self.refine_steps, "refine_steps", "int", min_val=0)
        check_scalar(self.projection_steps, "projection_steps", "int", min_val=0)
        check_bool(self.surrogate_search, "surrogate_search")
        self._check_batching()

    def _reference(
        self, view: TorchView, x0: torch.Tensor, y: torch.Tensor | None, nb_classes: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ref, cand)``: the class moved away from and the candidate classes ``(B, R)``.

        Untargeted: ``ref`` is ``y`` (the prediction if ``None``), ``cand`` the top
        ``nb_candidates - 1`` other classes of the clean prediction. Targeted: ``ref`` is the
        clean prediction and ``cand`` the target alone.
        """
        logits0 = view.logits(x0)
        if self.targeted:
            assert y is not None
            return logits0.argmax(1), y.unsqueeze(1)
        ref = logits0.argmax(1) if y is None else y
        return ref, top_candidates(logits0, ref, min(self.nb_candidates, nb_classes) - 1)

    def _shrink(
        self,
        view: TorchView,
        geo: Geometry,
        x0: torch.Tensor,
        x_adv: torch.Tensor,
        r: torch.Tensor,
        ref: torch.Tensor,
        target: torch.Tensor,
        ids: torch.Tensor,
        candidates: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """:func:`shrink_to_boundary` on the samples ``ids`` (flat ``x0`` and ``r``, unshrunk ``x_adv``).

        ``candidates`` ``(B, R)`` (untargeted only): the classes each projection round linearises.
        """
        if ids.numel() == 0 or (self.refine_steps == 0 and self.projection_steps == 0):
            return x_adv
        x_adv = x_adv.clone()
        x_adv[ids] = shrink_to_boundary(
            view,
            x0[ids],
            r[ids],
            ref[ids],
            target[ids],
            targeted=self.targeted,
            bisection_steps=self.refine_steps,
            projection_steps=self.projection_steps,
            overshoot=self.overshoot,
            max_norm=geo.norm(x_adv[ids].reshape(len(ids), -1) - x0[ids]),
            geo=geo,
            candidates=None if candidates is None or self.targeted else candidates[ids],
        )
        return x_adv

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """
        Generate adversarial examples.

        :param x: Clean inputs (not modified).
        :param y: Untargeted: true labels (indices or one-hot); if ``None`` the model's
                  predictions are the reference. Targeted: target labels (required).
        :return: Adversarial examples, float32, shape of ``x``.
        """
        view, labels = self._prepare(x, y, kwargs)
        geo = geometry(check_norm(self.norm, "norm", NORMS))
        nb_classes = int(self.estimator.nb_classes)
        out = np.empty(x.shape, dtype=np.float32)
        self.iterations_ = np.zeros(x.shape[0], dtype=np.int64)
        for sl in self._batches(view, len(x)):
            x_t = view.tensor(x[sl])
            y_t = None if labels is None else torch.as_tensor(labels[sl], device=view.device)
            x_adv, its = self._attack_batch(view, geo, x_t, y_t, nb_classes)
            if self.surrogate_search and view.has_surrogate:
                # BPDA search directions, the exact model as judge; at most four times the
                # exact search's steps (+20), so a BPDA path that wanders costs little
                cap = 4 * int(its.max()) + 20
                with view.surrogate_gradients():
                    x_alt, its_alt = self._attack_batch(view, geo, x_t, y_t, nb_classes, max_iter=cap)
                x_adv = self._smaller(view, geo, x_t, x_adv, x_alt, y_t)
                its = its + its_alt
            out[sl] = view.numpy(x_adv)
            self.iterations_[sl] = its.cpu().numpy()
        return out

    def _smaller(
        self,
        view: TorchView,
        geo: Geometry,
        x0: torch.Tensor,
        a: torch.Tensor,
        b: torch.Tensor,
        y: torch.Tensor | None,
    ) -> torch.Tensor:
        """Per sample, the adversarial one of ``a`` and ``b`` (the smaller perturbation if both are)."""
        ref = view.logits(x0).argmax(1) if y is None or self.targeted else y
        target = y if self.targeted and y is not None else ref
        adv_a = reached(view.logits(a).argmax(1), ref, target, self.targeted)
        adv_b = reached(view.logits(b).argmax(1), ref, target, self.targeted)
        n = x0.shape[0]
        norm_a = geo.norm((a - x0).reshape(n, -1))
        norm_b = geo.norm((b - x0).reshape(n, -1))
        take_b = adv_b & (~adv_a | (norm_b < norm_a))
        return torch.where(take_b.view(-1, *([1] * (x0.dim() - 1))), b, a)

    def _attack_batch(
        self,
        view: TorchView,
        geo: Geometry,
        x0: torch.Tensor,
        y: torch.Tensor | None,
        nb_classes: int,
        max_iter: int | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(adversarial points, steps per sample)`` of one batch; ``max_iter`` caps ``self.max_iter``."""
        raise NotImplementedError
