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
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from grader.key import load
from grader.questions import COURSE, QUESTIONS, TOTAL_POINTS
from grader.results import points_by_question
from grader.score import _hidden_reason
from tests.grading import KIT, check_gradescope_format, grade_with_cli, run_grader
from tests.hostile import BY_NAME, GALLERY, SECOND_CLONES, git_thief, hard_coded_public_outputs, hidden_source_lines
from tests.hostile import thief
from tests.hostile import INOTIFY_CHANNEL, LOCK_CHANNEL, colluding_class, kinds_shown, secret_windows, spelled_out
from tests.hostile import PAGE_CACHE_CHANNEL, alices_parse_mnist, page_cache_class
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
    assert isolation["shared_objects"].startswith("refused ("), isolation
    if os.geteuid() == 0:  # root with a writable cgroup tree and mounts, as in CI
        assert isolation["run_limits"].startswith("whole run (cgroup v"), isolation
        assert isolation["page_cache"].startswith("dropped before the first run"), isolation
        assert isolation["disk"] == "writable folders capped as a whole (a tmpfs of their own)", isolation
    else:
        assert isolation["run_limits"].startswith("per process only"), isolation
        assert isolation["disk"].startswith("per file only"), isolation
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


@pytest.mark.parametrize("name", [h.name for h in GALLERY if "bomb" in h.name and h.kind == "ungradable"])
def test_compression_bomb_is_refused_within_a_budget_of_60_seconds(name, answer_key, mnist_dir, tmp_path):
    """`grade --budget 60` ends within 75 s with valid results, whatever the
    archive: its unpacking counts against the budget (an acceptance bound,
    not a benchmark: bench/ measures speed)."""
    submission = BY_NAME[name].make(tmp_path)
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "results.json"
    started = time.monotonic()
    graded = run_grader("grade", submission, "--out", out, "--suites", "public", "--key-dir", answer_key,
                        "--mnist-dir", mnist_dir, "--budget", 60, timeout=150, temp=temp)
    took = time.monotonic() - started
    assert graded.returncode == 0, graded.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    check_gradescope_format(data)
    assert data["score"] == 0 and data["output"].startswith("Your submission could not be graded"), data["output"]
    assert took < 75, f"{name}: graded in {took:.1f} s with --budget 60"
    assert list(temp.iterdir()) == []


@pytest.mark.parametrize("name", ["quadratic_pattern_bait", "progress_flood"])
def test_text_made_to_slow_the_grader_is_graded_within_a_budget_of_60_seconds(answer_key, mnist_dir, tmp_path, name):
    """`grade --budget 60` of both suites ends within 75 s with valid
    results, however the failures' text is made to make the grader backtrack
    or the runs' outcomes to make it parse (an acceptance bound, not a
    benchmark: tests/test_untrusted_text.py checks that the text is handled
    in linear time)."""
    submission = BY_NAME[name].make(tmp_path)
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "results.json"
    started = time.monotonic()
    graded = run_grader("grade", submission, "--out", out, "--key-dir", answer_key, "--mnist-dir", mnist_dir,
                        "--budget", 60, timeout=300, temp=temp)
    took = time.monotonic() - started
    assert graded.returncode == 0, graded.stderr[-3000:]
    data = json.loads(out.read_text(encoding="utf-8"))
    check_gradescope_format(data)
    assert data["score"] == 0 and data["tests"], data["output"]
    assert took < 75, f"graded in {took:.1f} s with --budget 60"


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


# --- channels between runs that overlap in time (issue 24) ---------------------
# Each channel's case above scores 0 and carries nothing; below, each carries
# its message between two plain processes (so that the 0 is the walls'
# doing), and a class of two colluding students gets nothing from batch.

CHANNELS = ["lock_channel", "inotify_channel", "kind_picking_hidden_runs", "keyring_channel",
            "exfiltrates_hidden_tests", "page_cache_channel"]
HIDDEN_FILE, PUBLIC_FILE = "tests_hidden/test_topo_sort.py", "tests_public/test_topo_sort.py"


@pytest.fixture(scope="session")
def secrets(answer_key):
    windows = secret_windows(answer_key)
    assert len(windows.windows) > 10_000, "the hidden suite should have source to protect"
    return windows


def _proof_env(**extra) -> dict:
    # Offsets and files of their own, and time enough to hold or listen on a busy machine.
    return {**os.environ, "NEEDLE_CHANNEL_TAG": f"proof-{uuid.uuid4().hex}", "NEEDLE_CHANNEL_SECONDS": "120",
            **extra}


@contextlib.contextmanager
def _started(command, env, ready: str, cwd=KIT):
    """``command`` running, once it printed ``ready`` on stderr (its end of
    the channel is in place); killed afterwards if it still runs."""
    with subprocess.Popen(command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        watchdog = threading.Timer(300, process.kill)  # an end that never gets ready must not hang the session
        watchdog.start()
        try:
            got_ready = any(ready in line for line in process.stderr)
            watchdog.cancel()
            if not got_ready:
                pytest.fail(f"{command[:2]} ended before {ready!r}")
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def test_lock_channel_carries_a_hidden_test_file_without_the_sandbox():
    """Run plainly, a hidden run's locks carry its test file whole to a
    public run (so that lock_channel's 0 above is the walls' doing)."""
    env = _proof_env()
    with _started([sys.executable, "-c", LOCK_CHANNEL, HIDDEN_FILE], env, "lock channel: sent"):
        public = subprocess.run([sys.executable, "-c", LOCK_CHANNEL + "\nprint(_REPORT)", PUBLIC_FILE], cwd=KIT,
                                env=env, capture_output=True, text=True, timeout=300)
    assert (KIT / HIDDEN_FILE).read_text(encoding="utf-8") in public.stdout, public.stdout[-2000:] + public.stderr


def test_inotify_channel_carries_a_hidden_test_files_first_bytes_without_the_sandbox():
    """Run plainly, a hidden run's opens carry its test file's first 160
    bytes to a public run that watches (so that inotify_channel's 0 above is
    the walls' doing)."""
    env = _proof_env()
    with _started([sys.executable, "-c", INOTIFY_CHANNEL + "\nprint(_REPORT)", PUBLIC_FILE], env,
                  "inotify channel: watching") as public:
        subprocess.run([sys.executable, "-c", INOTIFY_CHANNEL, HIDDEN_FILE], cwd=KIT, env=env, check=True,
                       timeout=300)
        received, _ = public.communicate(timeout=300)
    first = (KIT / HIDDEN_FILE).read_bytes()[:160].decode()
    assert f"inotify channel received {HIDDEN_FILE}\n{first}" in received, received[-2000:]


def test_page_cache_channel_carries_a_hidden_test_file_without_the_sandbox(secrets):
    """Run plainly, the hidden run of topo_sort leaves files cached and
    evicted that spell its test file, and a public run started after it
    ended reads them back: some 400 bytes of the file, hidden source among
    them (so that page_cache_channel's 0 above, and the next grading's
    below, are the walls' doing)."""
    env = _proof_env()
    for _ in range(3):  # a grading that starts meanwhile (the gallery's) drops the cache
        subprocess.run([sys.executable, "-c", PAGE_CACHE_CHANNEL, HIDDEN_FILE], cwd=KIT, env=env, check=True,
                       capture_output=True, timeout=300)
        public = subprocess.run([sys.executable, "-c", PAGE_CACHE_CHANNEL + "\nprint(_REPORT)", PUBLIC_FILE],
                                cwd=KIT, env=env, capture_output=True, text=True, timeout=300)
        if "page cache channel received" in public.stdout:
            break
    head, _, received = public.stdout.partition(":\n")
    assert head.startswith(f"page cache channel received {HIDDEN_FILE}"), public.stdout[-2000:] + public.stderr
    received = received[:-1]  # print's newline
    assert len(received) > 300 and (KIT / HIDDEN_FILE).read_text(encoding="utf-8").startswith(received), received
    assert secrets.leaked(received), received


def test_collusion_through_the_page_cache_runs_alices_parse_mnist_as_bobs_without_the_sandbox(tmp_path):
    """Run plainly after alice's needle was imported (and the process
    ended), bob's handout runs her parse_mnist, and says so in its errors
    (so that bob's 0 in batch below is the walls' doing)."""
    classroom = page_cache_class(tmp_path / "class")
    env = _proof_env()
    calls = ("import simple_ml\n"
             "try:\n"
             "    simple_ml.parse_mnist('/nowhere/images.gz', '/nowhere/labels.gz')\n"
             "except Exception as error:\n"
             "    print(type(error.__cause__).__name__, error, sep='\\n')")

    def run(name, code):
        root = classroom / name
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                              timeout=300, env={**env, "PYTHONPATH": f"{root}:{root / 'apps'}"})

    alone = run("bob", calls)
    assert alone.stdout.startswith("NoneType\npage cache channel: nothing received ("), alone.stdout + alone.stderr
    for _ in range(3):  # a grading that starts meanwhile (the gallery's) drops the cache
        sent = run("alice", "import needle")
        assert "page cache channel: sent alice's parse_mnist" in sent.stderr, sent.stderr[-2000:]
        helped = run("bob", calls)
        if "running alice's parse_mnist" in helped.stderr:
            break
    assert "running alice's parse_mnist" in helped.stderr, helped.stderr[-2000:]
    # hers looks for the files (the handout's raises TODO), and bob's errors show it
    assert helped.stdout.startswith("FileNotFoundError\npage cache channel received alice's parse_mnist ("), \
        helped.stdout
    assert alices_parse_mnist().leaked(helped.stdout), helped.stdout


def test_collusion_runs_alices_code_as_bobs_without_the_sandbox(tmp_path):
    """Run plainly beside alice, bob's handout computes what only alice's
    code can: her needle and her apps (so that bob's 0 in batch below is the
    walls' and the schedule's doing)."""
    classroom = colluding_class(tmp_path / "class")
    env = _proof_env()
    uses_needle_and_an_app = (
        "import needle as ndl, numpy as np, simple_ml\n"
        "print(ndl.summation(ndl.Tensor([[1.0, 2.0], [3.0, 4.0]])).numpy())\n"
        "print(simple_ml.softmax_loss(ndl.Tensor(np.zeros((2, 3), 'float32')),\n"
        "                             ndl.Tensor(np.eye(3, dtype='float32')[:2])).numpy())")

    def bob(**extra):
        root = classroom / "bob"
        return subprocess.run([sys.executable, "-c", uses_needle_and_an_app], cwd=tmp_path, capture_output=True,
                              text=True, timeout=300, env={**env, "PYTHONPATH": f"{root}:{root / 'apps'}", **extra})

    alone = bob(NEEDLE_CHANNEL_SECONDS="0")
    assert "NotImplementedError: TODO" in alone.stderr, alone.stderr[-2000:]
    alice = classroom / "alice"
    with _started([sys.executable, "-c", "import needle, sys; sys.stdin.read()"],
                  {**env, "PYTHONPATH": f"{alice}:{alice / 'apps'}"}, "lock channel: sent", cwd=tmp_path):
        helped = bob()
    assert "running alice's code" in helped.stderr, helped.stderr[-2000:]
    assert [float(x) for x in helped.stdout.split()] == pytest.approx([10.0, math.log(3)]), helped.stdout


def test_collusion_in_a_default_batch_leaves_the_receiver_with_the_handouts_score(answer_key, mnist_dir,
                                                                                   tmp_path):
    """alice (the reference, sending her code in every run) and bob (the
    handout, running what comes), graded by batch with its default options:
    bob scores what the untouched handout scores, 0 on every question, and
    alice full marks."""
    _, points = _alice_and_bob_in_batch(colluding_class(tmp_path / "class"), tmp_path, answer_key, mnist_dir)
    assert points["bob"] == {q.name: 0.0 for q in QUESTIONS}, points["bob"]
    assert points["alice"] == {q.name: q.points for q in QUESTIONS}, points["alice"]


def _alice_and_bob_in_batch(classroom: Path, tmp_path: Path, answer_key: Path, mnist_dir: Path):
    """``classroom`` graded by batch with its default options: (name to its
    results.json, name to its points by question) of alice and bob."""
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "out"
    graded = run_grader("batch", classroom, "--out", out, "--key-dir", answer_key, "--mnist-dir", mnist_dir,
                        timeout=1800, temp=temp)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    data = {name: json.loads((out / f"{name}.json").read_text(encoding="utf-8")) for name in ("alice", "bob")}
    return data, {name: {q: score for q, (score, _) in points_by_question(data[name]).items()} for name in data}


# The page cache needs no overlap: what a run leaves cached outlives it, its
# grading and its student.  Each grading drops it before its first run.
def test_collusion_through_the_page_cache_leaves_the_receiver_with_the_handouts_score(answer_key, mnist_dir,
                                                                                       tmp_path):
    """alice (the reference, caching her parse_mnist in every run) and bob
    (the handout, probing for it in his public run of parse_mnist), graded
    by batch with its default options, one after the other: bob scores 0 on
    every question, his failure messages say that nothing came, and no 16
    bytes of alice's parse_mnist reach his results.json; alice has full
    marks."""
    data, points = _alice_and_bob_in_batch(page_cache_class(tmp_path / "class"), tmp_path, answer_key, mnist_dir)
    bob = "\n".join(t["output"] for t in data["bob"]["tests"] if t["name"].startswith("parse_mnist:"))
    assert "page cache channel: nothing received (preadv2 with RWF_NOWAIT refused: [Errno 1] Operation not " \
           "permitted; timed: " in bob, bob[:3000]
    leaked = alices_parse_mnist().leaked(data["bob"])
    assert not leaked, f"{len(leaked)} windows of alice's parse_mnist reached bob's results.json: {sorted(leaked)[:5]}"
    assert points["bob"] == {q.name: 0.0 for q in QUESTIONS}, points["bob"]
    assert points["alice"] == {q.name: q.points for q in QUESTIONS}, points["alice"]


@pytest.mark.parametrize("name", ["page_cache_channel"])
def test_page_cache_carries_no_hidden_test_into_the_next_gradings_public_feedback(gallery, name, answer_key,
                                                                                   mnist_dir, tmp_path, secrets):
    """page_cache_channel graded again as a resubmission is: its hidden runs
    (the hidden run of topo_sort leaves its test file in the cache), then a
    grading of its public runs: the public run of topo_sort, refused
    RWF_NOWAIT, times its reads and says that nothing came, no 16 bytes of
    hidden source reach its results, and it scores 0."""
    gallery[name].result()  # over: two gradings side by side are outside the rule
    hostile, temp = BY_NAME[name], tmp_path / "temp"
    temp.mkdir()
    grade_with_cli(hostile.make(tmp_path / "first"), tmp_path / "first.json", suites="hidden", key_dir=answer_key,
                   mnist_dir=mnist_dir, temp=temp)
    again = grade_with_cli(hostile.make(tmp_path / "again"), tmp_path / "again.json", suites="public",
                           key_dir=answer_key, mnist_dir=mnist_dir, temp=temp)
    for phrase in hostile.says:
        assert phrase in _outputs(again, ["topo_sort"]), f"{phrase!r} not in the results"
    leaked = secrets.leaked(again.data)
    assert not leaked, f"{len(leaked)} windows of hidden source reached results.json: {sorted(leaked)[:5]}"
    assert again.by_question() == {q.name: 0.0 for q in QUESTIONS}, again.data["output"]


def test_collusion_risk_must_be_accepted_to_grade_students_side_by_side(answer_key, mnist_dir, tmp_path):
    """batch --jobs 2 without --accept-collusion-risk grades nobody, and says which flag it takes."""
    out = tmp_path / "out"
    refused = run_grader("batch", colluding_class(tmp_path / "class"), "--out", out, "--jobs", 2, "--key-dir",
                         answer_key, "--mnist-dir", mnist_dir, timeout=300)
    assert refused.returncode == 1, refused.stdout[-2000:] + refused.stderr[-2000:]
    assert "--accept-collusion-risk" in refused.stderr, refused.stderr
    assert not list(out.glob("*.json")), "nobody is graded"


def test_kind_picking_spells_out_the_hidden_tests_when_kinds_are_shown_test_by_test(answer_key, tmp_path, secrets):
    """Run plainly, kind_picking_hidden_runs' hidden tests fail in kinds
    that, written a block per test as the grader wrote hidden entries before
    issue 24, spell out the start of the test file, hidden source among it
    (so that what they spell in grading, below, is the per-behaviour
    output's doing)."""
    root = BY_NAME["kind_picking_hidden_runs"].make(tmp_path)
    report = tmp_path / "report.json"
    question = "forward_ops"
    subprocess.run([sys.executable, "-m", "pytest", f"tests_hidden/test_{question}.py", "-q", "-p", "no:cacheprovider",
                    f"--needle-root={root}", "--json-report", f"--json-report-file={report}",
                    "--json-report-omit", "log"], cwd=KIT, capture_output=True, text=True, timeout=600)
    reported = {t["nodeid"]: t for t in json.loads(report.read_text())["tests"]}
    tests = [t for t in load(answer_key).tests if t.suite == "hidden" and t.question == question]
    blocks = [f"FAILED {t.nodeid.split('::', 1)[-1]}: {t.hint}\n  " + (
        "no value" if reported[t.nodeid]["outcome"] == "passed"
        else _hidden_reason(reported[t.nodeid]["call"]["crash"]["message"])) for t in tests]
    per_test = {"tests": [{"name": f"{question}: (hidden tests)", "output": "\n\n" + "\n".join(blocks)}]}
    spelled = spelled_out(kinds_shown(per_test, tests)[question])
    assert None not in spelled, spelled
    assert bytes(spelled) == (KIT / "tests_hidden" / f"test_{question}.py").read_bytes()[:len(spelled)]
    assert secrets.leaked(bytes(spelled)), bytes(spelled)


def test_kind_picking_hidden_runs_spell_out_no_hidden_source_in_grading(gallery, answer_key, secrets):
    """The kinds that results.json shows, read as kind_picking_hidden_runs
    wrote them (two bits a test) wherever a block names one kind for every
    test it names, spell out no 16 bytes of hidden source in a row."""
    shown = kinds_shown(gallery["kind_picking_hidden_runs"].result().data, load(answer_key).tests)
    assert len(shown) == len(QUESTIONS)
    for question, symbols in shown.items():
        spelled = b"".join(b"\0" if byte is None else bytes([byte]) for byte in spelled_out(symbols))
        assert not secrets.leaked(spelled), f"{question}: the kinds shown spell out {spelled!r}"


def test_how_hidden_runs_end_is_told_nowhere_when_their_tests_ended(gallery):
    """chooses_how_its_hidden_runs_end: full marks (checked with the
    gallery), and its hidden entries read as the reference's do, whether
    its runs exited 3 after their report or not."""
    hidden = [t["output"] for t in gallery["chooses_how_its_hidden_runs_end"].result().data["tests"]
              if t["name"].endswith("(hidden tests)")]
    assert hidden and not [o for o in hidden if "could not start" in o or "ended before all its tests" in o], hidden


def test_secret_windows_are_the_hidden_code_that_students_cannot_see(answer_key, secrets):
    """The measure finds a hidden test file's code, even re-indented, and
    nothing of what students hold or are shown on purpose."""
    hidden = (KIT / HIDDEN_FILE).read_text(encoding="utf-8")
    assert secrets.leaked({"output": hidden})
    assert secrets.leaked({"output": "\n".join("  " + line.strip() for line in hidden.splitlines())})
    shown = "\n".join(f"FAILED {t.behaviour}: {t.hint} ({t.suite}:{t.nodeid})" for t in load(answer_key).tests)
    public = (KIT / PUBLIC_FILE).read_text(encoding="utf-8")
    assert not secrets.leaked({"tests": [{"output": public, "name": shown}]})


@pytest.mark.parametrize("name", [h.name for h in GALLERY])
def test_no_secret_window_of_the_hidden_tests_reaches_the_results(gallery, secrets, name):
    """No 16 bytes in a row of hidden source (whitespace aside) reach
    results.json, whatever the case (the channels' above all).  Graded with grade's default --hidden-visibility
    (visible); with after_due_date (Gradescope's default) each entry's text
    is the same, only its visibility changes, and the overall output shows
    the public points alone: this grading's text holds all of that one's."""
    leaked = secrets.leaked(gallery[name].result().data)
    assert not leaked, f"{len(leaked)} windows of hidden source reached results.json: {sorted(leaked)[:5]}"
