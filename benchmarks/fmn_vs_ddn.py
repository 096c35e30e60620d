"""Benchmark of the package's FMN attack against foolbox's minimum-norm attacks (not a test).

On real MNIST, the zoo's ReLU LeNet-like trained for one epoch with Adam (``training.fit``;
weights cached in the system's temporary directory, ``--cache`` to change), the first ``--n``
test images, one thread, the clean predictions as labels (so every image has a positive
distance to the boundary). ``ρ = ||δ|| / ||x||`` per image, in the attack's norm.

* FMN-L2 (ours, ``--steps`` steps) vs foolbox's DDN with ``--ddn-steps`` (1,000) steps: mean ρ
  on the images both fool (goal: ratio FMN / DDN ≤ 1.05), wall times (goal: FMN faster),
  fool rates;
* FMN-L∞ (ours) vs foolbox's L∞ FMN (same steps) and L∞ DeepFool;
* FMN-L2 and FMN-L∞ on a JumpReLU κ = 0.75 retrofit of the same net (``RetrofitClassifier``)
  with the exact gradient and with the straight-through (BPDA) gradient.

foolbox is only a benchmark-time reference: ``pip install --target DIR foolbox`` and pass
``--foolbox DIR`` (appended to ``sys.path`` here only, after the project's own packages); without
it the foolbox rows are skipped.  Writes ``benchmarks/results/fmn_vs_ddn.{json,md}``.
Run: ``OMP_NUM_THREADS=1 python benchmarks/fmn_vs_ddn.py --foolbox DIR``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.attacks import FMN
from art_activation_defenses.data import load_dataset
from art_activation_defenses.experiments._common import environment, write_json
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit

HERE = Path(__file__).resolve().parent
MNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def get_model(root: Path, cache: Path) -> tuple[nn.Module, float]:
    """The ReLU LeNet-like after one epoch of Adam (loaded from ``cache`` when present)."""
    model = build_model("lenet-like", (1, 28, 28), 10)
    if cache.exists():
        model.load_state_dict(torch.load(cache, weights_only=True))
    else:
        x_tr, y_tr = load_dataset("mnist", root=root, split="train")
        fit(model, x_tr, y_tr, epochs=1, batch_size=128, lr=1e-3, seed=0, verbose=False)
        torch.save(model.state_dict(), cache)
    model.eval()
    x_te, y_te = load_dataset("mnist", root=root, split="test")
    return model, float(evaluate(model, x_te, y_te))


def wrap(model: nn.Module) -> PyTorchClassifier:
    return PyTorchClassifier(
        model=model,
        loss=nn.CrossEntropyLoss(),
        input_shape=(1, 28, 28),
        nb_classes=10,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )


def rho(x: np.ndarray, x_adv: np.ndarray, norm: float) -> np.ndarray:
    """Relative perturbation ``||x_adv − x|| / ||x||`` per image, in ``norm``."""
    n = len(x)
    d = (x_adv - x).reshape(n, -1).astype(np.float64)
    return np.linalg.norm(d, ord=norm, axis=1) / np.linalg.norm(x.reshape(n, -1), ord=norm, axis=1)


def raw_fwd_bwd(model: nn.Module, x: np.ndarray, repeat: int = 5) -> float:
    """Median wall of one plain-torch forward + backward (margin-free cross-entropy) on ``x``."""
    xt = torch.from_numpy(x)
    yt = torch.zeros(len(x), dtype=torch.int64)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        xg = xt.clone().requires_grad_(True)
        torch.autograd.grad(nn.functional.cross_entropy(model(xg), yt, reduction="sum"), xg)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


Job = tuple[float, dict[str, Any], Callable[[], np.ndarray]]


def our_jobs(clf: Any, x: np.ndarray, pred: np.ndarray, steps: int) -> dict[str, Job]:
    """Our attacks: name -> (norm, settings, run)."""
    jobs: dict[str, Job] = {}
    for label, norm in (("FMN-L2", 2.0), ("FMN-Linf", np.inf)):
        attack = FMN(clf, norm=norm, steps=steps, batch_size=len(x), verbose=False)
        jobs[label] = (norm, {"steps": steps}, _generator(attack, x, pred))
    return jobs


def _generator(attack: Any, x: np.ndarray, pred: np.ndarray) -> Callable[[], np.ndarray]:
    def run() -> np.ndarray:
        return np.asarray(attack.generate(x, pred))

    return run


def foolbox_jobs(
    model: nn.Module, x: np.ndarray, pred: np.ndarray, args: argparse.Namespace
) -> dict[str, Job]:
    """foolbox references: name -> (norm, settings, run); none without ``--foolbox``."""
    if not args.foolbox:
        return {}
    sys.path.append(args.foolbox)  # a separate install, never a project dependency
    import foolbox as fb

    fmodel = fb.PyTorchModel(model.eval(), bounds=(0.0, 1.0))
    xt, yt = torch.from_numpy(x), torch.from_numpy(pred.astype(np.int64))
    ddn = {"steps": args.ddn_steps, "init_epsilon": 1.0, "gamma": 0.05}
    fmn_inf = {"steps": args.steps}
    df_inf = {"steps": 50, "candidates": 10, "overshoot": 0.02}
    specs: dict[str, tuple[Any, float, dict[str, Any]]] = {
        "foolbox DDN (L2)": (fb.attacks.DDNAttack(**ddn), 2.0, ddn),
        "foolbox FMN (Linf)": (fb.attacks.LInfFMNAttack(**fmn_inf), np.inf, fmn_inf),
        "foolbox DeepFool (Linf)": (fb.attacks.LinfDeepFoolAttack(**df_inf), np.inf, df_inf),
    }

    def runner(attack: Any) -> Callable[[], np.ndarray]:
        def run() -> np.ndarray:
            _, adv, _ = attack(fmodel, xt, yt, epsilons=None)
            return np.asarray(adv.detach().numpy(), dtype=np.float32)

        return run

    return {name: (norm, settings, runner(attack)) for name, (attack, norm, settings) in specs.items()}


def run_interleaved(
    jobs: dict[str, Job], model: nn.Module, x: np.ndarray, repeat: int, once: tuple[str, ...]
) -> tuple[dict[str, np.ndarray], dict[str, float], float]:
    """Run every job ``repeat`` times in interleaved rounds (those in ``once``: the first round only).

    :return: ``(adversarial points, median wall s per job, median raw forward+backward s)``; the
             attacks are deterministic, so the points of the first round are kept.
    """
    points: dict[str, np.ndarray] = {}
    walls: dict[str, list[float]] = {name: [] for name in jobs}
    raw: list[float] = []
    for r in range(repeat):
        raw.append(raw_fwd_bwd(model, x))
        for name, (_, _, run) in jobs.items():
            if r > 0 and name in once:
                continue
            t = time.perf_counter()
            adv = run()
            walls[name].append(time.perf_counter() - t)
            points.setdefault(name, adv)
    return points, {k: float(np.median(v)) for k, v in walls.items()}, float(np.median(raw))


def compare(
    clf: Any,
    x: np.ndarray,
    pred: np.ndarray,
    ours: tuple[np.ndarray, float],
    ref: tuple[np.ndarray, float],
    norm: float,
) -> dict[str, Any]:
    """Fool rates, mean ρ on the images both fool, ratio and speed-up of ours vs a reference."""
    f_o = clf.predict(ours[0]).argmax(1) != pred
    f_r = clf.predict(ref[0]).argmax(1) != pred
    both = f_o & f_r
    r_o, r_r = rho(x, ours[0], norm), rho(x, ref[0], norm)
    return {
        "fool_rate_fmn": float(f_o.mean()),
        "fool_rate_ref": float(f_r.mean()),
        "n_both": int(both.sum()),
        "mean_rho_fmn": float(r_o[both].mean()),
        "mean_rho_ref": float(r_r[both].mean()),
        "rho_ratio_fmn_over_ref": float(r_o[both].mean() / r_r[both].mean()),
        "fmn_s": ours[1],
        "ref_s": ref[1],
        "speedup_fmn": ref[1] / ours[1],
    }


def render(res: dict[str, Any]) -> str:
    lines = [
        "# FMN (ours) vs foolbox minimum-norm attacks, MNIST LeNet-like (1 epoch Adam)",
        "",
        f"{res['n']} test images, labels = clean predictions, {res['torch_threads']} thread(s), "
        f"clean test accuracy {res['clean_accuracy_test']:.4f}; FMN {res['steps']} steps. "
        "ρ = ||δ|| / ||x|| in the attack's norm, mean over the images both attacks fool. Wall times: "
        f"median of {res['repeat']} interleaved rounds (foolbox DDN: one run); raw forward+backward "
        f"of the net on the batch {res['raw_fwd_bwd_s'] * 1e3:.1f} ms; 1-minute load average after the "
        f"timing rounds {res.get('load_average_1min_after_timing', float('nan')):.1f} (shared machine).",
        "",
        "| ours | fool rate | mean ρ (fooled) | wall s | wall / (steps × raw fwd+bwd) |",
        "|---|---|---|---|---|",
    ]
    for label, e in res["ours"].items():
        lines.append(
            f"| {label} {e['settings']} | {e['fool_rate']:.3f} | {e['mean_rho']:.4f} | {e['wall_s']:.2f} | "
            f"{e['wall_over_steps_x_raw_fwd_bwd']:.2f} |"
        )
    lines += [
        "",
        "| ours | reference | settings | fool rate ours / ref | mean ρ ours | mean ρ ref | ratio | "
        "wall ours s | wall ref s | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in res["comparisons"]:
        lines.append(
            f"| {row['ours']} | {row['reference']} | {row['settings']} | {row['fool_rate_fmn']:.3f} / "
            f"{row['fool_rate_ref']:.3f} | {row['mean_rho_fmn']:.4f} | {row['mean_rho_ref']:.4f} | "
            f"{row['rho_ratio_fmn_over_ref']:.3f} | {row['fmn_s']:.2f} | {row['ref_s']:.2f} | "
            f"{row['speedup_fmn']:.1f}x |"
        )
    lines += [
        "",
        f"## FMN on JumpReLU κ = {res['kappa']} (retrofit of the same net)",
        "",
        "| attack | gradient | fool rate | mean ρ (fooled) | wall s |",
        "|---|---|---|---|---|",
    ]
    for row in res["jumprelu"]:
        lines.append(
            f"| {row['attack']} | {row['gradient']} | {row['fool_rate']:.3f} | {row['mean_rho']:.4f} | "
            f"{row['s']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(MNIST_ROOT))
    parser.add_argument("--n", type=int, default=200, help="first n MNIST test images")
    parser.add_argument("--steps", type=int, default=100, help="FMN steps (ours and foolbox's L-inf FMN)")
    parser.add_argument("--ddn-steps", type=int, default=1000, help="foolbox DDN steps")
    parser.add_argument(
        "--repeat", type=int, default=3, help="interleaved timing rounds (foolbox DDN: the first only)"
    )
    parser.add_argument("--kappa", type=float, default=0.75, help="JumpReLU threshold")
    parser.add_argument(
        "--foolbox", metavar="DIR", default="", help="directory of a separate foolbox install"
    )
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "fmn_vs_ddn_lenet_mnist_1ep.pt"))
    parser.add_argument("--out", default=str(HERE / "results" / "fmn_vs_ddn"))
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    root = Path(args.data_dir)
    model, clean_acc = get_model(root, Path(args.cache))
    clf = wrap(model)
    x, _ = load_dataset("mnist", root=root, split="test", limit=args.n)
    pred = clf.predict(x).argmax(1)
    res: dict[str, Any] = {
        "dataset": "mnist",
        "model": "lenet-like, 1 epoch Adam lr 1e-3, seed 0",
        "n": len(x),
        "steps": args.steps,
        "torch_threads": torch.get_num_threads(),
        "clean_accuracy_test": clean_acc,
        "environment": environment(),
        "ours": {},
        "comparisons": [],
        "jumprelu": [],
    }
    print(f"n={len(x)} threads={torch.get_num_threads()} clean acc={clean_acc:.4f}")
    ours = our_jobs(clf, x, pred, args.steps)
    refs = foolbox_jobs(model, x, pred, args)
    points, walls, raw = run_interleaved({**ours, **refs}, model, x, args.repeat, ("foolbox DDN (L2)",))
    res["raw_fwd_bwd_s"] = raw
    res["load_average_1min_after_timing"] = os.getloadavg()[0]
    res["repeat"] = args.repeat
    for label, (norm, settings, _) in ours.items():
        fooled = clf.predict(points[label]).argmax(1) != pred
        entry = {
            "norm": "2" if norm == 2 else "inf",
            "settings": settings,
            "fool_rate": float(fooled.mean()),
            "mean_rho": float(rho(x, points[label], norm)[fooled].mean()),
            "wall_s": walls[label],
            "wall_over_steps_x_raw_fwd_bwd": walls[label] / (args.steps * raw),
        }
        res["ours"][label] = entry
        print(
            f"{label}: fool rate {entry['fool_rate']:.3f}, mean rho {entry['mean_rho']:.4f}, "
            f"wall {entry['wall_s']:.2f} s = {entry['wall_over_steps_x_raw_fwd_bwd']:.2f} x "
            f"{args.steps} raw forward+backward ({raw * 1e3:.1f} ms)"
        )
    for name, (norm, settings, _) in refs.items():
        label = "FMN-L2" if norm == 2 else "FMN-Linf"
        row = {"ours": label, "reference": name, "settings": settings}
        row.update(compare(clf, x, pred, (points[label], walls[label]), (points[name], walls[name]), norm))
        res["comparisons"].append(row)
        print(
            f"{label} vs {name} {settings}: fool rate {row['fool_rate_fmn']:.3f} / "
            f"{row['fool_rate_ref']:.3f}; "
            f"mean rho on {row['n_both']} both-fooled: ours {row['mean_rho_fmn']:.4f} ref "
            f"{row['mean_rho_ref']:.4f} ratio {row['rho_ratio_fmn_over_ref']:.3f}; wall ours "
            f"{row['fmn_s']:.2f} s ref {row['ref_s']:.2f} s ({row['speedup_fmn']:.1f}x)"
        )
    for gradient in ("exact", "bpda"):
        jump = RetrofitClassifier.from_classifier(clf, "jumprelu", kappa=args.kappa, gradient=gradient)
        pred_j = jump.predict(x).argmax(1)
        for norm in (2.0, np.inf):
            attack = FMN(jump, norm=norm, steps=args.steps, batch_size=len(x), verbose=False)
            t_j = time.perf_counter()
            x_j = attack.generate(x, pred_j)
            t_j = time.perf_counter() - t_j
            fooled = jump.predict(x_j).argmax(1) != pred_j
            row_j = {
                "attack": "FMN-L2" if norm == 2 else "FMN-Linf",
                "gradient": gradient,
                "fool_rate": float(fooled.mean()),
                "mean_rho": float(rho(x, x_j, norm)[fooled].mean()) if fooled.any() else float("nan"),
                "s": t_j,
            }
            res["jumprelu"].append(row_j)
            print(
                f"JumpReLU kappa={args.kappa} {row_j['attack']} {gradient}: "
                f"fool rate {row_j['fool_rate']:.3f}, "
                f"mean rho {row_j['mean_rho']:.4f}, {t_j:.2f} s"
            )
    res["kappa"] = args.kappa
    out = Path(args.out)
    write_json(res, out.with_suffix(".json"))
    out.with_suffix(".md").write_text(render(res))
    print(f"wrote {out.with_suffix('.json')} and {out.with_suffix('.md')}")
    return res


if __name__ == "__main__":
    main()
