"""The answer key: every suite run once on the reference, in child processes
like any submission; what its tests handed over is what submissions must
match.  Cached in a folder, rebuilt when the reference, a suite or the
harness changes."""
import ast
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Mapping, Optional, Tuple

import numpy as np

from tests_public.recording import folder_of

from . import defaults, handout
from .errors import AnswerKeyError
from .questions import QUESTIONS
from .run import run_question, stage_mnist, suite_file

KEY_FORMAT = 1


@dataclass(frozen=True)
class KeyTest:
    """One test of the key: where it belongs, the hint shown for it, and the
    values it handed over (name to kind and tolerance)."""

    nodeid: str
    suite: str
    question: str
    hint: str
    values: Mapping[str, dict]


@dataclass(frozen=True)
class AnswerKey:
    folder: Path
    fingerprint: str
    tests: Tuple[KeyTest, ...]

    def record_dir(self, suite: str, question: str) -> Path:
        return self.folder / suite / question / "records"


def fingerprint(reference: Path = defaults.REFERENCE, suites: Iterable[str] = defaults.DEFAULT_SUITES) -> str:
    """A digest of everything that decides the key's values, and of the
    suites it covers."""
    files = [reference / p for p in handout.handout_files(reference)]
    for folder in defaults.SUITES.values():
        files += sorted(folder.glob("*.py"))
    files += [defaults.KIT_ROOT / p for p in defaults.HARNESS_FILES]
    digest = hashlib.sha256(f"format {KEY_FORMAT}; numpy {np.__version__}; {','.join(suites)}".encode())
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
    """Run the suites on the reference and keep what its tests handed over
    in ``folder`` (replaced whole, so a failed build leaves no half key)."""
    log("building the answer key...")
    suites = tuple(suites)
    stamp = fingerprint(reference, suites)
    staging = Path(tempfile.mkdtemp(prefix="key-", dir=folder.parent if folder.parent.exists() else None))
    with tempfile.TemporaryDirectory(prefix="key-mnist-") as tmp:
        tests, failures = _run_suites(reference, suites, staging, stage_mnist(mnist_dir, Path(tmp)))
    if failures:
        shutil.rmtree(staging, ignore_errors=True)
        raise AnswerKeyError(
            f"the reference fails {len(failures)} test(s), so no answer key was built:\n  "
            + "\n  ".join(failures[:20])
            + "\nFix reference/ or the suite, then build the key again."
        )
    os.chmod(staging, 0o700)  # the runs opened it to the sandbox's uid
    (staging / "key.json").write_text(json.dumps({
        "fingerprint": stamp,
        "tests": [t.__dict__ for t in tests],
    }, indent=1))
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(folder)
    return load(folder)


def _run_suites(reference: Path, suites: Tuple[str, ...], work: Path, mnist_dir: Path) -> Tuple[list, list]:
    """(key tests, failures) of running ``suites`` on ``reference``; the runs
    keep what they hand over under ``work``."""
    tests, failures = [], []
    for suite in suites:
        for question in QUESTIONS:
            if not suite_file(suite, question).is_file():
                failures.append(f"{suite_file(suite, question)} is missing: every question needs a file in each suite")
                continue
            run = run_question(reference, suite, question, work, mnist_dir=mnist_dir)
            log(f"  {suite}/{question.name}: {run.seconds:.1f} s")
            if run.report is None or run.returncode not in (0, 1) or not run.report["tests"]:
                failures.append(f"{suite}/{question.name}: the tests did not run (exit code "
                                f"{run.returncode}): {collection_error(run.output_tail) or 'no tests'}")
                continue
            names = hints(suite_file(suite, question))
            for test in run.report["tests"]:
                if test["outcome"] != "passed":
                    failures.append(f"{test['nodeid']}: {test['outcome']}")
                    continue
                meta_path = _values_meta(run.record_dir, test["nodeid"])
                values = json.loads(meta_path.read_text())["values"] if meta_path else {}
                tests.append(KeyTest(test["nodeid"], suite, question.name,
                                     names.get(_function_name(test["nodeid"]), ""), values))
    return tests, failures


def _values_meta(record_dir: Path, nodeid: str) -> Optional[Path]:
    path = folder_of(record_dir, nodeid) / "meta.json"
    return path if path.is_file() else None


def load(folder: Path) -> AnswerKey:
    data = json.loads((folder / "key.json").read_text())
    return AnswerKey(folder, data["fingerprint"], tuple(KeyTest(**t) for t in data["tests"]))


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
            key = load(folder)
            if key.fingerprint == fingerprint():
                return key
        return build(folder, mnist_dir=mnist_dir)


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)
