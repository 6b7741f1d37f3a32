"""The sandbox that runs student code (grader/sandbox.py), and the copying
out of what a run leaves behind (grader/run.py), tested directly: each wall,
the fallback without namespaces, and the limits enforced from outside."""
import os
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from grader import defaults, sandbox
from grader.run import copy_out

AS_ROOT = os.geteuid() == 0
LIMITS = defaults.limits(wall_seconds=20)


@pytest.fixture
def box():
    """A folder the sandbox may enter, and a private folder next to it
    (outside pytest's temporary folders, which only their owner may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    os.chmod(folder, 0o755)
    (folder / "box").mkdir(mode=0o755)
    (folder / "secret").mkdir()
    (folder / "secret" / "answer.txt").write_text("42")
    yield folder
    shutil.rmtree(folder)


def run_python(code, box, *, limits=LIMITS, **kwargs):
    return sandbox.run([sys.executable, "-c", textwrap.dedent(code)], cwd=box / "box", env=dict(os.environ),
                       limits=limits, **kwargs)


PROBE = """
    import os, socket
    print("uid", os.getuid(), "pid", os.getpid())
    print("interfaces", [name for _, name in socket.if_nameindex()])
    try:
        print("secret", open(%r).read())
    except OSError as error:
        print("secret refused", type(error).__name__)
"""


def test_command_runs_behind_every_wall(box):
    outcome = run_python(PROBE % str(box / "secret" / "answer.txt"), box, private=[box / "secret"])
    assert outcome.returncode == 0, outcome.output
    walls = outcome.walls
    assert walls.network and walls.pid_namespace and walls.complete == AS_ROOT, walls
    assert walls.hidden == (str(box / "secret"),) and walls.readable == (), walls
    assert "pid 1\n" in outcome.output and "interfaces ['lo']" in outcome.output
    assert "secret refused" in outcome.output
    if AS_ROOT:
        assert f"uid {walls.uid} " in outcome.output and walls.uid >= sandbox.UID_RANGE[0]


def run_shell(script, box, *, limits=LIMITS, **kwargs):
    # Without namespaces the interpreter may be out of the sandbox uid's
    # reach (a pyenv under /root); /bin/sh never is.
    return sandbox.run(["/bin/sh", "-c", textwrap.dedent(script)], cwd=box / "box", env={"PATH": "/usr/bin:/bin"},
                       limits=limits, **kwargs)


def test_without_namespaces_only_permissions_guard_private_files(box):
    (box / "open").mkdir(mode=0o755)
    (box / "open" / "notes.txt").write_text("readable by all")
    os.chmod(box / "secret", 0o700)
    outcome = run_shell("echo ran", box, private=[box / "secret", box / "open"], namespaces=False)
    assert outcome.returncode == 0 and "ran" in outcome.output, outcome.output
    walls = outcome.walls
    assert not walls.network and not walls.pid_namespace and not walls.complete
    assert str(box / "open") in walls.readable
    # A separate uid cannot read a folder closed to others; the same user can.
    assert (str(box / "secret") in walls.hidden) == AS_ROOT
    described = walls.describe()
    assert described["private_files"].startswith("READABLE: ") and described["network"] == "not isolated"


def test_private_path_holding_the_sandbox_is_left_open_and_says_so(box):
    outcome = run_shell("echo ran", box, private=[box])
    assert outcome.returncode == 0, outcome.output
    assert any(note.startswith(f"left {box} open: it holds") for note in outcome.walls.notes), outcome.walls


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


def test_flood_of_output_is_stopped_and_its_tail_kept(box):
    limits = defaults.limits(wall_seconds=20)
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
    """ % (LIMITS.memory_bytes + (1 << 30))
    outcome = run_python(code, box)
    assert f"cpu ({LIMITS.cpu_seconds}, {LIMITS.cpu_seconds})" in outcome.output, outcome.output
    assert f"nproc ({LIMITS.processes}, {LIMITS.processes})" in outcome.output
    assert "memory refused" in outcome.output


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
