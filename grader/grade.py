"""Grade one submission: prepare it, run each question of each suite in a
sandboxed child process, score the runs against the key, write results.json."""
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable, Tuple

from . import defaults, results, score
from .errors import SandboxError, SubmissionError
from .key import AnswerKey
from .questions import QUESTIONS
from .run import run_question, stage_mnist
from .sandbox import Limits, Walls
from .submission import prepare


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(partial, path)


def grade(submission: Path, out: Path, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path,
          limits: Limits = defaults.LIMITS, private: Iterable[Path] = ()) -> dict:
    """Grade ``submission`` and write Gradescope's results to ``out``;
    returns them.  An ungradable submission gets score 0 and a message.
    The answer key, the folder of ``out`` and ``private`` paths are hidden
    from the submission's code, besides ``defaults.PRIVATE``."""
    started = time.monotonic()
    private = (key.folder, out.resolve().parent, *private)
    with tempfile.TemporaryDirectory(prefix="grade-") as tmp:
        work = Path(tmp)
        try:
            root = prepare(submission, work)
            mnist = stage_mnist(mnist_dir, work)
            runs = {
                (suite, q.name): run_question(root, suite, q, work / "runs", mnist_dir=mnist, salt=key.salt,
                                              limits=limits, private=private)
                for suite in suites
                for q in QUESTIONS
            }
        except SubmissionError as error:
            data = results.gradescope(None, time.monotonic() - started, error=str(error))
        except SandboxError as error:
            write_json(out, results.gradescope(None, time.monotonic() - started, error=(
                f"the grading machine could not isolate your code ({error}); this is not a problem of "
                f"your submission: tell your instructor.")))
            raise
        else:
            walls = Walls.weakest(run.walls for run in runs.values())
            if not walls.complete:
                print(f"warning: {submission}: student code ran with reduced isolation: "
                      f"{json.dumps(walls.describe())}", file=sys.stderr)
            data = results.gradescope(score.score(key, runs, suites, mnist_dir), time.monotonic() - started,
                                      extra={"isolation": {**walls.describe(), "limits": limits.describe()}})
    write_json(out, data)
    return data
