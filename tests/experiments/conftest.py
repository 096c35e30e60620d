"""Fixtures of the reproduction tests: ``golden_diff`` compares rendered quick tables with the stored ones."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def _load_golden() -> Any:
    path = Path(__file__).parent / "_golden.py"
    spec = importlib.util.spec_from_file_location("_golden_tables", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def golden_diff() -> Callable[[str, dict[str, Any]], list[str]]:
    """``golden_diff(name, results)``: the tables whose rendering differs from ``golden/<name>.md``."""
    return _load_golden().golden_diff  # type: ignore[no-any-return]
