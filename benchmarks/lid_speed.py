"""LID-feature throughput over all layers of the zoo's ``lenet-like`` (MNIST if present, else digits).

Usage::

    python benchmarks/lid_speed.py [--n 2000] [--k 20] [--batch-size 100] [--data-dir DIR]

Prints samples/s and writes ``benchmarks/results/lid_speed.json``. Two cases are timed, as in the
LID protocol: clean points against their own minibatch (one forward pass per sample) and
perturbed points against the aligned clean minibatch (two forward passes per sample: query and
reference), and both in one pass (the ``lid_auc`` protocol: each reference minibatch is forwarded
once). The weights are seeded, not trained: the cost does not depend on their values. Timed for the
zoo's ``lenet-like`` (LeNet-5 widths) and, for scale, a wider variant (32/64 channels, 200/100 units).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.data import load_dataset
from art_activation_defenses.detectors.lid import compute_lid_features_multi
from art_activation_defenses.models import build_model

DEFAULT_MNIST = str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist")


def load(n: int, data_dir: str | None) -> tuple[str, np.ndarray]:
    """MNIST test images if the files are there, else scikit-learn's digits (repeated up to n)."""
    root = data_dir or os.environ.get("ART_ACTIVATION_DEFENSES_DATA") or DEFAULT_MNIST
    try:
        x, _ = load_dataset("mnist", root=root, split="test", limit=n)
        return "mnist", x
    except (FileNotFoundError, ValueError):
        x, _ = load_dataset("digits", split="test")
        return "digits", np.ascontiguousarray(np.resize(x, (n, *x.shape[1:])))


def timed(repeats: int, run: Callable[[], list[str]]) -> tuple[float, list[str]]:
    """Median wall time (s) of ``repeats`` runs and the feature names."""
    times: list[float] = []
    names: list[str] = []
    for _ in range(repeats):
        start = time.perf_counter()
        names = run()
        times.append(time.perf_counter() - start)
    return statistics.median(times), names


def measure(
    model: nn.Module, x: np.ndarray, x_pert: np.ndarray, k: int, batch_size: int, repeats: int
) -> dict[str, Any]:
    """Throughput (samples/s) of the three LID cases for one model."""
    classifier = PyTorchClassifier(
        model,
        nn.CrossEntropyLoss(),
        input_shape=x.shape[1:],
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )

    def features(queries: list[np.ndarray]) -> list[str]:
        outs, names = compute_lid_features_multi(classifier, queries, x, k=k, batch_size=batch_size)
        if not all(np.isfinite(o).all() for o in outs):
            raise RuntimeError("non-finite LID features")
        return names

    features([x[:300]])  # warm-up
    n = x.shape[0]
    t_clean, names = timed(repeats, lambda: features([x]))
    t_pert, _ = timed(repeats, lambda: features([x_pert]))
    t_protocol, _ = timed(repeats, lambda: features([x, x_pert]))
    return {
        "layers": names,
        "clean_samples_per_s": n / t_clean,
        "perturbed_samples_per_s": n / t_pert,
        "protocol_samples_per_s": 2 * n / t_protocol,
        "median_times_s": {"clean": t_clean, "perturbed": t_pert, "protocol": t_protocol},
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark, print the result and write the JSON next to this script."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=2000, help="samples per timed run (default 2000)")
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "lid_speed.json"))
    args = parser.parse_args(argv)

    dataset, x = load(args.n, args.data_dir)
    rng = np.random.default_rng(0)
    x_pert = np.clip(x + rng.uniform(-0.1, 0.1, x.shape).astype(np.float32), 0.0, 1.0)
    models = {
        "lenet-like": {},  # the zoo's default: LeNet-5 widths (6/16 channels, 120/84 units)
        "lenet-like (wide: 32/64, 200/100)": {"channels": (32, 64), "hidden": (200, 100)},
    }
    results: dict[str, Any] = {}
    for label, kwargs in models.items():
        torch.manual_seed(0)
        model = build_model("lenet-like", x.shape[1:], 10, **kwargs)
        results[label] = {"kwargs": {key: list(v) for key, v in kwargs.items()}}
        results[label].update(measure(model, x, x_pert, args.k, args.batch_size, args.repeats))
    result: dict[str, Any] = {
        "dataset": dataset,
        "n_samples": x.shape[0],
        "k": args.k,
        "batch_size": args.batch_size,
        "repeats": args.repeats,
        "models": results,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "goal_samples_per_s": 5000,
    }
    print(
        f"LID features on {dataset} ({x.shape[0]} samples), k={args.k}, minibatch {args.batch_size}, "
        f"{torch.get_num_threads()} torch threads; samples/s (goal >= 5000):"
    )
    for label, r in results.items():
        print(
            f"  {label:28s} {len(r['layers'])} layers  clean {r['clean_samples_per_s']:7.0f}  "
            f"perturbed {r['perturbed_samples_per_s']:7.0f}  protocol {r['protocol_samples_per_s']:7.0f}"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")
    return result


if __name__ == "__main__":
    main()
