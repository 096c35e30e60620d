"""The four papers' own numbers, read from the project's copy of ``tables.json`` (never retyped).

``tables.json`` (641 records: paper, table, setting, row, column, value, raw, source) is the
machine-readable transcription of every numeric table and text-stated figure value of the four
papers, copied from ``shared/papers/`` so reproductions render the papers' values without it.

>>> paper_value("jumprelu", "Table 1a", "ReLU (Base)*", "Accuracy")
99.55
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

__all__ = ["PAPERS", "records", "paper_value", "paper_fraction"]

#: Our reproduction name -> the ``paper`` field of its records.
PAPERS: dict[str, str] = {
    "jumprelu": "JumpReLU (Erichson, Yao, Mahoney)",
    "brelu-gda": "Efficient Defenses Against Adversarial Attacks (Zantedeschi, Nicolae, Rawat)",
    "capped": "Capped ReLU / 'Is ReLU Adversarially Robust?' (Sooksatra, Hamerly, Rivas)",
    "srelu": "Sloped ReLU / 'Harnessing adversarial examples with a surprisingly simple defense' (Borji)",
}


@lru_cache(maxsize=1)
def _all() -> tuple[dict[str, Any], ...]:
    text = resources.files(__package__).joinpath("tables.json").read_text(encoding="utf-8")
    return tuple(json.loads(text))


def records(name: str, table: str | None = None) -> list[dict[str, Any]]:
    """The records of reproduction ``name`` (optionally of one ``table``, e.g. ``"Table 1a"``)."""
    if name not in PAPERS:
        raise ValueError(f"`name` == {name!r}, must be one of {sorted(PAPERS)}.")
    return [dict(r) for r in _all() if r["paper"] == PAPERS[name] and (table is None or r["table"] == table)]


def paper_value(name: str, table: str, row: str, column: str, *, setting: str | None = None) -> float | None:
    """The paper's number at ``table`` / ``row`` / ``column`` as printed (``None`` when it has none).

    :param setting: A substring of the record's ``setting``, to choose among records that share
        table, row and column.
    :raises ValueError: several records match (pass ``setting``).
    """
    hits = [
        r
        for r in records(name, table)
        if r["row"] == row and r["column"] == column and (setting is None or setting in r.get("setting", ""))
    ]
    if not hits:
        return None
    if len({r["value"] for r in hits}) > 1:
        raise ValueError(
            f"{len(hits)} records of {name} {table} match row {row!r}, column {column!r}; pass `setting`."
        )
    value = hits[0]["value"]
    return None if value is None else float(value)


def paper_fraction(
    name: str, table: str, row: str, column: str, *, setting: str | None = None
) -> float | None:
    """:func:`paper_value` of a percentage, as a fraction in [0, 1] (the unit of our tables)."""
    value = paper_value(name, table, row, column, setting=setting)
    return None if value is None else value / 100.0
