"""The grader end to end, through its command line: the reference gets full
marks, the handout nothing, every bug of the gallery (tests/bugs.py) loses
points on its own question, results.json has Gradescope's format and leaks
nothing of the hidden suite, archives grade like folders.  Hostile and
ungradable submissions have their own gallery (tests/test_hostile.py).

One answer key serves the whole session (``answer_key``).  Each grading
costs tens of seconds, so each submission is graded once and checked by
several tests, and the gradings that the selected tests need run two at a
time, as soon as the key is built (``gradings``).
"""
import ast
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from grader import grade, key
from grader.handout import carried
from grader.questions import COURSE, QUESTIONS, TOTAL_POINTS
from grader.results import points_by_question
from tests.bugs import BUGS, BY_NAME, Bug, apply, make_submission
from tests.grading import KIT, Graded, check_gradescope_format, grade_with_cli, run_grader

HIDDEN_DIR = KIT / "tests_hidden"
SUITES = "public,hidden"
# The archives and the one-bug submission they are compared with are graded
# with one suite, the hidden one (whose entries the leak test reads).
ONE_SUITE = "hidden"
# CI audits the first bug of each question with the public suite (which
# must catch every bug, and costs half the hidden one, which trains on
# MNIST): the whole gallery with both suites, `python -m grader audit --jobs
# 2`, takes most of an hour (README); run it after editing a suite.
AUDIT_SUITES = "public"
AUDIT_BUGS = tuple(next(b for b in BUGS if b.question == q.name) for q in QUESTIONS)
# The bug whose submission is graded for the leak and archive tests: its
# tests fail with assertion messages that quote values, and it leaves the
# hidden suite's MNIST training alone (which stays fast).
LEAK_BUG = "parse_mnist_divides_by_255"

pytestmark = pytest.mark.grading


# --- submissions -------------------------------------------------------------


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


# name: (make the submission in a fresh folder, suites, more options of grade)
SUBMISSIONS = {
    "reference": (lambda folder: KIT / "reference", SUITES, ()),
    "handout": (lambda folder: KIT / "handout", SUITES, ()),
    "buggy": (lambda folder: make_submission(BY_NAME[LEAK_BUG], folder / "submission"), ONE_SUITE, ()),
    "zipped": (zipped_in_a_top_folder, ONE_SUITE, ()),
    "tar_gz": (reference_tar_gz, ONE_SUITE, ()),
    # An assignment's grading runs only its questions, with its points: once through the command line
    # (the public suite: `reference` above ran every test of both).
    "reference_hw1": (lambda folder: KIT / "reference", "public", ("--assignment", "hw1")),
    # hw2 carries hw1's released solutions (grader/course.toml): a hw1 bug costs nothing there.
    "hw1_bug_on_hw2": (lambda folder: make_submission(BY_NAME[HW1_BUG], folder / "submission"), "public",
                       ("--assignment", "hw2")),
}
# A hw1 (forward_ops) bug that breaks hw2's norm layers.
HW1_BUG = "power_scalar_multiplies"


def grade_hw1_bug_on_hw2_carrying_students(folder: Path, key_dir: Path, mnist_dir: Path) -> dict:
    """The HW1_BUG submission graded on hw2 as if it carried the students'
    own code (no course file says so: the grader's API takes the assignment)."""
    hw2 = replace(COURSE.assignment("hw2"), carry="students")
    return grade.grade(make_submission(BY_NAME[HW1_BUG], folder / "submission"), folder / "results.json",
                       key=key.load(key_dir), suites=("public",), mnist_dir=mnist_dir, questions=hw2.questions,
                       carried=carried(hw2))


def _needed(session) -> set:
    """The gradings (SUBMISSIONS names and "audit") that the selected tests use."""
    needed = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        needed.update(name for name in (*SUBMISSIONS, "audit", "hw1_bug_on_hw2_carrying_students")
                      if name in getattr(item, "fixturenames", ()) or params.get("which") == name)
    return needed


@pytest.fixture(scope="session")
def gradings(request, answer_key, mnist_dir, tmp_path_factory):
    """Futures of the gradings the selected tests need, started together
    once the key is built: the audit (two bugs at a time) and the other
    gradings one after another, so that two cores stay busy."""
    needed = _needed(request.session)
    pool = ThreadPoolExecutor(max_workers=2)
    futures = {}
    if "audit" in needed:
        out = tmp_path_factory.mktemp("audit")
        futures["audit"] = pool.submit(lambda: (run_grader(
            "audit", "--suites", AUDIT_SUITES, "--bugs", ",".join(b.name for b in AUDIT_BUGS), "--jobs", 2,
            "--out", out, "--key-dir", answer_key,
            "--mnist-dir", mnist_dir), out))
    if "hw1_bug_on_hw2_carrying_students" in needed:
        futures["hw1_bug_on_hw2_carrying_students"] = pool.submit(
            grade_hw1_bug_on_hw2_carrying_students, tmp_path_factory.mktemp("students"), answer_key, mnist_dir)
    for name, (make, suites, extra) in SUBMISSIONS.items():
        if name in needed:
            folder = tmp_path_factory.mktemp(name)
            futures[name] = pool.submit(lambda make=make, folder=folder, suites=suites, extra=extra: grade_with_cli(
                make(folder), folder / "results.json", suites=suites, key_dir=answer_key, mnist_dir=mnist_dir,
                extra=extra))
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="session")
def reference(gradings) -> Graded:
    return gradings["reference"].result()


@pytest.fixture(scope="session")
def handout(gradings) -> Graded:
    return gradings["handout"].result()


@pytest.fixture(scope="session")
def buggy(gradings) -> Graded:
    return gradings["buggy"].result()


@pytest.fixture(scope="session")
def zipped(gradings) -> Graded:
    return gradings["zipped"].result()


@pytest.fixture(scope="session")
def tar_gz(gradings) -> Graded:
    return gradings["tar_gz"].result()


@pytest.fixture(scope="session")
def reference_hw1(gradings) -> Graded:
    return gradings["reference_hw1"].result()


@pytest.fixture(scope="session")
def hw1_bug_on_hw2(gradings) -> Graded:
    return gradings["hw1_bug_on_hw2"].result()


@pytest.fixture(scope="session")
def hw1_bug_on_hw2_carrying_students(gradings) -> dict:
    return gradings["hw1_bug_on_hw2_carrying_students"].result()


# --- the reference and the handout -------------------------------------------


def test_reference_gets_full_marks(reference):
    assert reference.data["score"] == TOTAL_POINTS
    assert sum(t["max_score"] for t in reference.data["tests"]) == pytest.approx(TOTAL_POINTS)
    assert all(t["status"] == "passed" for t in reference.data["tests"])
    assert reference.by_question() == pytest.approx({q.name: q.points for q in QUESTIONS})
    assert {t["name"].rsplit("(", 1)[1] for t in reference.data["tests"]} == {"public tests)", "hidden tests)"}


def test_grade_prints_the_table(reference):
    stdout = reference.process.stdout
    assert f"Score {TOTAL_POINTS:.2f} of {TOTAL_POINTS}" in stdout
    for q in QUESTIONS:
        assert re.search(rf"^{q.name}\s+{q.points:.2f} / {q.points}\b", stdout, re.M), f"no table row for {q.name}"
    assert re.search(rf"^total\s+{TOTAL_POINTS:.2f} / {TOTAL_POINTS}\b", stdout, re.M)


def _assignment_questions(data: dict) -> list:
    return list(dict.fromkeys(t["name"].split(":", 1)[0] for t in data["tests"]))


def test_an_assignment_is_graded_on_its_questions_with_its_points(reference_hw1):
    graded, hw1 = reference_hw1, COURSE.assignment("hw1")
    assert graded.data["score"] == 100 and all(t["status"] == "passed" for t in graded.data["tests"])
    assert _assignment_questions(graded.data) == [q.name for q in hw1.questions]
    points = points_by_question(graded.data, hw1.questions)
    assert [max_score for _, max_score in points.values()] == pytest.approx([q.points for q in hw1.questions])
    assert [score for score, _ in points.values()] == pytest.approx([q.points for q in hw1.questions])
    assert "Score 100.00 of 100" in graded.process.stdout


def test_an_earlier_assignments_bug_costs_nothing_where_its_solutions_are_carried(hw1_bug_on_hw2):
    graded = hw1_bug_on_hw2
    assert _assignment_questions(graded.data) == [q.name for q in COURSE.assignment("hw2").questions]
    assert graded.data["score"] == 100, graded.data["output"]
    assert "stood in for your apps/simple_ml.py, needle/autograd.py" in graded.data["output"]


def test_an_earlier_assignments_bug_costs_what_it_breaks_where_students_carry_their_code(
        hw1_bug_on_hw2_carrying_students):
    data, hw2 = hw1_bug_on_hw2_carrying_students, COURSE.assignment("hw2")
    lost = {name: max_score - score for name, (score, max_score) in points_by_question(data, hw2.questions).items()}
    # PowerScalar builds the norm layers (nn modules), which mlp_resnet's blocks are made of.
    assert lost["modules"] >= 1 and data["score"] < 100, data["output"]
    assert set(lost) == {q.name for q in hw2.questions}


def test_handout_gets_zero_on_every_question(handout):
    assert handout.data["score"] == 0
    assert handout.by_question() == {q.name: 0.0 for q in QUESTIONS}
    for test in handout.data["tests"]:
        assert test["status"] == "failed", test["name"]
        # Public tests name the exception; hidden ones say only which behaviours failed.
        if test["name"].endswith("(public tests)"):
            assert "NotImplementedError" in test["output"], \
                f"{test['name']}: not stopped by a TODO:\n{test['output'][:500]}"
        else:
            assert "0 of " in test["output"] and "\nFAILED " in test["output"], test["output"][:500]
    for q in QUESTIONS:
        assert re.search(rf"^{q.name}\s+0\.00 / {q.points}\b", handout.process.stdout, re.M), q.name


@pytest.mark.parametrize("which", ["reference", "handout", "buggy", "zipped", "tar_gz"])
def test_results_json_has_gradescopes_format(request, which):
    check_gradescope_format(request.getfixturevalue(which).data)


# --- leaks ------------------------------------------------------


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


@pytest.mark.parametrize("which", ["reference", "handout", "buggy"])
def test_hidden_entries_leak_no_code_values_or_tracebacks(request, which):
    graded = request.getfixturevalue(which)
    hidden = graded.entries("hidden")
    assert hidden, "no hidden entries to check"
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


# --- submissions in archives -----------------------------


def test_zip_with_the_submission_in_one_top_folder_grades_like_the_folder(zipped, buggy):
    check_gradescope_format(zipped.data)
    assert zipped.data["tests"], zipped.data["output"]
    assert zipped.data["score"] == buggy.data["score"]
    assert [(t["name"], t["score"]) for t in zipped.data["tests"]] == [(t["name"], t["score"]) for t in buggy.data["tests"]]


def test_tar_gz_of_the_reference_gets_full_marks(tar_gz):
    check_gradescope_format(tar_gz.data)
    assert tar_gz.data["score"] == TOTAL_POINTS, tar_gz.data["output"]


# --- the bug gallery ---------------------------------------------------------


def test_every_behaviour_has_a_test_that_scores(answer_key):
    """A behaviour of facts alone (an error raised, a guessable constant)
    earns nothing in the key, yet check.py counts it: every behaviour
    needs a value that code must compute."""
    from grader.key import load

    behaviours = {}
    for test in load(answer_key).tests:
        key = (test.suite, test.question, test.behaviour)
        behaviours[key] = behaviours.get(key, False) or test.scored
    assert [k for k, scored in behaviours.items() if not scored] == []


def test_every_question_has_a_bug():
    assert {q.name for q in QUESTIONS} <= {b.question for b in BUGS}


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_bug_applies_to_the_reference_and_compiles(bug, tmp_path):
    root = make_submission(bug, tmp_path / "submission")
    compile((root / bug.path).read_text(encoding="utf-8"), str(root / bug.path), "exec")
    assert (root / bug.path).read_text(encoding="utf-8") != (KIT / "reference" / bug.path).read_text(encoding="utf-8")


@pytest.mark.parametrize("bug", BUGS, ids=[b.name for b in BUGS])
def test_bug_edits_student_code_only(bug):
    """A bug is a mistake a student can make: its edit lies inside a solution region."""
    from grader.handout import all_regions

    text = (KIT / "reference" / bug.path).read_text(encoding="utf-8")
    first = text[:text.index(bug.old)].count("\n") + 1
    last = first + bug.old.rstrip("\n").count("\n")
    regions = [r for r in all_regions(KIT / "reference") if r.path == bug.path]
    assert any(r.begin < first and last < r.end for r in regions), (
        f"{bug.name}: lines {first}-{last} of reference/{bug.path} are not inside one solution region")


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
    lost_public: float  # on its own question, in the public suite
    lost_elsewhere: float


@pytest.fixture(scope="session")
def audit(gradings):
    """``python -m grader audit`` on the whole gallery: the process, its
    table's rows by bug name, and the folder of each bug's results.json."""
    result, out = gradings["audit"].result()
    rows = {}
    for line in result.stdout.splitlines():
        words = line.split()
        if len(words) >= 7 and words[0] in BY_NAME:
            if words[2] == "error":
                rows[words[0]] = AuditRow(words[1], float("nan"), float("nan"), float("nan"))
            else:
                rows[words[0]] = AuditRow(words[1], float(words[2]), float(words[5]), float(words[6]))
    return result, rows, out


def test_audit_exits_0_and_every_bug_passes_every_rule(audit):
    result, rows, _ = audit
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr[-3000:]}"
    assert set(rows) == {b.name for b in AUDIT_BUGS}, result.stdout
    assert "NOT CAUGHT" not in result.stdout and "TREAT WRONGLY" not in result.stdout
    assert f"{len(AUDIT_BUGS)} of {len(AUDIT_BUGS)} pass every rule" in result.stdout


@pytest.mark.parametrize("bug", AUDIT_BUGS, ids=[b.name for b in AUDIT_BUGS])
def test_bug_costs_a_point_of_100_mostly_on_its_own_question(audit, bug):
    """The audit grades the public suite here, which then carries each
    question's points: a caught bug costs at least 1 of those 100, at least
    as much on its own question as elsewhere (unless its entry says why),
    and the public suite sees it."""
    result, rows, _ = audit
    assert bug.name in rows, f"{bug.name} missing from the audit table:\n{result.stdout}\n{result.stderr[-2000:]}"
    row = rows[bug.name]
    assert row.question == bug.question
    assert row.lost_own >= 1 - 1e-6, f"{bug.name} ({bug.why}) lost only {row.lost_own} on {bug.question}"
    assert bug.elsewhere or row.lost_elsewhere <= row.lost_own + 1e-6, (
        f"{bug.name} costs {row.lost_elsewhere} elsewhere, {row.lost_own} on {bug.question}")
    assert bug.hidden_only or row.lost_public > 0, f"{bug.name}: the public suite of {bug.question} misses it"


def test_every_bugs_results_json_has_gradescopes_format(audit):
    """Partial scores (not just 0 and full marks) in Gradescope's format:
    in particular, the test scores add up to the total."""
    result, _, out = audit
    problems = {}
    for bug in AUDIT_BUGS:
        path = out / f"{bug.name}.json"
        assert path.is_file(), f"the audit kept no results for {bug.name}:\n{result.stderr[-2000:]}"
        try:
            check_gradescope_format(json.loads(path.read_text(encoding="utf-8")))
        except AssertionError as error:
            problems[bug.name] = str(error).splitlines()[0]
    assert not problems, "results.json not in Gradescope's format:\n" + "\n".join(
        f"  {name}: {problem}" for name, problem in problems.items())


def test_audit_report_names_each_rule_a_bug_breaks_and_fails():
    from grader.audit import BugResult, report

    lost = {(q.name, s): 0.0 for q in QUESTIONS for s in ("public", "hidden")}

    def bug(name, question, losses, **words):
        return BugResult(name, question, "why", 100.0 - sum(losses.values()), {**lost, **losses}, 1.0, **words)

    results = [
        bug("fine", "forward_ops", {("forward_ops", "public"): 0.5, ("forward_ops", "hidden"): 0.5}),
        bug("cheap", "modules", {("modules", "public"): 0.3, ("modules", "hidden"): 0.3}),
        bug("elsewhere", "topo_sort", {("topo_sort", "public"): 1.0, ("reverse_ad", "hidden"): 5.0}),
        bug("excused", "topo_sort", {("topo_sort", "public"): 1.0, ("reverse_ad", "hidden"): 5.0},
            elsewhere_ok="the engine needs the order"),
        bug("stale_excuse", "topo_sort", {("topo_sort", "public"): 1.0, ("reverse_ad", "hidden"): 0.5},
            elsewhere_ok="the engine needs the order"),
        bug("hidden", "data", {("data", "hidden"): 2.5}),
        bug("missed", "data", {}),
    ]
    assert [bool(r.problems) for r in results] == [False, True, True, False, True, True, True]
    text = report(results, ("public", "hidden"))
    wrong = text.split("TREAT WRONGLY", 1)[1]
    assert "costs 0.6 on modules, less than 1" in wrong
    assert "costs more elsewhere (5) than on topo_sort (1)" in wrong and "excused [" not in wrong
    assert "stale_excuse [topo_sort]" in wrong and "drop the bug's `elsewhere`" in wrong
    assert "the public suite of data does not catch it" in wrong
    assert "missed [data]" in text.split("NOT CAUGHT", 1)[1]
    assert "2 of 7 pass every rule" in text


@pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's own uid exists only when root grades")
def test_grades_from_a_checkout_under_a_folder_closed_to_others(tmp_path_factory, answer_key, mnist_dir):
    """As root, from a copy of the kit under a mode-0700 folder (mktemp -d's
    default, a home folder): the sandbox's uid never needs to reach it."""
    closed = Path(tempfile.mkdtemp(prefix="closed-"))
    try:
        kit = closed / "kit"
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=KIT, capture_output=True, check=True).stdout
        for name in filter(None, listed.decode().split("\0")):
            if (KIT / name).is_file():
                (kit / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(KIT / name, kit / name)
        assert stat.S_IMODE(closed.stat().st_mode) == 0o700
        out = closed / "results.json"
        graded = subprocess.run(
            [sys.executable, "-m", "grader", "grade", "reference", "--out", out, "--suites", "public",
             "--key-dir", answer_key, "--mnist-dir", mnist_dir],
            cwd=kit, capture_output=True, text=True, timeout=900,
        )
        assert graded.returncode == 0, graded.stderr[-3000:]
        data = json.loads(out.read_text())
        assert data["tests"] and all(t["status"] == "passed" for t in data["tests"]), data["output"]
        assert data["score"] == pytest.approx(sum(t["max_score"] for t in data["tests"])) and data["score"] > 0
    finally:
        subprocess.run(["rm", "-rf", str(closed)], check=True)
