"""Seeded training and evaluation loops (numpy in, torch inside).

The state-dict checkpoints live in :mod:`art_activation_defenses.checkpoints` (re-exported here).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from art_activation_defenses._device import Device, device_of, resolve_device
from art_activation_defenses._validation import check_array, check_choice, check_scalar
from art_activation_defenses.checkpoints import load_checkpoint, read_checkpoint, save_checkpoint

__all__ = [
    "default_threads",
    "evaluate",
    "fit",
    "load_checkpoint",
    "predict_logits",
    "read_checkpoint",
    "save_checkpoint",
    "set_seed",
]

logger = logging.getLogger(__name__)

Augment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


def default_threads() -> int:
    """The number of torch intra-op threads the commands use by default: the free cores.

    Free cores = the cores this process may run on (``os.sched_getaffinity``, else
    ``os.cpu_count()``) minus the 1-minute load average, rounded, at least 1 and at most the
    available cores. On a busy machine this is 1: torch's default of one thread per core makes
    the threads wait for each other when other processes hold the cores.
    """
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        available = os.cpu_count() or 1
    available = max(1, min(available, os.cpu_count() or available))
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):
        busy = 0.0
    return max(1, min(available, int(available - busy + 0.5)))


def set_seed(seed: int) -> None:
    """Seed Python's, numpy's and torch's global random generators (all devices).

    :param seed: A non-negative int.
    """
    seed = check_scalar(seed, "seed", "int", min_val=0)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 - seeding the legacy global generator is the point
    torch.manual_seed(seed)


def fit(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 5,
    batch_size: int = 128,
    lr: float = 1e-3,
    optimizer: Literal["adam", "sgd"] = "adam",
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int = 0,
    device: Device = None,
    verbose: bool = True,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    augment: Augment | None = None,
) -> dict[str, Any]:
    """Train ``model`` with cross-entropy on its logits; reproducible for a given ``seed``.

    Shuffling uses a private ``torch.Generator`` seeded with ``seed``; dropout and other
    random layers draw from torch's global generator, which is seeded with ``seed`` for the
    duration of the call and restored afterwards. The model is left in eval mode.

    :param model: Module mapping ``(n, C, H, W)`` float32 inputs to ``(n, k)`` logits.
    :param x: Training inputs, float array of shape ``(n, ...)``; not modified.
    :param y: Integer labels of shape ``(n,)`` in ``[0, k)``.
    :param epochs: Passes over the data (>= 1). Default 5.
    :param batch_size: Mini-batch size (>= 1). Default 128.
    :param lr: Learning rate (> 0). Default 1e-3.
    :param optimizer: ``"adam"`` (default) or ``"sgd"`` (with ``momentum``).
    :param momentum: SGD momentum in [0, 1). Default 0.9; ignored by Adam.
    :param weight_decay: L2 weight decay (>= 0). Default 0.
    :param seed: Seed for shuffling and dropout (>= 0). Default 0.
    :param device: Where to train (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``); the model is moved
        there. Default ``None``: where the model already is. CUDA without a GPU is a ``ValueError``.
    :param verbose: Show tqdm progress bars. Default True.
    :param x_val: Optional validation inputs; accuracy is recorded after each epoch.
    :param y_val: Labels for ``x_val`` (give both or neither).
    :param augment: Optional ``(x_batch, y_batch) -> (x_batch, y_batch)`` applied to each
        training batch on the device (e.g. noise or flips); it gets a copy of the data.
    :return: History ``{"loss": [...], "accuracy": [...], "val_accuracy": [...], "seconds": [...]}``,
        one float per epoch (``val_accuracy`` is empty without validation data).
    :raises ValueError: Invalid data or hyper-parameters.
    """
    _check_module(model)
    x_np, y_np = _check_xy(x, y)
    epochs = check_scalar(epochs, "epochs", "int", min_val=1)
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    seed = check_scalar(seed, "seed", "int", min_val=0)
    lr = check_scalar(lr, "lr", min_val=0, include_boundaries="right")
    weight_decay = check_scalar(weight_decay, "weight_decay", min_val=0)
    momentum = check_scalar(momentum, "momentum", min_val=0, max_val=1, include_boundaries="left")
    check_choice(optimizer, "optimizer", ("adam", "sgd"))
    if (x_val is None) != (y_val is None):
        raise ValueError("x_val and y_val must be given together (got only one of them)")
    val = _check_xy(x_val, y_val, "x_val", "y_val") if x_val is not None and y_val is not None else None
    if val is not None and val[0].shape[1:] != x_np.shape[1:]:
        raise ValueError(f"x_val has sample shape {val[0].shape[1:]}, but x has {x_np.shape[1:]}")
    if augment is not None and not callable(augment):
        raise ValueError(f"augment must be callable or None, got {augment!r}")

    dev = _device(model, device)
    model.to(dev)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    opt: torch.optim.Optimizer
    if optimizer == "adam":
        opt = torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    x_t, y_t = torch.from_numpy(x_np), torch.from_numpy(y_np)
    n = len(x_t)
    # Batch boundaries; a trailing batch of one sample is folded into the previous one
    # (BatchNorm cannot train on a single value per channel).
    bounds = list(range(0, n, batch_size)) + [n]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] == 1:
        del bounds[-2]
    n_batches = len(bounds) - 1
    history: dict[str, Any] = {"loss": [], "accuracy": [], "val_accuracy": [], "seconds": []}
    gen = torch.Generator().manual_seed(seed)
    fork_devices = []
    if dev.type == "cuda":
        fork_devices = [torch.cuda.current_device() if dev.index is None else dev.index]
    bar = tqdm(total=epochs * n_batches, desc="training", unit="batch", mininterval=1.0, disable=not verbose)
    with torch.random.fork_rng(devices=fork_devices):
        torch.manual_seed(seed)
        _check_labels_fit(model, x_np, y_np, dev)
        for epoch in range(epochs):
            start = time.perf_counter()
            model.train()
            order = torch.randperm(n, generator=gen)
            # summed on the device (float64, int64: the same numbers as Python floats), read once per epoch
            loss_sum = torch.zeros((), dtype=torch.float64, device=dev)
            correct_sum = torch.zeros((), dtype=torch.int64, device=dev)
            seen = 0
            for b in range(n_batches):
                idx = order[bounds[b] : bounds[b + 1]]
                xb, yb = x_t[idx].to(dev), y_t[idx].to(dev)
                if augment is not None:
                    xb, yb = _apply_augment(augment, xb, yb)
                logits = model(xb)
                loss = loss_fn(logits, yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                loss_sum += loss.detach().double() * len(yb)
                correct_sum += (logits.detach().argmax(1) == yb).sum()
                seen += len(yb)
                bar.update(1)
            total_loss, correct = float(loss_sum), int(correct_sum)
            bar.set_postfix(
                epoch=f"{epoch + 1}/{epochs}", loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}"
            )
            history["loss"].append(total_loss / seen)
            history["accuracy"].append(correct / seen)
            if val is not None:
                history["val_accuracy"].append(_accuracy(model, val[0], val[1], 512, dev))
            history["seconds"].append(time.perf_counter() - start)
            logger.info(
                "epoch %d/%d: loss %.4f, train acc %.4f%s (%.1f s)",
                epoch + 1,
                epochs,
                history["loss"][-1],
                history["accuracy"][-1],
                f", val acc {history['val_accuracy'][-1]:.4f}" if val else "",
                history["seconds"][-1],
            )
    bar.close()
    model.eval()
    return history


def evaluate(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 512,
    device: Device = None,
) -> float:
    """Top-1 accuracy of ``model`` on ``(x, y)``, in eval mode; the training flag is restored.

    :param model: Module returning logits.
    :param x: Inputs of shape ``(n, ...)``.
    :param y: Integer labels of shape ``(n,)``.
    :param batch_size: Inference batch size. Default 512.
    :param device: Where to run (``"auto"``, ``"cpu"``, ``"cuda:N"``...); the model is moved there.
        Default ``None``: where the model already is.
    :return: Accuracy in [0, 1].
    """
    _check_module(model)
    x_np, y_np = _check_xy(x, y)
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    dev = _device(model, device)
    model.to(dev)
    return _accuracy(model, x_np, y_np, batch_size, dev)


def predict_logits(
    model: nn.Module, x: np.ndarray, *, batch_size: int = 512, device: Device = None
) -> np.ndarray:
    """Logits of ``model`` on ``x`` as a float32 array ``(n, k)``, in eval mode under ``no_grad``.

    :param model: Module returning logits.
    :param x: Inputs of shape ``(n, ...)``; not modified.
    :param batch_size: Inference batch size. Default 512.
    :param device: Where to run (``"auto"``, ``"cpu"``, ``"cuda:N"``...); the model is moved there.
        Default ``None``: where the model already is.
    """
    _check_module(model)
    x_np = _check_x(x)
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    dev = _device(model, device)
    model.to(dev)
    return _logits(model, x_np, batch_size, dev).numpy()


def _accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray, batch_size: int, dev: torch.device) -> float:
    logits = _logits(model, x, batch_size, dev)
    if y.size and int(y.max()) >= logits.shape[1]:
        raise ValueError(f"labels go up to {int(y.max())} but the model outputs {logits.shape[1]} logits")
    return float((logits.argmax(1).numpy() == y).mean())


def _logits(model: nn.Module, x: np.ndarray, batch_size: int, dev: torch.device) -> torch.Tensor:
    """Eval-mode, no-grad logits on CPU; restores the model's training flag."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = [
                model(torch.from_numpy(x[i : i + batch_size]).to(dev)).float().cpu()
                for i in range(0, len(x), batch_size)
            ]
    finally:
        model.train(was_training)
    logits = torch.cat(out)
    if logits.ndim != 2 or len(logits) != len(x):
        raise ValueError(
            f"model must return (n, k) logits; got shape {tuple(logits.shape)} for {len(x)} inputs"
        )
    return logits


def _check_labels_fit(model: nn.Module, x: np.ndarray, y: np.ndarray, dev: torch.device) -> None:
    k = _logits(model, x[:2], 2, dev).shape[1]
    if int(y.max()) >= k:
        raise ValueError(f"y has labels up to {int(y.max())}, but the model outputs only {k} logits")


def _apply_augment(augment: Augment, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    out = augment(xb, yb)
    if not (isinstance(out, tuple) and len(out) == 2 and all(isinstance(t, torch.Tensor) for t in out)):
        raise ValueError(f"augment must return a (x, y) tuple of tensors, got {type(out).__name__}")
    xa, ya = out
    if len(xa) != len(ya):
        raise ValueError(f"augment returned {len(xa)} inputs but {len(ya)} labels")
    return xa, ya


def _device(model: nn.Module, device: Device) -> torch.device:
    """``device`` resolved (``"auto"``, ``"cpu"``, ``"cuda:N"``...); ``None``: where the model is."""
    return device_of(model) if device is None else resolve_device(device)


def _check_module(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _check_x(x: object, name: str = "x") -> np.ndarray:
    check_array(x, name, ndim_min=2)
    assert isinstance(x, np.ndarray)
    # May share memory with ``x`` (float32, contiguous); nothing in this module writes to it.
    return np.ascontiguousarray(x, dtype=np.float32) if x.flags.writeable else np.array(x, dtype=np.float32)


def _check_xy(x: object, y: object, xname: str = "x", yname: str = "y") -> tuple[np.ndarray, np.ndarray]:
    x_np = _check_x(x, xname)
    if not isinstance(y, np.ndarray):
        raise ValueError(f"`{yname}` must be a numpy array, got {type(y).__name__}")
    if y.ndim != 1 or len(y) != len(x_np):
        raise ValueError(f"`{yname}` must have shape ({len(x_np)},) to match `{xname}`, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"`{yname}` must hold integer class labels, got dtype {y.dtype}")
    if int(y.min()) < 0:
        raise ValueError(f"`{yname}` must hold non-negative class labels, got minimum {int(y.min())}")
    return x_np, y.astype(np.int64)
