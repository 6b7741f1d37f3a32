"""Scoring is pure: a key and what a child process left in, a Grade out;
every comparison happens here, with grader/compare.py."""
import dataclasses
import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from grader.channel import META as META_FILE
from grader.channel import folder_of, value_file
from grader.compare import compare
from grader.key import AnswerKey, KeyTest
from grader.questions import BY_NAME
from grader.run import Run
from grader.sandbox import Walls
from grader.results import MAX_OUTPUT, gradescope
from grader import results
from grader import score as scoring
from grader.score import Grade, QuestionResult, score

NODE = "tests_hidden/test_forward_ops.py::test_exp_forward[2x3]"
VALUE = {"what": "exp of a 2x3 matrix", "hint": "elementwise", "tol": None, "dtype": True, "scored": True}
FACT = {"what": "the result is a leaf", "hint": "", "tol": None, "dtype": False, "scored": False}
RIGHT = np.arange(6, dtype=np.float32).reshape(2, 3)


def _save(record_dir: Path, nodeid: str, values, problems=()):
    folder = folder_of(record_dir, nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    for i, value in enumerate(values):
        if value is not None:
            np.save(value_file(record_dir, nodeid, i), value, allow_pickle=False)
    (folder / META_FILE).write_text(json.dumps({"values": [{"problem": p} for p in problems]}))


def _run(suite, report, record_dir, returncode=0, output=""):
    walls = Walls(uid=None, filesystem=True, network=True, pid_namespace=True, keyrings=True, shared_objects=True,
                  readable=(), notes=())
    return Run(suite, "forward_ops", report, record_dir, returncode, "", 1.0, output, walls)


def _grade(tmp_path, outcome, values, *, suite="hidden", key_values=(RIGHT,), metas=(VALUE,), crash="",
           threshold=None, problems=(), mnist_dir=None):
    node = NODE.replace("tests_hidden", f"tests_{suite}")
    key_dir = tmp_path / "key"
    _save(key_dir / suite / "forward_ops" / "records", node, key_values)
    test = KeyTest(node, suite, "forward_ops", "Exp on a small matrix.", tuple(metas), threshold)
    key = AnswerKey(key_dir, "stamp", 1, (test,))
    submitted = tmp_path / "run" / "records"
    _save(submitted, node, values, problems)
    call = {"outcome": outcome, "crash": {"message": crash}, "longrepr": "Traceback ... " + crash}
    report = {"tests": [{"nodeid": node, "outcome": outcome, "call": call}]}
    return score(key, {(suite, "forward_ops"): _run(suite, report, submitted)}, (suite,), mnist_dir or tmp_path)


def _result(grade):
    return next(r for r in grade.results if r.question.name == "forward_ops").tests[0]


def test_passing_test_with_matching_values_scores_the_question(tmp_path):
    grade = _grade(tmp_path, "passed", [RIGHT.copy()])
    assert _result(grade).passed
    assert grade.by_question()["forward_ops"] == (BY_NAME["forward_ops"].points,) * 2


WRONG = {
    "missing": ([None], "no value", "no value was handed over"),
    "float64": ([RIGHT.astype(np.float64)], "wrong dtype", "expected dtype float32, got float64"),
    "wrong-shape": ([RIGHT.reshape(-1)], "wrong shape", "expected shape (2, 3), got (6,)"),
    "wrong-values": ([np.ones((2, 3), dtype=np.float32)], "wrong value", "5 of 6 values differ"),
}


@pytest.mark.parametrize("values, kind, message", WRONG.values(), ids=WRONG.keys())
def test_reported_pass_with_wrong_values_scores_nothing(tmp_path, values, kind, message):
    hidden = _result(_grade(tmp_path / "hidden", "passed", values))
    assert not hidden.passed and hidden.score == 0
    assert hidden.reason == f"{kind}: exp of a 2x3 matrix"  # the grader's words only
    public = _result(_grade(tmp_path / "public", "passed", values, suite="public"))
    assert not public.passed and public.score == 0
    assert message in public.reason
    # The hint is about a wrong value: it says nothing to a wrong dtype, shape or a missing value.
    assert public.reason.endswith("Hint: elementwise") == (kind == "wrong value"), public.reason


@pytest.mark.parametrize("kind", ["value", "dtype", "shape", "type", "missing"])
def test_a_hint_speaks_only_to_the_kind_of_failure_it_explains(kind):
    from grader.compare import hint_for

    assert hint_for("sum the partial adjoints", kind) == ("sum the partial adjoints" if kind == "value" else "")
    per_kind = {"dtype": "seed with the output's dtype", "value": "sum the partial adjoints"}
    assert hint_for(per_kind, kind) == per_kind.get(kind, "")


SHAPES = {
    "broadcast-not-summed": ((4,), (3, 4), "sum over the axes that broadcasting added"),
    "size-1-axis-not-summed": ((3, 1), (3, 4), "sum over the axes that broadcasting added"),
    "keepdims": ((3,), (3, 1), "only axes of size 1 differ"),
    "transposed": ((3, 4), (4, 3), None),
    "flattened": ((2, 3), (6,), None),
    "40-axes-broadcast": ((7,), (1,) * 38 + (2, 7), "sum over the axes that broadcasting added"),
    "40-axes-not-broadcast": ((7,), (1,) * 38 + (7, 2), None),
}


@pytest.mark.parametrize("expected, got, advice", SHAPES.values(), ids=SHAPES.keys())
def test_a_wrong_shape_names_its_cause_only_when_the_shapes_show_it(expected, got, advice):
    mismatch = compare(np.zeros(expected), np.zeros(got), what="x.grad")
    assert mismatch.kind == "shape" and f"expected shape {expected}, got {got}" in mismatch.message
    if advice:
        assert advice in mismatch.message
    else:
        assert mismatch.message.endswith(f"got {got}"), mismatch.message


def test_public_test_shows_where_values_differ(tmp_path):
    got = RIGHT.copy()
    got[1, 2] = 9.0
    result = _result(_grade(tmp_path, "passed", [got], suite="public"))
    assert "worst at index (1, 2): got 9.0, expected 5.0" in result.reason


def test_hidden_test_never_shows_what_the_submission_said(tmp_path):
    leak = "def test_exp_forward(): SECRET"
    failed = _result(_grade(tmp_path / "a", "failed", [RIGHT], crash=f"ValueError: {leak}"))
    assert failed.reason == "raised an error" and failed.details == ""
    untyped = _result(_grade(tmp_path / "b", "passed", [None], problems=[leak]))
    assert leak not in untyped.reason and untyped.reason == "no value: exp of a 2x3 matrix"
    todo = _result(_grade(tmp_path / "c", "failed", [], crash=f"NotImplementedError: {leak}"))
    assert todo.reason == "not implemented (a TODO is left)"


def test_public_test_shows_the_submissions_own_words(tmp_path):
    result = _result(_grade(tmp_path, "passed", [None], suite="public",
                            problems=["expected a Tensor or a numpy.ndarray, got NoneType"]))
    assert "got NoneType" in result.reason


def test_facts_alone_earn_nothing(tmp_path):
    flag = np.asarray(True)
    grade = _grade(tmp_path, "passed", [flag], key_values=(flag,), metas=(FACT,))
    assert _result(grade).passed and _result(grade).max_score == 0
    assert grade.by_question()["forward_ops"] == (0.0, 0.0)


def test_a_wrong_fact_fails_a_scored_test(tmp_path):
    flag = np.asarray(True)
    grade = _grade(tmp_path, "passed", [RIGHT, np.asarray(False)], key_values=(RIGHT, flag), metas=(VALUE, FACT))
    assert not _result(grade).passed and _result(grade).reason == "wrong value: the result is a leaf"


def test_complex_values_never_pass_for_real_ones_even_when_dtype_is_free():
    mismatch = compare(RIGHT, RIGHT.astype(np.complex64) + 1j, what="exp", dtype=False)
    assert mismatch.kind == "dtype" and "expected real numbers (float32), got complex64" in mismatch.message


@pytest.mark.parametrize("got, same", [(np.float64(3.0), True), (np.float64(3.5), False), (np.bool_(True), False),
                                       (np.array("3"), False)], ids=["3.0", "3.5", "bool", "string"])
def test_a_count_compares_by_value_whatever_its_number_dtype(got, same):
    mismatch = compare(np.array(3), np.asarray(got), what="Adam.t", dtype=False)
    assert (mismatch is None) == same, mismatch
    if not same:
        assert mismatch.kind == "value" and "expected 3" in mismatch.message


def _npy(header: str, payload: bytes) -> bytes:
    raw = header.encode("latin1")
    raw += b" " * (64 - (10 + len(raw) + 1) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw + payload


@pytest.mark.parametrize("content", [
    _npy("{'descr': ('<f8',), 'fortran_order': False, 'shape': (1,), }", bytes(8)),
    _npy("{'descr': '<U1', 'fortran_order': False, 'shape': (2,), }", b"\xff" * 8),
    _npy("{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (1,), }", bytes(8)),
    _npy("{'descr': ('<f8', (2,)), 'fortran_order': False, 'shape': (1,), }", bytes(16)),
], ids=["descr-tuple", "unprintable-string", "record", "subarray"])
def test_a_value_file_of_anything_but_numbers_is_no_value(tmp_path, content):
    path = tmp_path / "0.npy"
    path.write_bytes(content)
    assert scoring._load(path) is None


def test_integer_values_must_match_exactly():
    assert compare(np.array([0, 1, 2]), np.array([0, 1, 2]), what="order") is None
    assert "2 of 3 values differ" in compare(np.array([0, 1, 2]), np.array([0, 2, 1]), what="order").message


def test_sequences_with_labels_are_shown_by_name():
    mismatch = compare(np.array([0, 1, 2]), np.array([1, 0, 2]), what="order", labels=["a", "b", "c"])
    assert mismatch.message == "order: expected\n  ['a', 'b', 'c']\ngot\n  ['b', 'a', 'c']"


def _write_t10k(folder: Path, images: np.ndarray, labels: np.ndarray) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">4i", 2051, len(images), 28, 28) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">2i", 2049, len(labels)) + labels.astype(np.uint8).tobytes())
    return folder


def test_training_target_is_judged_on_the_graders_test_set(tmp_path):
    # Ten images, pixel i lit in image i: theta's column choices decide each prediction.
    images = np.zeros((10, 784))
    images[np.arange(10), np.arange(10)] = 255
    labels = np.arange(10)
    mnist = _write_t10k(tmp_path / "mnist", images, labels)
    good = np.zeros((784, 10), dtype=np.float32)
    good[np.arange(10), labels] = 1
    bad = good.copy()
    bad[:2] = bad[[1, 0]]  # images 0 and 1 swap their predictions: 20% error
    threshold = {"model": "softmax", "max_error": 0.1, "values": [0]}
    meta = {**VALUE, "tol": "trained", "what": "theta"}
    passes = _grade(tmp_path / "a", "passed", [good], key_values=(good,), metas=(meta,), threshold=threshold,
                    mnist_dir=mnist)
    assert _result(passes).passed
    misses = _grade(tmp_path / "b", "passed", [bad], key_values=(bad,), metas=(meta,), threshold=threshold,
                    mnist_dir=mnist)
    assert _result(misses).reason == "above the target: test error on MNIST"


def test_a_run_that_cannot_start_says_why_without_the_suites_code(tmp_path):
    output = (
        "ERROR collecting tests_hidden/test_forward_ops.py\n"
        "tests_hidden/test_forward_ops.py:9: in <module>\n"
        "../submission/needle/ops/ops_mathematic.py:16: in <module>\n"
        "E   NameError: name 'oops' is not defined\n"
    )
    key = AnswerKey(tmp_path, "stamp", 1, (KeyTest(NODE, "hidden", "forward_ops", "hint", (VALUE,)),))
    for suite, expected in (
        # one sentence in hidden words, whatever happened: the submission chooses how its run ends
        ("hidden", scoring.HIDDEN_RUN_ENDED),
        ("public", "the tests could not start (exit code 2): NameError: name 'oops' is not defined"),
    ):
        run = _run(suite, {"tests": []}, tmp_path, 2, output)
        grade = score(key, {(suite, "forward_ops"): run}, (suite,), tmp_path)
        result = next(r for r in grade.results if r.question.name == "forward_ops")
        assert result.problem == expected
        assert "tests_hidden" not in result.problem


@pytest.mark.parametrize("returncode, stopped", [(3, ""), (None, "printed more than 64 MiB"), (-9, "")],
                         ids=["exit", "output", "signal"])
def test_a_hidden_run_whose_every_test_ended_shows_nothing_of_how_it_ended(tmp_path, returncode, stopped):
    """An exit after its report, a flood of output, a signal: chosen, they
    would each say something of the hidden tests (a red team read 24 bits a
    grading from the endings of runs that passed every test)."""
    key = AnswerKey(tmp_path, "stamp", 1, (KeyTest(NODE, "hidden", "forward_ops", "hint", (VALUE,)),))
    run = dataclasses.replace(_run("hidden", {"tests": [{"nodeid": NODE, "outcome": "failed"}]}, tmp_path,
                                   returncode), stopped=stopped)
    result = score(key, {("hidden", "forward_ops"): run}, ("hidden",), tmp_path).results[0]
    assert result.problem == "", result.problem


def test_a_run_that_filled_its_folders_is_told_so_not_that_its_tests_could_not_start(tmp_path):
    key = AnswerKey(tmp_path, "stamp", 1, (KeyTest(NODE, "public", "forward_ops", "hint", (VALUE,)),))
    run = dataclasses.replace(_run("public", {"tests": []}, tmp_path, 3), disk_full=True)
    result = score(key, {("public", "forward_ops"): run}, ("public",), tmp_path).results[0]
    assert "filled the space a run may write to" in result.problem and "could not start" not in result.problem


def test_public_feedback_fits_gradescope_in_whole_lines_without_sandbox_paths():
    box = "/tmp/needle-grade-abc/runs/box-xyz"
    tests = tuple(
        scoring.TestResult(nodeid=f"tests_public/test_forward_ops.py::test_exp[{i}]", suite="public",
                   question="forward_ops", hint="", passed=False, score=0.0, max_score=1.0,
                   reason=f"ValueError: wrong {i} in {box}/submission/needle/ops/ops_mathematic.py",
                   details=f"{box}/suite/tests_public/test_forward_ops.py:41: in test_exp\n" + "x = 1\n" * 400
                   + "../submission/needle/ops/ops_mathematic.py:141: ValueError")
        for i in range(40))
    entry = gradescope(Grade((QuestionResult(BY_NAME["forward_ops"], "public", tests, ""),)), 1.0)["tests"][0]
    output = entry["output"]
    assert len(output) <= MAX_OUTPUT
    assert "box-" not in output and "needle-grade" not in output
    assert "wrong 0 in needle/ops/ops_mathematic.py" in output and "\nneedle/ops/ops_mathematic.py:141" in output
    last = output.splitlines()[-1]
    shown = output.count("FAILED ")
    assert 0 < shown < 40 and last.startswith(f"... and {40 - shown} more mistakes not shown")
    assert all(line == "x = 1" for line in output.splitlines() if line.startswith("x ")), "a line cut in two"
    blocks = output.split("\n\n", 1)[1].rsplit("\n... and ", 1)[0].split("FAILED ")[1:]
    assert all(len(block.splitlines()) <= results.FAILURE_LINES for block in blocks), output


def test_public_feedback_traceback_shows_the_students_frames_only():
    box = "/tmp/needle-grade-abc/runs/box-xyz"
    details = (
        'Traceback (most recent call last):\n'
        '  File "/venv/lib/python3.11/site-packages/_pytest/runner.py", line 361, in from_call\n'
        '    result: TResult | None = func()\n'
        f'  File "{box}/suite/tests_public/test_forward_ops.py", line 42, in test_transpose\n'
        '    ndl.transpose(ndl.Tensor(a), axes)\n'
        f'  File "{box}/submission/needle/ops/ops_mathematic.py", line 213, in compute\n'
        '    return a.swapaxes(self.axes)\n'
        "TypeError: an integer is required")
    test = scoring.TestResult(nodeid="tests_public/test_forward_ops.py::test_transpose", suite="public",
                              question="forward_ops", hint="", passed=False, score=0.0, max_score=1.0,
                              reason="TypeError: an integer is required", details=details)
    output = gradescope(Grade((QuestionResult(BY_NAME["forward_ops"], "public", (test,), ""),)), 1.0)["tests"][0]["output"]
    assert "_pytest" not in output and "box-" not in output and "tests_public/test_forward_ops.py\"" not in output
    assert output.endswith('FAILED tests_public/test_forward_ops.py::test_transpose\n'
                           '  TypeError: an integer is required\n'
                           '  File "needle/ops/ops_mathematic.py", line 213, in compute\n'
                           '    return a.swapaxes(self.axes)'), output


def _grade_behaviours(tmp_path, cases, failing):
    """The hidden suite's forward_ops with ``cases`` (test id, behaviour,
    weight), each handing over RIGHT, the ``failing`` ids handing over a
    wrong value: (the grade, the key)."""
    key_dir, submitted = tmp_path / "key", tmp_path / "run" / "records"
    tests, report = [], {"tests": []}
    for test_id, behaviour, weight in cases:
        node = f"tests_hidden/test_forward_ops.py::{test_id}"
        _save(key_dir / "hidden" / "forward_ops" / "records", node, [RIGHT])
        _save(submitted, node, [RIGHT + 1 if test_id in failing else RIGHT])
        tests.append(KeyTest(node, "hidden", "forward_ops", "", (VALUE,), behaviour=behaviour, weight=weight))
        report["tests"].append({"nodeid": node, "outcome": "passed"})
    key = AnswerKey(key_dir, "stamp", 1, tuple(tests))
    return score(key, {("hidden", "forward_ops"): _run("hidden", report, submitted)}, ("hidden",), tmp_path), key


CASES = [("test_exp[a]", "Exp", 1.0), ("test_exp[b]", "Exp", 1.0), ("test_exp[c]", "Exp", 1.0),
         ("test_log", "Log", 3.0)]


def test_a_behaviour_scores_its_weighted_share_only_when_all_its_tests_pass(tmp_path):
    points = BY_NAME["forward_ops"].points
    grade, _ = _grade_behaviours(tmp_path / "right", CASES, failing=())
    assert grade.by_question()["forward_ops"] == (points, points)
    # One case of three breaks "Exp": the whole of its share (1 of 4 weights) is lost, not a third of it.
    grade, _ = _grade_behaviours(tmp_path / "one-case", CASES, failing={"test_exp[b]"})
    assert grade.by_question()["forward_ops"] == (points * 3 / 4, points)
    tests = {t.nodeid.split("::")[1]: t for r in grade.results for t in r.tests}
    assert [tests[i].passed for i in ("test_exp[a]", "test_exp[b]", "test_exp[c]")] == [True, False, True]
    assert tests["test_exp[a]"].score == 0 and tests["test_log"].score == pytest.approx(points * 3 / 4)
    output = gradescope(grade, 1.0)["tests"][0]["output"]
    assert "1 of 2 behaviours earned their points" in output and f"Exp ({points / 4:.2f} points)" in output
    # How many tests failed is the submission's to choose: hidden entries never say.
    assert "failing test" not in output and "tests passed" not in output, output


def test_points_table_shows_each_behaviours_weight_tests_and_points(tmp_path):
    _, key = _grade_behaviours(tmp_path, CASES, failing=())
    text = scoring.points_table(key, ("hidden",))
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith("  ")}
    points = BY_NAME["forward_ops"].points
    assert rows["Exp"][1:] == ["1", "3", f"{points / 4:.2f}"] and rows["Log"][1:] == ["3", "1", f"{points * 3 / 4:.2f}"]


@pytest.mark.parametrize("weights, says", [
    ((1.0, 2.0), "declare different weights [1.0, 2.0]"),
    ((float("nan"),), "has weight nan; give it a number above 0 and at most 1000"),
    ((float("inf"), float("inf")), "has weight inf"),
    ((1e308, 1e308), "has weight 1e+308"),
    ((0.0,), "has weight 0.0"),
], ids=["two-weights", "nan", "inf", "huge", "zero"])
def test_a_behaviour_without_one_finite_positive_weight_stops_the_key(weights, says):
    from grader.key import _weight_conflicts

    tests = [KeyTest(f"{NODE}-{i}", "hidden", "forward_ops", "", (VALUE,), behaviour="Exp", weight=w)
             for i, w in enumerate(weights)]
    lines = _weight_conflicts(tests + [KeyTest(NODE, "hidden", "forward_ops", "", (VALUE,), behaviour="Log")])
    assert len(lines) == 1 and lines[0].startswith("hidden/forward_ops: ") and says in lines[0], lines
