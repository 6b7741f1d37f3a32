"""The answer key: every suite run once on the reference, in child processes
like any submission; what its tests handed over is what submissions must
match.  Cached in a folder, rebuilt when the reference, a suite or the
harness changes."""
import ast
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Tuple

import numpy as np


from . import defaults, handout, sandbox
from .channel import META, folder_of, value_file
from .errors import AnswerKeyError
from .questions import QUESTIONS
from .run import run_question, stage_mnist, suite_file
from . import expected

KEY_FORMAT = 6  # 6: tests' seconds are CPU time


@dataclass(frozen=True)
class KeyTest:
    """One test of the key: where it belongs (its question, and the
    behaviour that shares the question's points with its siblings), the
    hint shown for it, what it hands over (each value's meta: what it is,
    its tolerance, whether it scores), for a training run, the test-error
    target its weights must meet, and the reference's CPU time."""

    nodeid: str
    suite: str
    question: str
    hint: str
    values: Tuple[dict, ...]
    threshold: Optional[dict] = None
    seconds: float = 0.0
    behaviour: str = ""
    weight: float = 1.0

    @property
    def timeout(self) -> Tuple[float, float]:
        """The submission's CPU time for this test, and the wall-clock
        backstop: one endless loop costs the tests that reach it, not the
        question."""
        factor, seconds = defaults.TEST_TIMEOUT_SLACK
        cpu = max(defaults.TEST_TIMEOUT_MIN,
                  min(defaults.TEST_TIMEOUT_FACTOR * self.seconds, factor * self.seconds + seconds))
        return round(cpu, 3), round(defaults.WALL_FACTOR * cpu + defaults.WALL_SLACK, 3)

    @property
    def scored(self) -> bool:
        """Whether it hands over a value that code must compute (guessable
        facts alone earn nothing)."""
        return any(v["scored"] for v in self.values)


@dataclass(frozen=True)
class AnswerKey:
    folder: Path
    fingerprint: str
    salt: int  # the inputs' salt of the grader's runs (students' runs use 0)
    tests: Tuple[KeyTest, ...]

    def record_dir(self, suite: str, question: str) -> Path:
        return self.folder / suite / question / "records"


def fingerprint(reference: Path = defaults.REFERENCE, suites: Iterable[str] = defaults.DEFAULT_SUITES,
                questions: Iterable[str] = tuple(q.name for q in QUESTIONS)) -> str:
    """A digest of everything that decides the values of ``suites``' tests
    of ``questions``, and of which suites and questions those are."""
    suites, questions = tuple(suites), tuple(questions)
    files = [reference / p for p in handout.handout_files(reference)]
    files += [defaults.SUITES[s] / f"test_{q}.py" for s in suites for q in questions]
    files += [defaults.KIT_ROOT / p for p in defaults.HARNESS_FILES]
    digest = hashlib.sha256(f"format {KEY_FORMAT}; numpy {np.__version__}; {suites}; {questions}".encode())
    for path in files:
        digest.update(str(path.relative_to(defaults.KIT_ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def hints(path: Path) -> Dict[str, str]:
    """Test function name to the first line of its docstring (trusted: read
    from the suite's source, never from a test process)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name: ((ast.get_docstring(node) or "").strip().splitlines() or [""])[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test")
    }


def collection_error(output: str) -> str:
    """The first error pytest printed for a file it could not collect."""
    lines = output.splitlines()
    errors = [line[4:].strip() for line in lines if line.startswith("E   ")]
    errors += [line[6:].strip() for line in lines if line.startswith("ERROR ")]
    return errors[0] if errors else ""


def _function_name(nodeid: str) -> str:
    return nodeid.split("::")[-1].split("[")[0]


def build(folder: Path, *, mnist_dir: Path, suites: Iterable[str] = defaults.DEFAULT_SUITES,
          reference: Path = defaults.REFERENCE) -> AnswerKey:
    """Run the suites on the reference, with a fresh secret salt, and keep
    what its tests handed over in ``folder`` (replaced whole, so a failed
    build leaves no half key)."""
    log("building the answer key...")
    suites = tuple(suites)
    stamp = fingerprint(reference, suites)
    salt, other_salt = (secrets.randbelow(2**31 - 1) + 1 for _ in range(2))
    staging = Path(tempfile.mkdtemp(prefix="key-", dir=folder.parent if folder.parent.exists() else None))
    try:
        with tempfile.TemporaryDirectory(prefix="key-mnist-") as tmp:
            mnist = stage_mnist(mnist_dir, Path(tmp))
            tests = run_reference(reference, suites, QUESTIONS, staging, mnist, salt)
            log("  and again with other inputs, to find the values that no input changes...")
            other = Path(tmp) / "other"
            run_reference(reference, suites, QUESTIONS, other, mnist, other_salt)
            tests = [_without_guessable_points(t, staging, other) for t in tests]
    except AnswerKeyError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.chmod(staging, 0o700)  # the runs opened it to the sandbox's uid
    (staging / "key.json").write_text(json.dumps({
        "format": KEY_FORMAT,
        "fingerprint": stamp,
        "salt": salt,
        "tests": [t.__dict__ for t in tests],
    }, indent=1))
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(folder)
    return load(folder)


def run_reference(reference: Path, suites: Tuple[str, ...], questions, work: Path, mnist_dir: Path,
                  salt: int) -> list:
    """The key's tests from running ``suites``' tests of ``questions`` on
    ``reference`` with ``salt``; the runs keep what they hand over under
    ``work``.  Raises AnswerKeyError naming every test the reference fails
    and every behaviour whose tests disagree on its weight."""
    tests, failures = [], []
    pairs = [(suite, question) for suite in suites for question in questions]
    missing = [suite_file(s, q) for s, q in pairs if not suite_file(s, q).is_file()]
    failures += [f"{path} is missing: every question needs a file in each suite" for path in missing]
    with ThreadPoolExecutor(max_workers=defaults.WORKERS) as pool:
        futures = [pool.submit(run_question, reference, s, q, work, mnist_dir=mnist_dir, salt=salt)
                   for s, q in pairs if suite_file(s, q).is_file()]
        for future in futures:
            future.add_done_callback(_log_run)
        with sandbox.stop_on_interrupt(futures):
            runs = [future.result() for future in futures]
        for run in runs:
            suite, question = run.suite, next(q for q in questions if q.name == run.question)
            if run.report is None or run.returncode not in (0, 1) or not run.report["tests"]:
                failures.append(f"{suite}/{question.name}: the tests did not run (exit code "
                                f"{run.returncode}): {collection_error(run.output_tail) or 'no tests'}")
                continue
            names = hints(suite_file(suite, question))
            for test in run.report["tests"]:
                if test["outcome"] != "passed":
                    failures.append(f"{test['nodeid']}: {test['outcome']}: "
                                    f"{((test.get('call') or {}).get('crash') or {}).get('message', '')[:300]}")
                    continue
                meta = _values_meta(run.record_dir, test["nodeid"])
                broken = [f"check {i} ({v['what']}): {v['problem']}" for i, v in enumerate(meta.get("values", ()))
                          if v.get("problem")]
                if broken:
                    failures.append(f"{test['nodeid']}: the reference handed over no value for {broken[0]}")
                    continue
                seconds = _cpu_seconds(test)
                behaviour = _dict(meta.get("behaviour"))
                tests.append(KeyTest(test["nodeid"], suite, question.name,
                                     names.get(_function_name(test["nodeid"]), ""),
                                     tuple(meta.get("values", ())), meta.get("threshold"), round(seconds, 4),
                                     str(behaviour.get("name") or _function_name(test["nodeid"])),
                                     float(behaviour.get("weight", 1.0))))
    conflicts = _weight_conflicts(tests)
    if failures or conflicts:
        raise AnswerKeyError(
            f"the reference fails {len(failures)} test(s) and {len(conflicts)} behaviour(s) have no "
            f"usable weight, so no answer key was built:\n  " + "\n  ".join((failures + conflicts)[:20])
            + "\nFix reference/ or the suite, then build the key again."
        )
    return tests


def _cpu_seconds(test: dict) -> float:
    """The CPU time a test of the reference took (the box's plugin counts
    it); a number, whatever the report holds."""
    seconds = _dict(test.get("metadata")).get("cpu_seconds")
    return float(seconds) if isinstance(seconds, (int, float)) and 0 <= seconds < 1e6 else 0.0


MAX_WEIGHT = 1000.0  # weights are relative; a bound keeps their sums finite (results.json holds no NaN)


def _weight_conflicts(tests) -> list:
    """A line for each behaviour whose tests declare different weights, or a
    weight that is not a number in (0, MAX_WEIGHT]."""
    weights, lines = {}, []
    for test in tests:
        weights.setdefault((test.suite, test.question, test.behaviour), []).append(test.weight)
    for (suite, question, name), found in weights.items():
        wrong = sorted({repr(w) for w in found if not 0 < w <= MAX_WEIGHT})  # NaN too
        if wrong:
            lines.append(f"{suite}/{question}: behaviour {name!r} has weight {', '.join(wrong)}; "
                         f"give it a number above 0 and at most {MAX_WEIGHT:g}")
        elif len(set(found)) > 1:
            lines.append(f"{suite}/{question}: the tests of behaviour {name!r} declare different weights "
                         f"{sorted(set(found))}; give the behaviour one weight")
    return lines


def _log_run(future) -> None:
    if not future.cancelled() and future.exception() is None:
        run = future.result()
        log(f"  {run.suite}/{run.question}: {run.seconds:.1f} s")


def _without_guessable_points(test: KeyTest, key_dir: Path, other_dir: Path) -> KeyTest:
    """``test`` with every value that is one constant, the same under two
    salts (a**0, a width-1 log-softmax, the gradient of 2x), handed over as
    a fact: it still fails the test when wrong, but typing it in earns
    nothing."""
    values = []
    for i, meta in enumerate(test.values):
        if meta["scored"]:
            records = [folder / test.suite / test.question / "records" for folder in (key_dir, other_dir)]
            a, b = (np.load(value_file(r, test.nodeid, i), allow_pickle=False) for r in records)
            if a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc") \
                    and (a.size == 0 or np.all(a == a.reshape(-1)[0])):
                meta = {**meta, "scored": False, "guessable": True}
        values.append(meta)
    return replace(test, values=tuple(values))


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _values_meta(record_dir: Path, nodeid: str) -> dict:
    path = folder_of(record_dir, nodeid) / META
    return json.loads(path.read_text()) if path.is_file() else {}


def load(folder: Path) -> AnswerKey:
    data = json.loads((folder / "key.json").read_text())
    if data.get("format") != KEY_FORMAT:
        raise AnswerKeyError(f"{folder} holds an answer key of an older format; build it again (python -m grader key)")
    return AnswerKey(folder, data["fingerprint"], data["salt"],
                     tuple(KeyTest(**{**t, "values": tuple(t["values"])}) for t in data["tests"]))


def load_or_build(folder: Path = defaults.KEY_DIR, *, mnist_dir: Path, rebuild: bool = False) -> AnswerKey:
    """The cached key when it is current, else a new one.  Without a
    reference (as in the Gradescope image) the shipped key is used as it is."""
    if not defaults.REFERENCE.is_dir():
        if not (folder / "key.json").is_file():
            raise AnswerKeyError(f"no answer key in {folder} and no reference/ to build one from")
        return load(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One builder at a time: gradings started together (a batch, CI) find
    # the key that the first of them built.
    with open(folder.parent / f".{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not rebuild and (folder / "key.json").is_file():
            try:
                key = load(folder)
            except AnswerKeyError:
                key = None
            if key is not None and key.fingerprint == fingerprint():
                return key
        return build(folder, mnist_dir=mnist_dir)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def write_expected(suites: Iterable[str], questions, *, mnist_dir: Path,
                   reference: Path = defaults.REFERENCE) -> list:
    """Write the values file of each of ``suites``' tests of ``questions``,
    from the reference's runs with salt 0 (the inputs a student's run
    draws); returns their paths."""
    written = []
    with tempfile.TemporaryDirectory(prefix="expected-") as tmp:
        work = Path(tmp)
        mnist = stage_mnist(mnist_dir, work)
        for suite in suites:
            for question in questions:
                tests = run_reference(reference, (suite,), (question,), work / "runs", mnist, salt=0)
                records = work / "runs" / suite / question.name / "records"
                path = expected_path(suite, question)
                expected.write(path, [(t.nodeid, t.values) for t in tests],
                               lambda nodeid, i: np.load(value_file(records, nodeid, i), allow_pickle=False),
                               fingerprint(reference, (suite,), (question.name,)))
                written.append(path)
    return written


def expected_path(suite: str, question) -> Path:
    return expected.path_of(suite_file(suite, question))


def expected_out_of_date(suites: Iterable[str] = ("public",), reference: Path = defaults.REFERENCE) -> list:
    """The values files that are missing or were written for other code."""
    return [
        expected_path(suite, q) for suite in suites for q in QUESTIONS
        if expected.fingerprint_of(expected_path(suite, q)) != fingerprint(reference, (suite,), (q.name,))
    ]
