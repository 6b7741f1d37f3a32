"""Turn what a student handed in (a folder, a .zip or a .tar.gz) into a clean
implementation root: ``needle/`` and ``apps/`` only, copied without links,
checked to compile.  Nothing here runs submitted code, and nothing a
submission holds (damaged archives, odd names, deep folders, FIFOs, source
too nested to compile, compression bombs) escapes as anything but a
SubmissionError.  Archives are opened in a child process under limits
(``_unpack``): decompressors and parsers meet hostile bytes there, never in
the grader's own process."""
import bz2
import contextlib
import ctypes
import gzip
import io
import json
import lzma
import math
import multiprocessing
import os
import resource
import signal
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
import zlib
from dataclasses import dataclass
from itertools import islice
from multiprocessing.connection import Connection
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator, List, Mapping, Optional, Tuple

from .errors import SubmissionError
from .run import remove_tree

GRADED_FOLDERS = ("needle", "apps")
MAX_FILES = 2000
MAX_BYTES = 50 << 20
# One Python file: the handout's largest is a few dozen KiB.
MAX_SOURCE = 1 << 20
# Graded code lives a few folders deep in needle/ and apps/: deeper or longer
# paths are refused before any folder is made, so that no walk (ours, or the
# clean-up's rmtree) meets Python's recursion limit or the system's PATH_MAX.
MAX_DEPTH = 32
MAX_NAME = 255  # bytes per name: Linux's limit
MAX_PATH = 1024  # bytes per path: far below PATH_MAX (4096), whatever folder holds the copy
# An archive may unpack to MAX_RATIO times its own size (code compresses
# about 5 times; zeros, up to a million times): past that it is a
# compression bomb, refused as soon as a header or the stream says so.
MAX_RATIO = 100
RATIO_FLOOR = 1 << 20  # bytes any archive may unpack to: a small tar of tiny files is mostly padding
# The child that unpacks an archive, and the one that compiles the code: its
# time (never more than the submission's budget has left) and memory
# (decompressors that trust no declared size, as zipfile's bzip2 and lzma
# readers, and the compiler, which checks a call's keywords pair by pair,
# meet these walls).
UNPACK_SECONDS = 60.0
UNPACK_MEMORY = 512 << 20
WHAT_TO_SUBMIT = (
    "Submit the folders needle/ and apps/ of your handout, as a folder or a .zip "
    "(for example: cd handout && zip -r ../submission.zip needle apps)."
)
# Files that configure pytest or Python itself: the grader's own
# configuration decides how tests run, so these never reach a run.
IGNORED = ("conftest.py", "pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini", "sitecustomize.py",
           "usercustomize.py", "*.pth")


def _shown(name: str) -> str:
    """``name`` quoted for a message: escaped, and cut when long."""
    return repr(name if len(name) <= 100 else name[:100] + "...")


def _path(name: str, where: str) -> PurePosixPath:
    """``name`` as a relative path; refused when it could land outside,
    cannot be written as UTF-8, or is too deep or too long."""
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or name.startswith("\\") or "\0" in name:
        raise SubmissionError(f"{where}: unsafe path {_shown(name)} (absolute, with '..' or a null byte). "
                              f"{WHAT_TO_SUBMIT}")
    try:
        longest = max((len(part.encode()) for part in path.parts), default=0)
    except UnicodeEncodeError:  # bytes that are not UTF-8, read as surrogates
        raise SubmissionError(f"{where}: the file name {_shown(name)} is not valid UTF-8; rename it with plain "
                              f"letters, digits, '_' and '.'. {WHAT_TO_SUBMIT}") from None
    if len(path.parts) > MAX_DEPTH or longest > MAX_NAME or len(name.encode()) > MAX_PATH:
        raise SubmissionError(
            f"{where}: the path {_shown(name)} is too deep or too long: paths more than {MAX_DEPTH} levels deep "
            f"(needle/ops/x.py is 3), names longer than {MAX_NAME} bytes and paths longer than {MAX_PATH} bytes "
            f"are refused; graded code lives in needle/ and apps/ only. {WHAT_TO_SUBMIT}")
    return path


def _unpacks_to(packed: int) -> int:
    """The most bytes an archive of ``packed`` bytes may unpack to."""
    return max(RATIO_FLOOR, MAX_RATIO * packed)


def _too_much(where: str, over_limits: bool, bomb: bool) -> SubmissionError:
    limits = f"holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MiB, the limits" if over_limits else ""
    ratio = (f"unpacks to more than {MAX_RATIO} times its own size{'' if over_limits else ', the limit'} (code "
             f"compresses about 5 times: this looks like a compression bomb)") if bomb else ""
    return SubmissionError(f"{where} {', and '.join(filter(None, (limits, ratio)))}; submit your code only, "
                           f"without data, caches or environments. {WHAT_TO_SUBMIT}")


class _Budget:
    """What a submission may still hold: MAX_FILES files and MAX_BYTES bytes
    and, unpacked from an archive of ``packed`` bytes, no more than
    _unpacks_to(packed); counted as they are read (declared sizes may lie)."""

    def __init__(self, where: str, packed: Optional[int] = None):
        self.where, self.files, self.bytes = where, 0, 0
        self.unpacks_to = math.inf if packed is None else _unpacks_to(packed)

    def take(self, files: int, size: int) -> None:
        self.files, self.bytes = self.files + files, self.bytes + size
        if self.files > MAX_FILES or self.bytes > min(MAX_BYTES, self.unpacks_to):
            raise _too_much(self.where, self.files > MAX_FILES or self.bytes > MAX_BYTES,
                            self.bytes > self.unpacks_to)

    def read(self, file) -> bytes:
        # One byte more than allowed tells "too much" without reading it all.
        data = file.read(min(MAX_BYTES, self.unpacks_to) - self.bytes + 1)
        self.take(1, len(data))
        return data


# --- archives -------------------------------------------------------------------

# What zipfile, tarfile and their decompressors raise on a damaged, truncated
# or encrypted (RuntimeError) archive, or on names that are not UTF-8
# (UnicodeDecodeError, a ValueError).
_UNREADABLE = (OSError, EOFError, ValueError, RuntimeError, zlib.error, lzma.LZMAError, zipfile.BadZipFile,
               tarfile.TarError)


@contextlib.contextmanager
def _reading(archive: Path):
    """Reads of ``archive``, whose failures are the submission's."""
    try:
        yield
    except _UNREADABLE as error:
        if isinstance(error, UnicodeDecodeError):
            raise SubmissionError(f"{archive.name} holds a file name that is not valid UTF-8; rename it with "
                                  f"plain letters, digits, '_' and '.'. {WHAT_TO_SUBMIT}") from None
        detail = " ".join(f"{type(error).__name__}: {error}".split())[:200]
        raise SubmissionError(
            f"{archive.name} cannot be read ({detail}): it is damaged, truncated, encrypted or not a .zip or a "
            f".tar.gz at all. Make the archive again from your folders. {WHAT_TO_SUBMIT}") from None


@dataclass(frozen=True)
class _Member:
    """An archive entry, zip or tar alike."""

    name: str
    is_dir: bool
    is_file: bool  # a regular file (not a link or a device)
    size: int  # as declared
    open: Callable


# The compressions that tarfile's "r:*" reads, by their first bytes (a
# plain tar has none): decompressed here, so that every byte tarfile reads
# passes through _Capped.
_DECOMPRESSORS = ((b"\x1f\x8b", gzip.open), (b"BZh", bz2.open), (b"\xfd7zXZ\x00", lzma.open))
# A tar's stream beyond its files' bytes: each entry's header, long name or
# pax header and padding, and the blocks that end it.
_TAR_HEADROOM = (MAX_FILES + 2) * 8 * tarfile.BLOCKSIZE


def _decompressed(archive: Path, stack: contextlib.ExitStack) -> BinaryIO:
    raw = stack.enter_context(archive.open("rb"))
    head = raw.read(6)
    raw.seek(0)
    opener = next((opener for magic, opener in _DECOMPRESSORS if head.startswith(magic)), None)
    return stack.enter_context(opener(raw)) if opener else raw


@dataclass(frozen=True)
class _Capped:
    """A tar's decompressed stream, for tarfile: it goes no further than the
    archive may unpack to, checked before a read fills memory or a seek
    makes the decompressor work its way there."""

    stream: BinaryIO
    where: str
    packed: int  # the archive's size

    @property
    def most(self) -> int:
        return min(MAX_BYTES + _TAR_HEADROOM, _unpacks_to(self.packed))

    def _reach(self, end: int) -> None:
        if end > self.most:
            raise _too_much(self.where, end > MAX_BYTES + _TAR_HEADROOM, end > _unpacks_to(self.packed))

    def read(self, size: int = -1) -> bytes:
        at = self.stream.tell()
        data = self.stream.read(self.most - at + 1 if size < 0 else min(size, self.most - at + 1))
        self._reach(at + len(data))
        return data

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._reach(offset + (self.stream.tell() if whence == io.SEEK_CUR else 0))
        return self.stream.seek(offset, whence)

    def tell(self) -> int:
        return self.stream.tell()


def _taken(budget: _Budget, listed: Iterator[_Member]) -> List[_Member]:
    """The members ``listed``, each size taken from ``budget`` before the next is listed."""
    members = []
    for member in listed:
        budget.take(1, member.size)
        members.append(member)
    return members


def _members(archive: Path, stack: contextlib.ExitStack, declared: _Budget) -> List[_Member]:
    """The entries of ``archive``, their declared sizes taken from ``declared``."""
    if zipfile.is_zipfile(archive):
        z = stack.enter_context(zipfile.ZipFile(archive))
        listed = (_Member(i.filename, i.is_dir(), not i.is_dir() and not stat.S_ISLNK(i.external_attr >> 16),
                          i.file_size, lambda i=i: z.open(i)) for i in z.infolist())
        return _taken(declared, listed)
    stream = _Capped(_decompressed(archive, stack), archive.name, archive.stat().st_size)
    t = stack.enter_context(tarfile.open(fileobj=stream, mode="r:"))
    # A tar is listed by reading it through: a member's data are
    # decompressed, to reach the next header, once its size is allowed.
    members = _taken(declared, (_Member(m.name, m.isdir(), m.isreg(), m.size, lambda m=m: t.extractfile(m))
                                for m in t))
    # Then to its end, where gzip checks its CRC: a tar's own checksums cover
    # headers only, so a damaged stream could otherwise pass as garbled files.
    stream.read()
    return members


def _check_layout(members: List[_Member], paths: List[PurePosixPath], where: str) -> None:
    """Refuses links and special files, a file listed twice, and a name that
    is both a file and a folder: extraction could only fail or overwrite."""
    files, folders = set(), {PurePosixPath(".")}  # the top, where a file named "" or "." would land
    for m, path in zip(members, paths):
        folders.update(path.parents)
        if m.is_dir:
            folders.add(path)
        elif not m.is_file:
            raise SubmissionError(f"{where}: {_shown(m.name)} is a link or a special file; archives may hold only "
                                  f"files and folders. {WHAT_TO_SUBMIT}")
        elif path in files:
            raise SubmissionError(f"{where}: {_shown(str(path))} is in the archive twice. Make the archive again "
                                  f"from your folders. {WHAT_TO_SUBMIT}")
        else:
            files.add(path)
    both = sorted(files & folders)
    if both:
        raise SubmissionError(f"{where}: {_shown(str(both[0]))} is both a file and a folder in the archive. Make "
                              f"the archive again from your folders. {WHAT_TO_SUBMIT}")


def _extract(archive: Path, out: Path) -> None:
    """Extract ``archive`` into ``out``, after checking every entry (in _unpack's child)."""
    packed = archive.stat().st_size
    _Budget(archive.name).take(0, packed)  # a bigger archive is refused unread
    with contextlib.ExitStack() as stack:
        with _reading(archive):
            members = _members(archive, stack, _Budget(archive.name, packed))  # as declared, before any write
        paths = [_path(m.name, archive.name) for m in members]
        _check_layout(members, paths, archive.name)
        budget = _Budget(archive.name, packed)  # as read
        for m, path in zip(members, paths):
            target = out.joinpath(*path.parts)
            if m.is_dir:
                target.mkdir(parents=True, exist_ok=True)
                continue
            with _reading(archive), m.open() as src:
                data = budget.read(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


# --- the child that unpacks ------------------------------------------------------

_KIT = Path(__file__).resolve().parent.parent  # where `python -m grader.submission` finds this very package
_ANSWER_BYTES = 64 << 10  # the child's answer: a message of a few lines
_EXIT_GRACE = 5.0  # seconds for the child to exit once it has answered
_PR_SET_PDEATHSIG = 1


def _past_the_walls(job: str, where: str, seconds: float) -> SubmissionError:
    if job == "compile":
        return SubmissionError(
            f"{where} could not be compiled within the limits for compiling ({seconds:.3g} s, "
            f"{UNPACK_MEMORY >> 20} MiB of memory), which a course's code stays far below: does a file hold "
            f"generated code (a call with thousands of arguments, a huge literal)? Remove it. {WHAT_TO_SUBMIT}")
    return SubmissionError(
        f"{where} could not be unpacked within the limits for unpacking ({seconds:.3g} s, {UNPACK_MEMORY >> 20} "
        f"MiB of memory), which archives of code stay far below: it looks like a compression bomb, or sizes in it "
        f"are false. Make the archive again from your folders. {WHAT_TO_SUBMIT}")


def _unpack(archive: Path, out: Path, seconds: float) -> None:
    """_extract in a limited child (``_in_child``)."""
    _in_child("extract", archive.name, seconds, archive, out)


def _in_child(job: str, where: str, seconds: float, *paths: Path) -> dict:
    """``job`` ("extract": _extract, "compile": _syntax_errors) on
    ``paths`` in a child process, limited in CPU time, memory and file size
    and killed after ``seconds``, whose answer comes through a pipe, read
    up to a bound.  No submitted code runs there, but the submission's bytes
    are hostile: whatever they make the decompressors, parsers and the
    compiler do, the grader's own memory and time are safe."""
    seconds = max(0.0, min(seconds, UNPACK_SECONDS))
    answer, write = multiprocessing.Pipe(duplex=False)
    with answer:
        with write:
            child = subprocess.Popen(
                [sys.executable, "-m", __name__, job, str(write.fileno()), str(os.getpid()), str(seconds),
                 *(str(path.absolute()) for path in paths)],
                cwd=_KIT, stdin=subprocess.DEVNULL, start_new_session=True, pass_fds=(write.fileno(),))
        said = None  # no answer in time
        try:
            if answer.poll(seconds):
                said = answer.recv_bytes(_ANSWER_BYTES)  # past the bound, OSError: the grader's own fault
        except EOFError:  # it ended without a word
            said = b""
        finally:
            if said is not None:  # it is done: let it exit
                with contextlib.suppress(subprocess.TimeoutExpired):
                    child.wait(_EXIT_GRACE)
            child.kill()
            child.wait()
    if said is None or (not said and child.returncode < 0):  # out of time, or stopped by a limit
        raise _past_the_walls(job, where, seconds)
    result = json.loads(said) if said else {"crash": f"exit code {child.returncode} and no answer"}
    if "error" in result:
        raise SubmissionError(result["error"])
    if "crash" in result:
        raise RuntimeError(f"{job} of {where} failed: {result['crash']}")
    return result


def _child(job: str, write: int, parent: int, seconds: float, *paths: Path) -> None:
    """The child's side of _in_child: limits, then the job; its answer (JSON) goes to the pipe ``write``."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # dies with the grader, however it ends
    if os.getppid() != parent:  # it ended before that
        return
    for kind, value in ((resource.RLIMIT_CPU, max(1, math.ceil(seconds))), (resource.RLIMIT_AS, UNPACK_MEMORY),
                        (resource.RLIMIT_FSIZE, MAX_BYTES), (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(kind, (value, value))
    try:
        # Ten errors, each cut: a message quotes the code (a name of 70,000 characters once overflowed the pipe).
        answer = ({"errors": [error[:MAX_ERROR] for error in _syntax_errors(*paths)[:10]]} if job == "compile"
                  else (_extract(*paths) or {}))
    except SubmissionError as error:
        answer = {"error": str(error)[:_ANSWER_BYTES // 4]}
    except MemoryError:
        answer = {"error": str(_past_the_walls(job, paths[0].name, seconds))}
    except Exception as error:  # the grader's own fault
        answer = {"crash": f"{type(error).__name__}: {error}"[:2000]}
    with Connection(write, readable=False) as channel:
        channel.send_bytes(json.dumps(answer).encode())


# --- folders --------------------------------------------------------------------


def _searched(entry: os.DirEntry) -> bool:
    """A folder (not a link) that may hold the graded code: not a cache, a
    dot folder or macOS's __MACOSX copies (whose needle/ is no package)."""
    return (entry.is_dir(follow_symlinks=False) and not entry.name.startswith((".", "__MACOSX"))
            and entry.name != "__pycache__")


def _is_package(top: Path, path: PurePosixPath) -> bool:
    """``path`` holds an __init__.py that is a regular file (lstat: a FIFO or a link is none)."""
    try:
        return stat.S_ISREG(os.lstat(top.joinpath(*path.parts, "__init__.py")).st_mode)
    except OSError:
        return False


def _scan(top: Path, folder: PurePosixPath, budget: _Budget) -> List[os.DirEntry]:
    """The entries of ``folder`` (a path from ``top``), by name, taken from ``budget``."""
    if folder.parts:
        _path(str(folder), "the submission")  # too deep, too long or not UTF-8: refused before it is read
    try:
        with os.scandir(top.joinpath(*folder.parts)) as scan:  # past MAX_FILES entries, the budget refuses
            entries = sorted(islice(scan, MAX_FILES + 1), key=lambda entry: entry.name)
    except OSError as error:
        where = f"the folder {folder}/" if folder.parts else "the submission's folder"
        raise SubmissionError(f"{where} cannot be read ({error.strerror}); make it readable and submit "
                              f"again.") from None
    budget.take(len(entries), 0)
    return entries


def _levels(top: Path) -> Iterator[List[Tuple[PurePosixPath, List[os.DirEntry]]]]:
    """The folders under ``top``, breadth-first, a level at a time: each with
    its path from ``top`` and its entries.  Types come from lstat, links are
    never followed, and a needle/ package is not searched inside; _path and
    one budget of MAX_FILES entries keep a hostile tree shallow and quick."""
    budget = _Budget("the submission")
    level = [PurePosixPath()]
    while level:
        scanned = [(folder, _scan(top, folder, budget)) for folder in level]
        yield scanned
        level = [folder / entry.name for folder, entries in scanned for entry in entries
                 if _searched(entry) and not (entry.name == "needle" and _is_package(top, folder / entry.name))]


def _at(folder: PurePosixPath) -> str:
    """Where ``folder`` is, for a message: from the submission's top, never the grader's folders."""
    return "at the top of the submission" if len(folder.parts) == 1 else f"at {_shown(str(folder))}"


def _listed(names: List[str], most: int = 5) -> str:
    shown = ", ".join(_shown(name) for name in names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _find_root(top: Path) -> Path:
    """The folder under ``top`` that holds the graded code: the parent of the
    shallowest needle/ package, which must be the only one at its depth and
    have apps/ beside it.  Only a tie is refused: a deeper copy (an old
    attempt, a build folder) never stands in the way of the handout's layout."""
    packages, bare, apps = [], [], []  # needle/ with and without __init__.py, apps/
    levels = _levels(top)
    for level in levels:
        for folder, entries in level:
            for entry in filter(_searched, entries):
                path = folder / entry.name
                if entry.name == "needle":
                    (packages if _is_package(top, path) else bare).append(path)
                elif entry.name == "apps":
                    apps.append(path)
        if packages:
            break
    if len(packages) > 1:
        raise SubmissionError(f"the submission holds {len(packages)} needle/ folders at the same depth "
                              f"({_listed([str(path) for path in packages])}) and the grader cannot tell which "
                              f"one to grade: submit only one. {WHAT_TO_SUBMIT}")
    if not packages:
        if bare:
            where = str(bare[0]) if str(bare[0]).isprintable() else _shown(str(bare[0]))
            raise SubmissionError(f"{where}/__init__.py is missing from the submission. {WHAT_TO_SUBMIT}")
        at_top = [entry.name + ("/" if entry.is_dir(follow_symlinks=False) else "")
                  for entry in _scan(top, PurePosixPath(), _Budget("the submission"))]
        holds = f"its top holds {_listed(at_top)}" if at_top else "it is empty"
        raise SubmissionError(f"no needle/ folder (holding __init__.py) anywhere in the submission; {holds}. "
                              f"{WHAT_TO_SUBMIT}")
    needle = packages[0]
    beside = needle.parent / "apps"
    if beside in apps:
        return top.joinpath(*needle.parent.parts)
    try:  # say where apps/ is, if it is deeper: as far as the budget lets the search go
        for level in levels:
            apps += [folder / entry.name for folder, entries in level for entry in entries
                     if entry.name == "apps" and _searched(entry)]
    except SubmissionError:
        pass
    elsewhere = f"apps/ is {', '.join(_at(path) for path in apps[:5])}" if apps else "the submission holds no apps/"
    raise SubmissionError(f"found needle/ {_at(needle)} but no apps/ beside it; {elsewhere}. The two must be "
                          f"side by side. {WHAT_TO_SUBMIT}")


def _walk(top: Path) -> Iterator[Tuple[Path, PurePosixPath, bool]]:
    """The folders and regular files under ``top`` (source, path from its
    parent, is a folder), less caches and configuration.  Types come from
    lstat (never an open), so links (loops included), FIFOs, sockets and
    devices are skipped without blocking; the walk is a loop, and _path
    stops it before it goes deep."""
    folders = [PurePosixPath(top.name)]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(top.parent / folder) as scan:  # past MAX_FILES entries, the budget refuses
                entries = sorted(islice(scan, MAX_FILES + 1), key=lambda entry: entry.name)
        except OSError as error:
            raise SubmissionError(f"the folder {folder}/ cannot be read ({error.strerror}); make it readable "
                                  f"(chmod -R u+rwX needle apps) and submit again.") from None
        for entry in entries:
            path = _path(f"{folder}/{entry.name}", "the submission")
            if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                folders.append(path)
                yield Path(entry.path), path, True
            elif entry.is_file(follow_symlinks=False) and not any(path.match(p) for p in IGNORED):
                yield Path(entry.path), path, False


def _copy_graded(found: Path, root: Path) -> None:
    """needle/ and apps/ of ``found`` into ``root``: folders and regular files only."""
    budget = _Budget("the submission")
    for name in GRADED_FOLDERS:
        if not (found / name).is_dir() or (found / name).is_symlink():
            continue
        for source, path, is_dir in _walk(found / name):
            if is_dir:
                budget.take(1, 0)
                root.joinpath(*path.parts).mkdir(parents=True, exist_ok=True)
                continue
            try:
                with source.open("rb") as src:
                    data = budget.read(src)
            except OSError as error:
                raise SubmissionError(f"{path} cannot be read ({error.strerror}); make every file readable "
                                      f"(chmod -R u+rwX needle apps) and submit again.") from None
            target = root.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


MAX_ERROR = 300  # characters of one syntax error's line


def _syntax_errors(root: Path) -> list:
    """Each file's syntax error (in the limited child: ``_in_child``)."""
    errors = []
    for path in sorted(p for p in root.rglob("*.py") if p.is_file()):  # a folder may be named x.py
        name = path.relative_to(root).as_posix()
        try:
            compile(path.read_bytes(), name, "exec")
        except SyntaxError as error:
            errors.append(f"{name}:{error.lineno or 1}: {error.msg}")
        except ValueError as error:  # null bytes, in Pythons where they are no SyntaxError
            errors.append(f"{name}: {error}")
        except (RecursionError, MemoryError):  # the parser's or the compiler's stack overflowed
            errors.append(f"{name}: too deeply nested to compile")
    return errors


def _put_carried(root: Path, carried: Mapping[str, str]) -> None:
    """Write the released solution files over whatever the submission has
    in their way: a file or folder at their paths, a file where one of
    their folders goes, a package of their module's name (which Python
    imports before the module).  (The tree is the grader's copy: regular
    files and folders only.)"""
    for name, text in carried.items():
        target = root / name
        for folder in reversed(PurePosixPath(name).parents[:-1]):
            if (root / folder).exists() and not (root / folder).is_dir():
                (root / folder).unlink()
        for shadow in (target, target.with_suffix("")):
            if shadow.is_dir():
                remove_tree(shadow)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def prepare(submission: Path, work: Path, carried: Mapping[str, str] = {},
            seconds: float = UNPACK_SECONDS) -> Path:
    """A fresh implementation root under ``work`` holding the submission's
    needle/ and apps/, with the ``carried`` files (path to text: released
    solutions) in place of its own; raises SubmissionError saying what to fix.
    ``seconds`` is what the submission's time budget has left: unpacking an
    archive, and compiling the code, take no more (nor more than
    UNPACK_SECONDS each)."""
    started = time.monotonic()
    if not submission.exists():
        raise SubmissionError(f"{submission} does not exist. {WHAT_TO_SUBMIT}")
    if submission.is_dir():
        found = _find_root(submission)
    elif submission.is_file():
        extracted = work / "extracted"
        extracted.mkdir(parents=True)
        _unpack(submission, extracted, seconds)
        found = _find_root(extracted)
    else:  # a FIFO, a socket or a device: reading would block or never end
        raise SubmissionError(f"{submission} is neither a folder nor a regular file. {WHAT_TO_SUBMIT}")
    root = work / "submission"
    _copy_graded(found, root)
    _put_carried(root, carried)
    if not (root / "needle" / "__init__.py").is_file():
        raise SubmissionError(f"needle/__init__.py is missing from the submission. {WHAT_TO_SUBMIT}")
    # Compiled below at ~200 bytes of memory per byte (in a child, within its walls).
    large = [f"{p.relative_to(root).as_posix()}: {p.stat().st_size >> 10} KiB" for p in sorted(root.rglob("*.py"))
             if p.is_file() and p.stat().st_size > MAX_SOURCE]
    if large:
        raise SubmissionError(f"each Python file of a submission may hold at most {MAX_SOURCE >> 10} KiB (the "
                              f"handout's are a few dozen KiB):\n  " + "\n  ".join(large[:10])
                              + f"\nRemove or shorten it and submit again. {WHAT_TO_SUBMIT}")
    errors = _in_child("compile", "the submission's Python files", seconds - (time.monotonic() - started),
                       root)["errors"]
    if errors:
        raise SubmissionError(
            "the submission does not compile, so no test can run:\n  " + "\n  ".join(errors[:10])
            + "\nFix the syntax error(s) and submit again."
        )
    return root


if __name__ == "__main__":
    _child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), *map(Path, sys.argv[5:]))
