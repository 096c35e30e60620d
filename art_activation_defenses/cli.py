"""Command line: ``art-activation-defenses COMMAND`` (or ``python -m art_activation_defenses``).

A thin shell over library functions that scripts can call directly. Before any work runs, the
arguments are checked in the command line's own terms (flags, not Python argument names): the
output path, the checkpoint, the defence parameters, the budget; then torch's thread count is set.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from art_activation_defenses.cli_checks import UsageError, prepare, reproduce_out, speak_cli

__all__ = ["main", "build_parser"]

PROG = "art-activation-defenses"


class _Formatter(argparse.HelpFormatter):
    """Help pages show every option's default (options whose help already says it are left alone)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if "default" in text or not action.option_strings or default in (None, argparse.SUPPRESS):
            return text
        if isinstance(default, (list, tuple)):
            shown = ",".join(str(v) for v in default) or "none"
        elif isinstance(default, bool):
            shown = "on" if default else "off"
        else:
            shown = str(default)
        return f"{text} (default: {shown.replace('%', '%%')})"


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    if any(math.isnan(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected numbers, got NaN in {text!r}")
    return values


def _number(low: float, *, strict: bool = True, integer: bool = False) -> Callable[[str], Any]:
    """An argparse type: a finite number > low (>= low unless ``strict``), an int if ``integer``."""

    def parse(text: str) -> float | int:
        kind = "an integer" if integer else "a number"
        bound = f"{'>' if strict else '>='} {low:g}"
        try:
            value: float | int = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {kind} {bound}, got {text!r}") from None
        if not math.isfinite(value) or value < low or (strict and value == low):
            raise argparse.ArgumentTypeError(f"expected {kind} {bound}, got {text!r}")
        return value

    parse.__name__ = "integer" if integer else "number"  # argparse names the type in its errors
    return parse


_count = _number(0, integer=True)  # >= 1
_seed = _number(0, strict=False, integer=True)
_positive = _number(0)


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


def _run_args(p: argparse.ArgumentParser) -> None:
    """Options every command has."""
    p.add_argument(
        "--threads",
        type=_count,
        default=None,
        help="torch intra-op threads (default: the free cores, i.e. the cores this process may use "
        "minus the 1-minute load average, at least 1; numbers are identical across runs for the same "
        "--seed and --threads)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _model_args(p: argparse.ArgumentParser, *, weights: bool = True) -> None:
    source = "the checkpoint's, else " if weights else ""
    p.add_argument(
        "--model",
        default=None,
        help=f"zoo name or 'package.module:Factory' (default: {source}lenet-like)",
    )
    p.add_argument(
        "--model-kwargs",
        type=_json_dict,
        default=None,
        help=f"JSON keyword arguments of the model (default: {source}none)",
    )
    if weights:
        p.add_argument(
            "--weights",
            default=None,
            help="checkpoint of the trained model (ours or a plain state_dict file, loaded with "
            "weights_only=True); required unless --allow-random-weights (default: none)",
        )
    p.add_argument(
        "--dataset",
        default=None,
        help=f"digits (bundled), mnist, fashion-mnist or cifar10 (default: {source}digits)",
    )
    p.add_argument(
        "--data-dir",
        default=None,
        help="folder with the dataset files (default: $ART_ACTIVATION_DEFENSES_DATA, then "
        "~/.cache/art_activation_defenses; digits needs none)",
    )
    _run_args(p)


def _defence_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--activation", default="jumprelu", help="jumprelu, randomized-jumprelu, brelu, capped or srelu"
    )
    p.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        help="activation parameter NAME=VALUE, repeatable, e.g. kappa=0.5 (default: none; a "
        "parameter left at its ReLU value, e.g. kappa=0, is refused)",
    )
    p.add_argument(
        "--layers", type=_names, default=None, help="comma-separated ReLU sites to replace (default: all)"
    )
    p.add_argument("--n-eval", type=_count, default=500, help="number of test images")


def _random_weights_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--allow-random-weights",
        action="store_true",
        help="run without --weights on a randomly initialised model (its numbers mean nothing)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the console script."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Activation-function defences for ART: retrofit, attack, measure honestly.",
        formatter_class=_Formatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str, description: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=description, formatter_class=_Formatter)

    demo = command(
        "demo",
        "train LeNetLike, retrofit JumpReLU over a kappa grid, attack it (white-box, BPDA, gray-box)",
        "Train LeNetLike on the dataset (default: scikit-learn's bundled digits, no files needed), "
        "swap its ReLUs for JumpReLU over a grid of kappa, and report clean accuracy, white-box PGD "
        "accuracy beside the adaptive checks (BPDA and gray-box transfer from the ReLU model), "
        "DeepFool-L2 fool rate and mean relative minimal perturbation. Writes results.json, "
        "results.md, results.csv and kappa_tradeoff.png into --out.",
    )
    demo.add_argument("--dataset", default="digits", help="digits (bundled), mnist or fashion-mnist")
    demo.add_argument(
        "--data-dir",
        default=None,
        help="folder with the dataset files, e.g. shared/datasets/mnist (default: none; digits needs none)",
    )
    demo.add_argument("--out", default="demo-results", help="output directory")
    demo.add_argument(
        "--kappas",
        type=_floats,
        default=None,
        help="comma-separated JumpReLU thresholds (default: digits 0.1,0.2,0.4,0.8; mnist 0.25,0.5,1,1.5)",
    )
    demo.add_argument(
        "--n-eval", type=_count, default=None, help="test images attacked (default: digits 450, mnist 1000)"
    )
    demo.add_argument(
        "--n-train", type=_count, default=None, help="use only the first N training images (default: all)"
    )
    demo.add_argument(
        "--epochs", type=_count, default=None, help="training epochs (default: digits 30, mnist 3)"
    )
    demo.add_argument(
        "--eps",
        type=_positive,
        default=None,
        help="PGD L-infinity budget, in (0, 1] (default: 0.1; fashion-mnist 0.05)",
    )
    demo.add_argument("--seed", type=_seed, default=0, help="random seed")
    _run_args(demo)

    rep = command(
        "reproduce",
        "reproduce one paper's tables and figures (resumable)",
        "Run one paper's reproduction; finished cells are stored at once in OUT/cells.json, so a "
        "killed run resumes where it stopped. Writes results.json, results.md, CSVs and PNGs into --out.",
    )
    rep.add_argument("name", nargs="?", help="reproduction name (see --list)")
    rep.add_argument("--list", action="store_true", help="list the reproductions and exit")
    rep.add_argument("--quick", action="store_true", help="small smoke run on digits (< 3 minutes)")
    rep.add_argument(
        "--data-dir", default=None, help="folder with the real dataset (full runs; default: none)"
    )
    rep.add_argument("--out", default=None, help="output folder (default: results/NAME[-DATASET][-quick])")
    rep.add_argument(
        "--dataset",
        default=None,
        help="a variant on another dataset where one exists: 'cifar10' for jumprelu (AlexLike, kappa 0.4; "
        "needs --data-dir with the CIFAR-10 files) (default: the paper's main dataset)",
    )
    rep.add_argument("--seed", type=_seed, default=0, help="random seed")
    _run_args(rep)

    train = command(
        "train",
        "train a zoo model (or your own) and save a checkpoint",
        "Train a zoo model or your own 'package.module:Factory' (optionally with a defence activation "
        "in place of its ReLUs, e.g. --activation brelu --param t=1) and save state_dict + metadata "
        "(model, kwargs, dataset, input shape, classes), so the other commands need only --weights.",
    )
    _model_args(train, weights=False)
    train.add_argument(
        "--activation", default=None, help="train with this activation instead of ReLU (default: ReLU)"
    )
    train.add_argument(
        "--param",
        type=_param,
        action="append",
        default=[],
        help="parameter NAME=VALUE of --activation, repeatable (default: none)",
    )
    train.add_argument("--epochs", type=_count, default=10, help="passes over the training set")
    train.add_argument("--lr", type=_positive, default=1e-3, help="Adam learning rate")
    train.add_argument("--batch-size", type=_count, default=128, help="mini-batch size")
    train.add_argument("--seed", type=_seed, default=0, help="seed of the initial weights and the data order")
    train.add_argument("--out", default="model.pt", help="checkpoint file")

    ev = command(
        "evaluate",
        "retrofit your model and run the adaptive-attack audit",
        "Retrofit a trained model with an activation defence and audit it with an attack ensemble "
        "(PGD cross-entropy and margin with exact, BPDA and EOT gradients, APGD-CE, APGD-DLR-T, Square, "
        "transfer and surrogate): per-sample worst-case robust accuracy with a 95% interval, a "
        "gradient-masking flag (exact McNemar test), the indicators of attack failure and the "
        "minimal-perturbation audit. Writes audit.json and audit.md into --out.",
    )
    _model_args(ev)
    _random_weights_arg(ev)
    _defence_args(ev)
    ev.add_argument(
        "--attacks",
        type=_names,
        default=None,
        help="comma-separated families: fgsm,pgd,apgd,square (default: all)",
    )
    ev.add_argument("--norm", choices=("inf", "2"), default="inf", help="threat model: L-infinity or L2")
    ev.add_argument(
        "--budget", choices=("quick", "standard", "thorough"), default="standard", help="attack budget"
    )
    ev.add_argument("--eps", type=_positive, default=None, help="budget (default: 0.1 for inf, 1.5 for 2)")
    ev.add_argument("--max-iter", type=_count, default=None, help="PGD steps (default: the budget's)")
    ev.add_argument("--surrogate", action="store_true", help="add the surrogate-transfer column")
    ev.add_argument("--seed", type=_seed, default=0, help="seed of the attacks' random starts")
    ev.add_argument("--out", default="evaluation", help="output directory")

    tune = command(
        "tune",
        "trade-off curve of an activation parameter (e.g. kappa)",
        "Clean accuracy and mean relative minimal perturbation ρ (white-box and BPDA) per parameter "
        "value; picks the most robust value within an accuracy budget, by default by the worst case "
        "of the two ρ. Writes tune.json and tradeoff.png into --out.",
    )
    _model_args(tune)
    _random_weights_arg(tune)
    tune.add_argument("--activation", default="jumprelu", help="activation whose parameter is tuned")
    tune.add_argument(
        "--param-name", default=None, help="parameter to tune (default: the activation's first, e.g. kappa)"
    )
    tune.add_argument(
        "--values", type=_floats, required=True, help="comma-separated values to try (required)"
    )
    tune.add_argument(
        "--layers", type=_names, default=None, help="comma-separated ReLU sites to replace (default: all)"
    )
    tune.add_argument(
        "--max-accuracy-drop",
        type=_number(0, strict=False),
        default=0.01,
        help="accuracy budget: the largest clean-accuracy loss against ReLU, in [0, 1]",
    )
    tune.add_argument(
        "--select-by",
        choices=("min", "white-box", "bpda"),
        default="min",
        help="robustness used for the choice: min = the worst case of white-box and BPDA ρ (honest), "
        "white-box = the JumpReLU paper's rule, bpda",
    )
    tune.add_argument("--attack", default="deepfool", help="deepfool (L2) or deepfool-inf")
    tune.add_argument("--n-eval", type=_count, default=500, help="number of validation images")
    tune.add_argument("--out", default="tuning", help="output directory")

    det = command(
        "detect",
        "LID detection AUC, ReLU vs the retrofitted model, plain and detector-aware attacks",
        "Local intrinsic dimensionality detector (Ma et al. 2018) on adversarial examples crafted on "
        "each model: AUC and detection rate at 5% false positives against the plain attack and against "
        "detector-aware attacks on the fitted detector, with their success rate (misclassified and not "
        "flagged) and a verdict; writes detect.json and detect.md (every column explained) into --out.",
    )
    _model_args(det)
    _random_weights_arg(det)
    _defence_args(det)
    det.add_argument("--attack", default="pgd", help="fgsm or pgd")
    det.add_argument("--eps", type=_positive, default=0.1, help="L-infinity budget, in (0, 1]")
    det.add_argument("--seed", type=_seed, default=0, help="seed of the detector's data split")
    det.add_argument("--lid-k", type=_count, default=20, help="nearest neighbours of the LID estimate")
    det.add_argument(
        "--adaptive",
        type=_names,
        default=("pgd", "cw"),
        help="detector-aware attacks on the fitted detector: pgd, cw (high-confidence C&W margin); "
        "'none' to skip (default: pgd,cw)",
    )
    det.add_argument("--adaptive-steps", type=_count, default=50, help="steps of the adaptive attacks")
    det.add_argument("--out", default="detection", help="output directory")
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
        threads=args.threads,
    )
    results = run_demo(config, out=args.out, verbose=not args.quiet)
    print(markdown_table(results["rows"], DEMO_COLUMNS))
    flagged = [r["kappa"] for r in results["rows"] if r.get("masking_flag")]
    if flagged:
        print(f"Gradient masking suspected for kappa in {flagged}: an adaptive attack beat white-box PGD.")
    print(
        f"Wrote {args.out}/results.json, results.md, results.csv, kappa_tradeoff.png "
        f"({results['wall_seconds']:.1f} s, {args.threads} thread(s))."
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
    out = args.out or reproduce_out(args)
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
    from art_activation_defenses.experiments.commands import DEFAULT_DATASET, DEFAULT_MODEL, train_model

    args.model, args.dataset = args.model or DEFAULT_MODEL, args.dataset or DEFAULT_DATASET
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
        allow_random_weights=args.allow_random_weights,
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
        norm=args.norm,
        budget=args.budget,
    )
    print((Path(args.out) / "audit.md").read_text(encoding="utf-8"))
    return 0


def _run_tune(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import tune_model
    from art_activation_defenses.experiments.report import markdown_table

    result = tune_model(
        args.model,
        param=args.param_name,
        allow_random_weights=args.allow_random_weights,
        **_common(
            args,
            "weights",
            "activation",
            "values",
            "layers",
            "max_accuracy_drop",
            "attack",
            "n_eval",
            "select_by",
        ),
    )
    keys = ("values", "accuracy", "rho", "rho_bpda", "fool_rate", "admissible", "masking_flag")
    columns = [result.get(k) or [None] * len(result["values"]) for k in keys]
    rows = [dict(zip(keys, vals, strict=True)) for vals in zip(*columns, strict=True)]
    headers = [
        ("values", result["param"]),
        ("accuracy", "clean acc"),
        ("rho", "ρ white-box"),
        ("rho_bpda", "ρ BPDA"),
        ("fool_rate", "fool rate"),
        ("admissible", "within budget"),
        ("masking_flag", "BPDA ρ lower?"),
    ]
    print(markdown_table(rows, headers))
    rule = {"min": "the worst case of white-box and BPDA ρ", "white-box": "white-box ρ", "bpda": "BPDA ρ"}
    print(
        f"chosen {result['param']} = {result['chosen']} (selected by {rule.get(result['select_by'], '?')}, "
        f"accuracy drop <= {result['max_accuracy_drop']}, n = {result.get('n_samples')}); "
        f"wrote {args.out}/tune.json and tradeoff.png"
    )
    return 0


def _run_detect(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import detect_model

    adaptive = () if tuple(args.adaptive) in ((), ("none",)) else tuple(args.adaptive)
    detect_model(
        args.model,
        adaptive=adaptive,
        **_common(
            args,
            "weights",
            "activation",
            "activation_params",
            "layers",
            "attack",
            "eps",
            "n_eval",
            "lid_k",
            "adaptive_steps",
            "seed",
        ),
    )
    print((Path(args.out) / "detect.md").read_text(encoding="utf-8"))
    return 0


_COMMANDS = {
    "demo": _run_demo,
    "reproduce": _run_reproduce,
    "train": _run_train,
    "evaluate": _run_evaluate,
    "tune": _run_tune,
    "detect": _run_detect,
}


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]  # type: ignore[no-any-return]
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status (2 for a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    sub = _subparser(parser, args.command)
    try:
        prepare(args)
        return _COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as err:
        text = str(err) if isinstance(err, UsageError) else speak_cli(str(err), args.command, sub)
        print(f"{PROG} {args.command}: error: {text}", file=sys.stderr)
        return 2
