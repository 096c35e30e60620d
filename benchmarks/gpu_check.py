"""Per-pass cost of the package's attacks on one device (the timing part of ``gpu_check.sh``; not a test).

A LeNet-like of the zoo is trained on scikit-learn's digits (bilinearly resized to ``--size``, no
download) on the device; then each attack runs on one batch of ``--n`` test images and its wall time
is divided by ``passes x`` the raw forward+backward time of the same model on the same batch
(``torch.autograd.grad`` of the summed cross-entropy w.r.t. the input; ``torch.cuda.synchronize()``
around every timing). ``passes`` = the most steps a sample used + 1 final decision pass (DeepFool and
TrustRegion without their final shrink-to-boundary phase, FMN without its bisection). DeepFool
linearises ``nb_candidates - 1`` logit differences per step, so it is also divided by the raw
forward + that many Jacobian rows (one vmapped backward); TrustRegion's one-off target selection
(forward + Jacobian rows at the clean input) is counted as raw work next to its passes. Goal: ratio <= 1.25.

Writes a JSON report (ratios, torch / CUDA versions, GPU name). Run on a GPU with
``python benchmarks/gpu_check.py`` (``--device cuda``, the default, exits with status 2 and a clear
message when torch sees no CUDA GPU); ``--device cpu --n 32 --size 8`` is a smoke run.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses._device import place_classifier
from art_activation_defenses.attacks import FMN, DeepFool, TrustRegion, ZeroGradientPGD
from art_activation_defenses.data import load_dataset
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit

HERE = Path(__file__).resolve().parent
GOAL = 1.25


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu (default cuda)")
    p.add_argument("--n", type=int, default=512, help="images per attack batch (default 512)")
    p.add_argument("--size", type=int, default=28, help="image side after resizing the 8x8 digits")
    p.add_argument("--epochs", type=int, default=8, help="training epochs of the LeNet-like")
    p.add_argument("--repeat", type=int, default=3, help="timed runs per attack (median)")
    p.add_argument("--out", type=Path, default=None, help="JSON report (default results/gpu_check.json)")
    return p.parse_args(argv)


def pick_device(name: str) -> torch.device:
    """The device, or exit 2 with a clear message when CUDA is asked for and absent."""
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print(
            f"gpu_check: --device {name} but torch {torch.__version__} sees no CUDA GPU "
            f"(CUDA build: {torch.version.cuda or 'none'}). Run it on a CUDA machine, or smoke-test "
            "with --device cpu.",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return dev


def sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def timed(fn: Callable[[], Any], dev: torch.device) -> float:
    sync(dev)
    start = time.perf_counter()
    fn()
    sync(dev)
    return time.perf_counter() - start


def median_time(fn: Callable[[], Any], dev: torch.device, repeat: int = 5) -> float:
    fn()  # warm-up (cuDNN autotuning, allocator)
    return float(np.median([timed(fn, dev) for _ in range(repeat)]))


def digits(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits in [0, 1], resized to ``size x size``: (x_train, y_train, x_test, y_test)."""
    out = []
    for split in ("train", "test"):
        x, y = load_dataset("digits", split=split)
        if size != x.shape[-1]:
            t = torch.nn.functional.interpolate(torch.from_numpy(x), size=(size, size), mode="bilinear")
            x = t.clamp(0.0, 1.0).numpy()
        out += [np.ascontiguousarray(x, dtype=np.float32), y]
    return out[0], out[1], out[2], out[3]


def raw_fwd_bwd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, dev: torch.device) -> float:
    def run() -> None:
        xg = x.detach().requires_grad_(True)
        torch.autograd.grad(nn.functional.cross_entropy(model(xg), y, reduction="sum"), xg)

    return median_time(run, dev)


def raw_fwd_jacobian(model: nn.Module, x: torch.Tensor, rows: int, dev: torch.device) -> float:
    """Forward + ``rows`` logit-difference gradients in one vmapped backward (as DeepFool does)."""

    def run() -> None:
        xg = x.detach().requires_grad_(True)
        z = model(xg)
        diffs = z[:, 1 : rows + 1] - z[:, :1]
        seeds = torch.eye(rows, device=z.device).unsqueeze(1).expand(rows, z.shape[0], rows)
        torch.autograd.grad(diffs, xg, grad_outputs=seeds, is_grads_batched=True)

    return median_time(run, dev)


def attacks(clf: PyTorchClassifier, n: int) -> dict[str, Any]:
    common: dict[str, Any] = {"batch_size": n, "verbose": False}
    # the minimal-perturbation attacks without their final shrink phase: iterations only
    minimal: dict[str, Any] = {"max_iter": 50, "refine_steps": 0, "projection_steps": 0}
    minimal["surrogate_search"] = False
    return {
        "DeepFool L2": DeepFool(clf, norm=2, **minimal, **common),
        "DeepFool Linf": DeepFool(clf, norm=np.inf, **minimal, **common),
        "TrustRegion L2": TrustRegion(clf, norm=2, **minimal, **common),
        "FMN L2": FMN(clf, norm=2, steps=50, binary_search_steps=0, **common),
        "PGD Linf (ZeroGradientPGD)": ZeroGradientPGD(
            clf, eps=0.3, eps_step=0.01, max_iter=50, tol=0.0, **common
        ),
    }


def environment(dev: torch.device) -> dict[str, Any]:
    env: dict[str, Any] = {
        "device": str(dev),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
    }
    if dev.type == "cuda":
        env["gpu_name"] = torch.cuda.get_device_name(dev)
        env["gpu_capability"] = list(torch.cuda.get_device_capability(dev))
    else:
        env["gpu_name"] = None
        env["cpu"] = platform.processor() or platform.machine()
    return env


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    dev = pick_device(args.device)
    torch.manual_seed(0)
    x_tr, y_tr, x_te, y_te = digits(args.size)
    model = build_model("lenet-like", x_tr.shape[1:], 10)
    t_train = time.perf_counter()
    fit(model, x_tr, y_tr, epochs=args.epochs, batch_size=128, lr=1e-3, seed=0, device=dev, verbose=False)
    t_train = time.perf_counter() - t_train
    model.eval()
    clf = PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(x_tr.shape[1:]),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu" if dev.type == "cpu" else "gpu",
    )
    place_classifier(clf, dev)  # honours cuda:N (ART's device_type="gpu" picks the current device)
    reps = max(1, -(-args.n // len(x_te)))
    x = np.concatenate([x_te] * reps)[: args.n]
    y = np.concatenate([y_te] * reps)[: args.n]
    x_t, y_t = torch.from_numpy(x).to(dev), torch.from_numpy(y).to(dev)
    report: dict[str, Any] = {
        **environment(dev),
        "model": "lenet-like",
        "input_shape": list(x.shape[1:]),
        "n": int(args.n),
        "train_seconds": t_train,
        "clean_accuracy_test": float(evaluate(model, x_te, y_te, device=dev)),
        "goal_ratio": GOAL,
        "attacks": {},
    }
    print(
        f"device={dev} ({report['gpu_name'] or report.get('cpu')}) torch {torch.__version__} "
        f"CUDA {torch.version.cuda} n={args.n} shape={tuple(x.shape[1:])} "
        f"clean acc={report['clean_accuracy_test']:.3f} (trained in {t_train:.1f} s)"
    )
    print(f"{'attack':28s} {'wall s':>8s} {'passes':>6s} {'fwd+bwd ms':>10s} {'ratio':>7s}")
    for name, attack in attacks(clf, args.n).items():
        attack.generate(x[: min(len(x), 64)], y[: min(len(x), 64)])  # warm-up
        walls, raws = [], []
        for _ in range(args.repeat):
            raws.append(raw_fwd_bwd(model, x_t, y_t, dev))
            walls.append(timed(lambda a=attack: a.generate(x, y), dev))  # type: ignore[misc]
        wall, raw = float(np.median(walls)), float(np.median(raws))
        passes = int(attack.iterations_.max()) + 1
        x_adv = attack.generate(x, y)
        fooled = float((clf.predict(x_adv).argmax(1) != y).mean())
        entry: dict[str, Any] = {
            "wall_s": wall,
            "passes": passes,
            "raw_fwd_bwd_s": raw,
            "ratio_vs_fwd_bwd": wall / (passes * raw),
            "fool_rate": fooled,
        }
        line = f"{name:28s} {wall:8.3f} {passes:6d} {raw * 1e3:10.2f} {entry['ratio_vs_fwd_bwd']:7.3f}"
        if name.startswith("DeepFool"):
            rows = attack.nb_candidates - 1
            jac = raw_fwd_jacobian(model, x_t, rows, dev)
            entry["raw_fwd_jacobian_s"] = jac
            entry["ratio_vs_fwd_jacobian"] = wall / (passes * jac)
            line += f"   vs fwd+{rows} Jacobian rows: {entry['ratio_vs_fwd_jacobian']:.3f}"
        if name.startswith("TrustRegion"):  # + its one-off target selection (forward + Jacobian rows)
            rows = attack.nb_candidates - 1
            jac = raw_fwd_jacobian(model, x_t, rows, dev)
            entry["raw_fwd_jacobian_s"] = jac
            entry["ratio_vs_all_raw_work"] = wall / (passes * raw + jac)
            line += f"   with the one-off fwd+{rows} rows as raw work: {entry['ratio_vs_all_raw_work']:.3f}"
        ratio = entry["ratio_vs_fwd_bwd"]
        for key in ("ratio_vs_fwd_jacobian", "ratio_vs_all_raw_work"):
            ratio = entry.get(key, ratio)
        entry["ratio_for_goal"] = ratio
        entry["goal_met"] = bool(ratio <= GOAL)
        report["attacks"][name] = entry
        print(line + ("" if entry["goal_met"] else f"   (above the goal {GOAL})"))
    out = args.out
    if out is None:
        out = HERE / "results" / ("gpu_check.json" if dev.type == "cuda" else "gpu_check_cpu.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
