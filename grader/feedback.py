"""One order for a question's failures, and one line for its TODOs: the
grader's public feedback (results.py) and the students' check.py (the
bundle ships this file beside it) both use these, so that a student sees
the same mistake first wherever they look.  The standard library only, and
each function reads its text once: the messages come from the
submission's process."""
from typing import Iterable, Tuple

TODO = "NotImplementedError: TODO"
# Prefixes that say nothing of the mistake (pytest's and the comparison's own).
NOISE = ("AssertionError: ", "Failed: ")
MAX_TASK = 80  # characters of a TODO's name: the handout's are far shorter


def message_of(text: str) -> str:
    """A failure's message without the prefix of the way it was raised."""
    for prefix in NOISE:
        if text.startswith(prefix):
            return text[len(prefix):]
    return text


def is_todo(message: str) -> bool:
    """Whether a failure is a TODO not yet started: the handout's
    NotImplementedError("TODO ..."), raised as it was handed out."""
    return message_of(message).startswith(TODO)


def rank(message: str) -> bool:
    """Sort key of a failure: mistakes in code the student wrote (a wrong
    value, shape or dtype, an error raised in their lines) before TODOs not
    started.  Sort stably: the tests' own order comes next, the same in
    grading and in a local run (a message's length is not: the grader's
    salted inputs give other numbers)."""
    return is_todo(message)


def todo_of(message: str) -> Tuple[str, str]:
    """(task, question) a TODO's message names: "TODO (question backward_ops):
    PowerScalar.gradient" is ("PowerScalar.gradient", "backward_ops");
    ("", "") if ``message`` is no TODO."""
    if not is_todo(message):
        return "", ""
    rest = message_of(message)[len(TODO):].split("\n", 1)[0].strip()
    question = ""
    if rest.startswith("(question ") and "):" in rest:
        question, rest = rest[len("(question "):].split("):", 1)
    return rest.strip()[:MAX_TASK] or "TODO", question.strip()[:MAX_TASK]


def place(path: str, line: str) -> str:
    """Where a TODO is, short: "ops_mathematic.py:141" (its task says the rest)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return f"{name}:{line}" if name else ""


def todo_line(failures: Iterable[Tuple[str, str]], question: str, scope: str = "this question") -> str:
    """One line for the TODOs that ``question``'s failing tests wait for,
    each named once with its place and how many tests wait for it, from
    their (message, place); "" if none waits.  A TODO of another question
    says which (its tests need it too); ``scope`` says whose tests they are
    (a run of some tests only does not speak for the question)."""
    regions = {}
    for message, where in failures:
        task, owner = todo_of(message)
        if task:
            entry = regions.setdefault((task, owner), [where, 0])
            entry[0] = entry[0] or where
            entry[1] += 1
    if not regions:
        return ""
    parts = []
    for (task, owner), (where, tests) in regions.items():
        about = [where] if where else []
        if owner and owner != question:
            about.append(f"question {owner}")
        about.append(f"{tests} test{'s' if tests > 1 else ''}")
        parts.append(f"`{task}` ({', '.join(about)})")
    count = len(regions)
    return (f"{count} TODO{'s' if count > 1 else ''} left in {scope} (raise NotImplementedError(\"TODO ...\"): "
            f"replace {'each' if count > 1 else 'it'} with your code): {', '.join(parts)}.")
