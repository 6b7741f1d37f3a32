"""Scoring: data in (the answer key, what each child process left), a Grade
out.  A test scores only when the submission's process reports it passed and
every value the reference's run handed over for it is there and matches,
compared here with ``grader.compare`` (and, for a training run, its weights
meet the test-error target on the grader's own MNIST test set).  Hidden
tests' feedback is the grader's words only: their hint and the kind of
failure, never text the submission controls."""
import json
import math
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from . import mnist_eval
from .channel import CPU_LIMIT_FAILURE, META, WALL_CLOCK_FAILURE, folder_of, value_file
from .compare import KINDS, compare, hint_for
from .key import AnswerKey, KeyTest, collection_error
from .questions import QUESTIONS, Question
from .run import MAX_REASON, MAX_TRACEBACK, Run, as_text

MAX_VALUE_BYTES = 64 << 20  # a recorded value larger than this is not read
MAX_META_BYTES = 1 << 20
MAX_PROBLEM = 200  # characters of a test's own words about a value (public tests)
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


@dataclass(frozen=True)
class TestResult:
    nodeid: str
    suite: str
    question: str
    hint: str
    passed: bool
    score: float
    max_score: float
    reason: str  # why it failed, in a line; "" when it passed
    details: str  # the failure message of the submission's process (public tests only)
    behaviour: str = ""  # what it tests, with its siblings: they score together or not at all


@dataclass(frozen=True)
class QuestionResult:
    question: Question
    suite: str
    tests: Tuple[TestResult, ...]
    problem: str  # what went wrong with the whole run, if anything

    @property
    def score(self) -> float:
        return sum(t.score for t in self.tests)

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)


@dataclass(frozen=True)
class Grade:
    results: Tuple[QuestionResult, ...]

    @property
    def score(self) -> float:
        return round(sum(r.score for r in self.results), 4)

    @property
    def max_score(self) -> float:
        return round(sum(r.max_score for r in self.results), 4)

    def by_question(self) -> Dict[str, Tuple[float, float]]:
        totals = {r.question.name: [0.0, 0.0] for r in self.results}  # in the assignment's order
        for r in self.results:
            totals[r.question.name][0] += r.score
            totals[r.question.name][1] += r.max_score
        return {name: (round(s, 4), round(m, 4)) for name, (s, m) in totals.items()}


def _load(path: Path) -> Optional[np.ndarray]:
    """A recorded value, read without pickle; None if missing, unreadable,
    or not what its header says (the header is checked against the file's
    size before anything is allocated)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_VALUE_BYTES:
                return None
            read_header = HEADER_READERS.get(np.lib.format.read_magic(f))
            if read_header is None:
                return None
            shape, _, dtype = read_header(f)
            # Numbers only, as the box's record.to_array writes them: no strings, records or subarrays.
            if dtype.kind not in "biufc" or dtype.fields or dtype.subdtype \
                    or math.prod(shape) * dtype.itemsize > size - f.tell():
                return None
            f.seek(0)
            value = np.load(f, allow_pickle=False)
    except Exception:  # the submission wrote this file: any way NumPy fails on it means no value
        return None
    return value if type(value) is np.ndarray else None


def _problems(record_dir: Path, nodeid: str) -> List[str]:
    """What a public test's process said instead of each value it could not
    hand over (its own words, shown to the student who wrote the code)."""
    path = folder_of(record_dir, nodeid) / META
    try:
        if path.stat().st_size > MAX_META_BYTES:
            return []
        values = json.loads(path.read_text(encoding="utf-8")).get("values", [])
        return [re.sub(r"[^\x20-\x7e]", "?", as_text(_dict(v).get("problem"))[:MAX_PROBLEM])
                for v in values] if isinstance(values, list) else []
    except (OSError, ValueError, AttributeError, RecursionError, MemoryError):
        return []


@dataclass(frozen=True)
class Failure:
    kind: str  # a key of compare.KINDS
    what: str  # the value, in the suite's words (from the key)
    message: str  # for public tests: what was expected, what came, the hint


def check_values(test: KeyTest, key_dir: Path, submitted_dir: Path, mnist_dir: Path) -> Optional[Failure]:
    """The first value of ``test`` that the submission got wrong, or a
    missed training target; None if everything matches."""
    problems = _problems(submitted_dir, test.nodeid) if test.suite == "public" else []
    got = []
    for i, meta in enumerate(test.values):
        value = _load(value_file(submitted_dir, test.nodeid, i))
        got.append(value)
        mismatch = compare(_load(value_file(key_dir, test.nodeid, i)), value, what=meta["what"], tol=meta["tol"],
                           dtype=meta["dtype"], problem=problems[i] if i < len(problems) else "",
                           labels=meta.get("labels"))
        if mismatch:
            hint = hint_for(meta.get("hint"), mismatch.kind)
            return Failure(mismatch.kind, meta["what"], mismatch.message + (f"\nHint: {hint}" if hint else ""))
    if test.threshold:
        model, weights = test.threshold["model"], [got[i] for i in test.threshold["values"]]
        problem = mnist_eval.weights_problem(model, weights)
        if problem:
            return Failure("shape", "trained weights", problem)
        rate = mnist_eval.error_rate(model, weights, mnist_dir)
        if rate > test.threshold["max_error"]:
            return Failure("threshold", "test error on MNIST", f"test error {rate:.2%} on MNIST's test set, above the target of "
                                        f"{test.threshold['max_error']:.2%}")
    return None


def _outcome(report_test: Optional[dict]) -> Tuple[str, str, str]:
    """(outcome, the exception in a line, the failure report) as the
    submission's process reported them, each cut to its size before it is
    read any further."""
    if report_test is None:
        return "missing", "", ""
    for phase in ("setup", "call", "teardown"):
        info = _dict(report_test.get(phase))
        if info.get("outcome") == "failed":
            crash = as_text(_dict(info.get("crash")).get("message", "failed"))[:MAX_REASON]
            details = as_text(info.get("longrepr"))[-MAX_TRACEBACK:]
            return "failed", crash.splitlines()[0] if crash else "failed", details
    # An outcome that is no word ("", a number) is none: an empty one once passed as "no reason to fail".
    return as_text(report_test.get("outcome"))[:MAX_REASON] or "missing", "", ""


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


TOO_SLOW = "too slow: it used more than its CPU time (an endless loop, or far slower code than needed?)"
WAITED = ("stopped by the wall clock while it used less than its CPU time: it waits (a sleep, a blocking read?) "
          "rather than computes")


def _hidden_reason(exception: str) -> str:
    """What a hidden test died of, in the grader's words only: an exception's
    text (even its class's name) is the submission's, and could carry the
    hidden test's source out."""
    if exception.startswith(CPU_LIMIT_FAILURE):
        return TOO_SLOW
    if exception.startswith(WALL_CLOCK_FAILURE):
        return WAITED
    return ("not implemented (a TODO is left)" if exception.split(":", 1)[0].strip() == "NotImplementedError"
            else "raised an error")


def _public_reason(exception: str) -> str:
    """What a public test died of: its exception, but in the grader's words
    for the wall clock (pytest-timeout's own say nothing of the rerun)."""
    if exception.startswith(WALL_CLOCK_FAILURE):
        return f"{WAITED} ({exception.removeprefix('Failed: ').split(' from ')[0]})"
    return exception


SIGNALS = {
    signal.SIGKILL: "it was killed: it used up its CPU time or memory",
    signal.SIGXCPU: "it used up its CPU time",
    signal.SIGXFSZ: "it wrote a file larger than the limit",
    signal.SIGSEGV: "it crashed (segmentation fault)",
    signal.SIGABRT: "it aborted",
}


# Where a run's files were, which means nothing to a student: a traceback's
# "/tmp/needle-grade-x/runs/box-y/submission/needle/autograd.py" (or
# "../submission/needle/autograd.py") is "needle/autograd.py" in the submission.
# Paths are found word by word with plain string searches, each character
# looked at a bounded number of times: backtracking patterns took quadratic
# time on words of "^" or of "../" (issue 25: a grading 891 s long).
BOX_FOLDERS = ("/submission/", "/suite/")
WORD = re.compile(r"[^\s\"']+")  # between whitespace and quotes: one class repeated, one pass over any text


def without_box_paths(text: str) -> str:
    if not any(folder in text for folder in BOX_FOLDERS):
        return text
    return WORD.sub(lambda word: _without_box_path(word.group()), text)


def _without_box_path(word: str) -> str:
    """``word`` from after its last box folder ("/box-<name>/submission/"),
    and without a leading "../../" that goes up to one."""
    if not any(folder in word for folder in BOX_FOLDERS):
        return word
    start = box_folder_end(word)
    # Only the first folder after it can be where a leading "../../" goes.
    found = [(word.find(folder, start), folder) for folder in BOX_FOLDERS]
    at, folder = min(((at, folder) for at, folder in found if at >= 0), default=(-1, ""))
    ups = word[start:at + 1]  # with the folder's "/"
    if at > start and ups == "../" * (len(ups) // 3):
        return word[at + len(folder):]
    return word[start:]


def box_folder_end(word: str) -> int:
    """Where the last "/box-<name>/submission/" (or suite) of ``word`` ends; 0 if it has none."""
    end = 0
    for folder in BOX_FOLDERS:
        at = word.rfind(folder)
        while at > end:  # right to left: each search starts where the last one found its folder
            name = word.rfind("/", 0, at) + 1
            if name and word.startswith("box-", name) and at > name + len("box-"):
                end = at + len(folder)
                break
            at = word.rfind(folder, 0, at + len(folder) - 1)
    return end


HIDDEN_RUN_ENDED = ("the test process ended before all its tests did (it ran out of time or memory, printed or "
                    "wrote too much, crashed or exited): the tests that did not end count as failed")


def _run_problem(run: Optional[Run], suite: str, missing: str) -> str:
    # A hidden run's problem in words that carry no number the submission
    # chose (its seconds, its exit code, its signal's number): each would
    # carry a few bits of the hidden tests out.
    hidden = suite == "hidden"
    if run is None:
        return missing
    if run.stopped:
        return (f"stopped: the tests of this question {run.stopped}" if hidden
                else f"stopped after {run.seconds:.0f} s: the tests of this question {run.stopped}")
    if run.returncode < 0:
        number = -run.returncode
        if hidden or number not in SIGNALS:
            return f"the test process ended with a signal: {SIGNALS.get(number, 'it was killed')}"
        return f"the test process ended with {signal.Signals(number).name}: {SIGNALS[number]}"
    exit_code = "" if hidden else f" (exit code {run.returncode})"
    if run.disk_full and (run.report is None or run.returncode not in (0, 1)):
        return ("the test process filled the space a run may write to (its records and report), so it could not "
                "write its report: the tests that ended before are scored. Does your code write files?")
    if run.report is None:
        return f"the test process ended{exit_code} without a report"
    if run.returncode not in (0, 1):
        if hidden:  # nothing the submission printed: the public tests show the error
            return ("the tests could not start: importing your code failed; the public tests of this question "
                    "show the error")
        error = without_box_paths(collection_error(run.output_tail))[:MAX_REASON]
        return f"the tests could not start{exit_code}: {error or 'see the output above'}"
    return ""


def score_question(question: Question, suite: str, tests: Iterable[KeyTest], points: float,
                   key: AnswerKey, run: Optional[Run], mnist_dir: Path, missing: str = "not run") -> QuestionResult:
    """The ``points`` of one suite's tests of ``question``, shared by its
    behaviours by weight (those with a scorable test); a behaviour earns
    its share when every one of its tests passes, and each of its tests
    shows an equal part of it."""
    tests = list(tests)
    problem = _run_problem(run, suite, missing)
    reported = {t["nodeid"]: t for t in (run.report["tests"] if run and run.report else [])}
    if suite == "hidden" and run is not None and problem:
        # How a hidden run ends is the submission's choice (an exit after its
        # report, a flood of output...): told in one sentence, and only when
        # it cost a test its outcome, it carries no bit of the hidden tests.
        problem = HIDDEN_RUN_ENDED if any(t.nodeid not in reported for t in tests) else ""
    reasons = {}
    for test in tests:
        outcome, exception, details = _outcome(reported.get(test.nodeid))
        if outcome == "missing":
            reason = problem or "did not run"
        elif outcome != "passed":
            reason = _hidden_reason(exception) if suite == "hidden" else _public_reason(exception) or outcome
        else:
            failure = check_values(test, key.record_dir(suite, question.name), run.record_dir, mnist_dir)
            reason = "" if failure is None else (
                f"{KINDS[failure.kind]}: {failure.what}" if suite == "hidden" else failure.message)
        reasons[test.nodeid] = (reason, details)
    shares = behaviour_shares(tests, points)
    members = {}
    for test in tests:
        members.setdefault(test.behaviour, []).append(test)
    earned = {name: all(not reasons[t.nodeid][0] for t in group) for name, group in members.items()}
    results = []
    for test in tests:
        reason, details = reasons[test.nodeid]
        max_score = shares.get(test.behaviour, 0.0) / len(members[test.behaviour])
        results.append(TestResult(
            nodeid=test.nodeid, suite=suite, question=question.name, hint=test.hint, passed=not reason,
            score=max_score if earned[test.behaviour] else 0.0, max_score=max_score, reason=reason,
            details=details if suite == "public" else "", behaviour=test.behaviour,
        ))
    return QuestionResult(question, suite, tuple(results), problem)


def behaviour_shares(tests: Iterable[KeyTest], points: float) -> Dict[str, float]:
    """Behaviour name to its part of ``points``: by weight, among the
    behaviours that have a scorable test (the others earn nothing)."""
    weights = {}
    for test in tests:
        if test.scored:
            weights[test.behaviour] = test.weight
    total = sum(weights.values())
    return {name: points * weight / total for name, weight in weights.items()} if total else {}


def suite_points(key: AnswerKey, question: Question, suites: Tuple[str, ...]) -> Dict[str, Tuple[float, list]]:
    """Suite to (its part of the question's points, its tests of the
    question): the points shared equally by the suites with a scorable test."""
    per_suite = {s: [t for t in key.tests if t.suite == s and t.question == question.name] for s in suites}
    with_points = [s for s, ts in per_suite.items() if any(t.scored for t in ts)]
    return {s: (question.points / len(with_points) if s in with_points else 0.0, ts) for s, ts in per_suite.items()}


def score(key: AnswerKey, runs: Dict[Tuple[str, str], Optional[Run]], suites: Tuple[str, ...], mnist_dir: Path,
          missing: str = "not run", cache: Optional[dict] = None,
          questions: Sequence[Question] = QUESTIONS) -> Grade:
    """The grade of one submission on ``questions`` (an assignment's, with
    its points): each question's points shared equally by
    the suites that have scorable tests for it, then by their behaviours.  A
    question without a run (None, or absent) fails with ``missing``.  A
    ``cache`` (a dict kept between calls on growing ``runs``) keeps each
    run's result, so that a run is scored once (MNIST targets cost time),
    until a run again replaces it."""
    cache = {} if cache is None else cache
    results = []
    for question in questions:
        for suite, (points, tests) in suite_points(key, question, suites).items():
            run = runs.get((suite, question.name))
            if run is None:
                results.append(score_question(question, suite, tests, points, key, None, mnist_dir, missing))
                continue
            if cache.get((suite, question.name), (None,))[0] is not run:
                cache[suite, question.name] = run, score_question(question, suite, tests, points, key, run, mnist_dir)
            results.append(cache[suite, question.name][1])
    return Grade(tuple(results))


def points_table(key: AnswerKey, suites: Tuple[str, ...], questions: Sequence[Question] = QUESTIONS) -> str:
    """Each question's behaviours: their weight, tests per suite and points
    per suite, as scoring gives them."""
    lines = []
    for question in questions:
        parts = suite_points(key, question, suites)
        shares = {s: behaviour_shares(tests, points) for s, (points, tests) in parts.items()}
        names = list(dict.fromkeys(t.behaviour for _, tests in parts.values() for t in tests if t.scored))
        weights = {t.behaviour: t.weight for _, tests in parts.values() for t in tests}
        width = max([len("behaviour")] + [len(n) for n in names])
        lines += ["", f"{question.name}: {question.title} ({question.points} points)",
                  f"  {'behaviour':<{width}}  weight" + "".join(f"  {s + ' tests':>13}  {s + ' points':>13}"
                                                              for s in suites)]
        for name in names:
            row = f"  {name:<{width}}  {weights[name]:>6g}"
            for s in suites:
                count = sum(t.behaviour == name for t in parts[s][1])
                row += f"  {count:>13}  {shares[s].get(name, 0.0):>13.2f}"
            lines.append(row)
    return "\n".join(lines[1:])
