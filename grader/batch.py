"""Grade a whole class: one entry of the class folder is one student, with
one results file, one row of scores.csv (and of the gradebook export when a
roster is given), and a place in report.html and summary.txt.  One
student's failure never stops the batch; a rerun reuses a result only when
nothing it depends on changed (never a result the grader failed on, or one
cut short by a stop); ``force`` and ``only`` regrade on demand."""
import csv
import functools
import hashlib
import json
import os
import shlex
import stat
import statistics
import sys
import threading
import time
import traceback
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple

from . import course, defaults, grade, handout, report, results, sandbox, submission
from .course import Assignment
from .errors import GraderError, GradingStopped, SandboxError
from .key import AnswerKey
from .questions import COURSE, QUESTIONS, Question

# What ``grade`` reads, matched case-insensitively; the longest first.
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip", ".tar")
MAX_NAME = 200  # bytes of a student's name: with ".json", within a file name's 255
ROSTER_FIELDS = ("submission", "id", "sis_user_id", "sis_login_id", "name", "email", "section")


@dataclass(frozen=True)
class Entry:
    """One entry of a class folder: one student."""

    name: str  # the file name less its archive extension
    path: Path
    problem: str = ""  # why it cannot be graded ("" when it can)


@dataclass(frozen=True)
class StudentResult:
    student: str
    results: dict  # results.json; {} for a student of the roster with no submission
    reused: bool = False

    @property
    def status(self) -> str:
        return status_of(self.results)


def status_of(data: dict) -> str:
    """graded, ungradable (the submission's fault: a real 0), crashed (the
    grader's fault), stopped, or missing (on the roster, nothing submitted)."""
    if not data:
        return "missing"
    extra = data.get("extra_data", {})
    if extra.get("crashed"):
        return "crashed"
    if extra.get("stopped"):
        return "stopped"
    return "graded" if data.get("tests") else "ungradable"


def printable(name: str) -> str:
    """A file name as text that prints and saves anywhere: bytes that are not
    UTF-8 and control characters written as escapes (jos\\xe9)."""
    text = os.fsencode(name).decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _short(name: str) -> str:
    """A name that fits a file name (``<name>.json``) and a line: a long one
    cut, with a digest of the whole so that cut names stay apart."""
    if len(name.encode()) <= MAX_NAME:
        return name
    return name[:MAX_NAME // 4] + "~" + hashlib.sha256(name.encode()).hexdigest()[:12]


def _stat(path: Path) -> Optional[os.stat_result]:
    try:
        return path.stat()
    except OSError:
        return None


def entries(folder: Path, *, skip: Iterable[Path] = ()) -> List[Entry]:
    """Every entry of ``folder`` but hidden ones and ``skip`` (the output
    folder, when it is inside), sorted by name; raises GraderError when two
    would share a name (in any case: some file systems ignore it).  Types
    come from lstat: a link or a FIFO is a student who cannot be graded,
    never something to follow or read."""
    if not folder.is_dir():
        raise GraderError(f"{folder} is not a folder: a class is a folder holding one folder or archive "
                          f"({', '.join(ARCHIVE_SUFFIXES)}) per student")
    skip = {(st.st_dev, st.st_ino) for st in (_stat(p) for p in skip) if st}  # lstat below: never resolve a link
    found = []
    for path in sorted(folder.iterdir()):
        info = path.lstat()
        if path.name.startswith(".") or (info.st_dev, info.st_ino) in skip:
            continue
        shown = printable(path.name)
        suffix = next((s for s in ARCHIVE_SUFFIXES if shown.lower().endswith(s)), "")
        name = _short(shown[:-len(suffix)] if suffix and len(shown) > len(suffix) else shown)
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            problem = (f"{shown} is a symbolic link, which the grader does not follow: put the folder or "
                       f"archive itself in the class folder")
        elif stat.S_ISDIR(mode):
            name, problem = _short(shown), ""
        elif not stat.S_ISREG(mode):
            problem = f"{shown} is neither a folder nor a regular file (a FIFO, a socket or a device)"
        elif suffix:
            problem = ""
        else:
            problem = (f"{shown} is neither a folder nor an archive that the grader reads "
                       f"({', '.join(ARCHIVE_SUFFIXES)}); submit it as a .zip")
        found.append(Entry(name, path, problem))
    by_name: Dict[str, List[str]] = {}
    for entry in found:  # as file systems that ignore case or Unicode normalization would see them
        by_name.setdefault(unicodedata.normalize("NFKC", entry.name).casefold(), []).append(
            printable(entry.path.name))
    shared = [paths for paths in by_name.values() if len(paths) > 1]
    if shared:
        raise GraderError("entries of the class folder would share a student name: " + "; ".join(
            " and ".join(paths) for paths in shared) + f". Rename or remove all but one of each in {folder}.")
    return sorted(found, key=lambda e: e.name)


def read_roster(path: Path) -> Dict[str, Dict[str, str]]:
    """Submission name to the roster's fields of that student (a CSV with a
    ``submission`` column; ``id``, ``sis_user_id``, ``sis_login_id``,
    ``name``, ``email`` and ``section`` are optional)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as f:
            rows = list(csv.DictReader(f))
            header = rows and list(rows[0]) or []
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise GraderError(f"the roster {path} cannot be read ({error})") from None
    if "submission" not in header:
        raise GraderError(f"the roster {path} has no 'submission' column (its columns: {', '.join(header) or 'none'})"
                          f"; the first row names the columns: {', '.join(ROSTER_FIELDS)}")
    roster: Dict[str, Dict[str, str]] = {}
    for line, row in enumerate(rows, start=2):
        name = (row.get("submission") or "").strip()
        if not name:
            raise GraderError(f"{path}:{line}: no submission name")
        if name in roster:
            raise GraderError(f"{path}:{line}: the submission {name!r} is on the roster twice")
        roster[name] = {field: (row.get(field) or "").strip() for field in ROSTER_FIELDS}
    return roster


@functools.lru_cache(maxsize=None)
def _grader_source() -> str:
    """The grader's code and the course it grades (points live in course.toml, not in the key)."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.read_bytes())
    digest.update(course.COURSE_FILE.read_bytes())
    return digest.hexdigest()


def fingerprint(path: Path, key: AnswerKey, suites, options: dict, assignment: str = defaults.ASSIGNMENT) -> Optional[str]:
    """What a results file depends on: the submission's names and bytes,
    the key, the assignment, the suites, the grading options (limits,
    budget, isolation) and the grader's own code and course.  None when the
    submission is more than one may hold (then it is graded every time, and
    grading says why)."""
    settings = json.dumps({name: repr(value) for name, value in sorted(options.items())})
    digest = hashlib.sha256(f"{key.fingerprint} {assignment} {','.join(suites)} {settings} "
                            f"{_grader_source()}".encode())
    try:
        for kind, name, data in _contents(path):
            for part in (kind, name, data):  # each with its length: no two trees hash alike
                digest.update(len(part).to_bytes(8, "big") + part)
    except _TooMuch:
        return None
    return digest.hexdigest()


class _TooMuch(Exception):
    pass


def _contents(path: Path) -> Iterator[Tuple[bytes, bytes, bytes]]:
    """(kind, name, bytes) of ``path`` (a regular file) or of everything
    under it (a folder): folders (empty ones count) and regular files, and
    the names of links and special files, walked without recursion or
    following links, and within what a submission may hold."""
    budget = {"files": submission.MAX_FILES, "bytes": submission.MAX_BYTES}

    def read(file: Path) -> bytes:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise _TooMuch  # swapped for a FIFO since it was listed
            data = f.read(budget["bytes"] + 1)
        budget["files"], budget["bytes"] = budget["files"] - 1, budget["bytes"] - len(data)
        if budget["files"] < 0 or budget["bytes"] < 0:
            raise _TooMuch
        return data

    try:
        if not path.is_dir():
            yield b"file", os.fsencode(path.name), read(path)
            return
        folders = [(path, b"", 0)]
        while folders:
            folder, prefix, depth = folders.pop()
            with os.scandir(folder) as scan:
                listed = sorted(islice(scan, budget["files"] + 1), key=lambda e: os.fsencode(e.name))
            for entry in listed:
                name = prefix + os.fsencode(entry.name)
                if entry.is_dir(follow_symlinks=False):
                    if depth >= submission.MAX_DEPTH * 2:
                        raise _TooMuch
                    yield b"folder", name, b""
                    folders.append((Path(entry.path), name + b"/", depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    yield b"file", name, read(Path(entry.path))
                else:  # a link or a special file: its name counts, never what it points to
                    yield b"other", name, b""
    except OSError:
        raise _TooMuch from None


def _stored(out: Path) -> Optional[dict]:
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _kept(out: Path, name: str, assignment: str) -> dict:
    """The stored result of a student whom --only leaves as they are, if it
    says it grades ``assignment``; else results that say it is not graded yet."""
    stored = _stored(out)
    extra = stored.get("extra_data") if stored else None
    graded_for = extra.get("assignment") if isinstance(extra, dict) else None
    if stored is None:
        why = "not graded yet (--only named other students)"
    elif graded_for != assignment:
        stored_is = f"{graded_for}'s" if isinstance(graded_for, str) else "of no known assignment"
        why = (f"not graded for {assignment}: the stored result is {stored_is}; grade it with "
               f"--only {shlex.quote(name)}")
    else:
        return stored
    return results.gradescope(None, 0.0, error=why, extra={"stopped": why})


def _grade_one(entry: Entry, out_dir: Path, *, key, suites, mnist_dir, options, force: bool,
               assignment: Assignment, carried: Mapping[str, str]) -> StudentResult:
    out = out_dir / f"{entry.name}.json"
    graded_for = {"assignment": assignment.name}  # as grade.grade's results say it
    if entry.problem:
        data = results.gradescope(None, 0.0, error=entry.problem, extra=graded_for)
        grade.write_json(out, data)
        return StudentResult(entry.name, data)
    try:
        stamp = fingerprint(entry.path, key, suites, options, assignment.name)
        previous = None if force or stamp is None else _stored(out)
        if previous is not None and previous.get("extra_data", {}).get("fingerprint") == stamp:
            return StudentResult(entry.name, previous, reused=True)
        # Classmates' submissions are out of reach of each other's code.
        data = grade.grade(entry.path, out, key=key, suites=suites, mnist_dir=mnist_dir,
                           secrets=[entry.path.resolve().parent], questions=assignment.questions, carried=carried,
                           assignment=assignment.name, **options)
    except (SandboxError, GradingStopped):  # the machine's fault, or the instructor's wish: stop
        raise
    except Exception:  # a grader bug must not stop the class: record it (never reused) and go on
        data = results.gradescope(None, 0.0, error="the grader failed on this submission; ask your instructor.",
                                  extra={"crashed": traceback.format_exc(limit=5), **graded_for})
    else:
        if stamp is not None:
            data["extra_data"] = {**data.get("extra_data", {}), "fingerprint": stamp}
    grade.write_json(out, data)
    return StudentResult(entry.name, data)


class Progress:
    """What a batch tells the instructor as it goes: a progress bar (tqdm) on
    a terminal, one plain line per student otherwise (a log, CI)."""

    def __init__(self, stream=None):
        self.stream = stream if stream is not None else sys.stderr
        self.lock = threading.Lock()  # students begin and end in the batch's threads
        self.bar = None
        self.total = self.done = 0
        self.running: List[str] = []
        self.started = time.monotonic()

    def start(self, total: int) -> None:
        self.total, self.started = total, time.monotonic()
        if self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="student", file=self.stream, dynamic_ncols=True)

    def begin(self, name: str) -> None:
        with self.lock:
            self.running.append(name)
            if self.bar is not None:
                self.bar.set_postfix_str(", ".join(self.running[-3:]))

    def end(self, result: StudentResult) -> None:
        with self.lock:
            self._end(result)

    def _end(self, result: StudentResult) -> None:
        if result.student in self.running:
            self.running.remove(result.student)
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(", ".join(self.running[-3:]))
            self.bar.update(1)
            return
        data = result.results
        how = "unchanged, not regraded" if result.reused else f"{data.get('execution_time', 0):.0f} s"
        elapsed = time.monotonic() - self.started
        left = elapsed / self.done * (self.total - self.done)
        print(f"[{self.done}/{self.total}] {result.student}: {data.get('score', 0):.2f} ({result.status}, {how})"
              + (f"; about {left / 60:.0f} min left" if self.done < self.total else ""), file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class _Quiet(Progress):
    def start(self, total): pass
    def begin(self, name): pass
    def end(self, result): pass


def _points_by_question(data: dict, questions: Sequence[Question]) -> dict:
    return {name: score for name, (score, _) in results.points_by_question(data, questions).items()}


def _cell(value):
    """A CSV cell that no spreadsheet takes for a formula: names come from
    students (their files' names) and rosters."""
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
        return "'" + value
    return value


def write_csv(path: Path, graded: Sequence[StudentResult], roster: Mapping[str, Dict[str, str]],
              questions: Sequence[Question] = QUESTIONS) -> None:
    """Points per question, with each student's status and roster fields."""
    people = ROSTER_FIELDS[1:] if roster else ()
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *people, "status", "total", *[q.name for q in questions]])
        for r in graded:
            points = _points_by_question(r.results, questions) if r.results else {}
            writer.writerow(map(_cell, [r.student, *[roster.get(r.student, {}).get(p, "") for p in people],
                                        r.status, round(r.results.get("score", 0.0), 2),
                                        *[round(points.get(q.name, 0.0), 2) for q in questions]]))


# A score for the gradebook: a real 0 for what was not submitted or cannot be
# graded, nothing (the cell is left as it is) for what the grader owes.
GRADEBOOK_SCORE = {"graded": True, "ungradable": True, "missing": True, "crashed": False, "stopped": False}


def write_gradebook(path: Path, graded: Sequence[StudentResult], roster: Mapping[str, Dict[str, str]],
                    column: str) -> List[str]:
    """Canvas's gradebook import CSV (Student, ID, SIS User ID, SIS Login ID,
    Section, then one assignment column); returns the students left out (not
    on the roster)."""
    left_out = []
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(map(_cell, ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", column]))
        for r in graded:
            person = roster.get(r.student)
            if person is None:
                left_out.append(r.student)
                continue
            score = round(r.results.get("score", 0.0), 2) if GRADEBOOK_SCORE[r.status] else ""
            writer.writerow(map(_cell, [person["name"], person["id"], person["sis_user_id"],
                                        person["sis_login_id"], person["section"], score]))
    return left_out


def summary(graded: Sequence[StudentResult], *, not_on_roster: Sequence[str] = (),
            questions: Sequence[Question] = QUESTIONS) -> str:
    if not graded:
        return "no submissions found"
    by_status: Dict[str, List[StudentResult]] = {}
    for r in graded:
        by_status.setdefault(r.status, []).append(r)
    scored = by_status.get("graded", []) + by_status.get("ungradable", [])
    totals = [r.results["score"] for r in scored] or [0.0]
    lines = [
        f"{len(graded)} students: " + ", ".join(f"{len(rs)} {status}" for status, rs in sorted(by_status.items()))
        + f" ({sum(r.reused for r in graded)} unchanged since the last run, not regraded)",
        f"total (graded and ungradable): mean {statistics.mean(totals):.2f}, median {statistics.median(totals):.2f}, "
        f"min {min(totals):.2f}, max {max(totals):.2f}",
    ]
    for status, advice in (("ungradable", "0 points"), ("crashed", "the grader failed: rerun the same command"),
                           ("stopped", "rerun the same command"), ("missing", "on the roster, nothing submitted")):
        for r in by_status.get(status, []):
            reason = r.results.get("output", "").removeprefix("Your submission could not be graded: ")
            reason = printable(reason.splitlines()[0][:200]) if reason else ""
            lines.append(f"{status}: {printable(r.student)} ({advice})" + (f": {reason}" if reason else ""))
    if not_on_roster:
        lines.append(f"not on the roster (left out of the gradebook export): {', '.join(map(printable, not_on_roster))}")
    per_question = [_points_by_question(r.results, questions) for r in by_status.get("graded", [])]
    if per_question:
        lines += ["", f"{'question':<16} {'mean':>7} {'of':>4}  (graded students)"]
        for q in questions:
            lines.append(f"{q.name:<16} {statistics.mean(p[q.name] for p in per_question):>7.2f} {q.points:>4}")
    return "\n".join(lines)


def _class_rows(graded: Sequence[StudentResult], questions: Sequence[Question]) -> List[report.ClassRow]:
    rows = []
    for r in graded:
        data, status = r.results, r.status
        rows.append(report.ClassRow(
            student=r.student, status=status, total=float(data.get("score", 0.0)) if status == "graded" else 0.0,
            points=_points_by_question(data, questions) if status == "graded" else {},
            failed=tuple(data.get("extra_data", {}).get("failed", ())),
            seconds=float(data.get("execution_time", 0.0)),
            message="" if status == "graded" else (data.get("output") or "no submission")[:500]))
    return rows


def _test_infos(key: AnswerKey) -> Dict[str, report.TestInfo]:
    return {f"{t.suite}:{t.nodeid}": report.TestInfo(question=t.question, suite=t.suite,
                                                     name=t.nodeid.split("::")[-1], hint=t.hint or "")
            for t in key.tests}


def check_jobs(jobs: int, accept_collusion_risk: bool, workers: int) -> None:
    """Refuse students side by side unless the instructor accepts what it gives up."""
    if jobs > 1 and not accept_collusion_risk:
        raise GraderError(
            f"--jobs {jobs} would grade {jobs} students at the same time, and code that runs at the same time "
            f"can signal to other code through the machine it shares (its load, its timing): one student "
            f"could hand another their answers. Each student's runs already go {workers} at a time "
            f"(--workers). Leave --jobs out, or add --accept-collusion-risk to grade students side by side "
            f"anyway.")


def batch(folder: Path, out_dir: Path, *, key: AnswerKey, suites, mnist_dir: Path, jobs: int = 1,
          accept_collusion_risk: bool = False, force: bool = False, only: Optional[Sequence[str]] = None,
          roster: Optional[Path] = None,
          gradebook_column: str = defaults.GRADEBOOK_COLUMN, progress: Optional[Progress] = None,
          assignment: Optional[Assignment] = None, **options) -> str:
    """Grade every entry of ``folder`` on ``assignment`` (the default one if
    None) into ``out_dir``; returns the summary.  ``force`` regrades
    everything; ``only`` (entry names) grades those afresh and takes
    everyone else's results as they are.  ``options`` are ``grade.grade``'s
    (limits, budget, ...).  Students are graded one at a time, each with
    its runs side by side (grade's ``workers``): ``jobs`` students at once
    only with ``accept_collusion_risk``, since code that runs at the same
    time can signal across any wall (sandbox.py: "Runs side by side")."""
    check_jobs(jobs, accept_collusion_risk, options.get("workers", defaults.WORKERS))
    assignment = assignment or COURSE.assignment()
    carried = handout.carried(assignment)
    found = entries(folder, skip=[out_dir])
    people = read_roster(roster) if roster else {}
    names = {e.name for e in found}
    if only is not None:
        unknown = sorted(set(only) - names)
        if unknown:
            raise GraderError(f"--only names no entry of {folder}: {', '.join(unknown)} (the entries: "
                              f"{', '.join(sorted(names)) or 'none'})")
    out_dir.mkdir(parents=True, exist_ok=True)
    to_grade = [e for e in found if only is None or e.name in only]
    kept = {e.name: StudentResult(e.name, _kept(out_dir / f"{e.name}.json", e.name, assignment.name), reused=True)
            for e in found if e not in to_grade}
    progress = progress or _Quiet()
    progress.start(len(to_grade))

    def one(entry: Entry) -> StudentResult:
        progress.begin(entry.name)
        result = _grade_one(entry, out_dir, key=key, suites=suites, mnist_dir=mnist_dir, options=options,
                            force=force or only is not None, assignment=assignment, carried=carried)
        progress.end(result)
        return result

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(one, entry) for entry in to_grade]
        try:
            with sandbox.stop_on_interrupt(futures):  # the students in flight: their results say so
                fresh = {r.student: r for r in (future.result() for future in futures)}
        except (KeyboardInterrupt, GradingStopped) as error:
            stop = error if isinstance(error, GradingStopped) else GradingStopped("interrupted")
            done = sum(f.done() and not f.cancelled() and not f.exception() for f in futures)
            raise GradingStopped(f"{stop}; {done} of {len(to_grade)} students were graded, their results are "
                                 f"kept; the same command grades the rest", stop.exit_code) from None
        finally:
            progress.close()
    graded = [fresh.get(e.name) or kept[e.name] for e in found]
    graded += [StudentResult(name, {}) for name in sorted(set(people) - names)]
    questions = assignment.questions
    write_csv(out_dir / "scores.csv", graded, people, questions)
    not_on_roster = write_gradebook(out_dir / "gradebook.csv", graded, people, gradebook_column) if people else []
    report.write(out_dir / "report.html", _class_rows(graded, questions), _test_infos(key), questions)
    text = summary(graded, not_on_roster=not_on_roster, questions=questions)
    (out_dir / "summary.txt").write_text(text + "\n", encoding="utf-8")
    return text
