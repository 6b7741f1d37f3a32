"""The zip that students receive: the handout, the public tests and what
they need to run them.  Never the reference, the hidden suite or a key."""
import json
import zipfile
from pathlib import Path
from typing import List

from . import defaults, handout
from .errors import HandoutOutOfSyncError
from .questions import QUESTIONS

STUDENT_FILES = Path(__file__).resolve().parent / "student"
# What a local run needs beyond the box side: the values files' reader and
# the grader's comparison (no answers: those are in the values files).
LOCAL_CHECK_FILES = ("grader/expected.py", "grader/compare.py")
# The API reference that the tests and their hints cite by section.
DOCS = ("docs/API.md",)


def _questions_table() -> str:
    rows = ["| question | what | points |", "| --- | --- | ---: |"]
    rows += [f"| `{q.name}` | {q.title} | {q.points} |" for q in QUESTIONS]
    return "\n".join(rows)


def contents(handout_dir: Path = defaults.HANDOUT) -> dict:
    """Archive name to bytes, for every file of the bundle."""
    files = {
        "README.md": (STUDENT_FILES / "README.md")
        .read_text(encoding="utf-8")
        .replace("{questions_table}", _questions_table())
        .encode(),
        "questions.json": json.dumps(
            [
                {"name": q.name, "title": q.title, "points": q.points, "public_tests": q.public_tests}
                for q in QUESTIONS
            ],
            indent=2,
        ).encode(),
        "conftest.py": (defaults.KIT_ROOT / "conftest.py").read_bytes(),
        "mnist_fetch.py": defaults.MNIST_FETCH.read_bytes(),
    }
    for name in ("check.py", "pytest.ini", "requirements.txt"):
        files[name] = (STUDENT_FILES / name).read_bytes()
    for path in handout.handout_files(handout_dir):
        files[f"handout/{path}"] = (handout_dir / path).read_bytes()
    # The public tests, their expected values (for local runs), and the box
    # side's library with the comparison that turns values into messages.
    shipped = [*sorted(defaults.TESTS_PUBLIC.glob("*.py")), *sorted((defaults.TESTS_PUBLIC / "expected").glob("*.npz"))]
    shipped += [defaults.KIT_ROOT / p for p in (*defaults.BOX_FILES, *LOCAL_CHECK_FILES, *DOCS)]
    for path in shipped:
        files[path.relative_to(defaults.KIT_ROOT).as_posix()] = path.read_bytes()
    return files


def build(out: Path, handout_dir: Path = defaults.HANDOUT) -> List[str]:
    """Write the bundle to ``out``; returns the archive names.  The handout
    must be in sync with the reference."""
    handout.check(defaults.REFERENCE, handout_dir)
    from .key import expected_out_of_date

    stale = expected_out_of_date()
    if stale:
        raise HandoutOutOfSyncError(f"the public tests' expected values are out of date ({stale[0].name} and "
                                    f"{len(stale) - 1} more); run: python -m grader handout")
    files = contents(handout_dir)
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
