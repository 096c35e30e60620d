"""The command line's checks, run before any work: arguments are checked in the command line's
own terms (flags, not Python argument names), what a checkpoint records fills the flags left out,
``--device`` is resolved and torch's thread count is set. Library errors that still come through are
rewritten to name the flags (:func:`speak_cli`)."""

from __future__ import annotations

import argparse
import os
import re
import sys
import warnings
from collections.abc import Mapping
from pathlib import Path

from art_activation_defenses.cli_types import Grid

__all__ = ["UsageError", "prepare", "reproduce_out", "speak_cli"]


class UsageError(ValueError):
    """A command-line argument that cannot work; reported as one line, exit status 2."""


def reproduce_out(args: argparse.Namespace) -> str:
    suffix = (f"-{args.dataset}" if args.dataset else "") + ("-quick" if args.quick else "")
    return f"results/{args.name}{suffix}"


def prepare(args: argparse.Namespace) -> None:
    """Check ``args`` in the command line's terms before any work runs, fill what the checkpoint
    records (``--model``, ``--dataset``, ``--model-kwargs``), resolve ``--device`` and set torch's
    thread count.

    :raises UsageError: An argument that cannot work (one line).
    """
    _check_device(args)
    _check_eps(args)
    _check_out(args)
    if args.command in ("evaluate", "tune", "detect"):
        _check_weights(args)
    if args.command == "train":
        _check_train(args)
    if args.command in ("evaluate", "detect"):
        _check_defence(args)
    if args.command == "tune":
        _check_tune(args)
    if args.command == "demo":
        _check_demo(args)
    _set_threads(args)


def _check_device(args: argparse.Namespace) -> None:
    """``--device`` as the resolved device's name (``auto`` -> ``cuda`` or ``cpu``), checked once here."""
    from art_activation_defenses._device import resolve_device

    try:
        args.device = str(resolve_device(args.device))
    except ValueError as err:
        raise UsageError(str(err).replace("`device` ==", "--device", 1)) from None


def _check_out(args: argparse.Namespace) -> None:
    out = getattr(args, "out", None)
    if args.command == "reproduce" and out is None:
        if not args.name or args.list:
            return
        out = reproduce_out(args)
    if out is None:
        return
    path = Path(out)
    if args.command == "train":
        if path.is_dir():
            raise UsageError(f"--out {out!r} is a directory; give a checkpoint file name such as model.pt")
        parent = path.parent
    else:
        if path.exists() and not path.is_dir():
            raise UsageError(
                f"--out {out!r} is an existing file; give a directory ({args.command} writes several files)"
            )
        parent = path
    ancestor = parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir() or not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out!r} cannot be written: {str(ancestor)!r} is not a writable directory")


def _check_weights(args: argparse.Namespace) -> None:
    if args.weights is None and not args.allow_random_weights:
        raise UsageError(
            f"--weights is missing: {args.command} would run on an untrained, randomly initialised "
            "model. Pass your trained model's checkpoint (the train command writes one), or "
            "--allow-random-weights to run on a random model anyway."
        )
    from art_activation_defenses.experiments.commands import (
        DEFAULT_DATASET,
        DEFAULT_MODEL,
        checkpoint_settings,
    )

    if args.weights is None:
        args.model, args.dataset = args.model or DEFAULT_MODEL, args.dataset or DEFAULT_DATASET
        return
    settings = checkpoint_settings(
        args.weights, model=args.model, dataset=args.dataset, model_kwargs=args.model_kwargs
    )
    args.model, args.dataset, args.model_kwargs = (
        settings["model"],
        settings["dataset"],
        settings["model_kwargs"],
    )


def _param_names(activation: str) -> tuple[tuple[str, ...], dict[str, float]]:
    """The parameter names of an activation and their constructor defaults."""
    import inspect

    from art_activation_defenses.activations.registry import activation_class

    cls = activation_class(activation)
    signature = inspect.signature(cls.__init__)
    defaults = {
        n: float(signature.parameters[n].default)
        for n in cls.param_names
        if n in signature.parameters and signature.parameters[n].default is not inspect.Parameter.empty
    }
    return cls.param_names, defaults


def _check_param_names(activation: str, params: Mapping[str, float]) -> tuple[str, ...]:
    names, _ = _param_names(activation)
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise UsageError(
            f"--param {unknown[0]}=...: activation {activation!r} has no parameter {unknown[0]!r}; "
            f"it takes {', '.join(names)} (e.g. --param {names[0]}=0.5)"
        )
    return names


def _check_train(args: argparse.Namespace) -> None:
    params = args.activation_params
    if params and args.activation is None:
        raise UsageError(
            f"--param {next(iter(params))}=... needs --activation (e.g. --activation brelu --param t=1); "
            "without it the model trains with plain ReLU and the parameter would be ignored"
        )
    if args.activation is not None:
        _check_param_names(args.activation, params)


def _check_defence(args: argparse.Namespace) -> None:
    """Check the ``--param`` names (the one check of the κ path, in flag terms); refuse a defence left
    at its no-op (ReLU) value; warn loudly when it is set there explicitly."""
    from art_activation_defenses.defences import NEUTRAL_VALUES

    given = args.activation_params
    names = _check_param_names(args.activation, given)
    _, defaults = _param_names(args.activation)
    main_name = names[0]
    value = given.get(main_name, defaults.get(main_name))
    neutral = NEUTRAL_VALUES.get(main_name)
    if value is not None and neutral is not None and value == neutral:
        if main_name not in given:
            raise UsageError(
                f"--param {main_name}=VALUE is missing: {args.activation} at its default {main_name}="
                f"{neutral:g} is plain ReLU, a defence that does nothing. Pass e.g. --param {main_name}=0.5"
            )
        warnings.warn(
            f"NO-OP DEFENCE: --param {main_name}={value:g} makes {args.activation} identical to ReLU; "
            f"this {args.command} measures the undefended model.",
            UserWarning,
            stacklevel=2,
        )
    elif main_name not in given and value is not None:
        print(
            f"note: --param {main_name} not given; using {args.activation}'s default {main_name}={value:g}",
            file=sys.stderr,
        )
        args.activation_params = {**given, main_name: value}


def _check_tune(args: argparse.Namespace) -> None:
    """``--values [NAME=]...`` (or the deprecated ``--param-name``) names one parameter of the activation,
    and ``--param`` fixes only the others."""
    grid: Grid = args.grid
    if args.param_name is not None:
        if grid.name is not None and grid.name != args.param_name:
            raise UsageError(
                f"--param-name {args.param_name} and --values {grid.name}=... name different parameters; "
                f"give only --values NAME=V1,V2,..."
            )
        grid = Grid(args.param_name, grid.values)
    names, _ = _param_names(args.activation)
    name = grid.name or names[0]
    if name not in names:
        raise UsageError(
            f"--values {name}=...: activation {args.activation!r} has no parameter {name!r}; it takes "
            f"{', '.join(names)} (e.g. --values {names[0]}=0,0.5,1)"
        )
    _check_param_names(args.activation, args.activation_params)
    if name in args.activation_params:
        raise UsageError(f"--param {name}=... fixes the parameter that --values tunes; give it in --values")
    args.grid = Grid(name, grid.values)


def _check_demo(args: argparse.Namespace) -> None:
    """The demo's kappa grid: ``--values [kappa=]...``, one ``--param kappa=V``, or the deprecated
    ``--kappas``; the result is ``args.kappas`` (``None``: the dataset's default grid)."""
    grid: Grid | None = args.grid
    if args.kappas is not None:
        if grid is not None:
            raise UsageError("--kappas and --values both give the kappa grid; give only --values kappa=...")
        grid = Grid(None, args.kappas)
    params = args.activation_params
    for flag, name in [("--param", n) for n in params] + [("--values", grid.name if grid else None)]:
        if name not in (None, "kappa"):
            raise UsageError(f"{flag} {name}=...: the demo's JumpReLU has the one parameter kappa")
    if params and grid is not None:
        raise UsageError(
            "--param kappa=... and --values both give the demo's kappa: one value with --param or a grid "
            "with --values"
        )
    args.kappas = (params["kappa"],) if params else (grid.values if grid is not None else None)


def _check_eps(args: argparse.Namespace) -> None:
    eps = getattr(args, "eps", None)
    norm = str(getattr(args, "norm", "inf")).lower()
    if eps is not None and norm in ("inf", "linf", "l-inf", "infinity") and eps > 1:
        raise UsageError(
            f"--eps {eps:g} exceeds the input range [0, 1]: an L-infinity budget above 1 lets the attack "
            "draw any image; pass a value in (0, 1], e.g. --eps 0.1"
        )


def _set_threads(args: argparse.Namespace) -> None:
    import torch

    from art_activation_defenses.training import default_threads

    args.threads = args.threads or default_threads()
    torch.set_num_threads(args.threads)


#: Python argument names (as library errors write them, in backticks) -> the flag that sets them.
_PYTHON_TO_FLAG = {
    "activation_params": "--param",
    "root": "--data-dir",
    "limit": "--n-eval",
    "x_val": "--n-eval",
}
_PER_COMMAND = {
    "tune": {"kappas": "--values", "values": "--values", "param": "--values"},
    "demo": {"kappas": "--values"},
}


def _flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``dest -> --long-flag`` of a (sub)parser."""
    return {
        a.dest: max(a.option_strings, key=len)
        for a in parser._actions  # argparse keeps no public list of a parser's actions
        if a.option_strings
    }


def speak_cli(message: str, command: str, parser: argparse.ArgumentParser) -> str:
    """Rewrite the Python argument names of a library error (```eps` ...``, ```model='x'```) as the
    flags of ``command``, so the message speaks the interface the user typed."""
    names = {**_flags(parser), **_PYTHON_TO_FLAG, **_PER_COMMAND.get(command, {})}

    def flag(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2)
        if name not in names:
            return match.group(0)
        return f"`{names[name]} {rest}`" if rest is not None else f"`{names[name]}`"

    return re.sub(r"`(\w+)(?:=([^`\n]*))?`", flag, message)
