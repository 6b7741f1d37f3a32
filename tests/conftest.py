"""Fixtures of the kit's own tests."""
import subprocess
import sys
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def answer_key(mnist_dir) -> Path:
    """The answer key, built (or found current) in the grader's cache."""
    key_dir = KIT / ".cache" / "key"
    result = subprocess.run(
        [sys.executable, "-m", "grader", "key", f"--key-dir={key_dir}", f"--mnist-dir={mnist_dir}"],
        cwd=KIT, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return key_dir


@pytest.fixture
def remove_deep_trees(tmp_path):
    """Removes ``tmp_path`` after the test with rm, which walks any depth:
    pytest's own clean-up (shutil.rmtree) recurses, and a hostile folder
    chain deeper than the recursion limit would crash a later session."""
    yield
    subprocess.run(["rm", "-rf", str(tmp_path)], check=False)
