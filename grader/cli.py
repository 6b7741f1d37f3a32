"""``python -m grader COMMAND``: a thin layer over the grader's verbs."""
import argparse
import sys
import tempfile
import traceback
from pathlib import Path

from . import defaults, handout
from .errors import GraderError, GradingStopped

VISIBILITIES = ("after_due_date", "after_published", "visible")  # Gradescope's, for the hidden suite


def _handout(args) -> int:
    from . import key
    from .errors import HandoutOutOfSyncError

    assignment = _assignment(args)
    released = [q.name for q in assignment.released]
    if released and args.out.resolve() == defaults.HANDOUT:
        raise GraderError(f"{defaults.HANDOUT.name}/ is the handout of every TODO (kept in sync with reference/ "
                          f"by CI), and {assignment.name}'s handout holds the released solutions of "
                          f"{', '.join(released)}: write it elsewhere with --out DIR")
    if args.check:
        handout.check(args.reference, args.out, assignment)
        stale = key.expected_out_of_date(("public",), args.reference)
        if stale:
            raise HandoutOutOfSyncError(
                "the public tests' expected values are out of date with reference/ or their tests:\n  "
                + "\n  ".join(str(p.relative_to(defaults.KIT_ROOT)) for p in stale)
                + "\nRun: python -m grader handout")
        print(f"{args.out} and the public tests' expected values are in sync with {args.reference}")
    else:
        written = handout.write(args.reference, args.out, released)
        print(f"wrote {len(written)} files to {args.out}"
              + (f" ({assignment.name}: with the solutions of {', '.join(released)})" if released else ""))
        stale = key.expected_out_of_date(("public",), args.reference)
        from .questions import QUESTIONS

        questions = [q for q in QUESTIONS if key.expected_path("public", q) in stale]
        for path in key.write_expected(("public",), questions, mnist_dir=args.mnist_dir, reference=args.reference):
            print(f"wrote {path.relative_to(defaults.KIT_ROOT)}")
    return 0


def _expected(args) -> int:
    from . import key
    from .questions import BY_NAME

    unknown = [q for q in args.questions if q not in BY_NAME]
    if unknown:
        print(f"error: no question {', '.join(unknown)}; the questions are {', '.join(BY_NAME)}", file=sys.stderr)
        return 1
    questions = [BY_NAME[q] for q in args.questions] if args.questions else list(BY_NAME.values())
    for path in key.write_expected(args.suites, questions, mnist_dir=args.mnist_dir):
        print(f"wrote {path.relative_to(defaults.KIT_ROOT)}")
    return 0


def _bundle(args) -> int:
    from . import bundle

    assignment = _assignment(args)
    names = bundle.build(args.out, assignment)
    print(f"wrote {args.out} ({len(names)} files): {assignment.name}, {assignment.title}")
    return 0


def _suites(text: str):
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    unknown = [n for n in names if n not in defaults.SUITES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"suites are a comma-separated subset of {', '.join(defaults.SUITES)}")
    return names


def _key(args):
    from . import key

    return key.load_or_build(args.key_dir, mnist_dir=args.mnist_dir, rebuild=getattr(args, "rebuild", False))


def _assignment(args):
    from .questions import COURSE

    return COURSE.assignment(args.assignment)


def _add_assignment_option(p):
    p.add_argument("--assignment", default=defaults.ASSIGNMENT, metavar="NAME",
                   help="an assignment of grader/course.toml: its questions and their points "
                        "(default: %(default)s, every question)")


def _build_key(args) -> int:
    assignment = _assignment(args)
    answer_key = _key(args)
    names = {q.name for q in assignment.questions}
    # One key, of every question, serves every assignment: each grades with its questions' part.
    tests = sum(t.question in names for t in answer_key.tests)
    print(f"answer key: {tests} tests of {assignment.name} ({len(answer_key.tests)} in all) in {answer_key.folder}")
    return 0


def _grade(args) -> int:
    assignment = _assignment(args)  # a wrong name is told before anything is written
    try:
        from . import grade

        # From here on, no older results stand at --out, however this ends.
        grade.write_json(args.out, grade.stopped_results("the grader ended before it could write results"))
        answer_key = _key(args)
    except GradingStopped as stop:  # further signals are ignored: the import can end now
        from . import grade

        grade.write_json(args.out, grade.stopped_results(str(stop)))
        raise
    try:
        carried = handout.carried(assignment)
    except GraderError as error:  # the course or the zip, never the submission
        from . import results

        grade.write_json(args.out, results.gradescope(None, 0.0, error=(
            f"the grader is not set up to grade {assignment.name} ({error}); this is not a problem of your "
            f"submission: tell your instructor.")))
        raise
    data = grade.grade(args.submission, args.out, key=answer_key, suites=args.suites, mnist_dir=args.mnist_dir,
                       hidden_visibility=args.hidden_visibility, questions=assignment.questions, carried=carried,
                       assignment=assignment.name, **_grading_options(args))
    print(data["output"])
    print(f"\nwrote {args.out}")
    return 0


def _points(args) -> int:
    from . import score

    assignment = _assignment(args)
    answer_key = _key(args)
    print(f"{assignment.name}: {assignment.title} ({assignment.total} points)\n")
    print(score.points_table(answer_key, args.suites, assignment.questions))
    return 0


def _audit(args) -> int:
    from . import audit

    assignment = _assignment(args)
    try:
        bugs = audit.select(args.bugs, assignment)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    code, report = audit.run(key=_key(args), suites=args.suites, mnist_dir=args.mnist_dir, jobs=args.jobs,
                             names=[b.name for b in bugs], out_dir=args.out, assignment=assignment)
    print(report)
    return code


def _batch(args) -> int:
    from . import batch

    assignment = _assignment(args)  # a wrong name or folder is told at once, not after building the key
    batch.entries(args.submissions)
    batch.check_jobs(args.jobs, args.accept_collusion_risk, args.workers)
    column = args.gradebook_column or defaults.GRADEBOOK_COLUMN + (
        f" {assignment.name}" if assignment.name != defaults.ASSIGNMENT else "")
    text = batch.batch(args.submissions, args.out, key=_key(args), suites=args.suites, mnist_dir=args.mnist_dir,
                       jobs=args.jobs, accept_collusion_risk=args.accept_collusion_risk, force=args.force,
                       only=args.only, roster=args.roster,
                       gradebook_column=column, progress=batch.Progress(),
                       assignment=assignment, **_grading_options(args))
    print(text)
    print(f"\nwrote {args.out}/: <student>.json, scores.csv, report.html, summary.txt"
          + (", gradebook.csv (Canvas's gradebook import)" if args.roster else ""))
    return 0


def _similar(args) -> int:
    from . import similar

    if args.top < 1:
        raise GraderError(f"--top {args.top}: the number of pairs shown is 1 or more")
    # The handout is the code every student was given: it counts for nobody.
    assignment = _assignment(args)
    released = [q.name for q in assignment.released]
    if not released:
        print(similar.run(args.submissions, top=args.top, boilerplate=defaults.HANDOUT, out=args.out))
        return 0
    with tempfile.TemporaryDirectory(prefix="needle-handout-") as tmp:
        handout.write(defaults.REFERENCE, Path(tmp), released)
        print(similar.run(args.submissions, top=args.top, boilerplate=Path(tmp), out=args.out,
                          given=f"{assignment.name}'s, with the released solutions of {assignment.name}'s earlier "
                                f"assignments"))
    return 0


def _gradescope(args) -> int:
    from . import gradescope, results

    options = {"mnist_dir": args.mnist_dir, "key_dir": args.key_dir, "hidden_visibility": args.hidden_visibility,
               "assignment": _assignment(args)}
    if args.check:
        built = gradescope.check(args.out, **options)
        print(f"{args.out} is up to date: the autograder of {built.assignment} (built from "
              f"{built.commit or 'a checkout without git'}; hidden tests shown "
              f"{results.HIDDEN_SHOWN[built.hidden_visibility]})")
        return 0
    names = gradescope.build(args.out, **options)
    print(f"wrote {args.out} ({len(names)} files); upload it as the autograder of Gradescope's assignment "
          f"{options['assignment'].name} ({options['assignment'].title}); "
          f"students see the hidden tests' results {results.HIDDEN_SHOWN[args.hidden_visibility]}")
    return 0


def _grading_options(args) -> dict:
    return {"limits": defaults.limits(args.timeout), "budget": args.budget, "workers": args.workers,
            "require_isolation": args.require_isolation}


def _names(text: str) -> list:
    return [n.strip() for n in text.split(",") if n.strip()]


def _seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("a number of seconds above 0")
    return value


def _add_grading_options(p):
    p.add_argument("--timeout", type=_seconds, default=defaults.QUESTION_CPU_SECONDS, metavar="SECONDS",
                   help="CPU time for one question's tests in one suite, all their processes together "
                        f"(default: %(default)g); the wall clock stops them at {defaults.WALL_FACTOR:g} times that "
                        "(code that sleeps), and a run it stops is run again once, alone")
    p.add_argument("--budget", type=_seconds, default=defaults.BUDGET, metavar="SECONDS",
                   help="time for a whole submission; questions not started in it are reported as not graded "
                        "(default: %(default)g, within Gradescope's default limit of 10 minutes)")
    p.add_argument("--workers", type=int, default=defaults.WORKERS,
                   help="questions run at once for one submission (default: %(default)s)")
    p.add_argument("--require-isolation", action="store_true",
                   help="refuse to run student code unless the full sandbox holds (namespaces and a "
                        "default-deny view of the files); without it, a machine that refuses namespaces "
                        "grades with uid separation only and says so in results.json")


def _add_key_options(p):
    p.add_argument("--key-dir", type=Path, default=defaults.KEY_DIR, help="the cached answer key (default: %(default)s)")
    p.add_argument("--mnist-dir", type=Path, default=defaults.MNIST_DIR, help="the MNIST files (default: %(default)s)")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("handout", help="generate handout/ and the public tests' expected values from reference/")
    p.add_argument("--reference", type=Path, default=defaults.REFERENCE, help="default: %(default)s")
    p.add_argument("--out", type=Path, default=defaults.HANDOUT, help="default: %(default)s")
    p.add_argument("--check", action="store_true", help="only check that --out and the public tests' expected "
                   "values are in sync; exit 1 if not")
    p.add_argument("--mnist-dir", type=Path, default=defaults.MNIST_DIR, help="the MNIST files (default: %(default)s)")
    _add_assignment_option(p)
    p.set_defaults(run=_handout)

    p = commands.add_parser("expected", help="write the values files that local runs of the suites compare with")
    p.add_argument("--suites", type=_suites, default=("public",), help="default: public (hidden ones are for "
                   "the kit's developers, never shipped)")
    p.add_argument("--questions", type=_names, default=[],
                   help="only these questions (comma-separated; default: all)")
    p.add_argument("--mnist-dir", type=Path, default=defaults.MNIST_DIR, help="the MNIST files (default: %(default)s)")
    p.set_defaults(run=_expected)

    p = commands.add_parser("bundle", help="make the zip students receive")
    p.add_argument("out", type=Path, nargs="?", default=defaults.STUDENT_BUNDLE, help="default: %(default)s")
    _add_assignment_option(p)
    p.set_defaults(run=_bundle)

    p = commands.add_parser("key", help="build the answer key (cached; rebuilt when reference/ or a suite changes)")
    _add_key_options(p)
    p.add_argument("--rebuild", action="store_true", help="build it even if the cached one is current")
    _add_assignment_option(p)
    p.set_defaults(run=_build_key)

    p = commands.add_parser("grade", help="grade one submission into Gradescope's results.json")
    p.add_argument("submission", type=Path, help="a folder with needle/ and apps/, or a .zip / .tar.gz of one")
    p.add_argument("--out", type=Path, default=Path("results.json"), help="default: %(default)s")
    p.add_argument("--suites", type=_suites, default=defaults.DEFAULT_SUITES, help="default: public,hidden")
    p.add_argument("--hidden-visibility", choices=VISIBILITIES, default="visible",
                   help="Gradescope's visibility of the hidden suite's entries (default: %(default)s; the "
                        "autograder zip's run_autograder passes what `gradescope --hidden-visibility` chose)")
    _add_assignment_option(p)
    _add_grading_options(p)
    _add_key_options(p)
    p.set_defaults(run=_grade)

    p = commands.add_parser("points", help="print each question's behaviours with their weights and points "
                            "(a behaviour scores when all its tests pass)")
    p.add_argument("--suites", type=_suites, default=defaults.DEFAULT_SUITES, help="default: public,hidden")
    _add_assignment_option(p)
    _add_key_options(p)
    p.set_defaults(run=_points)

    p = commands.add_parser("audit", help="grade the bug gallery (tests/bugs.py): does every bug lose points on its question?")
    p.add_argument("--suites", type=_suites, default=defaults.DEFAULT_SUITES, help="default: public,hidden")
    p.add_argument("--jobs", type=int, default=1, help="bugs graded at once (default: %(default)s)")
    p.add_argument("--bugs", type=_names, default=None,
                   help="only these bugs (comma-separated names; default: all)")
    p.add_argument("--out", type=Path, default=None, help="keep each bug's results.json in this folder as <bug>.json")
    _add_assignment_option(p)
    _add_key_options(p)
    p.set_defaults(run=_audit)

    p = commands.add_parser("batch", help="grade every submission in a folder (folders or archives)")
    p.add_argument("submissions", type=Path, help="a folder with one folder or archive per student")
    p.add_argument("--out", type=Path, required=True, help="where results, scores.csv and summary.txt go")
    p.add_argument("--suites", type=_suites, default=defaults.DEFAULT_SUITES, help="default: public,hidden")
    p.add_argument("--jobs", type=int, default=1, help="students graded at once (default: %(default)s; more only "
                   "with --accept-collusion-risk): each student's runs already go --workers at a time")
    p.add_argument("--accept-collusion-risk", action="store_true",
                   help="allow --jobs above 1, giving up a wall: students graded at the same time can signal to "
                        "each other through the machine they share (its load, its timing), so a student could "
                        "run on a classmate's answers; for code you trust, or a practice run where cheating is "
                        "not at stake")
    p.add_argument("--force", action="store_true", help="regrade every student, even those whose results are "
                   "current (by default a result is reused while the submission, the key, the suites, the "
                   "options and the grader are unchanged)")
    p.add_argument("--only", type=_names, default=None, metavar="NAMES",
                   help="grade only these students afresh (comma-separated entry names); keep the others' results")
    p.add_argument("--roster", type=Path, default=None, help="a CSV mapping submissions to students (columns: "
                   "submission, and any of id, sis_user_id, sis_login_id, name, email, section): adds them to "
                   "scores.csv, lists students with no submission, writes gradebook.csv for Canvas")
    p.add_argument("--gradebook-column", default=None,
                   help=f"the assignment's column in gradebook.csv (default: {defaults.GRADEBOOK_COLUMN}, or "
                        f"'{defaults.GRADEBOOK_COLUMN} NAME' for --assignment NAME)")
    _add_assignment_option(p)
    _add_grading_options(p)
    _add_key_options(p)
    p.set_defaults(run=_batch)

    p = commands.add_parser("similar", help="rank every pair of students of a class by how much of their own "
                            "code matches (near-copies first)")
    p.add_argument("submissions", type=Path, metavar="CLASS_DIR", help="a folder with one folder or archive "
                   "per student")
    p.add_argument("--top", type=int, default=10, metavar="N", help="pairs shown (default: %(default)s)")
    p.add_argument("--out", type=Path, default=None, metavar="DIR", help="write copydetect's HTML report of the "
                   "matching files there, as report.html")
    _add_assignment_option(p)
    p.set_defaults(run=_similar)

    p = commands.add_parser("gradescope", help="make Gradescope's autograder zip (grader, suites, key)")
    p.add_argument("out", type=Path, nargs="?", default=Path("autograder.zip"), help="default: %(default)s")
    # Hidden tests exist so that the suite is not an oracle to submit against
    # until the deadline: by default students see their results after it.
    p.add_argument("--hidden-visibility", choices=VISIBILITIES, default="after_due_date", help="when students see the hidden tests' results (Gradescope's "
                   "test visibility; the public tests' are always shown at once; default: %(default)s)")
    p.add_argument("--check", action="store_true", help="build nothing: say whether OUT is what this command "
                   "would build now (the same answer key, grader, suites and options); exit 1 if not")
    _add_assignment_option(p)
    _add_key_options(p)
    p.set_defaults(run=_gradescope)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except GradingStopped as error:
        print(f"stopped by {error}", file=sys.stderr)
        return error.exit_code
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception:  # the grader's own bug: the traceback is for its developers
        traceback.print_exc()
        print("error: the grader failed (a bug in the grader, not in a submission); see the traceback above",
              file=sys.stderr)
        return 2
