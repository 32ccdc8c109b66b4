#!/usr/bin/env bash
# Colab parity: build an environment with Colab's package versions (ci/colab-packages.txt),
# install course_utils into it the way a notebook's setup cell does on Colab (from a
# locally built wheel instead of the repository URL), check that no Colab package
# changed, then run the lectures, the student versions and the widget tests in it.
# Usage: bash ci/colab_env.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

ENV=.venv-colab
PYTHON=${PYTHON:-python3}
pip_quiet=(--quiet --disable-pip-version-check)

[ -x "$ENV/bin/python" ] || "$PYTHON" -m venv "$ENV"
echo "== Colab's packages into $ENV"
"$ENV/bin/python" -m pip install "${pip_quiet[@]}" -r ci/colab-packages.txt
# Test tools, never allowed to move a Colab package:
"$ENV/bin/python" -m pip install "${pip_quiet[@]}" -c ci/colab-packages.txt pytest pytest-xdist nbclient nbformat
"$ENV/bin/python" -m pip uninstall --quiet -y course_utils 2>/dev/null || true

echo "== building the course_utils wheel"
rm -rf "$ENV/wheel" && mkdir -p "$ENV/wheel"
"$ENV/bin/python" -m pip wheel "${pip_quiet[@]}" --no-deps -w "$ENV/wheel" .
wheel=$(ls "$ENV"/wheel/course_utils-*.whl)

echo "== running a notebook's setup cell with google.colab simulated"
"$ENV/bin/python" -m pip freeze --all > "$ENV/freeze-before.txt"
rm -f "$ENV/widget-manager-enabled"
PYTHONPATH=ci/fake_colab COURSE_UTILS_SOURCE="$wheel" FAKE_COLAB_MARKER="$ENV/widget-manager-enabled" \
  "$ENV/bin/python" - <<'PY'
import json
import google.colab  # noqa: F401  (the stand-in from ci/fake_colab: "on Colab")
cells = json.load(open("notebooks/03_logic_gates.ipynb"))["cells"]
setup = next(c for c in cells if c["cell_type"] == "code")
exec("".join(setup["source"]), {"__name__": "__main__"})
print("setup cell ran: course_utils installed from the wheel")
PY
"$ENV/bin/python" -m pip freeze --all > "$ENV/freeze-after.txt"

echo "== tests in the Colab environment"
export PATH="$PWD/$ENV/bin:$PATH" COLAB_PARITY=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec "$ENV/bin/python" -m pytest -n "${TEST_JOBS:-auto}" -p no:cacheprovider \
  tests/course/test_colab_parity.py tests/course/test_notebooks.py tests/course_utils/test_widget_*.py tests/course_utils/test_colab.py "$@"
