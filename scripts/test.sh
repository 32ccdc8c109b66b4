#!/usr/bin/env bash
# Install everything the tests need into .venv, then run the whole test suite.
# Usage: bash scripts/test.sh [pytest arguments]      (CI runs exactly this)
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "== installing course_utils (with the lab extra) and the instructor's tools dlcourse (with dev) into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[lab]" -e "./dlcourse[dev]"
.venv/bin/dlcourse doctor

# Debian packages some tests need: Chromium for the browser tests (never a downloaded browser),
# bubblewrap for the grading sandbox, PostgreSQL for the gradebook-on-PostgreSQL test.
packages=()
[ -n "${CHROMIUM:-}" ] || [ -x /usr/bin/chromium ] || packages+=(chromium)
command -v bwrap >/dev/null || packages+=(bubblewrap)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages+=(postgresql)
if [ ${#packages[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    echo "== installing Debian packages for the tests: ${packages[*]}"
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "== no apt-get: install ${packages[*]} yourself (the browser, sandbox and PostgreSQL tests need them)"
  fi
fi

echo "== running the tests"
export PATH="$PWD/.venv/bin:$PATH"
# pytest runs one worker per core, each with its own kernels: one BLAS/OpenMP thread per process
# avoids oversubscribing the cores (two-thread torch on a busy 2-core machine is many times slower).
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec .venv/bin/python -m pytest -n "${TEST_JOBS:-auto}" --dist loadgroup --durations=15 "$@"
