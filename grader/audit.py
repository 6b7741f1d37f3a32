"""Audit the suites with the bug gallery (``tests/bugs.py``): grade every
one-bug submission against the answer key and report, per bug, the points it
lost on its own question (and in its public suite) and elsewhere, and every
bug the suites treat wrongly: one that costs less than 1 point of 100, more
on other questions than on its own, or that the public suite lets through
(unless its entry says why).

An instructor who edits a suite runs ``python -m grader audit`` to see at
once whether the suite still bites.  Each bug is graded by ``grade.grade``,
exactly as a student's submission would be.
"""
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from . import grade, handout, sandbox
from .course import Assignment
from .errors import GradingStopped
from .results import points_by_entry
from .key import AnswerKey
from .questions import BY_NAME, COURSE, TOTAL_POINTS

EPSILON = 1e-6  # points lost below this count as none
# A caught bug must cost at least this share of the points graded (1 point
# of 100 with both suites): a bug that costs a rounding error teaches nothing.
MIN_COST = 0.01


@dataclass(frozen=True)
class BugResult:
    name: str
    question: str
    why: str
    score: float
    lost: Dict[Tuple[str, str], float]  # (question, suite) to points lost there
    seconds: float
    error: str = ""  # why it could not be graded (ungradable, or the grader failed), if so
    max_score: float = 100.0  # the points graded (both suites: 100)
    elsewhere_ok: str = ""  # the bug's word on why it may cost more on other questions
    hidden_only: str = ""  # the bug's word on why the public suite cannot see it

    def lost_on(self, question: Optional[str] = None, suite: Optional[str] = None) -> float:
        return sum(points for (q, s), points in self.lost.items()
                   if (question is None or q == question) and (suite is None or s == suite))

    @property
    def lost_own(self) -> float:
        return self.lost_on(self.question)

    @property
    def lost_elsewhere(self) -> float:
        return self.lost_on() - self.lost_own

    @property
    def caught(self) -> bool:
        """Lost points on its own question (and was gradable)."""
        return not self.error and self.lost_own > EPSILON

    @property
    def caught_anywhere(self) -> bool:
        return not self.error and self.lost_on() > EPSILON

    @property
    def problems(self) -> List[str]:
        """What is wrong with how the suites treat this bug, in lines."""
        if self.error:
            return [f"could not be graded: {self.error}"]
        problems = []
        floor = MIN_COST * self.max_score
        if self.lost_own < floor - EPSILON:
            problems.append(f"costs {self.lost_own:g} on {self.question}, less than {floor:g} "
                            f"({MIN_COST:.0%} of the {self.max_score:g} points graded)")
        if self.lost_elsewhere > self.lost_own + EPSILON and not self.elsewhere_ok:
            problems.append(f"costs more elsewhere ({self.lost_elsewhere:g}) than on {self.question} "
                            f"({self.lost_own:g}); say why in the bug's `elsewhere`, or test "
                            f"{self.question}'s code on its own")
        every_suite = self.max_score >= TOTAL_POINTS - EPSILON
        if self.elsewhere_ok and every_suite and self.lost_elsewhere <= self.lost_own + EPSILON:
            problems.append(f"costs no more elsewhere ({self.lost_elsewhere:g}) than on {self.question} "
                            f"({self.lost_own:g}) with both suites: drop the bug's `elsewhere`, which no longer "
                            f"explains anything")
        if self.public_graded and self.lost_on(self.question, "public") <= EPSILON and not self.hidden_only:
            problems.append(f"the public suite of {self.question} does not catch it (students meet classic "
                            f"bugs there first); add a public test, or say why in the bug's `hidden_only`")
        return problems

    @property
    def public_graded(self) -> bool:
        return any(s == "public" for _, s in self.lost)


def gallery():
    """The bugs of tests/bugs.py (imported here, so that the grader's other
    commands work without the kit's tests, as in the Gradescope image)."""
    from tests import bugs

    return bugs


def points_lost(results: dict) -> Dict[Tuple[str, str], float]:
    """(question name, suite) to points lost, from a results.json."""
    return {entry: round(max_score - score, 4) for entry, (score, max_score) in points_by_entry(results).items()}


def audit_bug(bug, work: Path, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path,
              out: Optional[Path] = None, assignment: Optional[Assignment] = None) -> BugResult:
    """Grade the reference with ``bug`` applied on ``assignment`` (the
    default one if None); its files go under ``work``, its results.json to
    ``out`` (default: under ``work``)."""
    assignment = assignment or COURSE.assignment()
    started = time.monotonic()
    submission = gallery().make_submission(bug, work / bug.name / "submission")
    out = out or work / bug.name / "results.json"
    results = grade.grade(submission, out, key=key, suites=suites, mnist_dir=mnist_dir,
                          questions=assignment.questions, carried=handout.carried(assignment),
                          assignment=assignment.name)
    error = "" if results.get("tests") else str(results.get("output", "ungradable"))
    max_score = sum(float(entry["max_score"]) for entry in results.get("tests", ())) or 100.0
    return BugResult(bug.name, bug.question, bug.why, float(results["score"]), points_lost(results),
                     time.monotonic() - started, error, max_score, bug.elsewhere, bug.hidden_only)


def select(names: Optional[Sequence[str]] = None, assignment: Optional[Assignment] = None) -> List:
    """The gallery's bugs of ``assignment``'s questions (every question's
    if None), or those named (in the gallery's order), checked to apply to
    the current reference (ValueError otherwise)."""
    bugs = gallery()
    unknown = [n for n in names or () if n not in bugs.BY_NAME]
    if unknown:
        raise ValueError(f"no bug named {', '.join(unknown)} in tests/bugs.py; "
                         f"the bugs are: {', '.join(bugs.BY_NAME)}")
    assignment = assignment or COURSE.assignment()
    own = {q.name for q in assignment.questions}
    outside = [f"{n} ({bugs.BY_NAME[n].question})" for n in names or () if bugs.BY_NAME[n].question not in own]
    if outside:
        raise ValueError(f"bug(s) {', '.join(outside)} are of questions that {assignment.name} does not grade; "
                         f"its questions are {', '.join(sorted(own))}")
    selected = [b for b in bugs.BUGS if (b.name in names if names else b.question in own)]
    check(selected)
    return selected


def check(selected: Iterable) -> None:
    """Raise ValueError, before any grading, if a bug no longer applies to
    reference/ or names no question."""
    bugs = gallery()
    for bug in selected:
        if bug.question not in BY_NAME:
            raise ValueError(f"bug {bug.name!r} names no question of grader/course.toml: {bug.question!r}")
        bugs.patched_text(bug)


def audit(bugs: Iterable, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path, jobs: int = 1,
          out_dir: Optional[Path] = None, progress=None, assignment: Optional[Assignment] = None) -> List[BugResult]:
    """Grade every bug, ``jobs`` at a time; results in the bugs' order, and
    each bug's results.json kept as ``out_dir/<bug>.json`` when ``out_dir``
    is given.  ``progress(done, total, result)`` is called as each bug
    finishes."""
    bugs = list(bugs)
    check(bugs)
    lock, done = threading.Lock(), []
    with tempfile.TemporaryDirectory(prefix="audit-") as tmp:

        def one(bug) -> BugResult:
            out = out_dir / f"{bug.name}.json" if out_dir else None
            try:
                result = audit_bug(bug, Path(tmp), key=key, suites=suites, mnist_dir=mnist_dir, out=out,
                                   assignment=assignment)
            except GradingStopped:
                raise
            except Exception as error:  # a grader bug: report it with the others
                result = BugResult(bug.name, bug.question, bug.why, 0.0, {}, 0.0,
                                   f"the grader failed: {type(error).__name__}: {error}",
                                   elsewhere_ok=bug.elsewhere, hidden_only=bug.hidden_only)
            with lock:
                done.append(result)
                if progress:
                    progress(len(done), len(bugs), result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(one, bug) for bug in bugs]
            with sandbox.stop_on_interrupt(futures):
                return [future.result() for future in futures]


def _elsewhere(result: BugResult) -> str:
    others = {}
    for (name, _), points in result.lost.items():
        if name != result.question and points > EPSILON:
            others[name] = others.get(name, 0.0) + points
    if not others:
        return "0"
    return f"{result.lost_elsewhere:g} (" + ", ".join(f"{n} {p:g}" for n, p in others.items()) + ")"


def report(results: List[BugResult], suites: Tuple[str, ...], assignment: Optional[Assignment] = None) -> str:
    """The table, then every bug the suites treat wrongly and why."""
    assignment = assignment or COURSE.assignment()
    points = {q.name: q.points for q in assignment.questions}
    width = max([len("bug")] + [len(r.name) for r in results])
    qwidth = max(len(q) for q in points)
    lines = [
        f"Bug gallery audit of {assignment.name} ({len(results)} bugs, suites: {','.join(suites)})",
        "",
        f"{'bug':<{width}}  {'question':<{qwidth}}  {'lost on it':>13}  {'public':>6}  lost elsewhere",
    ]
    for r in results:
        own = "error" if r.error else f"{r.lost_own:g} / {points[r.question]}"
        public = "-" if r.error or not r.public_graded else f"{r.lost_on(r.question, 'public'):g}"
        lines.append(f"{r.name:<{width}}  {r.question:<{qwidth}}  {own:>13}  {public:>6}  {_elsewhere(r)}")
    lines.append("")
    failing = [r for r in results if r.problems]
    missed = [r for r in results if not r.error and not r.caught_anywhere]
    if missed:
        lines.append(f"NOT CAUGHT by any test ({len(missed)}):")
        lines += [f"  {r.name} [{r.question}]: {r.why}" for r in missed]
    if failing:
        lines.append(f"BUGS THE SUITES TREAT WRONGLY ({len(failing)}; fix the suite, the bug in tests/bugs.py, "
                     f"or the grader):")
        for r in failing:
            lines.append(f"  {r.name} [{r.question}]: {r.why}")
            lines += [f"    - {problem}" for problem in r.problems]
    else:
        lines.append(f"Every bug costs at least {MIN_COST:.0%} of the points graded, most of it on its own "
                     f"question, and the public suite catches it (or its entry says why not).")
    caught = sum(r.caught for r in results)
    lines.append(f"{caught} of {len(results)} bugs caught on their own question; "
                 f"{len(results) - len(failing)} of {len(results)} pass every rule.")
    return "\n".join(lines)


def run(*, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path, jobs: int = 1,
        names: Optional[Sequence[str]] = None, out_dir: Optional[Path] = None,
        assignment: Optional[Assignment] = None) -> Tuple[int, str]:
    """(exit code, report): 0 when every bug passes every rule of ``BugResult.problems``."""
    bugs = select(names, assignment)

    def progress(done, total, result):
        status = f"error: {result.error.splitlines()[0]}" if result.error else (
            f"lost {result.lost_own:g} on {result.question}, {result.lost_elsewhere:g} elsewhere")
        print(f"  [{done}/{total}] {result.name}: {status} ({result.seconds:.0f} s)", file=sys.stderr, flush=True)

    print(f"grading {len(bugs)} one-bug submissions, {max(1, jobs)} at a time...", file=sys.stderr, flush=True)
    results = audit(bugs, key=key, suites=suites, mnist_dir=mnist_dir, jobs=jobs, out_dir=out_dir,
                    progress=progress, assignment=assignment)
    return (0 if not any(r.problems for r in results) else 1), report(results, suites, assignment)
