"""Run a suite's tests of one question on an implementation root, in a child
process.  Nothing here imports the implementation: the child does, and it
hands back only a pytest-json-report file and .npy values, which the caller
reads as plain data.
"""
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from . import defaults
from .questions import Question


@dataclass(frozen=True)
class Run:
    """What one child process left behind."""

    suite: str
    question: str
    report: Optional[dict]  # the parsed json report; None when missing or invalid
    record_dir: Path
    returncode: Optional[int]  # None when it was killed for running too long
    seconds: float
    output_tail: str  # the end of what the child printed (collection errors land here)


def suite_file(suite: str, question: Question) -> Path:
    return defaults.SUITES[suite] / f"test_{question.name}.py"


def run_question(
    root: Path,
    suite: str,
    question: Question,
    work: Path,
    *,
    mnist_dir: Path,
    timeout: float = defaults.QUESTION_TIMEOUT,
) -> Run:
    """Run ``suite``'s tests of ``question`` on the implementation ``root``;
    the report and the recorded values go under ``work``."""
    out = work / suite / question.name
    out.mkdir(parents=True, exist_ok=True)
    report_path, record_dir = out / "report.json", out / "records"
    command = [
        sys.executable, "-m", "pytest", str(suite_file(suite, question)),
        "-q", "-p", "no:cacheprovider",
        f"--needle-root={root}", f"--mnist-dir={mnist_dir}", f"--record-dir={record_dir}",
        "--json-report", f"--json-report-file={report_path}",
        "--json-report-omit", "collectors", "keywords", "log", "streams", "warnings",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEEDLE_", "PYTEST_"))}
    # One BLAS thread: questions may run side by side, and a 2-thread BLAS
    # under contention runs many times slower, not twice.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    started = time.monotonic()
    try:
        completed = subprocess.run(
            command, cwd=defaults.KIT_ROOT, env=env, capture_output=True, text=True, timeout=timeout
        )
        returncode, output = completed.returncode, completed.stdout + completed.stderr
    except subprocess.TimeoutExpired as expired:
        returncode = None
        output = "".join(
            (part.decode(errors="replace") if isinstance(part, bytes) else part or "")
            for part in (expired.stdout, expired.stderr)
        )
    return Run(
        suite=suite,
        question=question.name,
        report=_read_report(report_path),
        record_dir=record_dir,
        returncode=returncode,
        seconds=time.monotonic() - started,
        output_tail=output[-6000:],
    )


def _read_report(path: Path) -> Optional[dict]:
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return report if isinstance(report, dict) and isinstance(report.get("tests"), list) else None
