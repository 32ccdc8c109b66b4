"""The GitHub Pages workflow publishes what CI builds and tests (it cannot run here: these checks keep it in step).

Its steps must be CI's own commands: the site's tests, then ``scripts/site.sh``, which ``.ci/run`` also runs on a
fresh clone; it publishes exactly the folder that command builds, on every push to main.
"""

import yaml

from tests.conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "pages.yml"


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))


def _runs(job: dict) -> list[str]:
    return [step["run"].strip() for step in job["steps"] if "run" in step]


def test_the_workflow_publishes_on_every_push_to_main():
    workflow = _workflow()
    triggers = workflow[True] if True in workflow else workflow["on"]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"]
    deploy = workflow["jobs"]["deploy"]
    assert deploy["needs"] == "build"
    assert deploy["permissions"] == {"pages": "write", "id-token": "write"}
    assert [step["uses"].split("@")[0] for step in deploy["steps"]] == ["actions/deploy-pages"]


def test_its_steps_are_the_commands_ci_runs():
    build = _workflow()["jobs"]["build"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    tests, site = _runs(build)
    assert tests == "bash scripts/test.sh tests/site", "the site's tests run before anything is published"
    assert site in ci, f"the workflow builds with {site!r}, which .ci/run does not run"
    out = site.split()[-1]
    uploads = [step for step in build["steps"] if step.get("uses", "").startswith("actions/upload-pages-artifact@")]
    assert [step["with"]["path"] for step in uploads] == [out], "it publishes a folder other than the one it built"
    for script in ("scripts/test.sh", "scripts/site.sh"):
        assert "bash scripts/install.sh" in (ROOT / script).read_text(encoding="utf-8"), \
            f"{script} installs differently from the other"


def test_it_runs_on_debian_like_ci():
    build = _workflow()["jobs"]["build"]
    assert build["container"].endswith("-bookworm"), "Chromium and npm come from Debian's packages, as in CI"
    assert all(step["uses"].split("/")[0] == "actions" for step in build["steps"] if "uses" in step), \
        "only GitHub's own actions"
