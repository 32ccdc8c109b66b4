"""The benchmark runner works end to end on small sizes (the real numbers live in the README)."""

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_bench_release_and_training_write_results_and_readme(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- bench:start -->\nold\n<!-- bench:end -->\nrest\n")
    results = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "dlcourse", "bench", "--only", "training", "release", "--repeat", "1",
         "--samples", "512", "--readme", str(readme), "--results", str(results)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(results.read_text())
    training = data["training"]
    assert training["bound_s"] > 0 and training["course_loop_s"] > 0 and training["unfused_s"] > 0
    assert len(training["runs"]) == 1 and training["course_loop_over_bound"] > 0
    assert data["training"]["epoch_gflop"] > 0 and data["release"]["assignments"] >= 1
    text = readme.read_text()
    assert "old" not in text and "Training speed" in text and "Release" in text
    assert text.startswith("intro\n") and text.endswith("rest\n")


def test_epoch_flops_counts_forward_and_backward():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from training import epoch_flops
    finally:
        sys.path.pop(0)
    forward = 2 * (784 * 256 + 256 * 128 + 128 * 10)
    input_grads = 2 * (256 * 128 + 128 * 10)
    assert epoch_flops(1) == 2 * forward + input_grads


def test_the_benchmarked_loop_is_lecture_08s_loop():
    """benchmarks/training.py times the loop the lecture teaches; if the lecture's loop changes, so must this."""
    import ast

    import nbformat

    lecture = nbformat.read(ROOT / "notebooks" / "08_pytorch_mlp.ipynb", as_version=4)
    taught = [c.source for c in lecture.cells if c.cell_type == "code" and "def train_one_epoch(" in c.source]
    assert len(taught) == 1, "lecture 08 should define train_one_epoch in one cell"

    def function(source: str) -> str:
        node = next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "train_one_epoch")
        return ast.dump(node)

    benchmarked = (ROOT / "benchmarks" / "training.py").read_text()
    assert function(benchmarked) == function(taught[0])
    assert "fused=FUSED" in "".join(c.source for c in lecture.cells), "lecture 08 trains with fused Adam"


def test_the_site_and_hub_parts_render_their_numbers():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from run import markdown
    finally:
        sys.path.pop(0)
    levels = [{"students": n, "finished": n, "median_s": 10.0 * n, "max_s": 11.0 * n, "memory_peak_gib": 2.0 + n,
               "holds": n < 8} for n in (1, 4, 8)]
    results = {"machine": "here",
               "site": {"clean_s": 150.2, "unchanged_s": 4.3, "peak_mib": 900.0, "html_files": 30, "decks": 8},
               "hub": {"levels": levels, "memory_total_gib": 23.5, "lecture": "notebooks/08_pytorch_mlp.ipynb",
                       "hub_start_s": 2.2, "server_start_s": [2.5, 3.5, 4.5], "per_student_gib": 0.6,
                       "memory_limit_students": 33}}
    text = markdown(results)
    assert "**150 s**" in text and "4.3 s" in text and "8 slide decks" in text
    assert "| 4 | 4 | 40 | 44 | 6.0 | yes |" in text and "| 8 | 8 | 80 | 88 | 10.0 | **no** |" in text
    assert "in 3.5 s (median of 3)" in text and "near 33 students" in text
