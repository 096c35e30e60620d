"""The one home of argument and array checks (scikit-learn's ``utils.validation`` as the model).

Every check takes the value first and its public name second, returns the checked (possibly
converted) value and raises a :class:`ValueError` in one message style::

    `eps` == -1.0, must be > 0.
    `x` contains NaN or infinite values.

Validate once, where a value enters the public API; inner code trusts it. This module
imports only numpy and torch, so every layer may use it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

__all__ = [
    "check_array",
    "check_bool",
    "check_choice",
    "check_clip_values",
    "check_in_clip",
    "check_input",
    "check_labels",
    "check_model_dtype",
    "check_norm",
    "check_same_scale",
    "check_samples",
    "check_scalar",
]

Boundaries = Literal["both", "left", "right", "neither"]


def check_scalar(
    value: Any,
    name: str,
    target_type: Literal["int", "real"] = "real",
    *,
    min_val: float | None = None,
    max_val: float | None = None,
    include_boundaries: Boundaries = "both",
    allow_inf: bool = False,
) -> Any:
    """Check a scalar hyper-parameter: its type, finiteness and range.

    Modelled on scikit-learn's ``check_scalar``. Booleans are refused for both kinds; an
    ``"int"`` must be a Python or numpy integer (``2.7`` and ``2.0`` are refused); a ``"real"``
    may be any real number and must be finite unless ``allow_inf``.

    >>> check_scalar(0.5, "eps", min_val=0, include_boundaries="right")
    0.5

    :param value: The value.
    :param name: The argument's public name, used in the message.
    :param target_type: ``"int"`` or ``"real"``.
    :param min_val: Smallest accepted value (``None``: no lower bound).
    :param max_val: Largest accepted value (``None``: no upper bound).
    :param include_boundaries: Which of ``min_val``/``max_val`` are accepted themselves.
    :param allow_inf: Accept ``inf`` for a ``"real"``.
    :return: The value as ``int`` or ``float``.
    :raises ValueError: ```name` == value, must be ...``.
    """
    if include_boundaries not in ("both", "left", "right", "neither"):
        raise ValueError(
            f"`include_boundaries` == {include_boundaries!r}, must be both, left, right or neither."
        )
    if target_type == "int":
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
            raise ValueError(f"`{name}` == {value!r}, must be an integer.")
        out: Any = int(value)
    elif target_type == "real":
        if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Real, np.integer, np.floating)
        ):
            raise ValueError(f"`{name}` == {value!r}, must be a real number.")
        out = float(value)
        if math.isnan(out) or (math.isinf(out) and not allow_inf):
            raise ValueError(f"`{name}` == {value!r}, must be finite.")
    else:
        raise ValueError(f"`target_type` == {target_type!r}, must be 'int' or 'real'.")
    left = include_boundaries in ("both", "left")
    right = include_boundaries in ("both", "right")
    if min_val is not None and (out < min_val or (out == min_val and not left)):
        raise ValueError(f"`{name}` == {value!r}, must be {'>=' if left else '>'} {min_val:g}.")
    if max_val is not None and (out > max_val or (out == max_val and not right)):
        raise ValueError(f"`{name}` == {value!r}, must be {'<=' if right else '<'} {max_val:g}.")
    return out


def check_bool(value: Any, name: str) -> bool:
    """Check a flag: a Python or numpy bool (``0``/``1`` and strings are refused).

    :raises ValueError: ```name` == 1, must be a bool.``
    """
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` == {value!r}, must be a bool.")
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` (compared with ``==``, type-strict for strings).

    :raises ValueError: ```name` == 'foo', must be one of ('ce', 'margin').``
    """
    options = tuple(choices)
    try:
        ok = any(type(value) is type(c) and value == c for c in options) or (
            not isinstance(value, str) and value in options
        )
    except (TypeError, ValueError):  # unhashable or array-like values
        ok = False
    if not ok:
        raise ValueError(f"`{name}` == {value!r}, must be one of {options}.")
    return value


_NORM_ALIASES = {"1": 1.0, "2": 2.0, "inf": math.inf, "linf": math.inf, "l1": 1.0, "l2": 2.0}


def check_norm(norm: Any, name: str = "norm", allowed: Sequence[float] = (1.0, 2.0, math.inf)) -> float:
    """Check a p-norm given as ``1``, ``2``, ``np.inf`` or a string (``"inf"``, ``"2"``, ``"l2"``...).

    >>> check_norm("inf", allowed=(2.0, math.inf))
    inf

    :param allowed: The accepted norms.
    :return: The norm as ``float`` (``math.inf`` for L∞).
    :raises ValueError: ```norm` == 3, must be one of 1, 2, inf.``
    """
    value = math.nan
    if isinstance(norm, str):
        value = _NORM_ALIASES.get(norm.strip().lower(), math.nan)
    elif isinstance(norm, (numbers.Real, np.integer, np.floating)) and not isinstance(norm, (bool, np.bool_)):
        value = float(norm)
    if value not in allowed:
        spelled = ", ".join("inf" if math.isinf(a) else f"{a:g}" for a in allowed)
        raise ValueError(f"`{name}` == {norm!r}, must be one of {spelled}.")
    return value


def check_array(
    x: Any,
    name: str,
    *,
    ndim_min: int = 1,
    input_shape: Sequence[int] | None = None,
    floating: bool = True,
    allow_empty: bool = False,
) -> np.ndarray:
    """Check a batch: a numpy array of real numbers, non-empty, finite, of the expected shape.

    :param x: The candidate batch (not modified, not copied).
    :param name: The argument's public name.
    :param ndim_min: Smallest number of dimensions.
    :param input_shape: Expected shape of one sample (``x.shape[1:]``), if known.
    :param floating: Require a floating dtype (images scaled to the classifier's clip_values);
        ``False`` also admits integers.
    :param allow_empty: Accept a batch of zero samples.
    :return: ``x`` itself.
    """
    if not isinstance(x, np.ndarray):
        raise ValueError(f"`{name}` must be a numpy array, got {type(x).__name__}.")
    kinds = "f" if floating else "fiu"
    if x.dtype.kind not in kinds:
        what = (
            "floating-point numbers (scaled to the classifier's clip_values)" if floating else "real numbers"
        )
        raise ValueError(f"`{name}` must hold {what}, got dtype {x.dtype}.")
    if x.ndim < ndim_min:
        raise ValueError(f"`{name}` must have at least {ndim_min} dimensions, got shape {x.shape}.")
    if x.ndim and x.shape[0] == 0 and not allow_empty:
        raise ValueError(f"`{name}` is empty (shape {x.shape}).")
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise ValueError(f"`{name}` has sample shape {x.shape[1:]}, expected {tuple(input_shape)}.")
    if x.dtype.kind == "f" and not np.isfinite(x).all():
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    return x


def check_clip_values(clip_values: Any, name: str = "clip_values") -> tuple[Any, Any] | None:
    """Check ``clip_values``: ``None`` or a pair ``(min, max)`` of finite scalars or arrays with
    ``min < max`` everywhere.

    :return: ``clip_values`` unchanged (``None`` or the pair).
    """
    if clip_values is None:
        return None
    if isinstance(clip_values, (str, bytes)) or not isinstance(clip_values, (tuple, list, np.ndarray)):
        raise ValueError(f"`{name}` == {clip_values!r}, must be None or a pair (min, max).")
    if len(clip_values) != 2:
        raise ValueError(f"`{name}` == {clip_values!r}, must be a pair (min, max).")
    try:
        lo = np.asarray(clip_values[0], dtype=np.float64)
        hi = np.asarray(clip_values[1], dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` == {clip_values!r}, must hold real numbers.") from err
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise ValueError(f"`{name}` == {clip_values!r}, must be finite.")
    try:
        ordered = bool(np.all(lo < hi))
    except ValueError as err:  # shapes that do not broadcast
        raise ValueError(f"`{name}` has min and max of shapes {lo.shape} and {hi.shape}.") from err
    if not ordered:
        raise ValueError(f"`{name}` == {clip_values!r}, must have min < max.")
    return (clip_values[0], clip_values[1])


def check_in_clip(x: Any, name: str, clip_values: tuple[Any, Any] | None, *, tolerance: float = 0.0) -> None:
    """Refuse data outside ``clip_values`` by more than ``tolerance`` times the range width
    (0-255 images for a (0, 1) model, [-1, 1] normalisation for a (0, 1) model).

    :param x: A numpy array or tensor of finite values.
    :param clip_values: ``(min, max)`` or ``None`` (no check).
    :param tolerance: Allowed excursion as a fraction of ``max - min``.
    """
    if clip_values is None:
        return
    if isinstance(x, torch.Tensor):
        if x.numel() == 0:
            return
        lo_val, hi_val = float(x.min()), float(x.max())
    else:
        arr = np.asarray(x)
        if arr.size == 0:
            return
        lo_val, hi_val = float(arr.min()), float(arr.max())
    lo, hi = float(np.min(clip_values[0])), float(np.max(clip_values[1]))
    tol = tolerance * (hi - lo)
    if lo_val < lo - tol or hi_val > hi + tol:
        raise ValueError(
            f"`{name}` has values in [{lo_val:.4g}, {hi_val:.4g}], outside clip_values ({lo:g}, {hi:g})"
            + (f" by more than {tolerance:g} of the range" if tolerance else "")
            + "; scale it like the classifier's inputs."
        )


def check_same_scale(x: np.ndarray, name: str, reference: np.ndarray, reference_name: str) -> None:
    """Refuse ``x`` whose values lie far outside the range of ``reference`` (by more than the
    reference's own range width): data on another scale than the reference (e.g. ``x * 255``)."""
    if x.size == 0 or reference.size == 0:
        return
    r_lo, r_hi = float(reference.min()), float(reference.max())
    span = max(r_hi - r_lo, 1e-12)
    lo, hi = float(x.min()), float(x.max())
    if lo < r_lo - span or hi > r_hi + span:
        raise ValueError(
            f"`{name}` has values in [{lo:.4g}, {hi:.4g}], far outside `{reference_name}`'s "
            f"[{r_lo:.4g}, {r_hi:.4g}]: put both on the same scale."
        )


def check_samples(
    x: Any,
    name: str,
    *,
    input_shape: Sequence[int] | None = None,
    clip_values: tuple[Any, Any] | None = None,
    clip_tolerance: float = 0.5,
    reference: np.ndarray | None = None,
    reference_name: str = "x_reference",
) -> np.ndarray:
    """Check a batch of model inputs: :func:`check_array` (floating, finite, non-empty, shape),
    within ``clip_values`` (up to ``clip_tolerance`` of the range, as
    ``RetrofitClassifier.predict`` allows) and on the scale of ``reference`` when given.

    :return: ``x`` itself.
    """
    check_array(x, name, ndim_min=2, input_shape=input_shape)
    check_in_clip(x, name, clip_values, tolerance=clip_tolerance)
    if reference is not None and reference is not x:
        check_same_scale(x, name, reference, reference_name)
    return x  # type: ignore[no-any-return]


def check_labels(y: Any, name: str, n: int, nb_classes: int, *, one_hot: bool = False) -> np.ndarray:
    """Check labels: ``n`` class indices in ``[0, nb_classes)`` or ``n`` rows of
    ``nb_classes`` finite, non-negative scores (one-hot or probabilities).

    :param y: The labels (array-like).
    :param name: The argument's public name.
    :param n: Number of samples they label.
    :param nb_classes: Number of classes.
    :param one_hot: Return one-hot / probability rows of float32 (indices are encoded);
        else int64 indices (rows are reduced with ``argmax``).
    """
    if y is None:
        raise ValueError(f"`{name}` == None, must be {n} class indices or one-hot rows.")
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as err:
        raise ValueError(f"`{name}` must be class indices or one-hot rows, got {type(y).__name__}.") from err
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"`{name}` must hold numbers, got dtype {arr.dtype}.")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim == 1:
        if arr.shape[0] != n:
            raise ValueError(f"`{name}` has {arr.shape[0]} labels for {n} samples.")
        if arr.dtype.kind == "f":
            if not np.isfinite(arr).all() or not np.array_equal(arr, np.round(arr)):
                raise ValueError(f"`{name}` holds non-integer class indices (dtype {arr.dtype}).")
        if arr.dtype.kind == "b":
            raise ValueError(f"`{name}` must hold class indices, got booleans.")
        if n and (arr.min() < 0 or arr.max() >= nb_classes):
            raise ValueError(
                f"`{name}` holds class indices in [{arr.min():g}, {arr.max():g}], "
                f"must lie in [0, {nb_classes})."
            )
        idx = arr.astype(np.int64)
        return np.eye(nb_classes, dtype=np.float32)[idx] if one_hot else idx
    if arr.ndim == 2:
        if arr.shape[0] != n:
            raise ValueError(f"`{name}` has {arr.shape[0]} label rows for {n} samples.")
        if arr.shape[1] != nb_classes:
            raise ValueError(
                f"`{name}` has one-hot rows of width {arr.shape[1]}, must be nb_classes == {nb_classes}."
            )
        rows = arr.astype(np.float32)
        if not np.isfinite(rows).all():
            raise ValueError(f"`{name}` contains NaN or infinite values.")
        if (rows < 0).any() or (n and (rows.sum(1) <= 0).any()):
            raise ValueError(f"`{name}` rows must be non-negative scores with a positive sum (one-hot).")
        return rows if one_hot else rows.argmax(1).astype(np.int64)
    raise ValueError(
        f"`{name}` has shape {arr.shape}, must be ({n},) indices or ({n}, {nb_classes}) one-hot."
    )


def check_input(
    x: np.ndarray | torch.Tensor,
    input_shape: Sequence[int],
    clip_values: tuple[Any, Any] | None,
    *,
    name: str = "x",
    clip_tolerance: float = 0.5,
) -> np.ndarray | torch.Tensor:
    """Validate a batch for an estimator: shape, dtype, finiteness, emptiness, clip range.

    Floating numpy input is returned as float32 (a copy only when the dtype differs);
    tensors are returned as they are. Values may leave ``clip_values`` by at most
    ``clip_tolerance`` times the range width: some ART attacks (VAT's finite differences)
    probe just outside the box, while data on the wrong scale is far outside it.

    :raises ValueError: naming ``name`` and what is wrong with it.
    """
    if isinstance(x, torch.Tensor):
        if not x.is_floating_point():
            raise ValueError(f"`{name}` must be a floating-point tensor, got dtype {x.dtype}.")
        shape = tuple(x.shape)
        finite = bool(torch.isfinite(x).all())
        lo_val, hi_val = (float(x.min()), float(x.max())) if x.numel() else (0.0, 0.0)
    else:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.floating):
            raise ValueError(
                f"`{name}` must be a floating-point array (float32, scaled to clip_values), "
                f"got dtype {x.dtype}."
            )
        if x.dtype != np.float32:
            x = x.astype(np.float32)
        shape = x.shape
        finite = bool(np.isfinite(x).all())
        lo_val, hi_val = (float(x.min()), float(x.max())) if x.size else (0.0, 0.0)
    if len(shape) == 0 or shape[0] == 0:
        raise ValueError(f"`{name}` is an empty batch (shape {shape}).")
    if tuple(shape[1:]) != tuple(input_shape):
        raise ValueError(f"`{name}` has shape {shape}; expected (n, {', '.join(map(str, input_shape))}).")
    if not finite:
        raise ValueError(f"`{name}` contains NaN or infinite values.")
    if clip_values is not None:
        lo, hi = np.min(clip_values[0]), np.max(clip_values[1])
        # Catches data on the wrong scale (0-255 images, [-1, 1] normalisation) while letting
        # ART's finite-difference probes (VAT steps up to ~xi outside the box) through.
        tol = clip_tolerance * float(hi - lo)
        if lo_val < lo - tol or hi_val > hi + tol:
            raise ValueError(
                f"`{name}` has values in [{lo_val:.4g}, {hi_val:.4g}], outside clip_values ({lo:g}, {hi:g})."
            )
    return x


def check_model_dtype(model: nn.Module, name: str = "model") -> None:
    """Refuse a model whose floating parameters or buffers are not float32 (ART feeds float32).

    :raises ValueError: naming the dtype found and the fix (``model.float()``).
    """
    dtypes = {t.dtype for t in (*model.parameters(), *model.buffers()) if t.is_floating_point()}
    other = sorted(str(d).replace("torch.", "") for d in dtypes if d != torch.float32)
    if other:
        raise ValueError(
            f"`{name}` has {'/'.join(other)} parameters; ART feeds float32 inputs, so pass a float32 "
            f"model (e.g. `{name}.float()`)."
        )
