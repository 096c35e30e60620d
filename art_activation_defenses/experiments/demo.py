"""The main job: train LeNetLike, retrofit JumpReLU over a kappa grid, attack, report.

For the ReLU model and for JumpReLU at each kappa it measures clean accuracy, white-box PGD
accuracy, the adaptive checks beside it (PGD through BPDA/straight-through gradients, and
the gray-box/transfer column: PGD crafted on the ReLU model, evaluated on JumpReLU), with the
shared cell :func:`~art_activation_defenses.evaluation.audit_cell`, and the DeepFool-L2 fool rate
and mean relative minimal perturbation ``||delta||_2 / ||x||_2``, white-box and BPDA, with
:func:`~art_activation_defenses.evaluation.tune_kappa` (which also picks a kappa).
A row is flagged when an adaptive or transfer attack beats the white-box one by more than
``masking_margin``: the white-box number then says more about hidden gradients than about
robustness.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from art.estimators.classification import PyTorchClassifier
from torch import nn
from tqdm.auto import tqdm

from art_activation_defenses._device import Device, art_device_type, place_classifier, resolve_device
from art_activation_defenses.attacks import DeepFool
from art_activation_defenses.data import dataset_info, load_dataset
from art_activation_defenses.estimators import RetrofitClassifier
from art_activation_defenses.evaluation import audit_cell, masking_row, tune_kappa
from art_activation_defenses.experiments._common import environment, write_json
from art_activation_defenses.experiments.report import plot_kappa_tradeoff, render_demo_markdown, write_csv
from art_activation_defenses.models import build_model
from art_activation_defenses.training import evaluate, fit, set_seed

__all__ = ["DemoConfig", "run_demo", "DEMO_COLUMNS", "CSV_COLUMNS", "COLUMN_NOTES"]

#: Per-dataset defaults: training epochs, learning rate, kappa grid, PGD budget.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": {
        "epochs": 30,
        "lr": 3e-3,
        "batch_size": 64,
        "kappas": (0.1, 0.2, 0.4, 0.8),
        "eps": 0.1,
        "n_eval": 450,
    },
    "mnist": {
        "epochs": 3,
        "lr": 1e-3,
        "batch_size": 128,
        "kappas": (0.25, 0.5, 1.0, 1.5),
        "eps": 0.1,
        "n_eval": 1000,
    },
    "fashion-mnist": {
        "epochs": 3,
        "lr": 1e-3,
        "batch_size": 128,
        "kappas": (0.25, 0.5, 1.0, 1.5),
        "eps": 0.05,
        "n_eval": 1000,
    },
}

DEMO_COLUMNS = [
    ("model", "model"),
    ("kappa", "κ"),
    ("clean_accuracy", "clean acc"),
    ("pgd_accuracy", "PGD acc (white-box)"),
    ("pgd_bpda_accuracy", "PGD acc (BPDA)"),
    ("pgd_transfer_accuracy", "PGD acc (gray-box: from ReLU)"),
    ("deepfool_fool_rate", "DF-L2 fool rate"),
    ("deepfool_rho", "DF-L2 ρ = ‖δ‖₂/‖x‖₂"),
    ("deepfool_bpda_fool_rate", "DF-L2 fool rate (BPDA)"),
    ("deepfool_bpda_rho", "DF-L2 ρ (BPDA)"),
    ("masking_flag", "masking?"),
]

#: What each column of results.csv / results.md holds (rendered into the report's header).
COLUMN_NOTES: dict[str, str] = {
    "model": "ReLU (the trained LeNetLike) or JumpReLU (its ReLUs swapped, no retraining)",
    "kappa": "JumpReLU threshold κ (0 = ReLU)",
    "clean_accuracy": "accuracy on the unperturbed test images",
    "pgd_accuracy": "accuracy under white-box PGD (the model's own gradient)",
    "pgd_bpda_accuracy": "accuracy under PGD with BPDA gradients (ReLU derivative in the backward pass)",
    "pgd_transfer_accuracy": "accuracy on the PGD examples crafted on the ReLU model (gray-box transfer)",
    "deepfool_fool_rate": "share of the correctly classified images DeepFool-L2 misclassifies",
    "deepfool_rho": "mean ‖δ‖₂/‖x‖₂ of DeepFool-L2 over the correctly classified images it fooled",
    "deepfool_bpda_fool_rate": "the same with BPDA gradients",
    "deepfool_bpda_rho": "the same with BPDA gradients",
    "masking_flag": "true when the audit's masking test fires: an adaptive PGD column (or the per-image "
    "worst case) beats white-box PGD by more than the margin, with an exact McNemar test p < 0.05",
    "strongest_adaptive": "CSV only: the adaptive PGD column with the fewest correct images (e.g. bpda, "
    "transfer); empty when none ran",
    "masking_gap": "CSV only: white-box PGD accuracy minus that column's, per image: (b − c) / n with b, c "
    "McNemar's discordant pairs",
}
CSV_COLUMNS = [c for c, _ in DEMO_COLUMNS] + ["strongest_adaptive", "masking_gap"]


@dataclass
class DemoConfig:
    """Settings of :func:`run_demo`; ``None`` takes the dataset's default.

    :param dataset: ``"digits"`` (bundled, default), ``"mnist"`` or ``"fashion-mnist"``.
    :param data_dir: Directory holding the dataset files (not needed for digits).
    :param kappas: JumpReLU thresholds to evaluate (besides the ReLU model, kappa = 0).
    :param n_train: Use only the first ``n_train`` training images (None: all).
    :param n_eval: Number of test images attacked.
    :param epochs: Training epochs of LeNetLike.
    :param eps: L-infinity budget of PGD (inputs in [0, 1]).
    :param pgd_steps: PGD iterations (step size ``eps / 4``).
    :param deepfool_max_iter: DeepFool iterations.
    :param masking_margin: Accuracy gap (adaptive below white-box) that raises the flag.
    :param seed: Seed of training, data order and attacks.
    :param threads: torch intra-op threads for the run (restored afterwards); ``None`` keeps the
        current setting. Numbers are identical across runs for the same seed *and* thread count.
    :param device: Where the model trains and is attacked: ``"auto"`` (CUDA when available, else
        the CPU), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    """

    dataset: str = "digits"
    data_dir: str | None = None
    kappas: tuple[float, ...] | None = None
    n_train: int | None = None
    n_eval: int | None = None
    epochs: int | None = None
    lr: float | None = None
    eps: float | None = None
    pgd_steps: int = 20
    deepfool_max_iter: int = 50
    masking_margin: float = 0.05
    seed: int = 0
    threads: int | None = None
    device: Device = "auto"
    extra: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> DemoConfig:
        """A copy with every ``None`` replaced by the dataset default; validates values."""
        if self.dataset not in _DEFAULTS:
            raise ValueError(
                f"`dataset` for the demo must be one of {sorted(_DEFAULTS)}, got {self.dataset!r}."
            )
        d = _DEFAULTS[self.dataset]
        out = DemoConfig(**{**asdict(self)})
        out.kappas = tuple(float(k) for k in (self.kappas if self.kappas is not None else d["kappas"]))
        out.n_eval = int(self.n_eval if self.n_eval is not None else d["n_eval"])
        out.epochs = int(self.epochs if self.epochs is not None else d["epochs"])
        out.lr = float(self.lr if self.lr is not None else d["lr"])
        out.eps = float(self.eps if self.eps is not None else d["eps"])
        if any(k < 0 for k in out.kappas) or not out.kappas:
            raise ValueError(f"`kappas` must be a non-empty list of values >= 0, got {self.kappas!r}.")
        for name in ("n_eval", "epochs", "pgd_steps", "deepfool_max_iter"):
            if getattr(out, name) < 1:
                raise ValueError(f"`{name}` must be >= 1, got {getattr(out, name)!r}.")
        if not 0 < out.eps <= 1:
            raise ValueError(f"`eps` must lie in (0, 1], got {out.eps!r}.")
        if out.threads is not None and (
            isinstance(out.threads, bool) or not isinstance(out.threads, int) or out.threads < 1
        ):
            raise ValueError(f"`threads` must be a positive int or None, got {out.threads!r}.")
        resolve_device(out.device)  # a clear error now (CUDA without a GPU), not after training
        return out


def _deepfool_factory(cfg: DemoConfig) -> Any:
    """DeepFool-L2 at the demo's settings (``cfg.deepfool_max_iter`` steps, overshoot 0.02)."""

    def deepfool_l2(classifier: RetrofitClassifier) -> DeepFool:
        return DeepFool(classifier, norm=2, max_iter=cfg.deepfool_max_iter, overshoot=0.02, verbose=False)

    return deepfool_l2


def _pgd_row(
    clf: PyTorchClassifier, x: np.ndarray, y: np.ndarray, original: PyTorchClassifier | None, cfg: DemoConfig
) -> dict[str, Any]:
    """One model's PGD columns: the shared white-box-beside-adaptive cell (white-box, BPDA, transfer
    from ``original``, the per-sample worst case, the McNemar masking flag, the fired indicators) and
    the strongest adaptive PGD column with its gap to white-box."""
    eps = float(cfg.eps or 0.1)
    cell = audit_cell(
        clf, original, x, y, eps=eps, eps_step=eps / 4, max_iter=cfg.pgd_steps, budget="quick",
        attack="pgd", batch_size=256, seed=cfg.seed, margin=cfg.masking_margin,
    )  # fmt: skip
    pgd = {k.split(".", 1)[1]: v for k, v in cell["audit_columns"].items() if k.startswith("pgd.")}
    row: dict[str, Any] = {"pgd_accuracy": cell["white_acc"]}
    if isinstance(clf, RetrofitClassifier):
        row["pgd_bpda_accuracy"] = cell["bpda_acc"]
    if original is not None:
        row["pgd_transfer_accuracy"] = pgd.get("transfer")
    others = [k for k in pgd if k != "white_box"]
    adaptive = masking_row(dict(pgd), "white_box", others, margin=cfg.masking_margin)
    row.update(
        masking_flag=cell["audit_flag"],
        strongest_adaptive=adaptive["strongest"],
        masking_gap=adaptive["gap"],
        robust_accuracy=cell["robust_acc"],
        robust_interval=cell["robust_interval"],
        indicators_fired=cell["indicators_fired"],
    )
    return row


def _deepfool_columns(tuning: dict[str, Any], i: int, *, bpda: bool) -> dict[str, Any]:
    """The DeepFool-L2 columns of value ``i`` of a :func:`tune_kappa` result."""
    row = {"deepfool_fool_rate": tuning["fool_rate"][i], "deepfool_rho": tuning["rho"][i]}
    if bpda:
        row["deepfool_bpda_fool_rate"] = tuning["fool_rate_bpda"][i]
        row["deepfool_bpda_rho"] = tuning["rho_bpda"][i]
    return row


def run_demo(
    config: DemoConfig | None = None,
    *,
    out: str | Path | None = None,
    verbose: bool = True,
    device: Device = "auto",
) -> dict[str, Any]:
    """Run the demo and return its results as a plain dict (also written to ``out``).

    :param config: :class:`DemoConfig` (defaults: digits, no files needed).
    :param out: Output directory for ``results.json``, ``results.md``, ``results.csv`` and
        ``kappa_tradeoff.png``; nothing is written when ``None``.
    :param verbose: Show progress bars.
    :param device: Where to run; anything but ``"auto"`` (or None) overrides ``config.device``.
    """
    cfg = config or DemoConfig()
    if not (device is None or (isinstance(device, str) and device.strip().lower() == "auto")):
        cfg = replace(cfg, device=device)
    cfg = cfg.resolved()
    if out is not None and Path(out).exists() and not Path(out).is_dir():
        raise ValueError(f"`out={str(out)!r}` is an existing file; give a directory.")
    saved_threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _run(cfg, out, verbose)
    finally:
        torch.set_num_threads(saved_threads)


def _run(cfg: DemoConfig, out: str | Path | None, verbose: bool) -> dict[str, Any]:
    start = time.perf_counter()
    device = resolve_device(cfg.device)
    info = dataset_info(cfg.dataset)
    x_train, y_train = load_dataset(cfg.dataset, cfg.data_dir, "train", limit=cfg.n_train)
    x_test, y_test = load_dataset(cfg.dataset, cfg.data_dir, "test", limit=cfg.n_eval)
    set_seed(cfg.seed)
    model = build_model("lenet-like", info["input_shape"], info["nb_classes"])
    history = fit(
        model,
        x_train,
        y_train,
        epochs=int(cfg.epochs or 1),
        lr=float(cfg.lr or 1e-3),
        batch_size=_DEFAULTS[cfg.dataset]["batch_size"],
        seed=cfg.seed,
        verbose=verbose,
        device=device,
    )
    train_seconds = time.perf_counter() - start
    relu = PyTorchClassifier(
        model, nn.CrossEntropyLoss(), info["input_shape"], info["nb_classes"],
        clip_values=info["clip_values"], device_type=art_device_type(device),
    )  # fmt: skip
    place_classifier(relu, device)
    kappas = list(cfg.kappas or ())
    bar = tqdm(total=2 + len(kappas), desc="demo: attacking", disable=not verbose)
    torch.manual_seed(cfg.seed)
    clf = RetrofitClassifier.from_classifier(relu, "jumprelu", kappa=0.0)
    # DeepFool-L2 over the grid, white-box and BPDA: the shared trade-off curve (kappa 0 is the ReLU)
    tuning = tune_kappa(
        clf, x_test, y_test, [0.0, *kappas], attack=_deepfool_factory(cfg), max_accuracy_drop=0.01,
        batch_size=128, verbose=False,
    )  # fmt: skip
    bar.update()
    rows = [{"model": "ReLU", "kappa": 0.0, "clean_accuracy": tuning["accuracy"][0]}]
    rows[0].update(_pgd_row(relu, x_test, y_test, None, cfg), **_deepfool_columns(tuning, 0, bpda=False))
    bar.update()
    for i, kappa in enumerate(kappas, start=1):
        clf.set_params(kappa=kappa)
        row = {"model": "JumpReLU", "kappa": kappa, "clean_accuracy": tuning["accuracy"][i]}
        row.update(_pgd_row(clf, x_test, y_test, relu, cfg), **_deepfool_columns(tuning, i, bpda=True))
        rows.append(row)
        bar.update()
    clf.set_params(kappa=0.0)
    bar.close()
    results: dict[str, Any] = {
        "name": "demo",
        "config": {**asdict(cfg), "threads": torch.get_num_threads(), "device": str(device)},
        "dataset_note": _dataset_note(cfg.dataset),
        "model": "lenet-like",
        "train": {
            "epochs": cfg.epochs,
            "final_train_accuracy": history["accuracy"][-1],
            "seconds": train_seconds,
        },
        "test_accuracy_full_split": evaluate(model, *load_dataset(cfg.dataset, cfg.data_dir, "test")),
        "rows": rows,
        "tuning": tuning,
        "columns": {c: COLUMN_NOTES.get(c, "") for c in CSV_COLUMNS},
        "environment": environment(),
        "wall_seconds": time.perf_counter() - start,
    }
    if out is not None:
        out = Path(out)
        write_json(results, out / "results.json")
        (out / "results.md").write_text(render_demo_markdown(results, DEMO_COLUMNS), encoding="utf-8")
        write_csv(rows, CSV_COLUMNS, out / "results.csv")
        plot_kappa_tradeoff(results, out / "kappa_tradeoff.png")
    return results


def _dataset_note(name: str) -> str:
    return {
        "digits": "scikit-learn's bundled 8x8 digits (1,797 images; fixed 75/25 stratified split).",
        "mnist": "MNIST (byte-exact files).",
        "fashion-mnist": "Fashion-MNIST.",
    }.get(name, name)
