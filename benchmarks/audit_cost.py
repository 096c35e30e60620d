"""Cost of the audit's standard budget on real MNIST (not a test).

Audits JumpReLU kappa = 0.75 retrofitted into the 3-epoch LeNet-like of ``audit_mnist.py`` on the
first ``--n`` MNIST test images (default 1,000; goal: the standard budget within 10 minutes on 2
cores) and divides the wall time by the cost of the same passes done raw: every forward pass of the
defended and the original model is counted by a forward hook (samples with and without autograd),
and priced at the measured time per sample of a bare forward+backward (gradient passes) or forward
(no-grad passes) on batches of ``--batch-size``. The ratio is the audit's overhead (numpy round trips,
ART's plumbing, bookkeeping); goal <= 1.3. Writes ``benchmarks/results/audit_cost.json`` and ``.md``.

Run: ``OMP_NUM_THREADS=2 python benchmarks/audit_cost.py --threads 2`` (only on a quiet machine;
otherwise ``--threads 1``, and say so).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from art_activation_defenses import RetrofitClassifier
from art_activation_defenses.data import load_dataset
from art_activation_defenses.evaluation import audit, render_audit_markdown
from art_activation_defenses.experiments._common import environment, write_json

HERE = Path(__file__).resolve().parent


def _audit_mnist() -> Any:
    spec = importlib.util.spec_from_file_location("audit_mnist", HERE / "audit_mnist.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class PassCounter:
    """Counts the samples forwarded through ``model`` with and without autograd."""

    def __init__(self, *models: nn.Module) -> None:
        self.grad, self.nograd = 0, 0
        self.handles = [m.register_forward_hook(self._hook) for m in models]

    def _hook(self, _m: nn.Module, inputs: tuple[torch.Tensor, ...], _out: Any) -> None:
        n = int(inputs[0].shape[0])
        if torch.is_grad_enabled() and inputs[0].requires_grad:
            self.grad += n
        else:
            self.nograd += n

    def close(self) -> None:
        for h in self.handles:
            h.remove()


def raw_seconds_per_sample(
    model: nn.Module, x: np.ndarray, batch: int, repeats: int = 5
) -> tuple[float, float]:
    """Median seconds per sample of a bare forward+backward and of a bare no-grad forward."""
    xb = torch.from_numpy(x[:batch])
    fb, f = [], []
    model.eval()
    for _ in range(repeats):
        xg = xb.clone().requires_grad_(True)
        t = time.perf_counter()
        out = model(xg)
        (g,) = torch.autograd.grad(out.sum(), xg)
        fb.append((time.perf_counter() - t) / len(xb))
        t = time.perf_counter()
        with torch.no_grad():
            model(xb)
        f.append((time.perf_counter() - t) / len(xb))
    return float(np.median(fb)), float(np.median(f))


def main(argv: list[str] | None = None) -> dict[str, Any]:
    bench = _audit_mnist()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=bench.MNIST_ROOT)
    parser.add_argument("--cache-dir", type=Path, default=HERE / "results")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--budget", default="standard")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, meta = bench.get_model("mnist", args.data_dir, args.cache_dir, 3)
    x_te, y_te = load_dataset("mnist", args.data_dir, split="test")
    x, y = x_te[: args.n], y_te[: args.n]
    clf = RetrofitClassifier(
        model, nn.CrossEntropyLoss(), x.shape[1:], 10, activation="jumprelu", kappa=0.75,
        clip_values=(0.0, 1.0), device_type="cpu",
    )  # fmt: skip
    t_fb, t_f = raw_seconds_per_sample(clf.model, x, args.batch_size)
    counter = PassCounter(clf.model, model)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = audit(clf, model, x, y, budget=args.budget, batch_size=args.batch_size, verbose=True)
    wall = time.perf_counter() - start
    counter.close()
    raw_grad = counter.grad * t_fb
    raw_all = raw_grad + counter.nograd * t_f
    out = {
        "n": args.n, "budget": args.budget, "threads": torch.get_num_threads(), "wall_seconds": wall,
        "gradient_samples": counter.grad, "forward_only_samples": counter.nograd,
        "raw_fb_seconds_per_sample": t_fb, "raw_forward_seconds_per_sample": t_f,
        "ratio_wall_over_gradient_passes": wall / raw_grad if raw_grad else None,
        "ratio_wall_over_all_passes": wall / raw_all if raw_all else None,
        "robust_accuracy": res["robust_accuracy"], "settings": res["settings"],
        "environment": environment(), "checkpoint": meta,
    }  # fmt: skip
    print({k: v for k, v in out.items() if k not in ("settings", "environment", "checkpoint")})
    args.out.mkdir(parents=True, exist_ok=True)
    write_json({**out, "audit": res}, args.out / "audit_cost.json")
    lines = [
        "# Cost of the audit",
        "",
        f"JumpReLU kappa=0.75 (LeNet-like, MNIST), first {args.n} test images, budget `{args.budget}`, "
        f"{out['threads']} torch thread(s); "
        f"`python benchmarks/audit_cost.py --n {args.n} --threads {args.threads}`.",
        "",
        "| wall s | gradient samples | forward-only samples | raw f+b s/sample | raw f s/sample | "
        "wall / gradient passes | wall / all passes |",
        "|---|---|---|---|---|---|---|",
        f"| {wall:.0f} | {counter.grad} | {counter.nograd} | {t_fb:.2e} | {t_f:.2e} | "
        f"{out['ratio_wall_over_gradient_passes']:.2f} | {out['ratio_wall_over_all_passes']:.2f} |",
        "",
        render_audit_markdown(res, title="The audit"),
    ]
    (args.out / "audit_cost.md").write_text("\n".join(lines) + "\n")
    return out


if __name__ == "__main__":
    main()
