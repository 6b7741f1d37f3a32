"""Which boxes may run at the same time (grader/sandbox.py, "Runs side by
side"): only runs of one submission's one suite.  The runs are faked (each
sleeps a little and leaves nothing), so that these tests see the schedule
alone, in seconds."""
import threading
import time
import types
from pathlib import Path

import pytest

from grader import batch, grade
from grader.errors import GraderError
from grader.questions import QUESTIONS
from tests.grading import KIT, copy_root

@pytest.fixture
def key(tmp_path):
    """A key with no tests: scoring has nothing to do."""
    return types.SimpleNamespace(fingerprint="key-1", tests=(), salt=0, folder=tmp_path / "key",
                                 record_dir=lambda suite, question: tmp_path / "key" / suite / question)


@pytest.fixture
def intervals(monkeypatch):
    """Fakes each sandboxed run; returns (submission, suite, start, end) of every run made."""
    made, lock = [], threading.Lock()

    def fake_run(root, suite, question, work, **_):
        start = time.monotonic()
        time.sleep(0.05)
        with lock:
            made.append((str(root), suite, start, time.monotonic()))
        return None  # reported as not run: only the schedule matters here

    monkeypatch.setattr(grade, "run_question", fake_run)
    monkeypatch.setattr(grade.sandbox, "forget_page_cache", lambda: "")  # a second a grading, for nothing here
    return made


def _overlapping(made):
    return [(a[:2], b[:2]) for i, a in enumerate(made) for b in made[i + 1:] if a[2] < b[3] and b[2] < a[3]]


def _class(folder: Path, size: int) -> Path:
    for i in range(size):
        copy_root(KIT / "handout", folder / f"student{i}")
    return folder


def test_public_runs_all_end_before_the_first_hidden_run_starts(tmp_path, intervals, key):
    grade.grade(copy_root(KIT / "handout", tmp_path / "s"), tmp_path / "results.json", key=key,
                suites=("hidden", "public"), mnist_dir=tmp_path, workers=2)
    public = [run for run in intervals if run[1] == "public"]
    hidden = [run for run in intervals if run[1] == "hidden"]
    assert len(public) == len(hidden) == len(QUESTIONS)
    assert max(end for *_, end in public) <= min(start for _, _, start, _ in hidden)
    overlaps = _overlapping(intervals)
    assert overlaps, "runs of one suite should still go side by side"
    assert all(a == b for a, b in overlaps), overlaps


def test_batch_grades_one_student_at_a_time_by_default(tmp_path, intervals, key):
    batch.batch(_class(tmp_path / "class", 3), tmp_path / "out", key=key, suites=("public", "hidden"),
                mnist_dir=tmp_path, workers=2)
    assert len({root for root, *_ in intervals}) == 3
    overlaps = _overlapping(intervals)
    assert overlaps and all(a == b for a, b in overlaps), overlaps


def test_batch_grades_students_side_by_side_only_when_the_risk_is_accepted(tmp_path, intervals, key):
    options = dict(key=key, suites=("public",), mnist_dir=tmp_path, workers=1, jobs=2)
    with pytest.raises(GraderError, match="--accept-collusion-risk"):
        batch.batch(_class(tmp_path / "class", 2), tmp_path / "out", **options)
    assert intervals == []
    batch.batch(tmp_path / "class", tmp_path / "out", accept_collusion_risk=True, force=True, **options)
    assert any(a[0] != b[0] for a, b in _overlapping(intervals))
