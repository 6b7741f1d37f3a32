"""Honest code never loses a point to the machine (issue 25): graded while
busy processes hold every core twice over, the reference keeps full marks."""
import os
import subprocess
import sys

import pytest

from grader.questions import TOTAL_POINTS
from tests.grading import KIT, grade_with_cli

pytestmark = pytest.mark.grading


@pytest.fixture
def busy_machine():
    """Two spinning processes per core, for as long as the test runs."""
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * os.cpu_count())]
    yield len(spinners)
    for spinner in spinners:
        spinner.kill()
        spinner.wait()


def test_reference_scores_full_marks_on_a_machine_kept_busy(busy_machine, answer_key, mnist_dir, tmp_path):
    graded = grade_with_cli(KIT / "reference", tmp_path / "results.json", suites="public,hidden",
                            key_dir=answer_key, mnist_dir=mnist_dir)
    assert graded.data["score"] == TOTAL_POINTS, graded.data["output"]
