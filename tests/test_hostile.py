"""The gallery of hostile submissions (tests/hostile.py), each graded end to
end through ``python -m grader grade``: cheats score no more than the
untouched handout (0 everywhere), misbehaving code costs only the questions
it misbehaves in, ungradable submissions get 0 and what to fix, and every
grading ends with valid results, the sandbox's walls reported, and no
process left behind.

The gallery is graded two submissions at a time, as soon as the key is
built; the gradings that must hang use the public suite and a short
--timeout, so that each hang costs seconds.
"""
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.questions import COURSE, QUESTIONS, TOTAL_POINTS
from tests.grading import KIT, check_gradescope_format, grade_with_cli
from tests.hostile import BY_NAME, GALLERY, SECOND_CLONES, git_thief, hard_coded_public_outputs, hidden_source_lines
from tests.hostile import thief
from tests.hostile import _with_init, SWAPPED_HELPERS

pytestmark = pytest.mark.grading

GRADABLE = [h for h in GALLERY if h.kind != "ungradable"]


def _ids(kind):
    return [h.name for h in GALLERY if h.kind == kind]


@pytest.fixture(scope="session")
def gallery_temp(tmp_path_factory) -> Path:
    """The gallery's gradings' temporary folder: what is in it is theirs."""
    return tmp_path_factory.mktemp("gallery-temp")


def _wanted(session) -> set:
    """The entries that the selected tests read: all of them when a test reads the whole gallery."""
    names = set()
    for item in session.items:
        if "gallery" in getattr(item, "fixturenames", ()):
            params = getattr(getattr(item, "callspec", None), "params", {})
            if "name" not in params:
                return {h.name for h in GALLERY}
            names.add(params["name"])
    return names


@pytest.fixture(scope="session")
def gallery(request, answer_key, mnist_dir, tmp_path_factory, gallery_temp):
    """Name to the future of its grading, for the entries the selected tests read."""
    pool = ThreadPoolExecutor(max_workers=2)
    wanted = _wanted(request.session)

    def grade(hostile):
        folder = tmp_path_factory.mktemp(hostile.name)
        extra = (("--timeout", hostile.timeout) if hostile.timeout else ()) + ("--assignment", hostile.assignment)
        return grade_with_cli(hostile.make(folder), folder / "results.json", suites=hostile.suites,
                              key_dir=answer_key, mnist_dir=mnist_dir, extra=extra, temp=gallery_temp)

    futures = {h.name: pool.submit(grade, h) for h in GALLERY if h.name in wanted}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)
    for clone in SECOND_CLONES.glob("needle-kit-clone-*"):
        shutil.rmtree(clone)


def _outputs(graded, questions=None):
    return "\n".join(t["output"] for t in graded.data["tests"]
                     if questions is None or t["name"].split(":", 1)[0] in questions)


@pytest.mark.parametrize("name", [h.name for h in GALLERY])
def test_hostile_submission_gets_valid_results_and_no_more_than_full_marks(gallery, name):
    graded = gallery[name].result()
    check_gradescope_format(graded.data)
    assert graded.data["score"] <= TOTAL_POINTS


@pytest.mark.parametrize("name", _ids("cheat"))
def test_cheat_scores_no_more_than_the_untouched_handout(gallery, name):
    graded = gallery[name].result()
    assert graded.data["tests"], graded.data["output"]
    assert graded.by_question() == {q.name: 0.0 for q in QUESTIONS}, graded.data["output"]
    for phrase in BY_NAME[name].says:
        assert phrase in _outputs(graded), f"{phrase!r} not in the results"


@pytest.mark.parametrize("name", _ids("local"))
def test_misbehaviour_costs_only_the_questions_it_touches(gallery, name):
    hostile, graded = BY_NAME[name], gallery[name].result()
    points = graded.by_question()
    untouched = {q.name: q.points for q in COURSE.assignment(hostile.assignment).questions
                 if q.name not in hostile.touches}
    assert {q: points[q] for q in untouched} == pytest.approx(untouched), graded.data["output"]
    touched = _outputs(graded, hostile.touches)
    for phrase in hostile.says:
        assert phrase in touched, f"{phrase!r} not in the results of {hostile.touches}:\n{touched[:3000]}"


@pytest.mark.parametrize("name", _ids("ungradable"))
def test_ungradable_submission_gets_zero_and_says_what_to_fix(gallery, name):
    graded = gallery[name].result()
    assert graded.data["score"] == 0 and graded.data["tests"] == []
    output = graded.data["output"]
    assert output.startswith("Your submission could not be graded"), output
    for phrase in BY_NAME[name].says:
        assert phrase in output, f"{phrase!r} not in the output:\n{output}"
    assert "Traceback" not in output
    assert "could not be graded" in graded.process.stdout


@pytest.mark.parametrize("name", [h.name for h in GRADABLE])
def test_results_report_the_sandboxs_walls(gallery, name):
    isolation = gallery[name].result().data["extra_data"]["isolation"]
    assert isolation["filesystem"] == "only what the run needs (bubblewrap)", isolation
    assert isolation["network"] == "none", isolation
    assert isolation["processes"] == "own PID namespace", isolation
    assert isolation["keyrings"] == "refused", isolation
    assert isolation["private_files"] == "unreadable", isolation
    expected_user = "separate unprivileged uid" if os.geteuid() == 0 else "the grader's user, in a user namespace"
    assert isolation["user"] == expected_user, isolation


@pytest.mark.parametrize("make, finds", [
    (thief, [f"thief: found the reference at {KIT / 'reference'}", "thief: found the answer key at"]),
    (git_thief, [f"git thief: took the reference from {KIT / '.git'}"]),
], ids=["thief", "git-thief"])
def test_thieves_find_what_they_look_for_without_the_sandbox(answer_key, tmp_path, make, finds):
    """Each thief's search works: run plainly from the kit's folder, it
    finds its loot (so its 0 above is the sandbox's doing)."""
    root = make(tmp_path)
    found = subprocess.run([sys.executable, "-c", "import needle"], cwd=KIT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": str(root)}, timeout=300)
    for line in finds:
        assert line in found.stderr, found.stderr[-2000:]


def test_endless_loop_in_find_topo_sort_is_graded_within_ten_minutes(gallery):
    graded = gallery["endless_loop_in_find_topo_sort"].result()
    assert graded.data["execution_time"] < 600, graded.data["execution_time"]


def test_no_file_outlives_its_grading(gallery):
    for future in gallery.values():
        future.result()
    left = [p for folder in ("/tmp", "/var/tmp", "/dev/shm") for p in Path(folder).glob("needle-left-*")]
    assert left == []


def test_thief_finds_nothing_when_an_ordinary_user_grades(answer_key, mnist_dir, tmp_path):
    """Run by a user other than root (here: uid 1000 in a user namespace),
    the grader cannot give student code a uid of its own: the sandbox's
    user namespace still keeps the reference and the key out of its reach."""
    submission = thief(tmp_path)
    out = tmp_path / "results.json"
    graded = subprocess.run(
        ["unshare", "--user", "--map-user=1000", "--map-group=1000", sys.executable, "-m", "grader", "grade",
         submission, "--out", out, "--suites", "public", "--key-dir", answer_key, "--mnist-dir", mnist_dir],
        cwd=KIT, capture_output=True, text=True, timeout=900,
    )
    assert graded.returncode == 0, graded.stderr[-3000:]
    data = json.loads(out.read_text())
    check_gradescope_format(data)
    assert data["score"] == 0, data["output"]
    isolation = data["extra_data"]["isolation"]
    assert isolation["user"] == "the grader's user, in a user namespace", isolation
    assert isolation["filesystem"] == "only what the run needs (bubblewrap)", isolation
    assert isolation["private_files"] == "unreadable", isolation


def test_no_process_or_folder_outlives_its_grading(gallery, gallery_temp):
    """Every process of the gallery's gradings names its box, in the
    gallery's own temporary folder (other gradings on the machine are not
    this test's business)."""
    for future in gallery.values():
        future.result()
    left = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(gallery_temp) in command:
            left.append(f"{proc.name}: {command[:200]}")
    assert not left, "processes of finished gradings still run:\n" + "\n".join(left[:10])
    assert list(gallery_temp.iterdir()) == []


def test_archive_entries_land_nowhere_outside(gallery, tmp_path_factory):
    for name in ("zip_with_dotdot", "tar_with_absolute_path"):
        gallery[name].result()
    assert not list(Path("/tmp").glob(f"needle-escape-{os.getpid()}.py"))
    assert not list(tmp_path_factory.getbasetemp().rglob("escaped.py"))


@pytest.mark.parametrize("make", [hard_coded_public_outputs, _with_init("handout", SWAPPED_HELPERS)],
                         ids=["hard_coded_public_outputs", "swapped_record_helpers"])
def test_forgeries_pass_where_the_box_would_hold_answers(make, tmp_path, mnist_dir):
    """The same forgeries pass most public tests in a student's local run,
    where the values files are at hand: their 0 in grading is the design's
    doing, not a broken forgery."""
    root = make(tmp_path)
    report = tmp_path / "report.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests_public/test_forward_ops.py", "tests_public/test_backward_ops.py",
         "-q", "-p", "no:cacheprovider", f"--needle-root={root}", f"--mnist-dir={mnist_dir}",
         "--json-report", f"--json-report-file={report}", "--json-report-omit", "log"],
        cwd=KIT, capture_output=True, text=True, timeout=600,
    )
    tests = json.loads(report.read_text())["tests"]
    passed = sum(t["outcome"] == "passed" for t in tests)
    assert passed >= 0.8 * len(tests), f"only {passed} of {len(tests)} public tests passed locally"


@pytest.mark.parametrize("name", ["exfiltrates_hidden_tests", "keyring_channel"])
def test_hidden_tests_source_never_reaches_the_results(gallery, name):
    text = json.dumps(gallery[name].result().data)
    lines = hidden_source_lines()
    assert len(lines) > 100, "the hidden suite should have code to protect"
    leaked = [line for line in lines if line in text]
    assert not leaked, f"{len(leaked)} lines of the hidden tests' code reached results.json: {leaked[:5]}"
