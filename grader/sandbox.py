"""Run untrusted code in a child process behind every wall the platform
allows, and say which walls stood.

The parent side (``run``) starts this very file as a launcher script
(``python -I -S sandbox.py CONFIG COMMAND...``), so nothing runs between
fork and exec in the grader's process (which may have threads).  The
launcher, still trusted, builds the walls and then execs the command:

* own network namespace: no network at all (only a loopback that is down);
* own mount namespace: each private path (the reference, the answer key,
  the suites, results) is covered by an empty read-only tmpfs;
* own PID namespace with a fresh /proc: the grader's processes are
  invisible, and every process the command leaves behind dies with it;
* as root: a fresh unprivileged uid and gid (so nothing of the grader's is
  readable unless world-readable, and the grader cannot be signalled); as
  another user: an unprivileged user namespace for the namespaces above;
* resource limits: CPU time, address space, processes, file size, open
  files, no core dumps; no new privileges (setuid binaries stay inert).

Each wall that the kernel refuses (Docker without CAP_SYS_ADMIN, say) is
skipped, and the launcher checks from inside, after dropping privileges,
which private paths it can still read: ``Walls`` is that report.  From
outside, the parent enforces the wall-clock limit by killing the whole
process group, keeps only a bounded tail of the output, and kills whatever
still runs under the sandbox's uid.
"""
import json
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple

# Sandbox uids are drawn at random from a range no distribution allocates,
# so concurrent gradings never share one and a sweep kills only its own.
UID_RANGE = (1 << 20, 1 << 30)


@dataclass(frozen=True)
class Limits:
    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    processes: int
    file_bytes: int
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
    network: bool  # no network reachable
    pid_namespace: bool
    hidden: Tuple[str, ...]  # private paths it could not read
    readable: Tuple[str, ...]  # private paths it could still read
    notes: Tuple[str, ...]  # walls the kernel refused, and why

    @classmethod
    def weakest(cls, walls: Iterable["Walls"]) -> "Walls":
        """The walls that held in every one of several runs."""
        walls = list(walls)
        uids = {w.uid for w in walls}
        return cls(
            uid=None if None in uids or not walls else min(uids),
            network=all(w.network for w in walls),
            pid_namespace=all(w.pid_namespace for w in walls),
            hidden=tuple(sorted(set.intersection(*(set(w.hidden) for w in walls)))) if walls else (),
            readable=tuple(sorted({p for w in walls for p in w.readable})),
            notes=tuple(dict.fromkeys(n for w in walls for n in w.notes)),
        )

    @property
    def complete(self) -> bool:
        return self.uid is not None and self.network and self.pid_namespace and not self.readable

    def describe(self) -> Dict[str, object]:
        return {
            "user": "separate unprivileged uid" if self.uid is not None else "same user as the grader",
            "network": "none" if self.network else "not isolated",
            "processes": "own PID namespace" if self.pid_namespace else "process group and uid sweep only",
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


def run(command: Sequence[str], *, cwd: Path, env: Dict[str, str], limits: Limits,
        private: Iterable[Path] = (), writable: Iterable[Path] = (), needed: Iterable[Path] = (),
        namespaces: bool = True) -> Outcome:
    """Run ``command`` in ``cwd`` inside the sandbox.  ``private`` paths are
    hidden from it, except those holding ``cwd``, ``needed`` or ``writable``
    paths or the interpreter (named in the walls' notes); ``writable``
    folders are handed to the sandbox's uid.  ``namespaces=False`` builds
    the walls a platform without namespaces allows (for tests)."""
    uid = random.randrange(*UID_RANGE) if os.geteuid() == 0 else None
    if uid is not None:
        for folder in writable:
            os.chown(folder, uid, uid)
    # The interpreter's folders are made reachable (and checked) when the
    # command runs this same interpreter.
    reach = _interpreter_paths() if command[0] == sys.executable else []
    inside = [os.path.realpath(p) for p in (cwd, *writable, *needed)] + reach
    hide, notes = [], []
    for path in map(os.path.realpath, private):
        holds = [p for p in inside if p == path or p.startswith(path.rstrip("/") + "/")]
        (notes.append(f"left {path} open: it holds {holds[0]}") if holds else hide.append(path))
    config = {
        "uid": uid,
        "namespaces": namespaces,
        "hide": hide,
        "reach": reach,
        "limits": {"cpu": limits.cpu_seconds, "memory": limits.memory_bytes, "processes": limits.processes,
                   "file": limits.file_bytes, "open_files": limits.open_files},
    }
    status_read, status_write = os.pipe()
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", __file__, str(status_write), json.dumps(config), *command],
            cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, pass_fds=(status_write,),
        )
    finally:
        os.close(status_write)
    tail = _Tail(process.stdout, limits.output_kept, limits.output_bytes, lambda: _kill_group(process.pid))
    stopped = ""
    try:
        status = _read_status(status_read)
        try:
            process.wait(timeout=max(0.0, limits.wall_seconds - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            stopped = (f"ran past the wall-clock limit of {limits.wall_seconds:g} s "
                       f"(an endless loop, or code far slower than it needs to be?)")
    finally:
        _kill_group(process.pid)  # and whatever it left in its group
        process.wait()
        if uid is not None:
            _sweep(uid)
        tail.finish()
    if "error" in status:
        from .errors import SandboxError

        raise SandboxError(f"the sandbox could not start: {status['error']}")
    if tail.capped:
        stopped = f"printed more than {limits.output_bytes >> 20} MiB (a print inside a loop?)"
    walls = Walls(uid=uid, network=status.get("network", False), pid_namespace=status.get("pid_namespace", False),
                  hidden=tuple(status.get("hidden", ())), readable=tuple(status.get("readable", ())),
                  notes=tuple(notes + status.get("notes", [])))
    return Outcome(None if stopped else process.returncode, stopped, time.monotonic() - started, tail.text(), walls)


def _interpreter_paths() -> list:
    """Where this interpreter and its packages live, which the command needs."""
    paths = {sys.base_prefix, sys.prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p)
    return sorted(os.path.realpath(p) for p in paths)


def _read_status(fd: int) -> dict:
    with os.fdopen(fd, "rb") as pipe:
        data = pipe.read(1 << 20)
    try:
        status = json.loads(data)
    except ValueError:
        return {"error": "the launcher died before reporting (see the output)"}
    return status if isinstance(status, dict) else {"error": "the launcher's report is not an object"}


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
        # A process that escaped the group may still hold the pipe open.
        self.thread.join(timeout=5)
        self.stream.close()

    def text(self) -> str:
        return b"".join(self.chunks)[-self.keep:].decode("utf-8", errors="replace")


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _sweep(uid: int) -> None:
    """Kill every live process of ``uid`` (escaped from the group, say),
    until none is left; zombies are harmless and left to their reaper."""
    for _ in range(100):
        found = [pid for pid in _pids() if _live_uid(pid) == uid]
        if not found:
            return
        for pid in found:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)


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
# Everything below runs in the child, before exec, from the standard library
# only (the launcher starts with -I -S).

CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT = 1, 2, 4, 8, 32
MS_BIND, MS_REC, MS_PRIVATE = 4096, 0x4000, 1 << 18
PR_SET_NO_NEW_PRIVS = 38


class _Kernel:
    def __init__(self):
        import ctypes

        self.ctypes = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)

    def call(self, name, *args):
        if getattr(self.libc, name)(*args) != 0:
            errno = self.ctypes.get_errno()
            raise OSError(errno, f"{name}: {os.strerror(errno)}")

    def unshare(self, flags):
        self.call("unshare", flags)

    def mount(self, source, target, fstype, flags, data=None):
        encode = lambda s: None if s is None else s.encode()
        self.call("mount", encode(source), encode(target), encode(fstype), self.ctypes.c_ulong(flags), encode(data))

    def prctl(self, option, value):
        self.call("prctl", option, self.ctypes.c_ulong(value), 0, 0, 0)


def _map_own_ids(uid: int, gid: int) -> None:
    """Map the caller's ids into the user namespace it just entered."""
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)


def _enter_namespaces(kernel: _Kernel, as_root: bool, notes: list) -> Tuple[bool, bool, bool]:
    """(network, mounts, pids): which namespaces the caller now has."""
    uid, gid = os.getuid(), os.getgid()
    base = 0 if as_root else CLONE_NEWUSER
    for flags in (CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID, CLONE_NEWNET | CLONE_NEWNS, CLONE_NEWNET):
        try:
            kernel.unshare(base | flags)
        except OSError as error:
            notes.append(f"unshare {_flag_names(base | flags)}: {error.strerror}")
            continue
        if not as_root:
            _map_own_ids(uid, gid)
        return True, bool(flags & CLONE_NEWNS), bool(flags & CLONE_NEWPID)
    return False, False, False


def _flag_names(flags: int) -> str:
    names = {CLONE_NEWUSER: "user", CLONE_NEWNET: "net", CLONE_NEWNS: "mount", CLONE_NEWPID: "pid"}
    return "+".join(name for bit, name in names.items() if flags & bit)


def _hide(kernel: _Kernel, paths: Iterable[str], notes: list) -> None:
    kernel.mount(None, "/", None, MS_REC | MS_PRIVATE)
    for path in paths:
        if os.path.isdir(path):
            try:
                kernel.mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
            except OSError as error:
                notes.append(f"cover {path}: {error.strerror}")


def _first_closed_ancestor(path: str) -> Optional[str]:
    """The first folder above ``path`` that other users may not enter."""
    parts = path.strip("/").split("/")[:-1]
    for i in range(len(parts) + 1):
        folder = "/" + "/".join(parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _reach(kernel: _Kernel, paths: Iterable[str], notes: list) -> None:
    """Let an unprivileged uid reach each of ``paths`` (the interpreter and
    its packages) that lies under a folder only root may enter, such as a
    pyenv under /root: that folder is covered with a tmpfs holding just
    those paths, bound from the originals."""
    blocked: Dict[str, list] = {}
    for path in paths:
        ancestor = _first_closed_ancestor(path)
        if ancestor and ancestor != "/":
            blocked.setdefault(ancestor, []).append(path)
    for ancestor, inner in blocked.items():
        try:
            handles = [(path, os.open(path, os.O_PATH)) for path in inner]
            kernel.mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "size=64k,mode=755")
            for path, handle in handles:
                os.makedirs(path, exist_ok=True)
                kernel.mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
                os.close(handle)
            kernel.mount(None, ancestor, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
        except OSError as error:
            notes.append(f"reach {', '.join(inner)} under {ancestor}: {error.strerror}")


def _outermost(paths: Iterable[str]) -> list:
    paths = sorted(set(paths))
    return [p for p in paths if not any(p.startswith(q.rstrip("/") + "/") for q in paths if q != p)]


def _set_limits(limits: dict) -> None:
    def cap(kind, value):
        resource.setrlimit(kind, (value, value))

    cap(resource.RLIMIT_CPU, limits["cpu"])
    cap(resource.RLIMIT_AS, limits["memory"])
    cap(resource.RLIMIT_FSIZE, limits["file"])
    cap(resource.RLIMIT_NOFILE, limits["open_files"])
    cap(resource.RLIMIT_CORE, 0)
    cap(resource.RLIMIT_NPROC, limits["processes"])


def _check_from_inside(paths: Iterable[str]) -> Tuple[list, list]:
    hidden, readable = [], []
    for path in paths:
        try:
            if os.path.isdir(path):
                is_open = bool(os.listdir(path))  # a cover is empty
            else:
                with open(path, "rb"):
                    is_open = True
        except OSError:
            is_open = False
        (readable if is_open else hidden).append(path)
    return hidden, readable


def _network_closed() -> bool:
    return all(name == "lo" for _, name in socket.if_nameindex())


def _launch(argv: list) -> None:
    status_fd, config, command = int(argv[1]), json.loads(argv[2]), argv[3:]
    status = {"notes": []}

    def report_and_exit(error: str) -> None:
        status["error"] = error
        os.write(status_fd, json.dumps(status).encode())
        os._exit(126)

    as_root = os.geteuid() == 0
    try:
        kernel = _Kernel()
        network, mounts, pids = (_enter_namespaces(kernel, as_root, status["notes"]) if config["namespaces"]
                                 else (False, False, False))
        if mounts:
            _hide(kernel, config["hide"], status["notes"])
            if as_root:
                _reach(kernel, _outermost(config["reach"]), status["notes"])
        if pids:
            # The first child is the new namespace's init: when it exits,
            # the kernel kills everything it left behind.  This process
            # only waits, in the same process group, and passes on its status.
            child = os.fork()
            if child:
                os.close(status_fd)
                _, code = os.waitpid(child, 0)
                if os.WIFSIGNALED(code):  # die of the same signal, for the parent to see
                    signal.signal(os.WTERMSIG(code), signal.SIG_DFL)
                    os.kill(os.getpid(), os.WTERMSIG(code))
                os._exit(os.waitstatus_to_exitcode(code))
            kernel.mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        if mounts and not as_root:
            # A user namespace inside the first locks its mounts: the
            # command may own this namespace, but cannot lift the covers.
            uid, gid = os.getuid(), os.getgid()
            kernel.unshare(CLONE_NEWUSER | CLONE_NEWNS)
            _map_own_ids(uid, gid)
        _set_limits(config["limits"])
        if as_root:
            os.setgroups([])
            os.setgid(config["uid"])
            os.setuid(config["uid"])
            if os.getuid() == 0 or os.geteuid() == 0:
                report_and_exit("still root after setuid")
        kernel.prctl(PR_SET_NO_NEW_PRIVS, 1)
        unreachable = [p for p in [command[0], *config["reach"]] if not os.access(p, os.R_OK | os.X_OK)]
        if unreachable:
            report_and_exit(f"the sandbox's user cannot use {unreachable[0]}: install Python and the kit's "
                            f"packages where every user may read them (not under /root), or grade on a "
                            f"machine that allows mount namespaces")
        status["network"] = network and _network_closed()
        status["pid_namespace"] = pids
        status["hidden"], status["readable"] = _check_from_inside(config["hide"])
    except Exception as error:  # any failure here must stop the command from running
        report_and_exit(f"{type(error).__name__}: {error}")
    os.write(status_fd, json.dumps(status).encode())
    os.close(status_fd)
    os.execvp(command[0], command)


if __name__ == "__main__":
    _launch(sys.argv)
