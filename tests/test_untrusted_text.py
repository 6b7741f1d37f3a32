"""What the grader does with text a submission controls (its report's
messages and tracebacks, its output, the names of its files) is linear in
the text's size and bounded (issue 25: a quadratic pattern over "../" x 1333
in every failure took a grading to 891 s).  Each function meets adversarial
strings of 1 MB and must give the right answer in time proportional to
their size: 10 times the text may cost at most RATIO times the time (10 if
linear, 100 if quadratic).  Times are this process's CPU time, which other
work on the machine does not count in, each the best of a few tries."""
import gc
import json
import time
import tracemalloc

import pytest

from grader import results, run, score, similar
from grader.batch import printable
from grader.channel import META, folder_of
from grader.key import collection_error
from grader.questions import BY_NAME
from grader.results import gradescope
from grader.score import Grade, QuestionResult

RATIO = 30
SIZES = (10_000, 100_000, 1_000_000)  # the first step fails a quadratic function before 1 MB takes minutes
TRIES = 5
SMALLEST_TIME = 1e-4  # seconds: shorter times are noise, not cost


def _best_time(call, text, enough=None) -> float:
    """The least time of TRIES calls, or of those until one takes ``enough`` or less."""
    best = float("inf")
    for _ in range(TRIES):
        gc.disable()  # a collection's pause belongs to no input
        try:
            started = time.process_time()
            call(text)
            best = min(best, time.process_time() - started)
        finally:
            gc.enable()
        if enough is not None and best <= enough:
            break
    return best


def assert_linear(call, make) -> None:
    """``call`` on ``make(size)`` for each size of SIZES costs at most RATIO
    times what it cost on the size before."""
    before = None
    for size in SIZES:
        text = make(size)
        limit = None if before is None else RATIO * max(before, SMALLEST_TIME)
        took = _best_time(call, text, enough=limit)
        assert limit is None or took <= limit, (
            f"{len(text):,} characters took {took:.4f} s, {took / max(before, SMALLEST_TIME):.0f} times the time of "
            f"a tenth of them: not linear")
        before = took


def _repeat(unit: str, size: int) -> str:
    return unit * (size // len(unit))


# Text of about ``size`` characters, and what it is without box paths.
BOX_PATH_BAIT = {
    "a word of ../ up to the suite": lambda n: (_repeat("../", n) + "suite/x.py", "x.py"),
    "words of ../": lambda n: (_repeat("../ ", n) + "../submission/x.py", _repeat("../ ", n) + "x.py"),
    "a word of ../ up to nothing": lambda n: (_repeat("../", n) + "x ../suite/y", _repeat("../", n) + "x y"),
    "a word of /box-": lambda n: (_repeat("/box-", n) + "a/submission/x.py", "x.py"),
    "a word of box folders": lambda n: (_repeat("/box-a/suite", n), "box-a/suite"),
    "a word of folders and no box": lambda n: (_repeat("/suite/", n), _repeat("/suite/", n)),
    "a word of slashes": lambda n: (_repeat("/", n) + "suite/x", _repeat("/", n) + "suite/x"),
    "a long word": lambda n: ("x" * n + "/submission/", "x" * n + "/submission/"),
    "carets": lambda n: ("^" * n + " ../suite/x", "^" * n + " x"),
    "quotes between box words": lambda n: (_repeat("'/box-a", n) + "'/box-a/suite/x", _repeat("'/box-a", n) + "'x"),
    "short words": lambda n: (_repeat("a ", n) + "/t/box-1/suite/x", _repeat("a ", n) + "x"),
    "lines": lambda n: (_repeat("\n", n) + '"../submission/x"', _repeat("\n", n) + '"x"'),
}


def _right_in_linear_time(function, make, sizes):
    """``function`` gives the expected answer for ``make(size)``'s text at each size, in linear time."""
    for size in sizes:
        text, expected = make(size)
        assert function(text) == expected
    assert_linear(function, lambda n: make(n)[0])


@pytest.mark.parametrize("bait", BOX_PATH_BAIT)
def test_box_paths_are_removed_in_linear_time(bait):
    _right_in_linear_time(score.without_box_paths, BOX_PATH_BAIT[bait], (1000, 1_000_000))


TRACEBACK = "Traceback (most recent call last):\n"
STUDENT_FRAME = '  File "needle/a.py", line 1, in f\n    f()\n'
# Failure reports of about ``size`` characters, and their details as shown:
# the student's frames (the deepest, in at most 10 lines) and what was raised.
DETAILS_BAIT = {
    "frames of pytest before the student's": lambda n: (
        TRACEBACK + _repeat('  File "/venv/_pytest/runner.py", line 1, in f\n', n)
        + '  File "/tmp/g/box-1/submission/needle/t.py", line 2, in t\nE',
        '  File "needle/t.py", line 2, in t\n  E'),
    "frame lines without a closing quote": lambda n: (
        TRACEBACK + _repeat('\n  File "/box-a', n) + "/suite/x", ""),
    "frame lines of box words": lambda n: (
        TRACEBACK + _repeat('  File "' + "/box-a" * 20 + '"\n', n) + '  File "/box-a/suite/x"', ""),
    "carets": lambda n: (TRACEBACK + "^" * n + " ../suite/x", "^" * (results.LINE - 3) + "..."),
    "a line of ../": lambda n: ("E   " + _repeat("../", n) + "suite/x", "E   x"),
    "deep frames of the student's code": lambda n: (
        TRACEBACK + _repeat(STUDENT_FRAME, n) + "E", "  ...\n" + STUDENT_FRAME * 4 + "  E"),
    "lines of carets under a frame": lambda n: (
        TRACEBACK + STUDENT_FRAME + _repeat("    ^^^^\n", n) + "E", STUDENT_FRAME + "  E"),
    "words of the machine's paths": lambda n: (_repeat("/a/b ", n), ("b " * (results.LINE // 2))[:results.LINE - 3]
                                                                     + "..."),
}


@pytest.mark.parametrize("bait", DETAILS_BAIT)
def test_failure_details_are_cut_in_linear_time(bait):
    _right_in_linear_time(results._details, DETAILS_BAIT[bait], (10_000, 1_000_000))


def _grade(reason: str, details: str) -> Grade:
    test = score.TestResult(nodeid="tests_public/test_forward_ops.py::test_exp", suite="public",
                            question="forward_ops", hint="", passed=False, score=0.0, max_score=1.0, reason=reason,
                            details=details)
    return Grade((QuestionResult(BY_NAME["forward_ops"], "public", (test,), ""),))


def _public_entry(text: str) -> str:
    results._public_output.cache_clear()  # each call renders: the cache would time itself
    return gradescope(_grade(text, TRACEBACK + text), 1.0)["tests"][0]["output"]


def test_public_feedback_is_rendered_in_linear_time_and_fits_its_entry():
    text = _repeat("../", 1_000_000) + "suite/x " + "^" * 1_000_000
    output = _public_entry(text)
    assert len(output) <= results.MAX_OUTPUT and "FAILED tests_public/test_forward_ops.py::test_exp" in output
    assert_linear(_public_entry, lambda n: _repeat("../", n) + "suite/x " + "^" * n)


def test_results_rebuilt_after_every_run_render_each_runs_public_text_once(monkeypatch):
    calls = []

    def counted(text):
        calls.append(text)
        return score.without_box_paths(text)

    monkeypatch.setattr(results, "without_box_paths", counted)
    results._public_output.cache_clear()
    grade = _grade("NotImplementedError: TODO", TRACEBACK + '  File "/t/box-1/submission/x.py", line 1, in f\nE')
    first = gradescope(grade, 1.0)
    rendered = len(calls)
    assert rendered and gradescope(grade, 2.0)["tests"] == first["tests"]
    assert len(calls) == rendered, "the second rebuild rendered the same run's text again"


# A report's test entry with ``text`` where each text belongs.
def _entry(text) -> dict:
    phase = {"outcome": "failed", "duration": 0.1, "crash": {"message": text}, "longrepr": text}
    return {"nodeid": "t.py::test", "outcome": "failed", "setup": {"outcome": "passed"}, "call": phase}


def test_a_reports_texts_are_cut_to_size_before_they_are_read():
    text = _repeat("\n", 500_000) + "^" * 500_000
    outcome, exception, details = score._outcome(_entry(text))
    assert (outcome, exception) == ("failed", "") and details == text[-run.MAX_TRACEBACK:]
    outcome, exception, _ = score._outcome(_entry("^" * 1_000_000))
    assert exception == "^" * run.MAX_REASON
    assert_linear(lambda t: score._outcome(_entry(t)), lambda n: _repeat("../\n", n))


@pytest.mark.parametrize("outcome", ["", 7, None, ["passed"]])
def test_a_test_whose_outcome_is_no_word_did_not_pass(outcome):
    assert score._outcome({"nodeid": "t.py::test", "outcome": outcome}) == ("missing", "", "")


def test_a_kept_report_holds_what_scoring_reads_within_its_sizes(tmp_path):
    path = tmp_path / "report.json"
    entry = _entry("^" * 1_000_000)
    entry["keywords"] = ["x" * 1_000_000]
    entry["setup"]["duration"] = 10 ** 400  # no float holds it
    path.write_text(json.dumps({"tests": [entry, {"nodeid": "x" * (run.MAX_NODEID + 1)}]}))
    kept = run._read_report(path)["tests"]
    assert kept == [{"nodeid": "t.py::test", "outcome": "failed", "setup": {"outcome": "passed", "duration": 0.0},
                     "call": {"outcome": "failed", "duration": 0.1, "crash": {"message": "^" * run.MAX_REASON},
                              "longrepr": "^" * run.MAX_TRACEBACK}}]


def test_a_report_of_more_tests_than_a_run_has_is_none(tmp_path):
    tests = [{"nodeid": f"t.py::test_{i}", "outcome": "passed"} for i in range(run.MAX_REPORT_TESTS + 1)]
    report, progress = tmp_path / "report.json", tmp_path / "progress.jsonl"
    report.write_text(json.dumps({"tests": tests}))
    progress.write_text("".join(json.dumps(t) + "\n" for t in tests))
    assert run._read_report(report) is None and run._read_progress(progress) is None
    report.write_text(json.dumps({"tests": tests[:-1]}))
    progress.write_text("".join(json.dumps(t) + "\n" for t in tests[:-1]))
    assert len(run._read_report(report)["tests"]) == len(run._read_progress(progress)["tests"]) == run.MAX_REPORT_TESTS


@pytest.mark.parametrize("item", ["{}", "[]"], ids=["objects", "arrays"])
def test_a_report_of_more_objects_than_a_report_holds_is_none_before_it_is_parsed(tmp_path, item):
    """A report (and a progress line) of the largest size kept, nothing but
    empty objects: 750 MB of the grader's memory to parse 32 MiB of them."""
    body = '{"tests":[' + (item + ",") * (run.MAX_REPORT_BYTES // 3 - 20) + item + "]}"
    report, progress = tmp_path / "report.json", tmp_path / "progress.jsonl"
    report.write_text(body)
    progress.write_text(body + "\n")
    tracemalloc.start()
    try:
        assert run._read_report(report) is None and run._read_progress(progress) is None
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * run.MAX_REPORT_BYTES, f"{peak >> 20} MiB to read {run.MAX_REPORT_BYTES >> 20} MiB"


def test_a_report_keeps_the_keys_tests_only(tmp_path):
    """Tests the key does not have cost the grader no memory however long
    their texts (one astral character makes Python store a text at 4 bytes
    a character: a red team's report took 1.5 GB of a grading)."""
    failed = {"outcome": "failed", "crash": {"message": "\U0001F600" * run.MAX_REASON},
              "longrepr": "\U0001F600" * run.MAX_TRACEBACK}
    tests = [{"nodeid": f"t.py::test_{i}", "outcome": "failed", "call": failed} for i in range(1000)]
    report, progress = tmp_path / "report.json", tmp_path / "progress.jsonl"
    report.write_text(json.dumps({"tests": tests}))
    progress.write_text("".join(json.dumps(t) + "\n" for t in tests))
    key = {"t.py::test_7": (1.0, 12.5)}
    for read in (run._read_report(report, key), run._read_progress(progress, key)):
        assert [t["nodeid"] for t in read["tests"]] == ["t.py::test_7"], read


def test_a_values_problem_is_cut_before_it_is_cleaned(tmp_path):
    folder = folder_of(tmp_path, "t.py::test")
    folder.mkdir(parents=True)

    def problems(text):  # as much as a meta file may hold (1 MB)
        (folder / META).write_text(json.dumps({"values": [{"problem": text}]}, ensure_ascii=False), encoding="utf-8")
        return score._problems(tmp_path, "t.py::test")

    assert problems("é" * 500_000) == ["?" * score.MAX_PROBLEM]
    assert_linear(problems, lambda n: "é" * (n // 2))


OUTPUT_BAIT = {
    "one long error line": lambda n: ("E   " + "^" * n, "^" * n),
    "error lines": lambda n: (_repeat("x\nERROR y\n", n), "y"),
    "lines and no error": lambda n: (_repeat("\n", n) + "E   first", "first"),
}


@pytest.mark.parametrize("bait", OUTPUT_BAIT)
def test_collection_errors_are_found_in_linear_time(bait):
    text, expected = OUTPUT_BAIT[bait](1_000_000)
    assert collection_error(text) == expected
    assert_linear(collection_error, lambda n: OUTPUT_BAIT[bait](n)[0])


def test_a_hidden_tests_death_is_named_in_linear_time():
    assert score._hidden_reason("NotImplementedError" + " " * 1_000_000 + ": x") == "not implemented (a TODO is left)"
    assert_linear(score._hidden_reason, lambda n: "NotImplementedError" + ":" * n)


# Names that no check accepts, found out only at their last character.
NAME_BAIT = {"letters": lambda n: "a" * n + "!", "dots": lambda n: "." * n + ".gz\n", "hex": lambda n: "f" * n + "\0"}
NAME_CHECKS = {
    "record folder": run.RECORD_FOLDER.fullmatch,
    "record file": run.RECORD_FILE.fullmatch,
    "MNIST file": run.MNIST_NAME.fullmatch,
    "similar's shown path": similar.SAFE_PATH.fullmatch,
    "batch's printable name": printable,
}


@pytest.mark.parametrize("bait", NAME_BAIT)
@pytest.mark.parametrize("check", NAME_CHECKS)
def test_file_names_are_checked_in_linear_time(check, bait):
    answer = NAME_CHECKS[check](NAME_BAIT[bait](1_000_000))
    assert answer.isprintable() if check == "batch's printable name" else answer is None
    assert_linear(NAME_CHECKS[check], NAME_BAIT[bait])
