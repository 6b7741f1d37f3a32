"""What one run may take from its neighbours (issue 25), measured from
outside the box: the disk a run's writable folder fills on the host, the
memory all its processes hold together, and an honest classmate's score
beside one whose every run spins 15 busy loops.  tests/hostile.py's
gallery grades the same misbehaviour end to end; these tests watch it."""
import json
import os
import threading
from pathlib import Path

import pytest

from grader import defaults
from grader.questions import QUESTIONS, TOTAL_POINTS
from grader.results import points_by_question
from grader.run import MAX_REPORT_BYTES, record_allowance, run_question, stage_mnist
from tests.grading import KIT, copy_root, run_grader
from tests.hostile import (CPU_HOG_AT_IMPORT, DISK_FILLER, MEMORY_HOG_IN_CHILDREN, RECORD_FLOOD, SPARSE_RECORDS,
                           _in_ewise_pow, _with_init)

pytestmark = pytest.mark.grading

FORWARD_OPS = next(q for q in QUESTIONS if q.name == "forward_ops")  # its public tests call EWisePow
MiB = 1 << 20
# The caps hold for the whole run only where the grader mounts and makes cgroups.
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the whole-run caps need root (README's limits table)")


class _Peak:
    """Samples ``measure()`` (a tuple of figures) every few milliseconds
    while the block runs; ``peak`` is the largest value seen of each."""

    def __init__(self, measure):
        self.measure, self._done = measure, threading.Event()

    def __enter__(self):
        self.peak = self.measure()

        def sample():
            while not self._done.wait(0.005):
                self.peak = tuple(map(max, self.peak, self.measure()))
        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._done.set()
        self._thread.join()


def _on_disk(folder: Path) -> int:
    """Bytes allocated under ``folder`` on its own file system (a tmpfs
    mounted inside is memory, not disk), whatever appears or goes meanwhile;
    files of several links (the boxes' links to the staged MNIST) aside."""
    return _disk_use(folder)[0]


def _disk_use(folder: Path):
    """(bytes, entries) under ``folder`` on its own file system (see _on_disk)."""
    device, total, count, stack = folder.stat().st_dev, 0, 0, [str(folder)]
    while stack:
        try:
            with os.scandir(stack.pop()) as entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue  # gone meanwhile
                    if info.st_dev != device:
                        continue
                    count += 1
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                    elif info.st_nlink == 1:
                        total += info.st_blocks * 512
        except OSError:
            continue
    return total, count


def _in_tmpfs(folder: Path) -> int:
    """Bytes used in the tmpfs mounts under ``folder`` (the runs' out/)."""
    used = 0
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            _, where, kind = line.split()[:3]
            if kind == "tmpfs" and where.startswith(str(folder) + "/"):
                try:
                    info = os.statvfs(where)
                except OSError:
                    continue
                used += (info.f_blocks - info.f_bfree) * info.f_frsize
    return used


def _held_in_memory(folder: Path) -> int:
    """Bytes that the processes of the runs under ``folder`` (their command
    lines name it) hold together: proportional set sizes, so that pages a
    fork shares are counted once."""
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(folder).encode() not in (proc / "cmdline").read_bytes():
                continue
            rollup = (proc / "smaps_rollup").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) * 1024 for line in rollup.splitlines() if line.startswith("Pss:")), 0)
    return total


def _run_forward_ops(submission: Path, tmp_path: Path, mnist_dir: Path, measure, expected=None):
    """Runs the public forward_ops tests on ``submission`` as grading does
    (``expected``: the key's records of the run), with ``measure(work)``
    sampled meanwhile; returns the run and the peak."""
    (tmp_path / "staged").mkdir()
    staged = stage_mnist(mnist_dir, tmp_path / "staged")  # outside ``work``: its 11 MB are not the run's
    work = tmp_path / "work"
    work.mkdir()
    with _Peak(lambda: measure(work)) as peak:
        run = run_question(submission, "public", FORWARD_OPS, work, mnist_dir=staged, limits=defaults.limits(120),
                           expected=expected)
    return run, peak.peak


@needs_root
def test_a_run_filling_its_writable_folder_puts_no_more_than_the_cap_on_the_hosts_disk(tmp_path, mnist_dir):
    """The disk filler's files are named as records, which the grader
    copies out: the host's disk gets what the run's tmpfs held, no more."""
    cap = defaults.LIMITS.disk_bytes
    submission = _with_init("reference", _in_ewise_pow(DISK_FILLER))(tmp_path)
    run, (disk, held) = _run_forward_ops(submission, tmp_path, mnist_dir, lambda work: (_on_disk(work),
                                                                                         _in_tmpfs(work)))
    assert held > cap - 64 * MiB, f"the filler filled only {held / MiB:.0f} MiB of its {cap / MiB:.0f} MiB"
    assert held <= cap, f"the run's tmpfs held {held / MiB:.0f} MiB"
    # The box's copy of the submission and the suite (under 1 MiB) is the margin.
    assert disk <= cap + 4 * MiB, f"the host's disk held {disk / MiB:.0f} MiB of one run (cap {cap / MiB:.0f} MiB)"
    assert run.walls.disk, run.walls


@needs_root
def test_what_a_run_leaves_in_its_records_costs_the_host_no_more_than_the_keys_records(tmp_path, mnist_dir,
                                                                                     answer_key):
    """100,000 empty folders named as tests' (no space on the run's tmpfs),
    and every record and the report sparse files of many times their size:
    the grader looks only for what the key has, and copies no more than
    its allowance (a red team put 298,554 inodes and 6 GiB on the host)."""
    expected = answer_key / "public" / FORWARD_OPS.name / "records"
    keys = [f for f in expected.glob("*/*")]
    code = "\nimport os as _os\n" + RECORD_FLOOD.replace("FOLDERS", "100_000") + SPARSE_RECORDS
    submission = _with_init("reference", code)(tmp_path)
    run, (disk, entries) = _run_forward_ops(submission, tmp_path, mnist_dir, _disk_use, expected=expected)
    # The box's copy of the submission and the suite (a few hundred files, under 1 MiB) is the margin.
    assert entries <= 2 * len(keys) + 1000, f"{entries} files and folders on the host for {len(keys)} records"
    allowance = record_allowance(expected) + 2 * MAX_REPORT_BYTES
    assert disk <= allowance + 4 * MiB, f"{disk / MiB:.0f} MiB on the host (allowance {allowance / MiB:.0f} MiB)"
    assert run.report is None or run.report["tests"], run


@needs_root
def test_children_of_a_run_hold_no_more_than_its_memory_together(tmp_path, mnist_dir):
    """Three children taking 2 GiB each: together they never hold more
    than the run's 4 GiB; the kernel kills some, and the parent says so."""
    cap = defaults.LIMITS.memory_bytes
    submission = _with_init("reference", _in_ewise_pow(MEMORY_HOG_IN_CHILDREN))(tmp_path)
    run, (held,) = _run_forward_ops(submission, tmp_path, mnist_dir, lambda work: (_held_in_memory(work),))
    assert held > 2 * cap // 3, f"the children held only {held / MiB:.0f} MiB at most"
    assert held <= cap + 64 * MiB, f"the run's processes held {held / MiB:.0f} MiB together (cap {cap / MiB:.0f} MiB)"
    failures = json.dumps(run.report)
    assert "children holding 2 GiB each: killed by signal 9" in failures, failures[-3000:]


# --- an honest classmate beside a CPU hog -------------------------------------

def _class_with_a_hog(folder: Path) -> Path:
    """``folder/class``: honest, the reference; and hog, the reference whose
    every run spins 15 busy loops in sessions of their own from import on."""
    copy_root(KIT / "reference", folder / "class" / "honest")
    _with_init("reference", CPU_HOG_AT_IMPORT)(folder).rename(folder / "class" / "hog")
    return folder / "class"


@pytest.mark.parametrize("options", [("--jobs", 2, "--accept-collusion-risk"), ()],
                         ids=["side-by-side", "one-at-a-time"])
def test_honest_student_keeps_full_marks_beside_a_cpu_hog(options, answer_key, mnist_dir, tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    out = tmp_path / "out"
    graded = run_grader("batch", _class_with_a_hog(tmp_path), "--out", out, *options,
                        "--key-dir", answer_key, "--mnist-dir", mnist_dir, timeout=3600, temp=temp)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    honest = json.loads((out / "honest.json").read_text(encoding="utf-8"))
    lost = {q: (score, total) for q, (score, total) in points_by_question(honest).items() if score < total}
    assert honest["score"] == TOTAL_POINTS, f"honest lost points: {lost}\n{honest['output'][-3000:]}"
    assert list(temp.iterdir()) == []
