"""Run a command, signal it once a condition holds, and report which of its
descendants outlived it: ``python -m tests.reaper [options] -- COMMAND``.

This process makes itself a child subreaper (prctl), so that whatever the
command started is re-parented here when the command dies, instead of to
init: every process the command ever started stays countable, and none is
someone else's.  It prints one JSON object (see ``main``), then kills and
reaps whatever is left, so that a failing test leaves nothing behind."""
import argparse
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36


def descendants() -> dict:
    """pid to (state, argv) of every descendant of this process."""
    children, facts = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            status = Path(f"/proc/{name}/status").read_text()
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        children.setdefault(int(fields["PPid"]), []).append(int(name))
        facts[int(name)] = (fields["State"].split()[0], [a.decode(errors="replace") for a in argv if a])
    found, todo = {}, [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = facts[child]
            todo.append(child)
    return found


def alive() -> dict:
    return {pid: argv for pid, (state, argv) in descendants().items() if state not in "ZX"}


def started(tokens) -> bool:
    """A descendant runs ``tokens`` as the arguments after its program's name."""
    return any(argv[1:1 + len(tokens)] == tokens for argv in alive().values())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--signal", required=True, help="KILL, TERM or INT")
    condition = parser.add_mutually_exclusive_group(required=True)
    condition.add_argument("--when-file", type=Path, help="signal once this file exists")
    condition.add_argument("--when-file-has", nargs=2, metavar=("FILE", "TEXT"),
                           help="signal once FILE holds TEXT")
    condition.add_argument("--when-started", help="signal once a descendant runs these arguments (split on spaces)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds between the condition and the signal")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds after the command ended before its descendants are counted")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--log", type=Path, required=True, help="the command's output goes here")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command

    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    with args.log.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + args.timeout
    def met() -> bool:
        if args.when_file:
            return args.when_file.exists()
        if args.when_file_has:
            path, text = Path(args.when_file_has[0]), args.when_file_has[1]
            return path.exists() and text in path.read_text(errors="replace")
        return started(args.when_started.split())

    while not met() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    report = {"condition_met": met(), "ended_before_signal": process.poll() is not None}
    time.sleep(args.settle)
    os.kill(process.pid, getattr(signal, "SIG" + args.signal))
    signalled = time.monotonic()
    try:
        report["returncode"] = process.wait(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        report["returncode"] = None
    report["seconds_to_end"] = round(time.monotonic() - signalled, 2)
    time.sleep(args.grace)
    left = alive()
    report["left"] = [f"{pid}: {' '.join(argv)[:300]}" for pid, argv in sorted(left.items())]
    print(json.dumps(report))
    sys.stdout.flush()
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.kill()
    process.wait()
    while True:  # reap the orphans this subreaper adopted
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                if not descendants():
                    break
                time.sleep(0.1)
        except ChildProcessError:
            break


if __name__ == "__main__":
    main()
