"""Library functions behind the ``train``, ``evaluate``, ``tune`` and ``detect`` commands.

Each takes plain arguments, writes JSON (+ Markdown/PNG) into ``out`` and returns the
results dict, so scripts can call them without the command line.
"""

from __future__ import annotations

import importlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.activations import retrofit
from art_activation_defenses.activations.registry import activation_class, create_activation
from art_activation_defenses.data import dataset_info, load_dataset
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.experiments._common import environment, write_json
from art_activation_defenses.models import MODELS, build_model
from art_activation_defenses.training import evaluate, fit, load_checkpoint, read_checkpoint, save_checkpoint

__all__ = [
    "check_out_dir",
    "checkpoint_settings",
    "load_model",
    "train_model",
    "evaluate_model",
    "tune_model",
    "detect_model",
]

DEFAULT_MODEL = "lenet-like"
DEFAULT_DATASET = "digits"


def checkpoint_settings(
    weights: str | Path | None,
    *,
    model: str | None = None,
    dataset: str | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The model, dataset and model kwargs to use with ``weights``: the given ones, else what the
    checkpoint records (``train`` writes them), else ``lenet-like`` on ``digits``.

    :return: ``{"model", "dataset", "model_kwargs", "metadata"}``.
    :raises ValueError: The checkpoint cannot be read, or it records an input shape that the
        dataset does not have.
    """
    meta = read_checkpoint(weights)[1] if weights is not None else {}
    kwargs = model_kwargs if model_kwargs is not None else meta.get("model_kwargs")
    resolved: dict[str, Any] = {
        "model": model or meta.get("model") or DEFAULT_MODEL,
        "dataset": dataset or meta.get("dataset") or DEFAULT_DATASET,
        "model_kwargs": dict(kwargs or {}),
        "metadata": meta,
    }
    shape = meta.get("input_shape")
    if shape is not None:
        data_shape = tuple(dataset_info(resolved["dataset"])["input_shape"])
        if tuple(shape) != data_shape:
            raise ValueError(
                f"`weights={str(weights)!r}` holds a model for inputs {tuple(shape)} (trained on "
                f"{meta.get('dataset')!r}), but `dataset={resolved['dataset']!r}` has inputs {data_shape}; "
                f"pass `dataset={meta.get('dataset')!r}` or leave it out."
            )
    return resolved


def _factory_model(spec: str, kwargs: Mapping[str, Any]) -> nn.Module:
    module_name, _, attr = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as err:
        raise ValueError(f"Cannot import `model={spec!r}`: {err}.") from None
    try:
        model = factory(**kwargs)
    except TypeError as err:
        raise ValueError(
            f"`model={spec!r}` cannot be built from `model_kwargs={dict(kwargs)}`: {err}."
        ) from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"`model={spec!r}` returned {type(model).__name__}, not a torch.nn.Module.")
    return model


def load_model(
    spec: str,
    input_shape: Sequence[int],
    nb_classes: int,
    *,
    weights: str | Path | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    activation: str | None = None,
    activation_params: Mapping[str, float] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Build a model from a zoo name or an import path ``package.module:Factory`` and load weights.

    :param spec: Zoo name (``"lenet-like"``...) or ``"module.path:ClassOrFunction"``; a class or
        function from an import path is called with ``**model_kwargs``.
    :param weights: A ``state_dict`` file (ours or a plain ``torch.save(model.state_dict())``),
        loaded with ``weights_only=True``. A checkpoint that records a training activation
        (``train --activation brelu``) is rebuilt with that activation, unless ``activation`` is given.
    :param activation: Build the model with this activation in place of its ReLUs (the training
        activation); ``activation_params`` are its parameters.
    :return: The model (eval mode) and the checkpoint metadata.
    """
    kwargs = dict(model_kwargs or {})
    meta: dict[str, Any] = read_checkpoint(weights)[1] if weights is not None else {}
    if activation is None and meta.get("activation"):
        activation, activation_params = str(meta["activation"]), meta.get("activation_params") or {}
    params: dict[str, Any] = dict(activation_params or {})
    if activation is not None:
        create_activation(activation, **params)  # validate now, not inside the model factory
    if spec in MODELS:
        if activation is not None:
            name = activation
            kwargs["activation"] = lambda: create_activation(name, **params)
        model = build_model(spec, tuple(input_shape), nb_classes, **kwargs)
    elif ":" in spec:
        model = _factory_model(spec, kwargs)
        if activation is not None:
            model = retrofit(model, activation, copy=False, **params).model
    else:
        raise ValueError(
            f"Unknown `model={spec!r}`: a zoo name {sorted(MODELS)} or 'package.module:Factory'."
        )
    if weights is not None:
        meta = load_checkpoint(model, weights)
    return model.eval(), meta


def _data(
    dataset: str, data_dir: str | None, n_eval: int | None
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    info = dataset_info(dataset)
    x, y = load_dataset(dataset, data_dir, "test", limit=n_eval)
    return info, x, y


def _defended(
    model: nn.Module,
    info: Mapping[str, Any],
    activation: str,
    params: Mapping[str, float],
    layers: Sequence[str] | None,
) -> tuple[PyTorchClassifier, RetrofitClassifier]:
    relu = PyTorchClassifier(
        model, nn.CrossEntropyLoss(), info["input_shape"], info["nb_classes"], clip_values=info["clip_values"]
    )
    defended = RetrofitClassifier.from_classifier(relu, activation, layers=layers or None, **params)
    return relu, defended


def train_model(
    model: str = DEFAULT_MODEL,
    *,
    dataset: str = DEFAULT_DATASET,
    data_dir: str | None = None,
    out: str | Path = "model.pt",
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 128,
    activation: str | None = None,
    activation_params: Mapping[str, float] | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, Any]:
    """Train a zoo model or your own (``"package.module:Factory"``, built with ``model_kwargs``),
    optionally with a defence activation in place of its ReLUs (e.g. bounded ReLU t=1), and save it.

    The checkpoint records the model, its kwargs, the dataset, input shape and number of classes, so
    ``evaluate_model``/``tune_model`` (and the commands) need only ``weights``. The weights are
    initialised from ``seed`` without touching torch's global generator.

    :return: Metadata written into the checkpoint (model, dataset, accuracies, settings).
    """
    info = dataset_info(dataset)
    if activation_params and activation is None:
        raise ValueError(
            f"`activation_params={dict(activation_params)}` needs `activation` (e.g. activation='brelu'); "
            "without it the model trains with plain ReLU."
        )
    x, y = load_dataset(dataset, data_dir, "train")
    x_test, y_test = load_dataset(dataset, data_dir, "test")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net, _ = load_model(
            model,
            info["input_shape"],
            info["nb_classes"],
            model_kwargs=model_kwargs,
            activation=activation,
            activation_params=activation_params,
        )
    history = fit(net, x, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, verbose=verbose)
    meta = {
        "model": model,
        "input_shape": list(info["input_shape"]),
        "nb_classes": int(info["nb_classes"]),
        "model_kwargs": {k: v for k, v in (model_kwargs or {}).items()},
        "activation": activation,
        "activation_params": dict(activation_params or {}),
        "dataset": dataset,
        "epochs": epochs,
        "lr": lr,
        "batch_size": batch_size,
        "seed": seed,
        "train_accuracy": history["accuracy"][-1],
        "test_accuracy": evaluate(net, x_test, y_test),
    }
    save_checkpoint(net, out, metadata=json.loads(json.dumps(meta)))
    return meta


def check_out_dir(out: str | Path) -> Path:
    """``out`` as a directory to write into, checked before any work (an existing file is refused)."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"`out={str(out)!r}` is an existing file; give a directory.")
    return path


def _random_weights_check(weights: str | Path | None, allow_random_weights: bool, what: str) -> None:
    if weights is None:
        if not allow_random_weights:
            raise ValueError(
                f"`weights` is None: {what} an untrained, randomly initialised model; pass the trained "
                "model's checkpoint (or allow_random_weights=True to do it anyway)."
            )
        warnings.warn(
            f"NO WEIGHTS: {what} a randomly initialised model; its numbers say nothing about a trained one.",
            UserWarning,
            stacklevel=3,
        )


def evaluate_model(
    model: str | None = None,
    *,
    weights: str | Path | None,
    activation: str,
    activation_params: Mapping[str, float],
    dataset: str | None = None,
    data_dir: str | None = None,
    layers: Sequence[str] | None = None,
    attacks: Sequence[str] | None = None,
    eps: float | None = None,
    max_iter: int | None = None,
    surrogate: bool = False,
    n_eval: int | None = 500,
    model_kwargs: Mapping[str, Any] | None = None,
    out: str | Path = "evaluation",
    seed: int = 0,
    verbose: bool = True,
    allow_random_weights: bool = False,
    norm: float | str = "inf",
    budget: str = "standard",
) -> dict[str, Any]:
    """Retrofit a user's model with a defence and run the adaptive-attack audit on it.

    ``model``, ``dataset`` and ``model_kwargs`` default to what the checkpoint records (see
    :func:`checkpoint_settings`). ``weights=None`` (a random model) is refused unless
    ``allow_random_weights`` is set. Writes ``audit.json`` and ``audit.md`` into ``out``.
    """
    from art_activation_defenses.evaluation import audit, render_audit_markdown

    check_out_dir(out)
    _random_weights_check(weights, allow_random_weights, "auditing")
    settings = checkpoint_settings(weights, model=model, dataset=dataset, model_kwargs=model_kwargs)
    model, dataset = settings["model"], settings["dataset"]
    info, x, y = _data(dataset, data_dir, n_eval)
    net, meta = load_model(
        model, info["input_shape"], info["nb_classes"], weights=weights, model_kwargs=settings["model_kwargs"]
    )
    relu, defended = _defended(net, info, activation, activation_params, layers)
    result = audit(
        defended,
        relu,
        x,
        y,
        attacks=attacks,
        eps=eps,
        max_iter=max_iter,
        surrogate=surrogate,
        seed=seed,
        verbose=verbose,
        norm=norm,
        budget=budget,
    )
    result.update(
        model=model,
        weights=str(weights) if weights else None,
        dataset=dataset,
        checkpoint_metadata=meta,
        activation=activation,
        activation_params=dict(activation_params),
        environment=environment(),
    )
    out = Path(out)
    write_json(result, out / "audit.json")
    title = f"Audit: {activation} {dict(activation_params)} on {model} ({dataset})"
    if weights is None:
        title += " — RANDOM WEIGHTS, NOT A TRAINED MODEL"
    (out / "audit.md").write_text(render_audit_markdown(result, title=title), encoding="utf-8")
    return result


def tune_model(
    model: str | None = None,
    *,
    weights: str | Path | None,
    activation: str,
    values: Sequence[float],
    param: str | None = None,
    dataset: str | None = None,
    data_dir: str | None = None,
    layers: Sequence[str] | None = None,
    max_accuracy_drop: float = 0.01,
    attack: str = "deepfool",
    n_eval: int | None = 500,
    model_kwargs: Mapping[str, Any] | None = None,
    out: str | Path = "tuning",
    verbose: bool = True,
    select_by: str = "min",
    allow_random_weights: bool = False,
) -> dict[str, Any]:
    """Trade-off curve of an activation parameter on validation data.

    Writes ``tune.json`` and ``tradeoff.png`` into ``out``. ``model``, ``dataset`` and
    ``model_kwargs`` default to what the checkpoint records; ``select_by`` (default ``"min"``, the
    worst case of white-box and BPDA ρ) is passed to :func:`~art_activation_defenses.defences.tune_kappa`.

    The validation images are the *first* ``n_eval`` images of the test split; report robustness on
    other images than those used to tune.
    """
    from art_activation_defenses.defences import plot_tradeoff, tune_kappa

    check_out_dir(out)
    _random_weights_check(weights, allow_random_weights, "tuning on")
    settings = checkpoint_settings(weights, model=model, dataset=dataset, model_kwargs=model_kwargs)
    model, dataset = settings["model"], settings["dataset"]
    info, x, y = _data(dataset, data_dir, n_eval)
    net, _ = load_model(
        model, info["input_shape"], info["nb_classes"], weights=weights, model_kwargs=settings["model_kwargs"]
    )
    name = param or activation_class(activation).param_names[0]
    start = {name: float(values[0])}
    _, defended = _defended(net, info, activation, start, layers)
    result = tune_kappa(
        defended,
        x,
        y,
        values,
        attack=cast(Any, attack),
        param=name,
        max_accuracy_drop=max_accuracy_drop,
        select_by=cast(Any, select_by),
        verbose=verbose,
    )
    result.update(model=model, dataset=dataset, activation=activation, environment=environment())
    out = Path(out)
    write_json(result, out / "tune.json")
    plot_tradeoff(result, out / "tradeoff.png")
    return result


#: Columns of the ``detect`` report: (key, header, meaning), written into ``detect.md``.
DETECT_COLUMNS: list[tuple[str, str, str]] = [
    ("model", "model", "the classifier the attacks are crafted on and the detector characterises"),
    ("clean_accuracy", "clean acc", "accuracy on the evaluated test images"),
    ("auc", "AUC plain", "ROC AUC of the LID detector, held-out clean vs plain-attack images"),
    ("detection_rate_at_5fpr", "det@5%FPR plain", "share of the held-out plain-attack images flagged at "
     "the threshold that flags at most 5% of the held-out clean images"),
    ("pgd_auc", "AUC adaptive PGD", "AUC against the detector-aware PGD (misclassify + score 'clean')"),
    ("pgd_detection_rate_at_5fpr", "det@5%FPR adaptive PGD", "as det@5%FPR, against the adaptive PGD"),
    ("pgd_success_rate", "success adaptive PGD", "share of held-out adaptive PGD images misclassified AND "
     "not flagged at 5% false positives"),
    ("cw_auc", "AUC adaptive C&W", "AUC against the high-confidence C&W-margin variant"),
    ("cw_detection_rate_at_5fpr", "det@5%FPR adaptive C&W", "as det@5%FPR, against the adaptive C&W"),
    ("cw_success_rate", "success adaptive C&W", "misclassified AND not flagged, adaptive C&W"),
    ("n_test", "test pairs", "held-out (clean, adversarial) pairs the columns are computed on: 30% of the "
     "correctly classified test images (the detector is fitted on the other 70%)"),
    ("n_discarded", "discarded", "test images the model misclassifies before any attack (left out)"),
]  # fmt: skip


def _detect_markdown(result: Mapping[str, Any]) -> str:
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
) -> dict[str, Any]:
    """LID detection on the ReLU model and on the retrofitted one (JumpReLU paper, Table 3), against the
    plain attack and against detector-aware attacks
    (:class:`~art_activation_defenses.detectors.AdaptiveLIDAttack`).

    Plain adversarial examples are crafted on each model itself (white-box, ``attack`` = ``fgsm`` or
    ``pgd``, L∞ ``eps``); the detector is fitted on 70% of the pairs, and the adaptive attacks (same
    ``eps``, ``adaptive_steps`` steps of ``eps / 10``) attack that fitted detector. ``layers`` picks the
    ReLU sites the defence replaces. Writes ``detect.json`` and ``detect.md`` (every column explained)
    into ``out``.
    """
    from art.attacks.evasion import FastGradientMethod, ProjectedGradientDescentPyTorch

    from art_activation_defenses.defences import NEUTRAL_VALUES
    from art_activation_defenses.detectors import TooFewNeighboursError, lid_auc

    if attack not in ("fgsm", "pgd"):
        raise ValueError(f"`attack` must be 'fgsm' or 'pgd', got {attack!r}.")
    settings = checkpoint_settings(weights, model=model, dataset=dataset, model_kwargs=model_kwargs)
    model, dataset = settings["model"], settings["dataset"]
    main_name = activation_class(activation).param_names[0]
    if main_name in activation_params and activation_params[main_name] == NEUTRAL_VALUES.get(main_name):
        warnings.warn(
            f"NO-OP DEFENCE: `{main_name}={activation_params[main_name]:g}` makes {activation} identical to "
            "ReLU; both rows measure the undefended model.",
            UserWarning,
            stacklevel=2,
        )
    info, x, y = _data(dataset, data_dir, n_eval)
    net, _ = load_model(
        model, info["input_shape"], info["nb_classes"], weights=weights, model_kwargs=settings["model_kwargs"]
    )
    relu, defended = _defended(net, info, activation, activation_params, layers)
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
        "dataset": dataset,
        "n_eval": int(x.shape[0]),
        "layers": list(layers) if layers else None,
        "lid_k": lid_k,
        "lid_batch": lid_batch,
        "adaptive": {"attacks": list(adaptive), **adaptive_params},
        "rows": rows,
        "environment": environment(),
    }
    write_json(result, Path(out) / "detect.json")
    (Path(out) / "detect.md").write_text(_detect_markdown(result), encoding="utf-8")
    return result
