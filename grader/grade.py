"""Grade one submission: prepare it, run each question of each suite in a
child process, score the runs against the key, write results.json."""
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Tuple

from . import results, score
from .errors import SubmissionError
from .key import AnswerKey
from .questions import QUESTIONS
from .run import run_question
from .submission import prepare


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(partial, path)


def grade(submission: Path, out: Path, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path) -> dict:
    """Grade ``submission`` and write Gradescope's results to ``out``;
    returns them.  An ungradable submission gets score 0 and a message."""
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        work = Path(tmp)
        try:
            root = prepare(submission, work)
        except SubmissionError as error:
            data = results.gradescope(None, time.monotonic() - started, error=str(error))
        else:
            runs = {
                (suite, q.name): run_question(root, suite, q, work / "runs", mnist_dir=mnist_dir)
                for suite in suites
                for q in QUESTIONS
            }
            graded = score.score(key, runs, suites)
            data = results.gradescope(graded, time.monotonic() - started)
    write_json(out, data)
    return data
