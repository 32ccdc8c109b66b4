"""Benchmarks of the course: notebook execution, training speed, grading throughput, release, the site, memory.

``dlcourse bench`` runs this file; it measures everything in one run, prints the
tables, saves ``benchmarks/results.json`` and rewrites the block between
``<!-- bench:start -->`` and ``<!-- bench:end -->`` in the README.

Ratios are what matter (the machine is shared and noisy), so each pair is
measured in the same run, and repeated measurements are reported as medians.
Every measured command runs in its own process; its peak memory is the
largest resident set of that process and the processes it waited for
(notebook kernels included), read from ``wait4``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
RESULTS = ROOT / "benchmarks" / "results.json"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
NOTEBOOK_TARGET_S = 60.0
PARTS = ["course", "training", "grading", "release", "site", "hub"]
MEMORY_CEILING_HUB = 0.9  # benchmarks/hub_capacity.py's: a class size holds while memory in use stays under it


def measure(command: list[str], cwd: Path = ROOT, env: dict | None = None) -> dict:
    """Run ``command``; return its wall time, peak memory (MiB), exit code and output."""
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out_chunks = []
    while True:
        chunk = process.stdout.read(65536)
        if not chunk:
            break
        out_chunks.append(chunk)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": seconds, "peak_mib": usage.ru_maxrss / 1024, "returncode": process.returncode,
            "output": b"".join(out_chunks).decode(errors="replace")}


def _execute_command(path: Path) -> list[str]:
    code = ("import sys; from dlcourse.execution import execute_notebook; "
            "r = execute_notebook(sys.argv[1]); print(r.status); sys.exit(0 if r.ok else 1)")
    return [sys.executable, "-c", code, str(path)]


def floor_notebook(path: Path, folder: Path) -> Path:
    """The notebook cut down to its setup and import cells: a kernel start plus the imports."""
    nb = nbformat.read(path, as_version=4)
    code_cells = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    nb.cells = nb.cells[: code_cells[1] + 1] if len(code_cells) > 1 else nb.cells
    target = folder / path.relative_to(ROOT)
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(target))
    return target


def bench_course(jobs: int) -> dict:
    """Every notebook's wall time next to its floor; the whole course with ``jobs`` at once.

    As in the tests, each notebook gets one BLAS/OpenMP thread when several run at once.
    """
    env = dict(os.environ, OMP_NUM_THREADS="1") if jobs > 1 else None
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("hw*/hw*.ipynb")) \
        + sorted((ROOT / "assignments").glob("hw*/hw*.ipynb"))
    with tempfile.TemporaryDirectory() as scratch:
        floors = {p: floor_notebook(p, Path(scratch)) for p in notebooks}
        # the student versions read from assignments/, so the floors sit in a folder of that name too
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            full = dict(zip(notebooks, pool.map(lambda p: measure(_execute_command(p), env=env), notebooks)))
        total_wall = time.perf_counter() - start
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            floor = dict(zip(notebooks, pool.map(lambda p: measure(_execute_command(floors[p]), env=env), notebooks)))
    rows = []
    for path in notebooks:
        rows.append({
            "notebook": str(path.relative_to(ROOT)), "seconds": full[path]["seconds"],
            "floor_seconds": floor[path]["seconds"], "peak_mib": full[path]["peak_mib"],
            "ok": full[path]["returncode"] == 0,
        })
    return {"jobs": jobs, "total_wall_s": total_wall, "sum_s": sum(r["seconds"] for r in rows), "notebooks": rows}


def bench_training(repeat: int, samples: int) -> dict:
    run = measure([sys.executable, str(ROOT / "benchmarks" / "training.py"), "--repeat", str(repeat),
                   "--samples", str(samples)])
    if run["returncode"] != 0:
        raise RuntimeError("training benchmark failed:\n" + run["output"][-2000:])
    result = json.loads(run["output"].strip().splitlines()[-1])
    result["peak_mib"] = run["peak_mib"]
    return result


def bench_release(repeat: int) -> dict:
    times, peaks = [], []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as out:
            run = measure([sys.executable, "-m", "dlcourse", "release", "--output", out])
            if run["returncode"] != 0:
                raise RuntimeError("release failed:\n" + run["output"][-2000:])
            times.append(run["seconds"])
            peaks.append(run["peak_mib"])
    return {"seconds": statistics.median(times), "runs": times, "peak_mib": max(peaks),
            "assignments": len(list((ROOT / "solutions").glob("hw*/hw*.ipynb")))}


def bench_site() -> dict:
    """``dlcourse site`` from nothing (every lecture executed, Sphinx, the slides), then again with no change."""
    runs = {}
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "dlcourse", "site", "--out", f"{tmp}/out", "--work", f"{tmp}/work"]
        for name in ("clean", "unchanged"):
            run = measure(command)
            if run["returncode"] != 0:
                raise RuntimeError(f"the site's {name} build failed:\n" + run["output"][-2000:])
            runs[name] = run
        pages = len(list(Path(tmp, "out").rglob("*.html")))
        decks = len(list(Path(tmp, "out", "slides").glob("*.html")))
    return {"clean_s": runs["clean"]["seconds"], "unchanged_s": runs["unchanged"]["seconds"],
            "peak_mib": max(r["peak_mib"] for r in runs.values()), "html_files": pages, "decks": decks}


def bench_hub() -> dict:
    """benchmarks/hub_capacity.py (as root): how many students' servers the machine holds, each running lecture 08."""
    run = measure([sys.executable, str(ROOT / "benchmarks" / "hub_capacity.py")])
    if run["returncode"] != 0:
        raise RuntimeError("the hub benchmark failed:\n" + run["output"][-3000:])
    return json.loads(run["output"].strip().splitlines()[-1])


def _grade_class(course: Path, submissions: Path, assignment: str, jobs: int) -> dict:
    """One timed ``dlcourse grade`` run over the class (``--regrade``: every student is graded again)."""
    from dlcourse.nbgrader_run import nbgrader_env

    run = measure([sys.executable, "-m", "dlcourse", "grade", assignment, "--course", str(course),
                   "--submissions", str(submissions), "--jobs", str(jobs), "--regrade"], cwd=course, env=nbgrader_env())
    if run["returncode"] != 0:
        raise RuntimeError(f"dlcourse grade --jobs {jobs} did not grade every student cleanly:\n"
                           + run["output"][-3000:])
    journal = course / ".dlcourse-grade" / "journal" / assignment
    run["student_s"] = [json.loads(p.read_text())["seconds"] for p in sorted(journal.glob("*.json"))]
    return run


def bench_grading(repeat: int, assignment: str = "hw08_pytorch_mlp", students: int = 6) -> dict | None:
    """A class of ``students`` correct submissions through ``dlcourse grade`` (1 and 2 jobs) vs nbclient alone.

    The course is a scratch copy holding only this assignment, released first (as an instructor would have
    done), so the timed runs are pure grading: intake, pre-flight, execution in the two sandboxed kernels,
    feedback, export. Per repeat: the notebook once through nbclient, then the class with 1 and with 2 jobs.
    """
    from dlcourse.release import release_assignments

    solution = ROOT / "solutions" / assignment / f"{assignment}.ipynb"
    if not solution.is_file():
        return None
    plain, single, double, per_student, fixed, peaks = [], [], [], [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        course = Path(scratch) / "course"
        shutil.copytree(solution.parent, course / "solutions" / assignment)
        shutil.copy(ROOT / "nbgrader_config.py", course)
        release_assignments(course, [assignment], output=Path(scratch) / "released",
                            db_url=f"sqlite:///{course / 'gradebook.db'}")
        folder = Path(scratch) / "submissions"
        for i in range(students):
            target = folder / f"student{i:02d}" / f"{assignment}.ipynb"
            target.parent.mkdir(parents=True)
            shutil.copy(solution, target)
        for _ in range(repeat):
            plain.append(measure(_execute_command(solution))["seconds"])
            one, two = (_grade_class(course, folder, assignment, jobs) for jobs in (1, 2))
            single.append(one["seconds"])
            double.append(two["seconds"])
            per_student += one["student_s"]
            fixed.append(one["seconds"] - sum(one["student_s"]))
            peaks += [one["peak_mib"], two["peak_mib"]]
    nbclient_alone, wall_1, wall_2 = (statistics.median(x) for x in (plain, single, double))
    student = statistics.median(per_student)
    return {"assignment": assignment, "students": students, "repeat": repeat, "nbclient_s": nbclient_alone,
            "class_jobs1_s": wall_1, "class_jobs2_s": wall_2, "per_submission_s": wall_1 / students,
            "per_submission_jobs2_s": wall_2 / students, "overhead": wall_1 / students / nbclient_alone,
            "worker_per_student_s": student, "worker_overhead": student / nbclient_alone,
            "fixed_per_run_s": statistics.median(fixed),
            "speedup_jobs2": statistics.median(a / b for a, b in zip(single, double)), "peak_mib": max(peaks),
            "runs": {"nbclient_s": plain, "jobs1_s": single, "jobs2_s": double}}


def machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, torch {torch.__version__}, "
            f"{time.strftime('%Y-%m-%d')}")


def _when(results: dict, part: str) -> str:
    """`` (measured on ...)`` for a part kept from an earlier run on another day or machine; else nothing."""
    other = results[part].get("machine")
    return f" (measured earlier, on {other})" if other and other != results["machine"] else ""


def markdown(results: dict) -> str:
    lines = [f"Measured by `dlcourse bench` on {results['machine']}.", ""]
    course = results.get("course")
    if course:
        slow = [r for r in course["notebooks"] if r["seconds"] > NOTEBOOK_TARGET_S]
        lines += [
            f"**Course execution**{_when(results, 'course')} — "
            f"{len(course['notebooks'])} notebooks, {course['sum_s']:.0f} s one after another, "
            f"**{course['total_wall_s']:.0f} s** wall with {course['jobs']} at once; "
            f"{len(slow)} over the {NOTEBOOK_TARGET_S:.0f} s target. The floor is a kernel start plus the notebook's "
            "imports (its first two code cells).", "",
            "| notebook | seconds | floor (s) | peak MiB |", "|---|---:|---:|---:|",
        ]
        lines += [f"| {r['notebook']} | {r['seconds']:.1f} | {r['floor_seconds']:.1f} | {r['peak_mib']:.0f} |"
                  for r in course["notebooks"]]
        lines.append("")
    training = results.get("training")
    if training:
        bound = training["bound_s"]
        lines += [
            f"**Training speed**{_when(results, 'training')} — "
            f"one epoch of 784-256-128-10 on {training['samples']} × 784 on the "
            f"{training['device']} ({training['torch_threads']} torch threads; median of {training['repeat']}, "
            "ratios taken within each repeat):", "",
            "| loop | seconds | × bound |", "|---|---:|---:|",
            f"| the course's loop (lecture 08: in-memory batches of {training['batch_size']}, Adam `fused=True`) | "
            f"{training['course_loop_s']:.2f} | **{training['course_loop_over_bound']:.2f}** |",
            f"| the same with Adam's default (what lecture 08 used before) | {training['unfused_s']:.2f} | "
            f"{training['unfused_over_bound']:.2f} |",
        ]
        if "dataloader_s" in training:
            lines.append(f"| per-sample `DataLoader`, batch {training['loader_batch_size']} | "
                         f"{training['dataloader_s']:.2f} | {training['dataloader_over_bound']:.2f} |")
        lines += [f"| bound: {training['epoch_gflop']:.1f} GFLOP at the measured {training['matmul_gflops']:.1f} "
                  f"GFLOP/s | {bound:.2f} | 1.00 |", "",
                  f"Fused Adam made the epoch ×{training['fused_speedup']:.2f} faster. "
                  f"Peak memory {training['peak_mib']:.0f} MiB.", ""]
    grading = results.get("grading")
    if grading:
        lines += [
            f"**Grading throughput**{_when(results, 'grading')} — "
            f"a class of {grading['students']} correct {grading['assignment']} submissions "
            f"through `dlcourse grade` (two sandboxed kernels, feedback, export; median of {grading['repeat']}):", "",
            "| | seconds | × nbclient |", "|---|---:|---:|",
            f"| the notebook through nbclient alone | {grading['nbclient_s']:.1f} | 1.00 |",
            f"| per submission, `--jobs 1` (class time / {grading['students']}) | {grading['per_submission_s']:.1f} | "
            f"**{grading['overhead']:.2f}** |",
            f"| of which one student in its worker | {grading['worker_per_student_s']:.1f} | "
            f"{grading['worker_overhead']:.2f} |",
            f"| per submission, `--jobs 2` | {grading['per_submission_jobs2_s']:.1f} | "
            f"{grading['per_submission_jobs2_s'] / grading['nbclient_s']:.2f} |", "",
            f"`--jobs 2` is **×{grading['speedup_jobs2']:.2f}** faster than `--jobs 1`; a run adds about "
            f"{grading['fixed_per_run_s']:.0f} s once (workers starting, intake, export). The sandboxed kernel runs "
            "one BLAS/OpenMP thread (fair for parallel students), nbclient alone torch's default of one per core. "
            f"Peak memory {grading['peak_mib']:.0f} MiB.", "",
        ]
    release = results.get("release")
    if release:
        lines += [f"**Release**{_when(results, 'release')} — "
                  f"all {release['assignments']} student versions in {release['seconds']:.1f} s "
                  f"(median of {len(release['runs'])}); peak memory {release['peak_mib']:.0f} MiB.", ""]
    site = results.get("site")
    if site:
        lines += [f"**Website and slides**{_when(results, 'site')} — `dlcourse site` from a clean folder (every "
                  f"lecture executed, {site['html_files']} HTML files, {site['decks']} slide decks) in "
                  f"**{site['clean_s']:.0f} s**; again with nothing changed in {site['unchanged_s']:.1f} s "
                  f"(the execution cache); peak memory {site['peak_mib']:.0f} MiB.", ""]
    hub = results.get("hub")
    if hub and "levels" in hub:
        lines += [f"**A class on one server**{_when(results, 'hub')} — the hub of `deploy/` (`dlcourse hub up`) on "
                  f"127.0.0.1; for each class size, that many students' JupyterLab servers started through the hub, "
                  f"then every student executes {hub['lecture']} at the same time, as themselves. The hub starts in "
                  f"{hub['hub_start_s']:.1f} s; a user's server in {statistics.median(hub['server_start_s']):.1f} s "
                  f"(median of {len(hub['server_start_s'])}).", "",
                  f"| students | finished | median s | slowest s | memory in use at the peak (GiB of "
                  f"{hub['memory_total_gib']:.1f}) | holds |", "|---:|---:|---:|---:|---:|---|"]
        lines += [f"| {level['students']} | {level['finished']} | {level['median_s']:.0f} | {level['max_s']:.0f} | "
                  f"{level['memory_peak_gib']:.1f} | {'yes' if level['holds'] else '**no**'} |"
                  for level in hub["levels"]]
        if "per_student_gib" in hub:
            lines += ["", f"Each student adds about {hub['per_student_gib']:.2f} GiB at the peak (their server and a "
                          f"kernel training lecture 08's network), so memory would reach "
                          f"{100 * MEMORY_CEILING_HUB:.0f} % near {hub['memory_limit_students']} students "
                          "(extrapolated, not measured). The run times in the table are what sharing the cores "
                          "costs each student."]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_readme(block: str, readme: Path = README) -> None:
    text = readme.read_text()
    if START not in text or END not in text:
        raise RuntimeError(f"README.md needs the markers {START} and {END}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{block}{END}{tail}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dlcourse bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=PARTS,
                        help="run only these parts (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="repeats for training, grading and release")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks at once for the whole-course run")
    parser.add_argument("--samples", type=int, default=60_000, help="training samples per epoch")
    parser.add_argument("--readme", type=Path, default=README, help="the README whose table is rewritten")
    parser.add_argument("--no-readme", action="store_true", help="do not rewrite the README's table")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where to save the JSON results")
    args = parser.parse_args(argv)
    parts = set(args.only or PARTS)
    results: dict = {"machine": machine()}
    if args.only and args.results.is_file():  # a partial run keeps the other parts' last measurements
        earlier = json.loads(args.results.read_text())
        for part in set(PARTS) - parts:
            if part in earlier:
                results[part] = earlier[part]
                results[part].setdefault("machine", earlier.get("machine", ""))
    if "course" in parts:
        results["course"] = bench_course(args.jobs)
    if "training" in parts:
        results["training"] = bench_training(args.repeat, args.samples)
    if "grading" in parts:
        results["grading"] = bench_grading(args.repeat)
    if "release" in parts:
        results["release"] = bench_release(args.repeat)
    if "site" in parts:
        results["site"] = bench_site()
    if "hub" in parts:
        results["hub"] = bench_hub()
    block = markdown(results)
    print(block)
    args.results.write_text(json.dumps(results, indent=1) + "\n")
    if not args.no_readme:
        write_readme(block, args.readme)
    failed = [r["notebook"] for r in results.get("course", {}).get("notebooks", []) if not r["ok"]]
    if failed:
        print("notebooks that failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
