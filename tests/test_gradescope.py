"""The Gradescope autograder zip, run locally in an /autograder-style layout."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def autograder(tmp_path_factory, answer_key, mnist_dir) -> Path:
    """The zip unpacked as Gradescope does: /autograder/source and /autograder/run_autograder."""
    root = tmp_path_factory.mktemp("autograder")
    archive = root / "autograder.zip"
    built = subprocess.run(
        [sys.executable, "-m", "grader", "gradescope", str(archive), f"--key-dir={answer_key}",
         f"--mnist-dir={mnist_dir}"],
        cwd=KIT, capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        assert {"setup.sh", "run_autograder", "grader/cli.py", "key/key.json", "tests_hidden/test_modules.py"} <= set(names)
        assert not [n for n in names if n.startswith(("reference/", "handout/"))], "the reference is not shipped"
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


@pytest.mark.grading
@pytest.mark.parametrize("implementation, full_marks", [("reference", True), ("handout", False)])
def test_run_autograder_writes_results_for_a_submission(autograder, implementation, full_marks):
    submission = autograder / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(autograder / "results", ignore_errors=True)
    for folder in ("needle", "apps"):
        shutil.copytree(KIT / implementation / folder, submission / folder)
    run = subprocess.run(
        ["bash", str(autograder / "run_autograder")],
        env={"AUTOGRADER": str(autograder), "AUTOGRADER_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((autograder / "results" / "results.json").read_text())
    if full_marks:
        assert results["score"] == pytest.approx(100), results["output"]
    else:
        assert results["score"] == 0, results["output"]
        assert any("NotImplementedError" in t["output"] for t in results["tests"])
