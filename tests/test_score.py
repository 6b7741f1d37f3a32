"""Scoring is pure: a key and what a child process left in, a Grade out."""
from pathlib import Path

import numpy as np
import pytest

from grader.key import AnswerKey, KeyTest
from grader.questions import BY_NAME
from grader.run import Run
from grader.sandbox import Walls
from grader.score import score, value_problem
from tests_public.recording import folder_of

NODE = "tests_hidden/test_forward_ops.py::test_exp_forward[2x3]"
META = {"kind": "value", "rtol": 1e-5, "atol": 1e-5}


def _save(record_dir: Path, nodeid: str, **values):
    folder = folder_of(record_dir, nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    for name, value in values.items():
        np.save(folder / f"{name}.npy", value, allow_pickle=False)


def _run(suite, report, record_dir, returncode=0, output=""):
    walls = Walls(uid=None, network=True, pid_namespace=True, hidden=(), readable=(), notes=())
    return Run(suite, "forward_ops", report, record_dir, returncode, "", 1.0, output, walls)


def _grade(tmp_path, outcome, values, key_values=None, meta=None, crash=""):
    key_dir = tmp_path / "key"
    expected = {"checked.0": np.arange(6, dtype=np.float32).reshape(2, 3)} if key_values is None else key_values
    _save(key_dir / "hidden" / "forward_ops" / "records", NODE, **expected)
    test = KeyTest(NODE, "hidden", "forward_ops", "Exp on a small matrix.",
                   meta or {name: META for name in expected})
    key = AnswerKey(key_dir, "stamp", (test,))
    submitted = tmp_path / "run" / "records"
    _save(submitted, NODE, **values)
    call = {"outcome": outcome, "crash": {"message": crash}, "longrepr": "Traceback ... " + crash}
    report = {"tests": [{"nodeid": NODE, "outcome": outcome, "call": call}]}
    run = _run("hidden", report, submitted)
    return score(key, {("hidden", "forward_ops"): run}, ("hidden",))


def _result(grade):
    return next(r for r in grade.results if r.question.name == "forward_ops").tests[0]


def test_passing_test_with_matching_values_scores_the_question(tmp_path):
    grade = _grade(tmp_path, "passed", {"checked.0": np.arange(6, dtype=np.float32).reshape(2, 3)})
    assert _result(grade).passed
    assert grade.by_question()["forward_ops"] == (BY_NAME["forward_ops"].points,) * 2


@pytest.mark.parametrize(
    "values, reason",
    [
        ({}, "missing or unreadable"),
        ({"checked.0": np.arange(6, dtype=np.float64).reshape(2, 3)}, "dtype float64, expected float32"),
        ({"checked.0": np.arange(6, dtype=np.float32)}, "shape (6,), expected (2, 3)"),
        ({"checked.0": np.ones((2, 3), dtype=np.float32)}, "values differ"),
    ],
    ids=["missing", "float64", "wrong-shape", "wrong-values"],
)
def test_reported_pass_with_wrong_values_scores_nothing(tmp_path, values, reason):
    result = _result(_grade(tmp_path, "passed", values))
    assert not result.passed and result.score == 0
    assert reason in result.reason and "reported passing" in result.reason


def test_failed_hidden_test_shows_the_exception_kind_only(tmp_path):
    grade = _grade(tmp_path, "failed", {"checked.0": np.arange(6, dtype=np.float32).reshape(2, 3)},
                   crash="AssertionError: checked.0: worst at (1, 2): got 4.0, expected 5.0")
    result = _result(grade)
    assert not result.passed and result.score == 0
    assert result.reason == "raised AssertionError"
    assert result.details == ""


def test_test_without_values_cannot_score(tmp_path):
    grade = _grade(tmp_path, "passed", {}, key_values={}, meta={})
    assert _result(grade).max_score == 0
    assert grade.by_question()["forward_ops"] == (0.0, 0.0)


def test_error_rate_is_computed_by_the_grader():
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    meta = {"kind": "error_rate", "max_error": 0.1}
    assert value_problem(meta, None, labels.copy(), labels) == ""
    one_wrong = np.where(np.arange(10) == 0, 9, labels)
    assert value_problem(meta, None, one_wrong, labels) == ""
    two_wrong = np.where(np.arange(10) < 2, 9, labels)
    assert "error rate 20.00% above 10.00%" == value_problem(meta, None, two_wrong, labels)
    assert "shape" in value_problem(meta, None, labels[:5], labels)


def test_integer_values_must_match_exactly():
    assert value_problem(META, np.array([0, 1, 2]), np.array([0, 1, 2])) == ""
    assert value_problem(META, np.array([0, 1, 2]), np.array([0, 2, 1])) == "2 of 3 values differ"


def test_a_run_that_cannot_start_says_why_without_the_suites_code(tmp_path):
    output = (
        "ERROR collecting tests_hidden/test_forward_ops.py\n"
        "tests_hidden/test_forward_ops.py:9: in <module>\n"
        "../submission/needle/ops/ops_mathematic.py:16: in <module>\n"
        "E   NameError: name 'oops' is not defined\n"
    )
    key = AnswerKey(tmp_path, "stamp", (KeyTest(NODE, "hidden", "forward_ops", "hint", {"checked.0": META}),))
    for suite, expected in (
        ("hidden", "NameError at needle/ops/ops_mathematic.py:16"),
        ("public", "NameError: name 'oops' is not defined"),
    ):
        run = _run(suite, {"tests": []}, tmp_path, 2, output)
        grade = score(key, {(suite, "forward_ops"): run}, (suite,))
        result = next(r for r in grade.results if r.question.name == "forward_ops")
        assert result.problem == f"the tests could not start (exit code 2): {expected}"
        assert "tests_hidden" not in result.problem
