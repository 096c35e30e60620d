"""Wall-clock time of a resumed quick reproduction against the first run (moved out of the tests).

The quick-reproduction tests check that a second ``reproduce(..., quick=True)`` into the same
folder recomputes nothing (same cells, same finish stamps, model files untouched, same tables);
how much faster that makes it is a timing, measured here: each reproduction is run into a fresh
temporary folder, then again into the same folder, and both ``wall_seconds_this_run`` are
recorded with the speed-up (expected: the second run only loads and renders).

    OMP_NUM_THREADS=1 python benchmarks/resume_speed.py [--names jumprelu capped srelu brelu-gda]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from art_activation_defenses.experiments import reproduce
from art_activation_defenses.experiments._common import environment, write_json

NAMES = ("jumprelu", "capped", "srelu", "brelu-gda")


def measure(name: str) -> dict[str, Any]:
    """First and resumed quick run of one reproduction, in a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / name
        first = reproduce(name, quick=True, out=out, verbose=False)
        again = reproduce(name, quick=True, out=out, verbose=False)
    t1, t2 = float(first["wall_seconds_this_run"]), float(again["wall_seconds_this_run"])
    return {
        "name": name,
        "first_seconds": t1,
        "resumed_seconds": t2,
        "speedup": t1 / t2 if t2 > 0 else None,
        "resumed_faster": t2 < t1,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", nargs="+", default=list(NAMES), choices=NAMES)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "resume_speed.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name in args.names:
        row = measure(name)
        rows.append(row)
        print(
            f"{name}: first {row['first_seconds']:.1f} s, resumed {row['resumed_seconds']:.1f} s "
            f"(x{row['speedup']:.1f})",
            flush=True,
        )
    write_json({"rows": rows, "threads": torch.get_num_threads(), "environment": environment()}, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
