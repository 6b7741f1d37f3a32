"""Time limits that load cannot move (issue 25): a test, and a run, is too
slow when it uses more CPU time than its limit; the wall clock is only a
backstop against code that sleeps.  The run-level figures (the cgroup's
count) are checked in tests/test_sandbox.py, the rerun of what a busy
machine stopped in tests/test_scheduling.py."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from grader import defaults
from grader.questions import TOTAL_POINTS
from tests.grading import KIT, grade_with_cli, run_grader

TESTS = """
    import time

    def test_busy():
        while True:
            pass

    def test_sleeps():
        time.sleep(60)

    def test_quick():
        sum(range(10 ** 5))
"""


def test_a_test_fails_by_its_cpu_time_and_one_that_sleeps_by_the_wall_clock(tmp_path):
    """The box's plugin: a CPU timer for each test (SIGPROF), pytest-timeout
    for the wall clock, and each test's CPU time in the report (the key's
    measure of the reference)."""
    (tmp_path / "impl" / "needle").mkdir(parents=True)
    (tmp_path / "impl" / "needle" / "__init__.py").write_text("")
    (tmp_path / "test_times.py").write_text(textwrap.dedent(TESTS))
    (tmp_path / "timeouts.json").write_text(json.dumps({"test_times.py::test_busy": [0.5, 30],
                                                        "test_times.py::test_sleeps": [30, 1],
                                                        "test_times.py::test_quick": [5, 20]}))
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(KIT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "grader.box.plugin",
                           "-p", "pytest_timeout", "-p", "pytest_jsonreport.plugin", "--needle-root=impl",
                           "--test-timeouts=timeouts.json", "--json-report", "--json-report-file=report.json",
                           "test_times.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    tests = {t["nodeid"].split("::")[1]: t for t in json.loads((tmp_path / "report.json").read_text())["tests"]}
    assert tests["test_busy"]["call"]["crash"]["message"].startswith("Failed: CPU time limit (>0.5 s of CPU time)")
    assert tests["test_sleeps"]["call"]["crash"]["message"].startswith("Failed: Timeout (>1.0s)")
    assert tests["test_quick"]["outcome"] == "passed"
    cpu = {name: test["metadata"]["cpu_seconds"] for name, test in tests.items()}
    # The kernel's CPU timer fires on its accounting's ticks: near the limit, not at it.
    assert 0.25 <= cpu["test_busy"] < 1.5 and cpu["test_sleeps"] < 0.25, cpu


@pytest.mark.grading
def test_reference_passes_where_the_key_was_built_four_times_faster(answer_key, mnist_dir, tmp_path):
    """The limits let the reference pass on a machine 4 times slower than
    the key's: the same key with every test's CPU time cut to a quarter
    (and the question's CPU time too) still gives it full marks."""
    faster = tmp_path / "key"
    faster.mkdir()
    for suite in defaults.SUITES:
        (faster / suite).symlink_to(answer_key / suite)
    key = json.loads((answer_key / "key.json").read_text())
    for test in key["tests"]:
        test["seconds"] /= 4
    (faster / "key.json").write_text(json.dumps(key))
    graded = grade_with_cli(KIT / "reference", tmp_path / "results.json", suites="public,hidden", key_dir=faster,
                            mnist_dir=mnist_dir, extra=("--timeout", str(defaults.QUESTION_CPU_SECONDS / 4)))
    assert graded.data["score"] == TOTAL_POINTS, graded.data["output"]


def test_a_grading_whose_budget_lets_no_run_start_says_no_code_ran(answer_key, mnist_dir, tmp_path):
    """Not the walls of no run (which read as none held) and no warning of
    reduced isolation: nothing of the submission ran."""
    out = tmp_path / "results.json"
    graded = run_grader("grade", KIT / "reference", "--out", out, "--key-dir", answer_key, "--mnist-dir", mnist_dir,
                        "--budget", 5)
    assert graded.returncode == 0, graded.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["score"] == 0 and all("the time budget of 5 s" in t["output"] for t in data["tests"]), data
    assert data["extra_data"]["isolation"] == {"runs": "none: no student code ran", "budget": "5 s"}
    assert "reduced isolation" not in graded.stderr, graded.stderr
