"""The rendered quick tables of each reproduction, compared against the stored ones in ``golden/``.

The stored files were rendered before the reproductions became declarative specs (commit 9983fe2):
same seeds must give the same tables. Regenerate one on purpose with
``python -m tests.experiments._golden NAME RESULTS_JSON`` and say why in the commit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from art_activation_defenses.experiments.report import markdown_table

GOLDEN = Path(__file__).parent / "golden"


def render_tables(results: dict[str, Any]) -> str:
    """Every table of ``results`` as Markdown: title, note and rows (what a reader compares); the
    columns of the papers' own values (keys ``paper_*``) are left out."""
    parts = []
    for table in results["tables"]:
        parts.append(f"## {table['name']}: {table['title']}\n")
        if table.get("note"):
            parts.append(str(table["note"]) + "\n")
        columns = [tuple(c) for c in table["columns"] if not str(c[0]).startswith("paper_")]
        parts.append(markdown_table(table["rows"], columns))  # the papers' own values may be added
    return "\n".join(parts)


def golden_diff(name: str, results: dict[str, Any]) -> list[str]:
    """The stored tables (by name) whose rendering differs now, with the first differing line. Tables
    added since the stored rendering are not compared (new tables are allowed; changed ones are not)."""
    stored = _split((GOLDEN / f"{name}.md").read_text(encoding="utf-8"))
    now = _split(render_tables(results))
    out = []
    for key in sorted(stored):
        a, b = stored.get(key, "<missing>"), now.get(key, "<missing>")
        if a != b:
            first = next(
                (
                    f"stored {x!r} != now {y!r}"
                    for x, y in zip(a.splitlines(), b.splitlines(), strict=False)
                    if x != y
                ),
                "line count differs",
            )
            out.append(f"{key}: {first}")
    return out


def _split(text: str) -> dict[str, str]:
    tables: dict[str, str] = {}
    for block in text.split("\n## ")[0:]:
        block = block.removeprefix("## ")
        if block.strip():
            tables[block.split(":", 1)[0]] = block.strip()
    return tables


if __name__ == "__main__":  # pragma: no cover
    name, path = sys.argv[1], sys.argv[2]
    (GOLDEN / f"{name}.md").write_text(render_tables(json.loads(Path(path).read_text())), encoding="utf-8")
