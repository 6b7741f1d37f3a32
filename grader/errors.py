"""The grader's errors.  Each message says what happened, where, and what to
do; the CLI prints it and exits non-zero.

    GraderError
    ├── MarkerError           unbalanced, nested or inline solution markers (file:line)
    ├── QuestionMappingError  a solution region in no question, or in several
    └── HandoutOutOfSyncError handout/ differs from what reference/ generates
"""


class GraderError(Exception):
    """Base of every error the grader reports to its user."""


class MarkerError(GraderError):
    """Solution markers that do not form whole-line, balanced, unnested pairs."""


class QuestionMappingError(GraderError):
    """A solution region that belongs to no question, or to more than one."""


class HandoutOutOfSyncError(GraderError):
    """handout/ is not what reference/ generates."""
