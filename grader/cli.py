"""``python -m grader COMMAND``: a thin layer over the grader's verbs."""
import argparse
import sys
from pathlib import Path

from . import defaults, handout
from .errors import GraderError


def _handout(args) -> int:
    if args.check:
        handout.check(args.reference, args.out)
        print(f"{args.out} is in sync with {args.reference}")
    else:
        written = handout.write(args.reference, args.out)
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def _bundle(args) -> int:
    from . import bundle

    names = bundle.build(args.out, handout_dir=args.handout)
    print(f"wrote {args.out} ({len(names)} files)")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)

    p = commands.add_parser("handout", help="generate handout/ from reference/")
    p.add_argument("--reference", type=Path, default=defaults.REFERENCE, help="default: %(default)s")
    p.add_argument("--out", type=Path, default=defaults.HANDOUT, help="default: %(default)s")
    p.add_argument("--check", action="store_true", help="only check that --out is in sync; exit 1 if not")
    p.set_defaults(run=_handout)

    p = commands.add_parser("bundle", help="make the zip students receive")
    p.add_argument("out", type=Path, nargs="?", default=defaults.STUDENT_BUNDLE, help="default: %(default)s")
    p.add_argument("--handout", type=Path, default=defaults.HANDOUT, help="default: %(default)s")
    p.set_defaults(run=_bundle)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.run(args)
    except GraderError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
