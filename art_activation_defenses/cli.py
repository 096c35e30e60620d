"""Command line: ``art-activation-defenses COMMAND`` (or ``python -m art_activation_defenses``).

A thin shell over library functions that scripts can call directly.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

__all__ = ["main", "build_parser"]


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from err
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


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
    demo.add_argument("--data-dir", default=None, help="directory with the dataset files (e.g. shared/datasets/mnist)")
    demo.add_argument("--out", default="demo-results", help="output directory (default: demo-results)")
    demo.add_argument("--kappas", type=_floats, default=None, help="comma-separated JumpReLU thresholds")
    demo.add_argument("--n-eval", type=int, default=None, help="number of test images attacked")
    demo.add_argument("--n-train", type=int, default=None, help="use only the first N training images")
    demo.add_argument("--epochs", type=int, default=None, help="training epochs")
    demo.add_argument("--eps", type=float, default=None, help="PGD L-infinity budget")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
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
    print(f"Wrote {args.out}/results.json, results.md, results.csv, kappa_tradeoff.png "
          f"({results['wall_seconds']:.1f} s).")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "demo":
            return _run_demo(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    parser.error(f"unknown command {args.command!r}")
    return 2
