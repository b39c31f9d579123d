#!/usr/bin/env bash
# The GPU check, as one command for a CUDA machine (see README "Known limits" and bench/README.md#gpu).
#
#   bash scripts/gpu-check.sh [OUT_DIR]
#
# 1. the `gpu`-marked tests and the model/evaluation suites on the CUDA device (log: OUT_DIR/tests.log);
# 2. bench/gpu.py: every model on CPU, CUDA fp32 and CUDA bf16 at ML-1M and ML-10M shape
#    (raw rows: OUT_DIR/gpu.json, written as they finish, so a run cut short still returns what it did).
# Back on a development machine: `python bench/gpu.py --from-json OUT_DIR/gpu.json` writes the table into
# bench/README.md. Needs torch with CUDA, numpy, scipy, pandas, pyarrow, safetensors, pytest and
# pytest-timeout (not streamlit or sqlalchemy: the suites run here do not import them).
# Time limits are per step, so the whole script ends within about 9 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-bench/out}}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1 RECLAB_HOME="${RECLAB_HOME:-$(mktemp -d)}"
py="${PYTHON:-python3}"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  "$py" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.is_available())'
} 2>&1 | tee "$out/env.log"
timeout 170 "$py" -m pytest -q -p no:cacheprovider --timeout 100 -m "not shared_data" \
  tests/models tests/unit/evaluation > "$out/tests.log" 2>&1
echo "tests: exit $? ($(tail -1 "$out/tests.log"))"
timeout 330 "$py" bench/gpu.py --sizes ml1m ml10m --json "$out/gpu.json" > "$out/bench.log" 2>&1
echo "bench: exit $?"
tail -40 "$out/bench.log"
