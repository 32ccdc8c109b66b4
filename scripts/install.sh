#!/usr/bin/env bash
# Install everything the tests and the site need: .venv with course_utils (lab extra) and dlcourse (dev extra),
# and the Debian packages some tests use. scripts/test.sh and scripts/site.sh start with this; CI runs both.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "== installing course_utils (with the lab extra) and the instructor's tools dlcourse (with dev) into .venv"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[lab]" -e "./dlcourse[dev]"
.venv/bin/dlcourse doctor

# Debian packages: Chromium for the browser tests (never a downloaded browser), bubblewrap for the grading sandbox,
# PostgreSQL for the gradebook-on-PostgreSQL test, npm for reveal.js (the slides) and the hub's proxy, nss_wrapper for
# the Kubernetes variant's account files (tests/deploy/test_kubernetes.py).
packages=()
[ -n "${CHROMIUM:-}" ] || [ -x /usr/bin/chromium ] || packages+=(chromium)
command -v bwrap >/dev/null || packages+=(bubblewrap)
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || packages+=(postgresql)
command -v npm >/dev/null || packages+=(npm)
compgen -G "/usr/lib/*/libnss_wrapper.so" >/dev/null || packages+=(libnss-wrapper)
if [ ${#packages[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    echo "== installing Debian packages: ${packages[*]}"
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    echo "== no apt-get: install ${packages[*]} yourself (the browser, sandbox, PostgreSQL and slide tests need them)"
  fi
fi
