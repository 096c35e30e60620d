"""Benchmark of the package's attacks (not a test).

On the zoo's LeNet-like trained on MNIST (trained here, or loaded from the git-ignored cache
``benchmarks/results/lenet_mnist.pt``; scikit-learn digits when MNIST is missing), prints in
one run:

* per iterative attack: wall time / (batch passes × raw forward+backward time of the same
  model on the same batch), goal ≤ 1.25; for TrustRegion also with its one-off target
  selection (forward + 9 Jacobian rows) and, with the defaults, its shrink phase counted
  as raw work, and with the one-off Jacobian subtracted;
* DeepFool (ours) vs ART's ``DeepFool`` on the same 200 images at max_iter 50: speed ratio,
  fool rate, mean relative L2, and our fool rate within 7 iterations;
* TrustRegion (L2) vs minimum-L2 references on the same images: foolbox's DDN and C&W L2
  (``--foolbox DIR``: a separate ``pip install --target DIR`` of foolbox, never a project
  dependency) and ART's ``CarliniL2Method`` (``--no-art-cw`` skips it).

Writes ``benchmarks/results/attacks.json``. Run: ``python benchmarks/attacks.py``
(``--quick`` for a smoke run on digits).
"""

from __future__ import annotations

import argparse
import json
import sys
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
MNIST_ROOT = str(Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist")


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
    ckpt = HERE / "results" / f"lenet_{name}.pt"  # a git-ignored cache of this script only
    loaded = False
    if ckpt.exists():
        try:
            model.load_state_dict(torch.load(ckpt, weights_only=True))
            loaded = True
        except RuntimeError:  # cached for another architecture of the zoo's lenet-like: retrain
            pass
    if not loaded:
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


def raw_fwd_bwd(model: nn.Module, x: np.ndarray, repeat: int = 7) -> float:
    """Plain torch: forward + backward of the summed cross-entropy w.r.t. the input."""
    xt = torch.from_numpy(x)
    yt = torch.zeros(len(x), dtype=torch.int64)

    def run() -> None:
        xg = xt.clone().requires_grad_(True)
        loss = nn.functional.cross_entropy(model(xg), yt, reduction="sum")
        torch.autograd.grad(loss, xg)

    return median_time(run, repeat)


def raw_forward(model: nn.Module, x: np.ndarray, repeat: int = 7) -> float:
    """Plain torch: a no-grad forward pass."""
    xt = torch.from_numpy(x)

    def run() -> None:
        with torch.no_grad():
            model(xt)

    return median_time(run, repeat)


def raw_jacobian(model: nn.Module, x: np.ndarray, k: int, repeat: int = 3) -> float:
    """Plain torch: forward + (k−1) backward passes of logit differences over the whole batch."""
    xt = torch.from_numpy(x)

    def run() -> None:
        xg = xt.clone().requires_grad_(True)
        z = model(xg)
        for j in range(1, k):
            torch.autograd.grad((z[:, j] - z[:, 0]).sum(), xg, retain_graph=j < k - 1)

    return median_time(run, repeat)


def timed_side_by_side(
    attack: Any, model: nn.Module, x: np.ndarray, y: np.ndarray | None, repeat: int
) -> tuple[float, float, float, float]:
    """Interleaved medians: attack wall, raw forward+backward, forward+9 Jacobian rows, forward."""
    walls, fbs, jacs, fwds = [], [], [], []
    if repeat > 1:
        attack.generate(x, y)  # warm-up
    for _ in range(repeat):
        fbs.append(raw_fwd_bwd(model, x, repeat=3))
        if repeat > 1:
            jacs.append(raw_jacobian(model, x, 10, repeat=1))
            fwds.append(raw_forward(model, x, repeat=3))
        walls.append(timed(attack, x, y)[1])
    med = [float(np.median(v)) if v else float("nan") for v in (walls, fbs, jacs, fwds)]
    return med[0], med[1], med[2], med[3]


def rel_l2(x: np.ndarray, x_adv: np.ndarray) -> np.ndarray:
    n = len(x)
    return np.linalg.norm((x_adv - x).reshape(n, -1), axis=1) / np.linalg.norm(x.reshape(n, -1), axis=1)


def timed(attack: Any, x: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    t = time.perf_counter()
    x_adv = attack.generate(x, y)
    return x_adv, time.perf_counter() - t


def reference_attacks(
    clf: PyTorchClassifier, model: nn.Module, x: np.ndarray, pred: np.ndarray, args: argparse.Namespace
) -> dict[str, tuple[np.ndarray, float, dict[str, Any]]]:
    """Minimum-L2 references run to convergence: name -> (adversarial points, wall s, settings)."""
    refs: dict[str, tuple[np.ndarray, float, dict[str, Any]]] = {}
    if args.foolbox:
        sys.path.insert(0, args.foolbox)  # a separate install, never a project dependency
        import foolbox as fb

        fmodel = fb.PyTorchModel(model.eval(), bounds=(0.0, 1.0))
        xt, yt = torch.from_numpy(x), torch.from_numpy(pred.astype(np.int64))
        fb_attacks: dict[str, tuple[Any, dict[str, Any]]] = {}
        ddn = {"steps": args.ddn_steps, "init_epsilon": 1.0, "gamma": 0.05}
        fb_attacks["foolbox DDN"] = (fb.attacks.DDNAttack(**ddn), ddn)
        cw_fb = {
            "binary_search_steps": args.fb_cw_bs,
            "steps": args.fb_cw_steps,
            "stepsize": 0.01,
            "initial_const": 1e-3,
        }
        fb_attacks["foolbox C&W L2"] = (fb.attacks.L2CarliniWagnerAttack(**cw_fb), cw_fb)
        for name, (attack, settings) in fb_attacks.items():
            t = time.perf_counter()
            _, adv, _ = attack(fmodel, xt, yt, epsilons=None)
            refs[name] = (adv.detach().numpy().astype(np.float32), time.perf_counter() - t, settings)
    if args.art_cw:
        cw_settings = {
            "confidence": 0.0,
            "learning_rate": 0.1,
            "binary_search_steps": args.art_cw_steps,
            "max_iter": args.art_cw_iter,
            "initial_const": args.art_cw_const,
            "max_halving": 5,
            "max_doubling": 5,
            "batch_size": 128,
        }
        cw = CarliniL2Method(clf, targeted=False, verbose=False, **cw_settings)
        x_cw, t_cw = timed(cw, x)
        refs["ART CarliniL2Method"] = (x_cw, t_cw, cw_settings)
    return refs


def trust_region_vs_references(
    clf: PyTorchClassifier, model: nn.Module, x: np.ndarray, pred: np.ndarray, args: argparse.Namespace
) -> dict[str, Any]:
    """TrustRegion L2 against each converged minimum-L2 reference on the same images."""
    n = len(x)
    tr = TrustRegion(clf, norm=2, max_iter=1000, batch_size=128, verbose=False)
    x_tr, t_tr = timed(tr, x)
    f_tr = clf.predict(x_tr).argmax(1) != pred
    r_tr = rel_l2(x, x_tr)
    out: dict[str, Any] = {
        "n": n,
        "tr_s": t_tr,
        "fool_rate_tr": float(f_tr.mean()),
        "mean_rel_l2_tr": float(r_tr[f_tr].mean()),
        "mean_iterations_tr": float(tr.iterations_.mean()),
        "max_iterations_tr": int(tr.iterations_.max()),
        "references": {},
    }
    print(
        f"\nTrustRegion L2 on {n} images: {t_tr:.2f} s, fool rate {out['fool_rate_tr']:.3f} (goal >= 0.99), "
        f"mean rel L2 {out['mean_rel_l2_tr']:.4f}, iterations mean {out['mean_iterations_tr']:.1f} "
        f"max {out['max_iterations_tr']}"
    )
    for name, (x_ref, t_ref, settings) in reference_attacks(clf, model, x, pred, args).items():
        f_ref = clf.predict(x_ref).argmax(1) != pred
        r_ref = rel_l2(x, x_ref)
        both = f_tr & f_ref
        entry = {
            "settings": settings,
            "s": t_ref,
            "fool_rate": float(f_ref.mean()),
            "mean_rel_l2_own": float(r_ref[f_ref].mean()) if f_ref.any() else float("nan"),
            "mean_rel_l2_both_ref": float(r_ref[both].mean()),
            "mean_rel_l2_both_tr": float(r_tr[both].mean()),
            "rel_l2_ratio_tr_over_ref": float(r_tr[both].mean() / r_ref[both].mean()),
            "speedup_tr": t_ref / t_tr,
        }
        out["references"][name] = entry
        print(f"  vs {name} {settings}")
        print(
            f"    time {t_ref:8.2f} s (TR {entry['speedup_tr']:.1f}x faster, goal >= 10); fool rate "
            f"{entry['fool_rate']:.3f}; mean rel L2 on the {int(both.sum())} images both fool: "
            f"TR {entry['mean_rel_l2_both_tr']:.4f} ref {entry['mean_rel_l2_both_ref']:.4f} "
            f"ratio {entry['rel_l2_ratio_tr_over_ref']:.3f} (goal <= 1.15)"
        )
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits, few images (smoke run)")
    parser.add_argument("--n-deepfool", type=int, default=200)
    parser.add_argument("--n-cw", type=int, default=50, help="images of the trust-region comparison")
    parser.add_argument(
        "--foolbox",
        metavar="DIR",
        default="",
        help="directory holding a separate foolbox install (pip install --target DIR foolbox eagerpy ...); "
        "adds foolbox's DDN and C&W L2 references",
    )
    parser.add_argument("--ddn-steps", type=int, default=1000, help="foolbox DDN steps")
    parser.add_argument("--fb-cw-bs", type=int, default=9, help="foolbox C&W binary_search_steps")
    parser.add_argument("--fb-cw-steps", type=int, default=1000, help="foolbox C&W steps")
    parser.add_argument("--no-art-cw", dest="art_cw", action="store_false", help="skip ART's C&W")
    parser.add_argument("--art-cw-steps", type=int, default=5, help="ART C&W binary_search_steps")
    parser.add_argument("--art-cw-iter", type=int, default=100, help="ART C&W max_iter")
    parser.add_argument("--art-cw-const", type=float, default=1.0, help="ART C&W initial_const")
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
    t_fwd = raw_forward(model, x)
    res["raw_fwd_bwd_s"], res["raw_fwd_jac10_s"], res["raw_fwd_s"] = t_fb, t_jac, t_fwd
    print(
        f"raw forward+backward on {n_df} images: {t_fb * 1e3:.1f} ms; "
        f"forward + 9 Jacobian rows: {t_jac * 1e3:.1f} ms; forward (no grad): {t_fwd * 1e3:.1f} ms"
    )
    overhead: dict[str, Any] = {}
    iterative: dict[str, tuple[Any, int | None]] = {
        "ZeroGradientPGD(inf, eps=0.3, 100 it)": (
            ZeroGradientPGD(
                clf, eps=0.3, eps_step=0.01, max_iter=100, tol=0.0, batch_size=n_df, verbose=False
            ),
            None,  # samples stop at an exactly zero gradient, so count the iterations
        ),
        "StepLL(iterative, 20 it)": (StepLL(clf, 0.3, max_iter=20, batch_size=n_df, verbose=False), 20),
        "TrustRegion(L2), iterations only": (
            TrustRegion(clf, norm=2, refine_steps=0, projection_steps=0, batch_size=n_df, verbose=False),
            None,
        ),
        "TrustRegion(L2), defaults": (TrustRegion(clf, norm=2, batch_size=n_df, verbose=False), None),
        "DeepFool(L2), defaults": (DeepFool(clf, norm=2, batch_size=n_df, verbose=False), None),
    }
    print(
        "wall = one run (TrustRegion: median of 5 runs interleaved with the raw timings it is "
        "divided by), next to a raw forward+backward timing (same batch); "
        "passes = iterations (max over samples) + 1 final decision pass"
    )
    print(f"{'attack':40s} {'wall s':>8s} {'passes':>6s} {'ratio vs fwd+bwd':>17s}")
    for label, (attack, passes) in iterative.items():
        many = "TrustRegion" in label
        wall, t_fb_here, t_jac_here, t_fwd_here = timed_side_by_side(attack, model, x, y, 5 if many else 1)
        if passes is None:
            passes = int(attack.iterations_.max()) + 1
        ratio = wall / (passes * t_fb_here)
        entry = {"wall_s": wall, "raw_fwd_bwd_s": t_fb_here, "passes": passes, "ratio_vs_fwd_bwd": ratio}
        line = f"{label:40s} {wall:8.3f} {passes:6d} {ratio:17.3f}"
        if label.startswith("DeepFool"):
            entry["ratio_vs_fwd_jacobian"] = wall / (passes * t_jac)
            line += f"   (vs fwd+9 Jacobian rows: {entry['ratio_vs_fwd_jacobian']:.3f})"
        if label.startswith("TrustRegion"):
            # the one-off target selection (forward + 9 Jacobian rows at the clean input) is
            # not an iteration: count it as raw work next to the passes, and show all variants;
            # with the defaults, the shrink phase's passes (forward-only bisections and
            # single-row backward passes) are raw work too
            raw = passes * t_fb_here + t_jac_here
            if "defaults" in label:
                fwd = attack.refine_steps + 1 + attack.projection_steps * (attack.refine_steps + 2) + 1
                raw += fwd * t_fwd_here + attack.projection_steps * t_fb_here
                entry["shrink_passes"] = {"forward": fwd, "forward_backward": attack.projection_steps}
            entry["ratio_all_raw_work"] = wall / raw
            entry["ratio_jacobian_subtracted"] = (wall - t_jac_here) / (passes * t_fb_here)
            entry["raw_fwd_jac10_s"], entry["raw_fwd_s"] = t_jac_here, t_fwd_here
            line += (
                f"\n{'':40s} ratio vs all raw work (one-off forward+9 Jacobian rows {t_jac_here:.3f} s"
                f"{' and shrink passes' if 'defaults' in label else ''} added): "
                f"{entry['ratio_all_raw_work']:.3f}; one-off Jacobian subtracted from wall: "
                f"{entry['ratio_jacobian_subtracted']:.3f}"
            )
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

    # ---------------------------------------------------------------- TrustRegion vs references
    res["trust_region"] = trust_region_vs_references(clf, model, x[:n_cw], clean_pred[:n_cw], args)

    out = HERE / "results" / ("attacks_quick.json" if args.quick else "attacks.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=2))
    print(f"\nwrote {out}")
    return res


if __name__ == "__main__":
    main()
