"""Parity benchmark of the minimum-perturbation attacks against reference implementations (not a test).

On the zoo's LeNet-like trained 1 epoch with Adam on MNIST (git-ignored cache
``benchmarks/results/lenet_mnist_1ep.pt``), the first ``--n`` test images (only the correctly
classified ones are attacked, with their true labels), single thread, on the ReLU model and
on retrofitted copies (JumpReLU κ ∈ {0.5, 1}, capped β = 0.1, SReLU α = 10; exact gradients):

* ours: ``DeepFoolL2``, ``DeepFoolLinf``, ``TrustRegion`` L2 and L∞ (defaults);
* references: foolbox 3's L2/L∞ DeepFool (50 steps, 10 candidates, overshoot 0.02), DDN (L2)
  and FMN (L2, L∞) (``--foolbox DIR``: a separate ``pip install --target DIR`` of foolbox,
  never a project dependency), and ``tr_reference``, this file's own re-implementation of the
  trust-region attack's adaptive radius rule as published (Yao et al. 2018, Algorithm 1:
  radius × η = 1.2 when the ratio of actual to predicted margin increase is > σ2 = 0.9,
  ÷ η when < σ1 = 0.5; the target re-chosen at every step among the top 10 classes by the
  linearised distance; step min(distance, radius); written from the paper, no code copied).

For every pair (ours, reference) of the same norm: fool rate of each, mean relative ρ
(||δ||_p / ||x||_p) over the samples both fool, their ratio (goal ≤ 1.00), wall times and
their ratio (goal ≤ 1.00). On the ReLU model the per-pass cost ratio of our iterative loops
is measured as in ``benchmarks/attacks.py`` (wall of the attack without its shrink phase /
(passes × raw forward+backward, or forward + 9 Jacobian rows for DeepFool), goal ≤ 1.15).

Writes ``benchmarks/results/attack_parity.{json,md}``. Run (from the repository root):
``OMP_NUM_THREADS=1 python benchmarks/attack_parity.py --foolbox DIR``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn

from art_activation_defenses.attacks import DeepFoolL2, DeepFoolLinf, TrustRegion
from art_activation_defenses.data import load_dataset
from art_activation_defenses.estimators.retrofit_classifier import RetrofitClassifier
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit

HERE = Path(__file__).resolve().parent
MNIST_ROOT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"

#: name -> (activation, parameters); ``None`` is the ReLU model itself.
MODELS: dict[str, tuple[str, dict[str, float]] | None] = {
    "relu": None,
    "jumprelu k=0.5": ("jumprelu", {"kappa": 0.5}),
    "jumprelu k=1": ("jumprelu", {"kappa": 1.0}),
    "capped b=0.1": ("capped", {"beta": 0.1}),
    "srelu a=10": ("srelu", {"alpha": 10.0}),
}

Attack = Callable[[nn.Module, PyTorchClassifier, np.ndarray, np.ndarray], np.ndarray]


def get_model() -> tuple[nn.Module, np.ndarray, np.ndarray]:
    """LeNetLike trained 1 epoch with Adam on MNIST (git-ignored cache); the test split."""
    x_te, y_te = load_dataset("mnist", root=str(MNIST_ROOT), split="test")
    model = build_model("lenet-like", x_te.shape[1:], 10)
    ckpt = HERE / "results" / "lenet_mnist_1ep.pt"  # git-ignored (*.pt)
    if ckpt.exists():
        model.load_state_dict(torch.load(ckpt, weights_only=True))
    else:
        x_tr, y_tr = load_dataset("mnist", root=str(MNIST_ROOT), split="train")
        fit(model, x_tr, y_tr, epochs=1, batch_size=128, lr=1e-3, seed=0, verbose=False)
        ckpt.parent.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), ckpt)
    model.eval()
    return model, x_te, y_te


def classifier(model: nn.Module, spec: tuple[str, dict[str, float]] | None) -> PyTorchClassifier:
    """The ReLU model wrapped for ART, or a retrofitted copy (exact gradients)."""
    common: dict[str, Any] = {
        "loss": nn.CrossEntropyLoss(),
        "input_shape": (1, 28, 28),
        "nb_classes": 10,
        "clip_values": (0.0, 1.0),
        "device_type": "cpu",
    }
    if spec is None:
        return PyTorchClassifier(model=model, **common)
    activation, params = spec
    kwargs: dict[str, Any] = {**common, **params}
    return RetrofitClassifier(model, activation=activation, gradient="exact", **kwargs)


# --------------------------------------------------------------- the TR reference (paper rule)
def tr_reference(
    model: nn.Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    norm: float,
    max_iter: int = 1000,
    radius0: float = 1e-3,
    nb_candidates: int = 10,
    eta: float = 1.2,
    sigma1: float = 0.5,
    sigma2: float = 0.9,
) -> np.ndarray:
    """Trust-region attack with the published adaptive radius rule (see the module docstring)."""
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    n = len(x)
    x_adv, done = xt.clone(), torch.zeros(n, dtype=torch.bool)
    radius = torch.full((n,), radius0)
    prev: tuple[torch.Tensor, ...] | None = None  # (ids, target, f before the step, predicted gain)
    for _ in range(max_iter + 1):
        ids = torch.nonzero(~done).squeeze(1)
        if ids.numel() == 0:
            break
        xg = x_adv[ids].clone().requires_grad_(True)
        z = model(xg)
        pred = z.argmax(1).detach()
        ya = yt[ids]
        if prev is not None:  # the radius rule, on the margin of the previous step's target
            p_ids, p_t, p_f, p_gain = prev
            pos = torch.searchsorted(p_ids, ids)
            f_now = (z.gather(1, p_t[pos, None]) - z.gather(1, ya[:, None])).squeeze(1).detach()
            ratio = (f_now - p_f[pos]) / p_gain[pos].clamp_min(1e-30)
            r = radius[ids]
            radius[ids] = torch.where(ratio > sigma2, r * eta, torch.where(ratio < sigma1, r / eta, r))
        fooled = pred != ya
        done[ids[fooled]] = True
        keep = ~fooled
        if not bool(keep.any()):
            break
        others = z.detach().scatter(1, ya[:, None], -math.inf).topk(nb_candidates - 1, 1).indices
        diffs = z.gather(1, others) - z.gather(1, ya[:, None])
        grads = []
        for j in range(nb_candidates - 1):
            (g,) = torch.autograd.grad(diffs[:, j].sum(), xg, retain_graph=j < nb_candidates - 2)
            grads.append(g.reshape(len(ids), -1))
        gr = torch.stack(grads, 1)
        dual = gr.abs().sum(-1) if math.isinf(norm) else gr.norm(dim=-1)
        dist = diffs.detach().abs() / dual.clamp_min(1e-30)
        best = dist.argmin(1)
        rows = torch.arange(len(ids))
        w, d, tgt = gr[rows, best], dist[rows, best], others[rows, best]
        length = torch.minimum(1.02 * d + 1e-4, radius[ids])
        direction = torch.sign(w) if math.isinf(norm) else w / w.norm(dim=1, keepdim=True).clamp_min(1e-30)
        step = (direction * length[:, None]).reshape(xg.shape)
        new = (x_adv[ids] + step).clamp(0.0, 1.0)
        gain = (w * (new - x_adv[ids]).reshape(len(ids), -1)).sum(1)
        x_adv[ids] = new
        sel = keep
        prev = (ids[sel], tgt[sel], diffs.detach()[rows, best][sel], gain[sel])
    return x_adv.numpy()


# ---------------------------------------------------------------------------------- attacks
def ours(name: str) -> Attack:
    def run(model: nn.Module, clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        if name == "DeepFool L2":
            attack: Any = DeepFoolL2(clf, verbose=False)
        elif name == "DeepFool Linf":
            attack = DeepFoolLinf(clf, verbose=False)
        else:
            attack = TrustRegion(clf, norm=2 if name.endswith("L2") else np.inf, verbose=False)
        return attack.generate(x, y)

    return run


def foolbox_attacks(path: str) -> dict[str, tuple[float, Attack]]:
    """name -> (norm, attack) of the foolbox references (imported from a separate folder)."""
    sys.path.insert(0, path)  # a separate install, never a project dependency
    import foolbox as fb

    def make(attack: Any) -> Attack:
        def run(model: nn.Module, clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray) -> np.ndarray:
            fmodel = fb.PyTorchModel(model.eval(), bounds=(0.0, 1.0))
            _, adv, _ = attack(fmodel, torch.from_numpy(x), torch.from_numpy(y), epsilons=None)
            return np.asarray(adv.detach().numpy(), dtype=np.float32)

        return run

    df = {"steps": 50, "candidates": 10, "overshoot": 0.02}
    return {
        "foolbox DeepFool L2": (2.0, make(fb.attacks.L2DeepFoolAttack(**df))),
        "foolbox DeepFool Linf": (math.inf, make(fb.attacks.LinfDeepFoolAttack(**df))),
        "foolbox DDN L2 (100 steps)": (2.0, make(fb.attacks.DDNAttack(steps=100, init_epsilon=1.0))),
        "foolbox FMN L2 (100 steps)": (2.0, make(fb.attacks.L2FMNAttack(steps=100))),
        "foolbox FMN Linf (100 steps)": (math.inf, make(fb.attacks.LInfFMNAttack(steps=100))),
    }


def tr_refs() -> dict[str, tuple[float, Attack]]:
    def make(norm: float) -> Attack:
        def run(model: nn.Module, clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray) -> np.ndarray:
            return tr_reference(clf.model.eval(), x, y, norm=norm)

        return run

    return {"TR paper rule L2": (2.0, make(2.0)), "TR paper rule Linf": (math.inf, make(math.inf))}


OURS: dict[str, float] = {
    "DeepFool L2": 2.0,
    "DeepFool Linf": math.inf,
    "TrustRegion L2": 2.0,
    "TrustRegion Linf": math.inf,
}


def rel(x: np.ndarray, x_adv: np.ndarray, p: float) -> np.ndarray:
    n = len(x)
    d, xf = (x_adv - x).reshape(n, -1), x.reshape(n, -1)
    return np.linalg.norm(d, ord=p, axis=1) / np.linalg.norm(xf, ord=p, axis=1)


def measure(
    model: nn.Module, clf: PyTorchClassifier, attack: Attack, x: np.ndarray, y: np.ndarray
) -> dict[str, Any]:
    t = time.perf_counter()
    x_adv = attack(model, clf, x, y)
    wall = time.perf_counter() - t
    fooled = clf.predict(x_adv).argmax(1) != y
    return {"wall": wall, "fooled": fooled, "rho2": rel(x, x_adv, 2.0), "rhoinf": rel(x, x_adv, math.inf)}


def per_pass_ratios(
    model: nn.Module, clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray
) -> dict[str, float]:
    """The iterative loops' cost per pass, as ``benchmarks/attacks.py`` measures it (no shrink phase)."""
    sys.path.insert(0, str(HERE))
    from attacks import raw_fwd_bwd, raw_jacobian  # the same raw timings

    out: dict[str, float] = {}
    for p in (2.0, math.inf):
        tag = "L2" if p == 2 else "Linf"
        tr = TrustRegion(clf, norm=p, refine_steps=0, projection_steps=0, verbose=False)
        df = (DeepFoolL2 if p == 2 else DeepFoolLinf)(clf, refine_steps=0, projection_steps=0, verbose=False)
        for name, attack in ((f"TrustRegion {tag}", tr), (f"DeepFool {tag}", df)):
            walls, raws, jacs = [], [], []
            attack.generate(x, y)  # warm-up
            for _ in range(3):
                raws.append(raw_fwd_bwd(model, x, repeat=3))
                jacs.append(raw_jacobian(model, x, 10, repeat=1))
                t = time.perf_counter()
                attack.generate(x, y)
                walls.append(time.perf_counter() - t)
            wall, raw, jac = (float(np.median(v)) for v in (walls, raws, jacs))
            passes = int(attack.iterations_.max()) + 1
            if name.startswith("TrustRegion"):  # one-off target selection = forward + 9 rows
                out[name] = (wall - jac) / (passes * raw)
            else:
                out[name] = wall / (passes * jac)
    return out


def compare(res: dict[str, dict[str, Any]], norms: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for o_name, o_norm in OURS.items():
        o = res[o_name]
        for r_name, r_norm in norms.items():
            if r_norm != o_norm or r_name in OURS:
                continue
            r = res[r_name]
            key = "rho2" if o_norm == 2 else "rhoinf"
            both = o["fooled"] & r["fooled"]
            ro, rr = float(o[key][both].mean()), float(r[key][both].mean())
            rows.append(
                {
                    "ours": o_name,
                    "reference": r_name,
                    "norm": "L2" if o_norm == 2 else "Linf",
                    "fooled_ours": int(o["fooled"].sum()),
                    "fooled_ref": int(r["fooled"].sum()),
                    "both": int(both.sum()),
                    "rho_ours": ro,
                    "rho_ref": rr,
                    "rho_ratio": ro / rr,
                    "rho_ours_own": float(o[key][o["fooled"]].mean()),
                    "rho_ref_own": float(r[key][r["fooled"]].mean()) if r["fooled"].any() else math.nan,
                    "wall_ours": o["wall"],
                    "wall_ref": r["wall"],
                    "wall_ratio": o["wall"] / r["wall"],
                }
            )
    return rows


def render(out: dict[str, Any]) -> str:
    lines = [
        "# Attack parity benchmark",
        "",
        f"Command: `{out['command']}` ({out['threads']} thread, {out['n_attacked']} correctly classified "
        f"of the first {out['n']} MNIST test images, LeNetLike 1 epoch Adam, clean accuracy "
        f"{out['clean_accuracy']:.4f}; foolbox {out['foolbox']}).",
        "",
        "ρ: mean relative perturbation over the samples both attacks fool; goals: fooled ours ≥ ref, "
        "ρ ratio ≤ 1.00, wall ratio ≤ 1.00.",
        "",
    ]
    for model_name, block in out["models"].items():
        lines += [f"## {model_name} (attacked {block['n_attacked']})", ""]
        lines += [
            "| ours | reference | fooled ours / ref | ρ ours | ρ ref | ρ ratio "
            "| wall ours s | wall ref s | wall ratio |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in block["pairs"]:
            lines.append(
                f"| {r['ours']} | {r['reference']} | {r['fooled_ours']} / {r['fooled_ref']} | "
                f"{r['rho_ours']:.4f} | {r['rho_ref']:.4f} | {r['rho_ratio']:.3f} | {r['wall_ours']:.2f} | "
                f"{r['wall_ref']:.2f} | {r['wall_ratio']:.3f} |"
            )
        lines.append("")
    if out.get("per_pass"):
        lines += ["## Per-pass cost ratio on the ReLU model (goal ≤ 1.15)", ""]
        lines += [f"- {k}: {v:.3f}" for k, v in out["per_pass"].items()]
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="first N test images (default 100)")
    parser.add_argument("--foolbox", default=None, help="folder of a separate foolbox install")
    parser.add_argument("--models", nargs="*", default=list(MODELS), help="subset of the models")
    parser.add_argument("--no-tr-ref", action="store_true", help="skip the TR paper-rule reference")
    parser.add_argument("--no-per-pass", action="store_true", help="skip the per-pass cost ratios")
    parser.add_argument("--out", default=str(HERE / "results" / "attack_parity"), help="output stem")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    model, x_te, y_te = get_model()
    x, y = x_te[: args.n], y_te[: args.n]
    refs: dict[str, tuple[float, Attack]] = {}
    if args.foolbox:
        refs.update(foolbox_attacks(args.foolbox))
    if not args.no_tr_ref:
        refs.update(tr_refs())
    norms = {**OURS, **{k: v[0] for k, v in refs.items()}}
    out: dict[str, Any] = {
        "command": "python benchmarks/attack_parity.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "threads": torch.get_num_threads(),
        "n": args.n,
        "clean_accuracy": evaluate(model, x_te, y_te),
        "foolbox": None,
        "models": {},
    }
    if args.foolbox:
        import foolbox as fb

        out["foolbox"] = fb.__version__
    for model_name in args.models:
        clf = classifier(model, MODELS[model_name])
        ok = clf.predict(x).argmax(1) == y
        xa, ya = x[ok], y[ok]
        res: dict[str, dict[str, Any]] = {}
        attacks: dict[str, Attack] = {k: ours(k) for k in OURS} | {k: v[1] for k, v in refs.items()}
        for name, attack in attacks.items():
            res[name] = measure(clf.model, clf, attack, xa, ya)
            print(
                f"{model_name:16s} {name:30s} fooled {int(res[name]['fooled'].sum()):3d}/{len(xa)} "
                f"rho2 {res[name]['rho2'][res[name]['fooled']].mean():.4f} "
                f"rhoinf {res[name]['rhoinf'][res[name]['fooled']].mean():.4f} {res[name]['wall']:.2f} s",
                flush=True,
            )
        out["models"][model_name] = {"n_attacked": int(ok.sum()), "pairs": compare(res, norms)}
        if model_name == "relu" and not args.no_per_pass:
            out["per_pass"] = per_pass_ratios(clf.model, clf, xa, ya)
            print("per-pass ratios", out["per_pass"], flush=True)
    out["n_attacked"] = out["models"][args.models[0]]["n_attacked"]
    Path(args.out + ".json").write_text(json.dumps(out, indent=2))
    Path(args.out + ".md").write_text(render(out))
    print(render(out))
    return out


if __name__ == "__main__":
    main()
