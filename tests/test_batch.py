"""Grading a class: results per student, a CSV, a summary, and reruns that
skip what did not change."""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.questions import QUESTIONS

pytestmark = pytest.mark.grading

KIT = Path(__file__).resolve().parent.parent


def _batch(submissions, out, answer_key, mnist_dir, *extra):
    return subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(submissions), f"--out={out}", "--suites=public",
         "--jobs=2", f"--key-dir={answer_key}", f"--mnist-dir={mnist_dir}", *extra],
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
        assert f"1 submissions ({unchanged} unchanged" in result.stdout, (extra, result.stdout)


def test_batch_grades_each_student_writes_csv_and_summary_and_skips_unchanged(tmp_path, answer_key, mnist_dir):
    class_dir = tmp_path / "class"
    for folder in ("needle", "apps"):
        shutil.copytree(KIT / "reference" / folder, class_dir / "ada" / folder)
    shutil.make_archive(str(class_dir / "bob"), "zip", KIT / "handout")
    (class_dir / "eve.zip").write_text("not an archive")
    out = tmp_path / "out"

    first = _batch(class_dir, out, answer_key, mnist_dir)
    assert first.returncode == 0, first.stderr[-3000:]
    scores = {row["student"]: row for row in csv.DictReader((out / "scores.csv").open())}
    assert set(scores) == {"ada", "bob", "eve"}
    public_points = sum(q.points for q in QUESTIONS)
    assert float(scores["ada"]["total"]) == public_points
    assert float(scores["bob"]["total"]) == 0 and float(scores["eve"]["total"]) == 0
    assert [c for c in scores["ada"] if c not in ("student", "total")] == [q.name for q in QUESTIONS]
    eve = json.loads((out / "eve.json").read_text())
    assert eve["score"] == 0 and "could not be graded" in eve["output"]
    summary = (out / "summary.txt").read_text()
    assert "3 submissions (0 unchanged" in summary and "ungradable: 1" in summary

    (class_dir / "eve.zip").unlink()
    shutil.make_archive(str(class_dir / "eve"), "zip", KIT / "reference")
    second = _batch(class_dir, out, answer_key, mnist_dir)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "3 submissions (2 unchanged since the last run" in second.stdout
    scores = {row["student"]: row for row in csv.DictReader((out / "scores.csv").open())}
    assert float(scores["eve"]["total"]) == public_points


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
