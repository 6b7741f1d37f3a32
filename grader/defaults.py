"""Every default of the grader's command line, in one place."""
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent
REFERENCE = KIT_ROOT / "reference"
HANDOUT = KIT_ROOT / "handout"
TESTS_PUBLIC = KIT_ROOT / "tests_public"
MNIST_FETCH = KIT_ROOT / "mnist_fetch.py"
STUDENT_BUNDLE = Path("needle-handout.zip")

# What the handout is made of, relative to an implementation root: nothing
# else of reference/ ever reaches students.
HANDOUT_GLOBS = ("needle/**/*.py", "apps/*.py")
