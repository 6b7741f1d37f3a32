"""The students' check.py, run from a fresh bundle: what it selects, what it
says about each question, and how it reports code that cannot import or
never ends."""
import importlib.util
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from grader.questions import QUESTIONS

KIT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    """The bundle unzipped, with MNIST copied in (mnist_fetch.py needs the network)."""
    folder = tmp_path_factory.mktemp("check")
    built = subprocess.run([sys.executable, "-m", "grader", "bundle", str(folder / "b.zip")],
                           cwd=KIT, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    zipfile.ZipFile(folder / "b.zip").extractall(folder)
    shutil.copytree(KIT / "data" / "mnist", folder / "data" / "mnist")
    return folder


def variant(student, name, path, old=None, new=None):
    """A copy of the handout named ``name`` (returns its --needle-root option)
    with ``old`` replaced by ``new`` in ``path``, or else ``path`` as in the reference."""
    root = student / name
    shutil.copytree(student / "handout", root)
    if old is None:
        shutil.copy(KIT / "reference" / path, root / path)
    else:
        text = (root / path).read_text()
        assert text.count(old) == 1, f"{old!r} is not once in {path}"
        (root / path).write_text(text.replace(old, new))
    return f"--needle-root={name}"


def check(student, *args, timeout=120):
    return subprocess.run([sys.executable, "check.py", *args], cwd=student,
                          capture_output=True, text=True, timeout=timeout)


def table(out):
    """question name -> its row's words, from the table."""
    rows = out[out.index("Public tests by question"):].split("\n\n")[0].splitlines()[2:-1]
    return {row.split()[0]: row for row in rows}


def test_a_fresh_handout_is_not_started_everywhere_in_few_lines(student):
    run = check(student)
    assert run.returncode == 1, run.stdout[-3000:]
    rows = table(run.stdout)
    assert list(rows) == [q.name for q in QUESTIONS]
    assert all("not started" in row for row in rows.values()), rows
    assert "tests wait for TODOs" in run.stdout and "Mistakes in your code" not in run.stdout
    assert len(run.stdout.splitlines()) < 60, run.stdout


def selection(out):
    """question -> (tests selected, tests of the question, what they did), from a run of some tests."""
    found = re.findall(r"^(\d+) of (\d+) public tests of (\w+) selected: (.*)\.$", out, re.M)
    return {name: (int(selected), int(total), how) for selected, total, name, how in found}


def assert_no_state_or_points(out):
    assert "Public tests by question" not in out, out
    for claim in ("not started", "in progress", "done", " / "):
        assert claim not in out, f"{claim!r} in a run of some tests:\n{out}"


def test_one_file_runs_only_that_file_and_says_so(student):
    run = check(student, "tests_public/test_topo_sort.py")
    assert list(selection(run.stdout)) == ["topo_sort"], run.stdout
    selected, total, how = selection(run.stdout)["topo_sort"]
    assert selected == total and how == f"0 passed, {total} failed", run.stdout
    assert_no_state_or_points(run.stdout)


def test_a_question_by_name_with_k_says_what_it_ran_and_claims_no_state_or_points(student):
    root = variant(student, "forward_done", "needle/ops/ops_mathematic.py")
    run = check(student, root, "forward_ops", "-k", "transpose")
    assert run.returncode == 0, run.stdout[-3000:]
    selected, total, how = selection(run.stdout)["forward_ops"]
    assert 0 < selected < total and how == f"{selected} passed", run.stdout
    assert_no_state_or_points(run.stdout)


def test_mistakes_are_listed_before_the_todos_left_each_once(student):
    # EWiseDiv done, with a sign error in its gradient; the other ops' TODOs left.
    todo = 'raise NotImplementedError("TODO (question {}): EWiseDiv.{}")'
    root = variant(student, "div_sign", "needle/ops/ops_mathematic.py", todo.format("forward_ops", "compute"),
                   "return a / b")
    path = student / "div_sign" / "needle" / "ops" / "ops_mathematic.py"
    path.write_text(path.read_text().replace(todo.format("backward_ops", "gradient"), (
        "a, b = node.inputs\n        return (_unbroadcast(out_grad / b, a.shape, node.shape),\n"
        "                _unbroadcast(out_grad * node / b, b.shape, node.shape))")))
    run = check(student, root, "backward_ops")
    out = run.stdout
    assert "Mistakes in your code" in out and "EWiseDiv.gradient" in out, out
    assert out.index("EWiseDiv.gradient of") < out.index("TODOs left in this question"), out
    todos = " ".join(out[out.index("TODOs left in this question"):].split())
    assert todos.count("`PowerScalar.gradient` (ops_mathematic.py:") == 1, todos
    assert "NotImplementedError" not in out[:out.index("TODOs left")], "a TODO listed as a mistake"


def test_an_unknown_question_is_a_usage_error_listing_the_questions(student):
    run = check(student, "topo_sorting")
    assert run.returncode == 2
    assert "topo_sorting" in run.stderr and all(q.name in run.stderr for q in QUESTIONS), run.stderr


def test_a_solved_question_is_done(student):
    # The initializers' file holds them and nothing else.
    root = variant(student, "initializers_done", "needle/init/init_initializers.py")
    run = check(student, root, "initializers")
    assert run.returncode == 0, run.stdout[-3000:]
    assert "done" in table(run.stdout)["initializers"]


def points_of(row):
    """(public points, their maximum) from a row of the table."""
    words = row.split()
    at = words.index("/")
    return float(words[at - 1]), float(words[at + 1])


def test_a_solved_question_earns_the_public_half_of_its_points(student):
    root = variant(student, "initializers_done_too", "needle/init/init_initializers.py")
    run = check(student, root, "initializers")
    points = next(q.points for q in QUESTIONS if q.name == "initializers")
    assert points_of(table(run.stdout)["initializers"]) == (points / 2, points / 2), run.stdout


def test_one_broken_behaviour_costs_its_share_however_many_tests_it_has(student):
    """A kaiming_uniform with the fan-out bound fails some of the
    initializers' tests: the table counts every other behaviour in full and
    kaiming_uniform not at all, as the grader does."""
    solved = KIT / "reference" / "needle" / "init" / "init_initializers.py"
    root = variant(student, "kaiming_fan_out", "needle/init/init_initializers.py")
    path = student / "kaiming_fan_out" / "needle" / "init" / "init_initializers.py"
    path.write_text(solved.read_text().replace("bound = _relu_gain(nonlinearity) * math.sqrt(3 / fan_in)",
                                               "bound = _relu_gain(nonlinearity) * math.sqrt(3 / fan_out)"))
    run = check(student, root, "initializers")
    row = table(run.stdout)["initializers"]
    earned, maximum = points_of(row)
    assert "in progress" in row and 0 < earned < maximum, row


def _check_module(student):
    spec = importlib.util.spec_from_file_location("student_check", student / "check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_suggested_points_split_by_behaviour_weight_each_earned_whole(student):
    module = _check_module(student)
    exp, log = {"name": "Exp", "weight": 1.0}, {"name": "Log", "weight": 3.0}
    results = [("a", "", "", True, exp), ("b", "", "", False, exp), ("c", "", "", True, exp), ("d", "", "", True, log)]
    assert module.suggested_points(8, results) == 4 * 3 / 4  # the public half, less Exp's quarter of it
    assert module.suggested_points(8, [r[:3] + (True, r[4]) for r in results]) == 4


def test_check_bounds_a_weight_as_the_answer_key_does(student):
    from grader.key import MAX_WEIGHT

    assert _check_module(student).MAX_WEIGHT == MAX_WEIGHT


@pytest.mark.parametrize("metadata", [None, [], {"behaviour": "Exp"}, {"behaviour": {"name": 3, "weight": 1}},
                                      {"behaviour": {"name": "Exp", "weight": float("nan")}},
                                      {"behaviour": {"name": "Exp", "weight": "2"}},
                                      {"behaviour": {"name": "Exp", "weight": True}},
                                      {"behaviour": {"name": "Exp", "weight": 1e308}}],
                         ids=["none", "list", "text", "number-name", "nan-weight", "text-weight", "bool-weight",
                              "huge-weight"])
def test_malformed_metadata_makes_a_test_its_own_behaviour(student, metadata):
    behaviour = _check_module(student).behaviour_of({"nodeid": "t.py::test_a", "metadata": metadata})
    assert behaviour == {"name": "t.py::test_a", "weight": 1.0}


def test_a_syntax_error_is_reported_once_with_its_file_and_line(student):
    root = variant(student, "syntax_error", "needle/autograd.py", "def find_topo_sort(", "def find_topo_sort(:")
    run = check(student, root)
    assert run.returncode == 1
    assert run.stdout.count("SyntaxError") == 1, run.stdout
    lines = (student / "syntax_error/needle/autograd.py").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "def find_topo_sort(:" in text)
    assert f"syntax_error/needle/autograd.py:{line}" in run.stdout, run.stdout
    assert "0/0" not in run.stdout, run.stdout


def test_an_endless_loop_is_stopped_and_named(student):
    todo = 'raise NotImplementedError("TODO (question topo_sort): find_topo_sort")'
    root = variant(student, "endless", "needle/autograd.py", todo, "while True:\n        pass")
    started = time.monotonic()
    run = check(student, root, "topo_sort", "-k", "diamond", "--timeout", "2", timeout=60)
    assert time.monotonic() - started < 30
    assert run.returncode == 1
    assert selection(run.stdout)["topo_sort"][0::2] == (1, "0 passed, 1 failed"), run.stdout
    said = " ".join(run.stdout.split())
    assert "Stopped after 2 s" in said and "endless loop" in said, run.stdout
    assert "endless/needle/autograd.py" in run.stdout and "in find_topo_sort" in run.stdout, run.stdout


def test_verbose_streams_pytests_output_then_the_table(student):
    run = check(student, "topo_sort", "--verbose")
    assert "FAILED" in run.stdout and "NotImplementedError" in run.stdout, run.stdout[-3000:]
    assert run.stdout.index("FAILED") < run.stdout.index("Public tests by question")
