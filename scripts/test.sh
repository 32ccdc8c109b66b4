#!/usr/bin/env bash
# Install everything the tests need into .venv, then run the whole test suite.
# Usage: bash scripts/test.sh [pytest arguments]      (CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh

echo "== running the tests"
export PATH="$PWD/.venv/bin:$PATH"
# pytest runs one worker per core, each with its own kernels: one BLAS/OpenMP thread per process
# avoids oversubscribing the cores (two-thread torch on a busy 2-core machine is many times slower).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec .venv/bin/python -m pytest -n "${TEST_JOBS:-auto}" --dist loadgroup --durations=15 "$@"
