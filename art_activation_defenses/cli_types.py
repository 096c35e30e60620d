"""Argument types of the command line: numbers with bounds, ``[NAME=]V1,V2,...`` grids,
``--param NAME=VALUE`` collected into a typed dict, and hidden deprecated spellings."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

__all__ = ["Grid"]


class Grid(NamedTuple):
    """The parsed ``--values [NAME=]V1,V2,...``: the parameter's name (``None``: the activation's
    first parameter) and its values."""

    name: str | None
    values: tuple[float, ...]


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
        elif isinstance(default, dict):
            shown = ",".join(f"{k}={v}" for k, v in default.items()) or "none"
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


def _grid(text: str) -> Grid:
    """``"kappa=0,0.5,1"`` -> ``Grid("kappa", (0.0, 0.5, 1.0))``; ``"0,0.5"`` -> ``Grid(None, ...)``."""
    name, sep, rest = text.partition("=")
    if sep and not name.strip():
        raise argparse.ArgumentTypeError(f"expected [NAME=]V1,V2,... (e.g. kappa=0,0.5,1), got {text!r}")
    return Grid(name.strip(), _floats(rest)) if sep else Grid(None, _floats(text))


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


class _ParamAction(argparse.Action):
    """``--param NAME=VALUE``, repeatable: collected into one new ``dict[str, float]`` (the typed
    form every later step uses); a name given twice is refused. Names are checked against the
    activation once, in :func:`~art_activation_defenses.cli_checks.prepare`; values by the activation."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, text: Any, option: Any = None
    ) -> None:
        name, sep, value = str(text).partition("=")
        name = name.strip()
        if not sep or not name:
            parser.error(f"argument --param: expected NAME=VALUE (e.g. kappa=1.0), got {text!r}")
        try:
            number = float(value)
        except ValueError:
            parser.error(f"argument --param: value of {name!r} must be a number, got {value!r}")
        params: dict[str, float] = dict(getattr(namespace, self.dest) or {})  # never the shared default
        if name in params:
            parser.error(f"argument --param: {name} given twice ({params[name]:g} and {number:g})")
        params[name] = number
        setattr(namespace, self.dest, params)


class _Deprecated(argparse.Action):
    """A hidden old spelling: stores its value and says, in one stderr line, what replaces it."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, use: str, **kwargs: Any) -> None:
        self.use = use
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, **kwargs)

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, value: Any, option: Any = None
    ) -> None:
        print(
            f"{parser.prog}: warning: {option} is deprecated and will be removed in the next release; "
            f"use {self.use}",
            file=sys.stderr,
        )
        setattr(namespace, self.dest, value)


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
