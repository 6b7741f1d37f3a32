"""What the end-to-end grader tests share: running the grader's command
line, reading what it wrote, and checking Gradescope's format."""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.results import points_by_question

KIT = Path(__file__).resolve().parent.parent
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def run_grader(*args, timeout=3600, temp=None) -> subprocess.CompletedProcess:
    """``python -m grader *args``; its working folders in ``temp`` if given."""
    return subprocess.run(
        [sys.executable, "-m", "grader", *[str(a) for a in args]],
        cwd=KIT, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "TMPDIR": str(temp)} if temp else None,
    )


@dataclass(frozen=True)
class Graded:
    process: subprocess.CompletedProcess
    data: dict  # results.json

    def entries(self, suite=None):
        return [t for t in self.data["tests"] if suite is None or t["name"].endswith(f"({suite} tests)")]

    def by_question(self):
        return {name: score for name, (score, _) in points_by_question(self.data).items()}


def grade_with_cli(submission: Path, out: Path, *, suites: str, key_dir: Path, mnist_dir: Path,
                   extra=(), temp=None) -> Graded:
    """Grade through ``python -m grader grade``; it must exit 0 and write results."""
    result = run_grader("grade", submission, "--out", out, "--suites", suites,
                        "--key-dir", key_dir, "--mnist-dir", mnist_dir, *extra, temp=temp)
    assert result.returncode == 0, (
        f"grading {submission} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    assert out.is_file(), f"no results.json written for {submission}"
    return Graded(result, json.loads(out.read_text(encoding="utf-8")))


def check_gradescope_format(data: dict) -> None:
    """Gradescope's results.json, checked by hand."""
    number = (int, float)
    assert isinstance(data, dict)
    assert isinstance(data.get("score"), number) and not isinstance(data["score"], bool), data.get("score")
    assert isinstance(data.get("execution_time"), number), data.get("execution_time")
    assert isinstance(data.get("output"), str)
    assert data.get("visibility") in VISIBILITIES
    assert data.get("stdout_visibility") in VISIBILITIES
    assert isinstance(data.get("tests"), list)
    for test in data["tests"]:
        assert isinstance(test, dict)
        assert isinstance(test.get("name"), str) and test["name"], test
        assert isinstance(test.get("number"), str), test
        for field in ("score", "max_score"):
            assert isinstance(test.get(field), number) and not isinstance(test[field], bool), (field, test)
        assert 0 <= test["score"] <= test["max_score"], test
        assert test.get("status") in {"passed", "failed"}, test
        assert test.get("visibility") in VISIBILITIES, test
        assert isinstance(test.get("output"), str), test
    total = sum(t["score"] for t in data["tests"])
    assert abs(total - data["score"]) <= 1e-6, f"test scores add up to {total!r}, but score is {data['score']!r}"
    json.dumps(data)  # plain JSON all the way down


def copy_root(source: Path, dest: Path) -> Path:
    for folder in ("needle", "apps"):
        shutil.copytree(source / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest
