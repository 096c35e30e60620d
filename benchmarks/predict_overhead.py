"""Predict-time overhead of a JumpReLU retrofit: RetrofitClassifier vs the ReLU PyTorchClassifier.

Side by side in one process, interleaved, on the same 2,000 images (real MNIST test images
when ``--data-dir`` holds them, else digits upsampled to 28x28), LeNetLike, batch 128.
Reports the median of ``--repeats`` timings of each and their ratio (goal <= 1.10).

    python benchmarks/predict_overhead.py --data-dir ../shared/datasets/mnist
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import RetrofitClassifier, build_model, load_dataset
from art_activation_defenses.data import DatasetNotFoundError
from art_activation_defenses.experiments._common import environment, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/datasets/mnist")
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "predict_overhead.json"))
    args = parser.parse_args()
    try:
        x, _ = load_dataset("mnist", args.data_dir, "test", limit=args.n)
        source = "mnist test"
    except DatasetNotFoundError:
        xd, _ = load_dataset("digits", split="train", limit=args.n)
        x = torch.nn.functional.interpolate(torch.from_numpy(xd), size=(28, 28), mode="bilinear").numpy()
        source = "digits upsampled to 28x28 (MNIST not found)"
    torch.manual_seed(0)
    model = build_model("lenet-like", (1, 28, 28), 10).eval()
    relu = PyTorchClassifier(model, nn.CrossEntropyLoss(), (1, 28, 28), 10, clip_values=(0.0, 1.0))
    jump = RetrofitClassifier.from_classifier(relu, "jumprelu", kappa=1.0)
    for clf in (relu, jump):  # warm-up
        clf.predict(x, batch_size=128)
    times: dict[str, list[float]] = {"relu": [], "jumprelu": []}
    for _ in range(args.repeats):
        for name, clf in (("relu", relu), ("jumprelu", jump)):
            start = time.perf_counter()
            clf.predict(x, batch_size=128)
            times[name].append(time.perf_counter() - start)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "data": source,
        "n_images": int(len(x)),
        "repeats": args.repeats,
        "median_seconds": med,
        "ratio_jumprelu_over_relu": med["jumprelu"] / med["relu"],
        "goal": "<= 1.10",
        "environment": environment(),
    }
    write_json(result, args.out)
    print(
        json.dumps(
            {k: result[k] for k in ("data", "n_images", "median_seconds", "ratio_jumprelu_over_relu")},
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
