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
import bz2
import gzip
import io
import itertools
import lzma
import os
import re
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


# --- a run's neighbours (issue 25): what one run may take from the machine -----
# Bodies of EWisePow.compute (see _in_ewise_pow); each misbehaves once per run
# at most, so that a grading stays short.

# 64 MiB files (the per-file cap) where the run may write, in a folder named
# like a test's records, which the grader copies out to its own disk: 24 of
# them (1.5 GiB, as the issue measured) unless refused first.
DISK_FILLER = """
import os, sys
records = next(arg.split("=", 1)[1] for arg in sys.argv if arg.startswith("--record-dir="))
folder = os.path.join(records, "f" * 32)
os.makedirs(folder, exist_ok=True)
block = b"x" * (1 << 20)
for i in range(24):
    path = os.path.join(folder, f"fill{i}.npy")
    if os.path.exists(path):  # an earlier call's
        continue
    try:
        with open(path, "xb") as f:
            for _ in range(64):
                f.write(block)
    except OSError:
        os.remove(path)  # room for the run's report, which then says why the test failed
        raise
return _np.power(a, b)
"""

# Three children hold 2 GiB each at once (6 GiB, the run may hold 4); the
# parent says what became of them, and computes on if nothing did.
MEMORY_HOG_IN_CHILDREN = """
import os, time
if getattr(_ops_mathematic, "_hogged", False):
    return _np.power(a, b)
_ops_mathematic._hogged = True
children = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            hog = _np.ones(1 << 28)  # 2 GiB, every page written
            time.sleep(3)  # held while the others take theirs
            code = 0
        finally:
            os._exit(code)
    children.append(pid)
statuses = []
for pid in children:
    while True:
        try:
            statuses.append(os.waitpid(pid, 0)[1])
            break
        except BaseException:  # the test's time limit (a SIGALRM): what became of the children is the point
            continue
stopped = [f"killed by signal {os.WTERMSIG(s)}" if os.WIFSIGNALED(s) else "refused (MemoryError)"
           for s in statuses if s]
if stopped:
    raise MemoryError("children holding 2 GiB each: " + ", ".join(stopped))
return _np.power(a, b)
"""

# A fork bomb: every process forks for ever, whatever is refused.
FORK_BOMB = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""

# A classmate's every run: 15 busy loops started when needle is imported,
# each in a session of its own (out of the run's process group).
CPU_HOG_AT_IMPORT = """

import os as _os

for _ in range(15):
    try:
        if _os.fork() == 0:
            _os.setsid()
            while True:
                pass
    except OSError:  # the run's processes cap
        break
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


def syntax_error_of_a_long_name(folder: Path) -> Path:
    """A syntax error whose message quotes a name of 70,000 characters: the
    answer of the child that compiles once overflowed its pipe (the grader crashed)."""
    root = copy_root(KIT / "reference", folder / "submission")
    name = "x" * 70_000
    (root / "needle" / "ops" / "named.py").write_text(f"def f({name}):\n    global {name}\n", encoding="utf-8")
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


# Compression bombs: tarfile decompressed a member to list the next one, in
# the grader's own process, before any size check or budget (a 1.1 MB bz2
# of 1 TiB of zeros kept `grade --budget 60` busy for 240 s).  Built in a
# second: the zeros are compressed once and the stream repeated, as gzip,
# bzip2 and xz read streams laid end to end as one (pigz and pbzip2 write
# them so).


def _tar_bomb(folder: Path, compress: Callable[[bytes], bytes], chunk: int, chunks: int) -> Path:
    """needle/weights.bin (``chunks`` x ``chunk`` zeros), then the reference, as a tar that ``compress``
    compresses, named submission.tar.gz whatever the compression."""
    weights = tarfile.TarInfo("needle/weights.bin")
    weights.size = chunk * chunks  # a multiple of 512: the next header follows the zeros
    rest = io.BytesIO()
    with tarfile.open(fileobj=rest, mode="w") as t:
        for source, name in _reference_files():
            t.add(source, arcname=name)
    zeros = compress(bytes(chunk))
    path = folder / "submission.tar.gz"
    with path.open("wb") as f:
        f.write(compress(weights.tobuf(tarfile.PAX_FORMAT)))
        for _ in range(chunks):
            f.write(zeros)
        f.write(compress(rest.getvalue()))
    return path


def gzip_bomb(folder: Path) -> Path:
    return _tar_bomb(folder, gzip.compress, 16 << 20, 256)  # 4 GiB in 4 MB


def bzip2_bomb_named_tar_gz(folder: Path) -> Path:
    return _tar_bomb(folder, bz2.compress, 64 << 20, 16384)  # 1 TiB in 1.3 MB


def xz_bomb_named_tar_gz(folder: Path) -> Path:
    return _tar_bomb(folder, lambda data: lzma.compress(data, preset=0), 64 << 20, 256)  # 16 GiB in 2.5 MB


def _zip_bomb(folder: Path, compression: int, size: int) -> Path:
    """needle/weights.bin (``size`` zeros, streamed through zipfile's compressor), then the reference."""
    path = folder / "submission.zip"
    with zipfile.ZipFile(path, "w", compression, compresslevel=9) as z:
        with z.open("needle/weights.bin", "w") as weights:
            for _ in range(size >> 24):
                weights.write(bytes(1 << 24))
        for source, name in _reference_files():
            z.write(source, name)
    return path


def zip_deflate_bomb(folder: Path) -> Path:
    return _zip_bomb(folder, zipfile.ZIP_DEFLATED, 1 << 30)  # 1 GiB in 1 MB


def zip_bzip2_bomb_whose_size_lies(folder: Path) -> Path:
    """512 MiB of zeros in 400 bytes, declared 100 bytes: zipfile trusts the declared size, but hands
    bzip2 the whole member, which it decompresses at once."""
    path = _zip_bomb(folder, zipfile.ZIP_BZIP2, 512 << 20)
    with zipfile.ZipFile(path) as z:
        central = z.start_dir  # weights.bin's entry is the first: its size is at 24, as at 22 in its local header
    data = bytearray(path.read_bytes())
    for at in (22, central + 24):
        data[at:at + 4] = (100).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    return path


# Hidden runs that pass every test, then end as a bit of their test file
# picks: exit 3 after the report, or not.  Each ending was a message of its
# own in the hidden entries (a red team read 24 bits of hidden source a grading).
HIDDEN_ENDINGS = """
import atexit as _atexit
import os as _os
import sys as _sys

_TEST = next((a for a in _sys.argv if a.endswith(".py") and "/test_" in a), "")


def _end():
    if _TEST.startswith("tests_hidden"):
        with open(_TEST, "rb") as test:
            if test.read()[100] & 1:
                _os._exit(3)


_atexit.register(_end)
"""


# A compile bomb: one call with as many distinct keyword arguments as fit in
# the 1 MiB a source file may hold (170,000), which CPython's compiler checks
# for duplicates pair by pair: 300 s of the grader's CPU for one file that
# nothing imports, before any budget applied.


def compile_bomb(folder: Path) -> Path:
    root = copy_root(KIT / "handout", folder / "submission")
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    words = ("_" + "".join(w) for n in (1, 2, 3, 4) for w in itertools.product(letters, repeat=n))
    call, size = ["f("], 2
    for word in words:
        if size + len(word) + 3 > (1 << 20) - 16:
            break
        call.append(f"{word}=1,")
        size += len(word) + 3
    (root / "needle" / "kw_bomb.py").write_text("".join(call) + ")\n", encoding="utf-8")
    return root


# What a run leaves in its records for the grader to copy out, made to cost
# the host (a red team): empty folders named as a test's (no space on the
# run's tmpfs, a folder and an inode each on the grader's disk), and, at
# exit, every record and the report made sparse files of many times their
# size (no space on the tmpfs, whole copies on the grader's disk).
RECORD_FLOOD = """
import sys as _sys

_RECORDS = next((a.split("=", 1)[1] for a in _sys.argv if a.startswith("--record-dir=")), "")
if _RECORDS:
    for _i in range(FOLDERS):
        try:
            _os.mkdir(_os.path.join(_RECORDS, "%032x" % _i))
        except OSError:
            break
"""
SPARSE_RECORDS = """
import atexit as _atexit
import sys as _sys


def _inflate():
    records = next((a.split("=", 1)[1] for a in _sys.argv if a.startswith("--record-dir=")), "")
    report = next((a.split("=", 1)[1] for a in _sys.argv if a.startswith("--json-report-file=")), "")
    for folder, _, files in _os.walk(records or "/nonexistent"):
        for name in files:
            try:
                path = _os.path.join(folder, name)
                _os.truncate(path, min(64 << 20, max(4 * _os.path.getsize(path), 1 << 20)))
            except OSError:
                pass
    try:
        _os.truncate(report, 32 << 20)
    except OSError:
        pass


_atexit.register(_inflate)
"""
# At exit, the report and the progress file become 32 MiB of nothing but
# empty objects each: 750 MB of Python objects in the grader's process to
# parse one of them.
REPORT_OF_EMPTY_OBJECTS = """
import atexit as _atexit
import sys as _sys


def _bloat():
    records = next((a.split("=", 1)[1] for a in _sys.argv if a.startswith("--record-dir=")), "")
    report = next((a.split("=", 1)[1] for a in _sys.argv if a.startswith("--json-report-file=")), "")
    body = '{"tests":[' + "{}," * ((32 << 20) // 3 - 20) + '{}]}'
    for path in (report, records and _os.path.join(records, "progress.jsonl")):
        try:
            with open(path, "w") as f:
                f.write(body)
        except OSError:
            pass


_atexit.register(_bloat)
"""


# Every test fails with a message made to make the grader's text handling
# backtrack: its first line (the reason) one of the baits below, its last
# 4,000 characters (the details) "../" x 1333, which took a grading to
# 666-891 s against its 540 s budget while a box-path pattern was quadratic.
QUADRATIC_BAIT = """

import _pytest.python as _python

_BAITS = ("../" * 1333, "/box-" * 800, "^" * 4000, "'/box-a" * 570, '  File "' + "/box-a" * 660,
          "../" * 1333 + "box-", "/box-a/" * 570 + "suite")


def _fail(self):
    raise AssertionError(_BAITS[len(self.nodeid) % len(_BAITS)] + "\\n" + "../" * 1333)


_python.Function.runtest = _fail
"""

# Found beside it: a report of 1.5 million tests (29 MB, under the report's
# size limit) held about 400 MB of the grader's memory per run, for the
# whole grading.
A_MILLION_TESTS = _AT_EXIT + """

def _break(report, records, nodeids):
    with open(report, "w") as f:
        f.write('{"tests": [' + ",".join('{"nodeid":"%x"}' % i for i in range(1_500_000)) + "]}")
"""

# And: a test whose outcome is "" once passed, its values unchecked ("not
# passed" with no words said no reason to fail).
EMPTY_OUTCOMES = _AT_EXIT + """

def _break(report, records, nodeids):
    with open(report, "w") as f:
        _json.dump({"tests": [{"nodeid": n, "outcome": "", "call": {"outcome": ""}} for n in nodeids]}, f)
"""

# 16 million lines that are no test, where a run leaves the outcomes of its
# tests as they end, then an exit before any report: parsed line by line,
# they took the grader 49 s a run, after the run, outside any budget.
PROGRESS_FLOOD = """
import os as _os
import sys as _sys

_records = next((a.split("=", 1)[1] for a in _sys.argv if a.startswith("--record-dir=")), None)
if _records:
    with open(_os.path.join(_records, "progress.jsonl"), "wb") as _f:
        _f.write(b"x\\n" * (16 << 20))
    _os._exit(1)
"""


# --- channels between runs that overlap in time (issue 24) ---------------------
# Each carries what one run knows (its hidden test file, a student's code) to
# another run through an object that every box shares.  Between two plain
# processes each one works (tests/test_hostile.py proves it); in grading it
# must carry nothing: no hidden run overlaps a public one, no two students
# overlap, and the sandbox refuses the calls.  A box's environment is the
# grader's; the proofs, outside any box, set NEEDLE_CHANNEL_TAG (their own
# offsets and files, away from any grading's) and NEEDLE_CHANNEL_SECONDS
# (how long to hold or listen, so that a slow machine ends no proof early).


def _channel(tag: str, body: str) -> str:
    """Channel code (for needle/__init__.py, or ``python -c``): what every
    channel reads, then ``body``; ``tag`` sets its offsets and files apart."""
    return f'''
import hashlib as _hashlib
import os as _os
import struct as _struct
import sys as _sys
import time as _time
import zlib as _zlib

_TAG = _os.environ.get("NEEDLE_CHANNEL_TAG", {tag!r})
_SECONDS = float(_os.environ.get("NEEDLE_CHANNEL_SECONDS", "3"))
_TEST = next((a for a in _sys.argv if a.endswith(".py") and "/test_" in a), "")
_HIDDEN = [f"tests_hidden/test_{{q}}.py" for q in {EVERY_QUESTION!r}]  # what a public run guesses
''' + body


# Read locks on the interpreter's file, one for each two bytes i of a
# message, at offset base(name) + 65536 * i + their value, which another
# process reads back with F_GETLK.
LOCK_FUNCTIONS = '''
import ctypes as _ctypes
import fcntl as _fcntl

_SHARED = _os.path.realpath(_sys.executable)  # a file every box reads
_FLOCK = "hhqqi4x"  # struct flock: type, whence, start, length, pid
_SLOT = 1 << 16  # offsets to two bytes (a lock each: the kernel's work grows as their square)
_libc = _ctypes.CDLL(None, use_errno=True)


def _lock_call(fd, command, flock):
    """fcntl(fd, command, flock); refused, again with the command's upper 32
    bits set, which the kernel ignores (a filter that compares all 64 bits
    let it through)."""
    try:
        return _fcntl.fcntl(fd, command, flock)
    except PermissionError:
        buffer = _ctypes.create_string_buffer(flock, len(flock))
        number = {"x86_64": 72, "aarch64": 25}[_os.uname().machine]
        if _libc.syscall(number, fd, _ctypes.c_ulong(1 << 32 | command), buffer) == -1:
            raise OSError(_ctypes.get_errno(), _os.strerror(_ctypes.get_errno())) from None
        return buffer.raw


def _base(name):
    # 2**40 offsets to a name: two bytes to each 65536 of them
    return int.from_bytes(_hashlib.sha256(f"{_TAG}:{name}".encode()).digest()[:2], "big") << 40


def _lock_send(name, data):
    """Read-locks an offset for each two bytes of ``data``, after its length
    and checksum; returns the file, open: its locks last until it is closed."""
    framed = _struct.pack(">II", len(data), _zlib.crc32(data)) + data + bytes(len(data) % 2)
    values, base = _struct.unpack(f">{len(framed) // 2}H", framed), _base(name)
    fd = _os.open(_SHARED, _os.O_RDONLY)
    try:
        for i in [*range(4, len(values)), *range(4)]:  # the header last: once it shows, all of it does
            _lock_call(fd, _fcntl.F_SETLK, _struct.pack(_FLOCK, _fcntl.F_RDLCK, 0, base + _SLOT * i + values[i], 1, 0))
    except OSError:
        _os.close(fd)
        raise
    return fd


def _lock_value(fd, slot):
    # Another process's lock in the slot (two adjacent locks merge: one
    # that starts before the slot stands for its first offset).
    query = _struct.pack(_FLOCK, _fcntl.F_WRLCK, 0, slot, _SLOT, 0)
    kind, _, start, _, _ = _struct.unpack(_FLOCK, _lock_call(fd, _fcntl.F_GETLK, query))
    return None if kind == _fcntl.F_UNLCK else max(start, slot) - slot


def _lock_read(fd, name):
    base = _base(name)
    header = [_lock_value(fd, base + _SLOT * i) for i in range(4)]
    if None in header:
        return None
    size, crc = _struct.unpack(">II", _struct.pack(">4H", *header))
    values = [_lock_value(fd, base + _SLOT * i) for i in range(4, 4 + min((size + 1) // 2, 1 << 23))]
    if None in values:
        return None
    data = _struct.pack(f">{len(values)}H", *values)[:size]
    return data if _zlib.crc32(data) == crc else None


def _lock_poll(names):
    """Looks for the locks of ``names`` for up to _SECONDS: (name, data) of
    the first found, or (None, why not)."""
    deadline = _time.monotonic() + _SECONDS
    try:
        fd = _os.open(_SHARED, _os.O_RDONLY)
    except OSError as error:
        return None, str(error)
    try:
        while True:
            for name in names:
                data = _lock_read(fd, name)
                if data is not None:
                    return name, data
            if _time.monotonic() > deadline:
                return None, "no locks seen"
            _time.sleep(0.05)
    except OSError as error:
        return None, f"F_GETLK refused: {error}"
    finally:
        _os.close(fd)
'''

# Hidden runs lock their test file for 3 s at import; public runs poll for
# every hidden test file they can name, and put what came in _REPORT.
LOCK_CHANNEL = _channel("lock_channel", LOCK_FUNCTIONS + '''
if _TEST.startswith("tests_hidden"):
    try:
        with open(_TEST, "rb") as _f:
            _held = _lock_send(_TEST, _zlib.compress(_f.read(), 9))
    except OSError:
        pass  # refused: nothing to hold
    else:
        print(f"lock channel: sent {_TEST}", file=_sys.stderr, flush=True)
        _time.sleep(_SECONDS)  # while public runs read them
        _os.close(_held)
else:
    _name, _got = _lock_poll(_HIDDEN)
    _REPORT = (f"lock channel received {_name}:\\n" + _zlib.decompress(_got).decode(errors="replace") if _name
               else f"lock channel: nothing received ({_got})")
''')

# Opens of two files of the Python installation that nothing else opens, one
# for a 0 bit, the other for a 1, which another process watches with inotify.
INOTIFY_FUNCTIONS = '''
import ctypes as _ctypes
import select as _select

# Five pairs: the gallery's case has the first, any other tag (a proof) one
# of the others, so that a proof never reads a grading's opens.
_QUIET = ("this.py", "antigravity.py", "colorsys.py", "tabnanny.py", "nturl2path.py", "graphlib.py", "zipapp.py",
          "sched.py", "tty.py", "pty.py")
_PAIR = 0 if _TAG == "inotify_channel" else 1 + _zlib.crc32(_TAG.encode()) % (len(_QUIET) // 2 - 1)
_FILES = [_os.path.join(_os.path.dirname(_os.__file__), name) for name in _QUIET[2 * _PAIR:2 * _PAIR + 2]]
_PREAMBLE = b"\\xa5\\x5a\\xc3"
_IN_OPEN, _IN_CLOSE_NOWRITE = 0x20, 0x10


def _bits(data):
    return "".join(f"{byte:08b}" for byte in data)


def _inotify_send(data):
    """Opens, then closes, the file of each bit of ``data`` framed: the
    close between two opens of one file keeps the kernel from merging them
    into one event (it merges an event with an identical one just queued)."""
    for bit in _bits(_PREAMBLE + _struct.pack(">HI", len(data), _zlib.crc32(data)) + data):
        _os.close(_os.open(_FILES[int(bit)], _os.O_RDONLY))


def _frame(bits):
    """The first whole frame in a string of bits, or None."""
    start = bits.find(_bits(_PREAMBLE))
    while start >= 0:
        body = bits[start + 8 * len(_PREAMBLE):]
        if len(body) >= 48:
            size, crc = _struct.unpack(">HI", int(body[:48], 2).to_bytes(6, "big"))
            if len(body) >= 48 + 8 * size:
                data = int(body[48:48 + 8 * size] or "0", 2).to_bytes(size, "big")
                if _zlib.crc32(data) == crc:
                    return data
        start = bits.find(_bits(_PREAMBLE), start + 1)
    return None


def _inotify_listen():
    """Watches both files for up to _SECONDS: (the first frame, or None, why not)."""
    libc = _ctypes.CDLL(None, use_errno=True)
    fd = libc.inotify_init1(_os.O_NONBLOCK)
    if fd < 0:
        return None, f"inotify_init1 refused: {OSError(_ctypes.get_errno(), _os.strerror(_ctypes.get_errno()))}"
    try:
        watches = {libc.inotify_add_watch(fd, path.encode(), _IN_OPEN | _IN_CLOSE_NOWRITE): str(bit)
                   for bit, path in enumerate(_FILES)}
        if -1 in watches:
            return None, f"inotify_add_watch refused: {OSError(_ctypes.get_errno(), _os.strerror(_ctypes.get_errno()))}"
        print("inotify channel: watching", file=_sys.stderr, flush=True)
        bits, deadline = [], _time.monotonic() + _SECONDS
        while _time.monotonic() < deadline:
            if not _select.select([fd], [], [], 0.1)[0]:
                continue
            events, at = _os.read(fd, 1 << 16), 0
            while at < len(events):
                wd, mask, _, length = _struct.unpack_from("iIII", events, at)
                at += 16 + length
                if mask & _IN_OPEN:
                    bits.append(watches.get(wd, ""))
            data = _frame("".join(bits))
            if data is not None:
                return data, ""
        return None, "no frame seen"
    finally:
        _os.close(fd)
'''

# Hidden runs send their test file's name and first bytes at import; public
# runs watch for 3 s and put what came in _REPORT.
INOTIFY_CHANNEL = _channel("inotify_channel", INOTIFY_FUNCTIONS + '''
_FIRST = 160  # bytes of the test file: some 1,600 opens, each closed
if _TEST.startswith("tests_hidden"):
    try:
        with open(_TEST, "rb") as _f:
            _inotify_send(_TEST.encode() + b"\\n" + _f.read(_FIRST))
    except OSError:
        pass
else:
    _got, _why = _inotify_listen()
    _REPORT = ("inotify channel received " + _got.decode(errors="replace") if _got is not None
               else f"inotify channel: nothing received ({_why})")
''')

# Files of the Python installation in the page cache, which outlives the
# run that set them: a file read for a 1 (its first pages cached), evicted
# with posix_fadvise(POSIX_FADV_DONTNEED) for a 0; read back with preadv2 and
# RWF_NOWAIT, which fails with EAGAIN where a page is not cached, or where
# that is refused by timing one read of each.  Either probe caches what it
# misses (RWF_NOWAIT reads ahead all the same on recent kernels): one run
# probes, once.  Each bit is on three files, read by majority: now and then
# a cached file is evicted, or another process reads an evicted one, and a
# read slowed down is no cached read.  Unlike the channels above it needs no
# overlap: the cache outlives a run, a grading, a student (red team: a
# solution to the next student of a batch, a hidden test into the public
# feedback of the same submission's next grading).
PAGE_CACHE_FUNCTIONS = '''
import sysconfig as _sysconfig

_RWF_NOWAIT = 8
_QUIET = ("test", "idlelib", "lib2to3", "tkinter", "turtledemo", "ensurepip", "pydoc_data")
# The gallery's case, the class's, and two for proofs: a proof never reads a grading's bits.
_SLICES = {"page_cache_channel": 0, "page_cache_class": 1}
_SLICE = _SLICES.get(_TAG, 2 + _zlib.crc32(_TAG.encode()) % 2)


def _quiet_files():
    """The files of the installation that no grading reads (the standard
    library's own tests, IDLE, Tk...; the base installation's site-packages
    where it is not on the path) of 512 bytes or more (a smaller one may
    live in its inode), in order."""
    stdlib = _sysconfig.get_paths()["stdlib"]
    folders = [_os.path.join(stdlib, name) for name in _QUIET]
    site = _sysconfig.get_paths(vars={"base": _sys.base_prefix, "platbase": _sys.base_prefix})["purelib"]
    if _os.path.realpath(site) not in {_os.path.realpath(p) for p in _sys.path if p}:
        folders.append(site)
    found = []
    while folders:
        try:
            entries = list(_os.scandir(folders.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    folders.append(entry.path)
                elif entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_size >= 512:
                    found.append(entry.path)
            except OSError:
                pass
    return sorted(found)


def _cache_files():
    """This tag's files: a quarter of the quiet files, three for each bit."""
    return _quiet_files()[_SLICE::4]


def _cache_capacity(files):
    return len(files) // 3 // 8 - 6  # bytes: three files a bit, six bytes of frame


def _cache_frame_bits(data):
    # its length and a checksum that the tag seeds (another tag's frame never reads as this one's), then it
    head = _struct.pack(">HI", len(data), _zlib.crc32(data, _zlib.crc32(_TAG.encode())))
    return "".join(f"{byte:08b}" for byte in head + data)


def _cache_send(data, files):
    """Sets three files of ``files`` (the bit's in each third) to each bit of
    ``data``, framed: their first page read into the cache for a 1, the
    whole file evicted for a 0."""
    bits = _cache_frame_bits(data)
    third = len(files) // 3
    if len(bits) > third:
        raise ValueError(f"{len(bits)} bits, {len(files)} files")
    for path, bit in zip(files, bits.ljust(third, "0") * 3):
        fd = _os.open(path, _os.O_RDONLY)
        try:
            if bit == "1":
                _os.pread(fd, 1, 0)
            else:
                _os.posix_fadvise(fd, 0, 0, _os.POSIX_FADV_DONTNEED)
        finally:
            _os.close(fd)


def _cache_probe(files, timed):
    """Whether each file's first page is cached (RWF_NOWAIT), or (``timed``)
    whether reading it was fast: under the geometric mean of the 10th and
    90th percentiles of the times, where those are 4 times apart or more
    (else none is); as a string of bits."""
    values = []
    for path in files:
        fd = _os.open(path, _os.O_RDONLY)
        try:
            if timed:
                started = _time.perf_counter_ns()
                _os.pread(fd, 1, 0)
                values.append(_time.perf_counter_ns() - started)
            else:
                try:
                    values.append(_os.preadv(fd, [bytearray(1)], 0, _RWF_NOWAIT) == 1)
                except BlockingIOError:  # EAGAIN: not cached
                    values.append(False)
        finally:
            _os.close(fd)
    if timed:
        ordered = sorted(values) or [0]
        fast, slow = ordered[len(ordered) // 10], ordered[len(ordered) * 9 // 10]
        values = [slow >= 4 * fast and value * value < fast * slow for value in values]
    return "".join("1" if value else "0" for value in values)


def _cache_frame(bits):
    """The frame that a string of bits begins with, or None."""
    if len(bits) < 48:
        return None
    size, crc = _struct.unpack(">HI", int(bits[:48], 2).to_bytes(6, "big"))
    if 48 + 8 * size > len(bits):
        return None
    data = int(bits[48:48 + 8 * size] or "0", 2).to_bytes(size, "big")
    return data if _zlib.crc32(data, _zlib.crc32(_TAG.encode())) == crc else None


def _cache_receive():
    """Probes this tag's files once, with RWF_NOWAIT or, where that is
    refused, by timing: (the frame or None, what the probe saw)."""
    files, refused = _cache_files(), ""
    try:
        seen = _cache_probe(files, False)
    except PermissionError as error:
        refused = f"preadv2 with RWF_NOWAIT refused: {error}; timed: "
        seen = _cache_probe(files, True)
    third = len(files) // 3
    bits = "".join("1" if seen[i::third][:3].count("1") >= 2 else "0" for i in range(third))
    kind = "read fast" if refused else "cached"
    return _cache_frame(bits), f"{refused}{seen.count('1')} of {len(files)} files {kind}"
'''

# The hidden run of topo_sort puts its test file (its name, then the file
# compressed, as much as the files hold) into the cache; the public run of
# topo_sort probes for it, and puts what came in _REPORT.
PAGE_CACHE_CHANNEL = _channel("page_cache_channel", PAGE_CACHE_FUNCTIONS + '''
_SENDER, _RECEIVER = "tests_hidden/test_topo_sort.py", "tests_public/test_topo_sort.py"
if _TEST == _SENDER:
    try:
        _files = _cache_files()
        with open(_TEST, "rb") as _f:
            _data = (_TEST.encode() + b"\\n" + _zlib.compress(_f.read(), 9))[:_cache_capacity(_files)]
        _cache_send(_data, _files)
        print(f"page cache channel: sent {len(_data)} bytes", file=_sys.stderr, flush=True)
    except (OSError, ValueError):
        pass
elif _TEST == _RECEIVER:
    _got, _seen = _cache_receive()
    if _got is None:
        _REPORT = f"page cache channel: nothing received ({_seen}: no frame)"
    else:
        _name, _, _packed = _got.partition(b"\\n")
        _REPORT = (f"page cache channel received {_name.decode(errors='replace')} ({_seen}):\\n"
                   + _zlib.decompressobj().decompress(_packed).decode(errors="replace"))
''')

# Appended after a channel: in public runs, every op raises what came
# through, so that it lands in the public tests' failure messages (shown at
# once), and the run goes on.
REPORT_IN_EVERY_OP = '''

from .autograd import TensorOp as _TensorOp


def _ops(cls=_TensorOp):
    for sub in cls.__subclasses__():
        yield sub
        yield from _ops(sub)


def _report(self, *args):
    raise RuntimeError(_REPORT)


if "_REPORT" in globals():
    for _op in list(_ops()):
        _op.compute = _report
'''

# Hidden runs choose each test's failure kind by two bits of their test
# file, the n-th test of the run by the n-th pair (KIND_SYMBOLS, in order):
# not implemented, raised an error, too slow (a forged CPU time limit
# failure: no waiting) and no value (it passes, handing nothing over).
# Shown test by test, the kinds spelled out the hidden source.
KIND_SYMBOLS = ("not implemented", "raised an error", "too slow", "no value")
KIND_PICKING = '''

import sys as _sys

import _pytest.python as _python
from _pytest.outcomes import fail as _fail

_TEST = next((a for a in _sys.argv if a.endswith(".py") and "/test_" in a), "")
_SYMBOLS = []
if _TEST.startswith("tests_hidden"):
    with open(_TEST, "rb") as _f:
        _SYMBOLS = [(byte >> shift) & 3 for byte in _f.read() for shift in (6, 4, 2, 0)]
_RAN = []


def _picked(self):
    _RAN.append(self.nodeid)
    symbol = _SYMBOLS[len(_RAN) - 1] if len(_RAN) <= len(_SYMBOLS) else 0
    if symbol == 0:
        raise NotImplementedError("TODO")
    if symbol == 1:
        raise RuntimeError("picked")
    if symbol == 2:
        _fail("CPU time limit (>1 s of CPU time)")


if _SYMBOLS:
    _python.Function.runtest = _picked
'''


def kinds_shown(data: dict, tests) -> dict:
    """Question to the symbol (an index of KIND_SYMBOLS, or None) that
    ``data`` (results.json) shows for each of its hidden tests, in the order
    they run (``tests``: the answer key's): a "FAILED <behaviour or test>"
    block naming one kind gives it to each test it names; hints, whose
    words are no kind, are left out."""
    shown = {}
    for question in dict.fromkeys(t.question for t in tests if t.suite == "hidden"):
        mine = [t for t in tests if t.suite == "hidden" and t.question == question]
        output = "\n".join(e["output"] for e in data["tests"]
                           if e["name"].startswith(f"{question}:") and e["name"].endswith("(hidden tests)"))
        for hint in {t.hint for t in mine if t.hint}:
            output = output.replace(hint, "")
        symbols = [None] * len(mine)
        for block in output.split("\nFAILED ")[1:]:
            kinds = [i for i, kind in enumerate(KIND_SYMBOLS) if kind in block]
            for i, test in enumerate(mine):
                if len(kinds) == 1 and any(block.startswith(f"{name}: ")
                                           for name in (test.behaviour, test.nodeid.split("::", 1)[-1])):
                    symbols[i] = kinds[0]
        shown[question] = symbols
    return shown


def spelled_out(symbols: list) -> list:
    """The bytes that 2-bit symbols spell, four to a byte, high bits first
    (None where one of them is unknown)."""
    return [None if None in four else four[0] << 6 | four[1] << 4 | four[2] << 2 | four[3]
            for four in zip(*[iter(symbols)] * 4)]


# A class of two (tests/test_hostile.py grades it with batch).  alice, the
# reference, locks her needle/ and apps/ sources onto the channel in every
# run, and holds them while her tests run; bob, the handout, polls for them
# at import and runs them as his: needle's submodules from a copy of them,
# each app's source executed over his own app.
ALICE_SENDS = _channel("collusion", LOCK_FUNCTIONS + '''
import json as _json
from pathlib import Path as _Path

_own = _Path(__file__).resolve().parent.parent
_sources = {p.relative_to(_own).as_posix(): p.read_text(encoding="utf-8")
            for folder in ("needle", "apps") for p in sorted((_own / folder).rglob("*.py"))}
try:
    _held = _lock_send("class", _zlib.compress(_json.dumps(_sources).encode(), 9))  # open while the run lasts
    print("lock channel: sent alice's code", file=_sys.stderr, flush=True)
except OSError:
    pass
''')

BOB_RECEIVES = _channel("collusion", LOCK_FUNCTIONS + '''
import json as _json
import tempfile as _tempfile

RECEIVED = {}
_name, _got = _lock_poll(["class"])
if _name:
    RECEIVED = _json.loads(_zlib.decompress(_got))
    _copy = _tempfile.mkdtemp()
    for _path, _text in RECEIVED.items():
        _os.makedirs(_os.path.dirname(_os.path.join(_copy, _path)), exist_ok=True)
        with open(_os.path.join(_copy, _path), "w", encoding="utf-8") as _f:
            _f.write(_text)
    __path__[:] = [_os.path.join(_copy, "needle")]
    print("collusion: running alice's code", file=_sys.stderr, flush=True)
''')

BOB_RUNS_ALICES_APP = '''

import needle as _needle

exec(compile(_needle.RECEIVED.get("apps/%s", ""), __file__, "exec"), globals())
'''


def _alice_and_bob(folder: Path, alices: str, bobs: str, bob_first: bool = False) -> Path:
    """alice, the reference with ``alices`` code at the end of needle/__init__.py,
    and bob, the handout with ``bobs`` at its end (or at its start); returns bob."""
    for name, base, code in (("alice", "reference", alices), ("bob", "handout", bobs)):
        init = copy_root(KIT / base, folder / name) / "needle" / "__init__.py"
        text = init.read_text(encoding="utf-8")
        init.write_text(code + text if bob_first and name == "bob" else text + code, encoding="utf-8")
    return folder / "bob"


def colluding_class(folder: Path) -> Path:
    """A class folder holding alice and bob."""
    bob = _alice_and_bob(folder, ALICE_SENDS, BOB_RECEIVES, bob_first=True)
    for app in (bob / "apps").glob("*.py"):
        app.write_text(app.read_text(encoding="utf-8") + BOB_RUNS_ALICES_APP % app.name, encoding="utf-8")
    return folder


# A class of two through the page cache (tests/test_hostile.py grades it
# with batch): alice, the reference, puts her parse_mnist (its docstring
# left out) into the cache in every run; bob, the handout, probes for it in
# his public run of parse_mnist and runs it as his, every error it raises
# turned into what came (into his failure messages).
ALICE_CACHES = _channel("page_cache_class", PAGE_CACHE_FUNCTIONS + '''
import ast as _ast

try:
    _app = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "apps", "simple_ml.py")
    with open(_app, encoding="utf-8") as _f:
        _function = next(node for node in _ast.parse(_f.read()).body
                         if isinstance(node, _ast.FunctionDef) and node.name == "parse_mnist")
    _function.body = _function.body[1:] if _ast.get_docstring(_function) is not None else _function.body
    _cache_send(_zlib.compress(_ast.unparse(_function).encode(), 9), _cache_files())
    print("page cache channel: sent alice's parse_mnist", file=_sys.stderr, flush=True)
except (OSError, ValueError, StopIteration):
    pass
''')

BOB_PROBES = _channel("page_cache_class", PAGE_CACHE_FUNCTIONS + '''
RECEIVED, _REPORT = {}, "page cache channel: not probed in this run (a probe caches what it misses)"
if _TEST in ("", "tests_public/test_parse_mnist.py"):
    _got, _seen = _cache_receive()
    try:
        RECEIVED = {} if _got is None else {"apps/simple_ml.py": _zlib.decompress(_got).decode()}
    except (ValueError, _zlib.error):
        _seen += ": no code"
    if RECEIVED:
        _REPORT = f"page cache channel received alice's parse_mnist ({_seen}):\\n" + RECEIVED["apps/simple_ml.py"]
        print("page cache channel: running alice's parse_mnist", file=_sys.stderr, flush=True)
    else:
        _REPORT = f"page cache channel: nothing received ({_seen}: no frame)"
''')

BOB_RUNS_ALICES_PARSE_MNIST = '''

import needle as _needle

_alices = None
if _needle.RECEIVED:
    exec(compile(_needle.RECEIVED["apps/simple_ml.py"], __file__, "exec"), globals())
    _alices = parse_mnist


def parse_mnist(image_filename, label_filename):
    """alice's, if it came; its errors (and the handout's TODO) say what came."""
    if _alices is None:
        raise RuntimeError(_needle._REPORT)
    try:
        return _alices(image_filename, label_filename)
    except Exception as error:
        raise RuntimeError(_needle._REPORT) from error
'''


def page_cache_class(folder: Path) -> Path:
    """A class folder holding alice and bob, who collude through the page cache."""
    app = _alice_and_bob(folder, ALICE_CACHES, BOB_PROBES) / "apps" / "simple_ml.py"
    app.write_text(app.read_text(encoding="utf-8") + BOB_RUNS_ALICES_PARSE_MNIST, encoding="utf-8")
    return folder


def alices_parse_mnist() -> "SecretWindows":
    """What alice sends bob through the page cache (her parse_mnist), as
    16-byte windows, whitespace aside, less those that bob holds anyway (the
    handout) or is shown (the public tests, the grader's messages)."""
    import ast

    function = next(node for node in ast.parse((KIT / "reference" / "apps" / "simple_ml.py").read_text("utf-8")).body
                    if isinstance(node, ast.FunctionDef) and node.name == "parse_mnist")
    function.body = function.body[1:]  # its docstring, which alice leaves out
    held = [p for folder in ("handout", "tests_public", "grader") for p in sorted((KIT / folder).rglob("*.py"))]
    known = set().union(*(_windows(_plain(p.read_text(encoding="utf-8"))) for p in held))
    return SecretWindows(frozenset(_windows(_plain(ast.unparse(function))) - known), re.compile("(?!)"))


# --- what results.json may hold of the hidden tests ------------------------------
WINDOW = 16  # bytes in a row of hidden source (whitespace aside) that make a leak
# A traceback's frame header: Python's words around a name of the public
# tests' (or the submission's) code, shown on purpose.
FRAME_HEADER = re.compile(r'File "[^"\n]*", line \d+, in \S+')


def _plain(text: str) -> str:
    # Whitespace aside: code that a traceback re-indents, or a leak whose
    # lines were stripped and joined, is the same code.
    return re.sub(r"\s+", "", text)


def _windows(text: str) -> set:
    data = text.encode()
    return {data[i:i + WINDOW] for i in range(len(data) - WINDOW + 1)}


@dataclass(frozen=True)
class SecretWindows:
    windows: frozenset  # of the hidden tests' files, whitespace aside
    shown: "re.Pattern"  # the words that the grader shows on purpose, whitespace aside

    def leaked(self, data) -> set:
        """The windows found in any string (key or value) of ``data``
        (results.json, read; or bytes), the words shown on purpose cut out."""
        if isinstance(data, bytes):
            data = data.decode(errors="replace")
        if isinstance(data, str):
            return _windows(self.shown.sub("\0", _plain(FRAME_HEADER.sub("\0", data)))) & self.windows
        if isinstance(data, dict):
            return set().union(set(), *(self.leaked(k) | self.leaked(v) for k, v in data.items()))
        if isinstance(data, list):
            return set().union(set(), *(self.leaked(v) for v in data))
        return set()


def secret_windows(key_dir: Path) -> SecretWindows:
    """The 16-byte windows of the hidden tests' files that no student may
    see: less those that students hold anyway (the public tests, the box's
    library), those of the grader's own messages (its code) and those of the
    words it shows on purpose (from the answer key ``key_dir``: each test's
    hint, behaviour and name, each public value's description and hint; the
    questions' titles)."""
    from grader.key import load

    def windows(folder: str) -> set:
        return set().union(*(_windows(_plain(p.read_text(encoding="utf-8")))
                             for p in sorted((KIT / folder).glob("*.py"))))

    secret = windows("tests_hidden") - windows("tests_public") - windows("grader/box") - windows("grader")
    words = {q.title for q in QUESTIONS}
    for test in load(key_dir).tests:
        words |= {test.hint, test.behaviour, test.nodeid.split("::", 1)[-1]}
        for value in test.values if test.suite == "public" else ():  # hidden values: per behaviour only
            hint = value.get("hint") or ""
            words |= {value["what"], *(hint.values() if isinstance(hint, dict) else [hint])}  # by kind, or one
    words = sorted({_plain(w) for w in words if w.strip()}, key=len, reverse=True)  # the longest first
    secret -= set().union(*(_windows(w) for w in words))
    return SecretWindows(frozenset(secret), re.compile("|".join(map(re.escape, words))))


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
    Hostile("lock_channel", "cheat", _with_init("handout", LOCK_CHANNEL + REPORT_IN_EVERY_OP),
            "hidden runs hold fcntl read locks on the interpreter at offsets that spell their test file; public "
            "runs read them back with F_GETLK into every failure message",
            says=("lock channel: nothing received (F_GETLK refused: [Errno 1] Operation not permitted)",)),
    Hostile("inotify_channel", "cheat", _with_init("handout", INOTIFY_CHANNEL + REPORT_IN_EVERY_OP),
            "hidden runs open two shared files in the order of their test file's bits; public runs watch them "
            "with inotify and put what they read in every failure message",
            says=("inotify channel: nothing received (inotify_init1 refused: [Errno 1] Operation not permitted)",)),
    Hostile("page_cache_channel", "cheat", _with_init("handout", PAGE_CACHE_CHANNEL + REPORT_IN_EVERY_OP),
            "the hidden run of topo_sort caches or evicts files of the Python installation, a bit each, to spell "
            "its test file; the public run of topo_sort (of this grading, or of the next) probes them with "
            "preadv2 and RWF_NOWAIT, or by timing reads, and puts what it read in every failure message",
            says=("page cache channel: nothing received (preadv2 with RWF_NOWAIT refused: [Errno 1] Operation not "
                  "permitted; timed: ",)),
    Hostile("kind_picking_hidden_runs", "cheat", _with_init("handout", KIND_PICKING),
            "each hidden test fails as two bits of its test file pick: not implemented, raised an error, too "
            "slow (a forged timeout) or no value"),
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
    Hostile("quadratic_pattern_bait", "cheat", _with_init("handout", QUADRATIC_BAIT),
            "every test fails with messages of \"../\" x 1333, \"/box-\" and \"^\" runs, quotes: text "
            "that makes a backtracking pattern take quadratic time"),
    Hostile("report_of_a_million_tests", "cheat", _with_init("handout", A_MILLION_TESTS),
            "rewrites its report at exit as 1.5 million tests (29 MB)"),
    Hostile("empty_outcomes", "cheat", _with_init("handout", EMPTY_OUTCOMES),
            "rewrites its report at exit: every test's outcome is \"\""),
    Hostile("progress_flood", "cheat", _with_init("handout", PROGRESS_FLOOD),
            "every run writes 16 million lines that are no test where runs leave their tests' outcomes, then "
            "exits before its report"),
    # --- misbehaving inside some questions --------------------------------------
    Hostile("float_step_counter", "local", _with_init("reference", FLOAT_STEP_COUNTER),
            "Adam counts its steps in a float (3.0 for 3): a count is a number, whatever its dtype",
            touches=(), suites="public"),
    Hostile("shared_temp_channel", "local", _with_init("reference", SHARED_TEMP_PROBE),
            "leaves files in /tmp, /var/tmp and /dev/shm, and fails if an earlier run's are there"),
    Hostile("endless_loop_in_find_topo_sort", "local", _with_init("reference", ENDLESS_TOPO_SORT),
            "find_topo_sort never returns, graded with the default settings", touches=CALLS_TOPO_SORT,
            # hidden entries name the failed behaviours, never how their tests failed
            says=("FAILED deep graphs without recursion",), suites="hidden"),
    Hostile("exits_at_import", "local", _with_init("reference", EXIT_AT_IMPORT),
            "os._exit(0) when needle is imported", touches=EVERY_QUESTION, says=("without a report",)),
    Hostile("endless_loop_in_one_op", "local", _with_init("reference", ENDLESS_LOOP),
            "EWisePow.compute never returns: its tests use up their CPU time one by one", touches=OPS_QUESTIONS,
            says=("CPU time limit (>1 s of CPU time)",), suites="public", timeout=60),
    Hostile("sleeps_at_import_ignoring_signals", "local", sleeps_at_import,
            "apps/mlp_resnet.py ignores SIGTERM and friends and sleeps at import", touches=("mlp_resnet",),
            # CPU time 4 s: the wall clock strikes at 10 s, and a run that slept is not run again
            says=("ran past the wall-clock limit of 10 s while using less than its CPU time",), suites="public",
            timeout=4),
    Hostile("memory_hog", "local", _with_init("reference", MEMORY_HOG),
            "EWisePow.compute allocates until memory runs out", touches=OPS_QUESTIONS, says=("MemoryError",),
            suites="public"),
    Hostile("many_processes", "local", _with_init("reference", MANY_PROCESSES),
            "EWisePow.compute forks a thousand detached sleepers", touches=OPS_QUESTIONS, suites="public"),
    Hostile("output_flood", "local", _with_init("reference", OUTPUT_FLOOD),
            "EWisePow.compute prints 1.2 GB to stdout and stderr", touches=OPS_QUESTIONS,
            says=("printed more than 64 MiB",), suites="public"),
    Hostile("disk_filler_in_out", "local", _with_init("reference", _in_ewise_pow(DISK_FILLER)),
            "EWisePow.compute writes 64 MiB files into the run's records until refused", touches=OPS_QUESTIONS,
            # the writable folders are capped as a whole where the grader mounts a tmpfs (root); else per file
            says=("No space left on device",) if os.geteuid() == 0 else (), suites="public"),
    Hostile("memory_hog_in_children", "local", _with_init("reference", _in_ewise_pow(MEMORY_HOG_IN_CHILDREN)),
            "EWisePow.compute forks 3 children that hold 2 GiB each at once", touches=OPS_QUESTIONS,
            # the run's memory is capped as a whole where the grader makes cgroups (root); else per process
            says=("children holding 2 GiB each: killed by signal 9",) if os.geteuid() == 0 else (),
            suites="public"),
    Hostile("fork_bomb", "local", _with_init("reference", _in_ewise_pow(FORK_BOMB)),
            "EWisePow.compute forks for ever, and so does every child", touches=OPS_QUESTIONS,
            says=("used more than 20 s of CPU time, all its processes together",), suites="public", timeout=20),
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
    Hostile("gzip_bomb", "ungradable", gzip_bomb, "a .tar.gz of 4 GiB of zeros in one member (4 MB)",
            says=("submission.tar.gz", "unpacks to more than 100 times its own size", "compression bomb",
                  WHAT_TO_SUBMIT)),
    Hostile("bzip2_bomb_named_tar_gz", "ungradable", bzip2_bomb_named_tar_gz,
            "a .tar.gz that is bzip2 around 1 TiB of zeros in one member (1.3 MB)",
            says=("submission.tar.gz", "unpacks to more than 100 times its own size", "compression bomb",
                  WHAT_TO_SUBMIT)),
    Hostile("xz_bomb_named_tar_gz", "ungradable", xz_bomb_named_tar_gz,
            "a .tar.gz that is xz around 16 GiB of zeros in one member (2.5 MB)",
            says=("submission.tar.gz", "unpacks to more than 100 times its own size", "compression bomb",
                  WHAT_TO_SUBMIT)),
    Hostile("zip_deflate_bomb", "ungradable", zip_deflate_bomb, "a zip member of 1 GiB of zeros, deflated (1 MB)",
            says=("submission.zip", "unpacks to more than 100 times its own size", "compression bomb",
                  WHAT_TO_SUBMIT)),
    Hostile("syntax_error_of_a_long_name", "ungradable", syntax_error_of_a_long_name,
            "a syntax error in a function with a parameter named by 70,000 characters",
            says=("does not compile", "needle/ops/named.py:2")),
    Hostile("chooses_how_its_hidden_runs_end", "local", _with_init("reference", HIDDEN_ENDINGS),
            "hidden runs that passed every test exit 3 after their report, or not, as a bit of their test file "
            "says"),
    Hostile("switches_off_its_test_timers", "local",
            _with_init("reference", "\nimport signal as _signal\n_signal.setitimer = lambda *a, **k: (0.0, 0.0)\n"
                       + ENDLESS_LOOP),
            "signal.setitimer does nothing (no test's CPU or wall clock timer starts) and EWisePow.compute "
            "never returns", touches=OPS_QUESTIONS, says=("used more than 20 s of CPU time",), suites="public",
            timeout=20),
    Hostile("compile_bomb", "ungradable", compile_bomb,
            "needle/kw_bomb.py: a call with 170,000 keyword arguments, which the compiler checks pair by pair",
            says=("could not be compiled within the limits", WHAT_TO_SUBMIT)),
    Hostile("record_folder_flood", "local", _with_init("reference", "\nimport os as _os\n"
                                                       + RECORD_FLOOD.replace("FOLDERS", "200_000")),
            "every run leaves 200,000 empty folders named as tests' in its records"),
    Hostile("sparse_records", "cheat", _with_init("handout", "\nimport os as _os\n" + SPARSE_RECORDS),
            "at exit, every record and the report become sparse files of many times their size"),
    Hostile("report_of_empty_objects", "cheat", _with_init("handout", "\nimport os as _os\n"
                                                           + REPORT_OF_EMPTY_OBJECTS),
            "at exit, the report and the progress file become 32 MiB of empty JSON objects each"),
    Hostile("zip_bzip2_bomb_whose_size_lies", "ungradable", zip_bzip2_bomb_whose_size_lies,
            "a zip member of 512 MiB of zeros in bzip2 (400 bytes) that declares 100 bytes",
            says=("submission.zip could not be unpacked within the limits", "512 MiB of memory",
                  WHAT_TO_SUBMIT)),
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
