"""The gradient-masking flag: an adaptive or transfer attack beating the white-box one."""

from __future__ import annotations

import math

__all__ = ["masking_gap"]


def masking_gap(
    white_box: float, adaptive: dict[str, float], margin: float
) -> tuple[bool, str | None, float]:
    """Whether an adaptive/transfer attack beats the white-box one by more than ``margin``.

    Lower accuracy means a stronger attack: if any adaptive accuracy is below
    ``white_box - margin``, the white-box gradient was misleading (gradient masking).

    :return: ``(flag, strongest adaptive attack name, gap in accuracy points)``.
    """
    finite = {k: v for k, v in adaptive.items() if v is not None and not math.isnan(v)}
    if not finite:
        return False, None, 0.0
    name = min(finite, key=lambda k: finite[k])
    gap = white_box - finite[name]
    return bool(gap > margin), name, float(gap)
