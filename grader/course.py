"""The course as declared in grader/course.toml: its questions (each a set
of solution regions of ``reference/``) and its assignments in release
order, each with its questions' points.  ``load`` checks the file and
says, in a CourseError, what is wrong and where."""
import fnmatch
import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Tuple

from .defaults import ASSIGNMENT as DEFAULT_ASSIGNMENT, KIT_ROOT
from .errors import CourseError

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

COURSE_FILE = Path(__file__).resolve().with_name("course.toml")
# What stands where an earlier assignment's questions were: the students'
# own code, graded as submitted, or the reference's (released after the
# earlier deadline), in the handout and in place of the student's when grading.
CARRIES = ("students", "solutions")
ASSIGNMENT_POINTS = 100
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")  # a question's name is part of its test files' names


@dataclass(frozen=True)
class Question:
    name: str
    title: str
    points: int  # in the assignment it was taken from
    tasks: Tuple[str, ...]

    @property
    def public_tests(self) -> str:
        return f"tests_public/test_{self.name}.py"

    def owns(self, path: str, task: str) -> bool:
        """Whether the solution region in function ``task`` of ``path`` is this question's."""
        return any(fnmatch.fnmatchcase(f"{path}::{task}", pattern) for pattern in self.tasks)


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    questions: Tuple[Question, ...]  # with this assignment's points, in the file's question order
    carry: str  # what stands where earlier assignments' questions were: one of CARRIES
    earlier: Tuple[Question, ...]  # the questions of the assignments before it that are not its own

    @property
    def total(self) -> int:
        return sum(q.points for q in self.questions)

    @property
    def released(self) -> Tuple[Question, ...]:
        """The questions whose solutions this assignment hands out and grades with."""
        return self.earlier if self.carry == "solutions" else ()


@dataclass(frozen=True)
class Course:
    questions: Tuple[Question, ...]  # every declared question (points 0: points belong to assignments)
    assignments: Tuple[Assignment, ...]

    def assignment(self, name: str = DEFAULT_ASSIGNMENT) -> Assignment:
        for assignment in self.assignments:
            if assignment.name == name:
                return assignment
        raise CourseError(f"no assignment {name!r} in {_shown(COURSE_FILE)}; the assignments are "
                          f"{', '.join(a.name for a in self.assignments)}")

    def test_files_outside(self, assignment: Assignment) -> frozenset:
        """The test files' stems ("test_<question>") of the questions that
        ``assignment`` does not grade: they stay out of its bundle and zip."""
        own = {q.name for q in assignment.questions}
        return frozenset(f"test_{q.name}" for q in self.questions if q.name not in own)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(KIT_ROOT))
    except ValueError:
        return str(path)


def _unknown_keys(where: str, table: dict, known: Tuple[str, ...]) -> None:
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise CourseError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(known)}")


def _question(where: str, name: str, table) -> Question:
    if not isinstance(table, dict):
        raise CourseError(f"{where}: [questions.{name}] must be a table with a title and tasks")
    if "points" in table:
        raise CourseError(f"{where}: [questions.{name}] has points, but points belong to assignments: "
                          f"points = {{ {name} = ... }} in each [[assignments]] that grades it")
    _unknown_keys(f"{where}: [questions.{name}]", table, ("title", "tasks"))
    if not _NAME.match(name):
        raise CourseError(f"{where}: question name {name!r} must be lowercase letters, digits and _ "
                          f"(its tests are tests_public/test_{name}.py)")
    title, tasks = table.get("title"), table.get("tasks")
    if not isinstance(title, str) or not title.strip():
        raise CourseError(f"{where}: question {name} needs a title (text)")
    if not isinstance(tasks, list) or not tasks or not all(isinstance(t, str) and "::" in t for t in tasks):
        raise CourseError(f"{where}: question {name} needs tasks: a list of patterns like "
                          f"\"needle/optim.py::SGD.step\" (path::function, fnmatch wildcards allowed)")
    return Question(name, title.strip(), 0, tuple(tasks))


def _assignment(where: str, index: int, table, questions: dict, earlier: dict) -> Assignment:
    if not isinstance(table, dict):
        raise CourseError(f"{where}: assignment {index} must be a table ([[assignments]])")
    name = table.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise CourseError(f"{where}: assignment {index} needs a name of lowercase letters, digits and _ "
                          f"(got {name!r})")
    at = f"{where}: assignment {name}"
    _unknown_keys(at, table, ("name", "title", "points", "carry"))
    title, points, carry = table.get("title"), table.get("points"), table.get("carry", "students")
    if not isinstance(title, str) or not title.strip():
        raise CourseError(f"{at} needs a title (text)")
    if carry not in CARRIES:
        raise CourseError(f"{at}: carry = {carry!r}; it is one of {', '.join(map(repr, CARRIES))}")
    if not isinstance(points, dict) or not points:
        raise CourseError(f"{at} needs points: a table of question = points, e.g. points = {{ topo_sort = 10 }}")
    unknown = [q for q in points if q not in questions]
    if unknown:
        raise CourseError(f"{at}: no question {', '.join(unknown)}; the questions are {', '.join(questions)}")
    wrong = [f"{q} = {p!r}" for q, p in points.items() if type(p) is not int or p < 1]
    if wrong:
        raise CourseError(f"{at}: points are whole numbers of 1 or more ({', '.join(wrong)})")
    if sum(points.values()) != ASSIGNMENT_POINTS:
        raise CourseError(f"{at}: its points add up to {sum(points.values())}, not {ASSIGNMENT_POINTS}")
    own = tuple(replace(questions[q], points=points[q]) for q in questions if q in points)
    return Assignment(name, title.strip(), own, carry,
                      tuple(q for q in earlier.values() if q.name not in points))


def load(path: Path = COURSE_FILE) -> Course:
    """The course declared in ``path``, checked."""
    where = _shown(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CourseError(f"{where} cannot be read ({error.strerror}): the grader needs it to know the "
                          f"questions and assignments") from None
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{where} is not valid TOML: {error}") from None
    _unknown_keys(where, data, ("questions", "assignments"))
    tables, listed = data.get("questions"), data.get("assignments")
    if not isinstance(tables, dict) or not tables:
        raise CourseError(f"{where} declares no questions: add [questions.NAME] tables")
    if not isinstance(listed, list) or not listed:
        raise CourseError(f"{where} declares no assignments: add [[assignments]] tables")
    questions = {name: _question(where, name, table) for name, table in tables.items()}
    assignments, earlier = [], {}
    for index, table in enumerate(listed, start=1):
        assignment = _assignment(where, index, table, questions, earlier)
        if any(a.name == assignment.name for a in assignments):
            raise CourseError(f"{where}: two assignments are named {assignment.name}")
        assignments.append(assignment)
        if assignment.name != DEFAULT_ASSIGNMENT:  # `all` comes before no other assignment, wherever listed
            earlier.update((q.name, questions[q.name]) for q in assignment.questions)
    default = next((a for a in assignments if a.name == DEFAULT_ASSIGNMENT), None)
    if default is None:
        raise CourseError(f"{where}: no assignment {DEFAULT_ASSIGNMENT!r}, the one every command grades "
                          f"unless given --assignment; add it with every question")
    # The answer key is built for the default assignment's questions: a question outside it would go ungraded.
    graded = {q.name for q in default.questions}
    missing = [q for q in questions if q not in graded]
    if missing:
        raise CourseError(f"{where}: assignment {DEFAULT_ASSIGNMENT!r} lacks {', '.join(missing)}; it holds "
                          f"every question (its answer key serves every assignment)")
    return Course(tuple(questions.values()), tuple(assignments))
