"""Generate the students' handout from the reference.

Solutions live in ``reference/`` between whole lines ``### BEGIN SOLUTION`` and
``### END SOLUTION``.  In the handout each such region becomes a TODO comment
and a ``raise NotImplementedError`` naming the task and its question, at the
region's indentation, unless its question is one whose solutions the
assignment releases (``carry = "solutions"``): then its code stays, without
the markers.  Only files matching ``HANDOUT_GLOBS`` are copied.  ``handout/``
is the default assignment's handout: every region a TODO.
"""
import ast
import difflib
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

from .course import Assignment
from .defaults import CARRIED, HANDOUT, HANDOUT_GLOBS, KIT_ROOT, REFERENCE
from .errors import AutograderError, CourseError, HandoutOutOfSyncError, MarkerError, QuestionMappingError
from .questions import COURSE, Question

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
# Lines of diff that ``check`` shows: enough to see what drifted, short enough to read.
MAX_DIFF_LINES = 200


@dataclass(frozen=True)
class Region:
    """One solution region: its marker lines (1-based), indentation, the
    function it sits in, and its question."""

    path: str
    begin: int
    end: int
    indent: str
    task: str
    question: Question


def handout_files(root: Path) -> List[str]:
    """The files of an implementation root that go into the handout, as
    sorted relative POSIX paths."""
    found = {
        path.relative_to(root).as_posix()
        for pattern in HANDOUT_GLOBS
        for path in root.glob(pattern)
        if path.is_file() and "__pycache__" not in path.parts
    }
    return sorted(found)


def _marker_pairs(path: str, lines: List[str]) -> List[Tuple[int, int]]:
    """(begin, end) line numbers of each marker pair; raises MarkerError on
    inline, nested or unbalanced markers."""
    pairs, open_line = [], None
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        for marker in (BEGIN, END):
            if marker in line and stripped != marker:
                raise MarkerError(f"{path}:{number}: '{marker}' must be alone on its line")
        if stripped == BEGIN:
            if open_line is not None:
                raise MarkerError(
                    f"{path}:{number}: {BEGIN} inside the region opened at line {open_line}; "
                    f"close it with {END} first (regions do not nest)"
                )
            open_line = number
        elif stripped == END:
            if open_line is None:
                raise MarkerError(f"{path}:{number}: {END} without a {BEGIN} before it")
            pairs.append((open_line, number))
            open_line = None
    if open_line is not None:
        raise MarkerError(f"{path}:{open_line}: {BEGIN} is never closed by {END}")
    return pairs


def _enclosing_function(tree: ast.AST, line: int) -> str:
    """The qualified name of the innermost function that contains ``line``."""
    best, best_start = None, -1

    def visit(node, prefix):
        nonlocal best, best_start
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if isinstance(child, ast.ClassDef):
                    visit(child, name + ".")
                elif child.lineno <= line <= child.end_lineno:
                    if child.lineno > best_start:
                        best, best_start = name, child.lineno
                    visit(child, name + ".")

    visit(tree, "")
    return best


def _question_of(path: str, task: str, line: int) -> Question:
    matches = [q for q in COURSE.questions if q.owns(path, task)]
    if len(matches) != 1:
        names = ", ".join(q.name for q in matches) or "none"
        raise QuestionMappingError(
            f"{path}:{line}: the solution region in {task} matches {len(matches)} questions "
            f"({names}); edit the questions' tasks in grader/course.toml so it matches exactly one"
        )
    return matches[0]


def find_regions(path: str, text: str) -> List[Region]:
    """The solution regions of one reference file."""
    lines = text.splitlines()
    pairs = _marker_pairs(path, lines)
    if not pairs:
        return []
    tree = ast.parse(text, filename=path)
    regions = []
    for begin, end in pairs:
        task = _enclosing_function(tree, begin)
        if task is None:
            raise MarkerError(f"{path}:{begin}: a solution region must sit inside a function")
        line = lines[begin - 1]
        indent = line[: len(line) - len(line.lstrip())]
        regions.append(Region(path, begin, end, indent, task, _question_of(path, task, begin)))
    return regions


def render(text: str, regions: List[Region], released: Iterable[str] = ()) -> str:
    """``text`` with each region replaced by its TODO, but those of the
    ``released`` questions, which keep their code (without the markers)."""
    released = set(released)
    lines = text.splitlines(keepends=True)
    for region in reversed(regions):
        if region.question.name in released:
            lines[region.begin - 1 : region.end] = lines[region.begin : region.end - 1]
            continue
        todo = f"TODO (question {region.question.name}): {region.task}"
        lines[region.begin - 1 : region.end] = [
            f"{region.indent}# {todo}\n",
            f'{region.indent}raise NotImplementedError("{todo}")\n',
        ]
    return "".join(lines)


def generate(reference: Path, released: Iterable[str] = ()) -> Dict[str, str]:
    """The handout's files, relative path to text, made from ``reference``
    with the solutions of the ``released`` questions in."""
    released = tuple(released)
    handout = {}
    for path in handout_files(reference):
        text = (reference / path).read_text(encoding="utf-8")
        handout[path] = render(text, find_regions(path, text), released)
    return handout


def carried(assignment: Assignment, reference: Path = REFERENCE) -> Dict[str, str]:
    """The files that grading ``assignment`` puts in place of the student's:
    those of its handout that hold a released solution (the earlier
    assignments' code, with ``carry = "solutions"``).  Made from
    ``reference`` when there is one, else read from ``CARRIED`` (the
    Gradescope zip ships them, not the reference).  A file that also holds
    a TODO of the assignment's own questions cannot be carried whole:
    CourseError says which."""
    released = {q.name for q in assignment.released}
    if not released:
        return {}
    if not reference.is_dir():
        folder = CARRIED / assignment.name
        if not folder.is_dir():
            raise AutograderError(f"{assignment.name} grades with the released solutions of "
                                  f"{', '.join(sorted(released))}, and neither reference/ nor "
                                  f"{_shown(folder)} (where its Gradescope zip keeps them) is here")
        return {p.relative_to(folder).as_posix(): p.read_text(encoding="utf-8")
                for p in sorted(folder.rglob("*.py"))}
    own = {q.name for q in assignment.questions}
    files = {}
    for path in handout_files(reference):
        text = (reference / path).read_text(encoding="utf-8")
        regions = find_regions(path, text)
        names = {r.question.name for r in regions}
        if names & released:
            if names & own:
                raise CourseError(
                    f"{path} holds solutions of {', '.join(sorted(names & released))} (released in "
                    f"{assignment.name}) and of its own {', '.join(sorted(names & own))}: grading puts released "
                    f"files in place of the student's whole, so move one of them to a file of its own, or "
                    f"set carry = \"students\" for {assignment.name} in grader/course.toml")
            files[path] = render(text, regions, released)
    return files


def all_regions(reference: Path) -> List[Region]:
    """Every solution region of the reference, in file order."""
    return [
        region
        for path in handout_files(reference)
        for region in find_regions(path, (reference / path).read_text(encoding="utf-8"))
    ]


def write(reference: Path, out: Path, released: Iterable[str] = ()) -> List[str]:
    """Write the handout into ``out`` (with the solutions of the
    ``released`` questions in), replacing the files it had; returns the
    paths written."""
    handout = generate(reference, released)
    for stale in set(handout_files(out)) - set(handout) if out.exists() else ():
        (out / stale).unlink()
    for path, text in handout.items():
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return sorted(handout)


def check(reference: Path, out: Path, assignment: Optional[Assignment] = None) -> None:
    """Raise HandoutOutOfSyncError naming each file of ``out`` that is
    missing, extra or differs from what ``reference`` generates, with a
    unified diff of the ones that differ (what ``write`` would change)."""
    handout = generate(reference, [q.name for q in assignment.released] if assignment else ())
    present = set(handout_files(out)) if out.exists() else set()
    problems = [f"missing: {p}" for p in sorted(set(handout) - present)]
    problems += [f"not generated from the reference: {p}" for p in sorted(present - set(handout))]
    diff = []
    for path in sorted(present & set(handout)):
        text = (out / path).read_text(encoding="utf-8", errors="replace")
        if text != handout[path]:
            problems.append(f"differs: {path}")
            diff += _diff(text, handout[path], _shown(out / path), f"generated from {_shown(reference / path)}")
    if problems:
        if len(diff) > MAX_DIFF_LINES:
            diff = diff[:MAX_DIFF_LINES] + [f"... {len(diff) - MAX_DIFF_LINES} more lines"]
        raise HandoutOutOfSyncError(
            f"{_shown(out)} is out of sync with {_shown(reference)}:\n  "
            + "\n  ".join(problems)
            + "".join(f"\n{line}" for line in diff)
            + f"\n{_shown(out)} is generated: edit {_shown(reference)}, never {_shown(out)}."
            + f"\nRun: {_command(reference, out, assignment)}"
        )


def _diff(old: str, new: str, old_name: str, new_name: str) -> List[str]:
    """A unified diff, one line per item, marking a last line with no
    newline as diff does (otherwise such a change would show no change)."""
    lines = []
    for line in difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True), old_name, new_name):
        lines.append(line.rstrip("\n"))
        if not line.endswith("\n"):
            lines.append("\\ No newline at end of file")
    return lines


def _command(reference: Path, out: Path, assignment: Optional[Assignment] = None) -> str:
    """The command that writes ``out`` from ``reference``."""
    command = "python -m grader handout"
    if assignment is not None and assignment.name != COURSE.assignment().name:
        command += f" --assignment {assignment.name}"
    if reference.resolve() != REFERENCE:
        command += f" --reference {shlex.quote(_shown(reference))}"
    if out.resolve() != HANDOUT:
        command += f" --out {shlex.quote(_shown(out))}"
    return command


def _shown(path: Path) -> str:
    """``path`` as the kit's people know it: relative to the kit when inside it."""
    return str(path.relative_to(KIT_ROOT)) if path.is_relative_to(KIT_ROOT) else str(path)
