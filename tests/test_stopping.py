"""A grader that is stopped (SIGKILL, SIGTERM, Ctrl-C) leaves nothing
running and nothing half-done: every test runs the grader's command line
under ``tests.reaper``, which adopts whatever the grader leaves behind."""
import json
import os
import signal
import subprocess
import sys

import pytest

from grader import cli
from grader.errors import GradingStopped
from grader.run import WORK_PREFIX
from tests.grading import KIT, check_gradescope_format, copy_root, run_grader
from tests.hostile import sleeps_and_forks_at_import

pytestmark = pytest.mark.grading

STOPPED = "the grading was stopped"


def reap(tmp_path, *grader_args, signal: str, when: list, grace: float = 10.0) -> dict:
    """Run ``python -m grader *grader_args`` with its temporary folder in
    ``tmp_path/tmp``; signal it once ``when`` holds; report what outlived it."""
    (tmp_path / "tmp").mkdir(exist_ok=True)
    result = subprocess.run(
        [sys.executable, "-m", "tests.reaper", "--signal", signal, *when, "--grace", str(grace),
         "--log", str(tmp_path / "grader.log"), "--", sys.executable, "-m", "grader", *map(str, grader_args)],
        cwd=KIT, capture_output=True, text=True, timeout=1800, env={**os.environ, "TMPDIR": str(tmp_path / "tmp")},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    report["log"] = (tmp_path / "grader.log").read_text(errors="replace")
    assert report["condition_met"] and not report["ended_before_signal"], report
    return report


def working_folders(tmp_path) -> list:
    return sorted((tmp_path / "tmp").glob(WORK_PREFIX + "*"))


def test_killed_grader_leaves_no_process_and_the_next_start_removes_its_folder(tmp_path, answer_key, mnist_dir):
    submission = sleeps_and_forks_at_import(tmp_path)
    report = reap(tmp_path, "grade", submission, "--out", tmp_path / "results.json", "--suites", "public",
                  "--key-dir", answer_key, "--mnist-dir", mnist_dir,
                  signal="KILL", when=["--when-started", "-m pytest"])
    assert report["returncode"] == -9, report
    assert report["left"] == [], "processes outlived the grader by 10 s:\n" + "\n".join(report["left"])

    assert len(working_folders(tmp_path)) == 1, "a grader killed by SIGKILL cannot remove its own folder"
    empty = tmp_path / "empty"
    empty.mkdir()
    graded = subprocess.run([sys.executable, "-m", "grader", "grade", empty, "--out", tmp_path / "empty.json",
                             "--key-dir", answer_key, "--mnist-dir", mnist_dir], cwd=KIT, capture_output=True,
                            text=True, env={**os.environ, "TMPDIR": str(tmp_path / "tmp")})
    assert graded.returncode == 0, graded.stderr[-3000:]
    assert working_folders(tmp_path) == []


def test_sigterm_during_grade_writes_what_was_graded_and_exits_nonzero(tmp_path, answer_key, mnist_dir):
    out = tmp_path / "results.json"
    report = reap(tmp_path, "grade", KIT / "handout", "--out", out, "--suites", "public",
                  "--key-dir", answer_key, "--mnist-dir", mnist_dir,
                  signal="TERM", when=["--when-file-has", str(out), "NotImplementedError", "--settle", "1"], grace=3)
    assert report["returncode"] == 128 + 15, report
    assert report["seconds_to_end"] < 10, report
    assert report["left"] == [], report["left"]
    assert working_folders(tmp_path) == []
    assert "stopped by SIGTERM" in report["log"] and str(out) in report["log"], report["log"][-2000:]

    data = json.loads(out.read_text())
    check_gradescope_format(data)
    assert data["extra_data"]["stopped"] == "SIGTERM"
    stopped = [e for e in data["tests"] if STOPPED in e["output"]]
    graded = [e for e in data["tests"] if STOPPED not in e["output"]]
    assert stopped and graded, [e["output"][:200] for e in data["tests"]]
    for entry in stopped:
        assert "says nothing about your code" in entry["output"] and entry["score"] == 0, entry
    for entry in graded:  # the handout's: each test failed on its TODO, none cut short
        assert "NotImplementedError" in entry["output"], entry["output"][:500]


def test_interrupted_batch_keeps_what_was_graded_and_a_rerun_finishes(tmp_path, answer_key, mnist_dir):
    """A class of four, two at a time: the first (ungradable) ends at once,
    the next two are in flight when Ctrl-C comes, the last never starts."""
    class_dir, out = tmp_path / "class", tmp_path / "results"
    (class_dir / "a_empty").mkdir(parents=True)
    copy_root(KIT / "reference", class_dir / "b_reference")
    copy_root(KIT / "handout", class_dir / "c_handout")
    copy_root(KIT / "handout", class_dir / "d_handout")
    args = ("batch", class_dir, "--out", out, "--jobs", "2", "--accept-collusion-risk", "--suites", "public",
            "--key-dir", answer_key, "--mnist-dir", mnist_dir)

    report = reap(tmp_path, *args, signal="INT", when=["--when-file", str(out / "a_empty.json")], grace=3)
    assert report["returncode"] == 130, report
    assert report["seconds_to_end"] < 10, report
    assert report["left"] == [], report["left"]
    assert working_folders(tmp_path) == []
    assert "1 of 4 students were graded" in report["log"], report["log"][-2000:]
    in_flight = [json.loads((out / f"{name}.json").read_text()) for name in ("b_reference", "c_handout")]
    for data in in_flight:
        check_gradescope_format(data)
        assert data["extra_data"]["stopped"] == "SIGINT"
    assert not (out / "d_handout.json").exists()

    rerun = run_grader(*args)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "4 students: 3 graded, 1 ungradable (1 unchanged since the last run" in rerun.stdout, rerun.stdout
    results = {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}
    assert sorted(results) == ["a_empty", "b_reference", "c_handout", "d_handout"]
    for data in results.values():
        check_gradescope_format(data)
        assert "stopped" not in data["extra_data"] and STOPPED not in json.dumps(data)
    assert results["a_empty"]["tests"] == [] and "no needle/ folder" in results["a_empty"]["output"]
    assert results["b_reference"]["score"] == pytest.approx(100)
    assert results["c_handout"]["score"] == results["d_handout"]["score"] == 0
    summary = lambda data: [(e["name"], e["score"], e["output"].splitlines()[0]) for e in data["tests"]]
    assert summary(results["c_handout"]) == summary(results["d_handout"])
    rows = (out / "scores.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in rows[1:]] == ["a_empty", "b_reference", "c_handout", "d_handout"]
    assert working_folders(tmp_path) == []


def test_a_stop_before_grading_begins_leaves_no_older_results(tmp_path, monkeypatch):
    """Found by the red team: SIGTERM while the key loaded left an older
    results.json (of any score) standing at --out."""
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"score": 100.0, "output": "an older grading's results", "tests": []}))

    def stopped(args):
        raise GradingStopped("SIGTERM", 143)

    monkeypatch.setattr(cli, "_key", stopped)
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = cli.main(["grade", str(tmp_path), "--out", str(out)])
    finally:
        for number, handler in handlers.items():
            signal.signal(number, handler)
    assert code == 143
    data = json.loads(out.read_text())
    check_gradescope_format(data)
    assert data["score"] == 0 and STOPPED in data["output"] and data["extra_data"]["stopped"] == "SIGTERM"


def test_interrupted_audit_stops_its_runs_at_once(tmp_path, answer_key, mnist_dir):
    """Found by the red team: Ctrl-C during audit waited for the bug being
    graded to end (up to minutes), and ignored a second Ctrl-C."""
    report = reap(tmp_path, "audit", "--suites", "public", "--bugs",
                  "logsumexp_without_max_shift,transpose_reverses_all_axes",
                  "--key-dir", answer_key, "--mnist-dir", mnist_dir,
                  signal="INT", when=["--when-started", "-m pytest"], grace=3)
    assert report["returncode"] == 130, report
    assert report["seconds_to_end"] < 10, report
    assert report["left"] == [], report["left"]
    assert working_folders(tmp_path) == []
