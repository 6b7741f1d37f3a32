"""The grader's errors.  Each message says what happened, where, and what to
do; the CLI prints it and exits non-zero (except for SubmissionError, which
becomes a results file with score 0).

    GraderError
    ├── MarkerError           unbalanced, nested or inline solution markers (file:line)
    ├── QuestionMappingError  a solution region in no question, or in several
    ├── CourseError           grader/course.toml declares questions or assignments wrongly (or is asked for one it
    │                         lacks, or releases solutions that share a file with an assignment's own TODOs)
    ├── HandoutOutOfSyncError handout/ differs from what reference/ generates
    ├── AutograderError       the Gradescope zip is not what `gradescope` builds now, asks for an unknown setting,
    │                         or lacks the released solutions its assignment grades with
    ├── AnswerKeyError        the reference fails its own suites (or a behaviour has two weights): no key
    ├── SubmissionError       a submission that cannot be graded (no needle/, bad archive, ...)
    ├── SandboxError          the machine refused a wall that student code must not run without
    └── GradingStopped        Ctrl-C or SIGTERM: what was graded is written, the rest is marked not graded
"""


class GraderError(Exception):
    """Base of every error the grader reports to its user."""


class MarkerError(GraderError):
    """Solution markers that do not form whole-line, balanced, unnested pairs."""


class QuestionMappingError(GraderError):
    """A solution region that belongs to no question, or to more than one."""


class CourseError(GraderError):
    """grader/course.toml cannot be read, or declares its questions or
    assignments wrongly; or a command names an assignment it lacks."""


class HandoutOutOfSyncError(GraderError):
    """handout/ is not what reference/ generates."""


class AutograderError(GraderError):
    """The Gradescope autograder zip is out of date with the kit (or
    missing, or records nothing of what it was built from), or its
    run_autograder asks ``grade`` for a setting it does not know."""


class AnswerKeyError(GraderError):
    """The reference fails its own suites, so no answer key can be built."""


class SubmissionError(GraderError):
    """A submission that cannot be graded; it gets score 0 and this message."""


class SandboxError(GraderError):
    """The sandbox could not be built as it must be (say, root could not be
    dropped), so no student code ran."""


class GradingStopped(GraderError):
    """The grading was stopped from outside (Ctrl-C, SIGTERM): every sandbox
    was killed; results written so far say what was not graded."""

    def __init__(self, why: str, exit_code: int = 130):
        super().__init__(why)
        self.exit_code = exit_code
