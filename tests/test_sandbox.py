"""The sandbox that runs student code (grader/sandbox.py), and the copying
out of what a run leaves behind (grader/run.py), tested directly: the
default-deny view of the machine, each wall, the fallback without
namespaces, and the limits enforced from outside."""
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from grader import defaults, sandbox
from grader.errors import GradingStopped, SandboxError
from grader.grade import write_json
from tests.hostile import KILLS_ITS_OWN_UID, MANY_TEMP_FILES, PID_HOPPER
from grader.run import WORK_PREFIX, copy_out, remove_abandoned, remove_work_folder, work_folder

AS_ROOT = os.geteuid() == 0
LIMITS = defaults.limits(wall_seconds=20)
only_root = pytest.mark.skipif(not AS_ROOT, reason="only root can run code as another uid")


@pytest.fixture
def box():
    """A run's own folder, and a secret next to it (outside pytest's
    temporary folders, which only their owner may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    os.chmod(folder, 0o755)
    (folder / "box").mkdir(mode=0o755)
    (folder / "secret").mkdir(mode=0o755)
    (folder / "secret" / "answer.txt").write_text("42")
    yield folder
    subprocess.run(["rm", "-rf", str(folder)], check=True)


def run_python(code, box, *, limits=LIMITS, **kwargs):
    return sandbox.run([sys.executable, "-c", textwrap.dedent(code)], box=box / "box", env=dict(os.environ),
                       limits=limits, **kwargs)


def run_shell(script, box, *, limits=LIMITS, **kwargs):
    # Without namespaces the interpreter may be out of the sandbox uid's
    # reach (a pyenv under /root); /bin/sh never is.
    return sandbox.run(["/bin/sh", "-c", textwrap.dedent(script)], box=box / "box", env={"PATH": "/usr/bin:/bin"},
                       limits=limits, **kwargs)


PROBE = """
    import os, socket
    print("uid", os.getuid(), "pid", os.getpid())
    print("interfaces", [name for _, name in socket.if_nameindex()])
    print("root", sorted(os.listdir("/")))
    for name, path in [("secret", %r), ("git", %r)]:
        try:
            print(name, os.listdir(path) if os.path.isdir(path) else open(path).read())
        except OSError as error:
            print(name, "refused", type(error).__name__)
"""


def test_command_sees_only_the_system_the_interpreter_and_its_box(box):
    git = defaults.KIT_ROOT / ".git"
    outcome = run_python(PROBE % (str(box / "secret" / "answer.txt"), str(git)), box,
                         secrets=[box / "secret", git])
    assert outcome.returncode == 0, outcome.output
    walls = outcome.walls
    assert walls.filesystem and walls.network and walls.pid_namespace and walls.keyrings and walls.complete, walls
    assert walls.readable == ()
    assert "secret refused FileNotFoundError" in outcome.output and "git refused FileNotFoundError" in outcome.output
    assert "interfaces ['lo']" in outcome.output
    # Top level: the system's folders, fresh /tmp, /dev and /proc, and the
    # first folders of the paths it was given (the box, the interpreter).
    given = {Path(p).parts[1] for p in [str(box), *sandbox._interpreter_paths()]}
    system = {Path(p).parts[1] for p in sandbox.SYSTEM + sandbox.SHARED_TEMP if os.path.lexists(p)}
    seen = eval(next(line for line in outcome.output.splitlines() if line.startswith("root "))[5:])
    assert set(seen) <= given | system | {"dev", "proc"}, set(seen) - given - system
    if AS_ROOT:
        assert f"uid {walls.uid} " in outcome.output and walls.uid >= sandbox.UID_RANGE[0]


def test_nothing_a_run_writes_reaches_the_next_run(box):
    write = """
        for path in ["/tmp/left", "/var/tmp/left", "/dev/shm/left", "out/left"]:
            open(path, "w").write("from the first run")
        print("wrote")
    """
    out = box / "box" / "out"
    out.mkdir()
    first = run_python(write, box, writable=[out])
    assert first.returncode == 0 and "wrote" in first.output, first.output
    read = """
        import os
        print([p for p in ["/tmp/left", "/var/tmp/left", "/dev/shm/left"] if os.path.exists(p)])
    """
    second = run_python(read, box)
    assert second.returncode == 0 and "[]" in second.output, second.output
    assert not any(os.path.exists(p) for p in ("/tmp/left", "/var/tmp/left", "/dev/shm/left"))


def test_a_run_cannot_reach_another_runs_box(box):
    other = box / "other"
    other.mkdir()
    (other / "solution.py").write_text("answer = 42")
    started = threading.Event()

    def busy():
        started.set()
        sandbox.run(["/bin/sleep", "3"], box=other, env={}, limits=LIMITS)

    thread = threading.Thread(target=busy)
    thread.start()
    started.wait()
    outcome = run_python(f"import os; print(os.path.exists({str(other)!r}))", box, secrets=[other])
    thread.join()
    assert outcome.returncode == 0 and "False" in outcome.output, outcome.output
    assert outcome.walls.readable == ()


# Each call of sandbox.REFUSED_CALLS, made as a channel would make it on a
# file every box reads; then calls honest code makes, which must still work.
CHANNEL_PROBE = """
import ctypes, errno, fcntl, mmap, os, platform
libc = ctypes.CDLL(None, use_errno=True)
ARM = platform.machine() == "aarch64"
shared = os.open(os.path.realpath(os.sys.executable), os.O_RDONLY)
folder = os.open("/usr", os.O_RDONLY | os.O_DIRECTORY)
FCNTL = 25 if ARM else 72
page = mmap.mmap(-1, 4096)
residency = ctypes.create_string_buffer(1)
PREADV2, PWRITEV2, IO_SETUP = (286, 287, 0) if ARM else (327, 328, 206)
one = (ctypes.c_char * 16)()
iovec = (ctypes.c_void_p * 2)(ctypes.addressof(one), 16)

def call(make):
    try:
        result = make()
    except OSError as error:
        return error.errno
    return ctypes.get_errno() if result == -1 else 0

probes = {
    "flock": lambda: fcntl.flock(shared, fcntl.LOCK_SH | fcntl.LOCK_NB),
    "lockf": lambda: fcntl.lockf(shared, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 1 << 30),
    "F_GETLK": lambda: fcntl.fcntl(shared, fcntl.F_GETLK, bytes(32)),
    "F_OFD_GETLK": lambda: fcntl.fcntl(shared, fcntl.F_OFD_GETLK, bytes(32)),
    "F_SETLEASE": lambda: fcntl.fcntl(shared, fcntl.F_SETLEASE, fcntl.F_RDLCK),
    "F_NOTIFY": lambda: fcntl.fcntl(folder, fcntl.F_NOTIFY, fcntl.DN_ACCESS),
    # the kernel reads the command's low 32 bits only
    "F_GETLK, upper bits set": lambda: libc.syscall(FCNTL, shared, ctypes.c_ulong(1 << 32 | fcntl.F_GETLK),
                                                    ctypes.create_string_buffer(32)),
    "F_NOTIFY, upper bits set": lambda: libc.syscall(FCNTL, folder, ctypes.c_ulong(1 << 32 | fcntl.F_NOTIFY),
                                                     ctypes.c_ulong(fcntl.DN_ACCESS)),
    "inotify": lambda: libc.inotify_init1(0),
    "fanotify": lambda: libc.fanotify_init(0, 0),
    "mincore": lambda: libc.mincore(ctypes.c_void_p(ctypes.addressof(ctypes.c_char.from_buffer(page))),
                                    ctypes.c_size_t(4096), residency),
    "cachestat": lambda: libc.syscall(451, shared, None, None, 0),
    # a read that fails rather than wait for a page that is not cached
    "preadv2 RWF_NOWAIT": lambda: os.preadv(shared, [bytearray(1)], 0, os.RWF_NOWAIT),
    "preadv2 RWF_NOWAIT, upper bits set": lambda: libc.syscall(PREADV2, shared, iovec, 1, 0, 0,
                                                               ctypes.c_ulong(1 << 32 | os.RWF_NOWAIT)),
    "pwritev2 RWF_NOWAIT": lambda: os.pwritev(shared, [b"x"], 0, os.RWF_NOWAIT),
    "io_setup": lambda: libc.syscall(IO_SETUP, 1, ctypes.byref(ctypes.c_ulong(0))),
    "perf_event_open": lambda: libc.syscall(241 if ARM else 298, None, 0, -1, -1, 0),
    "io_uring_setup": lambda: libc.syscall(425, 1, None),
    # with a flag the kernel then refuses (CLONE_PARENT, CLONE_FS): outside, nothing is made
    "unshare CLONE_NEWUSER": lambda: libc.unshare(0x10000000 | 0x8000),
    "clone CLONE_NEWUSER": lambda: libc.syscall(220 if ARM else 56, ctypes.c_ulong(0x10000000 | 0x200), None, None,
                                                None, None),
}
print("refused", sorted(name for name, make in probes.items() if call(make) == errno.EPERM))
print("allowed", sorted(name for name, make in probes.items() if call(make) != errno.EPERM))
os.pread(shared, 16, 0)
assert libc.syscall(PREADV2, shared, iovec, 1, 0, 0, 0) == 16  # preadv2 without RWF_NOWAIT
print("honest", fcntl.fcntl(shared, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY, fcntl.fcntl(shared, fcntl.F_GETFD))
# threads and processes as honest code makes them (the C library falls back from clone3 to clone)
import subprocess, threading
worker = threading.Thread(target=lambda: None)
worker.start()
worker.join()
child = os.fork()
if child == 0:
    os._exit(7)
print("made", os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]), subprocess.run(["true"]).returncode)
"""
CHANNEL_CALLS = ["F_GETLK", "F_GETLK, upper bits set", "F_NOTIFY", "F_NOTIFY, upper bits set", "F_OFD_GETLK",
                 "F_SETLEASE", "cachestat", "clone CLONE_NEWUSER", "fanotify", "flock", "inotify", "io_setup",
                 "io_uring_setup", "lockf", "mincore", "perf_event_open", "preadv2 RWF_NOWAIT",
                 "preadv2 RWF_NOWAIT, upper bits set", "pwritev2 RWF_NOWAIT", "unshare CLONE_NEWUSER"]


def test_calls_that_reach_kernel_state_other_boxes_see_are_refused(box):
    outcome = run_python(CHANNEL_PROBE, box)
    assert outcome.returncode == 0, outcome.output
    assert f"refused {CHANNEL_CALLS}" in outcome.output, outcome.output
    assert "honest True" in outcome.output and "made 7 0" in outcome.output, outcome.output
    assert outcome.walls.shared_objects and outcome.walls.describe()["shared_objects"].startswith("refused ("), \
        outcome.walls


def test_the_same_calls_reach_the_kernel_outside_the_sandbox():
    """The probe's calls work where nothing refuses them: the refusals
    above are the filter's doing."""
    ran = subprocess.run([sys.executable, "-c", CHANNEL_PROBE], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "refused []" in ran.stdout, ran.stdout


def test_without_namespaces_the_launcher_loads_the_filter_itself(box):
    outcome = run_shell("flock -n -s /usr/bin true && echo locked", box, namespaces=False)
    assert "Operation not permitted" in outcome.output and "locked" not in outcome.output, outcome.output
    assert outcome.walls.shared_objects and outcome.walls.keyrings, outcome.walls


def test_without_namespaces_only_permissions_guard_private_files(box):
    (box / "open").mkdir(mode=0o755)
    (box / "open" / "notes.txt").write_text("readable by all")
    os.chmod(box / "secret", 0o700)
    outcome = run_shell("echo ran", box, secrets=[box / "secret", box / "open"], namespaces=False)
    assert outcome.returncode == 0 and "ran" in outcome.output, outcome.output
    walls = outcome.walls
    assert not walls.filesystem and not walls.network and not walls.pid_namespace and not walls.complete
    assert str(box / "open") in walls.readable
    # A separate uid cannot read a folder closed to others; the same user can.
    assert (str(box / "secret") in walls.readable) != AS_ROOT
    described = walls.describe()
    assert described["private_files"].startswith("READABLE: ") and described["network"] == "not isolated"
    assert described["filesystem"].startswith("the whole machine")


@only_root
def test_without_namespaces_what_the_uid_left_in_shared_folders_is_removed(box):
    script = "for d in /tmp /var/tmp /dev/shm; do mkdir -p $d/needle-left-$$/a/b && echo x > $d/needle-left-$$/f; done"
    outcome = run_shell(script, box, namespaces=False)
    assert outcome.returncode == 0, outcome.output
    left = [p for folder in sandbox.SHARED_TEMP for p in Path(folder).glob("needle-left-*")]
    assert left == []


def _system_python() -> str:
    """A Python that any uid may run (the kit's own may live under /root)."""
    found = [p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.access(p, os.X_OK)]
    assert found, "these tests need a system python3 in /usr/bin or /usr/local/bin"
    return found[0]


@only_root
@pytest.mark.parametrize("code", [PID_HOPPER, KILLS_ITS_OWN_UID], ids=["pid_hopper", "kills_its_own_uid"])
def test_without_namespaces_no_process_outlives_its_run(box, code):
    """Processes that make a sweep's work hard: one changes its PID all the
    time, one kills every process of its uid (the helper that sweeps it too,
    were it of that uid).  Each starts beating after 5 s if still alive."""
    beats = box / "beats"
    beats.mkdir(mode=0o777)
    os.chmod(beats, 0o777)
    outcome = sandbox.run([_system_python(), "-c", code, str(beats / "beat")], box=box / "box", env={},
                          limits=LIMITS, namespaces=False)
    assert outcome.returncode == 0, outcome.output
    time.sleep(8)
    assert not (beats / "beat").exists(), "a process of the run outlived it: " + (beats / "beat").read_text()[:200]


@only_root
def test_without_namespaces_thousands_of_leftovers_are_removed_at_once(box):
    outcome = sandbox.run([_system_python(), "-c", MANY_TEMP_FILES], box=box / "box", env={}, limits=LIMITS,
                          namespaces=False)
    assert outcome.returncode == 0, outcome.output
    # One process per entry took minutes here (20,000 entries); one per thousand, seconds.
    assert outcome.seconds < 30, outcome.seconds
    assert not list(Path("/tmp").glob("needle-left-many-*"))


@only_root
def test_a_killed_gradings_uids_alone_are_swept(tmp_path):
    """What a killed grading's runs left is found by the uids it handed out
    (its ledger), never by a range of uids that other accounts may use."""
    handed, foreign = sandbox.UID_RANGE[0] + 7, sandbox.UID_RANGE[0] + 8
    left = {uid: Path(f"/tmp/needle-left-{uid}-{os.getpid()}") for uid in (handed, foreign)}
    for uid, path in left.items():
        path.write_text("left")
        os.chown(path, uid, uid)
    try:
        (tmp_path / "uids").write_text(f"{handed}\n")
        sandbox.sweep_ledger(tmp_path / "uids")
        assert not left[handed].exists() and left[foreign].exists()
    finally:
        left[foreign].unlink(missing_ok=True)


def test_required_isolation_refuses_to_run_without_namespaces(box):
    with pytest.raises(SandboxError, match="full sandbox is required"):
        run_shell("touch ran", box, namespaces=False, require_isolation=True)
    assert not (box / "box" / "ran").exists()


SLEEPER = """
    trap '' TERM INT HUP
    setsid sleep 1001 &
    echo sleeping
    sleep 1001
"""


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "no-namespaces"])
def test_wall_clock_limit_kills_everything_it_started(box, namespaces):
    if not namespaces and not AS_ROOT:
        pytest.skip("without a PID namespace, only root can sweep the processes of another uid")
    started = time.monotonic()
    outcome = run_shell(SLEEPER, box, limits=defaults.limits(wall_seconds=3), namespaces=namespaces)
    assert outcome.returncode is None and outcome.stopped.startswith("ran past the wall-clock limit of 3 s")
    assert "sleeping" in outcome.output
    assert time.monotonic() - started < 10
    assert not _sleepers(), "the detached sleeper survived"


def _sleepers():
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes() == b"sleep\x001001\x00":
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


GRADER = """
import os, sys
from pathlib import Path
from grader import defaults, sandbox
sandbox.run(["/bin/sh", "-c", sys.argv[1]], box=Path(sys.argv[2]), env={"PATH": "/usr/bin:/bin"},
            limits=defaults.limits(wall_seconds=300), namespaces=sys.argv[3] == "namespaces", ledger=Path(sys.argv[4]))
"""


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "no-namespaces"])
def test_runs_die_with_a_grader_killed_by_sigkill(box, tmp_path, namespaces):
    """The launcher stays as the run's supervisor and hears of its parent's
    death from the kernel: a 300 s run ends within seconds of it, and its
    cgroup goes with it."""
    if not namespaces and not AS_ROOT:
        pytest.skip("without a PID namespace, only root can sweep the processes of another uid")
    ledger = tmp_path / "ledger"
    reaped = subprocess.run(
        [sys.executable, "-m", "tests.reaper", "--signal", "KILL", "--when-started", "1001", "--settle", "1",
         "--grace", "5", "--log", str(tmp_path / "log"), "--", sys.executable, "-c", GRADER,
         textwrap.dedent(SLEEPER), str(box / "box"), "namespaces" if namespaces else "none", str(ledger)],
        cwd=defaults.KIT_ROOT, capture_output=True, text=True, timeout=120,
    )
    report = json.loads(reaped.stdout)
    assert report["condition_met"] and report["returncode"] == -9, (report, (tmp_path / "log").read_text())
    assert report["left"] == [], report["left"]
    groups = [line.split(" ", 1)[1] for line in ledger.read_text().splitlines() if line.startswith("cgroup ")]
    assert bool(groups) == _cgroups_here() and not [g for g in groups if os.path.exists(g)], groups


def test_the_supervisor_keeps_the_wall_clock_when_its_parent_does_not(box, monkeypatch):
    monkeypatch.setattr(sandbox, "SUPERVISOR_GRACE", 3 - LIMITS.wall_seconds)  # its clock: 3 s, the parent's: 20 s
    outcome = run_shell(SLEEPER, box)
    assert outcome.seconds < 10 and outcome.returncode == -9, outcome
    assert not _sleepers(), "the detached sleeper survived"


def test_stop_all_kills_the_runs_in_flight_and_refuses_new_ones(box):
    stopped = []

    def run():
        try:
            run_shell(SLEEPER, box)
        except GradingStopped as error:
            stopped.append(str(error))

    thread = threading.Thread(target=run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not _sleepers() and time.monotonic() < deadline:
            time.sleep(0.1)
        sandbox.stop_all("asked by the test")
        thread.join(timeout=10)
        assert not thread.is_alive() and stopped == ["asked by the test"]
        assert not _sleepers(), "the detached sleeper survived"
        with pytest.raises(GradingStopped, match="asked by the test"):
            run_shell("echo never", box)
    finally:
        sandbox.resume()
    assert run_shell("echo again", box).returncode == 0


def test_only_abandoned_working_folders_are_removed(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    held = work_folder()
    abandoned, young = tmp_path / (WORK_PREFIX + "abandoned"), tmp_path / (WORK_PREFIX + "young")
    for folder in (abandoned, young):
        (folder / "runs").mkdir(parents=True)
    for folder in (held, abandoned):
        os.utime(folder, (time.time() - 60, time.time() - 60))
    assert remove_abandoned() == [abandoned]
    assert held.is_dir() and young.is_dir() and not abandoned.exists()
    remove_work_folder(held)
    assert not held.exists()


def test_scratch_folders_are_private_and_size_capped(box):
    """A run's home and TMPDIR: what it writes there never reaches the
    host's disk, and there is only so much room."""
    scratch = box / "box" / "scratch"
    scratch.mkdir()
    code = f"""
        for name in ("first", "second"):
            try:
                open({str(scratch)!r} + "/" + name, "wb").write(bytes(40 << 20))
                print(name, "written")
            except OSError as error:
                print(name, "refused", error.strerror)
    """
    outcome = run_python(code, box, scratch=[scratch])
    assert "first written" in outcome.output and "second refused No space left on device" in outcome.output, \
        outcome.output
    assert list(scratch.iterdir()) == []


def test_flood_of_output_is_stopped_and_its_tail_kept(box):
    limits = defaults.limits(wall_seconds=120)  # the flood, not the clock, must stop it
    code = "import sys\nfor i in range(10 ** 9):\n    sys.stdout.write(f'line {i}\\n')"
    outcome = run_python(code, box, limits=limits)
    assert outcome.stopped.startswith(f"printed more than {limits.output_bytes >> 20} MiB")
    assert len(outcome.output.encode()) <= limits.output_kept
    assert outcome.output.rstrip().splitlines()[-2].startswith("line ")


def test_resource_limits_hold_inside(box):
    code = """
        import os, resource
        print("cpu", resource.getrlimit(resource.RLIMIT_CPU))
        print("nproc", resource.getrlimit(resource.RLIMIT_NPROC))
        try:
            bytearray(%d)
        except MemoryError:
            print("memory refused")
        try:
            open("/tmp/big", "wb").write(bytes(%d))
        except OSError as error:
            print("temp full", type(error).__name__)
    """ % (LIMITS.memory_bytes + (1 << 30), LIMITS.file_bytes + (1 << 20))
    outcome = run_python(code, box)
    cpu = int(LIMITS.cpu_seconds + sandbox.SUPERVISOR_GRACE)  # each process's: the parent counts the whole first
    assert f"cpu ({cpu}, {cpu})" in outcome.output, outcome.output
    assert f"nproc ({LIMITS.processes}, {LIMITS.processes})" in outcome.output
    assert "memory refused" in outcome.output
    assert "temp full OSError" in outcome.output


def test_run_output_is_copied_out_without_following_links(tmp_path):
    out, secret = tmp_path / "out", tmp_path / "secret.npy"
    np.save(secret, np.arange(3.0))
    (out / "report.json").parent.mkdir()
    (out / "report.json").symlink_to(tmp_path / "secret.npy")
    test = out / "records" / ("a" * 32)
    test.mkdir(parents=True)
    np.save(test / "checked.0.npy", np.ones(2))
    (test / "checked.1.npy").symlink_to(secret)
    os.mkfifo(test / "checked.2.npy")
    (out / "records" / ("b" * 32)).symlink_to(tmp_path, target_is_directory=True)
    assert copy_out(out, tmp_path / "kept") is False  # the report was a link
    kept = sorted(p.relative_to(tmp_path / "kept").as_posix() for p in (tmp_path / "kept").rglob("*") if p.is_file())
    assert kept == [f"records/{'a' * 32}/checked.0.npy"]


def test_only_the_records_the_key_has_are_copied_out_each_within_a_few_times_its_size(tmp_path):
    """A run's sparse files cost its tmpfs nothing and the grader's disk their
    whole size once copied: what scoring never reads stays behind."""
    from grader.run import RECORD_SLACK

    key, out = tmp_path / "key", tmp_path / "out"
    for folder, size in ((key / ("a" * 32), 4 << 20), (out / "records" / ("a" * 32), 4 << 20)):
        folder.mkdir(parents=True)
        (folder / "checked.0.npy").write_bytes(bytes(size))
    (key / ("a" * 32) / "checked.1.npy").write_bytes(bytes(8))
    with open(out / "records" / ("a" * 32) / "checked.1.npy", "wb") as sparse:
        sparse.truncate(RECORD_SLACK << 20 | 1)  # over a few times the key's, and over 1 MiB
    for name in ("checked.9.npy", "extra.npy"):
        (out / "records" / ("a" * 32) / name).write_bytes(bytes(8))
    (out / "records" / ("b" * 32)).mkdir()
    (out / "records" / ("b" * 32) / "checked.0.npy").write_bytes(bytes(8))
    copy_out(out, tmp_path / "kept", key)
    kept = sorted(p.relative_to(tmp_path / "kept").as_posix() for p in (tmp_path / "kept").rglob("*") if p.is_file())
    assert kept == [f"records/{'a' * 32}/checked.0.npy"]


def test_results_are_written_through_no_planted_link_or_fifo(tmp_path):
    """Root replaces whatever entry sits at the results' path (a link to a
    file it must not touch, a FIFO that would block a plain open)."""
    target = tmp_path / "not-yours.txt"
    target.write_text("keep")
    for name, plant in (("linked.json", lambda p: p.symlink_to(target)), ("fifo.json", os.mkfifo)):
        plant(tmp_path / name)
        write_json(tmp_path / name, {"score": 1})
        assert not (tmp_path / name).is_symlink() and (tmp_path / name).is_file()
        assert json.loads((tmp_path / name).read_text()) == {"score": 1}
    assert target.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo.json", "linked.json", "not-yours.txt"]


@only_root
def test_a_machine_with_no_uid_to_spare_runs_as_the_graders_user(box):
    """Root in a rootless container (here: a user namespace that maps uid 0
    only) cannot hand out a fresh uid: the run goes on, and says so."""
    code = textwrap.dedent(f"""
        import os, sys
        from pathlib import Path
        from grader import defaults, sandbox
        outcome = sandbox.run(["/bin/sh", "-c", "echo ran"], box=Path({str(box / "box")!r}), env={{}},
                              limits=defaults.limits(wall_seconds=20))
        print(outcome.returncode, outcome.output.strip(), outcome.walls.uid, outcome.walls.notes)
    """)
    done = subprocess.run(["unshare", "--user", "--map-root-user", sys.executable, "-c", code],
                          cwd=defaults.KIT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("0 ran None ("), done.stdout
    assert "no uid to spare for the sandbox" in done.stdout



# ---------------------------------------------------------------- the run as a unit
# Where the grader can make cgroups (root, a writable cgroup tree), the
# limits hold for the run's processes together and the writable folders
# are capped as a whole; each figure checked here is read from outside (the
# cgroup's counters, the host's folder), never from the box's own report.

def _cgroups_here() -> bool:
    try:
        sandbox._cgroup_parents()
    except sandbox._Refused:
        return False
    return AS_ROOT


with_cgroups = pytest.mark.skipif(not _cgroups_here(), reason="needs root and a writable cgroup tree")


@with_cgroups
def test_children_together_are_held_to_the_runs_memory_cap(box):
    """Three children of 96 MiB each, under a cap of 192 MiB for the run:
    each is well under the per-process limit, together they are not."""
    limits = dataclasses.replace(LIMITS, memory_bytes=192 << 20)
    code = """
        import os, time
        children = []
        for _ in range(3):
            child = os.fork()
            if child == 0:
                held = b"x" * (96 << 20)  # written, so resident
                time.sleep(3)
                os._exit(0)
            children.append(child)
        print("exits", sorted(os.waitstatus_to_exitcode(os.waitpid(c, 0)[1]) for c in children))
    """
    outcome = run_python(code, box, limits=limits)
    assert outcome.walls.cgroup and outcome.usage is not None, outcome.walls
    assert "exits [-9" in outcome.output, outcome.output  # the kernel killed one at least
    assert 96 << 20 < outcome.usage.memory_peak <= limits.memory_bytes, outcome.usage


@with_cgroups
def test_a_fork_bomb_is_held_to_the_runs_process_cap(box):
    """The run's cap counts every process in it, where the per-uid limit
    (the same figure) counts only the sandbox uid's: the cap strikes first."""
    code = """
        import os, signal, time
        children = []
        while len(children) < 100:
            try:
                child = os.fork()
            except OSError as error:
                print("refused", error.strerror)
                break
            if child == 0:
                time.sleep(30)
                os._exit(0)
            children.append(child)
        print("made", len(children))
        for child in children:
            os.kill(child, signal.SIGKILL)
    """
    outcome = run_python(code, box)
    made = int(outcome.output.split("made ")[1].split()[0])
    assert "refused Resource temporarily unavailable" in outcome.output, outcome.output
    # bubblewrap's two processes and the box's own count against the cap.
    assert made <= LIMITS.processes - 3, outcome.output
    assert outcome.usage.forks_refused >= 1, outcome.usage


@with_cgroups
def test_a_run_leaves_no_cgroup_and_no_process_behind(box, tmp_path):
    """Without a PID namespace a detached process outlives the command;
    the run's cgroup holds it all the same, and goes with it."""
    ledger = tmp_path / "ledger"
    outcome = run_shell("setsid sleep 1001 & echo started", box, namespaces=False, ledger=ledger)
    assert outcome.returncode == 0 and "started" in outcome.output, outcome.output
    groups = [line.split(" ", 1)[1] for line in ledger.read_text().splitlines() if line.startswith("cgroup ")]
    assert groups and all(os.path.basename(g).startswith(sandbox.CGROUP_PREFIX) for g in groups), groups
    assert not [g for g in groups if os.path.exists(g)]
    assert not _sleepers(), "the detached sleeper survived"
    assert outcome.usage.cpu_seconds > 0, outcome.usage


@with_cgroups
def test_a_killed_gradings_cgroups_are_emptied_and_removed(tmp_path):
    """A grading killed before it removed a run's cgroup: the next start
    kills what is in each cgroup its ledger names, and removes it."""
    ledger = tmp_path / "ledger"
    group, why = sandbox._make_cgroup(LIMITS, ledger)
    assert group is not None, why
    sleeper = subprocess.Popen(["sleep", "1001"])
    try:
        for procs in group.procs:
            Path(procs).write_text(str(sleeper.pid))
        sandbox.sweep_ledger(ledger)  # what the next grader's start does
        assert sleeper.wait(timeout=10) == -9
        assert not [f for f in group.folders.values() if os.path.exists(f)]
    finally:
        sleeper.kill()


@only_root
def test_the_writable_folders_hold_no_more_than_their_cap_on_the_host(box):
    """Many files, each under the per-file limit, into the run's out/: the
    host holds at most the cap, and nothing once the run is over."""
    limits = dataclasses.replace(LIMITS, disk_bytes=32 << 20)
    out = box / "box" / "out"
    out.mkdir()
    code = f"""
        for i in range(12):
            try:
                open({str(out)!r} + f"/part{{i}}", "wb").write(bytes(8 << 20))
            except OSError as error:
                print("refused", error.strerror)
                break
    """
    with sandbox.capped_folder(out, limits.disk_bytes) as disk:
        outcome = run_python(code, box, limits=limits, writable=[out], disk=disk)
        held = sum(p.stat().st_blocks * 512 for p in out.iterdir())
        assert "refused No space left on device" in outcome.output, outcome.output
        assert 16 << 20 < held <= limits.disk_bytes, held
        assert outcome.walls.disk and outcome.walls.describe()["disk"].startswith("writable folders capped")
    assert not os.path.ismount(out) and list(out.iterdir()) == []


def test_a_cgroup_the_run_cannot_enter_is_given_up_before_anything_runs(box, tmp_path, monkeypatch):
    """A user with cgroup delegation may make a cgroup yet not move a
    process into it: the command then runs once, without one, and the walls
    say so."""
    monkeypatch.setitem(sandbox._CGROUPS, "refused", "")
    unreachable = sandbox._Cgroup(1, sandbox.CGROUP_PREFIX + "0" * 32,
                                  {c: str(tmp_path / "gone") for c in sandbox.CGROUP_V1})
    made = sandbox._make_cgroup
    monkeypatch.setattr(sandbox, "_make_cgroup", lambda limits, ledger: made(limits, ledger)
                        if sandbox._CGROUPS["refused"] else (unreachable, ""))
    out = box / "box" / "out"
    out.mkdir()
    outcome = run_shell(f"echo ran >> {out}/runs", box, writable=[out])
    assert outcome.returncode == 0 and (out / "runs").read_text() == "ran\n", outcome.output
    assert outcome.walls.cgroup == "" and outcome.usage is None, outcome.walls
    assert any("could not enter it" in note for note in outcome.walls.notes), outcome.walls.notes


def test_without_cgroups_the_limits_hold_per_process_and_the_walls_say_so(box, tmp_path, monkeypatch):
    """Where the grader cannot make cgroups (here: their root is a plain
    folder), each process keeps its own limits, and the walls say that
    those are all."""
    monkeypatch.setattr(sandbox, "CGROUP_ROOT", str(tmp_path))
    code = "import resource; print('as', resource.getrlimit(resource.RLIMIT_AS))"
    out = box / "box" / "out"
    out.write_text("a file: no tmpfs can be mounted here")
    with sandbox.capped_folder(out, LIMITS.disk_bytes) as disk:
        outcome = run_python(code, box, disk=disk)
    assert outcome.returncode == 0 and f"as ({LIMITS.memory_bytes}, {LIMITS.memory_bytes})" in outcome.output, \
        outcome.output
    assert outcome.walls.cgroup == "" and outcome.usage is None, outcome
    described = outcome.walls.describe()
    assert described["run_limits"].startswith("per process only"), described
    assert described["disk"].startswith("per file only"), described
    notes = outcome.walls.notes
    assert any(note.startswith("no cgroup: ") and str(tmp_path) in note for note in notes), notes
    assert any(note.startswith("the writable folders were not capped as a whole") for note in notes), notes
    assert list(tmp_path.iterdir()) == []  # nothing was made there


# ---------------------------------------------------------------- time: CPU first, the wall clock as a backstop
# The run's CPU time (its cgroup's count, all its processes) says "too slow";
# the wall clock stops code that sleeps, and tells a run kept from its CPU
# by a busy machine (which runs again) from one that slept.

BUSY_CHILDREN = """
    import os
    for _ in range(2):
        if os.fork() == 0:
            break
    while True:
        pass
"""


@with_cgroups
def test_a_run_is_stopped_by_the_cpu_time_of_all_its_processes(box):
    outcome = run_python(BUSY_CHILDREN, box, limits=defaults.limits(cpu_seconds=2, wall_seconds=60))
    assert outcome.stopped_by == sandbox.CPU_TIME, outcome
    assert "used more than 2 s of CPU time" in outcome.stopped
    # Three busy processes share the run's one core: 2 s of CPU take about 2 s.
    assert 2 <= outcome.usage.cpu_seconds < 2 + 1, outcome.usage
    assert outcome.seconds < 10, outcome


@with_cgroups
def test_a_run_that_sleeps_past_the_wall_clock_is_told_it_slept(box):
    outcome = run_python("import time; time.sleep(60)", box, limits=defaults.limits(cpu_seconds=60, wall_seconds=2))
    assert outcome.stopped_by == sandbox.SLEPT, outcome
    assert "waited (a sleep, a blocking read?)" in outcome.stopped


@with_cgroups
def test_a_run_kept_from_its_cpu_past_the_wall_clock_is_no_fault_of_its_code(box):
    """A run whose thread waited for a CPU that the machine's other
    processes held (as the scheduler counts it), and met the wall clock
    first: what a busy machine does to honest code."""
    spin = "import os; os.sched_setaffinity(0, {0})\nwhile True: pass"
    crowd = [subprocess.Popen([sys.executable, "-c", spin]) for _ in range(4)]  # the machine's, on the run's CPU
    try:
        outcome = run_python(spin, box, limits=defaults.limits(cpu_seconds=60, wall_seconds=3))
    finally:
        for process in crowd:
            process.kill()
            process.wait()
    assert outcome.stopped_by == sandbox.WALL_CLOCK, outcome
    assert "the machine was too busy (no fault of the code: ask for a regrade)" in outcome.stopped
    assert outcome.usage.waiting_seconds > sandbox.BUSY_SHARE * 3, outcome.usage


PINNED_CROWD = """
    import os, time
    os.sched_setaffinity(0, {0})
    for _ in range(10):
        if os.fork() == 0:
            break
    while True:  # all wake at once on one CPU, spin 2 ms, sleep: they keep each other waiting
        time.sleep(0.1 - time.monotonic() % 0.1)
        end = time.monotonic() + 0.002
        while time.monotonic() < end:
            pass
"""


@with_cgroups
def test_a_run_that_keeps_its_own_threads_waiting_is_not_taken_for_a_busy_machine(box):
    """Eleven processes pinned to one CPU, waking together (a red team's):
    their waits add up to more than the wall clock, but the run's own
    threads held the CPU they waited for."""
    outcome = run_python(PINNED_CROWD, box, limits=defaults.limits(cpu_seconds=60, wall_seconds=3))
    assert outcome.stopped_by == sandbox.SLEPT, outcome
    assert outcome.usage.waiting_seconds < 0.5, outcome.usage
