"""What the ``train``, ``evaluate``, ``tune`` and ``detect`` functions share: the checkpoint's settings,
the model (zoo name or ``package.module:Factory``) with its weights, the test data, the checks made
before any work, and the ART estimators of the ReLU model and of the retrofitted one, on one device."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import Device, art_device_type, place_classifier, resolve_device
from art_activation_defenses.activations import retrofit
from art_activation_defenses.activations.registry import create_activation
from art_activation_defenses.data import dataset_info, load_dataset
from art_activation_defenses.models import MODELS, build_model
from art_activation_defenses.training import load_checkpoint, read_checkpoint

__all__ = [
    "DEFAULT_MODEL",
    "DEFAULT_DATASET",
    "checkpoint_settings",
    "load_model",
    "check_out_dir",
    "Target",
    "open_target",
    "estimator_kwargs",
    "relu_classifier",
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
            stacklevel=4,  # the caller of evaluate_model / tune_model (via open_target)
        )


class Target(NamedTuple):
    """What a command works on, loaded by :func:`open_target`."""

    #: The resolved device.
    device: torch.device
    #: The model spec: the given one, else the checkpoint's, else the default.
    model: str
    #: The dataset: the given one, else the checkpoint's, else the default.
    dataset: str
    #: ``dataset_info`` of the dataset.
    info: dict[str, Any]
    #: The first ``n_eval`` test images.
    x: np.ndarray
    #: Their labels.
    y: np.ndarray
    #: The model with its weights, in eval mode.
    net: nn.Module
    #: The checkpoint's metadata (``{}`` without weights).
    metadata: dict[str, Any]


def open_target(
    model: str | None,
    weights: str | Path | None,
    *,
    dataset: str | None,
    data_dir: str | None,
    n_eval: int | None,
    model_kwargs: Mapping[str, Any] | None,
    out: str | Path,
    device: Device,
    random_weights: tuple[str, bool] | None = None,
) -> Target:
    """The start of ``evaluate``, ``tune`` and ``detect``: resolve ``device`` and check ``out`` before any
    work, then the checkpoint's settings (:func:`checkpoint_settings`), the first ``n_eval`` test images
    and the model with its weights (:func:`load_model`).

    :param random_weights: ``(what, allowed)``: ``weights=None`` (a random model) is refused unless
        ``allowed``, and warned about otherwise, ``what`` naming the work (``"auditing"``); ``None``:
        no check.
    """
    dev = resolve_device(device)
    check_out_dir(out)
    if random_weights is not None:
        _random_weights_check(weights, random_weights[1], random_weights[0])
    settings = checkpoint_settings(weights, model=model, dataset=dataset, model_kwargs=model_kwargs)
    info, x, y = _data(settings["dataset"], data_dir, n_eval)
    net, meta = load_model(
        settings["model"], info["input_shape"], info["nb_classes"], weights=weights,
        model_kwargs=settings["model_kwargs"],
    )  # fmt: skip
    return Target(dev, settings["model"], settings["dataset"], info, x, y, net, meta)


def estimator_kwargs(info: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """The ``RetrofitClassifier`` keywords of a dataset's model besides the activation: loss, input
    shape, classes, clip values and device. The defended classifier is built from the module itself,
    ``RetrofitClassifier(net, activation=..., **estimator_kwargs(info, device), **activation_params)``."""
    return {
        "loss": nn.CrossEntropyLoss(),
        "input_shape": tuple(info["input_shape"]),
        "nb_classes": int(info["nb_classes"]),
        "clip_values": info["clip_values"],
        "device": device,
    }


def relu_classifier(model: nn.Module, info: Mapping[str, Any], device: torch.device) -> PyTorchClassifier:
    """The undefended model as an ART classifier on ``device`` (the model is moved there)."""
    clf = PyTorchClassifier(
        model,
        nn.CrossEntropyLoss(),
        tuple(info["input_shape"]),
        int(info["nb_classes"]),
        clip_values=info["clip_values"],
        device_type=art_device_type(device),
    )
    return place_classifier(clf, device)
