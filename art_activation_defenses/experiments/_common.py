"""Helpers shared by the experiments: environment record, JSON writing, small math."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from art_activation_defenses.metrics.masking import masking_gap

__all__ = ["environment", "write_json", "to_jsonable", "masking_gap"]


def environment() -> dict[str, Any]:
    """Library versions and machine facts recorded with every result."""
    import art
    import sklearn
    import torch

    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "torch": torch.__version__,
        "adversarial-robustness-toolbox": art.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }


def to_jsonable(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples into plain JSON types (NaN becomes None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.floating, float)):
        f = float(value)
        return None if math.isnan(f) else f
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def write_json(data: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``data`` as JSON atomically (temporary file + rename): a crash never leaves a
    half-written file behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(to_jsonable(data), handle, indent=2, sort_keys=False)
        handle.write("\n")
    mask = os.umask(0)  # mkstemp creates 0600; give the file the mode a plain open() would
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, path)
    return path
