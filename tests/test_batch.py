"""Grading a class end to end, through the command line: the entries
students really send, results per student, the CSV, the report, reruns
that skip what did not change, classmates kept apart.  (Naming, statuses,
the roster and reruns in detail: tests/test_batch_class.py.)"""
import csv
import json
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from grader.questions import QUESTIONS

pytestmark = pytest.mark.grading

KIT = Path(__file__).resolve().parent.parent


def _batch(submissions, out, answer_key, mnist_dir, *extra):
    return subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(submissions), f"--out={out}", "--suites=public",
         "--jobs=2", "--accept-collusion-risk", f"--key-dir={answer_key}", f"--mnist-dir={mnist_dir}", *extra],
        cwd=KIT, capture_output=True, text=True, timeout=900,
    )


def test_batch_regrades_when_the_grading_options_change(tmp_path, answer_key, mnist_dir):
    """A result graded with a 5-second budget is no result for a rerun with
    the default one (found by the red team: it was reused)."""
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    (class_dir / "eve.zip").write_text("not an archive")
    out = tmp_path / "out"
    for extra, unchanged in (((), 0), ((), 1), (("--budget=5",), 0), (("--budget=5",), 1), (("--timeout=30",), 0)):
        result = _batch(class_dir, out, answer_key, mnist_dir, *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"1 students: 1 ungradable ({unchanged} unchanged" in result.stdout, (extra, result.stdout)


def _zip(folder: Path, archive: Path, top: str = "") -> Path:
    """``folder``'s needle/ and apps/ (under ``top``/ if given) zipped."""
    with zipfile.ZipFile(archive, "w") as z:
        for name in ("needle", "apps"):
            for path in sorted((folder / name).rglob("*.py")):
                z.write(path, f"{top}{path.relative_to(folder).as_posix()}")
    return archive


def test_batch_grades_a_class_as_students_send_it(tmp_path, answer_key, mnist_dir):
    class_dir = tmp_path / "class"
    class_dir.mkdir()
    _zip(KIT / "reference", class_dir / "smith.jane.zip")
    _zip(KIT / "handout", class_dir / "smith.john.zip")
    _zip(KIT / "handout", class_dir / "kim.ZIP")
    with tarfile.open(class_dir / "park.tar", "w") as t:
        for name in ("needle", "apps"):
            t.add(KIT / "handout" / name, arcname=name, filter=lambda i: None if "__pycache__" in i.name else i)
    (class_dir / "lee.rar").write_bytes(b"Rar!\x1a\x07\x00")
    # the whole bundle folder zipped: needle/ two folders deep
    _zip(KIT / "handout", class_dir / "nested.zip", top="needle-handout/handout/")
    shutil.copytree(KIT / "reference" / "needle", class_dir / "no_apps" / "needle",
                    ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"

    first = _batch(class_dir, out, answer_key, mnist_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    rows = {row["student"]: row for row in csv.DictReader((out / "scores.csv").open())}
    public_points = sum(q.points for q in QUESTIONS)
    assert {n: (r["status"], float(r["total"])) for n, r in rows.items()} == {
        "smith.jane": ("graded", public_points), "smith.john": ("graded", 0.0), "kim": ("graded", 0.0),
        "park": ("graded", 0.0), "lee.rar": ("ungradable", 0.0), "nested": ("graded", 0.0),
        "no_apps": ("ungradable", 0.0)}
    assert [c for c in rows["kim"]][3:] == [q.name for q in QUESTIONS]
    no_apps = json.loads((out / "no_apps.json").read_text())["output"]
    assert "apps/" in no_apps and "Submit the folders needle/ and apps/" in no_apps, no_apps
    assert "[7/7]" in first.stderr, first.stderr[-2000:]  # progress, one line per student
    report = (out / "report.html").read_text()
    assert "smith.jane" in report and "lee.rar" in report

    (class_dir / "lee.rar").unlink()
    _zip(KIT / "handout", class_dir / "lee.zip")
    second = _batch(class_dir, out, answer_key, mnist_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "7 students: 6 graded, 1 ungradable (6 unchanged since the last run" in second.stdout, second.stdout
    rows = {row["student"]: row for row in csv.DictReader((out / "scores.csv").open())}
    assert "lee.rar" not in rows and rows["lee"]["status"] == "graded"


# Looks for a classmate's code wherever a grading might keep it (the
# grader's temporary folders, other processes' folders, a copy an earlier
# run of its own stashed in /dev/shm), and uses the first it finds.
CLASSMATE_THIEF = '''
import glob as _glob
import os as _os
import shutil as _shutil
import sys as _sys
import time as _time

_own = _os.path.dirname(_os.path.abspath(__file__))
_patterns = ["/dev/shm/stolen/needle", "/tmp/grade-*/submission/needle", "/tmp/grade-*/runs/box-*/submission/needle",
             "/proc/[0-9]*/cwd/../submission/needle", "/tmp/*/*/submission/needle"]
for _attempt in range(20):
    _found = [p for pattern in _patterns for p in _glob.glob(pattern)
              if _os.path.realpath(p) != _os.path.realpath(_own) and _os.path.isfile(p + "/autograd.py")]
    if _found:
        print(f"classmate thief: took {_found[0]}", file=_sys.stderr)
        try:
            _shutil.copytree(_found[0], "/dev/shm/stolen/needle", dirs_exist_ok=True)
        except OSError:
            pass
        __path__[:] = [_found[0]]
        break
    _time.sleep(0.1)
'''


def test_batch_keeps_classmates_apart(tmp_path, answer_key, mnist_dir):
    """Graded side by side, a thief finds nothing of its classmate's code:
    it scores what its own (untouched handout) code earns, 0."""
    class_dir = tmp_path / "class"
    for student, base in (("alice", "reference"), ("mallory", "handout")):
        for folder in ("needle", "apps"):
            shutil.copytree(KIT / base / folder, class_dir / student / folder)
    init = class_dir / "mallory" / "needle" / "__init__.py"
    init.write_text(CLASSMATE_THIEF + init.read_text())
    out = tmp_path / "out"
    graded = _batch(class_dir, out, answer_key, mnist_dir)
    assert graded.returncode == 0, graded.stderr[-3000:]
    scores = {row["student"]: float(row["total"]) for row in csv.DictReader((out / "scores.csv").open())}
    assert scores == {"alice": sum(q.points for q in QUESTIONS), "mallory": 0.0}
    assert not Path("/dev/shm/stolen").exists()
