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
