"""State-dict checkpoints: a ``state_dict`` plus plain-type metadata, written atomically.

Checkpoints are read with ``torch.load(..., weights_only=True)``, so loading one never runs
pickled code.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["load_checkpoint", "read_checkpoint", "save_checkpoint"]


def save_checkpoint(
    model: nn.Module, path: str | os.PathLike[str], *, metadata: Mapping[str, Any] | None = None
) -> None:
    """Write ``{"state_dict": ..., "metadata": ...}`` to ``path`` atomically (parents created).

    :param model: The module whose ``state_dict`` (moved to CPU) is saved.
    :param path: Output file, conventionally ``*.pt``.
    :param metadata: Plain-typed information (str keys; None, bool, int, float, str, lists,
        tuples and dicts of those), e.g. model name, kwargs, dataset, accuracy.
    :raises ValueError: Metadata with other types (they could not be loaded with ``weights_only``).
    """
    _check_module(model)
    meta = dict(metadata) if metadata is not None else {}
    _check_plain("metadata", meta)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save({"state_dict": state, "metadata": meta}, tmp)
        os.chmod(tmp, _file_mode())  # mkstemp creates 0600; give the mode a plain open() would
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_checkpoint(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint of :func:`save_checkpoint` (or a plain ``state_dict`` file) without a model.

    Uses ``torch.load(path, map_location="cpu", weights_only=True)``, so no pickled code runs.

    :param path: Checkpoint file.
    :return: ``(state_dict, metadata)``; the metadata is empty for a plain ``state_dict`` file.
    :raises FileNotFoundError: ``path`` does not exist.
    :raises ValueError: The file is not a weights-only checkpoint (a whole pickled model, a
        truncated or foreign file); the message is one line.
    """
    name = os.fspath(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"checkpoint {name!r} does not exist")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, EOFError, RuntimeError (zip), ...: all mean "not ours"
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        what = (
            f"it pickles a {found.group(1)} object (a whole model?)"
            if found
            else f"it is not a torch weights file ({type(err).__name__})"
        )
        raise ValueError(
            f"checkpoint {name!r} cannot be loaded with torch.load(weights_only=True): {what}; "
            "save the weights with torch.save(model.state_dict(), path)"
        ) from None
    if isinstance(blob, dict) and blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
        return dict(blob), {}  # a plain ``torch.save(model.state_dict())`` file
    if not isinstance(blob, dict) or not isinstance(blob.get("state_dict"), dict):
        raise ValueError(
            f"{name!r} is not a checkpoint: expected a state_dict or save_checkpoint's "
            f"{{'state_dict', 'metadata'}}, got {type(blob).__name__}"
        )
    return dict(blob["state_dict"]), dict(blob.get("metadata") or {})


def load_checkpoint(model: nn.Module, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load weights saved by :func:`save_checkpoint` (or a plain ``state_dict`` file) into
    ``model`` (strict) and return the metadata (empty for a plain ``state_dict``).

    Uses ``torch.load(path, map_location="cpu", weights_only=True)`` (:func:`read_checkpoint`);
    the weights are then copied onto the model's own device.

    :param model: A module of the same architecture as the saved one.
    :param path: Checkpoint file.
    :raises FileNotFoundError: ``path`` does not exist.
    :raises ValueError: Not a weights-only checkpoint, or keys/shapes do not match the model (one
        line: the counts of missing, unexpected and mis-shaped keys and the first of each).
    """
    _check_module(model)
    state, meta = read_checkpoint(path)
    problems = _state_dict_mismatch(model, state)
    if problems:
        hint = ""
        if meta.get("model") or meta.get("dataset"):
            hint = f"; it was saved for model {meta.get('model')!r} on dataset {meta.get('dataset')!r}"
        raise ValueError(f"checkpoint {os.fspath(path)!r} does not match the model: {problems}{hint}")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).strip().splitlines()[-1].strip()
        raise ValueError(f"checkpoint {os.fspath(path)!r} does not match the model: {first[:200]}") from None
    return meta


def _state_dict_mismatch(model: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    """A one-line description of how ``state`` fails to fit ``model`` ('' when it fits)."""
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(state[k].shape) != tuple(own[k].shape)
    ]
    parts = []
    for label, keys in (("missing", missing), ("unexpected", unexpected), ("size mismatch", shapes)):
        if keys:
            parts.append(f"{len(keys)} {label} (first: {keys[0]})")
    return ", ".join(parts)


def _file_mode() -> int:
    """The mode ``open(path, "w")`` would give a new file: 0o666 minus the process umask."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


# --------------------------------------------------------------------------- internals


def _check_module(model: object) -> None:
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")


def _check_plain(name: str, value: object) -> None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(f"{name}[{i}]", v)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{name} keys must be str, got {k!r}")
            _check_plain(f"{name}[{k!r}]", v)
        return
    raise ValueError(
        f"{name} must hold only plain types (None, bool, int, float, str, list, tuple, dict), "
        f"got {type(value).__name__}: {value!r}"
    )
