"""The resumable runner: cells stored at once, skipped on rerun; model cache keyed by settings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from art_activation_defenses.experiments.runner import CellStore, cached_model, run_grid


def test_grid_resumes_after_a_crash(tmp_path: Path) -> None:
    calls: list[int] = []

    def compute(cell: Mapping[str, Any]) -> dict[str, int]:
        if cell["a"] == 3 and not calls.count(-1):
            calls.append(-1)
            raise RuntimeError("killed")
        calls.append(cell["a"])
        return {"double": 2 * cell["a"]}

    cells = [{"a": 1}, {"a": 2}, {"a": 3}]
    with pytest.raises(RuntimeError, match="killed"):
        run_grid(cells, compute, CellStore(tmp_path / "cells.json"), verbose=False)
    records = run_grid(cells, compute, CellStore(tmp_path / "cells.json"), verbose=False)
    assert [r["result"]["double"] for r in records] == [2, 4, 6]
    assert calls == [1, 2, -1, 3]  # cells 1 and 2 were not recomputed
    with pytest.raises(ValueError, match="duplicate"):
        run_grid([{"a": 1}, {"a": 1}], compute, CellStore(tmp_path / "other.json"), verbose=False)


def test_cached_model_retrains_when_settings_change(tmp_path: Path) -> None:
    trained: list[float] = []

    def build() -> nn.Module:
        return nn.Linear(2, 2)

    def train_with(value: float) -> Any:
        def train(model: nn.Module) -> dict[str, float]:
            with torch.no_grad():
                model.weight.fill_(value)
            trained.append(value)
            return {"value": value}

        return train

    path = tmp_path / "m.pt"
    m1, meta1 = cached_model(path, build, train_with(1.0), settings={"lr": 0.1})
    m2, meta2 = cached_model(path, build, train_with(9.0), settings={"lr": 0.1})
    assert meta1["cached"] is False and meta2["cached"] is True and trained == [1.0]
    assert meta1["train_seconds"] >= 0.0 and meta2["train_seconds"] == meta1["train_seconds"]  # stored
    assert torch.equal(m2.weight, torch.ones(2, 2))
    with pytest.warns(UserWarning, match="retraining"):
        m3, meta3 = cached_model(path, build, train_with(2.0), settings={"lr": 0.2})
    assert meta3["cached"] is False and torch.equal(m3.weight, torch.full((2, 2), 2.0))
    assert cached_model(path, build, train_with(5.0))[1]["cached"] is True  # no settings: reuse
