"""How an input perturbation grows through the layers of a network."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from art_activation_defenses._device import device_of
from art_activation_defenses._validation import check_array, check_samples, check_scalar
from art_activation_defenses.detectors import LayerTap, default_layers, eval_mode, to_model_input
from art_activation_defenses.metrics._common import check_same_shape

if TYPE_CHECKING:
    from art.estimators.classification import PyTorchClassifier

__all__ = ["layer_perturbation_growth"]


def _model_and_input(model: nn.Module | PyTorchClassifier) -> tuple[nn.Module, Any]:
    """The nn.Module and a function turning a numpy batch into its (pre-processed) input tensor."""
    if isinstance(model, nn.Module):
        device = device_of(model)

        def convert(x: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(x, dtype=torch.float32, device=device)

        return model, convert
    if hasattr(model, "model") and isinstance(model.model, nn.Module):
        classifier = model

        def convert_classifier(x: np.ndarray) -> torch.Tensor:
            return to_model_input(classifier, x)

        return model.model, convert_classifier
    raise ValueError(f"`model` must be an nn.Module or an ART PyTorchClassifier, got {type(model).__name__}.")


def layer_perturbation_growth(
    model: nn.Module | PyTorchClassifier,
    x: np.ndarray,
    x_adv: np.ndarray,
    layers: Sequence[str] | None = None,
    *,
    batch_size: int = 128,
) -> dict[str, list[Any]]:
    """
    Mean L2 and L-inf distance between clean and adversarial activations at each layer (the
    capped-ReLU paper's Figure 1).

    Activations are read with forward hooks (nested modules by name), in eval mode, without
    gradients; an ART classifier's pre-processing is applied first.

    | Paper link: capped-ReLU paper, Figure 1

    :param model: An ``nn.Module`` or an ART ``PyTorchClassifier`` (its ``.model`` is used).
    :param x: Clean samples.
    :param x_adv: Adversarial samples, same shape.
    :param layers: Layer names (``"input"``, ``"logits"`` or module names); default: input, every
                   activation output, logits. A module called at m sites gives m entries.
    :param batch_size: Forward batch size.
    :return: Dict of lists, one entry per layer: ``layers`` (names), ``l2`` and ``linf`` (mean distances),
             ``l2_clean`` (mean L2 norm of the clean activation) and ``l2_growth`` (``l2`` divided by the
             first layer's ``l2``; NaN if that is 0).
    """
    module, convert = _model_and_input(model)
    check_array(x, "x", ndim_min=2, floating=False)
    check_array(x_adv, "x_adv", ndim_min=2, floating=False)
    if not isinstance(model, nn.Module):  # an ART classifier: floating inputs on its clip_values' scale
        for arr, name in ((x, "x"), (x_adv, "x_adv")):
            check_samples(arr, name, input_shape=model.input_shape, clip_values=model.clip_values)
    check_same_shape(x, x_adv, "x", "x_adv")
    batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
    names: list[str] = []
    sums: torch.Tensor | None = None  # (3, n_layers): l2, linf, clean l2
    with eval_mode(module), LayerTap(module, layers or default_layers(module)) as tap:
        for start in range(0, x.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            names, clean = tap.run(convert(x[rows]))
            _, adv = tap.run(convert(x_adv[rows]))
            stats = torch.stack(
                [
                    torch.stack(
                        [
                            torch.linalg.vector_norm(a.double() - c.double(), ord=2, dim=1).sum(),
                            torch.linalg.vector_norm(a.double() - c.double(), ord=float("inf"), dim=1).sum(),
                            torch.linalg.vector_norm(c.double(), ord=2, dim=1).sum(),
                        ]
                    )
                    for c, a in zip(clean, adv, strict=True)
                ],
                dim=1,
            )
            sums = stats if sums is None else sums + stats
    if sums is None:  # pragma: no cover - x is never empty here
        raise ValueError("`x` is empty.")
    means = (sums / x.shape[0]).cpu().numpy()
    first = means[0, 0]
    growth = means[0] / first if first > 0 else np.full(means.shape[1], np.nan)
    return {
        "layers": names,
        "l2": means[0].tolist(),
        "linf": means[1].tolist(),
        "l2_clean": means[2].tolist(),
        "l2_growth": growth.tolist(),
    }
