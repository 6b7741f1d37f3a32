"""Near-copies in a class: every pair of students, ranked by how much of
their own code (what the handout did not give them) matches.

copydetect does the detection: it tokenizes each file (names, strings and
comments do not count), fingerprints it by winnowing and drops every
fingerprint of the handout.  Before that, the definitions of each module and
class are put in name order, handout included: moved functions then match
as they are, and the handout's moved around still counts for nobody.
Files are compared with the file at the same path of the other submission
(the handout fixes the layout), and the matches of all files make the
pair's score.  Nothing here runs submitted code: submissions are unpacked
by ``submission.prepare``, as for grading."""
import ast
import io
import re
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

from . import batch
from .errors import SubmissionError
from .run import remove_work_folder, work_folder
from .submission import prepare

# copydetect's defaults: matches shorter than 25 characters of tokenized
# code are noise, and every match of that length is found (window 1).
NOISE = 25
GUARANTEE = 25
FILES_SHOWN = 3  # per pair, in the printed list


@dataclass(frozen=True)
class Pair:
    """Two students and how much of their own code matches the other's."""

    first: str
    second: str
    # The share of the two students' own code, counted together, that
    # matches the other's (JPlag's "average similarity"): ranks the pairs.
    similarity: float
    first_in_second: float  # the share of first's own code found in second's
    second_in_first: float
    files: Tuple[str, ...]  # paths that match, the most matched code first


@dataclass(frozen=True)
class _File:
    own: float  # tokens of the file's own code (not the handout's)
    fingerprint: object  # copydetect.CodeFingerprint


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _first_line(node: ast.stmt) -> int:
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", ())])


def _in_name_order(text: str) -> str:
    """``text`` with the function and class definitions of each body (the
    module's, each class's) in name order, each with the comments and blank
    lines above it; every other statement keeps its place."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return text  # compared as it is
    lines = io.StringIO(text, newline="").readlines()  # the line ends that ast counts, and those only

    def ordered(body: List[ast.stmt], start: int, end: int) -> str:
        pieces = []  # one per statement: from the end of the one before to its own end
        for node in body:
            stop = end if node is body[-1] else node.end_lineno
            if isinstance(node, ast.ClassDef):
                inner = _first_line(node.body[0]) - 1
                pieces.append((node, "".join(lines[start:inner]) + ordered(node.body, inner, stop)))
            else:
                pieces.append((node, "".join(lines[start:stop])))
            start = stop
        by_name = iter(sorted((p for p in pieces if isinstance(p[0], _DEFINITIONS)), key=lambda p: p[0].name))
        return "".join((next(by_name) if isinstance(node, _DEFINITIONS) else (node, piece))[1]
                       for node, piece in pieces)

    return ordered(tree.body, 0, len(lines)) if tree.body else text


def _source(path: Path) -> str:
    # Read leniently: a stray byte must not hide a student from the comparison.
    return _in_name_order(path.read_bytes().decode("utf-8", errors="replace"))


def _fingerprint(path: Path, window: int, boilerplate=None):
    from copydetect import CodeFingerprint

    return CodeFingerprint(str(path), NOISE, window, boilerplate=boilerplate, fp=io.StringIO(_source(path)))


# Sources are tokenized in the grader's own process: a file past this size
# (the handout's largest is a few dozen KiB) would cost gigabytes.
MAX_SOURCE = 256 << 10
# copydetect's report shows file paths as they are (no escaping): only
# such paths go into it.
SAFE_PATH = re.compile(r"[A-Za-z0-9_./-]+")


MAX_STUDENT_SOURCE = 1 << 20  # all of one student's files compared: the handout holds about 150 KiB


def _split(root: Path) -> Tuple[List[Path], List[Path]]:
    """The Python files of ``root`` that are compared, and those left out:
    past MAX_SOURCE, or past MAX_STUDENT_SOURCE in all (in path order)."""
    compared, left_out, used = [], [], 0
    for path in sorted(p for p in root.rglob("*.py") if p.is_file()):
        size = path.stat().st_size
        if size > MAX_SOURCE or used + size > MAX_STUDENT_SOURCE:
            left_out.append(path)
        else:
            compared.append(path)
            used += size
    return compared, left_out


def _python_files(root: Path) -> List[Path]:
    return _split(root)[0]


def _too_big(root: Path) -> List[str]:
    return [p.relative_to(root).as_posix() for p in _split(root)[1]]


def _files(root: Path, boilerplate) -> Dict[str, _File]:
    found = {}
    for path in _python_files(root):
        fingerprint = _fingerprint(path, GUARANTEE - NOISE + 1, boilerplate)
        found[path.relative_to(root).as_posix()] = _File(float(fingerprint.token_coverage), fingerprint)
    return found


def _share(matched: float, own: float) -> float:
    return matched / own if own else 0.0


def _pair(first: str, a: Dict[str, _File], second: str, b: Dict[str, _File]) -> Pair:
    from copydetect import compare_files

    matched_a = matched_b = 0.0
    by_file = []
    for path in sorted(a.keys() & b.keys()):
        _, (share_a, share_b), _ = compare_files(a[path].fingerprint, b[path].fingerprint)
        in_a, in_b = share_a * a[path].own, share_b * b[path].own  # matched tokens on each side
        matched_a, matched_b = matched_a + in_a, matched_b + in_b
        if in_a + in_b:
            by_file.append((-(in_a + in_b), path))
    own_a, own_b = (sum(f.own for f in files.values()) for files in (a, b))
    return Pair(first, second, _share(matched_a + matched_b, own_a + own_b), _share(matched_a, own_a),
                _share(matched_b, own_b), tuple(path for _, path in sorted(by_file)))


def pairs(roots: Mapping[str, Path], boilerplate: Path) -> List[Pair]:
    """Every pair of the implementation roots (student name -> folder with
    needle/ and apps/), the most similar first; code found in the
    ``boilerplate`` folder (the handout) counts for nobody."""
    import numpy as np

    # Every fingerprint of the handout (window 1), as copydetect's own detector takes them.
    given = [_fingerprint(path, 1).hashes for path in _python_files(boilerplate)]
    hashes = np.unique(np.array([h for found in given for h in found], dtype=np.int64))
    files = {name: _files(root, hashes) for name, root in roots.items()}
    found = [_pair(a, files[a], b, files[b]) for a, b in combinations(sorted(files), 2)]
    return sorted(found, key=lambda p: (-p.similarity, p.first, p.second))


def _ordered_copy(root: Path, copy: Path) -> Path:
    """The Python files of ``root`` as they are compared, in ``copy``
    (those with plain paths: the report prints them as they are)."""
    for path in _python_files(root):
        if not SAFE_PATH.fullmatch(path.relative_to(root).as_posix()):
            continue
        target = copy / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(_source(path), encoding="utf-8")
    return copy


def _report(roots: Mapping[str, Path], boilerplate: Path, work: Path, out: Path) -> Path:
    """copydetect's HTML report of the files that match, in ``out``: it
    shows the code as it was compared (definitions in name order), under
    ``work/report/<student>/``."""
    import matplotlib

    matplotlib.use("Agg")  # the report's charts go into a file, never a window
    from copydetect import CopyDetector

    given = _ordered_copy(boilerplate, work / "handout")
    # Students by number: their names are theirs to choose, and the report prints them as they are.
    students = [_ordered_copy(root, work / "report" / f"student-{i:03d}") for i, root in enumerate(roots.values(), 1)]
    out.mkdir(parents=True, exist_ok=True)
    report = out / "report.html"
    detector = CopyDetector(test_dirs=[str(s) for s in students], boilerplate_dirs=[str(given)],
                            extensions=["py"], noise_t=NOISE, guarantee_t=GUARANTEE, same_name_only=True,
                            autoopen=False, silent=True, out_file=str(report))
    detector.run()
    detector.generate_html_report()
    return report


def _percent(share: float) -> str:
    return f"{100 * share:3.0f}%"


def _table(found: List[Pair], top: int) -> List[str]:
    lines = [f"The {min(top, len(found))} most similar of {len(found)} pairs (own code: what the handout did not "
             f"give them):",
             "  sim  the share of both students' own code that matches the other's",
             "  a>b  the share of a's own code found in b's (b>a: the reverse)",
             "", "    #   sim   a>b   b>a  a / b"]
    for rank, p in enumerate(found[:top], start=1):
        lines.append(f"{rank:5d}  {_percent(p.similarity)}  {_percent(p.first_in_second)}  "
                     f"{_percent(p.second_in_first)}  {p.first} / {p.second}")
        if p.files:
            more = len(p.files) - FILES_SHOWN
            lines.append("             matching most: " + ", ".join(map(batch.printable, p.files[:FILES_SHOWN]))
                         + (f" and {more} more" if more > 0 else ""))
    return lines


def run(class_dir: Path, *, top: int, boilerplate: Path, out: Optional[Path] = None, given: str = "") -> str:
    """Compare every student of ``class_dir`` (a folder or an archive each)
    with every other, less the code of ``boilerplate`` (``given`` says what
    it is, when not its path); returns the report to print, which names the
    students skipped and why.  With ``out``, writes copydetect's HTML
    report there too."""
    entries = batch.entries(class_dir)
    work = work_folder()  # removed below; if killed, by the next grading's start
    try:
        roots, skipped = {}, []
        for entry in entries:
            if entry.problem:
                skipped.append((entry.name, entry.problem))
                continue
            try:
                roots[entry.name] = prepare(entry.path, work / "students" / entry.name)
            except SubmissionError as error:
                skipped.append((entry.name, str(error)))
            except OSError as error:  # what the grader could not unpack: that student only
                skipped.append((entry.name, f"could not be unpacked ({error.strerror or error})"))
        lines = [f"{len(roots)} students compared, {len(skipped)} skipped; code of the handout "
                 f"({given or boilerplate}) does not count.", ""]
        if len(roots) < 2:
            lines.append("Fewer than two students to compare.")
        else:
            lines += _table(pairs(roots, boilerplate), top)
            if out is not None:
                lines += ["", f"wrote {_report(roots, boilerplate, work, out)}, where the students are numbered:"]
                lines += [f"  student-{i:03d}: {name}" for i, name in enumerate(roots, 1)]
        too_big = {name: _too_big(root) for name, root in roots.items()}
        lines += [f"not compared (over {MAX_SOURCE >> 10} KiB, or past {MAX_STUDENT_SOURCE >> 10} KiB in all): "
                  f"{name}: {', '.join(map(batch.printable, files))}" for name, files in too_big.items() if files]
    finally:
        remove_work_folder(work)
    if skipped:
        lines += ["", "Skipped (not compared):"]
        lines += [f"  {name}: {batch.printable(' '.join(why.split()))}" for name, why in skipped]
    return "\n".join(lines)
