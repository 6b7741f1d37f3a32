"""Which boxes may run at the same time (grader/sandbox.py, "Runs side by
side"): only runs of one submission's one suite.  The runs are faked (each
sleeps a little and leaves nothing), so that these tests see the schedule
alone, in seconds."""
import threading
import time
import types
from pathlib import Path

import pytest

from grader import batch, grade, sandbox
from grader.errors import GraderError
from grader.questions import QUESTIONS
from grader.run import Run
from grader.sandbox import Walls
from tests.grading import KIT, copy_root

WALLS = Walls(uid=None, filesystem=True, network=True, pid_namespace=True, keyrings=True, shared_objects=True,
              readable=(), notes=())


def _run(suite, question, stopped_by="", report=None, usage=None):
    return Run(suite=suite, question=question.name, report=report, record_dir=Path("/nowhere/records"),
               returncode=None if stopped_by else 0, stopped=stopped_by, seconds=10.0, output_tail="", walls=WALLS,
               stopped_by=stopped_by, usage=usage)


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
        return _run(suite, question)  # it reported no test: only the schedule matters here

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


@pytest.fixture
def stopped_once(monkeypatch):
    """Fakes each run; the first run of public/data ends as ``stopped.by``
    says.  Returns that setting and (suite, question, start, end) of every run."""
    made, lock, stopped = [], threading.Lock(), types.SimpleNamespace(by=sandbox.WALL_CLOCK)

    def fake_run(root, suite, question, work, **_):
        start = time.monotonic()
        time.sleep(0.05)
        with lock:
            first = (suite, question.name) not in {(s, q) for s, q, *_ in made}
            made.append((suite, question.name, start, time.monotonic()))
        return _run(suite, question, stopped.by if first and (suite, question.name) == ("public", "data") else "")

    monkeypatch.setattr(grade, "run_question", fake_run)
    monkeypatch.setattr(grade.sandbox, "forget_page_cache", lambda: "")
    stopped.made = made
    return stopped


def test_a_run_a_busy_machine_kept_from_finishing_runs_again_alone_before_the_next_suite(tmp_path, stopped_once,
                                                                                         key):
    grade.grade(copy_root(KIT / "handout", tmp_path / "s"), tmp_path / "results.json", key=key,
                suites=("public", "hidden"), mnist_dir=tmp_path, workers=2)
    made = stopped_once.made
    again = [run for run in made if run[:2] == ("public", "data")]
    assert len(again) == 2, made
    rerun = again[1]
    others = [run for run in made if run is not rerun]
    assert not [run for run in others if run[2] < rerun[3] and rerun[2] < run[3]], "the run again was not alone"
    assert all(start >= rerun[3] for suite, _, start, _ in made if suite == "hidden")


def test_a_run_that_slept_past_the_wall_clock_is_not_run_again(tmp_path, stopped_once, key):
    stopped_once.by = sandbox.SLEPT
    grade.grade(copy_root(KIT / "handout", tmp_path / "s"), tmp_path / "results.json", key=key,
                suites=("public",), mnist_dir=tmp_path, workers=2)
    assert len(stopped_once.made) == len(QUESTIONS)


WALL_STOPPED_TEST = {"tests": [{"nodeid": "t.py::test_x", "outcome": "failed",
                                "call": {"outcome": "failed", "duration": 12.0,
                                         "crash": {"message": "Failed: Timeout (>12.5s) from pytest-timeout."}}}]}


@pytest.mark.parametrize("waiting, again", [(5.0, True), (0.1, False)], ids=["busy-machine", "quiet-machine"])
def test_a_test_stopped_by_the_wall_clock_runs_again_only_if_its_run_waited_for_a_cpu(waiting, again):
    usage = sandbox.Usage(cpu_seconds=2.0, waiting_seconds=waiting, memory_peak=None, forks_refused=0)
    run = _run("public", QUESTIONS[0], report=WALL_STOPPED_TEST, usage=usage)
    assert run.waited is again
    assert not _run("public", QUESTIONS[0], report={"tests": []}, usage=usage).waited
