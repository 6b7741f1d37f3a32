"""The kit's API reference, docs/API.md: every section the suites cite
exists, nothing cites the old reference any more, the student bundle ships
it, and it names every public class and function of the reference package.

Names are found by parsing the reference's source with ``ast``: nothing of
the reference is imported here."""
import ast
import functools
import re
from pathlib import Path

import pytest

from grader import bundle

KIT = Path(__file__).resolve().parent.parent
API = KIT / "docs" / "API.md"
NEEDLE = KIT / "reference" / "needle"

# The old reference, spelled in two parts so that this file does not cite it.
OLD_REFERENCE = "needle_api" + ".md"

NUMBER = r"\d+(?:\.\d+)?"
NUMBERS = rf"{NUMBER}(?:(?:,[\s#]*|[\s#]+and[\s#]+){NUMBER})*"
# "docs/API.md section 6", "API.md sections 4.1, 5 and 5.1", "API.md 8.2";
# a citation may run over a line break (and a comment's "#").
CITATION = re.compile(rf"API\.md(?:[\s#]+sections?)?[\s#]+({NUMBERS})")
# Inside the reference itself: "section 4.1", "sections 5.4 and 8.1".
INTERNAL_CITATION = re.compile(rf"\bsections?\s+({NUMBERS})")
HEADING = re.compile(rf"^#{{2,3}} ({NUMBER})\.? ", re.MULTILINE)

CITING_FILES = sorted(
    {*KIT.glob("tests_public/*.py"), *KIT.glob("tests_hidden/*.py"), *KIT.glob("tests/*.py"),
     *KIT.glob("grader/**/*.py"), *KIT.glob("grader/**/*.md")} - {Path(__file__).resolve()}
)
TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".ini", ".cfg", ".json", ".yml", ".yaml", ".sh", ".rst"}
SKIPPED_DIRS = {".git", ".venv", ".cache", ".pytest_cache", ".benchmarks", "__pycache__", "data"}


def sections():
    return set(HEADING.findall(API.read_text(encoding="utf-8")))


def cited(pattern, text):
    """(line number, section) of every citation of ``pattern`` in ``text``."""
    for match in pattern.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        for number in re.findall(NUMBER, match.group(1)):
            yield line, number


def test_the_reference_has_numbered_sections():
    found = sections()
    assert {str(n) for n in range(1, 10)} <= found, f"top-level sections: {sorted(found)}"
    assert any("." in s for s in found)


def test_every_cited_section_exists():
    found = sections()
    citations = [(path, line, n) for path in CITING_FILES
                 for line, n in cited(CITATION, path.read_text(encoding="utf-8"))]
    citations += [(API, line, n) for line, n in cited(INTERNAL_CITATION, API.read_text(encoding="utf-8"))]
    assert any(path.parent.name == "tests_public" for path, _, _ in citations), \
        "the public tests cite no section of docs/API.md"
    missing = [f"{path.relative_to(KIT)}:{line} cites section {n}" for path, line, n in citations if n not in found]
    assert not missing, "sections that docs/API.md does not have:\n" + "\n".join(missing)


def kit_text_files():
    for path in sorted(KIT.rglob("*")):
        parts = path.relative_to(KIT).parts
        if any(p in SKIPPED_DIRS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if path.is_file() and path.suffix in TEXT_SUFFIXES:
            yield path


def test_nothing_cites_the_old_reference():
    citing = [f"{path.relative_to(KIT)}:{i}" for path in kit_text_files()
              for i, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
              if OLD_REFERENCE in line]
    assert not citing, f"{OLD_REFERENCE} is still cited (cite docs/API.md instead):\n" + "\n".join(citing)


def test_the_student_bundle_ships_the_reference():
    files = bundle.contents()
    assert files.get("docs/API.md") == API.read_bytes()


def public_names(path, constants=True):
    """The public classes and functions defined at the top of ``path``, and
    with ``constants`` its upper-case module constants."""
    names = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.append(node.name)
        elif constants and isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper()]
    return [n for n in names if not n.startswith("_")]


def reference_names():
    sources = [*sorted((NEEDLE / "nn").glob("*.py")), NEEDLE / "optim.py", *sorted((NEEDLE / "init").glob("*.py")),
               *sorted((NEEDLE / "data").rglob("*.py"))]
    names = {(path, name) for path in sources for name in public_names(path)}
    # Every op of needle.ops: its class and its lowercase wrapper.
    names |= {(path, name) for path in sorted((NEEDLE / "ops").glob("*.py"))
              for name in public_names(path, constants=False)}
    return sorted(names)


@functools.lru_cache(maxsize=None)
def documented_names():
    """Every identifier inside a code span or code block of docs/API.md."""
    text = API.read_text(encoding="utf-8")
    spans = re.findall(r"`([^`]+)`", text) + re.findall(r"^    .*$", text, re.MULTILINE)
    return {name for span in spans for name in re.findall(r"[A-Za-z_]\w*", span)}


def test_reference_names_are_found():
    names = {name for _, name in reference_names()}
    assert {"Linear", "BatchNorm1d", "SGD", "Adam", "kaiming_uniform", "DataLoader", "MNISTDataset",
            "summation", "logsumexp", "make_tuple"} <= names


@pytest.mark.parametrize("path, name", reference_names(),
                         ids=lambda v: v if isinstance(v, str) else v.relative_to(NEEDLE).as_posix())
def test_every_public_name_is_documented(path, name):
    assert name in documented_names(), f"{name} ({path.relative_to(KIT)}) is not in docs/API.md"
