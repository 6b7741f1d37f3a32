"""The suites' pytest plugin: which implementation and which data they use,
and where what the tests hand over goes.

``--needle-root DIR`` (env NEEDLE_ROOT; default ``reference``) names an
implementation root holding ``needle/`` and ``apps/``; both are put first on
``sys.path`` here, once, so that test files import ``needle`` and the apps
plainly.  ``--record-dir`` (grading) saves every value a test hands over;
without it, a test file's values file (``expected/<test file>.npz``: a
student's local run) checks them at once.  ``--salt`` draws other inputs from the same seeds: the
grader's run of the public tests uses one that students never see.
"""
import importlib.util
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

from grader.channel import CPU_LIMIT_FAILURE, PROGRESS

from . import inputs
from .record import Recorder

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
    group.addoption("--needle-root", metavar="DIR", default=os.environ.get("NEEDLE_ROOT", DEFAULT_NEEDLE_ROOT),
                    help="implementation root with needle/ and apps/ (env NEEDLE_ROOT; default: %(default)s)")
    group.addoption("--mnist-dir", metavar="DIR", default=os.environ.get("NEEDLE_MNIST_DIR", DEFAULT_MNIST_DIR),
                    help="folder with the four MNIST .gz files, as written by mnist_fetch.py "
                    "(env NEEDLE_MNIST_DIR; default: %(default)s)")
    group.addoption("--record-dir", metavar="DIR", default=None,
                    help="where the values that tests hand over are saved, for the grader (default: nowhere)")
    group.addoption("--test-timeouts", metavar="FILE", default=None,
                    help="a JSON object of node id to [CPU seconds, wall-clock seconds]: each such test fails "
                    "when it uses more CPU time, or runs longer by the wall clock (pytest-timeout); the grader's")
    group.addoption("--salt", metavar="N", type=int, default=0,
                    help="draw the tests' inputs with this salt (the grader's; default 0: the inputs that "
                    "the values files were written for)")


def _needle_root(config) -> Path:
    return (config.rootpath / config.getoption("--needle-root")).resolve()


def pytest_configure(config):
    config.addinivalue_line("markers", "mnist: reads the MNIST files (python mnist_fetch.py)")
    config.addinivalue_line("markers", "slow: trains on MNIST for more than a few seconds")
    config.addinivalue_line("markers", "behaviour(name=None, weight=1): the graded behaviour a test (or a "
                            "parametrized case) belongs to, and its weight among its question's behaviours "
                            "(default: the test function, weight 1); see grader/box/record.py")
    inputs.SALT = config.getoption("--salt")
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


def pytest_collection_modifyitems(config, items):
    # Tests that read MNIST are marked, so that `-m "not mnist"` runs the rest.
    timeouts = _timeouts(config.getoption("--test-timeouts"))
    for item in items:
        if "mnist_dir" in getattr(item, "fixturenames", ()):
            item.add_marker("mnist")
        if item.nodeid in timeouts:
            cpu, wall = timeouts[item.nodeid]
            item.stash[_CPU_LIMIT] = cpu
            # A signal, not a thread: the test fails and the run goes on.
            item.add_marker(pytest.mark.timeout(wall, method="signal"))


def _timeouts(path) -> dict:
    return {} if path is None else json.loads(Path(path).read_text())


_CPU_LIMIT = pytest.StashKey[float]()
_CPU_START = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    """Count each test's CPU time (the process's, setup to teardown), and
    stop a test that uses more than its limit: a timer of CPU time, which
    a busy machine does not run down (SIGPROF)."""
    limit = item.stash.get(_CPU_LIMIT, None)
    if limit is not None:
        def stop(signum, frame):
            pytest.fail(f"{CPU_LIMIT_FAILURE.removeprefix('Failed: ')} (>{limit:g} s of CPU time): an endless "
                        f"loop, or far slower code than needed?", pytrace=False)
        signal.signal(signal.SIGPROF, stop)
        signal.setitimer(signal.ITIMER_PROF, limit)
    item.stash[_CPU_START] = time.process_time()
    try:
        yield
    finally:
        if limit is not None:
            signal.setitimer(signal.ITIMER_PROF, 0)


_PROGRESS = {"file": None, "tests": {}}


def pytest_sessionstart(session):
    record_dir = session.config.getoption("--record-dir")
    if record_dir:
        _PROGRESS["file"] = Path(record_dir) / PROGRESS


def pytest_runtest_logreport(report):
    """Each test's outcome as it ends (grading only): a run stopped from
    outside before its report is written still shows what it did."""
    if _PROGRESS["file"] is None:
        return
    entry = _PROGRESS["tests"].setdefault(report.nodeid, {"nodeid": report.nodeid, "outcome": "passed"})
    phase = {"outcome": report.outcome, "duration": report.duration}
    if report.failed:
        crash = getattr(report.longrepr, "reprcrash", None)
        phase["crash"] = {"message": crash.message if crash else str(report.longrepr)[:500]}
        phase["longrepr"] = str(report.longrepr)[-4000:]
        entry["outcome"] = "failed"
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
    entry[report.when] = phase
    if report.when == "teardown":
        with open(_PROGRESS["file"], "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


@pytest.hookimpl(optionalhook=True)
def pytest_json_runtest_metadata(item, call):
    """Each test's behaviour in pytest-json-report's report, for check.py's
    table (the grader's points come from the answer key), and its CPU time
    (the key's measure of the reference)."""
    meta = {"behaviour": behaviour_of(item)}  # every phase: a test that errors in setup keeps its behaviour
    if call.when == "teardown" and _CPU_START in item.stash:
        meta["cpu_seconds"] = round(time.process_time() - item.stash[_CPU_START], 6)  # the key's
    return meta


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


_EXPECTED = {}  # test file -> its ExpectedValues, or None


def _expected_for(test_file: Path, salt: int):
    """The values file of a test file (``expected/<its name>.npz`` beside
    it), for a local run with the inputs it was written for; None in
    grading, where there is no such file."""
    if test_file not in _EXPECTED:
        path = test_file.parent / "expected" / f"{test_file.stem}.npz"
        if path.is_file() and salt == 0:
            from grader.expected import ExpectedValues

            _EXPECTED[test_file] = ExpectedValues(path)
        else:
            _EXPECTED[test_file] = None
    return _EXPECTED[test_file]


@pytest.fixture(autouse=True)
def _recorder(request, pytestconfig):
    """Hands the values a test computes to the grader, or checks them
    against its values file (see grader/box/record.py)."""
    expected = _expected_for(Path(str(request.node.path)), pytestconfig.getoption("--salt"))
    with Recorder.active(pytestconfig.getoption("--record-dir"), request.node.nodeid, expected,
                         behaviour_of(request.node)) as recorder:
        yield recorder
        recorder.save_meta()  # also for a test that hands nothing over: the key learns its behaviour


def behaviour_of(item) -> dict:
    """The behaviour a test belongs to, from its closest ``behaviour``
    marks (a case's before its function's): its name (default: the test
    function's) and weight (default 1)."""
    name, weight = None, None
    for mark in item.iter_markers("behaviour"):
        if name is None and (mark.args or "name" in mark.kwargs):
            name = mark.kwargs.get("name", mark.args[0] if mark.args else None)
        if weight is None and "weight" in mark.kwargs:
            weight = mark.kwargs["weight"]
    return {"name": str(name or item.originalname), "weight": float(1 if weight is None else weight)}
