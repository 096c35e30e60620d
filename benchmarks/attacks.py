"""Benchmark of the package's attacks (not a test).

On a LeNet-like trained on MNIST (trained here in about a minute, or loaded from
``benchmarks/results/lenet_mnist.pt``; scikit-learn digits when MNIST is missing), prints in
one run:

* per iterative attack: wall time / (batch passes × raw forward+backward time of the same
  model on the same batch), goal ≤ 1.25; DeepFool is also given against its intrinsic
  per-pass work (one forward + the (K−1) candidate Jacobian rows, in plain torch);
* DeepFool (ours) vs ART's ``DeepFool`` on the same 200 images at max_iter 50: speed ratio,
  fool rate, mean relative L2, and our fool rate within 7 iterations;
* TrustRegion (L2) vs a converged ART ``CarliniL2Method`` on the same images.

Writes ``benchmarks/results/attacks.json``. Run: ``python benchmarks/attacks.py``
(``--quick`` for a smoke run on digits).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from art.attacks.evasion import CarliniL2Method
from art.attacks.evasion import DeepFool as ARTDeepFool
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.attacks import DeepFool, StepLL, TrustRegion, ZeroGradientPGD
from art_activation_defenses.data import load_dataset
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit

HERE = Path(__file__).resolve().parent
MNIST_ROOT = "/work/shared/datasets/mnist"


def get_model(quick: bool) -> tuple[nn.Module, np.ndarray, np.ndarray, str]:
    """Train (or load) the LeNet-like; return it with the test split and the dataset name."""
    name = "digits"
    if not quick:
        try:
            x_tr, y_tr = load_dataset("mnist", root=MNIST_ROOT, split="train")
            x_te, y_te = load_dataset("mnist", root=MNIST_ROOT, split="test")
            name = "mnist"
        except FileNotFoundError:
            pass
    if name == "digits":
        x_tr, y_tr = load_dataset("digits", split="train")
        x_te, y_te = load_dataset("digits", split="test")
    model = build_model("lenet-like", x_tr.shape[1:], 10)
    ckpt = HERE / "results" / f"lenet_{name}.pt"
    if ckpt.exists():
        model.load_state_dict(torch.load(ckpt, weights_only=True))
    else:
        fit(
            model,
            x_tr,
            y_tr,
            epochs=3 if name == "mnist" else 30,
            batch_size=128,
            lr=1e-3,
            seed=0,
            verbose=False,
        )
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), ckpt)
    model.eval()
    return model, x_te, y_te, name


def wrap(model: nn.Module, shape: tuple[int, ...]) -> PyTorchClassifier:
    return PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=shape,
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )


def median_time(fn: Any, repeat: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def raw_fwd_bwd(model: nn.Module, x: np.ndarray) -> float:
    """Plain torch: forward + backward of the summed cross-entropy w.r.t. the input."""
    xt = torch.from_numpy(x)
    yt = torch.zeros(len(x), dtype=torch.int64)

    def run() -> None:
        xg = xt.clone().requires_grad_(True)
        loss = nn.functional.cross_entropy(model(xg), yt, reduction="sum")
        torch.autograd.grad(loss, xg)

    return median_time(run)


def raw_jacobian(model: nn.Module, x: np.ndarray, k: int) -> float:
    """Plain torch: forward + (k−1) backward passes of logit differences over the whole batch."""
    xt = torch.from_numpy(x)

    def run() -> None:
        xg = xt.clone().requires_grad_(True)
        z = model(xg)
        for j in range(1, k):
            torch.autograd.grad((z[:, j] - z[:, 0]).sum(), xg, retain_graph=j < k - 1)

    return median_time(run, repeat=3)


def rel_l2(x: np.ndarray, x_adv: np.ndarray) -> np.ndarray:
    n = len(x)
    return np.linalg.norm((x_adv - x).reshape(n, -1), axis=1) / np.linalg.norm(x.reshape(n, -1), axis=1)


def timed(attack: Any, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    x_adv = attack.generate(x, y)
    return x_adv, time.perf_counter() - t


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits, few images (smoke run)")
    parser.add_argument("--n-deepfool", type=int, default=200)
    parser.add_argument("--n-cw", type=int, default=50)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    model, x_te, y_te, dataset = get_model(args.quick)
    n_df = 50 if args.quick else args.n_deepfool
    n_cw = 20 if args.quick else args.n_cw
    clf = wrap(model, x_te.shape[1:])
    x, y = x_te[:n_df].copy(), y_te[:n_df].copy()
    clean_pred = clf.predict(x).argmax(1)
    res: dict[str, Any] = {
        "dataset": dataset,
        "model": "lenet-like",
        "torch_threads": torch.get_num_threads(),
        "clean_accuracy_test": float(evaluate(model, x_te, y_te)),
    }
    print(
        f"dataset={dataset} n={n_df} threads={torch.get_num_threads()} "
        f"clean acc={res['clean_accuracy_test']:.4f}"
    )

    # ---------------------------------------------------------------- per-pass overhead
    t_fb = raw_fwd_bwd(model, x)
    t_jac = raw_jacobian(model, x, 10)
    res["raw_fwd_bwd_s"], res["raw_fwd_jac10_s"] = t_fb, t_jac
    print(
        f"raw forward+backward on {n_df} images: {t_fb * 1e3:.1f} ms; "
        f"forward + 9 Jacobian rows: {t_jac * 1e3:.1f} ms"
    )
    overhead: dict[str, Any] = {}
    iterative: dict[str, tuple[Any, int | None]] = {
        "ZeroGradientPGD(inf, eps=0.3, 100 it)": (
            ZeroGradientPGD(
                clf, eps=0.3, eps_step=0.01, max_iter=100, tol=0.0, batch_size=n_df, verbose=False
            ),
            100,
        ),
        "StepLL(iterative, 20 it)": (StepLL(clf, 0.3, max_iter=20, batch_size=n_df, verbose=False), 20),
        "TrustRegion(L2)": (TrustRegion(clf, norm=2, batch_size=n_df, verbose=False), None),
        "DeepFool(L2)": (DeepFool(clf, norm=2, batch_size=n_df, verbose=False), None),
    }
    print(f"{'attack':40s} {'wall s':>8s} {'passes':>6s} {'ratio vs fwd+bwd':>17s}")
    for label, (attack, passes) in iterative.items():
        _, wall = timed(attack, x, y)
        if passes is None:  # batch passes: one per step plus the final decision pass
            passes = int(attack.iterations_.max()) + 1
        ratio = wall / (passes * t_fb)
        entry = {"wall_s": wall, "passes": passes, "ratio_vs_fwd_bwd": ratio}
        line = f"{label:40s} {wall:8.3f} {passes:6d} {ratio:17.3f}"
        if label.startswith("DeepFool"):
            entry["ratio_vs_fwd_jacobian"] = wall / (passes * t_jac)
            line += f"   (vs fwd+9 Jacobian rows: {entry['ratio_vs_fwd_jacobian']:.3f})"
        overhead[label] = entry
        print(line)
    res["overhead"] = overhead

    # ---------------------------------------------------------------- DeepFool vs ART
    df = DeepFool(clf, norm=2, max_iter=50, nb_candidates=10, overshoot=0.02, batch_size=128, verbose=False)
    art_df = ARTDeepFool(clf, max_iter=50, epsilon=0.02, nb_grads=10, batch_size=128, verbose=False)
    x_ours, t_ours = timed(df, x)
    x_art, t_art = timed(art_df, x)
    fooled_ours = clf.predict(x_ours).argmax(1) != clean_pred
    fooled_art = clf.predict(x_art).argmax(1) != clean_pred
    both = fooled_ours & fooled_art
    r_ours, r_art = rel_l2(x, x_ours), rel_l2(x, x_art)
    df7 = DeepFool(clf, norm=2, max_iter=7, batch_size=128, verbose=False)
    fooled7 = clf.predict(df7.generate(x)).argmax(1) != clean_pred
    dfi = DeepFool(clf, norm=np.inf, max_iter=50, batch_size=128, verbose=False)
    x_inf, t_inf = timed(dfi, x)
    fooled_inf = clf.predict(x_inf).argmax(1) != clean_pred
    res["deepfool"] = {
        "n": n_df,
        "ours_s": t_ours,
        "art_s": t_art,
        "speedup": t_art / t_ours,
        "fool_rate_ours": float(fooled_ours.mean()),
        "fool_rate_art": float(fooled_art.mean()),
        "mean_rel_l2_ours": float(r_ours[both].mean()),
        "mean_rel_l2_art": float(r_art[both].mean()),
        "rel_l2_ratio": float(r_ours[both].mean() / r_art[both].mean()),
        "fool_rate_within_7": float(fooled7.mean()),
        "mean_iterations_ours": float(df.iterations_.mean()),
        "max_iterations_ours": int(df.iterations_.max()),
        "linf": {
            "s": t_inf,
            "fool_rate": float(fooled_inf.mean()),
            "mean_linf": float(np.abs(x_inf - x).reshape(n_df, -1).max(1)[fooled_inf].mean()),
        },
    }
    d = res["deepfool"]
    print(
        f"\nDeepFool L2 on {n_df} images, max_iter 50 "
        "(ours vs ART DeepFool, batch 128, nb_grads 10, epsilon 0.02)"
    )
    print(
        f"  time        ours {t_ours:8.2f} s   ART {t_art:8.2f} s   speed-up {d['speedup']:.1f}x (goal >= 3)"
    )
    print(f"  fool rate   ours {d['fool_rate_ours']:.3f}      ART {d['fool_rate_art']:.3f}")
    print(
        f"  mean rel L2 ours {d['mean_rel_l2_ours']:.4f}     ART {d['mean_rel_l2_art']:.4f}   "
        f"ratio {d['rel_l2_ratio']:.3f} (goal <= 1.05)"
    )
    print(
        f"  fool rate within 7 iterations: {d['fool_rate_within_7']:.3f} (goal >= 0.99); "
        f"iterations mean {d['mean_iterations_ours']:.2f} max {d['max_iterations_ours']}"
    )
    print(
        f"  DeepFool L-inf: {t_inf:.2f} s, fool rate {d['linf']['fool_rate']:.3f}, "
        f"mean L-inf {d['linf']['mean_linf']:.4f}"
    )

    # ---------------------------------------------------------------- TrustRegion vs C&W
    xc = x[:n_cw]
    pc = clean_pred[:n_cw]
    tr = TrustRegion(clf, norm=2, max_iter=1000, batch_size=128, verbose=False)
    x_tr, t_tr = timed(tr, xc)
    cw_settings = {
        "confidence": 0.0,
        "learning_rate": 0.1,
        "binary_search_steps": 5,
        "max_iter": 100,
        "initial_const": 1.0,
        "max_halving": 2,
        "max_doubling": 2,
        "batch_size": 128,
    }
    cw = CarliniL2Method(clf, targeted=False, verbose=False, **cw_settings)
    x_cw, t_cw = timed(cw, xc)
    f_tr = clf.predict(x_tr).argmax(1) != pc
    f_cw = clf.predict(x_cw).argmax(1) != pc
    both = f_tr & f_cw
    r_tr, r_cw = rel_l2(xc, x_tr), rel_l2(xc, x_cw)
    res["trust_region"] = {
        "n": n_cw,
        "cw_settings": cw_settings,
        "tr_s": t_tr,
        "cw_s": t_cw,
        "speedup": t_cw / t_tr,
        "fool_rate_tr": float(f_tr.mean()),
        "fool_rate_cw": float(f_cw.mean()),
        "mean_rel_l2_tr": float(r_tr[both].mean()),
        "mean_rel_l2_cw": float(r_cw[both].mean()),
        "rel_l2_ratio": float(r_tr[both].mean() / r_cw[both].mean()),
        "mean_iterations_tr": float(tr.iterations_.mean()),
        "max_iterations_tr": int(tr.iterations_.max()),
    }
    d = res["trust_region"]
    print(f"\nTrustRegion L2 vs ART CarliniL2Method on {n_cw} images; C&W settings: {cw_settings}")
    print(f"  time        TR {t_tr:8.2f} s   C&W {t_cw:8.2f} s   speed-up {d['speedup']:.1f}x (goal >= 10)")
    print(f"  fool rate   TR {d['fool_rate_tr']:.3f}      C&W {d['fool_rate_cw']:.3f}   (goal >= 0.99)")
    print(
        f"  mean rel L2 TR {d['mean_rel_l2_tr']:.4f}     C&W {d['mean_rel_l2_cw']:.4f}   "
        f"ratio {d['rel_l2_ratio']:.3f} (goal <= 1.15); TR iterations mean "
        f"{d['mean_iterations_tr']:.1f} max {d['max_iterations_tr']}"
    )

    out = HERE / "results" / ("attacks_quick.json" if args.quick else "attacks.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"\nwrote {out}")
    return res


if __name__ == "__main__":
    main()
