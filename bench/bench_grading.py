"""How long grading the reference takes with this checkout's grader, against
an earlier commit's.

    python bench/bench_grading.py [--baseline COMMIT] [--pairs 3] [--key cached|built]

The baseline commit is checked out in a git worktree of its own (in a
temporary folder, removed at the end), which reads this checkout's MNIST
files.  Each pair grades ``reference/`` with this checkout's grader, then
with the baseline's, so that both see the same machine; the script prints
each pair's wall-clock seconds, their ratio (this / baseline) and the
median ratio.  ``--key cached`` (the default) builds each side's answer key
once, before timing; ``--key built`` times gradings that build the key
first (a fresh key folder each time).  Every grading must score full marks,
or the script stops: a faster grading of a broken grader means nothing.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The commit that issues 24, 25 and 29 measure against.
DEFAULT_BASELINE = "6970895"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", metavar="COMMIT", default=DEFAULT_BASELINE,
                        help="the earlier commit to compare with (default: %(default)s)")
    parser.add_argument("--pairs", type=int, default=3, help="gradings per side, alternating (default: %(default)s)")
    parser.add_argument("--key", choices=("cached", "built"), default="cached",
                        help="time gradings with the answer key cached, or building it (default: %(default)s)")
    parser.add_argument("--json", metavar="PATH", help="also write every time and the ratios as JSON")
    return parser.parse_args(argv)


def grader(root: Path, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=root, capture_output=True, text=True,
                          timeout=timeout)


def timed_grading(root: Path, key_dir: Path, out: Path) -> float:
    """Seconds that ``root``'s grader takes to grade its reference; stops the
    script unless it scored full marks."""
    started = time.monotonic()
    done = grader(root, "grade", "reference", "--out", str(out), "--key-dir", str(key_dir))
    seconds = time.monotonic() - started
    data = json.loads(out.read_text()) if out.is_file() else {}
    if done.returncode != 0 or data.get("score") != 100:
        sys.exit(f"{root}: grading the reference gave {data.get('score')} (exit {done.returncode}):\n"
                 f"{done.stderr[-2000:]}")
    return seconds


def main(argv=None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as temp:
        temp = Path(temp)
        baseline = temp / "baseline"
        subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "add", "--detach", str(baseline), args.baseline],
                       check=True, capture_output=True)
        try:
            (baseline / "data").symlink_to(REPO_ROOT / "data")
            sides = {"this": REPO_ROOT, "baseline": baseline}
            keys = {name: temp / f"key-{name}" for name in sides}
            if args.key == "cached":
                for name, root in sides.items():
                    built = grader(root, "key", "--key-dir", str(keys[name]))
                    if built.returncode != 0:
                        sys.exit(f"{name}: the answer key could not be built:\n{built.stderr[-2000:]}")
            times = {name: [] for name in sides}
            for pair in range(args.pairs):
                for name, root in sides.items():
                    key_dir = keys[name] if args.key == "cached" else temp / f"key-{name}-{pair}"
                    times[name].append(timed_grading(root, key_dir, temp / f"{name}-{pair}.json"))
                print(f"pair {pair + 1}: this {times['this'][-1]:.1f} s, baseline {times['baseline'][-1]:.1f} s, "
                      f"ratio {times['this'][-1] / times['baseline'][-1]:.3f}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(REPO_ROOT), "worktree", "remove", "--force", str(baseline)],
                           capture_output=True)
    ratios = [a / b for a, b in zip(times["this"], times["baseline"])]
    print(f"grading the reference, key {args.key}, against {args.baseline} on {os.cpu_count()} cores: "
          f"median this {statistics.median(times['this']):.1f} s, baseline {statistics.median(times['baseline']):.1f} s, "
          f"median ratio {statistics.median(ratios):.3f} ({args.pairs} pairs)")
    if args.json:
        Path(args.json).write_text(json.dumps({"baseline": args.baseline, "key": args.key, "times": times,
                                               "ratios": ratios}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
