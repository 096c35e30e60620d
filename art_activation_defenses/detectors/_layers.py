"""
Layer taps shared by the detectors and the metrics: activation discovery, forward hooks on named
(possibly nested) modules, eval-mode restore and the classifier's pre-processing.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

INPUT_LAYER = "input"
LOGITS_LAYER = "logits"
_ACTIVATION_PACKAGE = "art_activation_defenses.activations"
_NOT_ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.MultiheadAttention,)


def is_activation_module(module: nn.Module) -> bool:
    """
    Tell whether a module is an activation function (its output is an "activation layer" for LID).

    A module counts when its class sets ``is_activation = True``, is an ``nn.ReLU``, has a class name
    ending in ``ReLU`` (JumpReLU, BoundedReLU, ... and any future variant), is defined in
    ``torch.nn.modules.activation`` (except ``MultiheadAttention``) or in this package's
    ``activations`` sub-package.

    :param module: Any ``nn.Module``.
    :return: `True` for activation modules.
    """
    cls = type(module)
    if isinstance(module, _NOT_ACTIVATIONS):
        return False
    flag = getattr(cls, "is_activation", None)
    if isinstance(flag, bool):
        return flag
    return (
        isinstance(module, nn.ReLU)
        or cls.__name__.endswith("ReLU")
        or cls.__module__ == "torch.nn.modules.activation"
        or cls.__module__.startswith(_ACTIVATION_PACKAGE)
    )


def activation_layer_names(model: nn.Module) -> list[str]:
    """
    Names (as in ``model.named_modules()``) of the activation modules of a model, outermost only.

    :param model: The network.
    :return: Module names in registration order; a wrapper that is itself an activation hides its children.
    """
    names: list[str] = []
    for name, module in model.named_modules():
        if not name or any(name.startswith(prefix + ".") for prefix in names):
            continue
        if is_activation_module(module):
            names.append(name)
    return names


def default_layers(model: nn.Module) -> list[str]:
    """
    The default LID layers: the input, every activation output and the logits.

    :param model: The network.
    :return: Layer names, ``"input"`` first and ``"logits"`` last.
    """
    return [INPUT_LAYER, *activation_layer_names(model), LOGITS_LAYER]


class LayerTap:
    """
    Record flattened outputs of named (possibly nested) modules with forward hooks.

    Use as a context manager; ``run(x)`` returns one (batch, features) tensor per recorded call, in
    the order of ``layers``. A module called at several sites gives one entry per call, named
    ``name``, ``name#1``, ``name#2``, ... The special names ``"input"`` and ``"logits"`` are the
    (pre-processed) model input and the model output.
    """

    def __init__(self, model: nn.Module, layers: Sequence[str]) -> None:
        """
        Create a :class:`LayerTap`.

        :param model: The network whose modules are hooked.
        :param layers: Names of ``model.named_modules()``, ``"input"`` or ``"logits"``.
        """
        if isinstance(layers, str) or len(layers) == 0:
            raise ValueError(f"`layers` must be a non-empty sequence of layer names, got {layers!r}.")
        if len(set(layers)) != len(layers):
            raise ValueError(f"`layers` contains duplicates: {list(layers)!r}.")
        known = dict(model.named_modules())
        for name in layers:
            if name not in (INPUT_LAYER, LOGITS_LAYER) and (not name or name not in known):
                raise ValueError(
                    f"Unknown layer {name!r} in `layers`; expected 'input', 'logits' or one of "
                    f"{[n for n in known if n]!r}."
                )
        self.model = model
        self.layers = list(layers)
        self._modules = {name: known[name] for name in self.layers if name not in (INPUT_LAYER, LOGITS_LAYER)}
        self._records: dict[str, list[torch.Tensor]] = {name: [] for name in self.layers}
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def _hook(self, name: str) -> Any:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if not isinstance(output, torch.Tensor):
                raise ValueError(f"Layer {name!r} returned {type(output).__name__}, not a tensor.")
            self._records[name].append(output.detach().flatten(1))

        return hook

    def __enter__(self) -> LayerTap:
        for name, module in self._modules.items():
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def run(self, x: torch.Tensor) -> tuple[list[str], list[torch.Tensor]]:
        """
        Forward `x` (already pre-processed, on the model's device) without gradients.

        :param x: Model input.
        :return: (names, tensors), one (batch, features) tensor per recorded call.
        """
        with torch.no_grad():
            _, names, tensors = self.forward_records(x)
        return names, tensors

    def forward_records(self, x: torch.Tensor) -> tuple[torch.Tensor, list[str], list[torch.Tensor]]:
        """Forward `x` in the caller's autograd mode; return (output, names, one tensor per call)."""
        for records in self._records.values():
            records.clear()
        output = self.model(x)
        if isinstance(output, (tuple, list)):
            output = output[-1]
        self._records[INPUT_LAYER] = [x.flatten(1)] if INPUT_LAYER in self._records else []
        self._records[LOGITS_LAYER] = [output.flatten(1)] if LOGITS_LAYER in self._records else []
        names: list[str] = []
        tensors: list[torch.Tensor] = []
        for name in self.layers:
            records = self._records[name]
            if not records:
                raise ValueError(f"Layer {name!r} in `layers` was not called in the forward pass.")
            for i, tensor in enumerate(records):
                names.append(name if i == 0 else f"{name}#{i}")
                tensors.append(tensor)
        return output, names, tensors


class eval_mode:  # noqa: N801 - used like torch.no_grad
    """Put a module in eval mode for the duration of a ``with`` block and restore its previous mode."""

    def __init__(self, model: nn.Module) -> None:
        """:param model: The module."""
        self.model = model
        self._modes: list[tuple[nn.Module, bool]] = []

    def __enter__(self) -> nn.Module:
        self._modes = [(m, m.training) for m in self.model.modules()]
        self.model.eval()
        return self.model

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for module, mode in self._modes:
            module.training = mode


def to_model_input(classifier: PyTorchClassifier, x: np.ndarray) -> torch.Tensor:
    """
    Apply the classifier's pre-processing to a numpy batch and move it to the classifier's device.

    :param classifier: An ART ``PyTorchClassifier`` (or subclass).
    :param x: Raw inputs as given to ``classifier.predict``.
    :return: float32 tensor ready for ``classifier.model``.
    """
    x32 = x.astype(np.float32, copy=False)
    if getattr(classifier, "all_framework_preprocessing", False):  # stay in torch: one transfer per batch
        x_pre, _ = classifier._apply_preprocessing(
            torch.as_tensor(x32, device=classifier.device), y=None, fit=False
        )
    else:
        x_pre, _ = classifier._apply_preprocessing(x32, y=None, fit=False)
    if isinstance(x_pre, torch.Tensor):
        return x_pre.detach().to(device=classifier.device, dtype=torch.float32)
    return torch.as_tensor(np.asarray(x_pre), dtype=torch.float32, device=classifier.device)
