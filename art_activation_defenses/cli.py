"""Command line: ``art-activation-defenses COMMAND`` (or ``python -m art_activation_defenses``).

A thin shell over library functions that scripts can call directly. Before any work runs, the
arguments are checked in the command line's own terms (flags, not Python argument names): the
output path, the checkpoint, the defence parameters, the budget, the device; then torch's thread
count is set. What a command prints comes from the results it holds, never from re-reading its files.

The path of a defence parameter, ``evaluate --param kappa=1`` (traced with a spy on
``RetrofitActivation.set_params``, see ``tests/test_cli_flags.py``): ``_ParamAction`` parses the text
once into ``args.activation_params = {"kappa": 1.0}`` and ``cli_checks`` checks its names once; then
``_run_evaluate`` -> ``evaluate_model(activation_params=)`` -> ``RetrofitClassifier(net,
**activation_params)`` (built from the module, no ART classifier taken apart) -> ``retrofit(**params)``
-> ``JumpReLU(kappa=)`` (the activation: ``retrofit`` calls a ``functools.partial`` of the class, no
Python frame between), which checks the value once with its ``set_params``: 6 calls (was 12), with
2 renames (``activation_params`` -> ``params`` -> ``kappa``; was 6) and one change of form (text ->
dict; was 4).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from art_activation_defenses.cli_checks import UsageError, prepare, reproduce_out, speak_cli
from art_activation_defenses.cli_parser import PROG, build_parser, subparser
from art_activation_defenses.cli_parser import subparser as _subparser  # noqa: F401 (former name)
from art_activation_defenses.cli_types import _Formatter as _Formatter  # re-exported for the tests

__all__ = ["main", "build_parser"]


def _run_demo(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.demo import DEMO_COLUMNS, DemoConfig, run_demo
    from art_activation_defenses.experiments.report import markdown_table

    settings: dict[str, Any] = {
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "kappas": args.kappas,
        "n_eval": args.n_eval,
        "n_train": args.n_train,
        "epochs": args.epochs,
        "eps": args.eps,
        "seed": args.seed,
        "threads": args.threads,
    }
    if "device" in DemoConfig.__dataclass_fields__:
        settings["device"] = args.device
    results = run_demo(DemoConfig(**settings), out=args.out, verbose=not args.quiet)
    print(markdown_table(results["rows"], DEMO_COLUMNS))
    flagged = [r["kappa"] for r in results["rows"] if r.get("masking_flag")]
    if flagged:
        print(f"Gradient masking suspected for kappa in {flagged}: an adaptive attack beat white-box PGD.")
    print(
        f"Wrote {args.out}/results.json, results.md, results.csv, kappa_tradeoff.png "
        f"({results['wall_seconds']:.1f} s, {args.threads} thread(s), {args.device})."
    )
    return 0


def _run_reproduce(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments import available_reproductions, reproduce

    if args.list or not args.name:
        for name, desc in available_reproductions().items():
            print(f"{name:12s} {desc}")
        return 0 if args.list else 2
    try:
        results = reproduce(
            args.name,
            quick=args.quick,
            data_dir=args.data_dir,
            out=args.out,
            seed=args.seed,
            verbose=not args.quiet,
            dataset=args.dataset,
            device=args.device,
            workers=args.workers,
            ray_address=args.ray_address,
        )
    except ImportError as err:  # the Ray executor's, with the install hint
        if (args.workers is None and args.ray_address is None) or "ray" not in str(err).lower():
            raise
        flag = "--workers" if args.workers is not None else "--ray-address"
        raise UsageError(f"{flag} needs Ray: {err}") from None
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
        "device": args.device,
    }
    return {**kwargs, **{name: getattr(args, name) for name in names}}


def _run_train(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import DEFAULT_DATASET, DEFAULT_MODEL, train_model

    args.model, args.dataset = args.model or DEFAULT_MODEL, args.dataset or DEFAULT_DATASET
    meta = train_model(
        args.model,
        activation_params=args.activation_params,
        **_common(args, "epochs", "lr", "batch_size", "activation", "seed"),
    )
    print(f"test accuracy {meta['test_accuracy']:.4f}; saved {args.out}")
    return 0


def _run_evaluate(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments import commands

    names = ("weights", "activation", "layers", "attacks", "eps", "max_iter", "surrogate", "n_eval", "seed")
    result = commands.evaluate_model(
        args.model,
        activation_params=args.activation_params,
        allow_random_weights=args.allow_random_weights,
        norm=args.norm,
        budget=args.budget,
        **_common(args, *names),
    )
    print(commands.evaluate_markdown(result))
    return 0


def _run_tune(args: argparse.Namespace) -> int:
    from art_activation_defenses.experiments.commands import tune_model
    from art_activation_defenses.experiments.report import markdown_table

    names = ("weights", "activation", "layers", "max_accuracy_drop", "attack", "n_eval", "select_by")
    result = tune_model(
        args.model,
        values=args.grid.values,
        param=args.grid.name,
        activation_params=args.activation_params,
        allow_random_weights=args.allow_random_weights,
        **_common(args, *names),
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
    from art_activation_defenses.experiments import commands

    adaptive = () if tuple(args.adaptive) in ((), ("none",)) else tuple(args.adaptive)
    names = ("weights", "activation", "layers", "attack", "eps", "n_eval", "lid_k", "adaptive_steps", "seed")
    result = commands.detect_model(
        args.model,
        activation_params=args.activation_params,
        adaptive=adaptive,
        **_common(args, *names),
    )
    print(commands.detect_markdown(result))
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
    """Entry point of the console script; returns the exit status (2 for a usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    sub = subparser(parser, args.command)
    try:
        prepare(args)
        return _COMMANDS[args.command](args)
    except (ValueError, FileNotFoundError) as err:
        text = str(err) if isinstance(err, UsageError) else speak_cli(str(err), args.command, sub)
        print(f"{PROG} {args.command}: error: {text}", file=sys.stderr)
        return 2
