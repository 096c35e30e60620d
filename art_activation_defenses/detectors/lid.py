"""
Local intrinsic dimensionality (LID) detector of adversarial examples.

Per-layer maximum-likelihood LID estimates over the k nearest neighbours in a clean reference
minibatch, standardised and fed to a logistic regression. Features are computed in torch on the
classifier's device with one numpy -> torch conversion per minibatch; distances with
``torch.cdist`` and neighbours with ``topk``.

| Paper link: https://arxiv.org/abs/1801.02613
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from art.defences.detector.evasion import EvasionDetector
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import roc_auc_score, roc_curve
from sklearn.preprocessing import StandardScaler
from torch import nn

from art_activation_defenses._validation import (
    check_array,
    check_labels,
    check_model_dtype,
    check_samples,
    check_scalar,
)
from art_activation_defenses.detectors._layers import LayerTap
from art_activation_defenses.detectors.features import (
    TooFewNeighboursError,
    _split,
    compute_lid_features,
    compute_lid_features_multi,
    lid_features,
    mle_lid,
)

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = [
    "LIDDetector",
    "TooFewNeighboursError",
    "compute_lid_features",
    "compute_lid_features_multi",
    "lid_auc",
    "lid_features",
    "mle_lid",
]


def _logistic_regression(cv: int, seed: int) -> LogisticRegressionCV:
    """L2 ``LogisticRegressionCV`` selected by log-loss, without scikit-learn 1.9 transition warnings."""
    kwargs: dict[str, Any] = {"cv": cv, "max_iter": 1000, "random_state": seed, "scoring": "neg_log_loss"}
    if "use_legacy_attributes" in inspect.signature(LogisticRegressionCV).parameters:
        kwargs.update(use_legacy_attributes=False, l1_ratios=(0.0,))
    return LogisticRegressionCV(**kwargs)


def _labels_01(y: Any, n: int) -> np.ndarray:
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 2:
        y_arr = y_arr.argmax(1)
    if y_arr.shape != (n,):
        raise ValueError(f"`y` must have shape ({n},) to match `x`, got {y_arr.shape}.")
    if not np.isin(y_arr, (0, 1)).all():
        raise ValueError(f"`y` must be 0 (clean) or 1 (adversarial), got values {np.unique(y_arr)[:10]!r}.")
    return y_arr.astype(np.int64)


class LIDDetector(EvasionDetector):
    """
    Adversarial-example detector on per-layer LID features with a logistic regression.

    The scaler and the logistic regression are fitted on the training split only.

    | Paper link: https://arxiv.org/abs/1801.02613
    """

    defence_params = ["classifier", "layers", "k", "batch_size", "threshold", "cv", "seed", "verbose"]

    def __init__(
        self,
        classifier: PyTorchClassifier,
        *,
        x_reference: np.ndarray | None = None,
        layers: Sequence[str] | None = None,
        k: int = 20,
        batch_size: int = 100,
        threshold: float = 0.5,
        cv: int = 5,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        """
        Create a :class:`LIDDetector`.

        :param classifier: The ART ``PyTorchClassifier`` whose layers are characterised.
        :param x_reference: Clean reference samples; default: the clean samples given to `fit`.
        :param layers: Layer names (default: input, every activation output, logits).
        :param k: Number of nearest neighbours (default 20).
        :param batch_size: Reference minibatch size (default 100).
        :param threshold: Probability above which a sample is flagged adversarial (default 0.5).
        :param cv: Folds of ``LogisticRegressionCV`` (default 5; reduced to the smallest class size).
        :param seed: Seed of the cross-validation splits.
        :param verbose: Show progress bars.
        """
        super().__init__()
        self.classifier = classifier
        self.x_reference = x_reference
        self.layers = None if layers is None else list(layers)
        self.k = k
        self.batch_size = batch_size
        self.threshold = threshold
        self.cv = cv
        self.seed = seed
        self.verbose = verbose
        self.scaler_: StandardScaler | None = None
        self.model_: LogisticRegressionCV | None = None
        self.feature_names_: list[str] = []
        self._check_params()

    def _check_params(self) -> None:
        if not hasattr(self.classifier, "model") or not isinstance(self.classifier.model, nn.Module):
            raise ValueError(
                f"`classifier` must be an ART PyTorchClassifier, got {type(self.classifier).__name__}."
            )
        check_model_dtype(self.classifier.model, "classifier.model")
        check_scalar(self.k, "k", "int", min_val=1)
        check_scalar(self.batch_size, "batch_size", "int", min_val=self.k, include_boundaries="right")
        check_scalar(self.threshold, "threshold", min_val=0, max_val=1, include_boundaries="neither")
        check_scalar(self.cv, "cv", "int", min_val=2)
        if self.layers is not None:
            LayerTap(self.classifier.model, self.layers)  # validates the names
        if self.x_reference is not None:
            check_samples(
                self.x_reference,
                "x_reference",
                input_shape=self.classifier.input_shape,
                clip_values=self.classifier.clip_values,
            )

    def features(self, x: np.ndarray) -> np.ndarray:
        """
        LID features of `x` w.r.t. the reference set.

        :param x: Samples, shape (n_samples, *input_shape).
        :return: Array (n_samples, n_columns).
        """
        return self.features_many([x])[0]

    def features_many(self, sets: Sequence[np.ndarray]) -> list[np.ndarray]:
        """
        LID features of several sample sets in one pass (each reference minibatch is forwarded once).

        :param sets: Sample arrays, each of shape (n_j, *input_shape).
        :return: One array (n_j, n_columns) per set.
        """
        if self.x_reference is None:
            raise ValueError("No `x_reference`: pass it to the constructor or call `fit` first.")
        feats, names = compute_lid_features_multi(
            self.classifier,
            sets,
            self.x_reference,
            layers=self.layers,
            k=self.k,
            batch_size=self.batch_size,
            verbose=self.verbose,
        )
        if self.feature_names_ and names != self.feature_names_:
            raise ValueError(f"Feature columns {names!r} differ from those fitted: {self.feature_names_!r}.")
        self.feature_names_ = names
        return feats

    def fit(
        self, x: np.ndarray, y: np.ndarray, batch_size: int = 128, nb_epochs: int = 20, **kwargs: Any
    ) -> None:
        """
        Compute LID features of `x` and fit the scaler and the logistic regression on them.

        :param x: Training samples, clean and adversarial.
        :param y: 1 for adversarial, 0 for clean (indices or one-hot of 2 columns).
        :param batch_size: Unused (the LID minibatch is the constructor's `batch_size`); kept for ART's API.
        :param nb_epochs: Unused (``LogisticRegressionCV`` converges on its own); kept for ART's API.
        :param x_noisy: Optional noisy clean samples, added as extra negatives.
        """
        unknown = set(kwargs) - {"x_noisy"}
        if unknown:
            raise ValueError(f"Unknown keyword arguments {sorted(unknown)!r}; expected only 'x_noisy'.")
        check_samples(
            x,
            "x",
            input_shape=self.classifier.input_shape,
            clip_values=self.classifier.clip_values,
            reference=self.x_reference,
        )
        labels = _labels_01(y, x.shape[0])
        if self.x_reference is None:
            if not (labels == 0).any():
                raise ValueError("`y` has no clean (0) samples to serve as the LID reference.")
            self.x_reference = x[labels == 0]
        self.feature_names_ = []
        x_noisy = kwargs.get("x_noisy")
        if x_noisy is None:
            feats = self.features_many([x])
        else:
            check_samples(
                x_noisy,
                "x_noisy",
                input_shape=self.classifier.input_shape,
                clip_values=self.classifier.clip_values,
                reference=self.x_reference,
            )
            feats = self.features_many([x, x_noisy])
            labels = np.concatenate([labels, np.zeros(x_noisy.shape[0], dtype=np.int64)])
        self.fit_features(np.concatenate(feats), labels)

    def fit_features(self, features: np.ndarray, labels: np.ndarray) -> None:
        """
        Fit the scaler and the logistic regression on precomputed features (the training split only).

        :param features: Array (n_samples, n_columns) of LID features.
        :param labels: 1 for adversarial, 0 for clean.
        """
        check_array(features, "features", ndim_min=2, floating=False)
        labels = _labels_01(labels, features.shape[0])
        counts = np.bincount(labels, minlength=2)
        if counts.min() < 2:
            raise ValueError(
                f"Need at least 2 clean and 2 adversarial training samples, got counts {counts!r}."
            )
        self.scaler_ = StandardScaler().fit(features)
        self.model_ = _logistic_regression(int(min(self.cv, counts.min())), self.seed)
        self.model_.fit(self.scaler_.transform(features), labels)

    def score_features(self, features: np.ndarray) -> np.ndarray:
        """
        Probability of being adversarial for precomputed features.

        :param features: Array (n_samples, n_columns).
        :return: Array (n_samples,) of probabilities.
        """
        if self.scaler_ is None or self.model_ is None:
            raise ValueError("The detector is not fitted; call `fit` first.")
        check_array(features, "features", ndim_min=2, floating=False)
        if features.shape[1] != self.scaler_.n_features_in_:
            raise ValueError(
                f"`features` has {features.shape[1]} columns, expected {self.scaler_.n_features_in_}."
            )
        return self.model_.predict_proba(self.scaler_.transform(features))[:, 1]

    def detect(self, x: np.ndarray, batch_size: int = 128, **kwargs: Any) -> tuple[dict, np.ndarray]:
        """
        Flag adversarial samples.

        :param x: Samples, shape (n_samples, *input_shape).
        :param batch_size: Unused (the LID minibatch is the constructor's `batch_size`); kept for ART's API.
        :return: (report, is_adversarial); report has ``"scores"`` (probabilities), ``"features"`` and
                 ``"feature_names"``.
        """
        if kwargs:
            raise ValueError(f"Unknown keyword arguments {sorted(kwargs)!r}.")
        if self.scaler_ is None:
            raise ValueError("The detector is not fitted; call `fit` first.")
        check_samples(
            x,
            "x",
            input_shape=self.classifier.input_shape,
            clip_values=self.classifier.clip_values,
            reference=self.x_reference,
        )
        feats = self.features(x)
        scores = self.score_features(feats)
        report = {"scores": scores, "features": feats, "feature_names": list(self.feature_names_)}
        return report, scores >= self.threshold


def threshold_at_fpr(clean_scores: np.ndarray, fpr: float = 0.05) -> float:
    """
    The score above which at most a share `fpr` of `clean_scores` lies (flag: ``score > threshold``).

    :param clean_scores: Detector scores of clean samples.
    :param fpr: Allowed false-positive rate (default 0.05).
    :return: The ``floor(fpr * n) + 1``-th largest clean score.
    """
    ordered = np.sort(np.asarray(clean_scores, dtype=np.float64))[::-1]
    return float(ordered[min(int(np.floor(fpr * ordered.size + 1e-9)), ordered.size - 1)])


def _label_indices(y: np.ndarray) -> np.ndarray:
    y_arr = np.asarray(y)
    return (y_arr.argmax(1) if y_arr.ndim == 2 else y_arr).astype(np.int64)


def _correct_mask(classifier: PyTorchClassifier, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
    if y is None:
        warnings.warn(
            "lid_auc: no labels `y`, so misclassified clean points are not filtered out (Ma et al. keep "
            "only correctly classified points).",
            stacklevel=3,
        )
        return np.ones(x.shape[0], dtype=bool)
    y_idx = check_labels(y, "y", x.shape[0], classifier.nb_classes)
    return np.asarray(classifier.predict(x).argmax(1) == y_idx)


def lid_auc(
    classifier: PyTorchClassifier,
    x_clean: np.ndarray,
    x_adv: np.ndarray,
    *,
    y: np.ndarray | None = None,
    x_noisy: np.ndarray | None = None,
    layers: Sequence[str] | None = None,
    k: int = 20,
    batch_size: int = 100,
    test_size: float = 0.3,
    cv: int = 5,
    seed: int = 0,
    verbose: bool = False,
    adaptive: Sequence[str] = (),
    adaptive_params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """
    The LID detection protocol end to end: features, held-out split, logistic regression, ROC AUC.

    Keeps the correctly classified clean points (when `y` is given) and their adversarial (and
    noisy) counterparts; clean LIDs use the clean minibatch as reference (excluding the point
    itself), adversarial and noisy LIDs the aligned clean minibatch. Pairs are split, not samples,
    so a clean point and its adversarial counterpart fall on the same side; the scaler and the
    regression see only the training split.

    | Paper link: https://arxiv.org/abs/1801.02613

    :param classifier: An ART ``PyTorchClassifier`` (or ``RetrofitClassifier``).
    :param x_clean: Clean samples.
    :param x_adv: Adversarial samples, ``x_adv[i]`` crafted from ``x_clean[i]``.
    :param y: True labels of `x_clean` (indices or one-hot); used to keep correctly classified points.
    :param x_noisy: Optional noisy versions of `x_clean` (extra negatives).
    :param layers: Layer names (default: input, every activation output, logits).
    :param k: Number of nearest neighbours (default 20).
    :param batch_size: Reference minibatch size (default 100).
    :param test_size: Held-out share of the pairs (default 0.3).
    :param cv: Folds of ``LogisticRegressionCV`` (default 5).
    :param seed: Seed of the split and the cross-validation.
    :param verbose: Show progress bars.
    :param adaptive: Detector-aware attacks to run against the fitted detector (``"pgd"``, ``"cw"``; see
                     :class:`~art_activation_defenses.detectors.adaptive.AdaptiveLIDAttack`), crafted from the
                     same correctly classified clean points; default none.
    :param adaptive_params: Keyword arguments of every adaptive attack (``eps``, ``eps_step``, ``max_iter``,
                            ``confidence``, ``detector_weight``, ``seed``...).
    :return: Dict with ``auc``, ROC points ``fpr``/``tpr``, ``detection_rate_at_5fpr`` (share of the held-out
             adversarial examples flagged at the threshold that flags at most 5% of the held-out clean
             ones), ``n_train``/``n_test`` (pairs), ``n_discarded``, ``feature_names``, the
             hyper-parameters, and with `adaptive`: ``adaptive`` (per attack: ``auc``,
             ``detection_rate_at_5fpr``, ``misclassification_rate``, ``success_rate`` = misclassified and
             not flagged) and a plain-language ``verdict``.
    """
    input_shape = classifier.input_shape
    if isinstance(getattr(classifier, "model", None), nn.Module):
        check_model_dtype(classifier.model, "classifier.model")
    clip = getattr(classifier, "clip_values", None)
    check_samples(x_clean, "x_clean", input_shape=input_shape, clip_values=clip)
    check_samples(
        x_adv, "x_adv", input_shape=input_shape, clip_values=clip, reference=x_clean, reference_name="x_clean"
    )
    if x_adv.shape != x_clean.shape:
        raise ValueError(f"`x_adv` shape {x_adv.shape} differs from `x_clean` shape {x_clean.shape}.")
    if x_noisy is not None:
        check_samples(x_noisy, "x_noisy", clip_values=clip, reference=x_clean, reference_name="x_clean")
    if x_noisy is not None and x_noisy.shape != x_clean.shape:
        raise ValueError(f"`x_noisy` shape {x_noisy.shape} differs from `x_clean` shape {x_clean.shape}.")
    check_scalar(test_size, "test_size", min_val=0, max_val=1, include_boundaries="neither")
    if adaptive:
        from art_activation_defenses.detectors.adaptive_report import check_adaptive

        adaptive = check_adaptive(adaptive)
    keep = _correct_mask(classifier, x_clean, y)
    clean = x_clean[keep]
    n = clean.shape[0]
    n_test = int(round(float(test_size) * n))
    if n_test < 2 or n - n_test < 2:
        raise ValueError(f"Only {n} correctly classified pairs; too few for test_size={test_size!r}.")
    if isinstance(batch_size, (int, np.integer)) and not isinstance(batch_size, bool) and batch_size >= 2:
        smallest = min(s.stop - s.start for s in _split(n, int(batch_size)))
        if isinstance(k, (int, np.integer)) and smallest < k + 1:
            raise TooFewNeighboursError(
                f"Only {n} correctly classified samples in `x_clean`, split into reference minibatches of "
                f"{smallest} (`batch_size={batch_size}`): too few for k={k} neighbours; pass more `x_clean` "
                f"samples (>= {k + 1} correctly classified) or a smaller `k`.",
                n_reference=n,
                k=int(k),
            )
    detector = LIDDetector(
        classifier,
        x_reference=clean,
        layers=layers,
        k=k,
        batch_size=batch_size,
        cv=cv,
        seed=seed,
        verbose=verbose,
    )
    groups = [(x_adv[keep], 1), *([] if x_noisy is None else [(x_noisy[keep], 0)])]
    feats = detector.features_many([clean, *(xs for xs, _ in groups)])
    labels = [0] + [label for _, label in groups]
    order = np.random.default_rng(seed).permutation(n)
    test, train = order[:n_test], order[n_test:]

    def stack(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x_f = np.concatenate([f[index] for f in feats])
        y_f = np.concatenate([np.full(index.size, label, dtype=np.int64) for label in labels])
        return x_f, y_f

    detector.fit_features(*stack(train))
    x_test, y_test = stack(test)
    scores = detector.score_features(x_test)
    fpr, tpr, _ = roc_curve(y_test, scores)
    clean_scores, adv_scores = scores[: test.size], scores[test.size : 2 * test.size]
    result: dict[str, Any] = {
        "auc": float(roc_auc_score(y_test, scores)),
        "fpr": fpr.tolist(),
        "tpr": tpr.tolist(),
        "detection_rate_at_5fpr": float((adv_scores > threshold_at_fpr(clean_scores)).mean()),
        "n_train": int(train.size),
        "n_test": int(test.size),
        "n_discarded": int((~keep).sum()),
        "feature_names": list(detector.feature_names_),
        "k": int(k),
        "batch_size": int(batch_size),
        "test_size": float(test_size),
        "seed": int(seed),
    }
    if adaptive:
        from art_activation_defenses.detectors.adaptive_report import adaptive_report, lid_verdict

        labels_kept = classifier.predict(clean).argmax(1) if y is None else _label_indices(y)[keep]
        result["adaptive"] = adaptive_report(
            classifier, detector, clean, labels_kept, test, clean_scores, adaptive, adaptive_params or {}
        )
        result["verdict"] = lid_verdict(result)
    return result
