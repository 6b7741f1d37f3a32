"""The Gradescope autograder zip: what it records of what it was built
from, ``--check``, the hidden tests' visibility, and (``-m grading``) the
zip run locally in an /autograder-style layout."""
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import cli, gradescope, handout, key, results, score
from grader.errors import AutograderError
from grader.questions import BY_NAME, COURSE
from grader.results import HIDDEN_SHOWN
from grader.score import Grade, QuestionResult
from tests.bugs import BY_NAME as BUGS, make_submission

KIT = Path(__file__).resolve().parent.parent
ALL, HW2 = COURSE.assignment("all"), COURSE.assignment("hw2")


@pytest.fixture
def sources(tmp_path, monkeypatch) -> dict:
    """What ``gradescope.build`` needs, in ``tmp_path``: an answer key that
    is current (a key.json with the checkout's fingerprint and no tests) and
    an MNIST folder.  Building a real key takes minutes: these tests never do."""
    def no_build(*args, **kwargs):
        pytest.fail("the answer key would be built: these tests must never build one")

    monkeypatch.setattr(key, "build", no_build)
    key_dir, mnist_dir = tmp_path / "key", tmp_path / "mnist"
    key_dir.mkdir()
    mnist_dir.mkdir()
    (key_dir / "key.json").write_text(json.dumps(
        {"format": key.KEY_FORMAT, "fingerprint": key.fingerprint(), "salt": 1, "tests": []}))
    (mnist_dir / "t10k-labels-idx1-ubyte.gz").write_bytes(b"not MNIST, only its name")
    return {"key_dir": key_dir, "mnist_dir": mnist_dir}


def _build(out: Path, sources: dict, visibility: str = "after_due_date") -> Path:
    gradescope.build(out, hidden_visibility=visibility, **sources)
    return out


def _check_message(out: Path, sources: dict, visibility: str = "after_due_date") -> str:
    with pytest.raises(AutograderError) as error:
        gradescope.check(out, hidden_visibility=visibility, **sources)
    return str(error.value)


def _rewrite_built_from(out: Path, edit) -> None:
    """Rewrite ``out`` with its BUILT_FROM.json passed through ``edit``."""
    with zipfile.ZipFile(out) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    data = json.loads(entries[gradescope.BUILT_FROM])
    edit(data)
    entries[gradescope.BUILT_FROM] = json.dumps(data).encode()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=KIT, capture_output=True, text=True)


def _options(sources: dict) -> list:
    return [f"--key-dir={sources['key_dir']}", f"--mnist-dir={sources['mnist_dir']}"]


def test_a_zip_just_built_is_up_to_date(tmp_path, sources):
    out = _build(tmp_path / "autograder.zip", sources, "after_published")
    built = gradescope.check(out, hidden_visibility="after_published", **sources)
    assert built.hidden_visibility == "after_published"
    assert built.key_fingerprint == key.fingerprint()
    assert built.assignment == "all" and set(built.files) == set(gradescope.sources(sources["mnist_dir"], ALL))
    checked = _cli("gradescope", "--check", str(out), "--hidden-visibility", "after_published", *_options(sources))
    assert checked.returncode == 0, checked.stderr
    assert f"{out} is up to date" in checked.stdout


def test_the_zip_ships_its_record_beside_the_grader_and_never_the_reference(tmp_path, sources):
    out = _build(tmp_path / "autograder.zip", sources)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
    assert {gradescope.BUILT_FROM, "run_autograder", "grader/gradescope.py", "key/key.json",
            "data/mnist/t10k-labels-idx1-ubyte.gz"} <= names
    assert not [n for n in names if n.startswith(("reference/", "handout/"))]


def test_an_assignments_zip_grades_it_with_its_part_of_the_key_and_its_released_solutions(tmp_path, sources):
    key_dir = sources["key_dir"]
    data = json.loads((key_dir / "key.json").read_text())
    data["tests"] = [{"nodeid": f"t.py::test_{q}", "suite": "public", "question": q, "hint": "", "values": []}
                     for q in ("forward_ops", "modules")]
    (key_dir / "key.json").write_text(json.dumps(data))
    for question in ("forward_ops", "modules"):
        (key_dir / "public" / question / "records").mkdir(parents=True)
        (key_dir / "public" / question / "records" / "meta.json").write_text("{}")
    out = tmp_path / "hw2.zip"
    gradescope.build(out, hidden_visibility="after_due_date", assignment=HW2, **sources)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        shipped_key = json.loads(archive.read("key/key.json"))
        run_autograder = archive.read("run_autograder").decode()
        carried = {n: archive.read(n).decode() for n in names if n.startswith("carried/")}
    assert [t["question"] for t in shipped_key["tests"]] == ["modules"]
    assert "key/public/modules/records/meta.json" in names
    assert not [n for n in names if "forward_ops" in n and n.startswith(("key/", "tests_"))]
    assert {q.public_tests for q in HW2.questions} <= names and "tests_public/test_topo_sort.py" not in names
    assert carried == {f"carried/hw2/{p}": text for p, text in handout.carried(HW2).items()} and carried
    assert "--assignment hw2" in run_autograder
    assert gradescope.check(out, hidden_visibility="after_due_date", assignment=HW2, **sources).assignment == "hw2"
    message = _check_message(out, sources)
    assert message == (f"{out} is the autograder of assignment hw2, not all: check it with --assignment hw2, or "
                       f"build all's zip under another name"), "no command that would overwrite hw2's zip"


def test_check_says_the_answer_key_changed_and_names_the_reference_file(tmp_path, sources):
    out = _build(tmp_path / "autograder.zip", sources)
    changed = handout.handout_files(KIT / "reference")[0]

    def edit(data):
        data["key_fingerprint"] = "0" * 64
        data["reference"][changed] = "0" * 64

    _rewrite_built_from(out, edit)
    message = _check_message(out, sources)
    assert f"the answer key (reference/ or a suite) changed since {out} was built: reference/{changed}" in message
    assert message.splitlines()[-1] == (f"Run: python -m grader gradescope {out} --hidden-visibility after_due_date "
                                        f"--key-dir {sources['key_dir']} --mnist-dir {sources['mnist_dir']}")
    checked = _cli("gradescope", "--check", str(out), *_options(sources))
    assert checked.returncode == 1 and "the answer key (reference/ or a suite) changed" in checked.stderr


def _build_with_another_digest_for(name: str, out: Path, sources: dict, monkeypatch) -> Path:
    """Build ``out`` as if the kit's file ``name`` had other bytes then."""
    digest = gradescope.file_digest
    monkeypatch.setattr(gradescope, "file_digest", lambda path: "0" * 64 if path == KIT / name else digest(path))
    _build(out, sources)
    monkeypatch.setattr(gradescope, "file_digest", digest)
    return out


@pytest.mark.parametrize("name", ["grader/results.py", "tests_public/__init__.py"])
def test_check_names_the_shipped_file_that_changed_since_the_build(tmp_path, sources, monkeypatch, name):
    out = _build_with_another_digest_for(name, tmp_path / "autograder.zip", sources, monkeypatch)
    message = _check_message(out, sources)
    assert f"the grader's code changed since {out} was built: {name}" in message
    assert "answer key" not in message


def test_check_names_a_changed_suite_as_a_change_of_the_answer_key(tmp_path, sources, monkeypatch):
    out = _build_with_another_digest_for("tests_hidden/test_modules.py", tmp_path / "autograder.zip", sources,
                                         monkeypatch)
    monkeypatch.setattr(key, "fingerprint", lambda: "1" * 64)  # what editing the suite would do to it
    message = _check_message(out, sources)
    assert (f"  the answer key (reference/ or a suite) changed since {out} was built: tests_hidden/test_modules.py"
            in message.splitlines())
    assert "grader's code" not in message


def test_check_says_which_mnist_files_differ(tmp_path, sources):
    out = _build(tmp_path / "autograder.zip", sources)
    (sources["mnist_dir"] / "t10k-labels-idx1-ubyte.gz").write_bytes(b"other bytes")
    assert (f"  the MNIST files in {sources['mnist_dir']} are not the ones {out} ships: "
            f"data/mnist/t10k-labels-idx1-ubyte.gz") in _check_message(out, sources).splitlines()


@pytest.mark.parametrize("field, value, problem", [
    ("salt", 2, "the answer key in {key_dir} was rebuilt since {out} was built (a new salt)"),
    ("fingerprint", "0" * 64, "the answer key in {key_dir} is out of date with reference/ or the suites"),
    (None, None, "there is no answer key in {key_dir}"),
], ids=["rebuilt-with-a-new-salt", "stale-for-the-reference", "missing"])
def test_check_counts_a_cached_key_that_would_change_the_zip_without_building_one(tmp_path, sources, field, value,
                                                                                  problem):
    out = _build(tmp_path / "autograder.zip", sources)
    path = sources["key_dir"] / "key.json"
    if field is None:
        path.unlink()
    else:
        path.write_text(json.dumps({**json.loads(path.read_text()), field: value}))
    assert problem.format(key_dir=sources["key_dir"], out=out) in _check_message(out, sources)


def test_check_compares_the_hidden_visibility_asked_for(tmp_path, sources):
    out = _build(tmp_path / "autograder.zip", sources, "visible")
    message = _check_message(out, sources, "after_due_date")
    assert "built with --hidden-visibility visible, and this command asks for after_due_date" in message
    assert message.splitlines()[-1].endswith(
        f"--hidden-visibility after_due_date --key-dir {sources['key_dir']} --mnist-dir {sources['mnist_dir']}")


@pytest.mark.parametrize("make, why", [
    (lambda path: None, "there is no such file"),
    (lambda path: path.write_text("not a zip"), "it is not a zip file"),
    (lambda path: zipfile.ZipFile(path, "w").close(), "it has no BUILT_FROM.json: it was built by an older grader"),
], ids=["missing", "not-a-zip", "no-record"])
def test_check_of_a_zip_that_records_nothing_says_why(tmp_path, sources, make, why):
    out = tmp_path / "autograder.zip"
    make(out)
    assert f"{out} cannot be checked: {why}." in _check_message(out, sources)


def test_run_autograder_hands_the_hidden_visibility_and_the_assignment_to_grade(tmp_path, sources):
    out = tmp_path / "autograder.zip"
    gradescope.build(out, hidden_visibility="after_published", assignment=HW2, **sources)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(out) as archive:
        archive.extract("run_autograder", root)
    (root / "source").mkdir()
    seen = tmp_path / "seen.json"
    fake_python = tmp_path / "python"
    fake_python.write_text(f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({str(seen)!r}, 'w'))\n")
    fake_python.chmod(0o755)
    run = subprocess.run(["bash", str(root / "run_autograder")], capture_output=True, text=True,
                         env={"AUTOGRADER": str(root), "AUTOGRADER_PYTHON": str(fake_python), "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr
    argv = json.loads(seen.read_text())
    assert argv[:3] == ["-m", "grader", "grade"]
    parsed = cli.parser().parse_args(argv[2:])
    assert (parsed.hidden_visibility, parsed.assignment) == ("after_published", "hw2")


@pytest.mark.parametrize("visibility", HIDDEN_SHOWN)
def test_the_command_line_offers_every_visibility_that_results_know(visibility):
    for verb in ("gradescope", "grade x"):
        args = cli.parser().parse_args([*verb.split(), "--hidden-visibility", visibility])
        assert args.hidden_visibility == visibility


def _result(suite: str, passed: bool, points: float) -> QuestionResult:
    test = score.TestResult(nodeid=f"tests_{suite}/test_forward_ops.py::test_exp", suite=suite,
                            question="forward_ops", hint="exp of each element", passed=passed,
                            score=points if passed else 0.0, max_score=points,
                            reason="" if passed else "wrong value", details="")
    return QuestionResult(BY_NAME["forward_ops"], suite, (test,), "")


@pytest.mark.parametrize("visibility", [v for v in HIDDEN_SHOWN if v != "visible"])
def test_hidden_entries_wait_and_the_overall_output_tells_only_public_points(visibility):
    public, hidden = _result("public", True, 1.0), _result("hidden", False, 3.0)
    data = results.gradescope(Grade((public, hidden)), 1.0, hidden_visibility=visibility)
    assert [(t["name"].split("(")[-1], t["visibility"]) for t in data["tests"]] == [
        ("public tests)", "visible"), ("hidden tests)", visibility)]
    assert data["score"] == public.score + hidden.score
    first = data["output"].splitlines()[0]
    assert first == (f"Public tests: {public.score:.2f} of {public.max_score:g} points. The hidden tests' results "
                     f"are shown {HIDDEN_SHOWN[visibility]}.")
    assert f"{public.max_score + hidden.max_score:g}" not in data["output"]


def test_visible_hidden_entries_keep_the_whole_score_in_the_overall_output():
    public, hidden = _result("public", True, 1.0), _result("hidden", False, 3.0)
    data = results.gradescope(Grade((public, hidden)), 1.0, hidden_visibility="visible")
    assert {t["visibility"] for t in data["tests"]} == {"visible"}
    assert data["output"].startswith(f"Score {public.score:.2f} of {public.max_score + hidden.max_score:g}.")


@pytest.fixture(scope="module")
def autograder(tmp_path_factory, answer_key, mnist_dir) -> Path:
    """hw2's zip (which carries hw1's released solutions) unpacked as
    Gradescope does: /autograder/source and /autograder/run_autograder."""
    root = tmp_path_factory.mktemp("autograder")
    archive = root / "autograder.zip"
    built = subprocess.run(
        [sys.executable, "-m", "grader", "gradescope", str(archive), "--assignment", "hw2",
         f"--key-dir={answer_key}", f"--mnist-dir={mnist_dir}"],
        cwd=KIT, capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        assert {"setup.sh", "run_autograder", "grader/cli.py", "key/key.json", "tests_hidden/test_modules.py",
                "carried/hw2/needle/autograd.py"} <= set(names)
        assert "tests_hidden/test_topo_sort.py" not in names
        assert not [n for n in names if n.startswith(("reference/", "handout/"))], "the reference is not shipped"
        z.extractall(root / "source")
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    return root


# A hw1 bug that breaks hw2's norm layers: hw2's zip grades with hw1's released solutions instead.
HW1_BUG = "power_scalar_multiplies"


@pytest.mark.grading
@pytest.mark.parametrize("implementation, full_marks", [("reference_with_a_hw1_bug", True), ("handout", False)])
def test_run_autograder_writes_results_for_a_submission(autograder, implementation, full_marks):
    submission = autograder / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(autograder / "results", ignore_errors=True)
    if implementation == "handout":
        for folder in ("needle", "apps"):
            shutil.copytree(KIT / implementation / folder, submission / folder)
    else:
        make_submission(BUGS[HW1_BUG], submission)
    run = subprocess.run(
        ["bash", str(autograder / "run_autograder")],
        env={"AUTOGRADER": str(autograder), "AUTOGRADER_PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert {t["name"].split(":")[0] for t in results["tests"]} == {q.name for q in HW2.questions}
    if full_marks:
        assert results["score"] == pytest.approx(100), results["output"]
    else:
        assert results["score"] == 0, results["output"]
        assert any("NotImplementedError" in t["output"] for t in results["tests"])
