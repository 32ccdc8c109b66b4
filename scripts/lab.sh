#!/usr/bin/env bash
# Install the course into .venv and open it in JupyterLab (file browser on notebooks/).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[lab]"
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)   # containers often run as root
exec .venv/bin/jupyter lab "${root_flag[@]}" --ServerApp.root_dir="$PWD" --LabApp.default_url=/lab/tree/notebooks "$@"
