"""The ``detect`` command's function: the LID detector on the ReLU and the retrofitted model, against
plain and detector-aware attacks (:func:`detect_model`), and its Markdown report (:func:`detect_markdown`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

from art_activation_defenses._device import Device
from art_activation_defenses.activations.registry import activation_class
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.experiments._common import environment, write_json
from art_activation_defenses.experiments._setup import estimator_kwargs, open_target, relu_classifier

__all__ = ["DETECT_COLUMNS", "detect_markdown", "detect_model"]


def _adaptive_columns(key: str, name: str, auc: str, success: str) -> list[tuple[str, str, str]]:
    """The three columns of one detector-aware attack (``key`` prefixes the result's keys): its AUC,
    detection rate and success rate; ``auc`` and ``success`` say what the first and the last mean."""
    detection = f"as det@5%FPR, against the adaptive {name}"
    return [
        (f"{key}_auc", f"AUC adaptive {name}", auc),
        (f"{key}_detection_rate_at_5fpr", f"det@5%FPR adaptive {name}", detection),
        (f"{key}_success_rate", f"success adaptive {name}", success),
    ]


#: Columns of the ``detect`` report: (key, header, meaning), written into ``detect.md``.
DETECT_COLUMNS: list[tuple[str, str, str]] = [
    ("model", "model", "the classifier the attacks are crafted on and the detector characterises"),
    ("clean_accuracy", "clean acc", "accuracy on the evaluated test images"),
    ("auc", "AUC plain", "ROC AUC of the LID detector, held-out clean vs plain-attack images"),
    ("detection_rate_at_5fpr", "det@5%FPR plain", "share of the held-out plain-attack images flagged at "
     "the threshold that flags at most 5% of the held-out clean images"),
    *_adaptive_columns(
        "pgd", "PGD", "AUC against the detector-aware PGD (misclassify + score 'clean')",
        "share of held-out adaptive PGD images misclassified AND not flagged at 5% false positives",
    ),
    *_adaptive_columns(
        "cw", "C&W", "AUC against the high-confidence C&W-margin variant",
        "misclassified AND not flagged, adaptive C&W",
    ),
    ("n_test", "test pairs", "held-out (clean, adversarial) pairs the columns are computed on: 30% of the "
     "correctly classified test images (the detector is fitted on the other 70%)"),
    ("n_discarded", "discarded", "test images the model misclassifies before any attack (left out)"),
]  # fmt: skip


def detect_markdown(result: Mapping[str, Any]) -> str:
    """The ``detect.md`` report of :func:`detect_model`'s result (every column explained)."""
    from art_activation_defenses.experiments.report import markdown_table

    adaptive = result["adaptive"]
    lines = [
        "# LID detector (Ma et al. 2018) under plain and detector-aware attacks",
        "",
        f"Dataset {result['dataset']}, n = {result['n_eval']} test images; plain attack "
        f"{result['attack'].upper()} L∞ ε = {result['eps']:g}, crafted white-box on each model; LID k = "
        f"{result['lid_k']}, reference minibatch {result['lid_batch']}. Adaptive attacks (detector-aware, "
        f"against the fitted detector): {', '.join(a.upper() for a in adaptive['attacks']) or 'none'}, "
        f"L∞ ε = {result['eps']:g}, {adaptive['max_iter']} steps of {adaptive['eps_step']:g}"
        + (f"; retrofitted sites: {', '.join(result['layers'])}" if result.get("layers") else "")
        + ".",
        "",
        "Columns:",
        "",
        *[f"- **{header}**: {meaning}" for _, header, meaning in DETECT_COLUMNS],
        "",
        markdown_table(result["rows"], [(k, h) for k, h, _ in DETECT_COLUMNS]),
        "Verdict:",
        "",
        *[f"- {row['model']}: {row['verdict']}" for row in result["rows"]],
        "",
    ]
    return "\n".join(lines)


def detect_model(
    model: str | None = None,
    *,
    weights: str | Path | None,
    activation: str,
    activation_params: Mapping[str, float],
    dataset: str | None = None,
    data_dir: str | None = None,
    layers: Sequence[str] | None = None,
    attack: str = "pgd",
    eps: float = 0.1,
    n_eval: int | None = 500,
    lid_k: int = 20,
    lid_batch: int = 100,
    adaptive: Sequence[str] = ("pgd", "cw"),
    adaptive_steps: int = 50,
    model_kwargs: Mapping[str, Any] | None = None,
    out: str | Path = "detection",
    seed: int = 0,
    verbose: bool = True,
    device: Device = "auto",
) -> dict[str, Any]:
    """LID detection on the ReLU model and on the retrofitted one (JumpReLU paper, Table 3), against the
    plain attack and against detector-aware attacks
    (:class:`~art_activation_defenses.detectors.AdaptiveLIDAttack`).

    Plain adversarial examples are crafted on each model itself (white-box, ``attack`` = ``fgsm`` or
    ``pgd``, L∞ ``eps``); the detector is fitted on 70% of the pairs, and the adaptive attacks (same
    ``eps``, ``adaptive_steps`` steps of ``eps / 10``) attack that fitted detector. ``layers`` picks the
    ReLU sites the defence replaces. Writes ``detect.json`` and ``detect.md`` (every column explained,
    :func:`detect_markdown`) into ``out``. ``device``: ``"auto"`` (CUDA when available), ``"cpu"``,
    ``"cuda"`` or ``"cuda:N"``; both models and their attacks run there.
    """
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescentPyTorch

    from art_activation_defenses.defences import NEUTRAL_VALUES
    from art_activation_defenses.detectors import TooFewNeighboursError, lid_auc

    if attack not in ("fgsm", "pgd"):
        raise ValueError(f"`attack` must be 'fgsm' or 'pgd', got {attack!r}.")
    main_name = activation_class(activation).param_names[0]
    if main_name in activation_params and activation_params[main_name] == NEUTRAL_VALUES.get(main_name):
        warnings.warn(
            f"NO-OP DEFENCE: `{main_name}={activation_params[main_name]:g}` makes {activation} identical to "
            "ReLU; both rows measure the undefended model.",
            UserWarning,
            stacklevel=2,
        )
    t = open_target(
        model, weights, dataset=dataset, data_dir=data_dir, n_eval=n_eval, model_kwargs=model_kwargs, out=out,
        device=device,
    )  # fmt: skip
    x, y = t.x, t.y
    defended = RetrofitClassifier(
        t.net, activation=activation, layers=layers or None, **estimator_kwargs(t.info, t.device),
        **cast(Mapping[str, Any], activation_params),  # as it came from the command line: {"kappa": 1.0}
    )  # fmt: skip
    relu = relu_classifier(t.net, t.info, t.device)
    adaptive_params = {"eps": eps, "eps_step": eps / 10, "max_iter": adaptive_steps, "seed": seed}
    rows = []
    for label, clf in (("ReLU", relu), (f"{activation} {dict(activation_params)}", defended)):
        if attack == "fgsm":
            maker: Any = FastGradientMethod(clf, eps=eps)
        else:
            maker = ProjectedGradientDescentPyTorch(
                clf, eps=eps, eps_step=eps / 4, max_iter=20, verbose=False
            )
        x_adv = maker.generate(x, y=y)
        try:
            res = lid_auc(
                clf, x, x_adv, y=y, k=lid_k, batch_size=lid_batch, seed=seed, verbose=verbose,
                adaptive=adaptive, adaptive_params=adaptive_params,
            )  # fmt: skip
        except TooFewNeighboursError as err:
            raise ValueError(
                f"{label}: only {err.n_reference} of the `n_eval={n_eval}` test images are classified "
                f"correctly, too few reference images for k={lid_k} neighbours; pass a larger `n_eval` "
                f"(at least {err.k + 1} correctly classified images) or a smaller `lid_k`."
            ) from None
        row = {
            "model": label,
            "clean_accuracy": float((clf.predict(x).argmax(1) == y).mean()),
            **{k: res[k] for k in ("auc", "detection_rate_at_5fpr", "n_test", "n_train", "n_discarded")},
            "verdict": res["verdict"] if adaptive else "no adaptive attack run",
        }
        for name, values in res.get("adaptive", {}).items():
            row.update({f"{name}_{key}": value for key, value in values.items()})
        rows.append(row)
    result = {
        "attack": attack,
        "eps": eps,
        "dataset": t.dataset,
        "n_eval": int(x.shape[0]),
        "layers": list(layers) if layers else None,
        "lid_k": lid_k,
        "lid_batch": lid_batch,
        "adaptive": {"attacks": list(adaptive), **adaptive_params},
        "rows": rows,
        "environment": environment(),
    }
    write_json(result, Path(out) / "detect.json")
    (Path(out) / "detect.md").write_text(detect_markdown(result), encoding="utf-8")
    return result
