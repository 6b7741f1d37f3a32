"""Every default of the grader's command line, in one place."""
from pathlib import Path
from typing import Optional

from .sandbox import Limits

KIT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = KIT_ROOT / "reference"
HANDOUT = KIT_ROOT / "handout"
TESTS_PUBLIC = KIT_ROOT / "tests_public"
MNIST_FETCH = KIT_ROOT / "mnist_fetch.py"
STUDENT_BUNDLE = Path("needle-handout.zip")
# The assignment of grader/course.toml that commands grade unless given --assignment: every question.
ASSIGNMENT = "all"
# The assignment column of batch's gradebook export (Canvas makes one of that name).
GRADEBOOK_COLUMN = "Needle"

# What the handout is made of, relative to an implementation root: nothing
# else of reference/ ever reaches students.
HANDOUT_GLOBS = ("needle/**/*.py", "apps/*.py")
TESTS_HIDDEN = KIT_ROOT / "tests_hidden"
SUITES = {"public": TESTS_PUBLIC, "hidden": TESTS_HIDDEN}
DEFAULT_SUITES = ("public", "hidden")
KEY_DIR = KIT_ROOT / ".cache" / "key"
# Where a Gradescope zip (which ships no reference/) keeps the released
# solution files that grading an assignment with carry = "solutions" uses.
CARRIED = KIT_ROOT / "carried"
MNIST_DIR = KIT_ROOT / "data" / "mnist"
# CPU time for one question's tests in one suite (MNIST training included),
# all their processes together: load and neighbours cannot move it.  The
# reference's longest run takes under 7 s.
QUESTION_CPU_SECONDS = 120.0
# Time for a whole submission: Gradescope stops an autograder after 10
# minutes by default (and then shows nothing), so grading ends before that.
BUDGET = 540.0
# One test's CPU time in grading, from the reference's CPU time t (measured
# when the key was built): max(1 s, min(50 t, 6 t + 30 s)).  At least 4 t
# (the reference passes on a machine 4 times slower than the key's), and
# tight enough that an endless loop in a function every backward pass calls
# (~600 tests reach it) leaves the rest of the grading its time.
TEST_TIMEOUT_MIN = 1.0
TEST_TIMEOUT_FACTOR = 50.0
TEST_TIMEOUT_SLACK = (6.0, 30.0)  # (factor, seconds) for long tests
# The wall clock is a backstop against code that sleeps: a run, or a test,
# is stopped when it has run WALL_FACTOR times its CPU time (plus
# WALL_SLACK seconds for a test).  A run it stops while the run waited for a
# CPU (a busy machine, see grader/sandbox.py) runs again once, alone.
WALL_FACTOR = 2.5
WALL_SLACK = 10.0
# Runs (one question, one suite) at once; each holds one BLAS thread.
WORKERS = 2


def limits(cpu_seconds: float = QUESTION_CPU_SECONDS, wall_seconds: Optional[float] = None) -> Limits:
    """What the tests of one question may use (see grader/sandbox.py; the
    README's table of limits).  The reference's hungriest question peaks
    near 0.5 GiB of memory and writes 31 MiB of records."""
    return Limits(
        cpu_seconds=cpu_seconds,
        wall_seconds=WALL_FACTOR * cpu_seconds if wall_seconds is None else wall_seconds,
        memory_bytes=4 << 30,  # all the run's processes together, where it has a cgroup; else each
        processes=16,  # threads and bubblewrap's own two count too; the suites need one process
        file_bytes=64 << 20,
        open_files=1024,
        output_bytes=64 << 20,
        output_kept=64 << 10,
        disk_bytes=256 << 20,
        cpus=1.0,  # the suites run one thread (WORKERS runs side by side)
    )


LIMITS = limits()
# What student code must never read, checked from inside each run (the
# sandbox shows it nothing it was not given): the solutions, their history,
# the suites (each run gets its own copy of what it needs), the grader and
# its answer key.
SECRETS = (REFERENCE, KIT_ROOT / ".git", TESTS_PUBLIC, TESTS_HIDDEN, KIT_ROOT / "tests", KIT_ROOT / "grader",
           KIT_ROOT / ".cache")
# The box side's library (what the suites import inside the sandbox) and
# the channel's layout, which both sides share.
BOX_FILES = (Path("grader/__init__.py"), Path("grader/channel.py"), *sorted(p.relative_to(KIT_ROOT) for p in (KIT_ROOT / "grader" / "box").glob("*.py")))
# What the key's fingerprint covers besides reference/ and the suites: the
# code that decides how tests run and what they hand over.
HARNESS_FILES = ("pyproject.toml", "grader/questions.py", *map(str, BOX_FILES))
