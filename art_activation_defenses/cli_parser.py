"""The argument parser of the command line (:func:`build_parser`) and its argument types.

A defence parameter has one spelling in every command: ``--param NAME=VALUE`` (repeatable), parsed
once, here, into the typed dict ``args.activation_params`` (``{"kappa": 1.0}``) that is handed to the
library functions as it is. A grid of the tuned parameter (``demo``, ``tune``) is
``--values [NAME=]V1,V2,...`` (``args.grid``, a :class:`Grid`; without ``NAME=`` the activation's
first parameter, e.g. kappa). The old spellings ``demo --kappas`` and ``tune --param-name`` still
work for one release, hidden from the help, with a one-line deprecation notice on stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from art_activation_defenses.cli_types import (
    _count,
    _Deprecated,
    _floats,
    _Formatter,
    _grid,
    _json_dict,
    _names,
    _number,
    _ParamAction,
    _positive,
    _seed,
)

__all__ = ["build_parser", "subparser", "PROG"]

PROG = "art-activation-defenses"


def _param_arg(p: argparse.ArgumentParser, help: str) -> None:
    p.add_argument(
        "--param", dest="activation_params", action=_ParamAction, default={}, metavar="NAME=VALUE", help=help
    )


def _values_arg(p: argparse.ArgumentParser, *, required: bool, help: str) -> None:
    p.add_argument("--values", dest="grid", type=_grid, default=None, required=required, help=help)


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
    p.add_argument(
        "--device",
        default="auto",
        help="where models train and are attacked: auto (CUDA when torch sees a GPU, else the CPU), "
        "cpu, cuda or cuda:N; CUDA on a machine without one is refused",
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
            "--allow-random-weights",
            action="store_true",
            help="run without --weights on a randomly initialised model (its numbers mean nothing)",
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


def _defence_args(p: argparse.ArgumentParser, *, tuned: bool = False) -> None:
    p.add_argument(
        "--activation", default="jumprelu", help="jumprelu, randomized-jumprelu, brelu, capped or srelu"
    )
    if tuned:
        _values_arg(
            p,
            required=True,
            help="the grid to try: [NAME=]V1,V2,..., e.g. kappa=0,0.5,1; without NAME= the activation's "
            "first parameter (kappa, t, beta, alpha) (required)",
        )
        _param_arg(p, "a fixed parameter NAME=VALUE of the activation besides the tuned one, repeatable, "
                   "e.g. low=0.6 for randomized-jumprelu (default: the activation's)")  # fmt: skip
        p.add_argument("--param-name", action=_Deprecated, use="--values NAME=V1,V2,...", default=None)
    else:
        _param_arg(p, "activation parameter NAME=VALUE, repeatable, e.g. kappa=0.5 (default: none; a "
                   "parameter left at its ReLU value, e.g. kappa=0, is refused)")  # fmt: skip
    p.add_argument(
        "--layers", type=_names, default=None, help="comma-separated ReLU sites to replace (default: all)"
    )
    what = "validation" if tuned else "test"
    p.add_argument("--n-eval", type=_count, default=500, help=f"number of {what} images")


def _demo(sub: Callable[..., argparse.ArgumentParser]) -> None:
    demo = sub(
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
    _values_arg(
        demo,
        required=False,
        help="JumpReLU thresholds [kappa=]V1,V2,... (default: digits 0.1,0.2,0.4,0.8; mnist 0.25,0.5,1,1.5)",
    )
    _param_arg(demo, "one JumpReLU threshold kappa=VALUE instead of a grid (default: the --values grid)")
    demo.add_argument("--kappas", action=_Deprecated, use="--values kappa=V1,V2,...", type=_floats)
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


def _reproduce(sub: Callable[..., argparse.ArgumentParser]) -> None:
    rep = sub(
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
    rep.add_argument(
        "--workers",
        type=_count,
        default=None,
        help="compute the cells on a local Ray with N workers (needs the ray extra: "
        'pip install -e ".[ray]"; same results) (default: none, one after another in this process)',
    )
    rep.add_argument(
        "--ray-address",
        default=None,
        help="compute the cells on the Ray cluster at ADDR ('auto', 'host:port', 'ray://host:10001') "
        "(default: none)",
    )
    _run_args(rep)


def _train(sub: Callable[..., argparse.ArgumentParser]) -> None:
    train = sub(
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
    _param_arg(train, "parameter NAME=VALUE of --activation, repeatable (default: none)")
    train.add_argument("--epochs", type=_count, default=10, help="passes over the training set")
    train.add_argument("--lr", type=_positive, default=1e-3, help="Adam learning rate")
    train.add_argument("--batch-size", type=_count, default=128, help="mini-batch size")
    train.add_argument("--seed", type=_seed, default=0, help="seed of the initial weights and the data order")
    train.add_argument("--out", default="model.pt", help="checkpoint file")


def _evaluate(sub: Callable[..., argparse.ArgumentParser]) -> None:
    ev = sub(
        "evaluate",
        "retrofit your model and run the adaptive-attack audit",
        "Retrofit a trained model with an activation defence and audit it with an attack ensemble "
        "(PGD cross-entropy and margin with exact, BPDA and EOT gradients, APGD-CE, APGD-DLR-T, Square, "
        "transfer and surrogate): per-sample worst-case robust accuracy with a 95% interval, a "
        "gradient-masking flag (exact McNemar test), the indicators of attack failure and the "
        "minimal-perturbation audit. Writes audit.json and audit.md into --out.",
    )
    _model_args(ev)
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


def _tune(sub: Callable[..., argparse.ArgumentParser]) -> None:
    tune = sub(
        "tune",
        "trade-off curve of an activation parameter (e.g. kappa)",
        "Clean accuracy and mean relative minimal perturbation ρ (white-box and BPDA) per parameter "
        "value; picks the most robust value within an accuracy budget, by default by the worst case "
        "of the two ρ. Writes tune.json and tradeoff.png into --out.",
    )
    _model_args(tune)
    _defence_args(tune, tuned=True)
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
    tune.add_argument("--out", default="tuning", help="output directory")


def _detect(sub: Callable[..., argparse.ArgumentParser]) -> None:
    det = sub(
        "detect",
        "LID detection AUC, ReLU vs the retrofitted model, plain and detector-aware attacks",
        "Local intrinsic dimensionality detector (Ma et al. 2018) on adversarial examples crafted on "
        "each model: AUC and detection rate at 5% false positives against the plain attack and against "
        "detector-aware attacks on the fitted detector, with their success rate (misclassified and not "
        "flagged) and a verdict; writes detect.json and detect.md (every column explained) into --out.",
    )
    _model_args(det)
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

    for add in (_demo, _reproduce, _train, _evaluate, _tune, _detect):
        add(command)
    return parser


def subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The subparser of ``command`` (``parser`` itself if it has none)."""
    for action in parser._actions:  # argparse keeps no public list of a parser's actions
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]  # type: ignore[no-any-return]
    return parser
