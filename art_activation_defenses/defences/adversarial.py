"""ART's adversarial training, feature squeezing and label smoothing, wired to our estimators.

* :class:`MixedBatchAdversarialTrainer` runs ART's ``AdversarialTrainer`` (a share ``ratio`` of
  every batch replaced by FGSM or PGD examples crafted on the model being trained), seeded;
  :func:`pgd_adversarial_trainer` is the PGD variant with ``ratio=1`` (Madry et al., what ART's
  ``AdversarialTrainerMadryPGD`` does).
* :func:`with_feature_squeezing` returns a copy of a classifier with ART's ``FeatureSqueezing``
  as a preprocessing defence (ART's attacks see its identity gradient estimate: BPDA).
* :func:`smooth_labels` and :class:`LabelSmoothingTrainer` apply ART's ``LabelSmoothing`` to the
  *training labels*. Installing it as a preprocessing defence instead would make the
  classifier's preprocessing non-PyTorch, and every torch-side attack (ours, ART's PyTorch PGD
  gradients through preprocessing) would refuse or bypass it, so it is applied to labels here.
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import numpy as np
from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescent
from art.defences.preprocessor import FeatureSqueezing, LabelSmoothing
from art.defences.trainer import AdversarialTrainer, Trainer
from art.estimators.classification import PyTorchClassifier
from tqdm.auto import tqdm

from art_activation_defenses._validation import check_choice, check_scalar
from art_activation_defenses.defences._common import (
    check_classifier,
    check_data,
    ensure_optimizer,
    fit_sizes,
    seeded,
)
from art_activation_defenses.defences.gaussian import batch_bounds

__all__ = [
    "DtypeKeepingFeatureSqueezing",
    "LabelSmoothingTrainer",
    "MixedBatchAdversarialTrainer",
    "pgd_adversarial_trainer",
    "smooth_labels",
    "with_feature_squeezing",
]

_METHODS = ("fgsm", "pgd")


class MixedBatchAdversarialTrainer(Trainer):
    """
    Mixed-batch adversarial training with ART's ``AdversarialTrainer``: in every batch a share
    ``ratio`` of the samples is replaced by adversarial examples crafted on the current model
    (FGSM, as in the JumpReLU paper's "FGSM-robust" models, or PGD, as in the capped-ReLU
    paper's Table 1). ART draws its batch order and adversarial subsets from numpy's global
    generator and PGD's random starts from it too; :meth:`fit` seeds all global generators with
    ``seed`` and restores their state afterwards. The classifier is trained in place.

    | Paper link: https://arxiv.org/abs/1412.6572 (FGSM training), https://arxiv.org/abs/1706.06083 (PGD)
    """

    def __init__(
        self,
        classifier: PyTorchClassifier,
        *,
        method: Literal["fgsm", "pgd"] = "fgsm",
        eps: float = 0.3,
        eps_step: float | None = None,
        max_iter: int = 7,
        num_random_init: int = 1,
        ratio: float = 0.5,
        nb_epochs: int = 5,
        batch_size: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
    ) -> None:
        """
        :param classifier: ART ``PyTorchClassifier`` (or ``RetrofitClassifier``) to train in place.
        :param method: ``"fgsm"`` (default) or ``"pgd"`` (L∞ both).
        :param eps: L∞ budget, > 0 (default 0.3, MNIST; the JumpReLU paper uses 0.03 on CIFAR-10).
        :param eps_step: PGD step (default ``2.5 * eps / max_iter``); ignored by FGSM.
        :param max_iter: PGD iterations, >= 1 (default 7); ignored by FGSM.
        :param num_random_init: PGD random starts, >= 0 (default 1); ignored by FGSM.
        :param ratio: Share of each batch replaced by adversarial examples, in (0, 1] (default 0.5).
        :param nb_epochs: Default number of epochs of :meth:`fit` (default 5).
        :param batch_size: Default batch size of :meth:`fit` (default 128).
        :param lr: Learning rate of the Adam optimizer attached when the classifier has none (default 1e-3).
        :param seed: Seed of every random draw of the training (default 0).
        """
        super().__init__(check_classifier(classifier))
        self.method = check_choice(method, "method", _METHODS)
        self.eps = check_scalar(eps, "eps", min_val=0, include_boundaries="right")
        self.max_iter = check_scalar(max_iter, "max_iter", "int", min_val=1)
        self.eps_step = (
            2.5 * self.eps / self.max_iter
            if eps_step is None
            else check_scalar(eps_step, "eps_step", min_val=0, include_boundaries="right")
        )
        self.num_random_init = check_scalar(num_random_init, "num_random_init", "int", min_val=0)
        self.ratio = check_scalar(ratio, "ratio", min_val=0, max_val=1, include_boundaries="right")
        self.nb_epochs = check_scalar(nb_epochs, "nb_epochs", "int", min_val=1)
        self.batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
        self.lr = check_scalar(lr, "lr", min_val=0, include_boundaries="right")
        self.seed = check_scalar(seed, "seed", "int", min_val=0)
        self.attack: FastGradientMethod | ProjectedGradientDescent
        if method == "fgsm":
            self.attack = FastGradientMethod(
                classifier, norm=np.inf, eps=self.eps, batch_size=self.batch_size
            )
        else:
            self.attack = ProjectedGradientDescent(
                classifier,
                norm=np.inf,
                eps=self.eps,
                eps_step=self.eps_step,
                max_iter=self.max_iter,
                num_random_init=self.num_random_init,
                batch_size=self.batch_size,
                verbose=False,
            )
        self.trainer = AdversarialTrainer(classifier, attacks=self.attack, ratio=self.ratio)

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
        Train adversarially (ART's ``AdversarialTrainer.fit``), seeded.

        :param x: Training inputs ``(n, *input_shape)`` (not modified).
        :param y: Labels, indices or one-hot.
        :param nb_epochs: Epochs (default: the constructor's).
        :param batch_size: Batch size (default: the constructor's).
        :param kwargs: Passed on to the classifier's ``fit``.
        """
        clf = self._classifier
        x_np, y_np = check_data(clf, x, y)
        epochs, bs = fit_sizes(nb_epochs, batch_size, self.nb_epochs, self.batch_size)
        ensure_optimizer(clf, self.lr)
        onehot = np.eye(clf.nb_classes, dtype=np.float32)[
            y_np
        ]  # ART 1.20's loss_gradient wants one-hot labels
        with seeded(self.seed):
            self.trainer.fit(x_np, onehot, nb_epochs=epochs, batch_size=bs, **kwargs)


def pgd_adversarial_trainer(
    classifier: PyTorchClassifier,
    *,
    eps: float = 0.3,
    eps_step: float | None = None,
    max_iter: int = 7,
    num_random_init: int = 1,
    ratio: float = 1.0,
    nb_epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
) -> MixedBatchAdversarialTrainer:
    """
    PGD adversarial training (Madry et al.): :class:`MixedBatchAdversarialTrainer` with
    ``method="pgd"`` and by default ``ratio=1`` (every sample replaced), which is what ART's
    ``AdversarialTrainerMadryPGD`` does, but seeded and with our defaults for [0, 1] inputs.

    | Paper link: https://arxiv.org/abs/1706.06083

    :param classifier: ART ``PyTorchClassifier`` (or ``RetrofitClassifier``) to train in place.
    :param eps: L∞ budget (default 0.3, MNIST).
    :param eps_step: Step (default ``2.5 * eps / max_iter``).
    :param max_iter: PGD iterations (default 7).
    :param num_random_init: Random starts (default 1).
    :param ratio: Share of adversarial samples per batch (default 1.0).
    :param nb_epochs: Default epochs (default 5).
    :param batch_size: Default batch size (default 128).
    :param lr: Learning rate of the Adam optimizer attached when the classifier has none.
    :param seed: Seed (default 0).
    """
    return MixedBatchAdversarialTrainer(
        classifier,
        method="pgd",
        eps=eps,
        eps_step=eps_step,
        max_iter=max_iter,
        num_random_init=num_random_init,
        ratio=ratio,
        nb_epochs=nb_epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
    )


class DtypeKeepingFeatureSqueezing(FeatureSqueezing):
    """ART's ``FeatureSqueezing`` returning the input's dtype: ART 1.20 returns float64 for
    float32 input (its ``2**bit_depth - 1`` is a float64), which a float32 torch model rejects."""

    def __call__(self, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        res, y_out = super().__call__(x, y)
        return res.astype(x.dtype, copy=False), y_out


def with_feature_squeezing(
    classifier: PyTorchClassifier, bit_depth: int = 1, *, copy_classifier: bool = True
) -> Any:
    """
    A classifier that squeezes its inputs to ``bit_depth`` bits per value (ART's
    ``FeatureSqueezing``, appended to its preprocessing defences, applied at prediction only).

    Use 1 bit on MNIST and 3 bits on CIFAR-10 (the BReLU paper's comparison). ART's own attacks
    differentiate through the squeezer with its identity gradient estimate (BPDA); our
    torch-side attacks need PyTorch preprocessing and refuse the squeezed classifier.

    | Paper link: https://arxiv.org/abs/1704.01155

    :param classifier: ART ``PyTorchClassifier`` (or ``RetrofitClassifier``) with ``clip_values``.
    :param bit_depth: Bits per value, 1..64 (default 1).
    :param copy_classifier: Return a deep copy (default True); ``False`` adds the defence in place.
    :return: The classifier with the defence (same type as ``classifier``).
    """
    check_classifier(classifier)
    bit_depth = check_scalar(bit_depth, "bit_depth", "int", min_val=1, max_val=64)
    if classifier.clip_values is None:
        raise ValueError("`classifier` needs clip_values for feature squeezing, got clip_values=None.")
    out = copy.deepcopy(classifier) if copy_classifier else classifier
    clip = (float(np.min(out.clip_values[0])), float(np.max(out.clip_values[1])))
    squeezer = DtypeKeepingFeatureSqueezing(
        clip_values=clip, bit_depth=bit_depth, apply_fit=False, apply_predict=True
    )
    defences = list(out.preprocessing_defences or []) + [squeezer]
    PyTorchClassifier.set_params(out, preprocessing_defences=defences)
    return out


def smooth_labels(y: np.ndarray, nb_classes: int, *, max_value: float = 0.9) -> np.ndarray:
    """
    Smoothed training labels (ART's ``LabelSmoothing``): ``max_value`` on the true class, the
    rest spread evenly over the others.

    | Paper link: https://arxiv.org/abs/1512.00567

    :param y: Labels, indices ``(n,)`` or one-hot ``(n, nb_classes)`` (not modified).
    :param nb_classes: Number of classes, >= 2.
    :param max_value: Value of the true class, in ``[1 / nb_classes, 1]`` (default 0.9).
    :return: float32 array ``(n, nb_classes)``.
    """
    nb_classes = check_scalar(nb_classes, "nb_classes", "int", min_val=2)
    max_value = check_scalar(max_value, "max_value", min_val=1.0 / nb_classes, max_val=1.0)
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == nb_classes:
        y_arr = y_arr.argmax(1)
    if y_arr.ndim != 1 or not np.issubdtype(y_arr.dtype, np.integer) or y_arr.size == 0:
        raise ValueError(f"`y` must hold integer labels (n,) or one-hot rows, got shape {np.shape(y)}.")
    if y_arr.min() < 0 or y_arr.max() >= nb_classes:
        raise ValueError(
            f"`y` must hold class indices in [0, {nb_classes}), got [{y_arr.min()}, {y_arr.max()}]."
        )
    onehot = np.eye(nb_classes, dtype=np.float32)[y_arr]
    _, smooth = LabelSmoothing(max_value=max_value)(onehot, onehot)
    assert smooth is not None
    return smooth.astype(np.float32)


class LabelSmoothingTrainer(Trainer):
    """
    Train on smoothed labels (:func:`smooth_labels`, ART's ``LabelSmoothing``) through the
    classifier's own ``fit``; its cross-entropy loss takes the probability labels as they are.
    The classifier is trained in place.

    | Paper link: https://arxiv.org/abs/1512.00567
    """

    def __init__(
        self,
        classifier: PyTorchClassifier,
        *,
        max_value: float = 0.9,
        nb_epochs: int = 5,
        batch_size: int = 128,
        lr: float = 1e-3,
        seed: int = 0,
        verbose: bool = True,
    ) -> None:
        """
        :param classifier: ART ``PyTorchClassifier`` with a loss that accepts probability labels
            (``nn.CrossEntropyLoss``, the default of our estimators).
        :param max_value: Value of the true class (default 0.9).
        :param nb_epochs: Default epochs (default 5).
        :param batch_size: Default batch size (default 128).
        :param lr: Learning rate of the Adam optimizer attached when the classifier has none.
        :param seed: Seed of the batch order and dropout (default 0).
        :param verbose: Show a progress bar (default True).
        """
        super().__init__(check_classifier(classifier))
        if not getattr(classifier, "_probability_labels", False):
            raise ValueError(
                f"`classifier` loss {type(classifier.loss).__name__} does not take probability labels; "
                "use nn.CrossEntropyLoss."
            )
        self.max_value = check_scalar(
            max_value, "max_value", min_val=1.0 / classifier.nb_classes, max_val=1.0
        )
        self.nb_epochs = check_scalar(nb_epochs, "nb_epochs", "int", min_val=1)
        self.batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
        self.lr = check_scalar(lr, "lr", min_val=0, include_boundaries="right")
        self.seed = check_scalar(seed, "seed", "int", min_val=0)
        self.verbose = bool(verbose)

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
        Train on ``(x, smooth_labels(y))``.

        :param x: Training inputs (not modified).
        :param y: Labels, indices or one-hot.
        :param nb_epochs: Epochs (default: the constructor's).
        :param batch_size: Batch size (default: the constructor's).
        :param kwargs: Passed on to the classifier's ``fit``.
        """
        clf = self._classifier
        x_np, y_np = check_data(clf, x, y)
        epochs, bs = fit_sizes(nb_epochs, batch_size, self.nb_epochs, self.batch_size)
        ensure_optimizer(clf, self.lr)
        soft = smooth_labels(y_np, clf.nb_classes, max_value=self.max_value)
        bounds = batch_bounds(len(x_np), bs)
        rng = np.random.default_rng(self.seed)
        bar = tqdm(
            total=epochs * (len(bounds) - 1), desc="label-smoothing training", disable=not self.verbose
        )
        with seeded(self.seed):
            for _ in range(epochs):
                order = rng.permutation(len(x_np))
                for b in range(len(bounds) - 1):
                    idx = order[bounds[b] : bounds[b + 1]]
                    clf.fit(x_np[idx], soft[idx], nb_epochs=1, batch_size=len(idx), verbose=False, **kwargs)
                    bar.update(1)
        bar.close()
