"""Tune an activation parameter at the validation stage: the accuracy / robustness trade-off
curve (the JumpReLU paper's Figure 4) and the most robust value within an accuracy budget."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from art.attacks.attack import EvasionAttack
from tqdm.auto import tqdm

from art_activation_defenses.activations.registry import activation_class
from art_activation_defenses.defences._common import check_data, check_float
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier

__all__ = ["NEUTRAL_VALUES", "plot_tradeoff", "tune_kappa"]

#: Parameter values at which each activation equals the ReLU it replaced.
NEUTRAL_VALUES: dict[str, float] = {"kappa": 0.0, "t": math.inf, "beta": math.inf, "alpha": 1.0}

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


def _accuracy(classifier: RetrofitClassifier, x: np.ndarray, y: np.ndarray, batch_size: int) -> float:
    return float((classifier.predict(x, batch_size=batch_size).argmax(1) == y).mean())


def _robustness(
    classifier: RetrofitClassifier,
    factory: AttackFactory,
    x: np.ndarray,
    y: np.ndarray,
    p: float,
    batch_size: int,
) -> tuple[float, float]:
    """(mean relative minimal perturbation ``||x_adv - x||_p / ||x||_p`` over the samples the attack
    made misclassified, fool rate among the correctly classified samples); NaN where undefined.

    Computed here rather than with ``metrics`` (a layer below this one)."""
    x_adv = factory(classifier).generate(x, y=y)
    correct = classifier.predict(x, batch_size=batch_size).argmax(1) == y
    wrong_adv = classifier.predict(x_adv, batch_size=batch_size).argmax(1) != y
    success = correct & wrong_adv
    flat_x = x.reshape(len(x), -1).astype(np.float64)
    delta = x_adv.reshape(len(x), -1).astype(np.float64) - flat_x
    ord_ = np.inf if math.isinf(p) else 2
    norms_x = np.linalg.norm(flat_x, ord=ord_, axis=1)
    ratios = np.linalg.norm(delta, ord=ord_, axis=1) / np.where(norms_x > 0, norms_x, np.nan)
    rho = float(np.nanmean(ratios[success])) if success.any() else math.nan
    rate = float(success.sum() / correct.sum()) if correct.any() else math.nan
    return rho, rate


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
    select_by: Literal["white-box", "bpda", "min"] = "white-box",
    batch_size: int = 128,
    verbose: bool = True,
) -> dict[str, Any]:
    """
    Trade-off curve of an activation parameter and the most robust value within an accuracy budget.

    For every value: clean accuracy on ``(x_val, y_val)``, the minimal-perturbation attack's mean
    relative perturbation ``rho = mean ||x_adv - x|| / ||x||`` over the samples it fooled (L2 for
    ``"deepfool"``, L∞ for ``"deepfool-inf"``; the JumpReLU paper's Figure 4) and its fool rate,
    with the classifier's gradient mode as configured (``"exact"``, or ``"eot"`` for a randomized
    defence) and white-box (gray-box ``grad_params`` are cleared while tuning); and, when ``bpda``
    is set, the same with the BPDA (straight-through ReLU) gradient, the adaptive view that could
    refute the white-box one.
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
        ``classifier -> EvasionAttack`` of a minimal-perturbation attack.
    :param param: The activation parameter to tune (``"kappa"``, ``"t"``, ``"beta"``, ``"alpha"``);
        default: the activation's first parameter.
    :param max_accuracy_drop: Accuracy budget in [0, 1] (default 0.01).
    :param reference_value: Parameter value defining the reference accuracy (default: the ReLU value).
    :param bpda: Also record the BPDA curve (default True).
    :param select_by: Robustness used for the choice: ``"white-box"`` (the paper's, default),
        ``"bpda"`` or ``"min"`` (the smaller of the two; needs ``bpda``).
    :param batch_size: Prediction batch size (default 128); also DeepFool's.
    :param verbose: Show a progress bar over the values (default True).
    :return: ``{"param", "values", "accuracy", "rho", "fool_rate", "rho_bpda", "fool_rate_bpda",
        "norm", "attack", "reference_value", "reference_accuracy", "max_accuracy_drop",
        "admissible", "select_by", "chosen", "chosen_index"}`` (lists per value; ``chosen`` is None,
        with a warning, when no value is within the budget).
    """
    if not isinstance(classifier, RetrofitClassifier):
        raise ValueError(f"`classifier` must be a RetrofitClassifier, got {type(classifier).__name__}.")
    names = activation_class(classifier.activation).param_names
    param = names[0] if param is None else param
    if param not in names:
        raise ValueError(
            f"`param` must be one of {names} for activation {classifier.activation!r}, got {param!r}."
        )
    x_np, y_np = check_data(classifier, x_val, y_val)
    values = [float(v) for v in np.asarray(kappas, dtype=np.float64).reshape(-1)] if len(kappas) else []
    if not values:
        raise ValueError(f"`kappas` must hold at least one value, got {kappas!r}.")
    if any(math.isnan(v) for v in values):
        raise ValueError(f"`kappas` must not contain NaN, got {kappas!r}.")
    max_accuracy_drop = check_float("max_accuracy_drop", max_accuracy_drop, strict=False, high=1.0)
    if select_by not in ("white-box", "bpda", "min"):
        raise ValueError(f"`select_by` must be 'white-box', 'bpda' or 'min', got {select_by!r}.")
    if select_by != "white-box" and not bpda:
        raise ValueError(f"`select_by={select_by!r}` needs bpda=True.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"`batch_size` must be a positive integer, got {batch_size!r}.")
    factory = _make_attack(attack, batch_size)
    p = math.inf if attack == "deepfool-inf" else 2.0
    ref = NEUTRAL_VALUES.get(param) if reference_value is None else float(reference_value)
    if ref is None:
        ref = classifier.activation_params[param]

    saved_params = classifier.activation_params
    saved_gradient, saved_eot, saved_grad = (
        classifier.gradient,
        classifier._eot_samples,
        classifier.grad_params,
    )
    rows: dict[str, list[float]] = {
        k: [] for k in ("accuracy", "rho", "fool_rate", "rho_bpda", "fool_rate_bpda")
    }
    try:
        for v in values:  # validate every value before the first attack runs
            classifier.set_params(**{param: v})
        classifier.set_params(**{param: ref})
        ref_acc = _accuracy(classifier, x_np, y_np, batch_size)
        for v in tqdm(values, desc=f"tuning {param}", disable=not verbose):
            classifier.set_params(**{param: v}, gradient=saved_gradient, grad_params={})
            rows["accuracy"].append(_accuracy(classifier, x_np, y_np, batch_size))
            rho, rate = _robustness(classifier, factory, x_np, y_np, p, batch_size)
            rows["rho"].append(rho)
            rows["fool_rate"].append(rate)
            if bpda:
                classifier.set_params(gradient="bpda")
                rho, rate = _robustness(classifier, factory, x_np, y_np, p, batch_size)
                classifier.set_params(gradient=saved_gradient)
            else:
                rho, rate = math.nan, math.nan
            rows["rho_bpda"].append(rho)
            rows["fool_rate_bpda"].append(rate)
    finally:
        classifier.set_params(
            **saved_params, gradient=saved_gradient, eot_samples=saved_eot, grad_params=saved_grad
        )

    admissible = [acc >= ref_acc - max_accuracy_drop - 1e-12 for acc in rows["accuracy"]]
    if select_by == "white-box":
        score = rows["rho"]
    elif select_by == "bpda":
        score = rows["rho_bpda"]
    else:
        score = [min(a, b) for a, b in zip(rows["rho"], rows["rho_bpda"], strict=True)]
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
        "select_by": select_by,
        "chosen": None if chosen_index is None else values[chosen_index],
        "chosen_index": chosen_index,
        "n_samples": int(len(x_np)),
    }


def plot_tradeoff(result: dict[str, Any], path: str | Path) -> Path:
    """
    Plot a :func:`tune_kappa` result as a PNG: clean accuracy (left axis) and the mean relative
    minimal perturbation, white-box and BPDA (right axis), per value; the chosen value marked.

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
    finite = all(math.isfinite(v) for v in values)
    xs = values if finite else list(range(len(values)))

    def col(key: str) -> list[float]:
        return [math.nan if v is None else float(v) for v in result.get(key) or [math.nan] * len(values)]

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(xs, col("accuracy"), "o-", color="tab:blue", label="clean accuracy")
    ax.set_xlabel(result["param"])
    ax.set_ylabel("clean accuracy", color="tab:blue")
    if not finite:
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{v:g}" for v in values])
    ax2 = ax.twinx()
    ax2.plot(xs, col("rho"), "s-", color="tab:red", label="rho (white-box)")
    if any(not math.isnan(v) for v in col("rho_bpda")):
        ax2.plot(xs, col("rho_bpda"), "^--", color="tab:orange", label="rho (BPDA)")
    ax2.set_ylabel(f"mean relative minimal perturbation (L{result.get('norm', '2')})", color="tab:red")
    if result.get("chosen_index") is not None:
        ax.axvline(xs[int(result["chosen_index"])], color="grey", linestyle=":", label="chosen")
    lines = ax.get_legend_handles_labels()
    lines2 = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + lines2[0], lines[1] + lines2[1], loc="best", fontsize="small")
    ax.set_title(f"{result.get('activation', '')} {result['param']} trade-off")
    fig.tight_layout()
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out
