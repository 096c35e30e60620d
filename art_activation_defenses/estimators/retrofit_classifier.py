"""``RetrofitClassifier``: an ART ``PyTorchClassifier`` whose ReLUs were swapped for an
activation defence, with the gradient modes an honest evaluation needs.

Gradient modes (``gradient=``):

* ``"exact"``: the true derivative of the defence (``1[x > kappa]`` for JumpReLU);
* ``"bpda"``: straight-through / BPDA: forward with the defence, backward with the
  replaced ReLU's derivative (the adaptive attack against gradient masking);
* ``"eot"``: expectation over transformation: every gradient is the mean over
  ``eot_samples`` forward/backward passes (for the randomized JumpReLU).

Gray-box mode (``grad_params={"kappa": 0.0}``): predictions use the activation's
parameters, every differentiated forward pass uses ``grad_params`` (the JumpReLU paper's
Appendix A: attack crafted with one kappa, evaluated with another). Because the modes live
in the activation modules themselves, they also apply to code that differentiates
``classifier.model`` directly (ART's APGD builds its own classifier around it); EOT
averaging is done here and by our attacks, which read ``eot_samples``.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal, cast

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import Device, art_device_type, place_classifier
from art_activation_defenses._validation import (
    check_choice,
    check_clip_values,
    check_input,
    check_labels,
    check_model_dtype,
    check_scalar,
)
from art_activation_defenses.activations.modules import RandomizedJumpReLU, RetrofitActivation
from art_activation_defenses.activations.registry import activation_class
from art_activation_defenses.activations.retrofit import Retrofit, Site, adopt, retrofit

__all__ = ["RetrofitClassifier", "GradientMode", "check_input"]

GradientMode = Literal["exact", "bpda", "eot"]
_GRADIENT_MODES = ("exact", "bpda", "eot")


class RetrofitClassifier(PyTorchClassifier):
    """A ``PyTorchClassifier`` whose ReLUs are replaced by an activation defence.

    | Paper link (JumpReLU): https://arxiv.org/abs/1904.03750

    >>> clf = RetrofitClassifier(model, nn.CrossEntropyLoss(), (1, 28, 28), 10,
    ...                          activation="jumprelu", kappa=1.0, clip_values=(0.0, 1.0))
    >>> clf.set_params(kappa=0.5)

    :param model: The trained ``nn.Module`` (deep-copied unless ``copy=False``). A model that
        already uses modules of the requested activation (trained with bounded ReLU, or
        retrofitted earlier) is wrapped as it is, so its gradient modes become available.
    :param loss: Loss for gradients and training (default ``nn.CrossEntropyLoss()``).
    :param input_shape: Shape of one input, e.g. ``(1, 28, 28)``.
    :param nb_classes: Number of classes.
    :param activation: Registry name (``"jumprelu"``, ``"randomized-jumprelu"``, ``"brelu"``,
        ``"capped"``, ``"srelu"``).
    :param layers: ReLU sites to replace (names or indices, see ``relu_sites``); default all.
    :param gradient: ``"exact"``, ``"bpda"`` or ``"eot"``.
    :param eot_samples: Number of draws averaged per gradient in ``"eot"`` mode (default 10).
    :param grad_params: Gray-box activation parameters used for gradients, e.g. ``{"kappa": 0.0}``.
    :param include_relu6: Also replace ``ReLU6`` sites.
    :param copy: Retrofit a deep copy of ``model`` (default True).
    :param seed: Seed of the ``torch.Generator`` used by randomized activations.
    :param device: Where the model runs: ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or a
        ``torch.device`` (a CUDA request without a GPU is a ``ValueError``). Default ``None``:
        ART's ``device_type`` decides. Inputs are moved to it; gradients come back as numpy.
    :param activation_params: The activation's parameters, e.g. ``kappa=1.0``, ``t=1.0``,
        ``beta=0.1``, ``alpha=10.0``, ``low=0.6``.
    Other parameters are ART's ``PyTorchClassifier`` ones.
    """

    estimator_params = PyTorchClassifier.estimator_params + [
        "activation",
        "gradient",
        "eot_samples",
        "grad_params",
    ]

    def __init__(
        self,
        model: nn.Module,
        loss: nn.Module | None = None,
        input_shape: tuple[int, ...] | None = None,
        nb_classes: int | None = None,
        *,
        activation: str = "jumprelu",
        layers: Sequence[str | int] | str | int | None = None,
        gradient: GradientMode = "exact",
        eot_samples: int = 10,
        grad_params: Mapping[str, float] | None = None,
        include_relu6: bool = False,
        copy: bool = True,
        seed: int | None = None,
        optimizer: torch.optim.Optimizer | None = None,
        channels_first: bool = True,
        clip_values: tuple[Any, Any] | None = None,
        preprocessing_defences: Any = None,
        postprocessing_defences: Any = None,
        preprocessing: Any = (0.0, 1.0),
        device_type: str = "gpu",
        device: Device = None,
        **activation_params: float,
    ) -> None:
        if input_shape is None:
            raise ValueError("`input_shape` is required, e.g. input_shape=(1, 28, 28).")
        if device is not None:  # our spelling wins over ART's device_type; checked before any work
            device_type = art_device_type(device)
        if nb_classes is None:
            raise ValueError("`nb_classes` == None, must be an integer >= 2.")
        nb_classes = check_scalar(nb_classes, "nb_classes", "int", min_val=2)
        if not isinstance(model, nn.Module):
            raise ValueError(f"`model` must be a torch.nn.Module, got {type(model).__name__}.")
        check_model_dtype(model)
        check_clip_values(clip_values)
        cls = activation_class(activation)
        unknown = sorted(set(activation_params) - set(cls.param_names))
        if unknown:
            raise ValueError(
                f"Unknown parameter(s) {unknown} for activation {activation!r}; "
                f"expected some of {cls.param_names} "
                "or a PyTorchClassifier argument."
            )
        extra: dict[str, Any] = {}
        if issubclass(cls, RandomizedJumpReLU):
            extra["generator"] = torch.Generator().manual_seed(int(seed)) if seed is not None else None
        self._activation = activation
        if layers is None and any(type(m) is cls for m in model.modules()):
            # Already uses the defence (trained with it, or retrofitted earlier): wrap as is.
            self._retrofit: Retrofit = adopt(model, cls, copy=copy, **activation_params)
            if extra.get("generator") is not None:
                for module in self._retrofit.activations():
                    module.generator = extra["generator"]  # type: ignore[assignment]
        else:
            self._retrofit = retrofit(
                model,
                activation,
                layers=layers,
                copy=copy,
                include_relu6=include_relu6,
                **activation_params,
                **extra,
            )
        super().__init__(
            model=self._retrofit.model,
            loss=loss if loss is not None else nn.CrossEntropyLoss(),
            input_shape=tuple(input_shape),
            nb_classes=int(nb_classes),
            optimizer=optimizer,
            channels_first=channels_first,
            clip_values=clip_values,
            preprocessing_defences=preprocessing_defences,
            postprocessing_defences=postprocessing_defences,
            preprocessing=preprocessing,
            device_type=device_type,
        )
        if device is not None:
            place_classifier(self, device)  # honours an explicit cuda:N
        self._output_width = self._probe_output_width()
        if self._output_width != self.nb_classes:
            raise ValueError(
                f"`nb_classes` == {nb_classes}, but the model outputs {self._output_width} logits per sample."
            )
        self._gradient: GradientMode = "exact"
        self._eot_samples = 10
        self._grad_params: dict[str, float] = {}
        self.set_params(gradient=gradient, eot_samples=eot_samples, grad_params=grad_params or {})

    # -- construction from an ART classifier -------------------------------------------
    @classmethod
    def from_classifier(
        cls, classifier: PyTorchClassifier, activation: str = "jumprelu", **params: Any
    ) -> RetrofitClassifier:
        """Retrofit an existing ART ``PyTorchClassifier``, keeping its loss, clip values,
        preprocessing, defences, device and (re-bound) optimizer type. The original
        classifier and its model are left unchanged.

        :param classifier: The ART classifier to retrofit.
        :param activation: Registry name of the activation defence.
        :param params: ``RetrofitClassifier`` keywords (``kappa=``, ``gradient=``, ...).
        """
        if not isinstance(classifier, PyTorchClassifier):
            raise ValueError(
                f"`classifier` must be an ART PyTorchClassifier, got {type(classifier).__name__}."
            )
        params.setdefault("copy", True)
        new = cls(
            classifier.model,
            classifier.loss,
            classifier.input_shape,
            classifier.nb_classes,
            activation=activation,
            channels_first=classifier.channels_first,
            clip_values=classifier.clip_values,
            preprocessing_defences=classifier.preprocessing_defences,
            postprocessing_defences=classifier.postprocessing_defences,
            preprocessing=classifier.preprocessing,
            device=params.pop("device", classifier.device),
            **params,
        )
        optimizer = classifier.optimizer
        if optimizer is not None:  # bind a fresh optimizer of the same type to the new parameters
            new._optimizer = type(optimizer)(new.model.parameters(), **optimizer.defaults)
        return new

    def clone_for_refitting(self) -> RetrofitClassifier:
        """A copy with the same architecture, activation and settings but re-initialised weights."""
        optimizer = self.optimizer
        clone = type(self)(
            self.model,
            self._loss,
            self.input_shape,
            self.nb_classes,
            activation=self._activation,
            gradient=self._gradient,
            eot_samples=self._eot_samples,
            grad_params=self._grad_params,
            channels_first=self.channels_first,
            clip_values=self.clip_values,
            preprocessing_defences=self.preprocessing_defences,
            postprocessing_defences=self.postprocessing_defences,
            preprocessing=self.preprocessing,
            device=self.device,
            **cast(dict[str, Any], self.activation_params),
        )
        if optimizer is not None:
            clone._optimizer = type(optimizer)(clone.model.parameters(), **optimizer.defaults)
        clone.reset()
        return clone

    def _probe_output_width(self) -> int:
        """Logits per sample of the model, from one forward pass on zeros (eval mode, no grad; the
        training flag and the random activations' generator states are put back)."""
        model = self._retrofit.model
        generators = [m.generator for m in self.activation_modules if isinstance(m, RandomizedJumpReLU)]
        states = [(g, g.get_state()) for g in generators if g is not None]
        modes = [(m, m.training) for m in model.modules()]
        try:
            model.eval()
            with torch.no_grad():
                out = model(torch.zeros((1, *self.input_shape), device=self._device))
        except Exception as err:  # noqa: BLE001 - any failure here means the shapes do not fit
            raise ValueError(
                f"`input_shape` == {tuple(self.input_shape)} does not fit the model: "
                f"{type(err).__name__}: {err}"
            ) from err
        finally:
            for module, mode in modes:
                module.training = mode
            for gen, state in states:
                gen.set_state(state)
        if isinstance(out, (tuple, list)):
            out = out[-1]
        if not isinstance(out, torch.Tensor) or out.dim() != 2:
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise ValueError(f"the model must output logits of shape (n, nb_classes), got {shape}.")
        return int(out.shape[1])

    # -- parameters ---------------------------------------------------------------------
    @property
    def activation(self) -> str:
        """Registry name of the activation defence."""
        return self._activation

    @property
    def gradient(self) -> GradientMode:
        """Gradient mode: ``"exact"``, ``"bpda"`` or ``"eot"``."""
        return self._gradient

    @property
    def eot_samples(self) -> int:
        """Draws averaged per gradient in ``"eot"`` mode (1 otherwise)."""
        return self._eot_samples if self._gradient == "eot" else 1

    @property
    def grad_params(self) -> dict[str, float]:
        """Gray-box parameters used for gradients (empty: white-box)."""
        return dict(self._grad_params)

    @property
    def gradient_settings(self) -> dict[str, Any]:
        """``{"gradient", "eot_samples", "grad_params"}`` as configured (``eot_samples`` is kept
        outside ``"eot"`` mode too): ``set_params(**saved)`` puts a saved copy back.

        >>> saved = clf.gradient_settings
        >>> clf.set_params(gradient="bpda")
        >>> clf.set_params(**saved)
        """
        return {
            "gradient": self._gradient,
            "eot_samples": self._eot_samples,
            "grad_params": dict(self._grad_params),
        }

    @property
    def sites(self) -> list[Site]:
        """The ReLU sites that were replaced."""
        return list(self._retrofit.sites)

    @property
    def activation_modules(self) -> list[RetrofitActivation]:
        """The installed activation modules."""
        return self._retrofit.activations()

    @property
    def activation_params(self) -> dict[str, float]:
        """The activation's current parameters, e.g. ``{"kappa": 1.0}``."""
        return self.activation_modules[0].get_params()

    @property
    def is_randomized(self) -> bool:
        """Whether predictions are random (randomized activation)."""
        return any(isinstance(m, RandomizedJumpReLU) for m in self.activation_modules)

    def get_params(self) -> dict[str, Any]:
        params = super().get_params()
        params.update(self.activation_params)
        return params

    def set_params(self, **kwargs: Any) -> None:
        """Set ART parameters and activation parameters (``kappa=...``) together.

        Everything is validated before anything changes.
        """
        names = activation_class(self._activation).param_names
        act = {k: kwargs.pop(k) for k in list(kwargs) if k in names}
        gradient = kwargs.pop("gradient", self._gradient)
        eot = kwargs.pop("eot_samples", self._eot_samples)
        grad_params_in = kwargs.pop("grad_params", self._grad_params) or {}
        if not isinstance(grad_params_in, Mapping):
            raise ValueError(
                "`grad_params` must be a mapping such as {'kappa': 0.0}, "
                f"got {type(grad_params_in).__name__}."
            )
        grad_params = dict(grad_params_in)
        kwargs.pop("activation", None)  # fixed at construction; get_params round-trips it
        check_choice(gradient, "gradient", _GRADIENT_MODES)
        eot = check_scalar(eot, "eot_samples", "int", min_val=1)
        probe = copy.deepcopy(self.activation_modules[0])
        probe.set_params(**act)  # validates values and names
        try:
            probe.grad_params = grad_params  # validates gray-box names and values
        except ValueError as err:
            raise ValueError(f"`grad_params` == {grad_params!r}: {err}") from err
        if gradient == "eot" and not self.is_randomized:
            warnings.warn(
                f"gradient='eot' on a deterministic activation ({self._activation!r}) "
                "averages identical gradients.",
                stacklevel=2,
            )
        if "nb_classes" in kwargs:
            width = check_scalar(kwargs["nb_classes"], "nb_classes", "int", min_val=2)
            if width != self._output_width:
                raise ValueError(
                    f"`nb_classes` == {kwargs['nb_classes']!r}, but the model outputs "
                    f"{self._output_width} logits per sample."
                )
        if "clip_values" in kwargs:
            check_clip_values(kwargs["clip_values"])
        if kwargs:
            super().set_params(**kwargs)
        self._retrofit.set_params(**act)
        self._gradient, self._eot_samples, self._grad_params = gradient, int(eot), grad_params
        for module in self.activation_modules:
            module.grad_mode = "bpda" if gradient == "bpda" else "exact"
            module.grad_params = grad_params

    # -- validated entry points ---------------------------------------------------------
    def _check(self, x: Any, y: Any = None) -> Any:
        x = check_input(x, self.input_shape, self.clip_values)
        if y is not None and len(y) != len(x):
            raise ValueError(f"`y` has {len(y)} entries for {len(x)} samples in `x`.")
        return x

    def _check_y(self, x: Any, y: Any) -> Any:
        """Labels for ART's loss code: index labels become one-hot rows; one-hot width, range,
        NaN and None are checked. Tensors (our attacks' internal calls) pass with a length check."""
        if isinstance(y, torch.Tensor):
            if len(y) != len(x):
                raise ValueError(f"`y` has {len(y)} entries for {len(x)} samples in `x`.")
            return y
        return check_labels(y, "y", len(x), self.nb_classes, one_hot=True)

    def predict(
        self, x: np.ndarray, batch_size: int = 128, training_mode: bool = False, **kwargs: Any
    ) -> np.ndarray:
        """ART ``predict`` with input validation (NaN, shape, dtype, clip range, empty).

        ART's ``predict`` iterates a ``DataLoader``, which draws a base seed from torch's global
        RNG; the state is put back, so predicting never advances the caller's RNG."""
        x = self._check(x)
        batch_size = check_scalar(batch_size, "batch_size", "int", min_val=1)
        with torch.random.fork_rng(devices=[]):
            return super().predict(x, batch_size=batch_size, training_mode=training_mode, **kwargs)

    def loss_gradient(self, x: Any, y: Any, training_mode: bool = False, **kwargs: Any) -> Any:
        """Gradient of the loss in the configured gradient mode (EOT: mean over draws)."""
        x = self._check(x)
        y = self._check_y(x, y)
        return self._eot_mean(
            lambda: super(RetrofitClassifier, self).loss_gradient(x, y, training_mode, **kwargs)
        )

    def class_gradient(self, x: Any, label: Any = None, training_mode: bool = False, **kwargs: Any) -> Any:
        """Class gradients in the configured gradient mode (EOT: mean over draws)."""
        x = self._check(x)
        if label is not None and not isinstance(label, torch.Tensor):
            if isinstance(label, (list, tuple, np.ndarray)):
                label = check_labels(label, "label", len(x), self.nb_classes)
            else:
                label = check_scalar(label, "label", "int", min_val=0, max_val=self.nb_classes - 1)
        return self._eot_mean(
            lambda: super(RetrofitClassifier, self).class_gradient(
                x, label=label, training_mode=training_mode, **kwargs
            )
        )

    def _eot_mean(self, compute: Callable[[], Any]) -> Any:
        """Mean of ``compute()`` over ``eot_samples`` draws (one call outside EOT mode)."""
        total = compute()
        for _ in range(self.eot_samples - 1):
            total = total + compute()
        return total / self.eot_samples if self.eot_samples > 1 else total

    def compute_loss(self, x: Any, y: Any, reduction: str = "none", **kwargs: Any) -> Any:
        x = self._check(x)
        return super().compute_loss(x, self._check_y(x, y), reduction=reduction, **kwargs)

    def __repr__(self) -> str:
        """ART's ``PyTorchClassifier`` fields (model, loss, optimizer, shapes, clip values,
        pre/post-processing), then the defence's."""
        art_repr = super().__repr__()
        return (
            f"{art_repr[:-1]}, activation={self._activation!r}, params={self.activation_params}, "
            f"gradient={self._gradient!r}, eot_samples={self._eot_samples}, grad_params={self._grad_params}, "
            f"sites={len(self._retrofit.sites)})"
        )
