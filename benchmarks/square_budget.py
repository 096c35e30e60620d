"""How many queries does ART's SquareAttack need on a defended model? (not a test)

Measures the accuracy of JumpReLU kappa = 0.75 (retrofitted into the 3-epoch LeNet-like of
``audit_mnist.py``, real MNIST) under ART's ``SquareAttack`` (L∞ eps 0.1, one restart, seeded)
for a grid of query budgets, each a separate run (Square's square-size schedule depends on the
budget, so a short run is not a prefix of a long one). The audit's standard Square budget is
read off this curve: the smallest budget whose accuracy is within one point of the largest.
Writes ``benchmarks/results/square_budget.json`` and ``.md``.

Run: ``OMP_NUM_THREADS=1 python benchmarks/square_budget.py [--n 100] [--queries 100,300,1000,3000]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from art.attacks.evasion import SquareAttack
from torch import nn

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.data import load_dataset
from art_activation_defenses.defences._common import seeded
from art_activation_defenses.experiments._common import environment, write_json

HERE = Path(__file__).resolve().parent


def _audit_mnist() -> Any:
    spec = importlib.util.spec_from_file_location("audit_mnist", HERE / "audit_mnist.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    bench = _audit_mnist()
    parser.add_argument("--data-dir", default=bench.MNIST_ROOT)
    parser.add_argument("--cache-dir", type=Path, default=HERE / "results")
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--kappa", type=float, default=0.75)
    parser.add_argument("--eps", type=float, default=0.1)
    parser.add_argument("--queries", default="100,300,1000,3000")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--extend", action="store_true", help="keep the budgets of the previous run")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, meta = bench.get_model("mnist", args.data_dir, args.cache_dir, 3)
    x_te, y_te = load_dataset("mnist", args.data_dir, split="test")
    x, y = x_te[: args.n], y_te[: args.n]
    clf = RetrofitClassifier(
        model, nn.CrossEntropyLoss(), x.shape[1:], 10, activation="jumprelu", kappa=args.kappa,
        clip_values=(0.0, 1.0), device_type="cpu",
    )  # fmt: skip
    clean = float((clf.predict(x).argmax(1) == y).mean())
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {}
    previous = args.out / "square_budget.json"
    if args.extend and previous.exists():  # add budgets to an earlier run of the same settings
        rows = json.loads(previous.read_text())["rows"]
    for q in [int(t) for t in args.queries.split(",")]:
        start = time.perf_counter()
        with seeded(0):
            x_adv = SquareAttack(
                clf, norm=np.inf, eps=args.eps, max_iter=q, nb_restarts=1, verbose=False
            ).generate(x, y=np.eye(10, dtype=np.float32)[y])
        acc = float((clf.predict(x_adv).argmax(1) == y).mean())
        rows.append({"queries": q, "accuracy": acc, "seconds": time.perf_counter() - start})
        rows.sort(key=lambda r: int(r["queries"]))
        print(rows[-1], flush=True)
        result = _write(args, clean, rows, meta)  # after every budget: a long run can be stopped
    return result


def _write(args: argparse.Namespace, clean: float, rows: list[dict[str, Any]], meta: Any) -> dict[str, Any]:
    best = min(r["accuracy"] for r in rows)
    chosen = min(r["queries"] for r in rows if r["accuracy"] <= best + 0.01)
    result = {
        "model": f"JumpReLU kappa={args.kappa} (LeNet-like, MNIST, 3 epochs)",
        "n": args.n, "eps": args.eps, "clean": clean, "rows": rows, "chosen_queries": chosen,
        "rule": "smallest budget within one accuracy point of the lowest accuracy measured",
        "torch_threads": torch.get_num_threads(), "environment": environment(), "checkpoint": meta,
    }  # fmt: skip
    write_json(result, args.out / "square_budget.json")
    lines = [
        "# SquareAttack: accuracy against queries",
        "",
        f"{result['model']}, first {args.n} MNIST test images, L∞ eps={args.eps:g}, clean accuracy "
        f"{clean:.3f}; one restart, seed 0; {torch.get_num_threads()} torch thread(s).",
        "",
        "| queries | accuracy | seconds |",
        "|---|---|---|",
        *[f"| {r['queries']} | {r['accuracy']:.3f} | {r['seconds']:.0f} |" for r in rows],
        "",
        f"Chosen standard budget: {chosen} queries ({result['rule']}).",
    ]
    (args.out / "square_budget.md").write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
