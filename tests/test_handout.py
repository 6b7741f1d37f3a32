"""The handout is generated from the reference: markers, questions, sync."""
import difflib
import py_compile
import subprocess
import sys
from pathlib import Path

import pytest

from dataclasses import replace

from grader import handout
from grader.errors import CourseError, HandoutOutOfSyncError, MarkerError, QuestionMappingError
from grader.questions import COURSE, QUESTIONS, TOTAL_POINTS

KIT = Path(__file__).resolve().parent.parent
REFERENCE = KIT / "reference"
HANDOUT = KIT / "handout"

SOURCE = '''\
class Relu:
    def compute(self, a):
        x = 1
        ### BEGIN SOLUTION
        return max(a, 0)
        ### END SOLUTION
'''


def test_region_becomes_todo_at_its_indentation():
    regions = handout.find_regions("needle/ops/ops_x.py", SOURCE)
    assert [(r.task, r.question.name, r.begin, r.end) for r in regions] == [
        ("Relu.compute", "forward_ops", 4, 6)
    ]
    rendered = handout.render(SOURCE, regions)
    assert rendered.splitlines()[3:] == [
        "        # TODO (question forward_ops): Relu.compute",
        '        raise NotImplementedError("TODO (question forward_ops): Relu.compute")',
    ]
    assert "max(a, 0)" not in rendered


def test_a_released_region_keeps_its_code_without_the_markers():
    regions = handout.find_regions("needle/ops/ops_x.py", SOURCE)
    assert handout.render(SOURCE, regions, released=["forward_ops"]) == SOURCE.replace(
        "        ### BEGIN SOLUTION\n", "").replace("        ### END SOLUTION\n", "")


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f():\n    ### BEGIN SOLUTION\n    ### BEGIN SOLUTION\n", ":3: ### BEGIN SOLUTION inside the region opened at line 2"),
        ("def f():\n    ### END SOLUTION\n", ":2: ### END SOLUTION without a ### BEGIN SOLUTION"),
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n", ":2: ### BEGIN SOLUTION is never closed"),
        ("def f():\n    return 1  ### BEGIN SOLUTION\n", ":2: '### BEGIN SOLUTION' must be alone on its line"),
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n", ":1: a solution region must sit inside a function"),
    ],
    ids=["nested", "end-without-begin", "unclosed", "inline", "outside-function"],
)
def test_bad_markers_fail_with_file_and_line(source, message):
    with pytest.raises(MarkerError, match="^needle/ops/bad.py" + message.replace("(", r"\(").replace(")", r"\)")):
        handout.find_regions("needle/ops/bad.py", source)


def test_region_outside_every_question_is_refused():
    with pytest.raises(QuestionMappingError, match=r"needle/elsewhere.py:2: .* matches 0 questions"):
        handout.find_regions("needle/elsewhere.py", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n")


def test_points_add_up_and_every_question_has_tasks_and_public_tests():
    assert sum(q.points for q in QUESTIONS) == TOTAL_POINTS == 100
    regions = handout.all_regions(REFERENCE)
    for question in QUESTIONS:
        assert any(r.question.name == question.name for r in regions), \
            f"question {question.name} has no task in reference/"
        assert (KIT / question.public_tests).is_file(), f"question {question.name} has no {question.public_tests}"


def test_handout_files_come_from_the_allow_list_only():
    files = handout.handout_files(REFERENCE)
    assert files and all(f.startswith(("needle/", "apps/")) and f.endswith(".py") for f in files)
    assert handout.handout_files(HANDOUT) == files


def test_generated_handout_compiles_and_has_no_solution(tmp_path):
    written = handout.write(REFERENCE, tmp_path)
    for path in written:
        py_compile.compile(str(tmp_path / path), doraise=True)
        assert handout.BEGIN not in (tmp_path / path).read_text()


def test_committed_handout_is_in_sync_with_the_reference():
    result = subprocess.run(
        [sys.executable, "-m", "grader", "handout", "--check"], cwd=KIT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_check_names_each_file_that_drifted(tmp_path):
    handout.write(REFERENCE, tmp_path)
    (tmp_path / "needle" / "optim.py").write_text("# edited by hand\n")
    (tmp_path / "apps" / "mlp_resnet.py").unlink()
    (tmp_path / "apps" / "stray.py").write_text("")
    with pytest.raises(HandoutOutOfSyncError) as error:
        handout.check(REFERENCE, tmp_path)
    message = str(error.value)
    assert "differs: needle/optim.py" in message
    assert "missing: apps/mlp_resnet.py" in message
    assert "not generated from the reference: apps/stray.py" in message
    result = subprocess.run(
        [sys.executable, "-m", "grader", "handout", "--check", "--out", str(tmp_path)],
        cwd=KIT, capture_output=True, text=True,
    )
    assert result.returncode == 1 and "differs: needle/optim.py" in result.stderr


def _edit_one_line(path: Path) -> str:
    """Replace the first non-blank line of ``path``; returns that line."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines) if line.strip())
    original, lines[number] = lines[number], "# edited by hand\n"
    path.write_text("".join(lines), encoding="utf-8")
    return original.rstrip("\n")


def test_check_shows_the_diff_that_running_handout_would_apply(tmp_path):
    handout.write(REFERENCE, tmp_path)
    original = _edit_one_line(tmp_path / "needle" / "optim.py")
    with pytest.raises(HandoutOutOfSyncError) as error:
        handout.check(REFERENCE, tmp_path)
    lines = str(error.value).splitlines()
    assert f"--- {tmp_path}/needle/optim.py" in lines
    assert "+++ generated from reference/needle/optim.py" in lines
    assert "-# edited by hand" in lines and f"+{original}" in lines
    assert lines[-1] == f"Run: python -m grader handout --out {tmp_path}"


def test_check_shows_a_lost_final_newline(tmp_path):
    handout.write(REFERENCE, tmp_path)
    path = tmp_path / "needle" / "optim.py"
    path.write_text(path.read_text(encoding="utf-8").rstrip("\n"), encoding="utf-8")
    with pytest.raises(HandoutOutOfSyncError, match=r"\n\\ No newline at end of file\n"):
        handout.check(REFERENCE, tmp_path)


def test_check_cuts_a_long_diff_and_says_how_much_is_left(tmp_path):
    handout.write(REFERENCE, tmp_path)
    generated = {path: (tmp_path / path).read_text(encoding="utf-8") for path in handout.handout_files(tmp_path)}
    full = 0
    for path, text in generated.items():
        edited = "".join(f"# {line}" for line in text.splitlines(keepends=True))
        (tmp_path / path).write_text(edited, encoding="utf-8")
        full += len(list(difflib.unified_diff(edited.splitlines(True), text.splitlines(True))))
    assert full > handout.MAX_DIFF_LINES
    with pytest.raises(HandoutOutOfSyncError) as error:
        handout.check(REFERENCE, tmp_path)
    lines = str(error.value).splitlines()
    assert f"... {full - handout.MAX_DIFF_LINES} more lines" in lines
    assert len(lines) < handout.MAX_DIFF_LINES + len(generated) + 5


def test_check_on_the_command_line_prints_the_diff_and_the_command_to_run(tmp_path):
    handout.write(REFERENCE, tmp_path)
    original = _edit_one_line(tmp_path / "apps" / "simple_ml.py")
    (tmp_path / "apps" / "mlp_resnet.py").unlink()
    (tmp_path / "apps" / "stray.py").write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "grader", "handout", "--check", "--out", str(tmp_path)],
        cwd=KIT, capture_output=True, text=True,
    )
    lines = result.stderr.splitlines()
    assert result.returncode == 1
    assert "  differs: apps/simple_ml.py" in lines and "-# edited by hand" in lines and f"+{original}" in lines
    assert "  missing: apps/mlp_resnet.py" in lines
    assert "  not generated from the reference: apps/stray.py" in lines
    assert lines[-1] == f"Run: python -m grader handout --out {tmp_path}"


def test_grading_hw2_carries_the_files_of_hw1s_released_solutions_whole():
    hw2 = COURSE.assignment("hw2")
    carried = handout.carried(hw2)
    assert sorted(carried) == ["apps/simple_ml.py", "needle/autograd.py", "needle/ops/ops_logarithmic.py",
                               "needle/ops/ops_mathematic.py"]
    for path, text in carried.items():
        assert text == handout.generate(REFERENCE, [q.name for q in hw2.released])[path]
        assert "TODO" not in text and handout.BEGIN not in text, path
        compile(text, path, "exec")
    assert handout.carried(COURSE.assignment("hw1")) == {} == handout.carried(replace(hw2, carry="students"))


def test_released_solutions_that_share_a_file_with_an_assignments_own_todos_are_refused():
    forward, backward = (next(q for q in COURSE.questions if q.name == n) for n in ("forward_ops", "backward_ops"))
    mixed = replace(COURSE.assignment("hw2"), questions=(backward,), earlier=(forward,), carry="solutions")
    with pytest.raises(CourseError, match=r"needle/ops/ops_logarithmic.py holds solutions of forward_ops .* and of "
                                          r"its own backward_ops"):
        handout.carried(mixed)


def test_an_assignments_handout_with_released_solutions_goes_elsewhere_than_handout(tmp_path):
    refused = subprocess.run([sys.executable, "-m", "grader", "handout", "--assignment", "hw2"],
                             cwd=KIT, capture_output=True, text=True)
    assert refused.returncode == 1 and "write it elsewhere with --out DIR" in refused.stderr, refused.stderr
    for args in (["--out", str(tmp_path)], ["--out", str(tmp_path), "--check"]):
        run = subprocess.run([sys.executable, "-m", "grader", "handout", "--assignment", "hw2", *args],
                             cwd=KIT, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
    text = (tmp_path / "needle" / "autograd.py").read_text(encoding="utf-8")
    assert "TODO" not in text and "TODO (question optimizers)" in (tmp_path / "needle" / "optim.py").read_text()
    (tmp_path / "needle" / "autograd.py").write_text(text + "# mine\n", encoding="utf-8")
    drifted = subprocess.run([sys.executable, "-m", "grader", "handout", "--assignment", "hw2", "--out",
                              str(tmp_path), "--check"], cwd=KIT, capture_output=True, text=True)
    assert drifted.returncode == 1
    assert drifted.stderr.splitlines()[-1] == f"Run: python -m grader handout --assignment hw2 --out {tmp_path}"


def test_without_the_reference_released_files_come_from_the_zips_folder_or_the_error_says_where(
        tmp_path, monkeypatch):
    from grader.errors import AutograderError

    hw2, nowhere = COURSE.assignment("hw2"), tmp_path / "no-reference"
    with pytest.raises(AutograderError, match="neither reference/ nor carried/hw2 .* is here"):
        handout.carried(hw2, reference=nowhere)
    monkeypatch.setattr(handout, "CARRIED", tmp_path / "carried")
    for path, text in handout.carried(hw2).items():
        (tmp_path / "carried" / "hw2" / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "carried" / "hw2" / path).write_text(text, encoding="utf-8")
    assert handout.carried(hw2, reference=nowhere) == handout.carried(hw2)
