"""The grader end to end, through its command line: the reference gets full
marks, the handout nothing, every bug of the gallery (tests/bugs.py) loses
points on its own question, a submission that fakes its test reports gains
nothing, results.json has Gradescope's format and leaks nothing of the
hidden suite, and ungradable submissions get 0 with a message saying what
to fix.

One answer key is built for the whole session into a temporary --key-dir.
Both suites are used once tests_hidden/ has a file per question (before
that, the public suite alone).  Each grading costs tens of seconds, so each
submission is graded once and checked by several tests, and the gradings
that the selected tests need run two at a time, as soon as the key is built
(``gradings``).
"""
import ast
import gzip
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.questions import QUESTIONS, TOTAL_POINTS
from tests.bugs import BUGS, BY_NAME, Bug, apply, make_submission

KIT = Path(__file__).resolve().parent.parent
HIDDEN_DIR = KIT / "tests_hidden"
HIDDEN_COMPLETE = all((HIDDEN_DIR / f"test_{q.name}.py").is_file() for q in QUESTIONS)
SUITES = "public,hidden" if HIDDEN_COMPLETE else "public"
# The archives and the one-bug submission they are compared with are graded
# with one suite, the hidden one (whose entries the leak test reads).
ONE_SUITE = "hidden" if HIDDEN_COMPLETE else "public"
# The bug gallery is graded with the public suite: it catches every bug and
# costs half the hidden one, which trains on MNIST (`python -m grader audit`
# with both suites takes about 7 minutes on two cores).
AUDIT_SUITES = "public"
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}
# The bug whose submission is graded for the leak and archive tests: its
# tests fail with assertion messages that quote values, and it leaves the
# hidden suite's MNIST training alone (which stays fast).
LEAK_BUG = "parse_mnist_divides_by_255"

pytestmark = pytest.mark.slow


def run_grader(*args, timeout=3600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "grader", *[str(a) for a in args]],
        cwd=KIT, capture_output=True, text=True, timeout=timeout,
    )


@dataclass(frozen=True)
class Graded:
    process: subprocess.CompletedProcess
    data: dict  # results.json

    def entries(self, suite=None):
        return [t for t in self.data["tests"] if suite is None or t["name"].endswith(f"({suite} tests)")]

    def by_question(self):
        points = {q.name: 0.0 for q in QUESTIONS}
        for test in self.data["tests"]:
            points[test["name"].split(":", 1)[0]] += test["score"]
        return points


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory, mnist_dir) -> Path:
    """An answer key built once, from reference/, into a temporary folder."""
    folder = tmp_path_factory.mktemp("answer-key") / "key"
    result = run_grader("key", "--key-dir", folder, "--mnist-dir", mnist_dir)
    assert result.returncode == 0, f"python -m grader key failed:\n{result.stdout}\n{result.stderr[-4000:]}"
    assert (folder / "key.json").is_file()
    return folder


def grade_with_cli(submission: Path, out: Path, *, suites: str, key_dir: Path, mnist_dir: Path) -> Graded:
    """Grade through ``python -m grader grade``; it must exit 0 and write results."""
    result = run_grader("grade", submission, "--out", out, "--suites", suites,
                        "--key-dir", key_dir, "--mnist-dir", mnist_dir)
    assert result.returncode == 0, (
        f"grading {submission} exited {result.returncode}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    assert out.is_file(), f"no results.json written for {submission}"
    return Graded(result, json.loads(out.read_text(encoding="utf-8")))


@pytest.fixture
def grade(key_dir, mnist_dir, tmp_path):
    """grade(submission, suites=SUITES) -> Graded, graded at once, in the test."""
    return lambda submission, suites=SUITES: grade_with_cli(
        submission, tmp_path / "results.json", suites=suites, key_dir=key_dir, mnist_dir=mnist_dir)


def check_gradescope_format(data: dict) -> None:
    """Gradescope's results.json, checked by hand."""
    number = (int, float)
    assert isinstance(data, dict)
    assert isinstance(data.get("score"), number) and not isinstance(data["score"], bool), data.get("score")
    assert isinstance(data.get("execution_time"), number), data.get("execution_time")
    assert isinstance(data.get("output"), str)
    assert data.get("visibility") in VISIBILITIES
    assert data.get("stdout_visibility") in VISIBILITIES
    assert isinstance(data.get("tests"), list)
    for test in data["tests"]:
        assert isinstance(test, dict)
        assert isinstance(test.get("name"), str) and test["name"], test
        assert isinstance(test.get("number"), str), test
        for field in ("score", "max_score"):
            assert isinstance(test.get(field), number) and not isinstance(test[field], bool), (field, test)
        assert 0 <= test["score"] <= test["max_score"], test
        assert test.get("status") in {"passed", "failed"}, test
        assert test.get("visibility") in VISIBILITIES, test
        assert isinstance(test.get("output"), str), test
    total = sum(t["score"] for t in data["tests"])
    assert abs(total - data["score"]) <= 1e-6, f"test scores add up to {total!r}, but score is {data['score']!r}"
    json.dumps(data)  # plain JSON all the way down


# --- submissions -------------------------------------------------------------


def copy_root(source: Path, dest: Path) -> Path:
    for folder in ("needle", "apps"):
        shutil.copytree(source / folder, dest / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return dest


# Appended to the handout's needle/__init__.py: every test report of the
# test process says "passed", whatever happened.
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


def faked_handout(folder: Path) -> Path:
    root = copy_root(KIT / "handout", folder / "submission")
    init = root / "needle" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + FAKE_PASSES, encoding="utf-8")
    return root


def zipped_in_a_top_folder(folder: Path) -> Path:
    """The LEAK_BUG submission in a .zip, inside one top folder, with the
    __MACOSX entry that macOS adds."""
    root = make_submission(BY_NAME[LEAK_BUG], folder / "tree")
    archive = folder / "submission.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(root.rglob("*")):
            if path.is_file():
                z.write(path, "my-homework/" + path.relative_to(root).as_posix())
        z.writestr("__MACOSX/._my-homework", b"resource fork")
    return archive


def reference_tar_gz(folder: Path) -> Path:
    archive = folder / "submission.tar.gz"
    with tarfile.open(archive, "w:gz") as t:
        for name in ("needle", "apps"):
            t.add(KIT / "reference" / name, arcname=name,
                  filter=lambda info: None if "__pycache__" in info.name else info)
    return archive


# name: (make the submission in a fresh folder, suites)
SUBMISSIONS = {
    "reference": (lambda folder: KIT / "reference", SUITES),
    "handout": (lambda folder: KIT / "handout", SUITES),
    "faked": (faked_handout, SUITES),
    "buggy": (lambda folder: make_submission(BY_NAME[LEAK_BUG], folder / "submission"), ONE_SUITE),
    "zipped": (zipped_in_a_top_folder, ONE_SUITE),
    "tar_gz": (reference_tar_gz, ONE_SUITE),
}


def _needed(session) -> set:
    """The gradings (SUBMISSIONS names and "audit") that the selected tests use."""
    needed = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        needed.update(name for name in (*SUBMISSIONS, "audit")
                      if name in getattr(item, "fixturenames", ()) or params.get("which") == name)
    return needed


@pytest.fixture(scope="session")
def gradings(request, key_dir, mnist_dir, tmp_path_factory):
    """Futures of the gradings the selected tests need, started together
    once the key is built: the audit (two bugs at a time) and the other
    gradings one after another, so that two cores stay busy."""
    needed = _needed(request.session)
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {}
    if "audit" in needed:
        out = tmp_path_factory.mktemp("audit")
        futures["audit"] = pool.submit(lambda: (run_grader(
            "audit", "--suites", AUDIT_SUITES, "--jobs", 2, "--out", out, "--key-dir", key_dir,
            "--mnist-dir", mnist_dir), out))
    for name, (make, suites) in SUBMISSIONS.items():
        if name in needed:
            folder = tmp_path_factory.mktemp(name)
            futures[name] = pool.submit(lambda make=make, folder=folder, suites=suites: grade_with_cli(
                make(folder), folder / "results.json", suites=suites, key_dir=key_dir, mnist_dir=mnist_dir))
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def reference(gradings) -> Graded:
    return gradings["reference"].result()


@pytest.fixture(scope="session")
def handout(gradings) -> Graded:
    return gradings["handout"].result()


@pytest.fixture(scope="session")
def faked(gradings) -> Graded:
    return gradings["faked"].result()


@pytest.fixture(scope="session")
def buggy(gradings) -> Graded:
    return gradings["buggy"].result()


@pytest.fixture(scope="session")
def zipped(gradings) -> Graded:
    return gradings["zipped"].result()


@pytest.fixture(scope="session")
def tar_gz(gradings) -> Graded:
    return gradings["tar_gz"].result()


# --- the reference and the handout -------------------------------------------


def test_reference_gets_full_marks(reference):
    assert reference.data["score"] == TOTAL_POINTS
    assert sum(t["max_score"] for t in reference.data["tests"]) == pytest.approx(TOTAL_POINTS)
    assert all(t["status"] == "passed" for t in reference.data["tests"])
    assert reference.by_question() == pytest.approx({q.name: q.points for q in QUESTIONS})
    if HIDDEN_COMPLETE:
        assert {t["name"].rsplit("(", 1)[1] for t in reference.data["tests"]} == {"public tests)", "hidden tests)"}


def test_grade_prints_the_table(reference):
    stdout = reference.process.stdout
    assert f"Score {TOTAL_POINTS} of {TOTAL_POINTS}" in stdout
    for q in QUESTIONS:
        assert re.search(rf"^{q.name}\s+{q.points:.2f} / {q.points}\b", stdout, re.M), f"no table row for {q.name}"
    assert re.search(rf"^total\s+{TOTAL_POINTS:.2f} / {TOTAL_POINTS}\b", stdout, re.M)


def test_handout_gets_zero_on_every_question(handout):
    assert handout.data["score"] == 0
    assert handout.by_question() == {q.name: 0.0 for q in QUESTIONS}
    for test in handout.data["tests"]:
        assert test["status"] == "failed", test["name"]
        assert "NotImplementedError" in test["output"], f"{test['name']}: not stopped by a TODO:\n{test['output'][:500]}"
    for q in QUESTIONS:
        assert re.search(rf"^{q.name}\s+0\.00 / {q.points}\b", handout.process.stdout, re.M), q.name


@pytest.mark.parametrize("which", ["reference", "handout", "faked", "buggy", "zipped", "tar_gz"])
def test_results_json_has_gradescopes_format(request, which):
    check_gradescope_format(request.getfixturevalue(which).data)


# --- cheating and leaks ------------------------------------------------------


def test_faking_passed_reports_gains_nothing(faked, handout):
    assert faked.data["score"] == handout.data["score"]
    assert faked.by_question() == handout.by_question()
    # The fake did take effect in the test process; the grader saw through it.
    outputs = "\n".join(t["output"] for t in faked.data["tests"])
    assert "reported passing" in outputs, outputs[:2000]


def hidden_code_lines():
    """The hidden suite's code lines (not docstrings or comments: the first
    line of a test's docstring is its hint, shown on purpose)."""
    lines = set()
    for path in sorted(HIDDEN_DIR.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        docstring_lines = set()
        for node in ast.walk(ast.parse(source)):
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                    and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                docstring_lines.update(range(body[0].lineno, body[0].end_lineno + 1))
        for number, line in enumerate(source.splitlines(), start=1):
            line = line.strip()
            if len(line) >= 20 and number not in docstring_lines and not line.startswith("#"):
                lines.add(line)
    return lines


@pytest.mark.parametrize("which", ["reference", "handout", "faked", "buggy"])
def test_hidden_entries_leak_no_code_values_or_tracebacks(request, which):
    graded = request.getfixturevalue(which)
    hidden = graded.entries("hidden")
    if not hidden:
        pytest.skip("no hidden suite graded")
    code = hidden_code_lines()
    for entry in hidden:
        output = entry["output"]
        for marker in ("Traceback", "tests_hidden/", "assert_close", "values differ beyond", "worst at index",
                       "Hint:", "array("):
            assert marker not in output, f"{entry['name']} shows {marker!r}:\n{output[:2000]}"
        assert not re.search(r"\bgot\b.*\bexpected\b|\bexpected\b.*\bgot\b", output), output[:2000]
        leaked = [line for line in code if line in output]
        assert not leaked, f"{entry['name']} shows hidden test code: {leaked[:3]}"


def test_a_bug_fails_hidden_tests_with_a_reason(buggy):
    """The leak test above must have something to look at."""
    failed = [t for t in buggy.entries(ONE_SUITE) if t["status"] == "failed"]
    assert failed and 0 < buggy.data["score"] < TOTAL_POINTS


# --- submissions in archives and ungradable ones -----------------------------


def test_zip_with_the_submission_in_one_top_folder_grades_like_the_folder(zipped, buggy):
    check_gradescope_format(zipped.data)
    assert zipped.data["tests"], zipped.data["output"]
    assert zipped.data["score"] == buggy.data["score"]
    assert [(t["name"], t["score"]) for t in zipped.data["tests"]] == [(t["name"], t["score"]) for t in buggy.data["tests"]]


def test_tar_gz_of_the_reference_gets_full_marks(tar_gz):
    check_gradescope_format(tar_gz.data)
    assert tar_gz.data["score"] == TOTAL_POINTS, tar_gz.data["output"]


def no_needle(tmp_path):
    shutil.copytree(KIT / "reference" / "apps", tmp_path / "submission" / "apps")
    return tmp_path / "submission"


def syntax_error(tmp_path):
    root = copy_root(KIT / "reference", tmp_path / "submission")
    with (root / "needle" / "autograd.py").open("a", encoding="utf-8") as f:
        f.write("\ndef broken(:\n    pass\n")
    return root


def not_an_archive(tmp_path):
    path = tmp_path / "submission.zip"
    path.write_bytes(b"these are my answers, I promise\n" * 10)
    return path


def compressed_text(tmp_path):
    path = tmp_path / "submission.tar.gz"
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb") as f:
        f.write(b"not a tar inside\n")
    path.write_bytes(buffer.getvalue())
    return path


UNGRADABLE = [
    # (id, make the submission in tmp_path, what the output must say)
    ("no-needle-folder", no_needle, ["no needle/ folder", "Submit the folders needle/ and apps/"]),
    ("syntax-error", syntax_error, ["does not compile", "needle/autograd.py", "Fix the syntax error"]),
    ("not-an-archive", not_an_archive, ["submission.zip", "Submit the folders needle/ and apps/"]),
    ("gzip-without-tar", compressed_text, ["submission.tar.gz", "Submit the folders needle/ and apps/"]),
]


@pytest.mark.parametrize("make, says", [u[1:] for u in UNGRADABLE], ids=[u[0] for u in UNGRADABLE])
def test_ungradable_submission_gets_zero_and_says_what_to_fix(grade, tmp_path, make, says):
    graded = grade(make(tmp_path))
    check_gradescope_format(graded.data)
    assert graded.data["score"] == 0 and graded.data["tests"] == []
    output = graded.data["output"]
    assert output.startswith("Your submission could not be graded"), output
    for text in says:
        assert text in output, f"{text!r} not in the output:\n{output}"
    assert "Traceback" not in output
    assert "could not be graded" in graded.process.stdout


# --- the bug gallery ---------------------------------------------------------


def test_every_question_has_a_bug():
    assert {q.name for q in QUESTIONS} <= {b.question for b in BUGS}


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_bug_applies_to_the_reference_and_compiles(bug, tmp_path):
    root = make_submission(bug, tmp_path / "submission")
    compile((root / bug.path).read_text(encoding="utf-8"), str(root / bug.path), "exec")
    assert (root / bug.path).read_text(encoding="utf-8") != (KIT / "reference" / bug.path).read_text(encoding="utf-8")


def test_make_submission_fails_loudly_when_the_reference_changed(tmp_path):
    bug = Bug("example", "forward_ops", "needle/x.py", "a = 1\n", "a = 2\n", "example")
    with pytest.raises(ValueError, match="occurs 0 times"):
        apply(bug, "b = 1\n")
    with pytest.raises(ValueError, match="occurs 2 times"):
        apply(bug, "a = 1\na = 1\n")
    with pytest.raises(ValueError, match="does not exist"):
        make_submission(bug, tmp_path / "out", reference=tmp_path / "no-reference")


@dataclass(frozen=True)
class AuditRow:
    question: str
    lost_own: float  # nan when it could not be graded
    elsewhere: str


@pytest.fixture(scope="session")
def audit(gradings):
    """``python -m grader audit`` on the whole gallery: the process, its
    table's rows by bug name, and the folder of each bug's results.json."""
    result, out = gradings["audit"].result()
    rows = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) >= 4 and words[0] in BY_NAME:
            lost = float("nan") if words[2] == "error" else float(words[2])
            rows[words[0]] = AuditRow(words[1], lost, " ".join(words[5:]))
    return result, rows, out


def test_audit_exits_0_and_lists_every_bug_as_caught(audit):
    result, rows, _ = audit
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-3000:]}"
    assert set(rows) == set(BY_NAME), result.stdout
    assert "NOT CAUGHT" not in result.stdout
    assert f"{len(BUGS)} of {len(BUGS)} bugs caught on their own question" in result.stdout


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_bug_loses_points_on_its_own_question(audit, bug):
    result, rows, _ = audit
    assert bug.name in rows, f"{bug.name} missing from the audit table:\n{result.stdout}\n{result.stderr[-2000:]}"
    assert rows[bug.name].question == bug.question
    assert rows[bug.name].lost_own > 0, f"{bug.name} ({bug.why}) lost no points on {bug.question}"


def test_every_bugs_results_json_has_gradescopes_format(audit):
    """Partial scores (not just 0 and full marks) in Gradescope's format:
    in particular, the test scores add up to the total."""
    result, _, out = audit
    problems = {}
    for bug in BUGS:
        path = out / f"{bug.name}.json"
        assert path.is_file(), f"the audit kept no results for {bug.name}:\n{result.stderr[-2000:]}"
        try:
            check_gradescope_format(json.loads(path.read_text(encoding="utf-8")))
        except AssertionError as error:
            problems[bug.name] = str(error).splitlines()[0]
    assert not problems, "results.json not in Gradescope's format:\n" + "\n".join(
        f"  {name}: {problem}" for name, problem in problems.items())


def test_audit_report_lists_uncaught_bugs_and_fails():
    from grader.audit import BugResult, report

    lost = {q.name: 0.0 for q in QUESTIONS}
    results = [
        BugResult("caught", "forward_ops", "x", 99.0, {**lost, "forward_ops": 1.0}, 1.0),
        BugResult("elsewhere", "topo_sort", "y", 98.0, {**lost, "reverse_ad": 2.0}, 1.0),
        BugResult("missed", "data", "z", 100.0, lost, 1.0),
    ]
    assert [r.caught for r in results] == [True, False, False]
    text = report(results, ("public",))
    missed_section = text.split("NOT CAUGHT", 1)[1]
    assert "missed [data]" in missed_section and "caught [" not in missed_section
    assert "elsewhere [topo_sort]" in text.split("Caught only by other questions", 1)[1]
    assert "1 of 3 bugs caught on their own question" in text
