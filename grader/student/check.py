#!/usr/bin/env python3
"""Run the public tests on handout/ and say, per question, where you stand.

    python check.py                                # every question
    python check.py topo_sort                      # one question (or several)
    python check.py tests_public/test_topo_sort.py # one test file
    python check.py forward_ops -k transpose       # -k and other pytest options
    python check.py --timeout 10                   # seconds per test (default 60)
    python check.py --verbose                      # pytest's own output, then the table

It prints a table (state, tests passed, the public suite's half of the points
that they suggest: a behaviour scores when all its tests pass), the first
mistakes in your code with their messages, then the TODOs left.  A run of
some tests only (-k, -m, a test file or a test) says how many of each
question's tests it ran and how they went: no state, no points.  Your grade
also counts hidden tests that ask the same questions on new inputs.
Exit code: 0 when every test run passed, 1 otherwise, 2 for a bad command.
"""
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

# The grader's own order of failures (shipped beside this file), so that
# this list and the grader's feedback show the same mistake first.
from grader.feedback import is_todo, place, rank, todo_line

HERE = Path(__file__).resolve().parent
WIDTH = 96
SHOWN = 10  # failing tests listed when more than one question ran
TIMEOUT = 60  # seconds per test: the slowest public test takes a few
MAX_WEIGHT = 1000.0  # the answer key's bound on a weight (grader/key.py, which the bundle does not ship)
# pytest options that take a value as the next argument: that value is not a question name.
VALUE_OPTIONS = {"-k", "-m", "-p", "-c", "-o", "-W", "-r", "--tb", "--maxfail", "--timeout",
                 "--timeout-method", "--needle-root", "--mnist-dir", "--deselect", "--ignore",
                 "--durations", "--rootdir", "--basetemp", "--salt"}
# Options that run some of a question's tests only.
SELECTING = ("-k", "-m", "--deselect")
TIMEOUT_CAUSES = ("Likely an endless loop: a while loop whose condition never changes (in "
                  "find_topo_sort, or a backward pass walking the graph), or a node revisited "
                  "forever; or recursion where a loop with an explicit stack is needed.")


class Usage(Exception):
    pass


def parse(argv, questions):
    """(verbose, pytest arguments, needle root, whether some tests only are
    selected) from check.py's command line; question names become their test files."""
    by_name = {q["name"]: q for q in questions}
    verbose, args, root, value_of, some = False, [], "handout", None, False
    for arg in argv:
        if value_of:  # the value of the option before it
            root = arg if value_of == "--needle-root" else root
            args.append(arg)
            value_of = None
        elif arg in ("--verbose", "-v"):
            verbose = True
        elif arg.startswith("-"):
            args.append(arg)
            some = some or arg.startswith(SELECTING)
            value_of = arg if arg in VALUE_OPTIONS else None
            root = arg.split("=", 1)[1] if arg.startswith("--needle-root=") else root
        elif arg in by_name:
            args.append(by_name[arg]["public_tests"])
        elif "::" in arg or arg.endswith(".py") or (HERE / arg).exists():
            args.append(arg)
            some = True
        else:
            raise Usage(f"no question {arg!r}; the questions are:\n  " + "\n  ".join(by_name))
    return verbose, args, root, some


def run_pytest(args, verbose, report):
    """Run pytest; returns (exit code, its output: empty when streamed)."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--continue-on-collection-errors",
               f"--timeout={TIMEOUT}", "--timeout-method=signal",  # a signal: the test fails, the run goes on
               "--json-report", f"--json-report-file={report}",
               *(["-v"] if verbose else ["-q", "--tb=native"]), *args]  # native: 5 times faster than short
    if verbose:
        return subprocess.call(command, cwd=HERE), ""
    print("Running the public tests (python check.py --verbose shows pytest's output) ...", flush=True)
    tty = sys.stdout.isatty()
    lines = []
    with subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"}) as proc:
        try:
            for line in proc.stdout:
                lines.append(line)
                percent = re.search(r"\[\s*(\d+)%\]\s*$", line)
                if tty and percent:
                    print(f"\r  {percent.group(1)}% done", end="", flush=True)
        except KeyboardInterrupt:  # pytest got it too: it stops and still writes its report
            pass
    if tty:
        print("\r" + " " * 20 + "\r", end="")
    return proc.wait(), "".join(lines)


def frame(traceback, root):
    """(path, line, function) of the deepest frame in the student's code, or None."""
    for path, line, function in reversed(re.findall(r'File "(.+)", line (\d+), in (\S+)', traceback)):
        if root in Path(HERE, path).resolve().parents:
            return os.path.relpath(Path(HERE, path).resolve(), HERE), line, function
    return None


def where(traceback, root):
    """'path:line in function' of the deepest frame in the student's code, or ''."""
    found = frame(traceback, root)
    return f"{found[0]}:{found[1]} in {found[2]}" if found else ""


def failure(test, root):
    """(message, location) of a failed test: the first lines of its message."""
    failed = [test[p] for p in ("setup", "call", "teardown") if test.get(p, {}).get("outcome") == "failed"]
    phase = failed[0] if failed else {}
    message = (phase.get("crash") or {"message": phase.get("longrepr", "")[-500:]})["message"]
    message = message.removeprefix("AssertionError: ")
    timeout = re.search(r"Timeout \(>([\d.]+)s\) from pytest-timeout", message)
    if timeout:
        message = (f"Stopped after {float(timeout.group(1)):g} s (the time limit per test; "
                   f"--timeout SECONDS changes it). {TIMEOUT_CAUSES}")
    return "\n".join(message.splitlines()[:6]), where(phase.get("longrepr", ""), root)


def import_error(collector):
    """(location, message) of a test file that could not be imported."""
    text = collector["longrepr"]
    message = textwrap.dedent("\n".join(re.sub(r"^E ?", "", l) for l in text.splitlines() if l.startswith("E ")))
    syntax = re.search(r'File "(.+)", line (\d+)', message)
    if syntax:  # a SyntaxError names its own place, and pytest shows no frame for it
        message = "\n".join(l for l in message.splitlines() if not l.strip().startswith('File "'))
        path, line = syntax.groups()
    else:  # the deepest frame outside the tests
        frames = re.findall(r"^(\S[^\n]*?):(\d+): in ", text, re.M)
        path, line = next((f for f in reversed(frames) if "tests_public" not in f[0]), ("?", "?"))
    return f"{os.path.relpath(Path(HERE, path).resolve(), HERE)}:{line}", textwrap.dedent(message).strip("\n")


def wrap(text, indent="    "):
    return "\n".join(textwrap.fill(l, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ")
                     if len(l) > WIDTH - len(indent) else indent + l for l in text.splitlines())


def outcomes(report, questions, root):
    """From pytest-json-report's report: question -> [(nodeid, message,
    location, passed, behaviour)], and (location, message) -> the questions
    whose test file could not be imported."""
    of_file = {q["public_tests"]: q["name"] for q in questions}
    tests = {q["name"]: [] for q in questions}
    for test in report.get("tests", []):
        name = of_file.get(test["nodeid"].split("::")[0])
        if name:
            passed = test["outcome"] in ("passed", "skipped", "xfailed")
            tests[name].append((test["nodeid"], *(("", "") if passed else failure(test, root)), passed,
                                behaviour_of(test)))
    broken = {}
    for collector in report.get("collectors", []):
        if collector["outcome"] == "failed":
            broken.setdefault(import_error(collector), []).append(of_file.get(collector["nodeid"], "?"))
    return tests, broken


def behaviour_of(test):
    """The behaviour the suite's plugin put in the test's metadata; a test
    of its own (weight 1) when the metadata is missing or malformed."""
    metadata = test.get("metadata")
    behaviour = metadata.get("behaviour") if isinstance(metadata, dict) else None
    if isinstance(behaviour, dict) and isinstance(behaviour.get("name"), str) \
            and type(behaviour.get("weight")) in (int, float) and 0 < behaviour["weight"] <= MAX_WEIGHT:
        return behaviour
    return {"name": test["nodeid"], "weight": 1.0}


def suggested_points(points, results):
    """The public suite's share of a question's points (half of them) that
    these results earn, as the grader gives it: split over behaviours by
    weight, each earned when all of its tests pass."""
    weights, earned = {}, {}
    for *_, passed, behaviour in results:
        weights[behaviour["name"]] = float(behaviour["weight"])
        earned[behaviour["name"]] = earned.get(behaviour["name"], True) and passed
    total = sum(weights.values())
    return points / 2 * sum(w for name, w in weights.items() if earned[name]) / total if total else 0.0


def print_table(questions, tests, unimportable):
    """The table of the questions that ran; returns the ones not started."""
    rows = [q for q in questions if tests[q["name"]] or q["name"] in unimportable]
    if unimportable.issuperset(q["name"] for q in rows):
        return set()  # nothing ran: a table of zeros would hide the one message that matters
    print("\nPublic tests by question")
    print(f"{'question':<13} {'state':<12} {'passed':>8} {'public points':^13} what")
    not_started, earned, ran, passed_all = set(), 0.0, 0, 0
    for q in rows:
        results = tests[q["name"]]
        passed = sum(r[3] for r in results)
        if q["name"] in unimportable:
            state = "import error"
        elif passed == len(results):
            state = "done"
        elif all(is_todo(r[1]) for r in results):
            state = "not started"
            not_started.add(q["name"])
        else:
            state = "in progress"
        points = suggested_points(q["points"], results)
        earned, ran, passed_all = earned + points, ran + len(results), passed_all + passed
        title = q["title"] if len(q["title"]) <= WIDTH - 50 else q["title"][:WIDTH - 53] + "..."
        count = "-" if q["name"] in unimportable else f"{passed}/{len(results)}"
        print(f"{q['name']:<13} {state:<12} {count:>8} {points:>6.2f} / {q['points'] / 2:<4g} {title}")
    print(f"{'total':<13} {'':<12} {f'{passed_all}/{ran}':>8} {earned:>6.2f} / {sum(q['points'] for q in rows) / 2:g}")
    return not_started


def print_selection(questions, tests, report):
    """For a run of some tests only: how many of each question's public tests
    ran and how they went (a state or points would claim the whole question)."""
    of_file = {q["public_tests"]: q["name"] for q in questions}
    every = {q["name"]: set() for q in questions}
    for collector in report.get("collectors", []):
        for item in collector.get("result", []):
            name = of_file.get(item.get("nodeid", "").split("::")[0])
            if name and "::" in item["nodeid"] and str(item.get("type", "")).endswith("Function"):
                every[name].add(item["nodeid"])
    print()
    for q in questions:
        results = tests[q["name"]]
        if not results:
            continue
        passed = sum(r[3] for r in results)
        total = max(len(every[q["name"]]), len(results))
        how = f"{passed} passed" + (f", {len(results) - passed} failed" if passed < len(results) else "")
        print(f"{len(results)} of {total} public tests of {q['name']} selected: {how}.")


def print_import_errors(questions, broken):
    for (location, message), names in broken.items():
        print(f"\nYour code could not be imported: {location}\n\n{wrap(message)}\n")
        names = [q["name"] for q in questions if q["name"] in names]
        which = "every question" if len(names) == len(questions) else ", ".join(names)
        print(textwrap.fill(f"The tests of {which} cannot run until it imports: fix it, then run "
                            f"python check.py again.", WIDTH))


def print_failures(tests, not_started, root, scope="this question"):
    waiting = sum(len(tests[name]) for name in not_started)
    if waiting:
        print(f"\n{waiting} test{'s wait' if waiting > 1 else ' waits'} for TODOs: replace each "
              f"raise NotImplementedError(\"TODO ...\")\nin {root.name}/ with your code.")
    failed = [(name, *r[:3]) for name in tests if name not in not_started for r in tests[name] if not r[3]]
    # The grader's order (grader/feedback.py): mistakes in your code in the
    # tests' order, then the TODOs left.
    failed.sort(key=lambda f: rank(f[2]))
    print_mistakes([f for f in failed if not is_todo(f[2])], {name for name in tests if tests[name]})
    for name in tests:
        line = todo_line(((m, todo_place(location)) for n, _, m, location in failed if n == name and is_todo(m)),
                         name, scope)
        if line:
            print(f"\n{wrap(f'{name}: {line}', '')}")


def todo_place(location):
    """"ops_mathematic.py:141" of a location "handout/needle/ops/ops_mathematic.py:141 in gradient"."""
    path, _, line = location.split(" in ", 1)[0].rpartition(":")
    return place(path, line)


def print_mistakes(failed, ran):
    if not failed:
        return
    groups = {}  # tests failing with the same message are shown once
    for name, nodeid, message, location in failed:
        groups.setdefault((name, message), []).append((nodeid, location))
    limit = SHOWN if len(ran) > 1 else len(groups)  # one question: all of it
    print("\nMistakes in your code:")
    for (name, message), group in list(groups.items())[:limit]:
        nodeid, location = group[0]
        test = nodeid.split("::", 1)[1] + (f" (and {len(group) - 1} more)" if len(group) > 1 else "")
        if len(name) + len(test) > WIDTH - 2:  # the parameters on a line of their own
            test = test.replace("[", "\n    [", 1)
        print(f"\n{name}: {test}\n{wrap(message)}")
        if location:
            print(f"    at {location}")
    rest = {}
    for (name, _), group in list(groups.items())[limit:]:
        rest[name] = rest.get(name, 0) + len(group)
    if rest:
        counts = ", ".join(f"{n} {name}" for name, n in rest.items())
        print(f"\n... and {sum(rest.values())} more tests ({counts}): python check.py QUESTION shows all of one.")


def main(argv):
    if {"-h", "--help"} & set(argv):
        print(__doc__)
        return 0
    questions = json.loads((HERE / "questions.json").read_text(encoding="utf-8"))
    try:
        verbose, args, root, some = parse(argv, questions)
    except Usage as e:
        print(f"check.py: {e}", file=sys.stderr)
        return 2
    missing = [m for m in ("pytest", "pytest_jsonreport", "pytest_timeout") if importlib.util.find_spec(m) is None]
    if missing:
        print(f"check.py needs {', '.join(missing)}: run python -m pip install -r requirements.txt",
              file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        report_file = Path(tmp) / "report.json"
        code, output = run_pytest(args, verbose, report_file)
        report = json.loads(report_file.read_text(encoding="utf-8")) if report_file.exists() else None
    if code in (4, 5) or report is None:  # a bad option or path, no test selected, or pytest crashed
        print(output.strip()[-3000:] if code != 5 else "No test matches that selection.")
        return 2 if code in (4, 5) else 1
    root = (HERE / root).resolve()
    tests, broken = outcomes(report, questions, root)
    if some:
        print_selection(questions, tests, report)
        not_started = set()
    else:
        not_started = print_table(questions, tests, {q for names in broken.values() for q in names})
    print_import_errors(questions, broken)
    if not verbose:  # pytest has shown them
        print_failures(tests, not_started, root, "the tests selected" if some else "this question")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
