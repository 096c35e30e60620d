"""Print the roll-up of the claims ledgers under ``examples/results/*/claims.json`` as Markdown.

python examples/claims_rollup.py            # the table in README's "What the full reproductions found"
python examples/claims_rollup.py DIR ...    # other result folders
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

VERDICTS = (
    "reproduced",
    "direction reproduced",
    "not reproduced",
    "reversed under adaptive attacks",
    "not run",
)


def rollup(folders: list[Path]) -> str:
    lines = [
        "| run | " + " | ".join(VERDICTS) + " | claims |",
        "|---|" + "---|" * (len(VERDICTS) + 1),
    ]
    for folder in folders:
        path = folder / "claims.json"
        if not path.is_file():
            continue
        claims = json.loads(path.read_text(encoding="utf-8"))["claims"]
        counts = [sum(c["verdict"] == v for c in claims) for v in VERDICTS]
        link = f"[{folder.name}]({folder.as_posix()}/claims.md)"
        lines.append(f"| {link} | " + " | ".join(str(n) for n in counts) + f" | {len(claims)} |")
    return "\n".join(lines)


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:]] or sorted(Path("examples/results").iterdir())
    print(rollup([a for a in args if a.is_dir()]))
