"""Scoring: data in (the answer key, what each child process left), a Grade
out.  A test scores only when the submission's process reports it passed
and every value the reference's run handed over for it is there and matches,
checked here: an ndarray of the key's dtype and shape, within the key's
tolerance (or, for a threshold, an error rate computed here)."""
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

import numpy as np

from tests_public.recording import folder_of

from .key import AnswerKey, KeyTest, collection_error
from .questions import QUESTIONS, Question
from .run import Run

MAX_VALUE_BYTES = 64 << 20  # a recorded value larger than this is not read


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
        totals = {q.name: [0.0, 0.0] for q in QUESTIONS}
        for r in self.results:
            totals[r.question.name][0] += r.score
            totals[r.question.name][1] += r.max_score
        return {name: (round(s, 4), round(m, 4)) for name, (s, m) in totals.items()}


def _load(path: Path):
    if not path.is_file() or path.stat().st_size > MAX_VALUE_BYTES:
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None


def value_problem(meta: dict, expected: np.ndarray, got, labels: Optional[np.ndarray] = None) -> str:
    """Why ``got`` does not match ``expected`` under ``meta``; "" if it does."""
    if type(got) is not np.ndarray:
        return "missing or unreadable"
    if meta["kind"] == "error_rate":
        if got.shape != labels.shape:
            return f"predictions of shape {got.shape}, expected {labels.shape}"
        rate = float(np.mean(got != labels))
        return "" if rate <= meta["max_error"] else f"error rate {rate:.2%} above {meta['max_error']:.2%}"
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype}, expected {expected.dtype}"
    if got.shape != expected.shape:
        return f"shape {got.shape}, expected {expected.shape}"
    if expected.dtype.kind in "biu" or expected.dtype == np.bool_:
        same = got == expected
    else:
        with np.errstate(invalid="ignore", over="ignore"):
            same = np.isclose(got, expected, rtol=meta["rtol"], atol=meta["atol"], equal_nan=True)
    bad = int(np.size(same) - np.count_nonzero(same))
    return f"{bad} of {np.size(same)} values differ" if bad else ""


def _check_values(test: KeyTest, key_dir: Path, submitted_dir: Path) -> str:
    for name, meta in test.values.items():
        if meta["kind"] == "labels":
            continue
        expected = _load(folder_of(key_dir, test.nodeid) / f"{name}.npy")
        labels = _load(folder_of(key_dir, test.nodeid) / f"{name}.labels.npy") if meta["kind"] == "error_rate" else None
        problem = value_problem(meta, expected, _load(folder_of(submitted_dir, test.nodeid) / f"{name}.npy"), labels)
        if problem:
            return f"{name}: {problem}"
    return ""


def _outcome(report_test: Optional[dict]) -> Tuple[str, str, str]:
    """(outcome, the exception in a line, the failure report) as the
    submission's process reported them."""
    if report_test is None:
        return "missing", "", ""
    for phase in ("setup", "call", "teardown"):
        info = report_test.get(phase) or {}
        if info.get("outcome") == "failed":
            crash = str((info.get("crash") or {}).get("message", "failed"))
            return "failed", crash.splitlines()[0][:500] if crash else "failed", str(info.get("longrepr") or "")[-4000:]
    return str(report_test.get("outcome", "missing")), "", ""


def _hidden_reason(exception: str) -> str:
    """What a hidden test died of, without its message (which may quote
    expected values), except a TODO left in place."""
    if ":" not in exception:
        return "failed"
    kind = exception.split(":", 1)[0].strip()
    return exception if kind == "NotImplementedError" else f"raised {kind}"


SIGNALS = {
    signal.SIGKILL: "it was killed: it used up its CPU time or memory",
    signal.SIGXCPU: "it used up its CPU time",
    signal.SIGXFSZ: "it wrote a file larger than the limit",
    signal.SIGSEGV: "it crashed (segmentation fault)",
    signal.SIGABRT: "it aborted",
}


def _run_problem(run: Optional[Run], suite: str) -> str:
    if run is None:
        return "not run"
    if run.stopped:
        return f"stopped after {run.seconds:.0f} s: the tests of this question {run.stopped}"
    if run.returncode < 0:
        number = -run.returncode
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        return f"the test process ended with {name}: {SIGNALS.get(number, 'it was killed')}"
    if run.report is None:
        return f"the test process ended (exit code {run.returncode}) without a report"
    if run.returncode not in (0, 1):
        error = collection_error(run.output_tail)
        if suite == "hidden":  # the kind of error and where in the submission, nothing of the suite
            where = [line.split(": in ")[0] for line in run.output_tail.splitlines()
                     if ": in " in line and "/submission/" in line.split(": in ")[0]]
            error = error.split(":", 1)[0] + (f" at {where[-1]}" if where else "")
        error = re.sub(r"\S*/submission/", "", error)  # paths inside the submission's copy
        return f"the tests could not start (exit code {run.returncode}): {error or 'see the public tests'}"
    return ""


def score_question(question: Question, suite: str, tests: Iterable[KeyTest], points: float,
                   key: AnswerKey, run: Optional[Run]) -> QuestionResult:
    tests = list(tests)
    problem = _run_problem(run, suite)
    reported = {t.get("nodeid"): t for t in (run.report["tests"] if run and run.report else [])
                if isinstance(t, dict)}
    scorable = [t for t in tests if any(m["kind"] != "labels" for m in t.values.values())]
    each = points / len(scorable) if scorable else 0.0
    results = []
    for test in tests:
        outcome, exception, details = _outcome(reported.get(test.nodeid))
        max_score = each if test in scorable else 0.0
        if outcome == "missing":
            reason = problem or "did not run"
        elif outcome != "passed":
            reason = _hidden_reason(exception) if suite == "hidden" else exception or outcome
        elif test in scorable:
            mismatch = _check_values(test, key.record_dir(suite, question.name), run.record_dir)
            reason = f"reported passing, but its values do not match the reference's ({mismatch})" if mismatch else ""
        else:
            reason = ""
        passed = not reason
        results.append(TestResult(
            nodeid=test.nodeid, suite=suite, question=question.name, hint=test.hint, passed=passed,
            score=max_score if passed else 0.0, max_score=max_score, reason=reason,
            details=details if suite == "public" else "",
        ))
    return QuestionResult(question, suite, tuple(results), problem)


def score(key: AnswerKey, runs: Dict[Tuple[str, str], Run], suites: Tuple[str, ...]) -> Grade:
    """The grade of one submission: each question's points shared equally by
    the suites that have scorable tests for it, then by those tests."""
    results = []
    for question in QUESTIONS:
        per_suite = {s: [t for t in key.tests if t.suite == s and t.question == question.name] for s in suites}
        with_points = [s for s, ts in per_suite.items() if any(t.values for t in ts)]
        for suite in suites:
            points = question.points / len(with_points) if suite in with_points else 0.0
            results.append(score_question(question, suite, per_suite[suite], points, key,
                                          runs.get((suite, question.name))))
    return Grade(tuple(results))
