"""Figure 2 of the BReLU paper: a two-hidden-layer MLP on two 2-D toy problems, trained plain and
with one extra point per sample from an attack or from noise; decision regions and confidence."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from art.attacks.evasion import FastGradientMethod, SaliencyMapMethod
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import art_device_type, place_classifier
from art_activation_defenses.defences import lds_direction
from art_activation_defenses.models import build_model

__all__ = ["TOY_METHODS", "toy_cell"]

#: Augmentation -> label. Every augmented model sees the clean set plus one extra point per sample.
TOY_METHODS: dict[str, str] = {
    "plain": "plain",
    "fgsm_l2": "FGSM-L2 ε=0.3",
    "vat": "VAT ε=0.3",
    "jsma": "JSMA θ=0.1",
    "uniform": "uniform noise [−0.3, 0.3]",
    "gaussian": "Gaussian noise σ=0.3",
}
_SHAPE = (1, 1, 2)


def _data(name: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_circles, make_moons

    if name == "circles":
        x, y = make_circles(n_samples=n, noise=0.1, factor=0.5, random_state=seed)
    else:
        x, y = make_moons(n_samples=n, noise=0.15, random_state=seed)
    return x.astype(np.float32).reshape(-1, *_SHAPE), y.astype(np.int64)


def _classifier(model: nn.Module, clip: tuple[float, float], device: torch.device) -> PyTorchClassifier:
    clf = PyTorchClassifier(
        model, nn.CrossEntropyLoss(), _SHAPE, 2, clip_values=clip, device_type=art_device_type(device)
    )
    return place_classifier(clf, device)


def _train(x: np.ndarray, y: np.ndarray, steps: int, seed: int, device: torch.device) -> nn.Module:
    """A fresh 2-32-32-2 ReLU MLP trained full-batch with Adam (seeded) on ``device``."""
    torch.manual_seed(seed)
    model = build_model("mlp", _SHAPE, 2, hidden=(32, 32)).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
    model.train()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(xt), yt).backward()
        opt.step()
    return model.eval()


def _extra_points(method: str, clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray, seed: int) -> np.ndarray:
    """One extra point per sample, crafted on the plain model (attacks) or drawn (noise)."""
    rng = np.random.default_rng(seed)
    if method == "fgsm_l2":
        return FastGradientMethod(clf, norm=2, eps=0.3).generate(x, y=np.eye(2, dtype=np.float32)[y])
    if method == "jsma":
        target = np.eye(2, dtype=np.float32)[1 - y]
        return SaliencyMapMethod(clf, theta=0.1, gamma=1.0, batch_size=len(x), verbose=False).generate(
            x, y=target
        )
    if method == "vat":
        model = clf.model
        xt = torch.from_numpy(x).to(clf.device)
        with torch.no_grad():
            logits = model(xt)
        d = lds_direction(
            model, xt, logits, xi=1e-6, iterations=1, generator=torch.Generator().manual_seed(seed)
        )
        return (xt + 0.3 * d).cpu().numpy()
    if method == "uniform":
        return x + rng.uniform(-0.3, 0.3, size=x.shape).astype(np.float32)
    if method == "gaussian":
        return x + rng.normal(0.0, 0.3, size=x.shape).astype(np.float32)
    raise ValueError(f"unknown toy method {method!r}")


def toy_cell(
    dataset: str, *, n: int, steps: int, grid: int, seed: int, device: torch.device | None = None
) -> dict[str, Any]:
    """Train the plain and the five augmented MLPs on ``dataset`` (``"circles"`` or ``"moons"``).

    :return: ``{"x", "y" (the training points), "extent", "methods": {name: {"accuracy", "fgsm_l2_accuracy",
        "proba" (P(class 1) on a grid x grid lattice, rows = second coordinate)}}}``.
    """
    x, y = _data(dataset, n, seed)
    x_test, y_test = _data(dataset, n, seed + 1)
    lo, hi = float(min(x.min(), x_test.min())) - 0.5, float(max(x.max(), x_test.max())) + 0.5
    u = np.linspace(lo, hi, grid, dtype=np.float32)
    lattice = np.stack(np.meshgrid(u, u), axis=-1).reshape(-1, *_SHAPE)
    device = device or torch.device("cpu")
    plain = _train(x, y, steps, seed, device)
    clip = (lo, hi)
    out: dict[str, Any] = {"x": np.round(x.reshape(-1, 2), 3), "y": y, "extent": [lo, hi], "methods": {}}
    for method in TOY_METHODS:
        if method == "plain":
            model = plain
        else:
            extra = _extra_points(method, _classifier(plain, clip, device), x, y, seed)
            x_aug, y_aug = np.concatenate([x, extra.astype(np.float32)]), np.concatenate([y, y])
            model = _train(x_aug, y_aug, steps, seed, device)
        clf = _classifier(model, clip, device)
        x_adv = FastGradientMethod(clf, norm=2, eps=0.3).generate(
            x_test, y=np.eye(2, dtype=np.float32)[y_test]
        )
        with torch.no_grad():
            logits = model(torch.from_numpy(lattice).to(device))
        proba = torch.softmax(logits, 1)[:, 1].reshape(grid, grid).cpu().numpy()
        out["methods"][method] = {
            "accuracy": float((clf.predict(x_test).argmax(1) == y_test).mean()),
            "fgsm_l2_accuracy": float((clf.predict(x_adv).argmax(1) == y_test).mean()),
            "proba": np.round(proba, 3),
        }
    return out
