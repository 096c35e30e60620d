"""What every figure of the package does last, shared by the evaluation and experiments layers: collect
the legend entries of several panels, lay the figure out, save it and close it.

A leaf module: it imports matplotlib only inside its functions, and nothing of the package."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["finish_figure", "legend_entries"]


def legend_entries(axes: Iterable[Any]) -> tuple[list[Any], list[str]]:
    """The legend handles and labels of every panel in ``axes``, in order (for one figure legend).

    :param axes: matplotlib ``Axes``.
    :return: ``(handles, labels)``, new lists the caller may extend.
    """
    handles: list[Any] = []
    labels: list[str] = []
    for ax in axes:
        h, lab = ax.get_legend_handles_labels()
        handles += h
        labels += lab
    return handles, labels


def finish_figure(
    fig: Any,
    path: str | os.PathLike[str],
    *,
    rect: tuple[float, float, float, float] | None = None,
    dpi: int = 120,
) -> Path:
    """Lay out (``tight_layout``), create the folder, save as ``path`` and close a matplotlib figure.

    :param fig: The figure; it is closed afterwards.
    :param path: The image file to write (the format follows its suffix).
    :param rect: The ``tight_layout`` box in figure coordinates, e.g. ``(0, 0.12, 1, 1)`` to keep the
        bottom free for a figure legend; ``None``: the whole figure.
    :param dpi: Resolution of the saved image.
    :return: ``path`` as a ``Path``.
    """
    import matplotlib.pyplot as plt

    fig.tight_layout(rect=rect)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=dpi)
    plt.close(fig)
    return out
