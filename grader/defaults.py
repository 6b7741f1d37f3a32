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
TESTS_HIDDEN = KIT_ROOT / "tests_hidden"
SUITES = {"public": TESTS_PUBLIC, "hidden": TESTS_HIDDEN}
DEFAULT_SUITES = ("public", "hidden")
KEY_DIR = KIT_ROOT / ".cache" / "key"
MNIST_DIR = KIT_ROOT / "data" / "mnist"
# Wall-clock limit for one question's tests in one suite (MNIST training included).
QUESTION_TIMEOUT = 300.0
# What the key's fingerprint covers besides reference/ and the suites: the
# code that decides how tests run and what they hand over.
HARNESS_FILES = ("conftest.py", "pyproject.toml", "grader/questions.py")
