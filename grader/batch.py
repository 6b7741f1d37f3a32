"""Grade a whole class: one results file per student, a CSV of points per
question, a summary.  One student's failure never stops the batch, and a
rerun skips submissions already graded and unchanged (never a result the
grader failed on, or one cut short by a stop)."""
import csv
import functools
import hashlib
import json
import statistics
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

from . import grade, results, sandbox
from .errors import GradingStopped, SandboxError
from .key import AnswerKey
from .questions import QUESTIONS

ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class StudentResult:
    student: str
    results: dict
    reused: bool


def submissions(folder: Path) -> List[Tuple[str, Path]]:
    """(student, path) for each folder or archive in ``folder``."""
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        if path.is_dir():
            found.append((path.name, path))
        elif path.name.endswith(ARCHIVE_SUFFIXES):
            found.append((path.name.split(".")[0], path))
    return found


@functools.lru_cache(maxsize=None)
def _grader_source() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parent.rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fingerprint(path: Path, key: AnswerKey, suites, options: dict) -> str:
    """What a results file depends on: the submission's bytes, the key, the
    suites, the grading options (limits, budget, isolation) and the
    grader's own code."""
    settings = json.dumps({name: repr(value) for name, value in sorted(options.items())})
    digest = hashlib.sha256(f"{key.fingerprint} {','.join(suites)} {settings} {_grader_source()}".encode())
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _previous(out: Path, stamp: str) -> Optional[dict]:
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if data.get("extra_data", {}).get("fingerprint") == stamp else None


def _grade_one(student: str, path: Path, out_dir: Path, *, key, suites, mnist_dir, options) -> StudentResult:
    out = out_dir / f"{student}.json"
    stamp = fingerprint(path, key, suites, options)
    previous = _previous(out, stamp)
    if previous is not None:
        return StudentResult(student, previous, reused=True)
    try:
        # Classmates' submissions are out of reach of each other's code.
        data = grade.grade(path, out, key=key, suites=suites, mnist_dir=mnist_dir,
                           secrets=[path.resolve().parent], **options)
    except (SandboxError, GradingStopped):  # the machine's fault, or the instructor's wish: stop
        raise
    except Exception:  # a grader bug must not stop the class: record it (never reused) and go on
        data = results.gradescope(None, 0.0, error="the grader failed on this submission; "
                                  "ask your instructor.\n" + traceback.format_exc(limit=3))
    else:
        data["extra_data"] = {**data.get("extra_data", {}), "fingerprint": stamp}
    grade.write_json(out, data)
    return StudentResult(student, data, reused=False)


def _points_by_question(data: dict) -> dict:
    return {name: score for name, (score, _) in results.points_by_question(data).items()}


def write_csv(path: Path, graded: List[StudentResult]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "total", *[q.name for q in QUESTIONS]])
        for r in graded:
            points = _points_by_question(r.results)
            writer.writerow([r.student, round(r.results["score"], 2), *[round(points[q.name], 2) for q in QUESTIONS]])


def summary(graded: List[StudentResult]) -> str:
    if not graded:
        return "no submissions found"
    totals = [r.results["score"] for r in graded]
    lines = [
        f"{len(graded)} submissions ({sum(r.reused for r in graded)} unchanged since the last run, not regraded)",
        f"total: mean {statistics.mean(totals):.2f}, median {statistics.median(totals):.2f}, "
        f"min {min(totals):.2f}, max {max(totals):.2f}",
        f"ungradable: {sum(not r.results.get('tests') for r in graded)}",
        "",
        f"{'question':<16} {'mean':>7} {'of':>4}",
    ]
    per_question = [_points_by_question(r.results) for r in graded]
    for q in QUESTIONS:
        lines.append(f"{q.name:<16} {statistics.mean(p[q.name] for p in per_question):>7.2f} {q.points:>4}")
    return "\n".join(lines)


def batch(folder: Path, out_dir: Path, *, key: AnswerKey, suites, mnist_dir: Path, jobs: int = 1,
          **options) -> str:
    """Grade every submission in ``folder`` into ``out_dir``; returns the
    summary.  ``options`` are ``grade.grade``'s (limits, budget, ...)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    found = submissions(folder)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_grade_one, *item, out_dir, key=key, suites=suites, mnist_dir=mnist_dir,
                               options=options) for item in found]
        try:
            with sandbox.stop_on_interrupt(futures):  # the students in flight: their results say so
                graded = [future.result() for future in futures]
        except (KeyboardInterrupt, GradingStopped) as error:
            stop = error if isinstance(error, GradingStopped) else GradingStopped("interrupted")
            done = sum(f.done() and not f.cancelled() and not f.exception() for f in futures)
            raise GradingStopped(f"{stop}; {done} of {len(found)} students were graded, their results are "
                                 f"kept; the same command grades the rest", stop.exit_code) from None
    write_csv(out_dir / "scores.csv", graded)
    text = summary(graded)
    (out_dir / "summary.txt").write_text(text + "\n", encoding="utf-8")
    return text
