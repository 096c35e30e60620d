"""Gradient-free check of JumpReLU on MNIST: ART's SquareAttack beside white-box PGD.

A defence that only hides gradients loses to a query-based attack that never looks at them.
Trains LeNetLike (3 epochs, seed 0), retrofits JumpReLU (kappa 0.75, the jumprelu
reproduction's choice), and attacks the first 500 test images at L-inf eps 0.1 with PGD
(40 steps of 0.01) and SquareAttack (1,000 queries); reports each accuracy and the per-sample
worst case. Writes ``benchmarks/results/square_check.json``.

    python benchmarks/square_check.py [--data-dir ../shared/datasets/mnist]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from art.attacks.evasion import ProjectedGradientDescentPyTorch, SquareAttack
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import RetrofitClassifier, build_model, load_dataset
from art_activation_defenses.experiments._common import environment, write_json
from art_activation_defenses.training import fit, set_seed

MNIST_ROOT = str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=MNIST_ROOT)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--kappa", type=float, default=0.75)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "square_check.json"))
    args = parser.parse_args()
    x, y = load_dataset("mnist", args.data_dir)
    xt, yt = load_dataset("mnist", args.data_dir, "test", limit=args.n)
    set_seed(0)
    model = build_model("lenet-like", (1, 28, 28), 10)
    fit(model, x, y, epochs=3, verbose=False)
    relu = PyTorchClassifier(model, nn.CrossEntropyLoss(), (1, 28, 28), 10, clip_values=(0.0, 1.0))
    jump = RetrofitClassifier.from_classifier(relu, "jumprelu", kappa=args.kappa)
    rows = []
    for name, clf in (("ReLU", relu), (f"JumpReLU kappa={args.kappa}", jump)):
        start = time.perf_counter()
        x_pgd = ProjectedGradientDescentPyTorch(
            clf, eps=0.1, eps_step=0.01, max_iter=40, verbose=False
        ).generate(xt, y=yt)
        x_sq = SquareAttack(clf, eps=0.1, max_iter=1000, nb_restarts=1, verbose=False).generate(
            xt, y=np.eye(10, dtype=np.float32)[yt]
        )
        ok_pgd = clf.predict(x_pgd).argmax(1) == yt
        ok_sq = clf.predict(x_sq).argmax(1) == yt
        rows.append(
            {
                "model": name,
                "clean": float((clf.predict(xt).argmax(1) == yt).mean()),
                "pgd_white_box": float(ok_pgd.mean()),
                "square": float(ok_sq.mean()),
                "worst_per_sample": float((ok_pgd & ok_sq).mean()),
                "seconds": time.perf_counter() - start,
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    write_json({"n": args.n, "eps": 0.1, "rows": rows, "environment": environment()}, args.out)


if __name__ == "__main__":
    main()
