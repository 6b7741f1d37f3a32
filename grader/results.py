"""Export a Grade: Gradescope's results.json, and a table for people."""
import functools
from typing import Dict, List, Optional, Sequence, Tuple

from . import feedback
from .questions import QUESTIONS, Question
from .score import WORD, Grade, QuestionResult, without_box_paths

MAX_OUTPUT = 8000  # characters of one test entry's output
HIDDEN_HINTS = 3  # a failed hidden behaviour's first hints (of all its tests, whichever failed)
# When students see the hidden suite's entries (Gradescope's test visibility:
# https://gradescope-autograders.readthedocs.io/en/latest/specs/), in words.
HIDDEN_SHOWN = {"after_due_date": "after the due date", "after_published": "once the grades are published",
                "visible": "at once"}


# A failure shows the student's code only (issue 26): the frames in the
# submission's needle/ and apps/ and what was raised, never pytest's, the
# grader's or the machine's paths, in FAILURE_LINES lines; a question's
# feedback fits on a screen.
FRAME = '  File "'  # a native traceback's line that names a frame's file
TRACEBACK = "Traceback (most recent call last):"
STUDENT_FOLDERS = ("needle/", "apps/")  # the submission's, once box paths are gone
FAILURE_LINES = 12  # lines of one failing test: its name, its reason, its traceback
REASON_LINES = 7  # of them, the reason's (a wrong value: what was expected, what came, the hint)
LINE = 120  # characters of a traceback's line
REASON_LINE = 600  # characters of a reason's line: a wrong value's says where, what came and what was expected
SCREEN = 50  # lines of a question's list of failures
CARETS = frozenset(" ^~")


def _short(line: str) -> str:
    return line if len(line) <= LINE else line[:LINE - 3] + "..."


def _machine_path(word) -> str:
    # A path left after the box's are gone is the machine's (a library, a
    # temporary file): its file name says enough.
    word = word.group()
    return word.rsplit("/", 1)[-1] if word.startswith("/") and word.count("/") > 1 else word


def _clean(text: str) -> str:
    """``text`` without the box's paths, and the machine's cut to their file names."""
    text = without_box_paths(text)
    return WORD.sub(_machine_path, text) if "/" in text else text


def _frames_and_error(text: str) -> Tuple[List[List[str]], List[str]]:
    """The student's frames of a failure's last traceback (each its "File"
    line and its code line) and the lines after the last frame (what was
    raised); no frames and every line when ``text`` is no native traceback."""
    start = text.rfind(TRACEBACK)  # a chained exception's last traceback is the one that failed
    lines = text[start + len(TRACEBACK):].split("\n") if start >= 0 else text.split("\n")
    frames, error, kept, in_frame = [], [], False, False
    for line in lines:
        if line.startswith(FRAME):
            kept, in_frame, error = line[len(FRAME):].startswith(STUDENT_FOLDERS), True, []
            if kept:
                frames.append([_short(line)])
        elif in_frame and line.startswith("    "):  # the frame's code, and carets under it
            if kept and len(frames[-1]) == 1 and not CARETS.issuperset(line):
                frames[-1].append(_short(line))
        elif line.strip():
            in_frame = False
            error.append(_short(line))
    return frames, error


def _details(text: str, room: int = FAILURE_LINES - 2, reason: str = "") -> str:
    """A failure's traceback in at most ``room`` lines: the deepest frames
    in the student's code, and what was raised (less its first line when
    that is ``reason``, shown above it)."""
    frames, error = _frames_and_error(_clean(text))
    if error and reason and error[0].strip() == reason.strip():
        error = error[1:]
    if not frames:  # no traceback of the student's code: the end of what was said
        return "\n".join(error[-room:])
    error = error[:max(room // 3, 1)]
    shown = []
    for frame in reversed(frames):  # the deepest first: that is where it went wrong
        if len(shown) + len(frame) + len(error) + 1 > room:
            break
        shown[:0] = frame
    if len(shown) < sum(map(len, frames)):
        shown.insert(0, "  ...")
    return "\n".join(shown + ["  " + line.lstrip() for line in error])


def _todo_place(details: str) -> str:
    """"ops_mathematic.py:141" of the deepest frame of a TODO's traceback in the student's code."""
    frames, _ = _frames_and_error(without_box_paths(details))
    if not frames:
        return ""
    path, _, rest = frames[-1][0][len(FRAME):].partition('", line ')
    return feedback.place(path, rest.split(",", 1)[0])


def _failure(test, same: int = 0) -> str:
    """A failing public test (and how many more failed the same way) in at most FAILURE_LINES lines."""
    reason = _clean(test.reason).split("\n")[:REASON_LINES]
    more = f" (and {same} more failing the same way)" if same else ""
    lines = [f"FAILED {test.nodeid[:LINE * 2]}{more}"] + ["  " + line[:REASON_LINE] for line in reason]
    details = _details(test.details, FAILURE_LINES - len(lines), reason[0] if reason else "") if test.details else ""
    return "\n".join(lines + ([details] if details else []))


def _fit(blocks: List[str], room: int, what: str = "failing tests",
         where: str = " (run the public tests on your computer to see them all: python check.py)",
         lines: int = 0) -> str:
    """As many whole blocks as ``room`` characters (and ``lines`` lines, if
    given) hold, then how many were left out."""
    shown, used, height = [], 0, 0
    for i, block in enumerate(blocks):
        note = f"... and {len(blocks) - i} more {what} not shown here{where}"
        tall = block.count("\n") + 1
        if used + len(block) + len(note) + 2 > room or (lines and height + tall + 1 > lines):
            return "\n".join([*shown, note])
        shown.append(block)
        used += len(block) + 1
        height += tall
    return "\n".join(shown)


# Results are rebuilt after every run: each run's public text is made once
# (a QuestionResult, frozen, is its run's whole say).
@functools.lru_cache(maxsize=32)
def _public_output(result: QuestionResult, room: int) -> str:
    # One order everywhere (grader/feedback.py, which check.py uses too):
    # the student's mistakes first, then one line for the TODOs not started.
    failed = [test for test in result.tests if not test.passed]
    mistakes = [t for t in failed if not feedback.is_todo(t.reason)]  # feedback.rank's order: the tests' own
    todos = _clean(feedback.todo_line(((t.reason, _todo_place(t.details)) for t in failed
                                       if feedback.is_todo(t.reason)), result.question.name))
    if not mistakes:
        return todos[:room]
    room -= len(todos) + 2 if todos else 0
    same = {}  # tests failing with the same message are shown once, as check.py does
    for test in mistakes:
        same.setdefault(test.reason, []).append(test)
    shown = _fit([_failure(group[0], len(group) - 1) for group in same.values()], max(room, 0),
                 "mistakes", lines=SCREEN - (2 if todos else 0))
    return shown + ("\n\n" + todos if todos else "")


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
        return f"Score {total:.2f} of {grade.max_score:g}.\n\n" + table(grade)  # as the table rounds
    # Students see this at once: nothing in it may come from a hidden test.
    public = Grade(tuple(r for r in grade.results if r.suite == "public"))
    return (f"Public tests: {public.score:.2f} of {public.max_score:g} points. The hidden tests' results are "
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
