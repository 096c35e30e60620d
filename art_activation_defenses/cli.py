"""Command line: ``art-activation-defenses COMMAND`` (or ``python -m art_activation_defenses``).

A thin shell over library functions that scripts can call directly.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "build_parser"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def _param(text: str) -> tuple[str, float]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE (e.g. kappa=1.0), got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"value of {name!r} must be a number, got {value!r}") from err


def _json_dict(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}: {err}") from err
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object, got {text!r}")
    return value


def _names(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


def _model_args(p: argparse.ArgumentParser, *, weights: bool = True) -> None:
    p.add_argument(
        "--model", default="lenet-like", help="zoo name (default lenet-like) or 'package.module:Factory'"
    )
    p.add_argument(
        "--model-kwargs", type=_json_dict, default=None, help="JSON keyword arguments of the model"
    )
    if weights:
        p.add_argument(
            "--weights", default=None, help="state_dict file of the trained model (weights_only load)"
        )
    p.add_argument("--dataset", default="digits", help="digits (default), mnist, fashion-mnist or cifar10")
    p.add_argument("--data-dir", default=None, help="folder with the dataset files")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _defence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--activation", default="jumprelu", help="jumprelu, randomized-jumprelu, brelu, capped or srelu"
    )
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        help="activation parameter NAME=VALUE, repeatable",
    )
    p.add_argument(
        "--layers", type=_names, default=None, help="comma-separated ReLU sites to replace (default all)"
    )
    p.add_argument("--n-eval", type=int, default=500, help="number of test images (default 500)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the console script."""
    parser = argparse.ArgumentParser(
        prog="art-activation-defenses",
        description="Activation-function defences for ART: retrofit, attack, measure honestly.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="train LeNetLike, retrofit JumpReLU over a kappa grid, attack it (white-box, BPDA, gray-box)",
        description=(
            "Train LeNetLike on the dataset (default: scikit-learn's bundled digits, no files needed), "
            "swap its ReLUs for JumpReLU over a grid of kappa, and report clean accuracy, white-box PGD "
            "accuracy beside the adaptive checks (BPDA and gray-box transfer from the ReLU model), "
            "DeepFool-L2 fool rate and mean relative minimal perturbation. Writes results.json, "
            "results.md, results.csv and kappa_tradeoff.png into --out."
        ),
    )
    demo.add_argument("--dataset", default="digits", help="digits (default, bundled), mnist or fashion-mnist")
    demo.add_argument(
        "--data-dir", default=None, help="directory with the dataset files (e.g. shared/datasets/mnist)"
    )
    demo.add_argument("--out", default="demo-results", help="output directory (default: demo-results)")
    demo.add_argument("--kappas", type=_floats, default=None, help="comma-separated JumpReLU thresholds")
    demo.add_argument("--n-eval", type=int, default=None, help="number of test images attacked")
    demo.add_argument("--n-train", type=int, default=None, help="use only the first N training images")
    demo.add_argument("--epochs", type=int, default=None, help="training epochs")
    demo.add_argument("--eps", type=float, default=None, help="PGD L-infinity budget")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")

    rep = sub.add_parser(
        "reproduce",
        help="reproduce one paper's tables and figures (resumable)",
        description="Run one paper's reproduction; finished cells are stored at once in OUT/cells.json, so a "
        "killed run resumes where it stopped. Writes results.json, results.md, CSVs and PNGs into --out.",
    )
    rep.add_argument("name", nargs="?", help="reproduction name (see --list)")
    rep.add_argument("--list", action="store_true", help="list the reproductions and exit")
    rep.add_argument("--quick", action="store_true", help="small smoke run on digits (< 3 minutes)")
    rep.add_argument("--data-dir", default=None, help="folder with the real dataset (full runs)")
    rep.add_argument("--out", default=None, help="output folder (default results/NAME[-quick])")
    rep.add_argument(
        "--dataset",
        default=None,
        help="a variant on another dataset where one exists: 'cifar10' for jumprelu (AlexLike, kappa 0.4; "
        "needs --data-dir with the CIFAR-10 files); default: the paper's main dataset",
    )
    rep.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    rep.add_argument("--quiet", action="store_true", help="no progress bars")

    train = sub.add_parser(
        "train",
        help="train a zoo model and save a checkpoint",
        description="Train a zoo model (optionally with a defence activation, e.g. "
        "--activation brelu --param t=1) and save state_dict + metadata.",
    )
    _model_args(train, weights=False)
    train.add_argument("--activation", default=None, help="train with this activation instead of ReLU")
    train.add_argument(
        "--param", type=_param, action="append", default=[], help="activation parameter NAME=VALUE"
    )
    train.add_argument("--epochs", type=int, default=10)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--batch-size", type=int, default=128)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", default="model.pt", help="checkpoint file (default model.pt)")

    ev = sub.add_parser(
        "evaluate",
        help="retrofit your model and run the adaptive-attack audit",
        description="Retrofit a trained model with an activation defence and audit it: white-box "
        "accuracy beside BPDA, margin-loss, EOT, transfer (and surrogate) attacks, with a "
        "gradient-masking flag. Writes audit.json and audit.md into --out.",
    )
    _model_args(ev)
    _defence_args(ev)
    ev.add_argument("--attacks", type=_names, default=("fgsm", "pgd"), help="comma-separated: fgsm,pgd")
    ev.add_argument("--eps", type=float, default=0.1, help="L-infinity budget (default 0.1)")
    ev.add_argument("--max-iter", type=int, default=40, help="PGD steps (default 40)")
    ev.add_argument("--surrogate", action="store_true", help="add the surrogate-transfer column")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--out", default="evaluation")

    tune = sub.add_parser(
        "tune",
        help="trade-off curve of an activation parameter (e.g. kappa)",
        description="Clean accuracy and mean relative minimal perturbation (white-box and "
        "BPDA) per parameter value; picks the most robust value within an accuracy budget. "
        "Writes tune.json and tradeoff.png into --out.",
    )
    _model_args(tune)
    tune.add_argument("--activation", default="jumprelu")
    tune.add_argument(
        "--param-name", default=None, help="parameter to tune (default: the activation's first)"
    )
    tune.add_argument("--values", type=_floats, required=True, help="comma-separated values to try")
    tune.add_argument("--layers", type=_names, default=None)
    tune.add_argument("--max-accuracy-drop", type=float, default=0.01)
    tune.add_argument("--attack", default="deepfool", help="deepfool (L2) or deepfool-inf")
    tune.add_argument("--n-eval", type=int, default=500)
    tune.add_argument("--out", default="tuning")

    det = sub.add_parser(
        "detect",
        help="LID detection AUC, ReLU vs the retrofitted model",
        description="Local intrinsic dimensionality detector (Ma et al. 2018) on adversarial "
        "examples crafted on each model; writes detect.json into --out.",
    )
    _model_args(det)
    _defence_args(det)
    det.add_argument("--attack", default="pgd", help="fgsm or pgd (default pgd)")
    det.add_argument("--eps", type=float, default=0.1)
    det.add_argument("--seed", type=int, default=0)
    det.add_argument("--out", default="detection")
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.demo import DEMO_COLUMNS, DemoConfig, run_demo
    from art_activation_defenses.experiments.report import markdown_table

    config = DemoConfig(
        dataset=args.dataset,
        data_dir=args.data_dir,
        kappas=args.kappas,
        n_eval=args.n_eval,
        n_train=args.n_train,
        epochs=args.epochs,
        eps=args.eps,
        seed=args.seed,
    )
    results = run_demo(config, out=args.out, verbose=not args.quiet)
    print(markdown_table(results["rows"], DEMO_COLUMNS))
    flagged = [r["kappa"] for r in results["rows"] if r.get("masking_flag")]
    if flagged:
        print(f"Gradient masking suspected for kappa in {flagged}: an adaptive attack beat white-box PGD.")
    print(
        f"Wrote {args.out}/results.json, results.md, results.csv, kappa_tradeoff.png "
        f"({results['wall_seconds']:.1f} s)."
    )
    return 0


def _run_reproduce(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments import available_reproductions, reproduce

    if args.list or not args.name:
        for name, desc in available_reproductions().items():
            print(f"{name:12s} {desc}")
        return 0 if args.list else 2
    results = reproduce(
        args.name,
        quick=args.quick,
        data_dir=args.data_dir,
        out=args.out,
        seed=args.seed,
        verbose=not args.quiet,
        dataset=args.dataset,
    )
    suffix = (f"-{args.dataset}" if args.dataset else "") + ("-quick" if args.quick else "")
    out = args.out or f"results/{args.name}{suffix}"
    print(
        f"{results.get('title', args.name)}: wrote {out}/results.json and results.md "
        f"({len(results.get('tables', []))} tables, {len(results.get('figures', []))} figures)."
    )
    return 0


def _common(args: argparse.Namespace, *names: str) -> dict[str, Any]:
    """Keyword arguments shared by the model commands, plus ``names`` read from ``args``."""
    kwargs: dict[str, Any] = {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "model_kwargs": args.model_kwargs,
        "out": args.out,
        "verbose": not args.quiet,
    }
    for name in names:
        kwargs[name] = dict(args.param) if name == "activation_params" else getattr(args, name)
    return kwargs


def _run_train(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import train_model

    meta = train_model(
        args.model,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        **_common(args, "activation", "activation_params", "seed"),
    )
    print(f"test accuracy {meta['test_accuracy']:.4f}; saved {args.out}")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import evaluate_model

    evaluate_model(
        args.model,
        max_iter=args.max_iter,
        **_common(
            args,
            "weights",
            "activation",
            "activation_params",
            "layers",
            "attacks",
            "eps",
            "surrogate",
            "n_eval",
            "seed",
        ),
    )
    print((Path(args.out) / "audit.md").read_text(encoding="utf-8"))
    return 0


def _run_tune(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import tune_model
    from art_activation_defenses.experiments.report import markdown_table

    result = tune_model(
        args.model,
        param=args.param_name,
        **_common(args, "weights", "activation", "values", "layers", "max_accuracy_drop", "attack", "n_eval"),
    )
    keys = ("values", "accuracy", "rho", "rho_bpda", "fool_rate", "admissible")
    columns = [result.get(k) or [None] * len(result["values"]) for k in keys]
    rows = [dict(zip(keys, vals, strict=True)) for vals in zip(*columns, strict=True)]
    headers = [
        ("values", result["param"]),
        ("accuracy", "clean acc"),
        ("rho", "ρ white-box"),
        ("rho_bpda", "ρ BPDA"),
        ("fool_rate", "fool rate"),
        ("admissible", "within budget"),
    ]
    print(markdown_table(rows, headers))
    print(
        f"chosen {result['param']} = {result['chosen']} (selected by {result['select_by']} ρ, accuracy drop "
        f"<= {result['max_accuracy_drop']}); wrote {args.out}/tune.json and tradeoff.png"
    )
    return 0


def _run_detect(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import detect_model
    from art_activation_defenses.experiments.report import markdown_table

    result = detect_model(
        args.model,
        **_common(args, "weights", "activation", "activation_params", "attack", "eps", "n_eval", "seed"),
    )
    print(markdown_table(result["rows"], [("model", "model"), ("auc", "LID AUC"), ("n_test", "test pairs")]))
    return 0


_COMMANDS = {
    "demo": _run_demo,
    "reproduce": _run_reproduce,
    "train": _run_train,
    "evaluate": _run_evaluate,
    "tune": _run_tune,
    "detect": _run_detect,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return _COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
