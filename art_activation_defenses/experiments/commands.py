"""Library functions behind the ``train``, ``evaluate``, ``tune`` and ``detect`` commands.

Each takes plain arguments, writes JSON (+ Markdown/PNG) into ``out`` and returns the
results dict, so scripts can call them without the command line; :func:`evaluate_markdown` and
:func:`detect_markdown` render the reports from a result dict (the command line prints those,
it never re-reads the files). Every function takes ``device=`` (``"auto"``, ``"cpu"``,
``"cuda"``, ``"cuda:N"``), resolved once before any work.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, cast

import torch

from art_activation_defenses._device import Device, resolve_device
from art_activation_defenses.activations.registry import activation_class
from art_activation_defenses.data import dataset_info, load_dataset
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.experiments._common import environment, write_json
from art_activation_defenses.experiments._detect import DETECT_COLUMNS, detect_markdown, detect_model
from art_activation_defenses.experiments._setup import (
    DEFAULT_DATASET,
    DEFAULT_MODEL,
    check_out_dir,
    checkpoint_settings,
    estimator_kwargs,
    load_model,
    open_target,
    relu_classifier,
)
from art_activation_defenses.training import evaluate, fit, save_checkpoint

__all__ = [
    "DEFAULT_DATASET",
    "DEFAULT_MODEL",
    "DETECT_COLUMNS",
    "check_out_dir",
    "checkpoint_settings",
    "load_model",
    "train_model",
    "evaluate_model",
    "evaluate_markdown",
    "tune_model",
    "detect_model",
    "detect_markdown",
]


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
    device: Device = "auto",
) -> dict[str, Any]:
    """Train a zoo model or your own (``"package.module:Factory"``, built with ``model_kwargs``),
    optionally with a defence activation in place of its ReLUs (e.g. bounded ReLU t=1), and save it.

    The checkpoint records the model, its kwargs, the dataset, input shape and number of classes, so
    ``evaluate_model``/``tune_model`` (and the commands) need only ``weights``. The weights are
    initialised from ``seed`` without touching torch's global generator.

    :param device: Where to train: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    :return: Metadata written into the checkpoint (model, dataset, accuracies, settings).
    """
    dev = resolve_device(device)
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
    history = fit(
        net, x, y, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, verbose=verbose, device=dev
    )
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
        "test_accuracy": evaluate(net, x_test, y_test, device=dev),
    }
    save_checkpoint(net, out, metadata=json.loads(json.dumps(meta)))
    return meta


def evaluate_model(
    model: str | None = None,
    *,
    weights: str | Path | None,
    activation: str,
    activation_params: Mapping[str, float],
    layers: Sequence[str] | None = None,
    attacks: Sequence[str] | None = None,
    eps: float | None = None,
    max_iter: int | None = None,
    surrogate: bool = False,
    dataset: str | None = None,
    data_dir: str | None = None,
    n_eval: int | None = 500,
    model_kwargs: Mapping[str, Any] | None = None,
    out: str | Path = "evaluation",
    seed: int = 0,
    verbose: bool = True,
    allow_random_weights: bool = False,
    norm: float | str = "inf",
    budget: str = "standard",
    device: Device = "auto",
) -> dict[str, Any]:
    """Retrofit a user's model with a defence and run the adaptive-attack audit on it.

    ``model``, ``dataset`` and ``model_kwargs`` default to what the checkpoint records (see
    :func:`checkpoint_settings`). ``weights=None`` (a random model) is refused unless
    ``allow_random_weights`` is set. Writes ``audit.json`` and ``audit.md`` (:func:`evaluate_markdown`)
    into ``out``. ``activation_params`` (e.g. ``{"kappa": 1.0}``) reach ``RetrofitClassifier`` as they
    are, which builds the defended classifier from the module itself. ``device``: ``"auto"`` (CUDA
    when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``; both models and every attack run there.
    """
    from art_activation_defenses.evaluation import audit

    t = open_target(
        model, weights, dataset=dataset, data_dir=data_dir, n_eval=n_eval, model_kwargs=model_kwargs, out=out,
        device=device, random_weights=("auditing", allow_random_weights),
    )  # fmt: skip
    defended = RetrofitClassifier(
        t.net, activation=activation, layers=layers or None, **estimator_kwargs(t.info, t.device),
        **cast(Mapping[str, Any], activation_params),  # as it came from the command line: {"kappa": 1.0}
    )  # fmt: skip
    result = audit(
        defended,
        relu_classifier(t.net, t.info, t.device),
        t.x,
        t.y,
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
        model=t.model,
        weights=str(weights) if weights else None,
        dataset=t.dataset,
        checkpoint_metadata=t.metadata,
        activation=activation,
        activation_params=dict(activation_params),
        environment=environment(),
    )
    out = Path(out)
    write_json(result, out / "audit.json")
    (out / "audit.md").write_text(evaluate_markdown(result), encoding="utf-8")
    return result


def evaluate_markdown(result: Mapping[str, Any]) -> str:
    """The ``audit.md`` report of :func:`evaluate_model`'s result, titled with the defence, the model
    and the dataset (and a warning for random weights)."""
    from art_activation_defenses.evaluation import render_audit_markdown

    title = f"Audit: {result['activation']} {dict(result['activation_params'])} on {result['model']} "
    title += f"({result['dataset']})"
    if result.get("weights") is None:
        title += " — RANDOM WEIGHTS, NOT A TRAINED MODEL"
    return render_audit_markdown(dict(result), title=title)


def tune_model(
    model: str | None = None,
    *,
    weights: str | Path | None,
    activation: str,
    values: Sequence[float],
    param: str | None = None,
    activation_params: Mapping[str, float] | None = None,
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
    device: Device = "auto",
) -> dict[str, Any]:
    """Trade-off curve of an activation parameter on validation data.

    Writes ``tune.json`` and ``tradeoff.png`` into ``out``. ``model``, ``dataset`` and
    ``model_kwargs`` default to what the checkpoint records; ``select_by`` (default ``"min"``, the
    worst case of white-box and BPDA ρ) is passed to :func:`~art_activation_defenses.defences.tune_kappa`.

    The validation images are the *first* ``n_eval`` images of the test split; report robustness on
    other images than those used to tune.

    :param values: The grid of ``param`` (default: the activation's first parameter, e.g. kappa).
    :param activation_params: The activation's other parameters, fixed while ``param`` is tuned
        (e.g. ``{"low": 0.6}`` for ``randomized-jumprelu``).
    :param device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """
    from art_activation_defenses.evaluation import plot_tradeoff, tune_kappa

    t = open_target(
        model, weights, dataset=dataset, data_dir=data_dir, n_eval=n_eval, model_kwargs=model_kwargs, out=out,
        device=device, random_weights=("tuning on", allow_random_weights),
    )  # fmt: skip
    name = param or activation_class(activation).param_names[0]
    fixed = dict(activation_params or {})
    if name in fixed:
        raise ValueError(f"`activation_params` sets {name!r}, the parameter `values` tunes; leave it out.")
    spec: dict[str, Any] = {**estimator_kwargs(t.info, t.device), **fixed, name: float(values[0])}
    defended = RetrofitClassifier(t.net, activation=activation, layers=layers or None, **spec)
    result = tune_kappa(
        defended,
        t.x,
        t.y,
        values,
        attack=cast(Any, attack),
        param=name,
        max_accuracy_drop=max_accuracy_drop,
        select_by=cast(Any, select_by),
        verbose=verbose,
    )
    result.update(model=t.model, dataset=t.dataset, activation=activation, activation_params=fixed)
    result.update(environment=environment())
    out = Path(out)
    write_json(result, out / "tune.json")
    plot_tradeoff(result, out / "tradeoff.png")
    return result
