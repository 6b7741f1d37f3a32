"""Run a suite's tests of one question on an implementation root, in a
sandboxed child process (grader/sandbox.py).  Nothing here imports the
implementation: the child does.

Each run gets a fresh box: its own copy of the implementation and of the
suite files it needs (never the other suite), the grader's pytest
configuration and no other, and one folder it may write, from which the
json report and the recorded .npy values are copied out as plain files
(links and special files are refused) before the box is deleted.
"""
import fcntl
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional

from . import defaults, sandbox
from .channel import PROGRESS, WALL_CLOCK_FAILURE
from .questions import Question

PYTEST_INI = """\
# The grader's own configuration: nothing of the submission's is read.
[pytest]
addopts = --strict-markers
"""
MNIST_NAME = re.compile(r"[a-z0-9-]+\.gz")
RECORD_FOLDER = re.compile(r"[0-9a-f]{32}")
RECORD_FILE = re.compile(r"[A-Za-z0-9_.-]{1,80}")
# A report of 2000 failing tests takes 12 MB (6 KB a test), and a grading
# parses it in its own process: each of its objects and arrays costs
# memory there, so a report of more than MAX_REPORT_TESTS * 64 of them
# (32 MiB of "{}," took 750 MB to parse) is none.
MAX_REPORT_BYTES = 16 << 20
MAX_REPORT_CONTAINERS = 64 * 2000
MAX_RECORD_BYTES = 64 << 20
MAX_RECORDS_BYTES = 512 << 20
# What a run's copied records may take on the grader's disk, with the key's
# at hand: each record a few times its size in the key (at least 1 MiB: a
# wrong shape still shows as one), all of them a few times the key's, plus
# RECORDS_FLOOR (empty folders and sparse files cost a run nothing).
RECORD_SLACK = 4
RECORDS_FLOOR = 8 << 20
# What of a report the grader keeps, for the whole grading: a report of more
# tests than this is none (a question has a few hundred), and of each test,
# what scoring reads, in the form of the box's progress file
# (grader/box/plugin.py), each text cut to its size.
MAX_REPORT_TESTS = 2000
MAX_NODEID = 1000  # characters: a longer node id is no test's
MAX_REASON = 500  # characters of the line that says what a test died of
MAX_TRACEBACK = 4000  # characters of the end of a failure's report
PHASES = ("setup", "call", "teardown")


@dataclass(frozen=True)
class Run:
    """What one child process left behind."""

    suite: str
    question: str
    report: Optional[dict]  # the parsed json report; None when missing or invalid
    record_dir: Path
    returncode: Optional[int]  # None when the sandbox stopped it (see ``stopped``)
    stopped: str  # why the sandbox stopped it, "" when it ended by itself
    seconds: float
    output_tail: str  # the end of what the child printed (collection errors land here)
    walls: sandbox.Walls
    disk_full: bool = False  # it filled its writable folders: its report may be missing or cut short
    stopped_by: str = ""  # the limit that stopped it (sandbox.Outcome.stopped_by)
    usage: Optional[sandbox.Usage] = None

    @property
    def waited(self) -> bool:
        """Whether a busy machine, not its code, may have kept it or one
        of its tests from finishing in time (the wall clock stopped them
        while it waited for a CPU): honest code must not lose points to that."""
        if self.stopped_by == sandbox.WALL_CLOCK:
            return True
        busy = self.usage is None or self.usage.waiting_seconds >= sandbox.BUSY_SHARE * self.seconds
        return busy and any(  # the report's form is _kept's
            test[phase]["crash"]["message"].startswith(WALL_CLOCK_FAILURE)
            for test in (self.report or {}).get("tests", ()) for phase in PHASES if "crash" in test.get(phase, {}))


def suite_file(suite: str, question: Question) -> Path:
    return defaults.SUITES[suite] / f"test_{question.name}.py"


def run_question(
    root: Path,
    suite: str,
    question: Question,
    work: Path,
    *,
    mnist_dir: Path,
    salt: int = 0,
    limits: sandbox.Limits = defaults.LIMITS,
    secrets: Iterable[Path] = (),
    require_isolation: bool = False,
    timeouts: Optional[Mapping[str, float]] = None,
    ledger: Optional[Path] = None,
    expected: Optional[Path] = None,
) -> Run:
    """Run ``suite``'s tests of ``question`` on the implementation ``root``,
    their inputs drawn with ``salt``; the report and the recorded values are
    kept under ``work``.  ``mnist_dir`` is ``stage_mnist``'s copy.  The child
    sees its box and nothing else of the machine; ``secrets`` (besides
    ``defaults.SECRETS``) are checked from inside to be out of its reach.
    ``timeouts`` (node id to its CPU seconds and wall-clock seconds) stop
    single tests that run too long.
    ``ledger`` keeps the run's uid, cgroup and mount (see ``sandbox.run``).
    ``expected``, the key's records of the run, bounds what is kept of its own."""
    kept = work / suite / question.name
    remove_tree(kept)  # a run again starts afresh
    kept.mkdir(parents=True)
    _open_to_others(work)
    box = Path(tempfile.mkdtemp(prefix="box-", dir=work))
    try:
        _open_to_others(box)
        test_file = _stage_suite(box / "suite", suite, question)
        if timeouts:
            (box / "suite" / "timeouts.json").write_text(json.dumps(timeouts))
        _copy_files(root, box / "submission", implementation_files(root))
        mnist = _link_mnist(mnist_dir, box / "mnist")
        out = box / "out"
        out.mkdir()
        # The writable folders are capped as a whole: a tmpfs of the run's
        # own, until what it wrote is copied out.
        with sandbox.capped_folder(out, limits.disk_bytes, ledger=ledger) as disk:
            writable, scratch = [out, out / "records"], [out / "home", out / "tmp"]
            for folder in writable[1:] + scratch:
                folder.mkdir()
            command = [
                sys.executable, "-m", "pytest", str(test_file.relative_to(box / "suite")),
                # native tracebacks: a fresh handout's failing runs take a quarter of the time of pytest's own
                "-q", "--tb=native", "-c", "pytest.ini", "--rootdir=.", "--noconftest",
                "-p", "grader.box.plugin", "-p", "pytest_jsonreport.plugin", "-p", "no:cacheprovider",
                f"--needle-root={box / 'submission'}", f"--mnist-dir={mnist}", f"--record-dir={out / 'records'}",
                f"--salt={salt}", *(["-p", "pytest_timeout", "--test-timeouts=timeouts.json"] if timeouts else []),
                "--json-report", f"--json-report-file={out / 'report.json'}",
                "--json-report-omit", "collectors", "keywords", "log", "streams", "warnings",
            ]
            outcome = sandbox.run(
                command, box=box, cwd=box / "suite", env=_environment(*scratch), limits=limits, writable=writable,
                scratch=scratch, secrets=[*defaults.SECRETS, *secrets], require_isolation=require_isolation,
                ledger=ledger, disk=disk,
            )
            space = os.statvfs(out)
            disk_full = outcome.walls.disk and space.f_bavail * space.f_frsize < 1 << 20
            copy_out(out, kept, expected)
    finally:
        remove_tree(box)
    return Run(
        suite=suite,
        question=question.name,
        # In grading, the key's tests of the run only: the rest is held in no memory.
        report=_read_report(kept / "report.json", timeouts) or _read_progress(kept / "records" / PROGRESS, timeouts),
        record_dir=kept / "records",
        returncode=outcome.returncode,
        stopped=outcome.stopped,
        seconds=outcome.seconds,
        output_tail=outcome.output,
        walls=outcome.walls,
        disk_full=disk_full,
        stopped_by=outcome.stopped_by,
        usage=outcome.usage,
    )


def implementation_files(root: Path) -> list:
    """The Python files of an implementation root that a run uses."""
    return sorted(p.relative_to(root) for folder in ("needle", "apps") for p in (root / folder).rglob("*.py")
                  if not p.is_symlink())


def _environment(home: Path, temp: Path) -> dict:
    """A fresh environment: nothing of the grader's but the search path;
    its own home and temporary folders (scratch folders of the sandbox)."""
    return {
        "PATH": os.pathsep.join(dict.fromkeys([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin",
                                               "/bin"])),
        "HOME": str(home),
        "TMPDIR": str(temp),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYTHONHASHSEED": "0",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        # One BLAS thread: questions may run side by side, and a 2-thread
        # BLAS under contention runs many times slower, not twice.
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def box_files(suite: str, question: Question) -> list:
    """What a run of ``suite``'s tests of ``question`` sees of the kit: that
    test file, its package's ``__init__.py`` and the box side's library
    (grader/box): no other test, no expected value, nothing that scores."""
    test_file = suite_file(suite, question).relative_to(defaults.KIT_ROOT)
    return [*defaults.BOX_FILES, test_file.parent / "__init__.py", test_file]


def _stage_suite(folder: Path, suite: str, question: Question) -> Path:
    """``box_files`` and the grader's pytest configuration, copied into
    ``folder``; returns the test file's copy."""
    files = box_files(suite, question)
    _copy_files(defaults.KIT_ROOT, folder, files)
    test_file = files[-1]
    (folder / "pytest.ini").write_text(PYTEST_INI)
    return folder / test_file


def _copy_files(source: Path, dest: Path, names: Iterable[Path]) -> None:
    """Copies readable by the sandbox, writable by nobody but the grader."""
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, target)
        os.chmod(target, 0o644)
    for folder in [dest, *(p for p in dest.rglob("*") if p.is_dir())]:
        os.chmod(folder, 0o755)


def _link_mnist(staged: Path, folder: Path) -> Path:
    """The staged MNIST files, linked (not copied, where one file system
    holds both) into a box."""
    folder.mkdir()
    for path in staged.iterdir():
        try:
            os.link(path, folder / path.name)
        except OSError:
            shutil.copyfile(path, folder / path.name)
            os.chmod(folder / path.name, 0o644)
    return folder


WORK_PREFIX = "needle-grade-"
LEDGER = "uids"  # in a working folder: the uids its runs were given
# A working folder younger than this is never taken for abandoned: its
# grader may not have locked it yet.
ABANDONED_AFTER = 5.0
_HELD: Dict[Path, int] = {}  # working folder -> descriptor holding its lock


def work_folder() -> Path:
    """A fresh working folder in the temporary folder, locked for as long as
    this process lives, so that a later grader can tell it from one that a
    killed grading left (``remove_abandoned``)."""
    folder = Path(tempfile.mkdtemp(prefix=WORK_PREFIX))
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _HELD[folder] = fd
    return folder


def remove_work_folder(folder: Path) -> None:
    remove_tree(folder)
    os.close(_HELD.pop(folder))


def remove_abandoned() -> list:
    """Remove the working folders of gradings that were killed (nobody holds
    their lock), and whatever their runs' uids still run or left in the
    shared temporary folders; returns them."""
    removed = []
    for path in Path(tempfile.gettempdir()).glob(WORK_PREFIX + "*"):
        fd = _open_folder(path)
        if fd is None:
            continue
        try:
            info = os.fstat(fd)
            if info.st_uid != os.geteuid() or time.time() - info.st_mtime < ABANDONED_AFTER:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # its grader still runs
            sandbox.sweep_ledger(path / LEDGER)
            remove_tree(path)
            removed.append(path)
        finally:
            os.close(fd)
    return removed


def remove_tree(path: Path) -> None:
    """Remove ``path`` whatever the box left in it: ``rm`` walks trees of any
    depth (shutil.rmtree recurses, and a deep enough chain of folders stops
    it) and never follows links."""
    subprocess.run(["rm", "-rf", "--one-file-system", "--", str(path)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)


def stage_mnist(mnist_dir: Path, work: Path) -> Path:
    """A copy of the MNIST files in ``work/mnist``, readable by the sandbox
    (the folder they come from may be closed to its uid): made once per
    grading, for every run to share."""
    _open_to_others(work)
    folder = work / "mnist"
    folder.mkdir(mode=0o755)
    for path in sorted(mnist_dir.glob("*.gz")) if mnist_dir.is_dir() else []:
        if MNIST_NAME.fullmatch(path.name) and path.is_file():
            shutil.copyfile(path, folder / path.name)
            os.chmod(folder / path.name, 0o644)
    os.chmod(folder, 0o755)  # whatever the umask
    return folder


def _open_to_others(folder: Path) -> None:
    # Others may pass through, not list: the boxes inside are theirs to enter.
    os.chmod(folder, stat.S_IMODE(folder.stat().st_mode) | 0o711)


def _open_folder(name, dir_fd: Optional[int] = None) -> Optional[int]:
    """A descriptor of the folder ``name``, never through a link, or None."""
    try:
        return os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=dir_fd)
    except OSError:
        return None


def _copy_regular(dir_fd: int, name: str, target: Path, max_bytes: int) -> bool:
    """Copy the regular file ``name`` of ``dir_fd`` to ``target``; False if it
    is missing, larger than ``max_bytes``, a link or not a regular file."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
    except OSError:
        return False
    with os.fdopen(fd, "rb") as source:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > max_bytes:
            return False
        target.parent.mkdir(parents=True, exist_ok=True)  # only for what is copied: empty folders cost nothing
        with open(target, "wb") as copy:
            shutil.copyfileobj(source, copy)
    return True


def _most(expected: Optional[Path], test: str, name: str) -> int:
    """The most bytes kept of a record: with the key's records at hand, only
    those it has, each up to a few times its size (a wrong shape still shows
    as one); the rest is nothing scoring reads, and would only fill the
    grader's disk (a run's sparse files become whole copies here)."""
    if expected is None:
        return MAX_RECORD_BYTES
    try:
        size = (expected / test / name).stat().st_size
    except OSError:
        return -1
    return min(MAX_RECORD_BYTES, max(RECORD_SLACK * size, 1 << 20))


def record_allowance(expected: Optional[Path]) -> int:
    """The most bytes of records copied out of one run (see RECORD_SLACK)."""
    if expected is None:
        return MAX_RECORDS_BYTES
    keys = sum(f.stat().st_size for f in expected.glob("*/*") if f.is_file())
    return min(MAX_RECORDS_BYTES, RECORD_SLACK * keys + RECORDS_FLOOR)


def copy_out(out: Path, kept: Path, expected: Optional[Path] = None) -> bool:
    """Copy what a run wrote into ``out`` (its report, and its records as
    ``records/<test>/<value>``) to ``kept``, as plain files within size
    limits (``_most``, ``record_allowance``: ``expected`` is the key's
    records of the run, and then only records it has are looked for, so
    that what else the run left costs the grader nothing); True if the
    report was there."""
    top = _open_folder(out)
    if top is None:
        return False
    try:
        report = _copy_regular(top, "report.json", kept / "report.json", MAX_REPORT_BYTES)
        records = _open_folder("records", top)
    finally:
        os.close(top)
    if records is None:
        return report
    budget = record_allowance(expected)
    try:
        (kept / "records").mkdir(parents=True, exist_ok=True)
        _copy_regular(records, PROGRESS, kept / "records" / PROGRESS, MAX_REPORT_BYTES)
        for test, names in _record_names(records, expected):
            test_fd = _open_folder(test, records)
            if test_fd is None:
                continue
            try:
                for name in names(test_fd):
                    target = kept / "records" / test / name
                    most = min(budget, _most(expected, test, name))
                    if most >= 0 and _copy_regular(test_fd, name, target, most):
                        budget -= target.stat().st_size
            finally:
                os.close(test_fd)
    finally:
        os.close(records)
    return report


def _record_names(records: int, expected: Optional[Path]):
    """(test folder, its file names given its fd) of what to copy: the
    key's (``expected``), or, building the key, whatever the run wrote."""
    if expected is None:
        for test in sorted(filter(RECORD_FOLDER.fullmatch, os.listdir(records))):
            yield test, lambda fd: sorted(filter(RECORD_FILE.fullmatch, os.listdir(fd)))
        return
    for folder in sorted(expected.iterdir()):
        if RECORD_FOLDER.fullmatch(folder.name):
            names = sorted(f.name for f in folder.iterdir() if RECORD_FILE.fullmatch(f.name))
            yield folder.name, lambda fd, names=names: names


def _read_report(path: Path, tests: Optional[Iterable[str]] = None) -> Optional[dict]:
    """The json report, its test entries that have the report's form (a
    dict with a string node id, one of ``tests`` if given), kept within
    MAX_REPORT_TESTS and the sizes above: the rest of what the box wrote is
    ignored."""
    try:
        report = _parsed(path.read_bytes())
    except (OSError, ValueError, RecursionError, MemoryError):
        return None
    if not isinstance(report, dict) or not isinstance(report.get("tests"), list) \
            or len(report["tests"]) > MAX_REPORT_TESTS:
        return None
    return _well_formed(report["tests"], tests)


def _read_progress(path: Path, tests: Optional[Iterable[str]] = None) -> Optional[dict]:
    """A report made of the outcomes a run wrote as its tests ended (it was
    stopped before writing its report); None if it wrote none, or more
    lines than MAX_REPORT_TESTS tests would write."""
    found = []
    try:
        with open(path, encoding="utf-8", errors="replace") as lines:
            # Lines, not tests, are counted: 16 million lines that are no
            # test took the grader 49 s of parsing a run.
            for number, line in enumerate(lines):
                if number >= MAX_REPORT_TESTS:
                    return None
                try:
                    found += _well_formed([_parsed(line)], tests)["tests"]
                except (ValueError, RecursionError):
                    continue
    except OSError:
        return None
    return {"tests": found} if found else None


def _parsed(text) -> object:
    """JSON the box wrote, refused (ValueError) before parsing when it holds
    more objects and arrays than a real report (MAX_REPORT_CONTAINERS)."""
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    if text.count(b"{") + text.count(b"[") > MAX_REPORT_CONTAINERS:
        raise ValueError("more objects and arrays than any report holds")
    return json.loads(text)


def _well_formed(tests: list, only: Optional[Iterable[str]] = None) -> dict:
    return {"tests": [_kept(t) for t in tests if isinstance(t, dict) and isinstance(t.get("nodeid"), str)
                      and len(t["nodeid"]) <= MAX_NODEID and (only is None or t["nodeid"] in only)]}


def _kept(test: dict) -> dict:
    """What scoring reads of a test's entry (the texts of its first failed
    phase only), each text within its size."""
    kept = {"nodeid": test["nodeid"], "outcome": as_text(test.get("outcome"))[:MAX_REASON]}
    failed = False
    for name in PHASES:
        phase = test.get(name)
        if not isinstance(phase, dict):
            continue
        duration = phase.get("duration")  # pytest's are floats; an int may be too large for one
        kept[name] = {"outcome": as_text(phase.get("outcome"))[:MAX_REASON],
                      "duration": duration if type(duration) is float else 0.0}
        if kept[name]["outcome"] == "failed" and not failed:
            failed = True
            crash = phase.get("crash")
            message = crash.get("message") if isinstance(crash, dict) else ""
            kept[name]["crash"] = {"message": as_text(message)[:MAX_REASON]}
            kept[name]["longrepr"] = as_text(phase.get("longrepr"))[-MAX_TRACEBACK:]
    metadata = test.get("metadata")
    cpu = metadata.get("cpu_seconds") if isinstance(metadata, dict) else None
    if type(cpu) is float:  # the key's measure of the reference
        kept["metadata"] = {"cpu_seconds": cpu}
    return kept


def as_text(value) -> str:
    # What the box wrote where text belongs: anything else (a list of a
    # million items, say) is no text, and is not turned into one.
    return value if isinstance(value, str) else ""
