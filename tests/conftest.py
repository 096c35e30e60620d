"""Shared, seeded fixtures: a tiny MLP trained on scikit-learn's digits in about a second.

The suite runs with one intra-op thread: torch's default (one thread per core) thrashes when the
cores are shared, and numbers are reproducible only for a fixed thread count. The OpenMP/MKL
variables are set before torch is imported where this file is the first to import it.
"""

from __future__ import annotations

import os
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from torch import nn  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits as float32 (n, 1, 8, 8) in [0, 1]; first 1,400 train, the rest test."""
    data = load_digits()
    x = (data.images / 16.0).astype(np.float32)[:, None]
    y = data.target.astype(np.int64)
    return x[:1400], y[:1400], x[1400:], y[1400:]


@pytest.fixture(scope="session")
def tiny_model(digits: tuple[np.ndarray, ...]) -> nn.Module:
    """A 64-32-32-10 ReLU MLP trained full-batch with Adam (seeded; ~95% test accuracy)."""
    x_train, y_train, _, _ = digits
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 10)
    )
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(150):
        opt.zero_grad()
        nn.functional.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model.eval()


@pytest.fixture()
def checkpoint(tmp_path: Path) -> Path:
    """An (untrained) lenet-like checkpoint for digits with the metadata ``train`` writes (CLI tests;
    a module may override it with a trained one)."""
    from art_activation_defenses.models import build_model
    from art_activation_defenses.training import save_checkpoint

    path = tmp_path / "m.pt"
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("lenet-like", (1, 8, 8), 10)
    meta = {"model": "lenet-like", "dataset": "digits", "input_shape": [1, 8, 8], "nb_classes": 10}
    save_checkpoint(model, path, metadata=meta)
    return path
