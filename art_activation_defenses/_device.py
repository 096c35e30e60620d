"""Where computations run: one spelling of a device for every layer (``auto``, ``cpu``, ``cuda``, ``cuda:N``).

``auto`` is CUDA when torch sees a GPU, else the CPU. A CUDA request on a machine without one is
a clear :class:`ValueError`, never a silent fall-back to the CPU. ART's estimators take a
``device_type`` (``"cpu"`` / ``"gpu"``) and pick ``cuda:<current>`` themselves; :func:`art_device_type`
and :func:`place_classifier` bridge our spelling to theirs, so ``cuda:1`` means device 1.
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["Device", "resolve_device", "art_device_type", "place_classifier", "device_of"]

#: What every ``device=`` parameter accepts.
Device = str | torch.device | None


def resolve_device(device: Device = "auto") -> torch.device:
    """The :class:`torch.device` meant by ``device``.

    :param device: ``"auto"`` or ``None`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``, or a :class:`torch.device`.
    :raises ValueError: an unknown spelling, CUDA without a visible GPU, or an index past the last GPU.
    """
    if device is None or (isinstance(device, str) and device.strip().lower() == "auto"):
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device.strip().lower())
        except RuntimeError as err:
            raise ValueError(
                f"`device` == {device!r}, must be 'auto', 'cpu', 'cuda' or 'cuda:N'."
            ) from err
    else:
        raise ValueError(f"`device` == {device!r}, must be 'auto', 'cpu', 'cuda' or 'cuda:N' (a str).")
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type != "cuda":
        raise ValueError(f"`device` == {str(dev)!r}, must be 'auto', 'cpu', 'cuda' or 'cuda:N'.")
    if not torch.cuda.is_available():
        raise ValueError(
            f"`device` == {str(dev)!r}, but torch sees no CUDA GPU on this machine "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}); use 'cpu' or 'auto'."
        )
    count = torch.cuda.device_count()
    if dev.index is not None and dev.index >= count:
        raise ValueError(f"`device` == {str(dev)!r}, but only {count} CUDA device(s) are visible.")
    return dev


def art_device_type(device: Device = "auto") -> str:
    """ART's ``device_type`` (``"cpu"`` or ``"gpu"``) for ``device``."""
    return "cpu" if resolve_device(device).type == "cpu" else "gpu"


def place_classifier(classifier: Any, device: Device = "auto") -> Any:
    """Put an ART PyTorch estimator (and its model) on ``device``, in place; returns it.

    ART picks ``cuda:<current device>`` for ``device_type="gpu"``; an explicit ``cuda:N`` is honoured here.
    """
    dev = resolve_device(device)
    if getattr(classifier, "_device", None) != dev:
        classifier._device = dev  # ART keeps the device here and moves inputs to it
        classifier.model.to(dev)
    return classifier


def device_of(module: torch.nn.Module) -> torch.device:
    """The device of ``module``'s first parameter or buffer (CPU for a parameter-free module)."""
    for param in module.parameters():
        return param.device
    for buffer in module.buffers():
        return buffer.device
    return torch.device("cpu")
