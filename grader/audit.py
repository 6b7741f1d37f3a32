"""Audit the suites with the bug gallery (``tests/bugs.py``): grade every
one-bug submission against the answer key and report, per bug, the points it
lost on its own question and elsewhere, and the bugs that no test caught.

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

from . import grade, sandbox
from .errors import GradingStopped
from .results import points_by_question as result_points
from .key import AnswerKey
from .questions import BY_NAME, QUESTIONS

EPSILON = 1e-6  # points lost below this count as none


@dataclass(frozen=True)
class BugResult:
    name: str
    question: str
    why: str
    score: float
    lost: Dict[str, float]  # question name to points lost there
    seconds: float
    error: str = ""  # why it could not be graded (ungradable, or the grader failed), if so

    @property
    def lost_own(self) -> float:
        return self.lost.get(self.question, 0.0)

    @property
    def lost_elsewhere(self) -> float:
        return sum(points for name, points in self.lost.items() if name != self.question)

    @property
    def caught(self) -> bool:
        """Lost points on its own question (and was gradable)."""
        return not self.error and self.lost_own > EPSILON

    @property
    def caught_anywhere(self) -> bool:
        return not self.error and (self.lost_own + self.lost_elsewhere) > EPSILON


def gallery():
    """The bugs of tests/bugs.py (imported here, so that the grader's other
    commands work without the kit's tests, as in the Gradescope image)."""
    from tests import bugs

    return bugs


def points_lost(results: dict) -> Dict[str, float]:
    """Question name to points lost, from a results.json."""
    return {name: round(max_score - score, 4)
            for name, (score, max_score) in result_points(results).items()}


def audit_bug(bug, work: Path, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path,
              out: Optional[Path] = None) -> BugResult:
    """Grade the reference with ``bug`` applied; its files go under ``work``,
    its results.json to ``out`` (default: under ``work``)."""
    started = time.monotonic()
    submission = gallery().make_submission(bug, work / bug.name / "submission")
    out = out or work / bug.name / "results.json"
    results = grade.grade(submission, out, key=key, suites=suites, mnist_dir=mnist_dir)
    error = "" if results.get("tests") else str(results.get("output", "ungradable"))
    return BugResult(bug.name, bug.question, bug.why, float(results["score"]), points_lost(results),
                     time.monotonic() - started, error)


def select(names: Optional[Sequence[str]] = None) -> List:
    """The gallery's bugs, or those named (in the gallery's order), checked
    to apply to the current reference (ValueError otherwise)."""
    bugs = gallery()
    unknown = [n for n in names or () if n not in bugs.BY_NAME]
    if unknown:
        raise ValueError(f"no bug named {', '.join(unknown)} in tests/bugs.py; "
                         f"the bugs are: {', '.join(bugs.BY_NAME)}")
    selected = [b for b in bugs.BUGS if not names or b.name in names]
    check(selected)
    return selected


def check(selected: Iterable) -> None:
    """Raise ValueError, before any grading, if a bug no longer applies to
    reference/ or names no question."""
    bugs = gallery()
    for bug in selected:
        if bug.question not in BY_NAME:
            raise ValueError(f"bug {bug.name!r} names no question of grader/questions.py: {bug.question!r}")
        bugs.patched_text(bug)


def audit(bugs: Iterable, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path, jobs: int = 1,
          out_dir: Optional[Path] = None, progress=None) -> List[BugResult]:
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
                result = audit_bug(bug, Path(tmp), key=key, suites=suites, mnist_dir=mnist_dir, out=out)
            except GradingStopped:
                raise
            except Exception as error:  # a grader bug: report it with the others
                result = BugResult(bug.name, bug.question, bug.why, 0.0, {}, 0.0,
                                   f"the grader failed: {type(error).__name__}: {error}")
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
    others = [(n, p) for n, p in result.lost.items() if n != result.question and p > EPSILON]
    if not others:
        return "0"
    return f"{result.lost_elsewhere:g} (" + ", ".join(f"{n} {p:g}" for n, p in others) + ")"


def report(results: List[BugResult], suites: Tuple[str, ...]) -> str:
    """The table, then the bugs that were not caught."""
    width = max([len("bug")] + [len(r.name) for r in results])
    qwidth = max(len(q.name) for q in QUESTIONS)
    lines = [
        f"Bug gallery audit ({len(results)} bugs, suites: {','.join(suites)})",
        "",
        f"{'bug':<{width}}  {'question':<{qwidth}}  {'lost on it':>13}  lost elsewhere",
    ]
    for r in results:
        own = "error" if r.error else f"{r.lost_own:g} / {BY_NAME[r.question].points}"
        lines.append(f"{r.name:<{width}}  {r.question:<{qwidth}}  {own:>13}  {_elsewhere(r)}")
    errors = [r for r in results if r.error]
    missed = [r for r in results if not r.error and not r.caught_anywhere]
    elsewhere_only = [r for r in results if r.caught_anywhere and not r.caught]
    lines.append("")
    if errors:
        lines.append(f"COULD NOT BE GRADED ({len(errors)}; fix the bug in tests/bugs.py or the grader):")
        lines += [f"  {r.name} [{r.question}]: {r.error}" for r in errors]
    if missed:
        lines.append(f"NOT CAUGHT by any test ({len(missed)}):")
        lines += [f"  {r.name} [{r.question}]: {r.why}" for r in missed]
    elif not errors:
        lines.append("Every bug lost points somewhere: no bug went uncaught.")
    if elsewhere_only:
        lines.append(f"Caught only by other questions' tests, not by their own question's ({len(elsewhere_only)}):")
        lines += [f"  {r.name} [{r.question}]: {r.why}" for r in elsewhere_only]
    caught = sum(r.caught for r in results)
    lines.append(f"{caught} of {len(results)} bugs caught on their own question.")
    return "\n".join(lines)


def run(*, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path, jobs: int = 1,
        names: Optional[Sequence[str]] = None, out_dir: Optional[Path] = None) -> Tuple[int, str]:
    """(exit code, report): 0 when every bug lost points on its own question."""
    bugs = select(names)

    def progress(done, total, result):
        status = f"error: {result.error.splitlines()[0]}" if result.error else (
            f"lost {result.lost_own:g} on {result.question}, {result.lost_elsewhere:g} elsewhere")
        print(f"  [{done}/{total}] {result.name}: {status} ({result.seconds:.0f} s)", file=sys.stderr, flush=True)

    print(f"grading {len(bugs)} one-bug submissions, {max(1, jobs)} at a time...", file=sys.stderr, flush=True)
    results = audit(bugs, key=key, suites=suites, mnist_dir=mnist_dir, jobs=jobs, out_dir=out_dir,
                    progress=progress)
    return (0 if all(r.caught for r in results) else 1), report(results, suites)
