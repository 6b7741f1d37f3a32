"""What a student reads of a question's failures (issue 26): the mistakes in
their own code before the TODOs not started, in the same order in the
grader's public feedback (results.json) and in check.py; each TODO once, on
one line with its place; tracebacks cut to the student's frames in a few
lines; scores rounded alike in text."""
import ast
import contextlib
import importlib.util
import io
from pathlib import Path

from grader import bundle, defaults, feedback, results
from grader.questions import BY_NAME
from grader import score
from grader.score import Grade, QuestionResult

KIT = Path(__file__).resolve().parent.parent
FILE = "tests_public/test_backward_ops.py"
TODO_POW = "NotImplementedError: TODO (question backward_ops): PowerScalar.gradient"
TODO_SUM = "NotImplementedError: TODO (question forward_ops): Summation.compute"
WRONG = ("EWiseDiv.gradient of float64 input 1 (shape (5,)): 5 of 5 values differ beyond rtol=1e-07, atol=1e-10; "
         "worst at index (4,): got -0.19, expected 0.19\nHint: d(a/b)/db = -a/b**2")
RAISED = "AttributeError: 'Tensor' object has no attribute 'detached_grad'"
# A failure's report as the box's pytest writes it (--tb=native), the machine's paths and all.
PYTEST_FRAMES = (
    '  File "/usr/lib/python3/site-packages/_pytest/runner.py", line 341, in from_call\n'
    "    result: TResult | None = func()\n"
    "                             ^^^^^^\n"
    '  File "/usr/lib/python3/site-packages/pluggy/_execution.py", line 147, in _multicall\n'
    "    res = hook_impl.function(*args)\n"
    '  File "tests_public/test_backward_ops.py", line 150, in test_gradient\n'
    "    check_gradients(op, inputs)\n"
    '  File "grader/box/drive.py", line 38, in op_gradients\n'
    "    grads = op.gradient_as_tuple(out_grad, node)\n"
)


def _traceback(student_frames: str, error: str) -> str:
    return "Traceback (most recent call last):\n" + PYTEST_FRAMES + student_frames + error + "\n"


def _todo_details(line: int) -> str:
    return _traceback(f'  File "/tmp/g/box-1/submission/needle/ops/ops_mathematic.py", line {line}, in gradient\n'
                      f'    raise NotImplementedError("TODO")\n', "NotImplementedError: TODO")


NEGATE = _traceback('  File "needle/autograd.py", line 47, in gradient_as_tuple\n'
                    "    output = self.gradient(out_grad, node)\n"
                    "             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
                    '  File "needle/ops/ops_mathematic.py", line 302, in gradient\n'
                    "    return -out_grad.detached_grad\n", RAISED)

# (test, its reason, its report), in the suite's order: TODOs before and between the mistakes.
FAILURES = [
    ("test_gradient[power_scalar]", TODO_POW, _todo_details(141)),
    ("test_gradient[divide]", WRONG, ""),
    ("test_gradient[summation]", TODO_SUM, _todo_details(265)),
    ("test_gradient[negate]", RAISED, NEGATE),
    ("test_float32[power_scalar]", TODO_POW, _todo_details(141)),
]


def _result(failures=FAILURES) -> QuestionResult:
    tests = tuple(score.TestResult(nodeid=f"{FILE}::{name}", suite="public", question="backward_ops", hint="", passed=False,
                             score=0.0, max_score=1.0, reason=reason, details=details, behaviour=name)
                  for name, reason, details in failures)
    return QuestionResult(BY_NAME["backward_ops"], "public", tests, "")


def _public(result: QuestionResult) -> str:
    results._public_output.cache_clear()
    return results._public_output(result, results.MAX_OUTPUT)


def _check_module():
    spec = importlib.util.spec_from_file_location("kit_check", KIT / "grader" / "student" / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check_output(failures=FAILURES) -> str:
    """What check.py lists for the same failures, as its run of the public tests would give them."""
    check = _check_module()
    root = KIT / "handout"
    behaviour = {"name": "b", "weight": 1.0}
    tests = {"backward_ops": [(f"{FILE}::{name}", reason, "handout/needle/ops/ops_mathematic.py:"
                               f"{141 if 'Power' in reason else 265 if 'Summation' in reason else 302} in gradient",
                               False, behaviour) for name, reason, _ in failures]}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        check.print_failures(tests, set(), root)
    return out.getvalue()


def _order(text: str, names) -> list:
    return sorted((n for n in names if n in text), key=text.index)


def test_mistakes_come_before_todos_in_the_same_order_in_the_grader_and_in_check_py():
    mistakes = ["test_gradient[divide]", "test_gradient[negate]"]
    public, local = _public(_result()), _check_output()
    assert _order(public, mistakes) == _order(local, mistakes) == mistakes, (public, local)
    for text in (public, local):
        assert text.index("test_gradient[negate]") < text.index("TODOs left in this question"), text
        assert "power_scalar" not in text and "summation]" not in text, "a TODO's tests are listed one by one"
        assert text.count("NotImplementedError") == 1, "a TODO is said once, in the line of TODOs"


def test_the_order_of_failures_is_one_function_that_check_py_imports_from_the_bundle():
    tree = ast.parse((KIT / "grader" / "student" / "check.py").read_text())
    from_grader = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                   and (node.module or "").startswith("grader")}
    assert from_grader == {"grader.feedback"}
    shipped = set(bundle.LOCAL_CHECK_FILES) | {p.as_posix() for p in defaults.BOX_FILES}
    assert {"grader/feedback.py", "grader/__init__.py"} <= shipped
    own = ast.parse((KIT / "grader" / "feedback.py").read_text())
    assert {name for node in ast.walk(own) if isinstance(node, (ast.Import, ast.ImportFrom))
            for name in ([node.module] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names])} \
        <= {"typing"}, "feedback.py is shipped alone: the standard library only"


def test_each_todo_is_one_entry_with_its_place_and_the_tests_waiting_for_it():
    line = feedback.todo_line([(TODO_POW, "ops_mathematic.py:141"), (TODO_SUM, "ops_mathematic.py:265"),
                               (TODO_POW, "ops_mathematic.py:141")], "backward_ops")
    assert line == ("2 TODOs left in this question (raise NotImplementedError(\"TODO ...\"): replace each with your "
                    "code): `PowerScalar.gradient` (ops_mathematic.py:141, 2 tests), "
                    "`Summation.compute` (ops_mathematic.py:265, question forward_ops, 1 test).")
    public = _public(_result())
    assert public.endswith(line) and public.count("TODOs left") == 1, public
    assert line in " ".join(_check_output().split()).replace("backward_ops: ", ""), _check_output()


def test_only_todos_left_is_the_todo_line_alone():
    todos = [f for f in FAILURES if f[1].startswith("NotImplementedError")]
    shown = _public(_result(todos))
    assert shown.startswith("2 TODOs left in this question") and "): `PowerScalar.gradient` (" in shown, shown


def test_a_traceback_shows_the_students_frames_and_what_was_raised_in_12_lines_at_most():
    deep = "".join(f'  File "needle/autograd.py", line {100 + i}, in walk\n    walk(node.inputs[0])\n'
                   for i in range(30))
    for details in (NEGATE, _traceback(deep, RAISED)):
        block = _public(_result([("test_gradient[negate]", RAISED, details)]))
        lines = block.splitlines()
        assert len(lines) <= results.FAILURE_LINES, block
        assert lines[:2] == [f"FAILED {FILE}::test_gradient[negate]", f"  {RAISED}"], block
        for outside in ("site-packages", "pluggy", "_pytest", "grader/", "tests_public/test", "/usr", "^"):
            assert outside not in "\n".join(lines[1:]), f"{outside!r} shown:\n{block}"
    assert 'File "needle/ops/ops_mathematic.py", line 302, in gradient\n    return -out_grad.detached_grad' in \
        _public(_result([("t", RAISED, NEGATE)]))
    assert 'line 129, in walk' in block and "line 100," not in block, "the deepest frames are the ones kept"


def test_a_failure_without_a_traceback_names_no_path_of_the_machine():
    details = "E   FileNotFoundError: [Errno 2] No such file: '/srv/grader/.venv/lib/data/mnist.gz'"
    shown = _public(_result([("t", "FileNotFoundError: /srv/grader/.venv/lib/data/mnist.gz", details)]))
    assert "/srv" not in shown and "mnist.gz" in shown, shown


def test_a_questions_feedback_fits_on_a_screen():
    many = [(f"test_{i}", f"ValueError: mistake number {i}", NEGATE) for i in range(40)]
    many += [(f"test_todo_{i}", f"NotImplementedError: TODO (question backward_ops): Op{i}.gradient", "")
             for i in range(20)]
    shown = _public(_result(many))
    assert len(shown.splitlines()) <= results.SCREEN + 3, shown
    assert "more mistakes not shown here" in shown and "20 TODOs left in this question" in shown, shown


def test_the_same_mistake_in_many_tests_is_shown_once():
    same = [(f"test_{i}", RAISED, NEGATE) for i in range(9)]
    shown = _public(_result(same))
    assert shown.count(RAISED) == 1 and "(and 8 more failing the same way)" in shown, shown


def test_scores_in_text_have_two_decimals_and_the_json_keeps_the_sum():
    test = score.TestResult(nodeid=f"{FILE}::t", suite="public", question="backward_ops", hint="", passed=True,
                      score=18.333333, max_score=25.0, reason="", details="", behaviour="t")
    grade = Grade((QuestionResult(BY_NAME["backward_ops"], "public", (test,), ""),))
    data = results.gradescope(grade, 1.0)
    assert data["output"].startswith("Score 18.33 of 25.") and "18.33 / 25" in data["output"], data["output"]
    assert data["score"] == 18.3333
    public = results.gradescope(grade, 1.0, hidden_visibility="after_due_date")["output"]
    assert public.startswith("Public tests: 18.33 of 25 points."), public
