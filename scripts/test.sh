#!/usr/bin/env bash
# Install everything the tests need into .venv, then run the whole test suite.
# Usage: bash scripts/test.sh [pytest arguments]      (CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "== installing course_utils with the lab, grading and dev extras into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[lab,grading,dev]"
.venv/bin/dlcourse doctor

echo "== running the tests"
export PATH="$PWD/.venv/bin:$PATH"
exec .venv/bin/python -m pytest -n "${TEST_JOBS:-auto}" --durations=15 "$@"
