"""Every default of the grader's command line, in one place."""
from pathlib import Path

from .sandbox import Limits

KIT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = KIT_ROOT / "reference"
HANDOUT = KIT_ROOT / "handout"
TESTS_PUBLIC = KIT_ROOT / "tests_public"
MNIST_FETCH = KIT_ROOT / "mnist_fetch.py"
STUDENT_BUNDLE = Path("needle-handout.zip")

# What the handout is made of, relative to an implementation root: nothing
# else of reference/ ever reaches students.
HANDOUT_GLOBS = ("needle/**/*.py", "apps/*.py")
TESTS_HIDDEN = KIT_ROOT / "tests_hidden"
SUITES = {"public": TESTS_PUBLIC, "hidden": TESTS_HIDDEN}
DEFAULT_SUITES = ("public", "hidden")
KEY_DIR = KIT_ROOT / ".cache" / "key"
MNIST_DIR = KIT_ROOT / "data" / "mnist"
# Wall-clock limit for one question's tests in one suite (MNIST training included).
QUESTION_TIMEOUT = 300.0


def limits(wall_seconds: float = QUESTION_TIMEOUT) -> Limits:
    """What the tests of one question may use (see grader/sandbox.py).  The
    reference's hungriest question peaks near 0.5 GiB of memory."""
    return Limits(
        wall_seconds=wall_seconds,
        cpu_seconds=int(wall_seconds) + 30,  # the wall clock should strike first
        memory_bytes=4 << 30,
        processes=64,
        file_bytes=64 << 20,
        open_files=1024,
        output_bytes=64 << 20,
        output_kept=64 << 10,
    )


LIMITS = limits()
# What student code must never read: the solutions, the suites (each run
# gets its own copy of what it needs), the grader and its answer key.
PRIVATE = (REFERENCE, TESTS_PUBLIC, TESTS_HIDDEN, KIT_ROOT / "tests", KIT_ROOT / "grader", KIT_ROOT / ".cache")
# The box side's library (what the suites import inside the sandbox) and
# the channel's layout, which both sides share.
BOX_FILES = (Path("grader/__init__.py"), Path("grader/channel.py"), *sorted(p.relative_to(KIT_ROOT) for p in (KIT_ROOT / "grader" / "box").glob("*.py")))
# What the key's fingerprint covers besides reference/ and the suites: the
# code that decides how tests run and what they hand over.
HARNESS_FILES = ("pyproject.toml", "grader/questions.py", *map(str, BOX_FILES))
