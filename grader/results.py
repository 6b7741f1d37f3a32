"""Export a Grade: Gradescope's results.json, and a table for people."""
import functools
from typing import Dict, List, Optional, Sequence, Tuple

from .questions import QUESTIONS, Question
from .score import Grade, QuestionResult, box_folder_end, without_box_paths

MAX_OUTPUT = 8000  # characters of one test entry's output
MAX_DETAILS = 1500  # characters of one public test's failure message
HIDDEN_HINTS = 3  # a failed hidden behaviour's first hints (of all its tests, whichever failed)
# When students see the hidden suite's entries (Gradescope's test visibility:
# https://gradescope-autograders.readthedocs.io/en/latest/specs/), in words.
HIDDEN_SHOWN = {"after_due_date": "after the due date", "after_published": "once the grades are published",
                "visible": "at once"}


FRAME = '\n  File "'  # a traceback's line that names a frame's file


def _first_box_frame(text: str) -> int:
    """Where the first frame of the test or of the submission starts in a
    traceback (the frames before it are pytest's own); -1 if none does."""
    at = text.find(FRAME)
    while at >= 0:
        path = at + len(FRAME)
        end = text.find('"', path)  # at the latest, the quote of the next frame's line
        if box_folder_end(text[path:end if end >= 0 else len(text)]):
            return at + 1
        at = text.find(FRAME, at + 1)
    return -1


def _details(text: str) -> str:
    """The end of a failure's message, in whole lines, from the first frame
    of the test, without sandbox paths."""
    first = _first_box_frame(text) if text.startswith("Traceback") else -1
    if first >= 0:
        text = "Traceback (most recent call last):\n" + text[first:]
    text = without_box_paths(text)
    if len(text) <= MAX_DETAILS:
        return text
    tail = text[-MAX_DETAILS:]
    return "...\n" + tail[tail.find("\n") + 1:]


def _fit(blocks: List[str], room: int, what: str = "failing tests",
         where: str = " (run the public tests on your computer to see them all: python check.py)") -> str:
    """As many whole blocks as ``room`` characters hold, then how many were left out."""
    shown, used = [], 0
    for i, block in enumerate(blocks):
        note = f"... and {len(blocks) - i} more {what} not shown here{where}"
        if used + len(block) + len(note) + 2 > room:
            return "\n".join([*shown, note])
        shown.append(block)
        used += len(block) + 1
    return "\n".join(shown)


# Results are rebuilt after every run: each run's public text is made once
# (a QuestionResult, frozen, is its run's whole say).
@functools.lru_cache(maxsize=32)
def _public_output(result: QuestionResult, room: int) -> str:
    blocks = []
    for test in result.tests:
        if not test.passed:
            block = f"FAILED {test.nodeid}\n  {without_box_paths(test.reason)[:MAX_DETAILS]}"
            blocks.append(block + (f"\n{_details(test.details)}" if test.details else ""))
    return _fit(blocks, room)


def _hidden_output(result: QuestionResult, room: int) -> str:
    # Pass or fail per behaviour, and what its tests check (all of them,
    # whichever failed), in the grader's words only.  Which tests fail, how
    # many and how is the submission's choice: shown per test, kinds spelled
    # out the hidden tests' source two bits at a time; per behaviour, counts
    # and kinds still carried 16 bytes a grading.
    groups: Dict[str, list] = {}
    for test in result.tests:
        groups.setdefault(test.behaviour, []).append(test)
    blocks = []
    for behaviour, tests in groups.items():
        if not all(t.passed for t in tests):
            hints = list(dict.fromkeys(t.hint for t in tests if t.hint))[:HIDDEN_HINTS]
            blocks.append(f"FAILED {behaviour}" + (": its tests check" + "".join(f"\n  - {hint}" for hint in hints)
                                                   if hints else ""))
    return _fit(blocks, room, "failing behaviours", "")


def _behaviours(result: QuestionResult) -> str:
    """How many behaviours earned their points, and what each lost one cost
    (with its failing tests, in the public suite only: see _hidden_output)."""
    groups = {}
    for test in result.tests:
        groups.setdefault(test.behaviour, []).append(test)
    scored = {name: group for name, group in groups.items() if sum(t.max_score for t in group) > 0}
    lost = [(name, sum(t.max_score for t in group), sum(not t.passed for t in group))
            for name, group in scored.items() if not all(t.passed for t in group)]
    if not scored:
        return ""
    line = f"{len(scored) - len(lost)} of {len(scored)} behaviours earned their points"
    if lost:
        line += " (a behaviour scores when all its tests pass); lost: " + "; ".join(
            f"{name} ({points:.2f} points" + ("" if result.suite == "hidden" else
                                               f", {failing} failing test{'s' if failing > 1 else ''}") + ")"
            for name, points, failing in lost)
    return line + "."


def _entry(number: str, result: QuestionResult, visibility: str = "visible") -> dict:
    passed = sum(t.passed for t in result.tests)
    # How many hidden tests passed is the submission's to choose: not said.
    summary = (f"{passed} of {len(result.tests)} public tests passed." if result.suite == "public"
               else f"{len(result.tests)} hidden tests.")
    behaviours = _behaviours(result)
    if behaviours and not result.problem:
        summary += f"\n{behaviours}"
    if result.problem:
        summary += f"\n{result.problem}"
    # When the run itself failed, its problem says it all: no list of every test.
    room = MAX_OUTPUT - len(summary) - 2
    body = "" if result.problem else (
        _public_output(result, room) if result.suite == "public" else _hidden_output(result, room)
    )
    output = (summary + ("\n\n" + body if body else ""))[:MAX_OUTPUT]
    return {
        "name": f"{result.question.name}: {result.question.title} ({result.suite} tests)",
        "number": number,
        "score": round(result.score, 4),
        "max_score": round(result.max_score, 4),
        "status": "passed" if passed == len(result.tests) else "failed",
        "visibility": visibility,
        "output": output,
    }


def gradescope(grade: Optional[Grade], seconds: float, *, error: str = "", extra: dict = None,
               hidden_visibility: str = "visible") -> dict:
    """Gradescope's results.json for a grade, or for a submission that could
    not be graded (``error`` says what to fix; score 0).  The hidden suite's
    entries get ``hidden_visibility`` (a key of HIDDEN_SHOWN); until they
    are shown, the overall output tells the public tests' points only."""
    if grade is None:
        return {
            "score": 0.0,
            "execution_time": round(seconds, 1),
            "output": f"Your submission could not be graded: {error}",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "tests": [],
            "extra_data": extra or {},
        }
    order = {name: i for i, name in enumerate(grade.by_question(), start=1)}
    suites = sorted({r.suite for r in grade.results}, key=("public", "hidden").index)
    tests = [
        _entry(f"{order[r.question.name]}.{suites.index(r.suite) + 1}", r,
               "visible" if r.suite == "public" else hidden_visibility)
        for r in grade.results
        if r.tests or r.max_score
    ]
    total = round(sum(entry["score"] for entry in tests), 4)  # what Gradescope would add up
    return {
        "score": total,
        "execution_time": round(seconds, 1),
        "output": _overall_output(grade, total, hidden_visibility),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": extra or {},
    }


def _overall_output(grade: Grade, total: float, hidden_visibility: str) -> str:
    if hidden_visibility == "visible":
        return f"Score {total:g} of {grade.max_score:g}.\n\n" + table(grade)
    # Students see this at once: nothing in it may come from a hidden test.
    public = Grade(tuple(r for r in grade.results if r.suite == "public"))
    return (f"Public tests: {public.score:g} of {public.max_score:g} points. The hidden tests' results are "
            f"shown {HIDDEN_SHOWN[hidden_visibility]}.\n\n" + table(public))


def points_by_entry(results: dict) -> Dict[Tuple[str, str], Tuple[float, float]]:
    """(question name, suite) to (score, max score), read back from a
    results.json (its entries are named "<question>: <title> (<suite> tests)")."""
    names = {q.name for q in QUESTIONS}
    points = {}
    for test in results.get("tests", []):
        name = str(test.get("name", ""))
        question, suite = name.split(":", 1)[0], name.rsplit("(", 1)[-1].split(" ", 1)[0]
        if question in names:
            score, max_score = points.get((question, suite), (0.0, 0.0))
            points[question, suite] = (round(score + float(test["score"]), 4),
                                       round(max_score + float(test["max_score"]), 4))
    return points


def points_by_question(results: dict, questions: Sequence[Question] = QUESTIONS) -> Dict[str, Tuple[float, float]]:
    """Question name to (score, max score) of each of ``questions``, read back from a results.json."""
    points = {q.name: [0.0, 0.0] for q in questions}
    for (name, _), (score, max_score) in points_by_entry(results).items():
        if name not in points:
            continue
        points[name][0] += score
        points[name][1] += max_score
    return {name: (round(score, 4), round(max_score, 4)) for name, (score, max_score) in points.items()}


def table(grade: Grade) -> str:
    """Points per question, one row each."""
    rows = [f"{'question':<16} {'points':>15}"]
    for name, (score, max_score) in grade.by_question().items():
        rows.append(f"{name:<16} {score:>7.2f} / {max_score:<6g}")
    rows.append(f"{'total':<16} {grade.score:>7.2f} / {grade.max_score:<6g}")
    return "\n".join(rows)
