"""Grade one submission: prepare it, run each question of each suite in a
sandboxed child process (a few at once), score the runs against the key,
write results.json: after every run, so that a grading stopped from outside
still leaves valid results for what was graded."""
import dataclasses
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Iterable, Optional, Tuple

from . import defaults, results, score
from .errors import SandboxError, SubmissionError
from .key import AnswerKey
from .questions import QUESTIONS
from .run import Run, remove_tree, run_question, stage_mnist
from .sandbox import Limits, Walls
from .submission import prepare

# A run is not started with less time than this left in the budget.
MIN_RUN_SECONDS = 10.0


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` so that a reader never sees a half-written file, and
    through no link or FIFO planted at ``path``: a fresh file of a random
    name, renamed over ``path`` (which replaces whatever entry is there)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(data, indent=1))
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        os.unlink(partial)
        raise


@dataclasses.dataclass(frozen=True)
class Budget:
    """Time for the whole submission: runs not started in it are reported as such."""

    seconds: float
    started: float

    def left(self) -> float:
        return self.seconds - (time.monotonic() - self.started)

    def not_run(self) -> str:
        return (f"not graded: the time budget of {self.seconds:g} s for the whole submission ran out before "
                f"these tests could run (an endless loop or very slow code in another question?)")


def grade(submission: Path, out: Path, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path,
          limits: Limits = defaults.LIMITS, budget: float = defaults.BUDGET, workers: int = defaults.WORKERS,
          secrets: Iterable[Path] = (), require_isolation: bool = False) -> dict:
    """Grade ``submission`` and write Gradescope's results to ``out``;
    returns them.  An ungradable submission gets score 0 and a message.
    Each run sees nothing of the machine but its box; the answer key, the
    folder of ``out`` and ``secrets`` are checked to be out of its reach."""
    budget = Budget(budget, time.monotonic())
    secrets = (key.folder, out.resolve().parent, *secrets)
    work = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        try:
            root = prepare(submission, work)
        except SubmissionError as error:
            data = results.gradescope(None, time.monotonic() - budget.started, error=str(error))
        else:
            data = _grade_root(root, work, out, key=key, suites=suites, mnist_dir=mnist_dir, limits=limits,
                               budget=budget, workers=workers, secrets=secrets,
                               require_isolation=require_isolation, label=str(submission))
    except SandboxError as error:
        write_json(out, results.gradescope(None, time.monotonic() - budget.started, error=(
            f"the grading machine could not isolate your code ({error}); this is not a problem of "
            f"your submission: tell your instructor.")))
        raise
    except Exception as error:  # the grader's own fault: say so, then let the caller fail loudly
        write_json(out, results.gradescope(None, time.monotonic() - budget.started, error=(
            f"the grader failed ({type(error).__name__}: {error}); this is not a problem of your "
            f"submission: tell your instructor.")))
        raise
    finally:
        remove_tree(work)
    write_json(out, data)
    return data


def _grade_root(root: Path, work: Path, out: Path, *, key: AnswerKey, suites, mnist_dir: Path, limits: Limits,
                budget: Budget, workers: int, secrets, require_isolation: bool, label: str) -> dict:
    mnist = stage_mnist(mnist_dir, work)
    runs = {}

    def one(suite, question) -> Optional[Run]:
        left = budget.left()
        if left < MIN_RUN_SECONDS:
            return None
        wall = min(limits.wall_seconds, left)
        return run_question(root, suite, question, work / "runs", mnist_dir=mnist, salt=key.salt,
                            limits=dataclasses.replace(limits, wall_seconds=wall,
                                                       cpu_seconds=min(limits.cpu_seconds, int(wall) + 30)),
                            secrets=secrets, require_isolation=require_isolation,
                            timeouts={t.nodeid: t.timeout for t in key.tests
                                      if (t.suite, t.question) == (suite, question.name)})

    def report(missing: str) -> dict:
        walls = Walls.weakest(run.walls for run in runs.values() if run is not None)
        return results.gradescope(score.score(key, runs, suites, mnist_dir, missing=missing),
                                  time.monotonic() - budget.started,
                                  extra={"isolation": {**walls.describe(), "limits": limits.describe(),
                                                       "budget": f"{budget.seconds:g} s"}})

    # Longest first (the reference's time), so that the budget cuts short runs, if any.
    order = sorted(((suite, q) for suite in suites for q in QUESTIONS),
                   key=lambda run: -sum(t.seconds for t in key.tests if (t.suite, t.question) == (run[0], run[1].name)))
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = {pool.submit(one, suite, q): (suite, q.name) for suite, q in order}
        try:
            for future in as_completed(futures):
                runs[futures[future]] = future.result()
                write_json(out, report("not graded yet: grading goes on (or was stopped)"))
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    walls = Walls.weakest(run.walls for run in runs.values() if run is not None)
    if not walls.complete:
        print(f"warning: {label}: student code ran with reduced isolation: {json.dumps(walls.describe())}",
              file=sys.stderr)
    return report(budget.not_run())
