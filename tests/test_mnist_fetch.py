"""Tests for mnist_fetch.py, run against loopback HTTP mirrors (never the real network).

The mirrors serve IDX files these tests write: MNIST's names, magic numbers
and shapes, made-up pixels and labels, and a SHA256SUMS of their own.  They
pass on any machine, and, like any re-compressed copy, do not match the
canonical checksums.
"""

import gzip
import hashlib
import http.server
import importlib.util
import math
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCRIPT = REPO_ROOT / "mnist_fetch.py"
SUMS = "SHA256SUMS"
# Fast settings for every call: no backoff delay, one retry, short timeout.
FAST = {"retries": 1, "timeout": 5.0, "backoff": 0.0, "quiet": True}
FAST_CLI = ["--retries", "1", "--timeout", "5", "--backoff", "0"]


def read_sums(path: Path) -> dict[str, str]:
    return {name: digest for digest, name in (line.split() for line in path.read_text().splitlines())}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def idx_header(path: Path) -> tuple[int, ...]:
    """The IDX header of a gzipped file, after checking the payload length it implies."""
    data = gzip.decompress(path.read_bytes())
    dims = 3 if struct.unpack(">i", data[:4])[0] == 2051 else 1
    header = struct.unpack(f">{1 + dims}i", data[: 4 * (1 + dims)])
    assert len(data) == 4 * (1 + dims) + math.prod(header[1:]), f"{path.name}: wrong payload length"
    return header


def dest_listing(dest: Path) -> list[str]:
    return sorted(path.name for path in dest.iterdir())


def fetch_error(module, *args, **kwargs) -> str:
    with pytest.raises(module.FetchError) as info:
        module.fetch(*args, **kwargs)
    return str(info.value)


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # A client hanging up mid-body is expected here (the interrupt test); other errors are not.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Mirror:
    """A loopback HTTP server over its own folder; `misbehave` makes a chosen file fail."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[str] = []  # names asked for, in order
        self.faults: dict[str, list] = {}  # name -> [fault, times left or None for always]
        handler = self._handler_class()
        self.server = QuietServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def misbehave(self, name: str, fault: str, times: int | None = None) -> None:
        """fault: "404", "500", or "truncate" (half the body under a full Content-Length)."""
        self.faults[name] = [fault, times]

    def set_sum(self, name: str, digest: str | None) -> None:
        """Change (or with None, drop) the line for `name` in this mirror's SHA256SUMS."""
        sums = read_sums(self.root / SUMS)
        sums.pop(name)
        if digest is not None:
            sums[name] = digest
        (self.root / SUMS).write_text("".join(f"{d}  {n}\n" for n, d in sums.items()))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _take_fault(self, name: str) -> str | None:
        entry = self.faults.get(name)
        if entry is None or entry[1] == 0:
            return None
        if entry[1] is not None:
            entry[1] -= 1
        return entry[0]

    def _handler_class(self) -> type:
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(mirror.root), **kwargs)

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                mirror.requests.append(name)
                fault = mirror._take_fault(name)
                if fault == "truncate":
                    body = (mirror.root / name).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                elif fault:
                    self.send_error(int(fault))
                else:
                    super().do_GET()

        return Handler


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def mnist_fetch():
    """The script, imported from its path (the repo root is not a package)."""
    spec = importlib.util.spec_from_file_location("mnist_fetch", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_idx(path: Path, kind: str, count: int, rng: np.random.Generator) -> None:
    """A gzipped IDX file of MNIST's form: ``count`` 28x28 images, each with
    a patch of random pixels (so that the file is not all zeros and does not
    compress to nothing), or ``count`` labels."""
    if kind == "images":
        data = np.zeros((count, 28, 28), dtype=np.uint8)
        data[:, 10:18, 10:18] = rng.integers(0, 256, size=(count, 8, 8), dtype=np.uint8)
        header = struct.pack(">4i", 2051, count, 28, 28)
    else:
        data = rng.integers(0, 10, size=count, dtype=np.uint8)
        header = struct.pack(">2i", 2049, count)
    path.write_bytes(gzip.compress(header + data.tobytes(), compresslevel=1, mtime=0))


@pytest.fixture(scope="session")
def originals(tmp_path_factory, mnist_fetch) -> Path:
    """A mirror's files, written once: the four .gz files and SHA256SUMS."""
    folder = tmp_path_factory.mktemp("originals")
    rng = np.random.default_rng(0)
    for name, (kind, count) in mnist_fetch.FILES.items():
        write_idx(folder / name, kind, count, rng)
    (folder / SUMS).write_text("".join(f"{sha256(folder / name)}  {name}\n" for name in mnist_fetch.FILES))
    return folder


@pytest.fixture
def make_mirror(originals, tmp_path_factory, mnist_fetch):
    """Start mirrors serving copies of the files, which a test may alter freely."""
    started: list[Mirror] = []

    def make(*, with_sums: bool = True) -> Mirror:
        root = tmp_path_factory.mktemp("mirror")
        for name in [*mnist_fetch.FILES, SUMS] if with_sums else mnist_fetch.FILES:
            shutil.copyfile(originals / name, root / name)
        started.append(Mirror(root))
        return started[-1]

    yield make
    for mirror in started:
        mirror.close()


@pytest.fixture
def mirror(make_mirror) -> Mirror:
    return make_mirror()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


@pytest.fixture(scope="session")
def filled_cache(originals, tmp_path_factory, mnist_fetch) -> Path:
    """A DEST filled once by the script itself; tests take copies instead of downloading again."""
    server = Mirror(originals)
    try:
        dest = tmp_path_factory.mktemp("filled") / "mnist"
        mnist_fetch.fetch(dest, [server.url], **FAST)
    finally:
        server.close()
    return dest


@pytest.fixture
def cache(filled_cache, tmp_path) -> Path:
    return Path(shutil.copytree(filled_cache, tmp_path / "cache"))


# --- library ------------------------------------------------------------------------


def test_fetch_from_mirror_with_sha256sums_writes_four_valid_files(mnist_fetch, mirror, tmp_path):
    dest = tmp_path / "data" / "mnist"  # parents are created too

    paths = mnist_fetch.fetch(dest, [mirror.url], **FAST)

    assert paths == {name: dest / name for name in mnist_fetch.FILES}
    assert dest_listing(dest) == sorted([*mnist_fetch.FILES, SUMS])  # no .part leftovers
    for name, (kind, count) in mnist_fetch.FILES.items():
        expected = (2051, count, 28, 28) if kind == "images" else (2049, count)
        assert idx_header(paths[name]) == expected
    assert read_sums(dest / SUMS) == read_sums(mirror.root / SUMS)
    assert {name: sha256(path) for name, path in paths.items()} == read_sums(mirror.root / SUMS)


def test_second_run_is_served_from_cache_without_network(mnist_fetch, cache, dead_url, capsys):
    paths = mnist_fetch.fetch(cache, [dead_url], **{**FAST, "quiet": False})

    assert all(path.is_file() for path in paths.values())
    err = capsys.readouterr().err
    assert "all 4 files present and valid" in err
    assert "downloading" not in err


def test_recompressed_files_without_sha256sums_fail_the_canonical_check(mnist_fetch, make_mirror, tmp_path):
    mirror = make_mirror(with_sums=False)
    dest = tmp_path / "mnist"
    name = "train-images-idx3-ubyte.gz"  # the first file fetched

    message = fetch_error(mnist_fetch, dest, [mirror.url], **FAST)

    assert f"could not download {name}" in message
    assert f"{mirror.url}{name}: sha256 mismatch" in message
    assert mnist_fetch.CANONICAL_SHA256[name] in message
    assert dest_listing(dest) == []
    assert mirror.requests.count(name) == 1  # a checksum mismatch is not retried


def test_mirror_without_sha256sums_is_checked_against_canonical_checksums(
        mnist_fetch, make_mirror, originals, dead_url, tmp_path, monkeypatch):
    # Pretend the local copies are the canonical downloads.
    for name, digest in read_sums(originals / SUMS).items():
        monkeypatch.setitem(mnist_fetch.CANONICAL_SHA256, name, digest)
    mirror = make_mirror(with_sums=False)

    mnist_fetch.fetch(tmp_path, [mirror.url], **FAST)
    (tmp_path / SUMS).unlink()  # canonical files are valid without a record

    mnist_fetch.fetch(tmp_path, [dead_url], **FAST)


def test_file_missing_from_mirror_sha256sums_falls_back_to_canonical_checksum(mnist_fetch, mirror, cache):
    name = "t10k-labels-idx1-ubyte.gz"
    mirror.set_sum(name, None)
    (cache / name).unlink()

    message = fetch_error(mnist_fetch, cache, [mirror.url], **FAST)

    assert f"{mirror.url}{name}: sha256 mismatch: expected {mnist_fetch.CANONICAL_SHA256[name]} (canonical" in message
    assert not (cache / name).exists()


def test_wrong_checksum_in_sha256sums_exits_1_and_writes_no_file(mnist_fetch, mirror, tmp_path, capsys):
    name = "train-images-idx3-ubyte.gz"
    mirror.set_sum(name, "0" * 64)
    dest = tmp_path / "mnist"

    code = mnist_fetch.main(["--dest", str(dest), "--mirror", mirror.url, "--quiet", *FAST_CLI])

    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith(f"error: could not download {name}")  # --quiet: the error alone
    assert f"{mirror.url}{name}: sha256 mismatch: expected {'0' * 64}" in err
    assert "Traceback" not in err
    assert dest_listing(dest) == []


def test_download_with_matching_checksum_but_bad_idx_header_is_rejected(mnist_fetch, mirror, cache):
    name = "t10k-labels-idx1-ubyte.gz"
    (mirror.root / name).write_bytes(gzip.compress(struct.pack(">2i", 2049, 9_999) + bytes(9_999)))
    mirror.set_sum(name, sha256(mirror.root / name))
    (cache / name).unlink()

    message = fetch_error(mnist_fetch, cache, [mirror.url], **FAST)

    assert f"{mirror.url}{name}: bad IDX header: expected (2049, 10000), got (2049, 9999)" in message
    assert not (cache / name).exists()
    assert not any(path.name.endswith(".part") for path in cache.iterdir())


def test_truncated_body_leaves_no_file(mnist_fetch, mirror, tmp_path):
    name = "train-images-idx3-ubyte.gz"
    mirror.misbehave(name, "truncate")
    dest = tmp_path / "mnist"

    message = fetch_error(mnist_fetch, dest, [mirror.url], **FAST)

    # How much of the body arrives before urllib3 notices depends on its buffering.
    size = (mirror.root / name).stat().st_size
    assert re.search(rf"{re.escape(mirror.url + name)}: truncated: got \d+ of {size} bytes", message)
    assert mirror.requests.count(name) == 2  # a truncated body is retried
    assert dest_listing(dest) == []


def test_interrupted_download_leaves_no_file(mnist_fetch, mirror, tmp_path, monkeypatch, capsys):
    def interrupt(self, done):
        raise KeyboardInterrupt

    monkeypatch.setattr(mnist_fetch._Progress, "update", interrupt)  # Ctrl-C after the first chunk
    dest = tmp_path / "mnist"

    code = mnist_fetch.main(["--dest", str(dest), "--mirror", mirror.url, *FAST_CLI])

    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    assert dest_listing(dest) == []


def test_missing_file_on_first_mirror_is_fetched_from_second(mnist_fetch, make_mirror, cache):
    first, second = make_mirror(), make_mirror()
    name = "t10k-images-idx3-ubyte.gz"
    first.misbehave(name, "404")
    (cache / name).unlink()

    paths = mnist_fetch.fetch(cache, [first.url, second.url], **FAST)

    assert first.requests == [SUMS, name]  # a 404 is not retried
    assert second.requests == [SUMS, name]
    assert sha256(paths[name]) == sha256(second.root / name)


def test_unreachable_mirror_fails_naming_url_and_suggesting_mirror_option(mnist_fetch, dead_url, tmp_path):
    dest = tmp_path / "mnist"

    message = fetch_error(mnist_fetch, dest, [dead_url], **FAST)

    assert f"{dead_url}train-images-idx3-ubyte.gz" in message
    assert "connection refused" in message
    assert "--mirror URL" in message
    assert dest_listing(dest) == []


def test_host_that_does_not_resolve_is_not_retried(mnist_fetch, tmp_path, capsys):
    # Offline, every default mirror fails to resolve: retrying each with backoff only made students wait.
    url = "http://needle-kit-no-such-host.invalid/"

    message = fetch_error(mnist_fetch, tmp_path / "mnist", [url], **{**FAST, "retries": 3, "backoff": 30.0,
                                                                      "quiet": False})

    assert f"{url}train-images-idx3-ubyte.gz" in message
    assert "retry" not in capsys.readouterr().err


def test_transient_server_error_is_retried(mnist_fetch, mirror, tmp_path):
    name = "train-labels-idx1-ubyte.gz"
    mirror.misbehave(name, "500", times=1)

    paths = mnist_fetch.fetch(tmp_path, [mirror.url], **FAST)

    assert mirror.requests.count(name) == 2
    assert sha256(paths[name]) == sha256(mirror.root / name)


def test_persistent_server_error_moves_on_to_next_mirror(mnist_fetch, make_mirror, cache):
    first, second = make_mirror(), make_mirror()
    name = "train-labels-idx1-ubyte.gz"
    first.misbehave(name, "500")
    (cache / name).unlink()

    mnist_fetch.fetch(cache, [first.url, second.url], **FAST)

    assert first.requests.count(name) == 2  # first try and one retry
    assert second.requests == [SUMS, name]


def test_corrupted_cached_file_is_downloaded_again(mnist_fetch, mirror, cache):
    name = "t10k-images-idx3-ubyte.gz"
    data = bytearray((cache / name).read_bytes())
    data[1000:1010] = bytes(b ^ 0xFF for b in data[1000:1010])
    (cache / name).write_bytes(data)

    mnist_fetch.fetch(cache, [mirror.url], **FAST)

    assert mirror.requests == [SUMS, name]  # only the damaged file
    assert sha256(cache / name) == sha256(mirror.root / name)


def test_cached_file_with_unrecorded_checksum_is_downloaded_again(mnist_fetch, mirror, cache):
    # Sound IDX content, but not the bytes that were verified: it cannot be trusted.
    name = "t10k-labels-idx1-ubyte.gz"
    (cache / name).write_bytes(gzip.compress(gzip.decompress((cache / name).read_bytes()), compresslevel=1))

    mnist_fetch.fetch(cache, [mirror.url], **FAST)

    assert mirror.requests == [SUMS, name]
    assert sha256(cache / name) == sha256(mirror.root / name)


def test_cached_file_with_bad_idx_header_is_downloaded_again(mnist_fetch, mirror, cache):
    # Its checksum is recorded, yet the content is wrong (here: the magic of an images file).
    name = "t10k-labels-idx1-ubyte.gz"
    payload = bytearray(gzip.decompress((cache / name).read_bytes()))
    payload[:4] = struct.pack(">i", 2051)
    (cache / name).write_bytes(gzip.compress(bytes(payload)))
    sums = read_sums(cache / SUMS) | {name: sha256(cache / name)}
    (cache / SUMS).write_text("".join(f"{d}  {n}\n" for n, d in sums.items()))

    mnist_fetch.fetch(cache, [mirror.url], **FAST)

    assert mirror.requests == [SUMS, name]
    assert idx_header(cache / name) == (2049, 10_000)


# --- command line -------------------------------------------------------------------


def run_cli(*args: str | Path, dead_proxy: str) -> subprocess.CompletedProcess:
    """Run the script; any request beyond loopback goes to a dead proxy, so it can never reach the internet."""
    env = {**os.environ, "HTTP_PROXY": dead_proxy, "HTTPS_PROXY": dead_proxy, "NO_PROXY": "127.0.0.1,localhost"}
    for key in ("http_proxy", "https_proxy", "no_proxy", "ALL_PROXY", "all_proxy"):
        env.pop(key, None)
    return subprocess.run([sys.executable, "mnist_fetch.py", *map(str, args)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=60)


def test_cli_downloads_then_accepts_cache_with_default_mirrors_offline(mirror, tmp_path, dead_url):
    dest = tmp_path / "mnist"

    first = run_cli("--dest", dest, "--mirror", mirror.url, *FAST_CLI, dead_proxy=dead_url)
    served = len(mirror.requests)
    second = run_cli("--dest", dest, dead_proxy=dead_url)  # built-in mirrors, unreachable here

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "all 4 files present and valid" in second.stderr
    assert len(mirror.requests) == served


def test_cli_failure_exits_1_with_advice_and_no_traceback(tmp_path, dead_url):
    result = run_cli("--dest", tmp_path / "mnist", "--mirror", dead_url, *FAST_CLI, dead_proxy=dead_url)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{dead_url}train-images-idx3-ubyte.gz" in result.stderr
    assert "--mirror URL" in result.stderr


@pytest.mark.parametrize("args", [["--retries", "-1"], ["--timeout", "soon"], ["--bogus"]])
def test_cli_bad_usage_exits_2(args, dead_url):
    result = run_cli(*args, dead_proxy=dead_url)

    assert result.returncode == 2
    assert "Traceback" not in result.stderr
