"""The zip that students receive for one assignment: its handout, its
questions' public tests and what they need to run them.  Never the
reference, the hidden suite, a key, or a solution the assignment does not
release (only earlier assignments' ones, with ``carry = "solutions"``)."""
import json
import zipfile
from pathlib import Path
from typing import List, Optional

from . import defaults, handout
from .course import Assignment
from .errors import HandoutOutOfSyncError
from .questions import COURSE

STUDENT_FILES = Path(__file__).resolve().parent / "student"
# What a local run needs beyond the box side: the values files' reader,
# the grader's comparison (no answers: those are in the values files) and
# its order of failures, which check.py shows in.
LOCAL_CHECK_FILES = ("grader/expected.py", "grader/compare.py", "grader/feedback.py")
# The API reference that the tests and their hints cite by section.
DOCS = ("docs/API.md",)


def _questions_table(assignment: Assignment) -> str:
    rows = ["| question | what | points |", "| --- | --- | ---: |"]
    rows += [f"| `{q.name}` | {q.title} | {q.points} |" for q in assignment.questions]
    return "\n".join(rows)


def _files_of(questions) -> str:
    """The handout files holding solution regions of ``questions``, named in Markdown."""
    names = {q.name for q in questions}
    paths = dict.fromkeys(r.path for r in handout.all_regions(defaults.REFERENCE) if r.question.name in names)
    return ", ".join(f"`handout/{p}`" for p in paths)


def _carry_note(assignment: Assignment) -> str:
    """What the README says of the earlier assignments' code."""
    if not assignment.earlier:
        return ""
    earlier = ", ".join(q.name for q in assignment.earlier)
    if assignment.released:
        carried = ", ".join(f"`handout/{p}`" for p in handout.carried(assignment))
        return (f"\nThe earlier questions ({earlier}) are solved for you: `handout/` holds their released "
                f"solutions. Grading uses these files as handed out, in place of yours: {carried}. Write "
                f"nothing of your own in them (it would not be graded).\n")
    return (f"\nThis assignment builds on your earlier work ({earlier}): its TODOs are in `handout/` again. "
            f"Copy your own code for them over from your earlier handout (in {_files_of(assignment.earlier)}) "
            f"before you start: the tests here run it, and it is graded as you submit it, so a bug left there "
            f"can cost points here too.\n")


def contents(assignment: Optional[Assignment] = None) -> dict:
    """Archive name to bytes, for every file of ``assignment``'s bundle (the default one's if None)."""
    assignment = assignment or COURSE.assignment()
    own = handout.generate(defaults.REFERENCE, [q.name for q in assignment.released])
    readme = (STUDENT_FILES / "README.md").read_text(encoding="utf-8")
    for field, text in (("{title}", assignment.title), ("{questions_table}", _questions_table(assignment)),
                        ("{carry}", _carry_note(assignment))):
        readme = readme.replace(field, text)
    files = {
        "README.md": readme.encode(),
        "questions.json": json.dumps(
            [
                {"name": q.name, "title": q.title, "points": q.points, "public_tests": q.public_tests}
                for q in assignment.questions
            ],
            indent=2,
        ).encode(),
        "conftest.py": (defaults.KIT_ROOT / "conftest.py").read_bytes(),
        "mnist_fetch.py": defaults.MNIST_FETCH.read_bytes(),
    }
    for name in ("check.py", "pytest.ini", "requirements.txt"):
        files[name] = (STUDENT_FILES / name).read_bytes()
    for path, text in own.items():
        files[f"handout/{path}"] = text.encode()
    # The assignment's public tests (with what every suite shares), their
    # expected values (for local runs), and the box side's library with the
    # comparison that turns values into messages.
    others = COURSE.test_files_outside(assignment)
    shipped = [p for p in (*sorted(defaults.TESTS_PUBLIC.glob("*.py")),
                           *sorted((defaults.TESTS_PUBLIC / "expected").glob("*.npz"))) if p.stem not in others]
    shipped += [defaults.KIT_ROOT / p for p in (*defaults.BOX_FILES, *LOCAL_CHECK_FILES, *DOCS)]
    for path in shipped:
        files[path.relative_to(defaults.KIT_ROOT).as_posix()] = path.read_bytes()
    return files


def build(out: Path, assignment: Optional[Assignment] = None) -> List[str]:
    """Write ``assignment``'s bundle (the default one's if None) to ``out``;
    returns the archive names.  handout/ and the public tests' expected
    values must be in sync with the reference (what CI checks)."""
    handout.check(defaults.REFERENCE, defaults.HANDOUT)
    from .key import expected_out_of_date

    stale = expected_out_of_date()
    if stale:
        raise HandoutOutOfSyncError(f"the public tests' expected values are out of date ({stale[0].name} and "
                                    f"{len(stale) - 1} more); run: python -m grader handout")
    files = contents(assignment)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            add_file(archive, name, data)
    return sorted(files)


def add_file(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    """Add ``data`` as ``name`` with a fixed date, so that the same sources
    give the same zip."""
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.external_attr = mode << 16
    archive.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
