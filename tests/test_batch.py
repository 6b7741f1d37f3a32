"""Grading a class: results per student, a CSV, a summary, and reruns that
skip what did not change."""
import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

from grader.questions import QUESTIONS

KIT = Path(__file__).resolve().parent.parent


def _batch(submissions, out, answer_key, mnist_dir):
    return subprocess.run(
        [sys.executable, "-m", "grader", "batch", str(submissions), f"--out={out}", "--suites=public",
         "--jobs=2", f"--key-dir={answer_key}", f"--mnist-dir={mnist_dir}"],
        cwd=KIT, capture_output=True, text=True, timeout=900,
    )


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
