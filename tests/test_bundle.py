"""The student bundle: what it holds, what it never holds, and that it runs."""
import json
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from dataclasses import replace

from grader import bundle, defaults, handout
from grader.course import CARRIES
from grader.questions import COURSE, QUESTIONS

KIT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def bundle_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("bundle") / "needle-handout.zip"
    result = subprocess.run(
        [sys.executable, "-m", "grader", "bundle", str(out)], cwd=KIT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return out


def test_bundle_holds_the_handout_public_tests_and_tools(bundle_zip):
    names = set(zipfile.ZipFile(bundle_zip).namelist())
    expected = {"README.md", "check.py", "conftest.py", "pytest.ini", "requirements.txt",
                "questions.json", "mnist_fetch.py", "handout/needle/autograd.py",
                "handout/apps/simple_ml.py", "grader/box/record.py", "grader/box/plugin.py", "grader/compare.py",
                "grader/expected.py", "tests_public/expected/test_forward_ops.npz"}
    assert expected <= names, f"missing from the bundle: {sorted(expected - names)}"
    assert {f"{q.public_tests}" for q in QUESTIONS} <= names


def test_bundle_never_holds_the_reference_hidden_tests_or_solutions(bundle_zip):
    archive = zipfile.ZipFile(bundle_zip)
    box_side = {p.as_posix() for p in defaults.BOX_FILES} | set(bundle.LOCAL_CHECK_FILES)
    leaked = [n for n in archive.namelist()
              if n.startswith(("reference/", "tests_hidden/", "tests/")) or "key" in n.lower()
              or (n.startswith("grader/") and n not in box_side)]
    assert not leaked, f"the bundle leaks {leaked}"
    with_solutions = [n for n in archive.namelist() if b"### BEGIN SOLUTION" in archive.read(n)]
    assert not with_solutions, f"solution markers in {with_solutions}"
    contents = b"\n".join(archive.read(n) for n in archive.namelist())
    for region in handout.all_regions(KIT / "reference"):
        lines = (KIT / "reference" / region.path).read_text().splitlines()[region.begin : region.end - 1]
        if len(lines) >= 3:
            assert "\n".join(lines).encode() not in contents, f"the solution of {region.task} leaked"


def _solution_lines(region) -> list:
    return (KIT / "reference" / region.path).read_text(encoding="utf-8").splitlines()[region.begin : region.end - 1]


@pytest.mark.parametrize("carry", CARRIES)
@pytest.mark.parametrize("name", [a.name for a in COURSE.assignments])
def test_an_assignments_bundle_holds_no_solution_it_does_not_release(name, carry):
    """Every line of a solution that is not given code (nor another
    solution's line that the bundle may hold) stays out of the bundle; the
    earlier assignments' solutions are in it exactly when carried."""
    assignment = replace(COURSE.assignment(name), carry=carry)
    released = {q.name for q in assignment.released}
    files = bundle.contents(assignment)
    shipped = {line.strip() for data in files.values() for line in data.decode("utf-8", "replace").splitlines()}
    regions = handout.all_regions(KIT / "reference")
    # Lines of given code, the tests and the box library: a solution line equal to one of them tells nothing.
    public = [*handout.generate(KIT / "reference").values()]
    public += [p.read_text(encoding="utf-8") for p in (*defaults.TESTS_PUBLIC.glob("*.py"), KIT / "conftest.py",
                                                       *(KIT / f for f in (*defaults.BOX_FILES, *bundle.DOCS)))]
    given = {line.strip() for text in public for line in text.splitlines()}
    allowed = {line.strip() for r in regions if r.question.name in released for line in _solution_lines(r)}
    leaked = [f"{r.path}:{r.task}: {line.strip()}" for r in regions if r.question.name not in released
              for line in _solution_lines(r) if len(line.strip()) >= 20 and line.strip() not in given | allowed
              and line.strip() in shipped]
    assert not leaked, f"{name} with carry = {carry} leaks:\n" + "\n".join(leaked[:10])
    for r in regions:
        if r.question.name in released:
            assert "\n".join(_solution_lines(r)) in files[f"handout/{r.path}"].decode(), f"{r.task} not released"
    assert released == ({q.name for q in assignment.earlier} if carry == "solutions" else set())
    tests = {n for n in files if n.startswith(("tests_public/test_", "tests_public/expected/"))}
    assert tests == {q.public_tests for q in assignment.questions} | {
        f"tests_public/expected/test_{q.name}.npz" for q in assignment.questions}
    listed = json.loads(files["questions.json"])
    assert [(q["name"], q["points"]) for q in listed] == [(q.name, q.points) for q in assignment.questions]
    readme = files["README.md"].decode()
    assert readme.startswith(f"# {assignment.title}\n") and "{" not in readme.split("## Questions")[0]
    if assignment.earlier:
        says = "solved for you" if carry == "solutions" else "Copy your own code for them over"
        assert says in readme, readme[:3000]


def test_bundle_readme_commands_run_the_public_tests_and_print_the_table(bundle_zip, tmp_path, mnist_dir):
    folder = tmp_path / "student"
    zipfile.ZipFile(bundle_zip).extractall(folder)
    # A fresh environment that sees this one's packages (a .pth file): they
    # stand in for PyPI, which a test must not need.
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    site = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "kit-packages.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "-r", "requirements.txt"],
                             cwd=folder, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr
    check = subprocess.run([python, "check.py", f"--mnist-dir={mnist_dir}"],
                           cwd=folder, capture_output=True, text=True, timeout=600)
    assert check.returncode == 1, "the untouched handout must fail its public tests"
    assert "warning" not in check.stdout.lower(), check.stdout[-2000:]
    assert "Public tests by question" in check.stdout, check.stdout[-3000:]
    table = check.stdout[check.stdout.index("Public tests by question"):]
    for question in QUESTIONS:
        assert f"{question.name} " in table and f"/ {question.points / 2:g}" in table, table
    assert "total" in table and "0.00 / 50" in table, table


def test_bundle_local_run_says_what_was_expected_and_what_came(bundle_zip, tmp_path, mnist_dir):
    """A student's code with a bug, tested from the bundle: the message
    names the value, both numbers and where they differ."""
    from tests.bugs import BUGS, make_submission

    folder = tmp_path / "student"
    zipfile.ZipFile(bundle_zip).extractall(folder)
    bug = next(b for b in BUGS if b.name == "transpose_reverses_all_axes")
    make_submission(bug, folder / "mine")
    run = subprocess.run([sys.executable, "-m", "pytest", "tests_public/test_forward_ops.py", "-q", "-x",
                          "-k", "transpose", "--needle-root=mine", f"--mnist-dir={mnist_dir}", "-p", "no:cacheprovider"],
                         cwd=folder, capture_output=True, text=True, timeout=600)
    out = run.stdout
    assert run.returncode == 1, out[-3000:]
    assert "transpose" in out and ("expected shape" in out or "worst at index" in out), out[-3000:]


def test_a_later_assignments_bundle_checks_its_own_questions_on_the_released_code(tmp_path, mnist_dir):
    """hw2's bundle, unzipped as a student would: check.py runs hw2's public
    tests on the handout, whose hw1 code is the released solution, so each
    hw2 question stops at its own TODOs (not started), none of hw1's shows,
    and the points are hw2's."""
    out = tmp_path / "hw2.zip"
    built = subprocess.run([sys.executable, "-m", "grader", "bundle", str(out), "--assignment", "hw2"],
                           cwd=KIT, capture_output=True, text=True)
    assert built.returncode == 0 and "hw2" in built.stdout, built.stderr
    folder = tmp_path / "student"
    zipfile.ZipFile(out).extractall(folder)
    check = subprocess.run([sys.executable, "check.py", f"--mnist-dir={mnist_dir}"], cwd=folder,
                           capture_output=True, text=True, timeout=600)
    table = check.stdout[check.stdout.index("Public tests by question"):].split("\n\n")[0]
    rows = {line.split()[0]: line for line in table.splitlines()[2:-1]}
    hw2 = COURSE.assignment("hw2")
    assert set(rows) == {q.name for q in hw2.questions}, table
    for q in hw2.questions:
        assert "not started" in rows[q.name] and f"/ {q.points / 2:g}" in rows[q.name], table
    assert "total" in table and "0.00 / 50" in table, table


def test_bundle_is_reproducible(tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    bundle.build(first)
    bundle.build(second)
    assert first.read_bytes() == second.read_bytes()


def test_bundle_readme_and_docstrings_agree_on_running_each_app_from_the_bundle_root(bundle_zip, tmp_path):
    import re

    folder = tmp_path / "student"
    zipfile.ZipFile(bundle_zip).extractall(folder)
    readme = (folder / "README.md").read_text(encoding="utf-8")
    commands = re.findall(r"`python (handout/apps/\w+\.py)", readme)
    assert sorted(commands) == sorted(f"handout/apps/{p.name}" for p in (folder / "handout" / "apps").glob("*.py")
                                      if p.name != "__init__.py"), commands
    for script in commands:
        assert f"python {script}" in (folder / script).read_text(encoding="utf-8"), f"{script}'s docstring"
        run = subprocess.run([sys.executable, script, "--help"], cwd=folder, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0 and "--data-dir" in run.stdout, run.stderr[-2000:]
