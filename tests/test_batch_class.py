"""Batch's handling of a class, graded in-process with the grading itself
faked (each student's points are written down in its submission): naming,
rows and statuses, the roster and the gradebook export, reruns, progress.
The real gradings are tests/test_batch.py's."""
import csv
import io
import json
import tempfile
import threading
import types
from pathlib import Path

import pytest

from grader import batch, handout, results, submission
from grader.errors import GraderError, SubmissionError
from grader.questions import QUESTIONS
from tests.hostile import CLASS_GALLERY

KEY = types.SimpleNamespace(fingerprint="key-1", tests=())


def _graded(points: float) -> dict:
    """results.json of a grading that gave ``points`` to the first question."""
    first = QUESTIONS[0]
    tests = [{"name": f"{first.name}: {first.title} (public tests)", "number": "1.1", "score": points,
              "max_score": first.points, "status": "passed", "visibility": "visible", "output": ""}]
    return {"score": points, "execution_time": 2.0, "output": f"Score {points}", "tests": tests,
            "extra_data": {"failed": ["public:tests_public/test_forward_ops.py::test_exp"]}}


@pytest.fixture
def graded_log(monkeypatch):
    """Fakes grade.grade: a submission's points are the number in its
    points.txt ("crash" raises); returns the names graded, in order."""
    log = []

    def fake_grade(path, out, *, assignment, **_):
        log.append(path.name)
        try:  # unpacked as a grading does: what it refuses is ungradable
            with tempfile.TemporaryDirectory() as work:
                submission.prepare(path, Path(work))
        except SubmissionError as error:
            data = results.gradescope(None, 0.0, error=str(error))
        else:
            text = (path / "points.txt").read_text() if (path / "points.txt").is_file() else "1"
            if text == "crash":
                raise RuntimeError("a bug in the grader")
            data = _graded(float(text))
        data["extra_data"]["assignment"] = assignment  # as grade.grade says what it grades
        out.write_text(json.dumps(data))
        return data

    monkeypatch.setattr(batch.grade, "grade", fake_grade)
    return log


def _student(folder: Path, name: str, points="3") -> Path:
    """A submission that unpacks (needle/ and apps/) and the points it gets."""
    for part in ("needle", "apps"):
        (folder / name / part).mkdir(parents=True)
    (folder / name / "needle" / "__init__.py").write_text("")
    (folder / name / "points.txt").write_text(str(points))
    return folder / name


def _run(class_dir, out, **options):
    return batch.batch(class_dir, out, key=KEY, suites=("public",), mnist_dir=Path("."), **options)


def _rows(out: Path) -> dict:
    with (out / "scores.csv").open(newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def test_batch_names_each_entry_by_its_whole_file_name_less_the_archive_extension(tmp_path):
    for name in ("smith.jane.zip", "smith.john.zip", "j.doe.zip", "kim.ZIP", "park.tar", "sam.tgz", "tom.Tar.Gz",
                 "lee.rar", ".DS_Store", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "alice").mkdir()
    found = {e.name: e for e in batch.entries(tmp_path)}
    assert sorted(found) == ["alice", "j.doe", "kim", "lee.rar", "notes.txt", "park", "sam", "smith.jane",
                             "smith.john", "tom"]
    assert found["lee.rar"].problem.startswith("lee.rar is neither a folder nor an archive")
    assert not any(found[n].problem for n in found if n not in ("lee.rar", "notes.txt"))


@pytest.mark.parametrize("names", [("alice", "alice.zip"), ("bob.zip", "bob.tar.gz"), ("eve.ZIP", "eve.zip")],
                         ids=["folder-and-archive", "two-archives", "two-cases"])
def test_batch_refuses_entries_that_would_share_a_name_and_names_both(tmp_path, names):
    for name in names:
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).write_text("x")
    with pytest.raises(GraderError) as error:
        batch.entries(tmp_path)
    assert all(name in str(error.value) for name in names), error.value


def test_batch_on_a_file_or_missing_folder_says_what_it_grades(tmp_path):
    (tmp_path / "class.zip").write_text("x")
    for path in (tmp_path / "class.zip", tmp_path / "nothing"):
        with pytest.raises(GraderError, match="is not a folder: a class is a folder holding one folder"):
            batch.entries(path)


def test_batch_gives_every_entry_one_row_with_its_status(tmp_path, graded_log):
    class_dir = tmp_path / "class"
    _student(class_dir, "smith.jane", 3)
    _student(class_dir, "smith.john", 5)
    _student(class_dir, "bug", "crash")
    (class_dir / "lee.rar").write_text("x")
    out = class_dir / "results"  # inside the class folder: not a student
    text = _run(class_dir, out)
    rows = _rows(out)
    assert {n: (r["status"], float(r["total"])) for n, r in rows.items()} == {
        "smith.jane": ("graded", 3.0), "smith.john": ("graded", 5.0), "bug": ("crashed", 0.0),
        "lee.rar": ("ungradable", 0.0)}
    assert "4 students: 1 crashed, 2 graded, 1 ungradable" in text
    assert "ungradable: lee.rar (0 points): lee.rar is neither a folder nor an archive" in text
    assert "crashed: bug (the grader failed: rerun the same command)" in text
    assert "a bug in the grader" in json.loads((out / "bug.json").read_text())["extra_data"]["crashed"]
    assert (out / "report.html").is_file() and (out / "summary.txt").read_text().strip() == text


def test_batch_reruns_reuse_only_current_results_never_a_crash(tmp_path, graded_log, monkeypatch):
    class_dir = tmp_path / "class"
    for name in ("ada", "bob"):
        _student(class_dir, name)
    _student(class_dir, "bug", "crash")
    out = tmp_path / "out"
    _run(class_dir, out)
    assert sorted(graded_log) == ["ada", "bob", "bug"]
    graded_log.clear()
    _run(class_dir, out)
    assert graded_log == ["bug"], "only the crashed result is regraded"
    (class_dir / "bob" / "points.txt").write_text("4")
    graded_log.clear()
    _run(class_dir, out)
    assert sorted(graded_log) == ["bob", "bug"], "a changed submission is regraded"
    monkeypatch.setattr(batch, "_grader_source", lambda: "the grader changed")
    graded_log.clear()
    _run(class_dir, out)
    assert sorted(graded_log) == ["ada", "bob", "bug"], "a grader change regrades everyone"
    graded_log.clear()
    _run(class_dir, out, force=True)
    assert sorted(graded_log) == ["ada", "bob", "bug"]


def test_batch_only_regrades_the_named_students_and_keeps_the_others(tmp_path, graded_log):
    class_dir = tmp_path / "class"
    for name in ("ada", "bob", "cy"):
        _student(class_dir, name)
    out = tmp_path / "out"
    _run(class_dir, out, only=["bob"])
    assert graded_log == ["bob"]
    rows = _rows(out)
    assert rows["bob"]["status"] == "graded" and rows["ada"]["status"] == rows["cy"]["status"] == "stopped"
    _run(class_dir, out)
    graded_log.clear()
    (class_dir / "ada" / "points.txt").write_text("9")  # changed, but not named: kept as it was
    _run(class_dir, out, only=["bob", "cy"])
    assert sorted(graded_log) == ["bob", "cy"], "named students are regraded even when unchanged"
    assert float(_rows(out)["ada"]["total"]) == 3.0
    with pytest.raises(GraderError, match="--only names no entry of .*: zed"):
        _run(class_dir, out, only=["zed"])


def test_batch_roster_adds_students_lists_the_missing_and_writes_canvas_gradebook(tmp_path, graded_log):
    class_dir = tmp_path / "class"
    _student(class_dir, "jdoe", 7)
    _student(class_dir, "stranger", 2)
    _student(class_dir, "bug", "crash")
    roster = tmp_path / "roster.csv"
    roster.write_text("submission,id,sis_user_id,sis_login_id,name,email,section\n"
                      "jdoe,101,S1,jdoe,\"Doe, Jane\",jdoe@uni.edu,A\n"
                      "bug,102,S2,bbug,Bug Bunny,bb@uni.edu,A\n"
                      "absent,103,S3,abs,Al Absent,al@uni.edu,B\n", encoding="utf-8")
    out = tmp_path / "out"
    text = _run(class_dir, out, roster=roster, gradebook_column="HW1 (autograded)")
    rows = _rows(out)
    assert rows["jdoe"]["email"] == "jdoe@uni.edu" and rows["jdoe"]["name"] == "Doe, Jane"
    assert rows["absent"]["status"] == "missing" and float(rows["absent"]["total"]) == 0
    assert rows["stranger"]["id"] == ""
    with (out / "gradebook.csv").open(newline="") as f:
        book = list(csv.reader(f))
    assert book[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "HW1 (autograded)"]
    assert sorted(book[1:]) == [["Al Absent", "103", "S3", "abs", "B", "0.0"],
                        ["Bug Bunny", "102", "S2", "bbug", "A", ""],  # the grader's failure: no score yet
                        ["Doe, Jane", "101", "S1", "jdoe", "A", "7.0"]]
    assert "missing: absent (on the roster, nothing submitted)" in text
    assert "not on the roster (left out of the gradebook export): stranger" in text


@pytest.mark.parametrize("roster_text, message", [
    ("name,email\nJane,j@x\n", "has no 'submission' column (its columns: name, email)"),
    ("submission,name\njdoe,Jane\njdoe,John\n", ":3: the submission 'jdoe' is on the roster twice"),
], ids=["no-submission-column", "duplicate"])
def test_batch_roster_errors_name_the_file_and_line(tmp_path, roster_text, message):
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_text, encoding="utf-8")
    with pytest.raises(GraderError, match=message.replace("(", r"\(").replace(")", r"\)")):
        batch.read_roster(roster)


def test_batch_progress_prints_one_line_per_student_when_not_on_a_terminal(tmp_path, graded_log):
    class_dir = tmp_path / "class"
    for name in ("ada", "bob"):
        _student(class_dir, name)
    stream = io.StringIO()
    _run(class_dir, tmp_path / "out", progress=batch.Progress(stream))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[1/2] ada: 3.00 (graded, 2 s); about ") and lines[0].endswith(" min left")
    assert lines[1] == "[2/2] bob: 3.00 (graded, 2 s)"


@pytest.mark.parametrize("hostile", CLASS_GALLERY, ids=[h.name for h in CLASS_GALLERY])
def test_batch_gives_a_hostile_entry_its_row_and_finishes(tmp_path, remove_deep_trees, graded_log, hostile):
    class_dir = tmp_path / "class"
    _student(class_dir, "ada", 4)
    hostile.make(class_dir)
    out = tmp_path / "out"
    done = {}
    worker = threading.Thread(target=lambda: done.update(text=_run(class_dir, out)), daemon=True)
    worker.start()
    worker.join(60)
    assert "text" in done, f"batch did not finish within 60 s ({hostile.why})"
    rows = _rows(out)
    assert len(rows) == 2 and rows["ada"]["status"] == "graded" and float(rows["ada"]["total"]) == 4.0, rows
    student = next(name for name in rows if name != "ada")
    name = student.removeprefix("'")  # a name that starts like a formula is quoted in the CSV
    assert name == hostile.student or hostile.student is None and len(name.encode()) <= batch.MAX_NAME, name
    data = json.loads((out / f"{name}.json").read_text())
    if hostile.says:
        assert rows[student]["status"] == "ungradable" and hostile.says in data["output"], data["output"]
    else:
        assert rows[student]["status"] == "graded", data["output"]
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "<img src=x" not in page and "<script>alert" not in page
    assert all(c.isprintable() or c in "\n" for c in done["text"]), done["text"]


@pytest.mark.parametrize("names", [("Jose\u0301", "Jos\u00e9"), ("ALICE", "alice.zip")], ids=["nfd-nfc", "case"])
def test_batch_refuses_names_that_look_the_same_to_some_file_systems(tmp_path, names):
    for name in names:
        (tmp_path / name).mkdir() if "." not in name else (tmp_path / name).write_text("x")
    with pytest.raises(GraderError, match="would share a student name"):
        batch.entries(tmp_path)


def test_batch_regrades_a_folder_that_only_gained_an_empty_folder(tmp_path, graded_log):
    class_dir = tmp_path / "class"
    _student(class_dir, "ada")
    _run(class_dir, tmp_path / "out")
    (class_dir / "ada" / "apps" / "data").mkdir()
    graded_log.clear()
    _run(class_dir, tmp_path / "out")
    assert graded_log == ["ada"]


def test_a_points_edit_in_the_course_file_regrades_the_class(tmp_path, monkeypatch):
    """batch reuses a result only while the grader is the same: the course's
    points are part of it, though the key does not depend on them."""
    from grader import batch, course

    copy = tmp_path / "course.toml"
    copy.write_text(course.COURSE_FILE.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(course, "COURSE_FILE", copy)
    batch._grader_source.cache_clear()  # cached for a batch's run
    before = batch._grader_source()
    copy.write_text(copy.read_text(encoding="utf-8").replace("forward_ops = 15, backward_ops = 15",
                                                             "forward_ops = 20, backward_ops = 10"), encoding="utf-8")
    batch._grader_source.cache_clear()
    assert batch._grader_source() != before
    batch._grader_source.cache_clear()


def test_batch_of_an_assignment_grades_and_tabulates_its_questions_only(tmp_path, monkeypatch):
    from grader.questions import COURSE

    hw1, hw2 = COURSE.assignment("hw1"), COURSE.assignment("hw2")
    seen = []

    def fake_grade(path, out, *, questions, carried, assignment, **_):
        seen.append(([q.name for q in questions], sorted(carried)))
        data = _graded(3.0)
        data["extra_data"]["assignment"] = assignment
        out.write_text(json.dumps(data))
        return data

    monkeypatch.setattr(batch.grade, "grade", fake_grade)
    class_dir = tmp_path / "class"
    _student(class_dir, "ada")
    text = _run(class_dir, tmp_path / "out", assignment=hw1)
    assert seen == [([q.name for q in hw1.questions], [])]
    with (tmp_path / "out" / "scores.csv").open(newline="") as f:
        assert next(csv.reader(f)) == ["student", "status", "total", *[q.name for q in hw1.questions]]
    assert "modules" not in text and "forward_ops" in text
    _run(class_dir, tmp_path / "out", assignment=hw1)
    assert len(seen) == 1, "a current result is reused"
    _run(class_dir, tmp_path / "out", assignment=hw2)
    assert seen[1] == ([q.name for q in hw2.questions], sorted(handout.carried(hw2))), "another assignment regrades"


def test_batch_only_never_keeps_a_result_graded_for_another_assignment(tmp_path, graded_log):
    from grader.questions import COURSE

    class_dir, out = tmp_path / "class", tmp_path / "out"
    for name in ("ada", "bob"):
        _student(class_dir, name, 7)
    _run(class_dir, out, assignment=COURSE.assignment("hw1"))
    _run(class_dir, out, assignment=COURSE.assignment("hw2"), only=["bob"])
    rows = _rows(out)
    assert rows["bob"]["status"] == "graded" and rows["ada"]["status"] == "stopped", rows
    assert float(rows["ada"]["total"]) == 0.0
    assert json.loads((out / "ada.json").read_text())["extra_data"]["assignment"] == "hw1", "hw1's result is kept"
    assert "stopped: ada (rerun the same command): not graded for hw2: the stored result is hw1's; " \
           "grade it with --only ada" in (out / "summary.txt").read_text()


def test_batch_only_never_keeps_a_result_that_names_no_assignment(tmp_path, graded_log):
    """A results file that says nothing of what it grades (a stopped
    grading's placeholder, or one written before assignments) is not kept."""
    class_dir, out = tmp_path / "class", tmp_path / "out"
    for name in ("ada", "bob"):
        _student(class_dir, name, 7)
    out.mkdir()
    (out / "ada.json").write_text(json.dumps(_graded(7.0)))
    _run(class_dir, out, only=["bob"])
    assert _rows(out)["ada"]["status"] == "stopped"
    assert "the stored result is of no known assignment; grade it with --only ada" in (out / "summary.txt").read_text()
