import nbformat

from dlcourse.grading import StderrIsNotFailure


def test_stderr_is_relabelled_and_kept():
    cell = nbformat.v4.new_code_cell("import warnings; warnings.warn('x')")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: x\nsecond line\n"),
        nbformat.v4.new_output("stream", name="stdout", text="fine\n"),
        nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[]),
    ]
    cell, _ = StderrIsNotFailure().preprocess_cell(cell, {}, 0)
    assert [o.get("name") for o in cell.outputs] == ["stdout", "stdout", None]
    assert cell.outputs[0]["text"] == "[stderr] UserWarning: x\n[stderr] second line\n"
    assert cell.outputs[2]["output_type"] == "error"  # real errors still cost points
