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
from typing import Iterable, Mapping, Optional, Sequence, Tuple

from . import defaults, results, sandbox, score
from .errors import GradingStopped, SandboxError, SubmissionError
from .key import AnswerKey
from .questions import QUESTIONS, Question
from .run import (LEDGER, Run, remove_abandoned, remove_tree, remove_work_folder, run_question, stage_mnist,
                  work_folder)
from .sandbox import Limits, Walls
from .submission import prepare

# A run is not started with less time than this left in the budget.
MIN_RUN_SECONDS = 10.0
# CPU time a run has besides its tests' own limits: starting pytest and
# importing, on a machine 4 times slower than the key's.
RUN_CPU_SLACK = 30.0
# The suites in the order they run, one after the other: the public one,
# whose feedback students see at once, before any hidden run starts.
SCHEDULE = ("public", "hidden")


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

    def ran_out(self) -> str:
        return (f"were stopped when the time budget of {self.seconds:g} s for the whole submission ran out "
                f"(an endless loop, or very slow code?)")

    def not_run(self) -> str:
        return (f"not graded: the time budget of {self.seconds:g} s for the whole submission ran out before "
                f"these tests could run (an endless loop or very slow code in another question?)")


def stopped_message(why: str, what: str = "these tests") -> str:
    return (f"the grading was stopped ({why}) before {what} finished; this says nothing about your code: "
            f"ask for a regrade")


def grade(submission: Path, out: Path, *, key: AnswerKey, suites: Tuple[str, ...], mnist_dir: Path,
          limits: Limits = defaults.LIMITS, budget: float = defaults.BUDGET, workers: int = defaults.WORKERS,
          secrets: Iterable[Path] = (), require_isolation: bool = False,
          hidden_visibility: str = "visible", questions: Sequence[Question] = QUESTIONS,
          carried: Mapping[str, str] = {}, assignment: str = defaults.ASSIGNMENT) -> dict:
    """Grade ``submission`` on ``questions`` (an assignment's, with its
    points), with the ``carried`` files (handout.carried: released earlier
    solutions) in place of its own, and write Gradescope's results to
    ``out``; returns them.  An ungradable submission gets score 0 and a
    message.  The hidden suite's entries get ``hidden_visibility``; every
    results file says which ``assignment`` (a name) it grades.
    Each run sees nothing of the machine but its box; the answer key, the
    folder of ``out`` and ``secrets`` are checked to be out of its reach.
    Stopped (KeyboardInterrupt or GradingStopped, from a signal or
    ``sandbox.stop_all``), it kills its runs, writes what was graded and
    raises GradingStopped."""
    budget = Budget(budget, time.monotonic())
    secrets = (key.folder, out.resolve().parent, *secrets)
    work = grading = None

    def save(data: dict) -> None:
        data["extra_data"] = {**data.get("extra_data", {}), "assignment": assignment}
        write_json(out, data)

    try:
        remove_abandoned()  # what killed gradings left behind
        work = work_folder()
        try:
            root = prepare(submission, work, carried, seconds=budget.left())
        except SubmissionError as error:
            data = results.gradescope(None, time.monotonic() - budget.started, error=str(error))
        else:
            grading = _Grading(root, work, out, key=key, suites=suites, mnist_dir=mnist_dir, limits=limits,
                               budget=budget, secrets=secrets, require_isolation=require_isolation,
                               hidden_visibility=hidden_visibility, questions=questions, carried=sorted(carried),
                               assignment=assignment)
            data = grading.run_all(workers, label=str(submission))
    except (KeyboardInterrupt, GradingStopped) as error:
        stop = error if isinstance(error, GradingStopped) else GradingStopped("interrupted")
        sandbox.stop_all(str(stop))
        if grading is None:
            save(stopped_results(str(stop), time.monotonic() - budget.started))
        else:
            data = grading.report("not graded: " + stopped_message(str(stop)))
            data["extra_data"]["stopped"] = str(stop)
            save(data)
        raise GradingStopped(f"{stop}; {out} says what was graded and what was not; the same command "
                             f"grades it all again", stop.exit_code) from None
    except SandboxError as error:
        save(results.gradescope(None, time.monotonic() - budget.started, error=(
            f"the grading machine could not isolate your code ({error}); this is not a problem of "
            f"your submission: tell your instructor.")))
        raise
    except Exception as error:  # the grader's own fault: say so, then let the caller fail loudly
        save(results.gradescope(None, time.monotonic() - budget.started, error=(
            f"the grader failed ({type(error).__name__}: {error}); this is not a problem of your "
            f"submission: tell your instructor.")))
        raise
    finally:
        if work is not None:
            remove_work_folder(work)
    save(data)
    return data


def stopped_results(why: str, seconds: float = 0.0) -> dict:
    """The results of a grading stopped before any run ended."""
    data = results.gradescope(None, seconds, error=stopped_message(why, "the grading"))
    data["extra_data"]["stopped"] = why
    return data


class _Grading:
    """The runs of one implementation root, and the results they make so far."""

    def __init__(self, root: Path, work: Path, out: Path, *, key: AnswerKey, suites, mnist_dir: Path,
                 limits: Limits, budget: Budget, secrets, require_isolation: bool, hidden_visibility: str = "visible",
                 questions: Sequence[Question] = QUESTIONS, carried: Sequence[str] = (),
                 assignment: str = defaults.ASSIGNMENT):
        self.root, self.work, self.out, self.key, self.suites = root, work, out, key, suites
        self.questions, self.carried, self.assignment = questions, carried, assignment
        self.mnist_dir, self.limits, self.budget = mnist_dir, limits, budget
        self.secrets, self.require_isolation = secrets, require_isolation
        self.hidden_visibility = hidden_visibility
        self.staged = stage_mnist(mnist_dir, work)
        self.runs = {}
        self.page_cache = "not dropped yet: no run has started"
        self.scored = {}  # score.score's cache: each run is scored once

    def one(self, suite, question) -> Optional[Run]:
        left = self.budget.left()
        if left < MIN_RUN_SECONDS:
            return None
        timeouts = {t.nodeid: t.timeout for t in self.key.tests if (t.suite, t.question) == (suite, question.name)}
        # The tests' own limits hold inside the run, where its code could
        # switch them off: the run's, counted outside, is their sum at most.
        cpu = min(self.limits.cpu_seconds, sum(cpu for cpu, _ in timeouts.values()) + RUN_CPU_SLACK)
        wall = min(cpu * self.limits.wall_seconds / self.limits.cpu_seconds, left)
        limits = dataclasses.replace(self.limits, cpu_seconds=cpu, wall_seconds=wall)
        run = run_question(self.root, suite, question, self.work / "runs", mnist_dir=self.staged,
                           salt=self.key.salt, limits=limits, secrets=self.secrets,
                           require_isolation=self.require_isolation, ledger=self.work / LEDGER,
                           expected=self.key.record_dir(suite, question.name), timeouts=timeouts)
        if run.stopped_by in (sandbox.WALL_CLOCK, sandbox.SLEPT) and wall == left:
            # The budget's clock, not the run's: nothing to run again.
            run = dataclasses.replace(run, stopped=self.budget.ran_out(), stopped_by="")
        return run

    def report(self, missing: str) -> dict:
        ran = [run.walls for run in self.runs.values() if run is not None]
        isolation = {**Walls.weakest(ran).describe(), "page_cache": self.page_cache or
                     "dropped before the first run: no earlier grading's reads show",
                     "limits": self.limits.describe(), "budget": f"{self.budget.seconds:g} s"} if ran else {
                     "runs": "none: no student code ran", "budget": f"{self.budget.seconds:g} s"}
        grade = score.score(self.key, self.runs, self.suites, self.mnist_dir, missing=missing, cache=self.scored,
                            questions=self.questions)
        for run, _ in self.scored.values():
            kept = run.record_dir.parent  # scored once, its copies serve no more: the disk they take goes
            if kept.is_relative_to(self.work / "runs") and kept.exists():
                remove_tree(kept)
        # failed: for the class report (batch), never shown to the student
        data = results.gradescope(grade, time.monotonic() - self.budget.started,
                                  extra={"isolation": isolation,
                                         "failed": [f"{r.suite}:{t.nodeid}" for r in grade.results
                                                    for t in r.tests if not t.passed],
                                         "assignment": self.assignment},
                                  hidden_visibility=self.hidden_visibility)
        if self.carried:  # what a student who edited them must know
            data["output"] += (f"\n\nThe released solutions of the earlier assignments stood in for your "
                               f"{', '.join(self.carried)}, as the handout says.")
        return data

    def run_all(self, workers: int, label: str) -> dict:
        # One suite at a time (sandbox.py: "Runs side by side"): no hidden run
        # is alive while a public run, whose output students see at once, can
        # observe the machine.  Longest first (the reference's time), so that
        # the budget cuts short runs, if any.
        self.page_cache = sandbox.forget_page_cache()
        for suite in sorted(self.suites, key=SCHEDULE.index):
            order = sorted(self.questions, key=lambda q: -sum(t.seconds for t in self.key.tests
                                                               if (t.suite, t.question) == (suite, q.name)))
            self._run_suite(suite, order, workers)
            # What the wall clock stopped while it waited for a CPU (a busy
            # machine, not its code) runs again, alone, before the next suite.
            again = [q for q in order if getattr(self.runs.get((suite, q.name)), "waited", False)]
            if again:
                self._run_suite(suite, again, workers=1)
        ran = [run.walls for run in self.runs.values() if run is not None]
        walls = Walls.weakest(ran)
        if ran and (not walls.complete or self.page_cache):
            print(f"warning: {label}: student code ran with reduced isolation: {json.dumps(walls.describe())}"
                  + (f"; {self.page_cache}" if self.page_cache else ""), file=sys.stderr)
        return self.report(self.budget.not_run())

    def _run_suite(self, suite: str, questions: Sequence[Question], workers: int) -> None:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = {pool.submit(self.one, suite, q): (suite, q.name) for q in questions}
            try:
                with sandbox.stop_on_interrupt(futures):
                    for future in as_completed(futures):
                        self._keep(futures[future], future.result())
                        write_json(self.out, self.report("not graded yet: grading goes on (or was stopped)"))
            finally:
                for future, name in futures.items():
                    future.cancel()  # after a failure, what has not started never will
                    # Runs that ended before a stop still count.
                    if name not in self.runs and future.done() and not future.cancelled() and not future.exception():
                        self._keep(name, future.result())

    def _keep(self, name, run: Optional[Run]) -> None:
        # A run again that the budget left no time for keeps the first.
        if run is not None or self.runs.get(name) is None:
            self.runs[name] = run
