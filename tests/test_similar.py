"""``python -m grader similar``: near-copies in a class, with the handout's
code counting for nobody.

The class is made from the reference: each student solves its own random
half of the solution regions (the rest stay the handout's TODOs), so that
honest students share only the regions that both solved; the planted
near-copy is one student's code with names, comments and the order of
functions changed."""
import ast
import os
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Set

import pytest

from grader import defaults, handout, similar
from grader.questions import COURSE
from tests.grading import copy_root
from tests.hostile import CLASS_GALLERY

KIT = Path(__file__).resolve().parent.parent
# A few of the reference's files, those with the most solution regions,
# keep the class quick to compare; needle/__init__.py makes each a submission.
FILES = ("needle/__init__.py", "needle/ops/ops_mathematic.py", "needle/nn/nn_basic.py", "apps/simple_ml.py")
RENAMES = {"out_grad": "upstream", "node": "this_node", "X": "features"}


def _regions():
    return [r for r in handout.all_regions(defaults.REFERENCE) if r.path in FILES]


def _write_student(folder: Path, solved: Set[handout.Region]) -> Path:
    """A submission solving the regions ``solved`` as the reference does,
    with the handout's TODOs everywhere else."""
    for path in FILES:
        text = (defaults.REFERENCE / path).read_text(encoding="utf-8")
        todo = [r for r in handout.find_regions(path, text) if r not in solved]
        lines = handout.render(text, todo).splitlines(keepends=True)
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(line for line in lines if line.strip() not in (handout.BEGIN, handout.END)),
                          encoding="utf-8")
    return folder


def _reordered(text: str) -> str:
    """``text`` with the functions of each body (the module's, each class's)
    in reverse order, each moving into another's place."""
    lines, tree = text.splitlines(keepends=True), ast.parse(text)
    spans = []
    for body in [tree.body] + [n.body for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
        functions = [n for n in body if isinstance(n, ast.FunctionDef)]
        places = [(min([f.lineno] + [d.lineno for d in f.decorator_list]) - 1, f.end_lineno) for f in functions]
        spans += [(place, lines[start:end]) for place, (start, end) in zip(places, reversed(places))]
    for (start, end), moved in sorted(spans, reverse=True):  # from the bottom: earlier places stay put
        lines[start:end] = moved
    return "".join(lines)


def _near_copy(original: Path, folder: Path) -> Path:
    """``original`` with identifiers renamed, its comments rewritten and its
    functions reordered: what a student hiding a copy would do."""
    for path in FILES:
        text = (original / path).read_text(encoding="utf-8")
        for old, new in RENAMES.items():
            text = re.sub(rf"\b{old}\b", new, text)
        text = re.sub(r"^(\s*)#.*$", r"\1# my own note on this", text, flags=re.MULTILINE)
        text = re.sub(r"^(\s*)def ", r"\1# here is how I did it\n\1def ", text, flags=re.MULTILINE)
        text = _reordered(text)
        compile(text, path, "exec")  # still Python
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Ten students solving random halves, a near-copy of one of them, a
    student who handed in the handout unchanged: who was copied, what they
    solved, and every pair's score."""
    folder = tmp_path_factory.mktemp("class")
    given = tmp_path_factory.mktemp("handout")
    handout.write(defaults.REFERENCE, given)  # what the reference makes, whether or not handout/ is in sync
    regions, rng = _regions(), random.Random(14)
    solved = {f"student{number:02d}": set(rng.sample(regions, len(regions) // 2)) for number in range(1, 11)}
    roots: Dict[str, Path] = {name: _write_student(folder / name, chosen) for name, chosen in solved.items()}
    copied = rng.choice(sorted(roots))
    roots["student11"] = _near_copy(roots[copied], folder / "student11")
    roots["unchanged"] = _write_student(folder / "unchanged", set())
    return copied, solved[copied], similar.pairs(roots, given)


def test_a_planted_near_copy_is_the_top_pair(planted):
    copied, solved, found = planted
    top = found[0]
    assert {top.first, top.second} == {copied, "student11"}, found[:3]
    assert min(top.first_in_second, top.second_in_first) > 0.9, top
    assert set(top.files) == {region.path for region in solved}, "the files with the copied student's own code"


def test_every_pair_is_ranked_once_most_similar_first(planted):
    *_, found = planted
    assert len({frozenset((p.first, p.second)) for p in found}) == len(found) == 12 * 11 // 2
    assert [p.similarity for p in found] == sorted((p.similarity for p in found), reverse=True)


def test_the_handouts_code_counts_for_nobody(planted):
    *_, found = planted
    with_unchanged = [p for p in found if "unchanged" in (p.first, p.second)]
    assert len(with_unchanged) == 11
    assert all(p.similarity == p.first_in_second == p.second_in_first == 0 and p.files == ()
               for p in with_unchanged), with_unchanged


def test_honest_students_score_well_below_the_near_copy(planted):
    *_, found = planted
    honest = [p for p in found if "unchanged" not in (p.first, p.second) and "student11" not in (p.first, p.second)]
    assert all(0 < p.similarity < found[0].similarity - 0.2 for p in honest), honest[:3]


def _zip(folder: Path, archive: Path) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for path in sorted(folder.rglob("*.py")):
            z.write(path, path.relative_to(folder).as_posix())
    return archive


def test_similar_command_ranks_archives_and_lists_what_it_skipped(tmp_path):
    regions, rng = _regions(), random.Random(3)
    made, klass, temp = tmp_path / "made", tmp_path / "class", tmp_path / "tmp"
    klass.mkdir()
    temp.mkdir()
    ann = _write_student(klass / "ann", set(rng.sample(regions, len(regions) // 2)))
    _zip(_near_copy(ann, made / "copy"), klass / "cal.ZIP")
    _write_student(made / "bob", set(rng.sample(regions, len(regions) // 2)))
    subprocess.run(["tar", "-czf", str(klass / "bob.tar.gz"), "-C", str(made / "bob"), "needle", "apps"], check=True)
    (klass / "broken.zip").write_bytes(b"not a zip at all")
    (klass / "notes.txt").write_text("grades\n")
    (klass / "empty").mkdir()

    done = subprocess.run([sys.executable, "-m", "grader", "similar", str(klass), "--top", "2",
                           "--out", str(tmp_path / "report")],
                          cwd=KIT, capture_output=True, text=True, env={**os.environ, "TMPDIR": str(temp)})
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("3 students compared, 3 skipped"), done.stdout
    ranked = [line.split() for line in lines if re.match(r"\s+\d+\s+\d+%", line)]
    assert [row[0] for row in ranked] == ["1", "2"] and ranked[0][-3:] == ["ann", "/", "cal"], done.stdout
    skipped = lines[lines.index("Skipped (not compared):") + 1:]
    assert [line.split(":")[0].strip() for line in skipped] == ["broken", "empty", "notes.txt"], done.stdout
    assert "broken.zip cannot be read" in skipped[0] and "no needle/ folder" in skipped[1]
    assert "notes.txt is neither a folder nor an archive" in skipped[2]
    assert (tmp_path / "report" / "report.html").stat().st_size > 0
    assert list(temp.iterdir()) == [], "the working folder was left behind"


def test_an_assignments_released_solutions_count_for_nobody(tmp_path):
    """Two hw2 students who handed in hw2's handout as given (hw1's released
    code in it) wrote nothing alike: nothing of theirs matches."""
    klass = tmp_path / "class"
    for name in ("ann", "bob"):
        handout.write(defaults.REFERENCE, klass / name, [q.name for q in COURSE.assignment("hw2").released])
    done = subprocess.run([sys.executable, "-m", "grader", "similar", str(klass), "--assignment", "hw2"],
                          cwd=KIT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    ranked = [line.split() for line in done.stdout.splitlines() if re.match(r"\s+\d+\s+\d+%", line)]
    assert [row[1] for row in ranked] == ["0%"], done.stdout
    assert "released solutions of hw2's earlier assignments" in done.stdout.splitlines()[0], done.stdout


@pytest.mark.parametrize("hostile", CLASS_GALLERY, ids=[h.name for h in CLASS_GALLERY])
def test_similar_finishes_with_a_hostile_entry_and_its_report_runs_no_script(tmp_path, remove_deep_trees, hostile):
    import threading

    class_dir = tmp_path / "class"
    for name in ("ada", "bob"):
        copy_root(KIT / "handout", class_dir / name)
    hostile.make(class_dir)
    # copydetect's HTML report (seconds to draw) only where names carry markup
    out, done = (tmp_path / "out" if hostile.name == "markup_everywhere" else None), {}
    worker = threading.Thread(target=lambda: done.update(text=similar.run(
        class_dir, top=10, boilerplate=defaults.HANDOUT, out=out)), daemon=True)
    worker.start()
    worker.join(120)
    assert "text" in done, f"similar did not finish within 120 s ({hostile.why})"
    text = done["text"]
    assert "ada / bob" in text and all(c.isprintable() or c == "\n" for c in text), text
    if hostile.says:
        assert hostile.says in text, text
    if out is not None:
        page = (out / "report.html").read_text(encoding="utf-8")
        assert "<img src=x" not in page and "<script>alert" not in page and "student-003" in page
    if hostile.name == "huge_source":
        assert f"not compared (over {similar.MAX_SOURCE >> 10} KiB, or past " in text and ": hugo: needle/huge.py" in text, text
