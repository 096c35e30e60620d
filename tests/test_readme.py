"""README's Python example is examples/quickstart.py, and it runs as written."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_example_is_quickstart_and_short() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```python\n(.*?)```", readme, re.S)
    assert block is not None
    assert block.group(1) == (ROOT / "examples" / "quickstart.py").read_text(encoding="utf-8")
    assert len(block.group(1).strip().splitlines()) <= 8


def test_quickstart_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(ROOT / "examples" / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out.split()
    clean, robust = float(out[1]), float(out[3])
    assert clean > 0.9 and 0.0 <= robust < clean
