#!/usr/bin/env bash
# Build the course website and the lecture slides into _build/site/ (or the folder given), as GitHub Pages
# publishes them (.github/workflows/pages.yml) and as CI builds them from a fresh clone (.ci/run).
# Usage: bash scripts/site.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec .venv/bin/dlcourse site --out "${1:-_build/site}"
