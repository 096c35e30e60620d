"""Gaussian data augmentation training (the BReLU paper's "GDA + RELU" / "GDA + BRELU")."""

from __future__ import annotations

from typing import Any

import numpy as np
from art.defences.trainer import Trainer
from art.estimators.classification import PyTorchClassifier
from tqdm.auto import tqdm

from art_activation_defenses._device import Device, place_classifier
from art_activation_defenses._validation import check_bool, check_scalar
from art_activation_defenses.defences._common import (
    check_classifier,
    check_data,
    ensure_optimizer,
    fit_sizes,
    seeded,
)

__all__ = ["GaussianAugmentationTrainer", "batch_bounds"]


def batch_bounds(n: int, batch_size: int) -> list[int]:
    """Batch boundaries over ``n`` samples; a trailing batch of one sample is folded into the
    previous one (BatchNorm cannot train on a single value per channel)."""
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    return bounds


class GaussianAugmentationTrainer(Trainer):
    """
    Train on every sample plus ``nb_copies`` noisy copies ``clip(x + N(0, sigma^2 I))``.

    The BReLU paper trains its CNN and ResNet on MNIST with ten Gaussian copies per sample
    (sigma 0.3 on MNIST, 0.05 on CIFAR-10), with ReLU ("GDA + RELU") or with a bounded ReLU
    ``t = 1`` ("GDA + BRELU": build the model with ``activation=lambda: BoundedReLU(t=1.0)``).
    One epoch visits the ``n * (nb_copies + keep_original)`` samples of the augmented set in a
    seeded random order; the noise of the copies is drawn as their batch is formed, afresh every
    epoch, so memory stays that of the clean set (with ``nb_epochs=1`` this is exactly the
    paper's augmented set). Each batch goes through the classifier's own ``fit`` (its loss,
    optimizer and preprocessing). The classifier is trained in place.

    | Paper link: https://arxiv.org/abs/1707.06728
    """

    def __init__(
        self,
        classifier: PyTorchClassifier,
        *,
        sigma: float = 0.3,
        nb_copies: int = 10,
        keep_original: bool = True,
        nb_epochs: int = 5,
        batch_size: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
        verbose: bool = True,
        device: Device = None,
    ) -> None:
        """
        :param classifier: ART ``PyTorchClassifier`` (or ``RetrofitClassifier``) to train in place.
        :param sigma: Standard deviation of the Gaussian noise, > 0 (default 0.3, MNIST; 0.05 for CIFAR-10).
        :param nb_copies: Noisy copies per sample, >= 1 (default 10).
        :param keep_original: Also train on the clean samples (default True).
        :param nb_epochs: Default number of epochs of :meth:`fit` (default 5).
        :param batch_size: Default batch size of :meth:`fit` (default 128).
        :param lr: Learning rate of the Adam optimizer attached when the classifier has none (default 1e-3).
        :param seed: Seed of the order, the noise and the classifier's own randomness (default 0).
        :param verbose: Show a progress bar (default True).
        :param device: Where to train: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``; the classifier
            and its model are moved there. Default ``None``: where the classifier already is.
        """
        check_classifier(classifier)
        if device is not None:
            place_classifier(classifier, device)
        super().__init__(classifier)
        self.sigma = check_scalar(sigma, "sigma", min_val=0, include_boundaries="right")
        self.nb_copies = check_scalar(nb_copies, "nb_copies", "int", min_val=1)
        self.keep_original = check_bool(keep_original, "keep_original")
        self.nb_epochs = check_scalar(nb_epochs, "nb_epochs", "int", min_val=1)
        self.batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
        self.lr = check_scalar(lr, "lr", min_val=0, include_boundaries="right")
        self.seed = check_scalar(seed, "seed", "int", min_val=0)
        self.verbose = bool(verbose)

    def augment(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A noisy copy ``clip(x + N(0, sigma^2 I))`` of ``x`` (a new float32 array).

        :param x: Clean samples (not modified).
        :param rng: numpy generator the noise is drawn from.
        """
        noisy = x + rng.normal(0.0, self.sigma, size=x.shape).astype(np.float32)
        clip = self._classifier.clip_values
        if clip is not None:
            noisy = np.clip(noisy, clip[0], clip[1])
        return noisy.astype(np.float32, copy=False)

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        nb_epochs: int | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        """
        Train the classifier on the Gaussian-augmented data.

        :param x: Training inputs ``(n, *input_shape)`` (not modified).
        :param y: Labels, indices or one-hot.
        :param nb_epochs: Epochs over the augmented set (default: the constructor's).
        :param batch_size: Batch size (default: the constructor's).
        :param kwargs: Passed on to the classifier's ``fit`` (e.g. ``training_mode``).
        """
        clf = self._classifier
        x_np, y_np = check_data(clf, x, y)
        epochs, bs = fit_sizes(nb_epochs, batch_size, self.nb_epochs, self.batch_size)
        ensure_optimizer(clf, self.lr)
        n = x_np.shape[0]
        offset = 1 if self.keep_original else 0
        total = n * (self.nb_copies + offset)
        bounds = batch_bounds(total, bs)
        rng = np.random.default_rng(self.seed)
        bar = tqdm(total=epochs * (len(bounds) - 1), desc="GDA training", disable=not self.verbose)
        with seeded(self.seed):
            for _ in range(epochs):
                order = rng.permutation(total)
                for b in range(len(bounds) - 1):
                    idx = order[bounds[b] : bounds[b + 1]]
                    src, noisy = idx % n, (idx // n) >= offset
                    xb = x_np[src]  # fancy indexing: a copy
                    if noisy.any():
                        xb[noisy] = self.augment(xb[noisy], rng)
                    clf.fit(xb, y_np[src], nb_epochs=1, batch_size=len(xb), verbose=False, **kwargs)
                    bar.update(1)
        bar.close()
