#!/usr/bin/env bash
# GPU check (issue 15), a few minutes on a CUDA machine:
#   1. the device-parametrised tests (pytest -m device: cpu and cuda variants);
#   2. the demo on the GPU: art-activation-defenses demo --device cuda --out <tmp>;
#   3. per-pass cost ratios of our attacks vs the raw forward+backward on the GPU
#      (benchmarks/gpu_check.py -> benchmarks/results/gpu_check.json, goal <= 1.25).
# Exits 2 with a clear message when torch sees no CUDA GPU; otherwise non-zero when a step failed.
# Usage: benchmarks/gpu_check.sh [extra arguments of gpu_check.py]   (PYTHON=... to pick the interpreter)
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"

if ! "$PY" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    "$PY" -c 'import torch; print("gpu_check: torch", torch.__version__, "(CUDA build:", torch.version.cuda or "none", end=") ")' >&2 || true
    echo "sees no CUDA GPU; run this on a CUDA machine, or smoke-test the timing part with:" \
        "python benchmarks/gpu_check.py --device cpu --n 32 --size 8" >&2
    exit 2
fi
"$PY" -c 'import torch; print(f"gpu_check: torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")'

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
failed=()
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" MKL_NUM_THREADS="${MKL_NUM_THREADS:-1}"

echo "== 1/3 device-parametrised tests (pytest -m device)"
if ! "$PY" -m pytest -q -n 0 -p no:cacheprovider -m device -rs tests; then failed+=("tests"); fi

echo "== 2/3 demo on cuda"
if ! art-activation-defenses demo --device cuda --out "$TMP/demo"; then failed+=("demo"); fi

echo "== 3/3 per-pass cost ratios on cuda"
if ! "$PY" benchmarks/gpu_check.py --device cuda "$@"; then failed+=("timings"); fi

if ((${#failed[@]})); then
    echo "gpu_check: FAILED: ${failed[*]}" >&2
    exit 1
fi
echo "gpu_check: all steps passed (ratios in benchmarks/results/gpu_check.json)"
