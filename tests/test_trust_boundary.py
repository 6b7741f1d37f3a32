"""The trust boundary, as the code lays it out: what runs in the grading box
(the suites and grader/box) holds no expected value and no second
implementation of anything graded, and the scoring side imports nothing
from it.  The hostile gallery (tests/hostile.py) attacks the same line from
the other side, by grading forgeries."""
import ast
from pathlib import Path

import pytest

from grader import bundle, defaults
from grader.questions import QUESTIONS
from grader.run import box_files

KIT = defaults.KIT_ROOT
BOX_LIBRARY = sorted((KIT / "grader" / "box").glob("*.py"))
SUITE_FILES = sorted((KIT / "tests_public").glob("test_*.py")) + sorted((KIT / "tests_hidden").glob("test_*.py"))
SCORING_SIDE = sorted(p for p in (KIT / "grader").glob("*.py"))

# What box code may call NumPy for: making inputs, never computing what the
# code under test should return (no reductions, no elementwise math, no
# linear algebra, no decoding of files).
NUMPY_FOR_INPUTS = {
    "ndarray", "generic", "dtype", "random", "errstate",
    "float16", "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool_",
    "array", "asarray", "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "zeros_like", "ones_like", "full_like", "empty_like", "copy",
    "broadcast_shapes", "prod", "ndindex", "atleast_1d", "array_split", "stack", "concatenate",
    "save",  # the channel (record.py)
    "array_equal",  # facts about inputs: an argument left unchanged, the same RNG state
}


def _imports(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield ("." * node.level) + (node.module or "")


def _numpy_uses(tree):
    names = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
             for alias in node.names if alias.name == "numpy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names:
            yield node.lineno, node.attr


def _rel(path: Path) -> str:
    return path.relative_to(KIT).as_posix()


def test_scoring_side_imports_nothing_from_the_box():
    wrong = [f"{_rel(p)} imports {name}" for p in SCORING_SIDE for name in _imports(ast.parse(p.read_text()))
             if name.startswith(("grader.box", ".box", "tests_public", "tests_hidden"))]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", BOX_LIBRARY + SUITE_FILES, ids=_rel)
def test_box_code_uses_numpy_only_to_build_inputs(path):
    tree = ast.parse(path.read_text())
    wrong = [f"{_rel(path)}:{line}: numpy.{name}" for line, name in _numpy_uses(tree)
             if name not in NUMPY_FOR_INPUTS]
    assert not wrong, ("box code computes with NumPy (an expected value?): move the formula to the kit's own "
                       "tests (tests/test_numpy_*.py):\n  " + "\n  ".join(wrong))


@pytest.mark.parametrize("path", BOX_LIBRARY + SUITE_FILES, ids=_rel)
def test_box_code_imports_no_reference_and_no_scoring(path):
    allowed = ("grader.box", ".", "grader.channel", "needle", "simple_ml", "mlp_resnet", "numpy", "pytest")
    stdlib = {"contextlib", "json", "math", "gzip", "struct", "os", "sys", "gc", "time", "pathlib", "typing",
              "importlib", "importlib.util", "functools", "itertools", "dataclasses", "pickle", "io", "tempfile",
              "weakref", "collections", "types", "warnings", "signal"}
    wrong = []
    for name in _imports(ast.parse(path.read_text())):
        if name == "grader.expected" and path.name == "plugin.py":
            continue  # a student's local run only: the file never enters a box
        if name not in stdlib and not name.startswith(allowed):
            wrong.append(name)
    assert not wrong, f"{_rel(path)} imports {wrong}: box code imports only needle, the apps, NumPy, pytest and grader/box"


@pytest.mark.parametrize("suite", defaults.SUITES)
def test_a_box_receives_its_test_file_and_the_box_library_only(suite):
    for question in QUESTIONS:
        files = {p.as_posix() for p in box_files(suite, question)}
        library = {_rel(p) for p in BOX_LIBRARY} | {"grader/__init__.py", "grader/channel.py"}
        suite_folder = _rel(defaults.SUITES[suite])
        assert files == library | {f"{suite_folder}/__init__.py", f"{suite_folder}/test_{question.name}.py"}


def test_the_bundle_holds_no_second_implementation():
    names = set(bundle.contents())
    python = {n for n in names if n.endswith(".py")}
    handout = {f"handout/{p}" for p in __import__("grader.handout", fromlist=["x"]).handout_files(defaults.HANDOUT)}
    expected_python = (handout | {f"tests_public/{p.name}" for p in (KIT / "tests_public").glob("*.py")}
                       | {p.as_posix() for p in defaults.BOX_FILES} | set(bundle.LOCAL_CHECK_FILES)
                       | {"check.py", "conftest.py", "mnist_fetch.py"})
    assert python == expected_python
    data = names - python
    assert all(n.startswith("tests_public/expected/") and n.endswith(".npz") for n in data
               if n not in {"README.md", "questions.json", "pytest.ini", "requirements.txt", *bundle.DOCS}), sorted(data)
