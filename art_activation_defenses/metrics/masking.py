"""The gradient-masking flag: an adaptive or transfer attack beating the white-box one."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from art_activation_defenses._validation import check_scalar

__all__ = ["masking_gap"]


def masking_gap(
    white_box: float, adaptive: dict[str, float], margin: float
) -> tuple[bool, str | None, float]:
    """Whether an adaptive/transfer attack beats the white-box one by more than ``margin``.

    Lower accuracy means a stronger attack: if any adaptive accuracy is below
    ``white_box - margin``, the white-box gradient was misleading (gradient masking).

    :param white_box: White-box accuracy in [0, 1].
    :param adaptive: Attack name -> accuracy in [0, 1]; ``None``/NaN entries (not run) are skipped.
    :param margin: Tolerated gap, ``>= 0``.
    :return: ``(flag, strongest adaptive attack name, gap in accuracy points)``.
    """
    white_box = check_scalar(white_box, "white_box", min_val=0.0, max_val=1.0)
    margin = check_scalar(margin, "margin", min_val=0.0)
    if not isinstance(adaptive, Mapping):
        raise ValueError(
            f"`adaptive` must be a mapping attack name -> accuracy, got {type(adaptive).__name__}."
        )
    for key, value in adaptive.items():
        if value is not None and not _is_nan(value):  # None / NaN: attack not run, skipped
            check_scalar(value, f"adaptive[{key!r}]", min_val=0.0, max_val=1.0)
    finite = {k: v for k, v in adaptive.items() if v is not None and not math.isnan(v)}
    if not finite:
        return False, None, 0.0
    name = min(finite, key=lambda k: finite[k])
    gap = white_box - finite[name]
    return bool(gap > margin), name, float(gap)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
