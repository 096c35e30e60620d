"""The LID detector under a detector-aware attack on real MNIST (LeNetLike, ReLU and JumpReLU).

The JumpReLU reproduction's settings: LeNetLike trained 3 epochs with Adam (lr 1e-3, batch 128, seed 0)
on the MNIST training split minus its first 1,000 images; JumpReLU κ = 0.75 (the reproduction's
choice); the first 800 test images; plain attack PGD L∞ ε = 0.1, 40 steps of 0.01, random start,
crafted on each model (white-box; JumpReLU also with BPDA gradients); LID k = 20, minibatch 100,
30% of the pairs held out. Against the detector fitted on the plain attack, the detector-aware
attacks (``AdaptiveLIDAttack``: PGD with cross-entropy, and the C&W margin with confidence 10) in the
same L∞ ball, ``--steps`` steps of 0.01. Writes ``benchmarks/results/lid_adaptive_mnist.{json,md}``.
The trained weights are cached in the system's temporary folder (``--cache``).

    OMP_NUM_THREADS=1 python benchmarks/lid_adaptive_mnist.py [--data-dir ../shared/datasets/mnist]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from art.attacks.evasion import ProjectedGradientDescentPyTorch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import RetrofitClassifier, build_model, load_dataset
from art_activation_defenses.detectors import lid_auc
from art_activation_defenses.experiments._common import environment, write_json
from art_activation_defenses.experiments.report import markdown_table
from art_activation_defenses.training import fit

MNIST_ROOT = str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist")
RESULTS = Path(__file__).parent / "results"

COLUMNS = [
    ("model", "model (plain attack)"),
    ("clean", "clean acc"),
    ("plain_acc", "acc under plain PGD"),
    ("auc", "AUC plain"),
    ("det5", "det@5%FPR plain"),
    ("pgd_auc", "AUC adaptive PGD"),
    ("pgd_det5", "det@5%FPR adaptive PGD"),
    ("pgd_mis", "misclassified adaptive PGD"),
    ("pgd_success", "success adaptive PGD"),
    ("cw_auc", "AUC adaptive C&W"),
    ("cw_det5", "det@5%FPR adaptive C&W"),
    ("cw_mis", "misclassified adaptive C&W"),
    ("cw_success", "success adaptive C&W"),
    ("n_test", "test pairs"),
]


def _model(args: argparse.Namespace) -> nn.Module:
    model = build_model("lenet-like", (1, 28, 28), 10)
    path = Path(args.cache) / "lid_adaptive_lenet_mnist_e3_seed0.pt"
    if path.exists():
        model.load_state_dict(torch.load(path, weights_only=True))
        return model.eval()
    x, y = load_dataset("mnist", args.data_dir)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = build_model("lenet-like", (1, 28, 28), 10)
    fit(model, x[1000:], y[1000:], epochs=3, lr=1e-3, batch_size=128, seed=0, verbose=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--data-dir", default=MNIST_ROOT)
    parser.add_argument("--n", type=int, default=800)
    parser.add_argument("--kappa", type=float, default=0.75)
    parser.add_argument("--steps", type=int, default=100, help="steps of the adaptive attacks")
    parser.add_argument("--cache", default=tempfile.gettempdir(), help="folder of the cached weights")
    parser.add_argument("--out", default=str(RESULTS / "lid_adaptive_mnist"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    model = _model(args)
    xt, yt = load_dataset("mnist", args.data_dir, "test", limit=args.n)
    relu = PyTorchClassifier(model, nn.CrossEntropyLoss(), (1, 28, 28), 10, clip_values=(0.0, 1.0))
    jump = RetrofitClassifier.from_classifier(relu, "jumprelu", kappa=args.kappa)
    adaptive = {"eps": 0.1, "eps_step": 0.01, "max_iter": args.steps, "seed": 0}
    rows: list[dict[str, Any]] = []
    for name, clf, gradient in (
        ("ReLU", relu, None),
        (f"JumpReLU κ={args.kappa:g} (white-box PGD)", jump, "exact"),
        (f"JumpReLU κ={args.kappa:g} (BPDA PGD)", jump, "bpda"),
    ):
        t0 = time.perf_counter()
        if gradient is not None:
            jump.set_params(gradient=gradient)
        x_adv = ProjectedGradientDescentPyTorch(
            clf, eps=0.1, eps_step=0.01, max_iter=40, num_random_init=1, verbose=False
        ).generate(xt, y=yt)
        res = lid_auc(clf, xt, x_adv, y=yt, k=20, batch_size=100, seed=0, adaptive=("pgd", "cw"),
                      adaptive_params=adaptive)  # fmt: skip
        ad = res["adaptive"]
        rows.append(
            {
                "model": name,
                "clean": float((clf.predict(xt).argmax(1) == yt).mean()),
                "plain_acc": float((clf.predict(x_adv).argmax(1) == yt).mean()),
                "auc": res["auc"],
                "det5": res["detection_rate_at_5fpr"],
                **{f"{a}_auc": ad[a]["auc"] for a in ad},
                **{f"{a}_det5": ad[a]["detection_rate_at_5fpr"] for a in ad},
                **{f"{a}_mis": ad[a]["misclassification_rate"] for a in ad},
                **{f"{a}_success": ad[a]["success_rate"] for a in ad},
                "n_test": res["n_test"],
                "verdict": res["verdict"],
                "seconds": round(time.perf_counter() - t0, 1),
            }
        )
        print(rows[-1], flush=True)
    jump.set_params(gradient="exact")
    result = {
        "settings": {
            "model": "LeNetLike, 3 epochs Adam lr 1e-3 batch 128 seed 0, MNIST train minus first 1,000",
            "kappa": args.kappa,
            "n_test_images": args.n,
            "plain_attack": "PGD L-inf eps 0.1, 40 steps of 0.01, random start",
            "adaptive": {**adaptive, "attacks": {"pgd": "loss ce", "cw": "loss cw, confidence 10"}},
            "lid": {"k": 20, "batch_size": 100, "test_size": 0.3},
            "threads": torch.get_num_threads(),
        },
        "rows": rows,
        "wall_seconds": round(time.perf_counter() - start, 1),
        "environment": environment(),
    }
    out = Path(args.out)
    write_json(result, out.with_suffix(".json"))
    md = [
        "# LID detector under a detector-aware attack (MNIST, LeNetLike)",
        "",
        f"First {args.n} test images; plain attack PGD L∞ ε = 0.1 (40 × 0.01) crafted on each model; "
        "LID k = 20, minibatch 100; the detector is fitted on 70% of the pairs and scored on the other "
        f"30% ('test pairs'). Adaptive attacks: same ε, {args.steps} steps of 0.01, against the fitted "
        "detector.",
        "",
        "Columns: AUC = ROC AUC of the held-out clean vs adversarial scores; det@5%FPR = share of the "
        "held-out adversarial examples flagged at the threshold that flags at most 5% of the held-out "
        "clean ones; "
        "misclassified = share the classifier gets wrong; success = misclassified AND not flagged.",
        "",
        markdown_table(rows, COLUMNS),
        "",
        *[f"- {r['model']}: {r['verdict']}" for r in rows],
        "",
        f"Wall time {result['wall_seconds']:.0f} s on {torch.get_num_threads()} thread(s).",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(md), encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
