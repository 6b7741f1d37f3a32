"""``python -m grader``: Ctrl-C and SIGTERM become GradingStopped before
anything else is imported (imports take a while), then the command line."""
import signal
import sys

from .errors import CourseError, GradingStopped


def _stop(signum, frame):
    # Once: the clean-up that follows (kill the runs, write what was
    # graded, remove the working folder) is not to be cut short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise GradingStopped(signal.Signals(signum).name, 128 + signum)


signal.signal(signal.SIGINT, _stop)
signal.signal(signal.SIGTERM, _stop)

try:
    from .cli import main  # after the handlers
except GradingStopped as stop:  # before the arguments were read: nothing to write
    print(f"stopped by {stop}", file=sys.stderr)
    sys.exit(stop.exit_code)
except CourseError as error:  # grader/course.toml is read at import
    print(f"error: {error}", file=sys.stderr)
    sys.exit(1)
sys.exit(main())
