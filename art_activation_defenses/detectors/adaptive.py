"""
Detector-aware evasion attack on the LID detector (Carlini & Wagner 2017; Athalye, Carlini & Wagner 2018).

PGD in an L∞ ball on a classification loss and ``softplus(detector logit)`` (their gradients
L1-normalised per sample and summed with weights 1 and ``detector_weight``, the detector term only
once the sample has been misclassified): the adversarial example must be misclassified *and* scored
"clean" by the fitted :class:`LIDDetector`. The detector's features are differentiated through a
surrogate: the maximum-likelihood LID of the query against the *same* clean reference minibatch the
detector uses (held fixed, so the estimate is a smooth function of the query's layer outputs); the
non-differentiable parts — the choice of the k nearest neighbours (``topk``) and the exclusion of a
reference point equal to the query — are taken as constants in the backward pass (BPDA), and
activations with a ``grad_mode`` (JumpReLU, ...) are differentiated straight-through
(``bpda=True``). On any input the surrogate's value *is* the detector's feature (same reference
minibatch, same alignment as ``LIDDetector.detect`` on the same batch), so the attack can keep, per
sample, the misclassified iterate with the lowest exact score.

Two losses: ``loss="ce"`` (cross-entropy while the sample is still classified correctly, the PGD
column) and ``loss="cw"`` (the C&W logit margin with a ``confidence``: a high-confidence variant,
which Athalye et al. report LID cannot detect).

| Paper link: https://arxiv.org/abs/1705.07263 (C&W 2017), https://arxiv.org/abs/1802.00420 (BPDA)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import torch
from art.attacks.attack import EvasionAttack
from art.estimators.classification.classifier import ClassifierMixin
from art.estimators.estimator import BaseEstimator, LossGradientsMixin
from torch import nn
from tqdm.auto import tqdm

from art_activation_defenses._validation import (
    check_array,
    check_bool,
    check_choice,
    check_labels,
    check_scalar,
)
from art_activation_defenses.activations import RetrofitActivation
from art_activation_defenses.detectors._layers import LayerTap, default_layers
from art_activation_defenses.detectors.features import _Reference, _self_mask, _split, mle_lid
from art_activation_defenses.detectors.lid import LIDDetector

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = ["AdaptiveLIDAttack", "SurrogateLID"]

AdaptiveLoss = Literal["ce", "cw"]


class _GradTap(LayerTap):
    """A :class:`LayerTap` whose records keep the autograd graph (for the surrogate features)."""

    def _hook(self, name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"Layer {name!r} returned {type(output).__name__}, not a tensor.")
            self._records[name].append(output.flatten(1))

        return hook

    def run_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, list[str], list[torch.Tensor]]:
        """Forward `x` with autograd; return (logits, names, one (batch, features) tensor per call)."""
        return self.forward_records(x)


def _check_fitted(detector: Any) -> LIDDetector:
    if not isinstance(detector, LIDDetector):
        raise TypeError(f"`detector` must be a fitted LIDDetector, got {type(detector).__name__}.")
    if detector.scaler_ is None or detector.model_ is None or detector.x_reference is None:
        raise ValueError("`detector` is not fitted; call `LIDDetector.fit` (or `fit_features`) first.")
    return detector


class SurrogateLID:
    """
    The fitted LID detector as a differentiable function of the query: features and decision logit.

    Query minibatch ``b`` (of ``ceil(n / batch_size)`` near-equal slices, as ``LIDDetector.detect`` splits
    ``n`` samples) is compared with reference minibatch ``b mod n_ref_batches``, held fixed. The logit is
    ``w · (features - mean) / scale + b`` of the detector's scaler and logistic regression.

    :param classifier: The ART ``PyTorchClassifier`` the detector characterises.
    :param detector: The fitted :class:`LIDDetector`.
    """

    def __init__(self, classifier: PyTorchClassifier, detector: LIDDetector) -> None:
        self.classifier = classifier
        self.detector = _check_fitted(detector)
        if not getattr(classifier, "all_framework_preprocessing", True):
            raise ValueError(
                "`classifier` has non-PyTorch preprocessing; the LID surrogate needs it differentiable."
            )
        model = classifier.model
        self.layers = list(detector.layers or default_layers(model))
        self.k = int(detector.k)
        self.device = classifier.device
        assert (
            detector.scaler_ is not None and detector.model_ is not None and detector.x_reference is not None
        )
        coef = np.ravel(np.asarray(detector.model_.coef_, dtype=np.float64))
        scale = np.asarray(detector.scaler_.scale_, dtype=np.float64)
        mean = np.asarray(detector.scaler_.mean_, dtype=np.float64)
        if coef.shape != mean.shape:
            raise ValueError(f"Detector coefficients {coef.shape} do not match its scaler {mean.shape}.")
        self.weight = torch.as_tensor(coef / scale, dtype=torch.float64, device=self.device)
        self.bias = float(np.ravel(detector.model_.intercept_)[0] - np.sum(coef * mean / scale))
        self._x_reference = detector.x_reference
        self._ref_slices = _split(detector.x_reference.shape[0], int(detector.batch_size))
        self._refs: dict[int, tuple[torch.Tensor, list[_Reference]]] = {}

    def query_plan(self, n: int) -> list[tuple[slice, int]]:
        """(query slice, reference minibatch index) pairs for a batch of `n` samples, as ``detect`` uses."""
        return [
            (s, b % len(self._ref_slices)) for b, s in enumerate(_split(n, int(self.detector.batch_size)))
        ]

    def model_input(self, x: torch.Tensor) -> torch.Tensor:
        """The classifier's framework preprocessing of ``x`` (a tensor on its device), differentiable."""
        x_pre, _ = self.classifier._apply_preprocessing(x, y=None, fit=False, no_grad=False)
        return x_pre

    def _reference(self, index: int, tap: _GradTap) -> tuple[torch.Tensor, list[_Reference]]:
        if index not in self._refs:
            xr_raw = self._x_reference[self._ref_slices[index]]
            xr = torch.as_tensor(xr_raw, dtype=torch.float32, device=self.device)
            with torch.no_grad():
                _, names, feats = tap.run_grad(self.model_input(xr))
            if names != self.detector.feature_names_:
                raise ValueError(
                    f"Surrogate feature columns {names!r} differ from the detector's "
                    f"{self.detector.feature_names_!r}."
                )
            self._refs[index] = (xr.flatten(1), [_Reference(f.detach()) for f in feats])
        return self._refs[index]

    @contextmanager
    def tap(self) -> Iterator[_GradTap]:
        """Hooks on the detector's layers for the duration of a ``with`` block."""
        tap = _GradTap(self.classifier.model, self.layers)
        with tap:
            yield tap

    def __call__(
        self, x: torch.Tensor, ref_index: int, tap: _GradTap
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """
        Logits, LID features (float64) and detector logit of a query batch, differentiable in `x`.

        :param x: Raw inputs (batch, *input_shape) on the classifier's device.
        :param ref_index: The reference minibatch to compare with (see :meth:`query_plan`).
        :param tap: An open :meth:`tap`.
        :return: (logits, features (batch, n_columns), detector logit (batch,)).
        """
        xr, refs = self._reference(ref_index, tap)
        logits, _, feats = tap.run_grad(self.model_input(x))
        excluded = _self_mask(x.detach().flatten(1), xr)
        cols = []
        for fq, ref in zip(feats, refs, strict=True):
            q = fq - ref.centre  # the same arithmetic as the exact features, without in-place ops
            d2 = (
                torch.addmm(ref.sq_norms[None, :], q, ref.rows.T, beta=1.0, alpha=-2.0)
                + q.square().sum(1)[:, None]
            )
            # BPDA: topk's neighbour set and the self-exclusion are constants of the backward pass
            d2 = d2.clamp_min(1e-30).masked_fill(excluded, math.inf)
            cols.append(mle_lid(d2, self.k))
        features = torch.stack(cols, dim=1)
        return logits, features, features @ self.weight + self.bias


def _unit(grad: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    """Per-sample L1-normalised gradient (zero where the term has no gradient), so neither term of the
    loss drowns the other in the sign step whatever their scales."""
    if grad is None:
        return torch.zeros_like(like)
    norms = grad.abs().flatten(1).sum(1).clamp_min(1e-30)
    return grad / norms.view(-1, *([1] * (grad.dim() - 1)))


@contextmanager
def _straight_through(model: nn.Module, enabled: bool) -> Iterator[None]:
    """White-box forward passes: no gray-box ``grad_params``; ``grad_mode="bpda"`` when `enabled`.

    Every retrofitted activation is put back as it was afterwards.
    """
    modules = [m for m in model.modules() if isinstance(m, RetrofitActivation)]
    saved = [(m.grad_mode, m.grad_params) for m in modules]
    try:
        for m in modules:
            m.grad_params = {}
            if enabled:
                m.grad_mode = "bpda"
        yield
    finally:
        for m, (mode, params) in zip(modules, saved, strict=True):
            m.grad_mode, m.grad_params = mode, params


class AdaptiveLIDAttack(EvasionAttack):
    """
    L∞ PGD that misclassifies and drives the fitted :class:`LIDDetector`'s score to "clean".

    Each sign step follows ``unit(∇ loss_cls) + detector_weight * unit(∇ softplus(s(x)))`` (``unit`` =
    per-sample L1 normalisation, so neither term drowns the other; the detector term only from the first
    step at which the sample is misclassified), where ``s`` is the detector's logit on the
    surrogate LID features; ``loss_cls`` is ``-CE`` while the sample is still classified correctly
    (``loss="ce"``) or the C&W margin ``max(z_y - max_{j≠y} z_j + confidence, 0)`` (``loss="cw"``). Keeps,
    per sample, the misclassified iterate with the lowest detector score (the last iterate if none).
    ``generate`` must be given the whole set ``LIDDetector.detect`` will score, in the same order, because
    the detector compares query minibatch ``b`` with reference minibatch ``b mod n_ref_batches``.

    | Paper link: https://arxiv.org/abs/1705.07263

    :param classifier: The ART ``PyTorchClassifier`` (or ``RetrofitClassifier``) the detector protects.
    :param detector: A fitted :class:`LIDDetector` on `classifier`.
    :param loss: ``"ce"`` (default) or ``"cw"``.
    :param eps: L∞ radius (default 0.1).
    :param eps_step: Step size (default 0.01).
    :param max_iter: Number of steps (default 100).
    :param detector_weight: Weight of the detector term's (L1-normalised) gradient against the
        classification term's, from the first step at which the sample is misclassified (default 1.0).
    :param confidence: Logit margin of ``loss="cw"`` (default 10.0; ignored by ``"ce"``).
    :param random_init: Start from a uniform point of the ball (default True).
    :param bpda: Differentiate activations with a ``grad_mode`` straight-through (default True).
    :param seed: Seed of the random start (private generator).
    :param verbose: Show a progress bar.
    """

    attack_params = EvasionAttack.attack_params + [
        "detector",
        "loss",
        "eps",
        "eps_step",
        "max_iter",
        "detector_weight",
        "confidence",
        "random_init",
        "bpda",
        "seed",
        "verbose",
    ]
    _estimator_requirements = (BaseEstimator, LossGradientsMixin, ClassifierMixin)

    def __init__(
        self,
        classifier: PyTorchClassifier,
        detector: LIDDetector,
        *,
        loss: AdaptiveLoss = "ce",
        eps: float = 0.1,
        eps_step: float = 0.01,
        max_iter: int = 100,
        detector_weight: float = 1.0,
        confidence: float = 10.0,
        random_init: bool = True,
        bpda: bool = True,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        super().__init__(estimator=classifier)
        self.detector = detector
        self.loss = loss
        self.eps = eps
        self.eps_step = eps_step
        self.max_iter = max_iter
        self.detector_weight = detector_weight
        self.confidence = confidence
        self.random_init = random_init
        self.bpda = bpda
        self.seed = seed
        self.verbose = verbose
        self._check_params()

    def _check_params(self) -> None:
        if not hasattr(self.estimator, "model") or not isinstance(self.estimator.model, nn.Module):
            raise TypeError(
                f"`classifier` must be an ART PyTorchClassifier, got {type(self.estimator).__name__}."
            )
        detector = _check_fitted(self.detector)
        if detector.classifier.model is not self.estimator.model:
            raise ValueError("`detector` was built on another model than `classifier`.")
        check_choice(self.loss, "loss", ("ce", "cw"))
        for name in ("eps", "eps_step"):
            check_scalar(getattr(self, name), name, min_val=0, include_boundaries="right")
        check_scalar(self.detector_weight, "detector_weight", min_val=0)
        check_scalar(self.confidence, "confidence", min_val=0)
        check_scalar(self.max_iter, "max_iter", "int", min_val=1)
        for name in ("random_init", "bpda", "verbose"):
            check_bool(getattr(self, name), name)

    def _classification_loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.loss == "ce":
            correct = (logits.argmax(1) == y).to(logits.dtype)
            return -nn.functional.cross_entropy(logits, y, reduction="none") * correct
        true = logits.gather(1, y[:, None])[:, 0]
        other = logits.masked_fill(nn.functional.one_hot(y, logits.shape[1]).bool(), -math.inf).amax(1)
        return (true - other + float(self.confidence)).clamp_min(0.0)

    def generate(self, x: np.ndarray, y: np.ndarray | None = None, **kwargs: Any) -> np.ndarray:
        """
        Detector-aware adversarial examples.

        :param x: Clean samples (n, *input_shape), the whole set the detector will score, in order.
        :param y: True labels (indices or one-hot); default: the classifier's predictions.
        :return: float32 adversarial examples of `x`'s shape; `x` is not modified.
        """
        if kwargs:
            raise ValueError(f"AdaptiveLIDAttack.generate got unexpected keyword arguments {sorted(kwargs)}.")
        clf = self.estimator
        check_array(x, "x", ndim_min=2, input_shape=clf.input_shape, floating=False)
        labels = None if y is None else check_labels(y, "y", x.shape[0], int(clf.nb_classes))
        surrogate = SurrogateLID(clf, _check_fitted(self.detector))
        device = surrogate.device
        generator = torch.Generator(device="cpu").manual_seed(int(self.seed))
        clip = None if clf.clip_values is None else tuple(float(v) for v in np.ravel(clf.clip_values)[:2])
        out = np.empty(x.shape, dtype=np.float32)
        model = clf.model
        modes = [(m, m.training) for m in model.modules()]
        model.eval()
        try:
            with _straight_through(model, self.bpda), surrogate.tap() as tap:
                plan = surrogate.query_plan(x.shape[0])
                for q_slice, r_index in tqdm(plan, desc="adaptive LID", disable=not self.verbose):
                    x0 = torch.as_tensor(x[q_slice], dtype=torch.float32, device=device)
                    if labels is None:
                        with torch.no_grad():
                            yb = tap.run_grad(surrogate.model_input(x0))[0].argmax(1)
                    else:
                        yb = torch.as_tensor(labels[q_slice], device=device)
                    out[q_slice] = self._attack_batch(surrogate, tap, x0, yb, r_index, generator, clip)
        finally:
            for module, mode in modes:
                module.training = mode
        return out

    def _attack_batch(
        self,
        surrogate: SurrogateLID,
        tap: _GradTap,
        x0: torch.Tensor,
        y: torch.Tensor,
        r_index: int,
        generator: torch.Generator,
        clip: Sequence[float] | None,
    ) -> np.ndarray:
        eps, step = float(self.eps), float(self.eps_step)
        if self.random_init:
            delta = (torch.rand(x0.shape, generator=generator) * 2.0 - 1.0).mul_(eps).to(x0.device)
        else:
            delta = torch.zeros_like(x0)
        best = x0.clone()
        best_score = torch.full((x0.shape[0],), math.inf, dtype=torch.float64, device=x0.device)
        found = torch.zeros(x0.shape[0], dtype=torch.bool, device=x0.device)
        x_adv = x0
        for it in range(int(self.max_iter) + 1):
            x_adv = x0 + delta
            if clip is not None:
                x_adv = x_adv.clamp(clip[0], clip[1])
            x_adv = x_adv.detach().requires_grad_(it < self.max_iter)
            logits, _, score = surrogate(x_adv, r_index, tap)
            with torch.no_grad():
                fooled = logits.argmax(1) != y
                better = fooled & (score < best_score)
                best[better] = x_adv.detach()[better]
                best_score = torch.where(better, score.detach(), best_score)
                found |= fooled
            if it == self.max_iter:
                break
            detector_term = nn.functional.softplus(score).to(logits.dtype)
            g_cls, g_det = (
                torch.autograd.grad(term.sum(), x_adv, retain_graph=True, allow_unused=True)[0]
                for term in (self._classification_loss(logits, y), detector_term)
            )
            # the detector term joins once a sample has been misclassified: reach the wrong class first,
            # then trade towards a "clean" score (the classification term keeps it there)
            w = found.to(x_adv.dtype).mul_(float(self.detector_weight)).view(-1, *([1] * (x_adv.dim() - 1)))
            grad = _unit(g_cls, x_adv) + w * _unit(g_det, x_adv)
            delta = (x_adv.detach() - x0 - step * grad.sign()).clamp(-eps, eps)
        best[~found] = x_adv.detach()[~found]
        assert best.shape == x0.shape
        return best.cpu().numpy().astype(np.float32)
