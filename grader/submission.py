"""Turn what a student handed in (a folder, a .zip or a .tar.gz) into a clean
implementation root: ``needle/`` and ``apps/`` only, copied without links,
checked to compile.  Nothing here runs submitted code."""
import contextlib
import functools
import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, List

from .errors import SubmissionError

GRADED_FOLDERS = ("needle", "apps")
MAX_FILES = 2000
MAX_BYTES = 50 << 20
WHAT_TO_SUBMIT = (
    "Submit the folders needle/ and apps/ of your handout, as a folder or a .zip "
    "(for example: cd handout && zip -r ../submission.zip needle apps)."
)


def _check_member(name: str, is_regular: bool, is_dir: bool, archive: Path) -> None:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\"):
        raise SubmissionError(f"{archive.name}: unsafe path {name!r} in the archive (absolute or with '..'). {WHAT_TO_SUBMIT}")
    if not (is_regular or is_dir):
        raise SubmissionError(f"{archive.name}: {name!r} is a link or a special file; archives may hold only files and folders. {WHAT_TO_SUBMIT}")


@dataclass(frozen=True)
class _Member:
    """An archive entry, zip or tar alike."""

    name: str
    is_dir: bool
    is_file: bool  # a regular file (not a link or a device)
    size: int
    open: Callable


def _members(archive: Path, stack: contextlib.ExitStack) -> List[_Member]:
    if zipfile.is_zipfile(archive):
        z = stack.enter_context(zipfile.ZipFile(archive))
        return [
            _Member(i.filename, i.is_dir(), not i.is_dir() and not stat.S_ISLNK(i.external_attr >> 16),
                    i.file_size, functools.partial(z.open, i))
            for i in z.infolist()
        ]
    try:
        t = stack.enter_context(tarfile.open(archive))
        return [_Member(m.name, m.isdir(), m.isreg(), m.size, functools.partial(t.extractfile, m))
                for m in t.getmembers()]
    except tarfile.TarError:
        raise SubmissionError(
            f"{archive.name} is not a folder, a .zip or a .tar.gz archive that can be read. {WHAT_TO_SUBMIT}"
        ) from None


def _extract(archive: Path, out: Path) -> None:
    """Extract ``archive`` into ``out``, after checking every entry."""
    with contextlib.ExitStack() as stack:
        members = _members(archive, stack)
        _limit(archive, len(members), sum(m.size for m in members))
        for m in members:
            _check_member(m.name, m.is_file, m.is_dir, archive)
        for m in members:
            target = out / m.name
            if m.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with m.open() as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)


def _limit(archive: Path, count: int, size: int) -> None:
    if count > MAX_FILES or size > MAX_BYTES:
        raise SubmissionError(
            f"{archive.name} holds {count} files and {size >> 20} MiB; the limits are "
            f"{MAX_FILES} files and {MAX_BYTES >> 20} MiB. {WHAT_TO_SUBMIT}"
        )


def _find_root(folder: Path) -> Path:
    """``folder`` or its single top folder, whichever holds needle/."""
    if (folder / "needle").is_dir():
        return folder
    entries = [p for p in folder.iterdir() if not p.name.startswith((".", "__MACOSX"))]
    if len(entries) == 1 and entries[0].is_dir() and (entries[0] / "needle").is_dir():
        return entries[0]
    raise SubmissionError(f"no needle/ folder at the top of the submission or inside one folder. {WHAT_TO_SUBMIT}")


# Files that configure pytest or Python itself: the grader's own
# configuration decides how tests run, so these never reach a run.
IGNORED = ("conftest.py", "pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "sitecustomize.py",
           "usercustomize.py", "*.pth")


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy regular files only: links are not followed, caches and
    configuration files are left out."""
    for path in sorted(src.rglob("*")):
        if (path.is_symlink() or "__pycache__" in path.parts or not path.is_file()
                or any(path.match(pattern) for pattern in IGNORED)):
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _syntax_errors(root: Path) -> list:
    errors = []
    for path in sorted(root.rglob("*.py")):
        try:
            compile(path.read_bytes(), str(path.relative_to(root)), "exec")
        except SyntaxError as error:
            errors.append(f"{error.filename}:{error.lineno}: {error.msg}")
        except ValueError as error:  # e.g. null bytes
            errors.append(f"{path.relative_to(root)}: {error}")
    return errors


def prepare(submission: Path, work: Path) -> Path:
    """A fresh implementation root under ``work`` holding the submission's
    needle/ and apps/; raises SubmissionError saying what to fix."""
    if not submission.exists():
        raise SubmissionError(f"{submission} does not exist. {WHAT_TO_SUBMIT}")
    if submission.is_dir():
        found = _find_root(submission)
    else:
        extracted = work / "extracted"
        extracted.mkdir(parents=True)
        _extract(submission, extracted)
        found = _find_root(extracted)
    root = work / "submission"
    for name in GRADED_FOLDERS:
        if (found / name).is_dir() and not (found / name).is_symlink():
            _copy_tree(found / name, root / name)
    if not (root / "needle" / "__init__.py").is_file():
        raise SubmissionError(f"needle/__init__.py is missing from the submission. {WHAT_TO_SUBMIT}")
    errors = _syntax_errors(root)
    if errors:
        raise SubmissionError(
            "the submission does not compile, so no test can run:\n  " + "\n  ".join(errors[:10])
            + "\nFix the syntax error(s) and submit again."
        )
    return root
