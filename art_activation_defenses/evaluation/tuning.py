"""Tune an activation parameter at the validation stage: the accuracy / robustness trade-off
curve (the JumpReLU paper's Figure 4) and the most robust value within an accuracy budget.

An evaluation: ρ and the fool rate are :mod:`~art_activation_defenses.metrics`' (``relative_perturbation``,
``fool_rate``) and the gradient settings are switched (and put back) by :func:`gradient_mode`."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from art.attacks.attack import EvasionAttack
from tqdm.auto import tqdm

from art_activation_defenses._plotting import finish_figure, legend_entries
from art_activation_defenses._validation import check_array, check_in_clip, check_labels, check_scalar
from art_activation_defenses.activations.registry import activation_class
from art_activation_defenses.defences import NEUTRAL_VALUES
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier
from art_activation_defenses.evaluation._attacks import gradient_mode
from art_activation_defenses.metrics import fool_rate, relative_perturbation

__all__ = ["masking_flags", "plot_tradeoff", "tune_kappa"]

AttackFactory = Callable[[RetrofitClassifier], EvasionAttack]
_ATTACKS = ("deepfool", "deepfool-inf")


def _make_attack(attack: str | AttackFactory, batch_size: int) -> AttackFactory:
    if callable(attack):
        return attack
    if attack not in _ATTACKS:
        raise ValueError(
            f"`attack` must be one of {_ATTACKS} or a callable classifier -> attack, got {attack!r}."
        )
    from art_activation_defenses.attacks import DeepFool

    norm = 2 if attack == "deepfool" else np.inf

    def factory(classifier: RetrofitClassifier) -> EvasionAttack:
        return DeepFool(classifier, norm=norm, max_iter=50, batch_size=batch_size, verbose=False)

    return factory


def _correct(classifier: RetrofitClassifier, x: np.ndarray, y: np.ndarray, batch_size: int) -> np.ndarray:
    return np.asarray(classifier.predict(x, batch_size=batch_size)).argmax(1) == y


def _robustness(
    classifier: RetrofitClassifier,
    factory: AttackFactory,
    x: np.ndarray,
    y: np.ndarray,
    correct: np.ndarray,
    p: float,
    batch_size: int,
) -> tuple[float, float]:
    """(mean relative minimal perturbation ``||x_adv - x||_p / ||x||_p`` over the correctly
    classified samples (``correct``) the attack made misclassified, fool rate among the correctly
    classified samples); NaN where undefined. Samples of zero norm have no relative size and are
    left out of ρ."""
    x_adv = factory(classifier).generate(x, y=y)
    if not correct.any():
        return math.nan, math.nan
    keep = correct & (x.reshape(len(x), -1) != 0).any(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # NaN (none fooled) is the documented value
        rate = fool_rate(classifier, x[correct], x_adv[correct], y=y[correct], batch_size=batch_size)
        rho = (
            relative_perturbation(
                x[keep], x_adv[keep], norm=p, classifier=classifier, y=y[keep], batch_size=batch_size
            )
            if keep.any()
            else math.nan
        )
    return rho, rate


def masking_flags(rho: Sequence[float], rho_bpda: Sequence[float], margin: float) -> list[bool]:
    """Per value: is the BPDA ρ more than ``margin`` (a fraction) below the white-box ρ? Then the
    white-box curve overstates robustness there. NaN on either side never flags."""
    return [
        not (math.isnan(w) or math.isnan(b)) and b < (1.0 - margin) * w
        for w, b in zip(rho, rho_bpda, strict=True)
    ]


def _check_xy(classifier: RetrofitClassifier, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """The shared checks of a validation set: float32 ``x`` within the clip values, int64 labels."""
    check_array(x, "x", ndim_min=2, input_shape=classifier.input_shape)
    check_in_clip(x, "x", classifier.clip_values, tolerance=1e-6)
    labels = check_labels(y, "y", len(x), classifier.nb_classes)
    return np.asarray(x, dtype=np.float32), labels


def tune_kappa(
    classifier: RetrofitClassifier,
    x_val: np.ndarray,
    y_val: np.ndarray,
    kappas: Sequence[float],
    *,
    attack: Literal["deepfool", "deepfool-inf"] | AttackFactory = "deepfool",
    param: str | None = None,
    max_accuracy_drop: float = 0.01,
    reference_value: float | None = None,
    bpda: bool = True,
    select_by: Literal["white-box", "bpda", "min"] | None = None,
    flag_margin: float = 0.1,
    batch_size: int = 128,
    verbose: bool = True,
) -> dict[str, Any]:
    """
    Trade-off curve of an activation parameter and the most robust value within an accuracy budget.

    For every value: clean accuracy on ``(x_val, y_val)``, the minimal-perturbation attack's mean
    relative perturbation ``rho = mean ||x_adv - x|| / ||x||`` over the correctly classified samples
    it fooled (L2 for ``"deepfool"``, L∞ for ``"deepfool-inf"``; the JumpReLU paper's Figure 4) and
    its fool rate among the correctly classified samples, with the classifier's gradient mode as
    configured (``"exact"``, or ``"eot"`` for a randomized defence) and white-box (gray-box
    ``grad_params`` are cleared while tuning); and, when ``bpda`` is set, the same with the BPDA
    (straight-through ReLU) gradient, the adaptive view that could refute the white-box one.
    The chosen value maximises robustness (see ``select_by``) among the values whose accuracy is
    at least ``reference accuracy - max_accuracy_drop``; the reference accuracy is that of
    ``reference_value`` (default: the parameter's ReLU value, kappa 0, t/beta inf, alpha 1).
    The classifier's parameters and gradient mode are restored afterwards, even on error.
    Note: ``rho`` averages over fooled samples only; read it beside ``fool_rate``.

    | Paper link: https://arxiv.org/abs/1904.03750

    :param classifier: A ``RetrofitClassifier``.
    :param x_val: Validation inputs ``(n, *input_shape)`` (not modified).
    :param y_val: Validation labels (indices or one-hot).
    :param kappas: Values of the parameter to try (non-empty; each validated by the activation).
    :param attack: ``"deepfool"`` (L2, default), ``"deepfool-inf"`` or a callable
        ``classifier -> EvasionAttack`` of a minimal-perturbation attack (called with ``y``).
    :param param: The activation parameter to tune (``"kappa"``, ``"t"``, ``"beta"``, ``"alpha"``);
        default: the activation's first parameter.
    :param max_accuracy_drop: Accuracy budget in [0, 1] (default 0.01).
    :param reference_value: Parameter value defining the reference accuracy (default: the ReLU value).
    :param bpda: Also record the BPDA curve (default True).
    :param select_by: Robustness used for the choice: ``"min"`` (the smaller of white-box and BPDA
        ρ, the honest worst case; the default when ``bpda`` is set), ``"white-box"`` (the paper's
        rule; the default with ``bpda=False``) or ``"bpda"``.
    :param flag_margin: A value is flagged (``masking_flag``) when its BPDA ρ is more than this
        fraction below its white-box ρ: the white-box curve then overstates robustness (default 0.1).
    :param batch_size: Prediction batch size (default 128); also DeepFool's.
    :param verbose: Show a progress bar over the values (default True).
    :return: ``{"param", "values", "accuracy", "rho", "fool_rate", "rho_bpda", "fool_rate_bpda",
        "norm", "attack", "reference_value", "reference_accuracy", "max_accuracy_drop",
        "admissible", "masking_flag", "flag_margin", "select_by", "chosen", "chosen_index",
        "n_samples"}`` (lists per value; ``chosen`` is None, with a warning, when no value is within
        the budget).
    """
    if not isinstance(classifier, RetrofitClassifier):
        raise ValueError(f"`classifier` must be a RetrofitClassifier, got {type(classifier).__name__}.")
    names = activation_class(classifier.activation).param_names
    param = names[0] if param is None else param
    if param not in names:
        raise ValueError(
            f"`param` must be one of {names} for activation {classifier.activation!r}, got {param!r}."
        )
    x_np, y_np = _check_xy(classifier, x_val, y_val)
    values = [float(v) for v in np.asarray(kappas, dtype=np.float64).reshape(-1)] if len(kappas) else []
    if not values:
        raise ValueError(f"`kappas` must hold at least one value, got {kappas!r}.")
    if any(math.isnan(v) for v in values):
        raise ValueError(f"`kappas` must not contain NaN, got {kappas!r}.")
    max_accuracy_drop = check_scalar(max_accuracy_drop, "max_accuracy_drop", min_val=0.0, max_val=1.0)
    flag_margin = check_scalar(flag_margin, "flag_margin", min_val=0.0, max_val=1.0)
    if select_by is None:
        select_by = "min" if bpda else "white-box"
    if select_by not in ("white-box", "bpda", "min"):
        raise ValueError(f"`select_by` must be 'white-box', 'bpda' or 'min', got {select_by!r}.")
    if select_by != "white-box" and not bpda:
        raise ValueError(f"`select_by={select_by!r}` needs bpda=True.")
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    factory = _make_attack(attack, batch_size)
    p = math.inf if attack == "deepfool-inf" else 2.0
    ref = NEUTRAL_VALUES.get(param) if reference_value is None else float(reference_value)
    if ref is None:
        ref = classifier.activation_params[param]

    saved_params = classifier.activation_params
    rows: dict[str, list[float]] = {
        k: [] for k in ("accuracy", "rho", "fool_rate", "rho_bpda", "fool_rate_bpda")
    }
    try:
        for v in values:  # validate every value before the first attack runs
            classifier.set_params(**{param: v})
        classifier.set_params(**{param: ref})
        ref_acc = float(_correct(classifier, x_np, y_np, batch_size).mean())
        # the configured mode (exact or eot), white-box: gray-box grad_params cleared, put back after
        with gradient_mode(classifier, classifier.gradient, classifier.eot_samples):
            for v in tqdm(values, desc=f"tuning {param}", disable=not verbose):
                classifier.set_params(**{param: v})
                correct = _correct(classifier, x_np, y_np, batch_size)
                rows["accuracy"].append(float(correct.mean()))
                rho, rate = _robustness(classifier, factory, x_np, y_np, correct, p, batch_size)
                rows["rho"].append(rho)
                rows["fool_rate"].append(rate)
                rho, rate = math.nan, math.nan
                if bpda:
                    with gradient_mode(classifier, "bpda", classifier.eot_samples):
                        rho, rate = _robustness(classifier, factory, x_np, y_np, correct, p, batch_size)
                rows["rho_bpda"].append(rho)
                rows["fool_rate_bpda"].append(rate)
    finally:
        classifier.set_params(**saved_params)

    admissible = [acc >= ref_acc - max_accuracy_drop - 1e-12 for acc in rows["accuracy"]]
    if select_by == "white-box":
        score = rows["rho"]
    elif select_by == "bpda":
        score = rows["rho_bpda"]
    else:
        score = [min(a, b) for a, b in zip(rows["rho"], rows["rho_bpda"], strict=True)]
    masking = masking_flags(rows["rho"], rows["rho_bpda"], flag_margin)
    candidates = [i for i, ok in enumerate(admissible) if ok and not math.isnan(score[i])]
    chosen_index: int | None = max(candidates, key=lambda i: (score[i], -i)) if candidates else None
    if chosen_index is None:
        warnings.warn(
            f"tune_kappa: no value of {param} keeps the accuracy within {max_accuracy_drop} of the reference "
            f"{ref_acc:.4f}; nothing chosen.",
            stacklevel=2,
        )
    return {
        "param": param,
        "activation": classifier.activation,
        "values": values,
        **rows,
        "norm": "inf" if math.isinf(p) else "2",
        "attack": attack if isinstance(attack, str) else getattr(attack, "__name__", "callable"),
        "reference_value": ref,
        "reference_accuracy": ref_acc,
        "max_accuracy_drop": max_accuracy_drop,
        "admissible": admissible,
        "masking_flag": masking,
        "flag_margin": flag_margin,
        "select_by": select_by,
        "chosen": None if chosen_index is None else values[chosen_index],
        "chosen_index": chosen_index,
        "n_samples": int(len(x_np)),
    }


def plot_tradeoff(result: dict[str, Any], path: str | Path) -> Path:
    """
    Plot a :func:`tune_kappa` result as a PNG: clean accuracy (left panel, axis 0 to 1, the
    accuracy budget dashed) and the mean relative minimal perturbation ρ, white-box and BPDA
    (right panel, axis from 0), per value. The chosen value is marked in both panels, values
    outside the budget are greyed, and values whose BPDA ρ undercuts the white-box ρ
    (``masking_flag``) carry a red ⚠. The title states the attack, its norm, n and the rule.

    :param result: The dict returned by :func:`tune_kappa` (or its JSON).
    :param path: Output file (parents created).
    :return: The path written.
    """
    missing = [k for k in ("param", "values", "accuracy", "rho") if k not in result]
    if missing:
        raise ValueError(f"`result` is not a tune_kappa result: missing keys {missing}.")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = [math.inf if v is None else float(v) for v in result["values"]]
    n_values = len(values)
    finite = all(math.isfinite(v) for v in values)
    xs = values if finite else list(range(n_values))

    def col(key: str) -> list[float]:
        return [math.nan if v is None else float(v) for v in result.get(key) or [math.nan] * n_values]

    def flags(key: str) -> list[bool]:
        return [bool(v) for v in result.get(key) or [False] * n_values]

    param = result["param"]
    label = {"kappa": "κ", "beta": "β", "alpha": "α"}.get(param, param)
    admissible = result.get("admissible") or [True] * n_values
    masking = flags("masking_flag")
    chosen = result.get("chosen_index")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4.4))
    ax1.plot(xs, col("accuracy"), "o-", color="tab:blue", label="clean accuracy")
    ref, drop = result.get("reference_accuracy"), result.get("max_accuracy_drop")
    if ref is not None and drop is not None:
        ax1.axhline(
            float(ref) - float(drop),
            color="tab:blue",
            linestyle="--",
            linewidth=0.8,
            label=f"budget: reference − {float(drop):g}",
        )
    ax1.set(xlabel=label, ylabel="clean accuracy", ylim=(0.0, 1.02), title="Clean accuracy")
    ax2.plot(xs, col("rho"), "s-", color="tab:red", label="ρ white-box")
    if any(not math.isnan(v) for v in col("rho_bpda")):
        ax2.plot(xs, col("rho_bpda"), "^--", color="tab:orange", label="ρ BPDA (adaptive)")
    top = max([v for v in col("rho") + col("rho_bpda") if not math.isnan(v)] or [1.0])
    ax2.set(xlabel=label, ylim=(0.0, 1.15 * top), title="Minimal perturbation")
    ax2.set_ylabel(f"mean ρ = ‖δ‖/‖x‖ (L{result.get('norm', '2')}, fooled samples)")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
        for i, ok in enumerate(admissible):
            if not ok:
                ax.axvspan(xs[i] - 0.02 * _span(xs), xs[i] + 0.02 * _span(xs), color="grey", alpha=0.25, lw=0)
        if chosen is not None:
            ax.axvline(xs[int(chosen)], color="tab:green", linestyle=":", linewidth=1.5)
        if not finite:
            ax.set_xticks(xs)
            ax.set_xticklabels([f"{v:g}" for v in values])
    for i, flagged in enumerate(masking):
        if flagged:
            ax2.annotate("⚠", (xs[i], col("rho")[i]), color="red", ha="center", va="bottom", fontsize=13)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles, labels = legend_entries((ax1, ax2))
    handles += [
        Line2D([], [], color="tab:green", linestyle=":", linewidth=1.5),
        Patch(color="grey", alpha=0.25),
        Line2D([], [], color="red", marker="$⚠$", linestyle="", markersize=9),
    ]
    chosen_text = "chosen: none" if chosen is None else f"chosen {label} = {values[int(chosen)]:g}"
    margin = float(result.get("flag_margin", 0.1))
    flag_text = f"flagged: BPDA ρ > {margin:.0%} below white-box ρ" + ("" if any(masking) else " (none)")
    labels += [chosen_text, "outside the accuracy budget", flag_text]
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize="small", frameon=False)
    attack = str(result.get("attack", "deepfool"))
    attack = {"deepfool": "DeepFool-L2", "deepfool-inf": "DeepFool-L∞"}.get(attack, attack)
    n = result.get("n_samples")
    fig.suptitle(
        f"{result.get('activation', '')} {label} trade-off: {attack} (minimal-perturbation, no ε), "
        f"n = {n if n is not None else '?'}, selected by {result.get('select_by', '?')} ρ",
        fontsize=10,
    )
    return finish_figure(fig, path, rect=(0, 0.12, 1, 1))


def _span(xs: Sequence[float]) -> float:
    width = max(xs) - min(xs) if len(xs) > 1 else 1.0
    return width if width > 0 else 1.0
