"""Chooses the Needle implementation under test for every suite.

``--needle-root DIR`` (or the environment variable NEEDLE_ROOT; default
``reference``) names an implementation root holding ``needle/`` and
``apps/``.  Both are put first on ``sys.path`` here, once, so that test files
import ``needle`` and the apps plainly and never touch ``sys.path``.
"""
import importlib.util
import os
import sys
from pathlib import Path

import pytest

from tests_public.recording import Recorder

DEFAULT_NEEDLE_ROOT = "reference"
DEFAULT_MNIST_DIR = "data/mnist"
MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)


def pytest_addoption(parser):
    group = parser.getgroup("needle")
    group.addoption(
        "--needle-root",
        metavar="DIR",
        default=os.environ.get("NEEDLE_ROOT", DEFAULT_NEEDLE_ROOT),
        help="implementation root with needle/ and apps/ "
        "(env NEEDLE_ROOT; default: %(default)s)",
    )
    group.addoption(
        "--record-dir",
        metavar="DIR",
        default=None,
        help="where the record fixture saves the values tests compute, for the grader "
        "(default: nowhere)",
    )
    group.addoption(
        "--mnist-dir",
        metavar="DIR",
        default=os.environ.get("NEEDLE_MNIST_DIR", DEFAULT_MNIST_DIR),
        help="folder with the four MNIST .gz files, as written by mnist_fetch.py "
        "(env NEEDLE_MNIST_DIR; default: %(default)s)",
    )


def _needle_root(config) -> Path:
    return (config.rootpath / config.getoption("--needle-root")).resolve()


def pytest_configure(config):
    config.addinivalue_line("markers", "mnist: reads the MNIST files (python mnist_fetch.py)")
    config.addinivalue_line("markers", "slow: trains on MNIST for more than a few seconds")
    root = _needle_root(config)
    if not (root / "needle" / "__init__.py").is_file():
        raise pytest.UsageError(
            f"--needle-root {root}: no needle/__init__.py there; point it at a "
            f"folder holding needle/ and apps/ (for example reference or handout)"
        )
    if "needle" in sys.modules:
        raise pytest.UsageError(
            f"needle was imported before the test session chose {root}; "
            f"do not import it from a plugin or an installed package"
        )
    for path in (root / "apps", root):
        sys.path.insert(0, str(path))
    spec = importlib.util.find_spec("needle")
    found = Path(spec.origin).resolve().parent
    if found != root / "needle":
        raise pytest.UsageError(
            f"import needle would load {found}, not {root / 'needle'}; "
            f"uninstall the other copy (pip uninstall needle) or fix --needle-root"
        )


def pytest_collection_modifyitems(items):
    # Tests that read MNIST are marked, so that `-m "not mnist"` runs the rest.
    for item in items:
        if "mnist_dir" in getattr(item, "fixturenames", ()):
            item.add_marker("mnist")


def pytest_report_header(config):
    return f"needle root: {_needle_root(config)}"


@pytest.fixture(scope="session")
def needle_root(pytestconfig) -> Path:
    """The implementation root under test."""
    return _needle_root(pytestconfig)


@pytest.fixture(scope="session")
def mnist_dir(pytestconfig) -> Path:
    """The folder holding the four MNIST files; fails with what to run when
    they are missing."""
    folder = (pytestconfig.rootpath / pytestconfig.getoption("--mnist-dir")).resolve()
    missing = [name for name in MNIST_FILES if not (folder / name).is_file()]
    if missing:
        pytest.fail(
            f"MNIST files missing from {folder}: {', '.join(missing)}. "
            f"Run `python mnist_fetch.py` (or pass --mnist-dir DIR).",
            pytrace=False,
        )
    return folder



@pytest.fixture(autouse=True)
def record(request, pytestconfig):
    """Hands the values a test computes to the grader (see
    tests_public/recording.py); ``assert_close`` records what it checks."""
    record_dir = pytestconfig.getoption("--record-dir")
    with Recorder.active(record_dir, request.node.nodeid) as recorder:
        yield recorder
