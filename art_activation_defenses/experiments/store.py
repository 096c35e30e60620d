"""The cell store: a JSON file of finished cells, keyed by the settings they depend on.

Every cell is written at once (atomically) when it finishes, so killing a run loses at most the
cells in progress and rerunning recomputes nothing that was finished; a store written with other
settings is refused, never silently reused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from art_activation_defenses.experiments._common import to_jsonable, write_json

__all__ = ["cell_key", "CellStore"]


def cell_key(cell: Mapping[str, Any]) -> str:
    """Stable identity of a cell: its parameters as sorted, compact JSON."""
    return json.dumps(to_jsonable(dict(cell)), sort_keys=True, separators=(",", ":"))


class CellStore:
    """A JSON file of finished cells, keyed by :func:`cell_key`; rewritten after each cell.

    The store as a whole is keyed by ``settings``: everything its cells depend on that the
    cells themselves do not name (seed, quick/full, dataset, budgets, versions). Opening a
    store written with other settings raises a :class:`ValueError` naming the settings that
    differ, so finished cells are never silently reused under other settings.

    :param path: The JSON file (created with its folder when missing).
    :param meta: Facts recorded once with the store (versions, config); not compared.
    :param settings: The settings the cells depend on (plain JSON types), stored in
        ``meta["settings"]`` and compared on reopening; ``None`` skips the comparison.
    :raises ValueError: the file is not a cell store, or was written with other settings.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        meta: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        wanted = _plain(settings) if settings is not None else None
        first_meta = dict(meta or {})
        if wanted is not None:
            first_meta["settings"] = wanted
        self._data: dict[str, Any] = {"meta": first_meta, "cells": {}}
        if self.path.exists():
            try:
                loaded = json.loads(self.path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"Cell store {self.path} is not valid JSON ({err}); move it away to start over."
                ) from err
            _check_store_shape(loaded, self.path)
            if wanted is not None:
                _check_store_settings(loaded["meta"].get("settings"), wanted, self.path)
            self._data = loaded
            self._data["meta"].update({k: v for k, v in first_meta.items() if k not in self._data["meta"]})

    def __contains__(self, cell: Mapping[str, Any]) -> bool:
        return cell_key(cell) in self._data["cells"]

    def __len__(self) -> int:
        return len(self._data["cells"])

    def get(self, cell: Mapping[str, Any]) -> dict[str, Any]:
        """The stored record of ``cell`` (``{"cell", "result", "seconds", "finished"}``)."""
        return self._data["cells"][cell_key(cell)]  # type: ignore[no-any-return]

    def put(self, cell: Mapping[str, Any], result: Mapping[str, Any], seconds: float) -> None:
        """Store ``result`` for ``cell`` and write the file now."""
        self._data["cells"][cell_key(cell)] = {
            "cell": to_jsonable(dict(cell)),
            "result": to_jsonable(dict(result)),
            "seconds": round(float(seconds), 3),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_json(self._data, self.path)

    def records(self) -> list[dict[str, Any]]:
        """All finished records, in insertion order."""
        return list(self._data["cells"].values())

    @property
    def meta(self) -> dict[str, Any]:
        return dict(self._data["meta"])


def _plain(value: Mapping[str, Any]) -> dict[str, Any]:
    """``value`` as it reads back from JSON (tuples become lists, NaN None, odd objects strings)."""
    return json.loads(json.dumps(to_jsonable(dict(value)), sort_keys=True, default=str))  # type: ignore[no-any-return]


def _check_store_shape(loaded: Any, path: Path) -> None:
    """Refuse valid JSON that is not a cell store: ``{"meta": {...}, "cells": {key: record}}``."""
    hint = "move it away or pass another output folder (--out)."
    if not isinstance(loaded, dict) or not isinstance(loaded.get("cells"), dict):
        raise ValueError(f"{path} is not a cell store (no 'cells' mapping); {hint}")
    loaded.setdefault("meta", {})
    if not isinstance(loaded["meta"], dict):
        raise ValueError(f"{path} is not a cell store ('meta' is not a mapping); {hint}")
    for key, record in loaded["cells"].items():
        if not isinstance(record, dict) or not isinstance(record.get("cell"), dict) or "result" not in record:
            raise ValueError(
                f"{path} is not a cell store: the record of {key[:80]!r} is not "
                f'{{"cell": {{...}}, "result": ...}}; {hint}'
            )
        if cell_key(record["cell"]) != key:
            raise ValueError(
                f"{path} is not a cell store: record key {key[:80]!r} does not match its cell; {hint}"
            )


def _check_store_settings(stored: Any, wanted: dict[str, Any], path: Path) -> None:
    """Raise when the store was written with other settings than ``wanted`` (or none recorded)."""
    if stored == wanted:
        return
    if not isinstance(stored, dict):
        differing = "all (the store records no settings: written by an older version)"
    else:
        names = sorted(
            k for k in set(stored) | set(wanted) if stored.get(k, "<missing>") != wanted.get(k, "<missing>")
        )
        differing = ", ".join(
            f"{k}: stored {stored.get(k, '<missing>')!r} != now {wanted.get(k, '<missing>')!r}" for k in names
        )
    raise ValueError(
        f"Cell store {path} was written with other settings ({differing}); its cells do not apply. "
        "Use another output folder (--out) or delete the file to start over."
    )
