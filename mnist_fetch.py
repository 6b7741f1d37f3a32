#!/usr/bin/env python3
"""Download the four MNIST files into a local folder and verify them.

    python mnist_fetch.py                          # into data/mnist
    python mnist_fetch.py --dest DIR --mirror URL  # --mirror may be repeated

Each file is checked twice: its SHA-256 (from the mirror's SHA256SUMS when it
has one, else the published checksum of the original download) and its IDX
header and size after gunzip. Verified files are recorded in DEST/SHA256SUMS,
so later runs accept them without the network, even when the mirror had
re-compressed them and their bytes differ from the originals.

Needs only the standard library and requests.
"""

import argparse
import contextlib
import functools
import gzip
import hashlib
import math
import os
import re
import socket
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

import requests

# name -> (kind, number of items)
FILES: dict[str, tuple[str, int]] = {
    "train-images-idx3-ubyte.gz": ("images", 60_000),
    "train-labels-idx1-ubyte.gz": ("labels", 60_000),
    "t10k-images-idx3-ubyte.gz": ("images", 10_000),
    "t10k-labels-idx1-ubyte.gz": ("labels", 10_000),
}

# SHA-256 of the original gzip downloads, as published by dataset libraries
# (e.g. torchvision, tensorflow-datasets).
CANONICAL_SHA256: dict[str, str] = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

DEFAULT_MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

DEFAULT_DEST = "data/mnist"
SUMS_NAME = "SHA256SUMS"
IDX_MAGIC = {"images": 2051, "labels": 2049}
IMAGE_SIDE = 28
NET_CHUNK = 1 << 16  # small enough for a smooth percentage
DISK_CHUNK = 1 << 20

T = TypeVar("T")


class FetchError(Exception):
    """The files could not be fetched; the message says why and what to do."""


class _Failure(Exception):
    """One request failed: `retry` says whether asking the same URL again may help,
    `status` is the HTTP status when the server answered."""

    def __init__(self, url: str, reason: str, *, retry: bool = False, status: int | None = None):
        super().__init__(f"{url}: {reason}")
        self.retry, self.status = retry, status


# --- checksums and file checks --------------------------------------------------


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(DISK_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _parse_sums(text: str) -> dict[str, str]:
    """Parse `sha256sum` output (`<hex>  <name>`, or `<hex> *<name>` in binary mode)."""
    lines = (re.fullmatch(r"([0-9a-fA-F]{64}) [ *](?:\./)?(.+)", line.strip()) for line in text.splitlines())
    return {match[2]: match[1].lower() for match in lines if match}


def _read_sums(path: Path) -> dict[str, str]:
    try:
        return _parse_sums(path.read_text(encoding="utf-8", errors="replace"))
    except FileNotFoundError:
        return {}


def _idx_problem(path: Path, name: str) -> str | None:
    """What is wrong with the gunzipped IDX content of `path`, or None if it is sound."""
    kind, count = FILES[name]
    dims = (count, IMAGE_SIDE, IMAGE_SIDE) if kind == "images" else (count,)
    expected = (IDX_MAGIC[kind], *dims)
    payload = math.prod(dims)
    try:
        with gzip.open(path, "rb") as stream:
            header = stream.read(4 * len(expected))
            size = 0
            while chunk := stream.read(DISK_CHUNK):
                size += len(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        return f"not a valid gzip file ({exc})"
    if len(header) < 4 * len(expected):
        return f"IDX header too short ({len(header)} bytes)"
    found = struct.unpack(f">{len(expected)}i", header)
    if found != expected:
        return f"bad IDX header: expected {expected}, got {found}"
    if size != payload:
        return f"IDX payload is {size} bytes, expected {payload}"
    return None


def _cache_problem(path: Path, recorded: str | None) -> str | None:
    """Why the cached `path` cannot be used, or None if it is valid."""
    digest = _sha256_file(path)
    if digest not in (recorded, CANONICAL_SHA256[path.name]):
        return f"sha256 {digest} is neither the recorded nor the canonical checksum"
    return _idx_problem(path, path.name)


def _part_path(path: Path) -> Path:
    """Where `path` is written before it is complete: hidden, and never a name we read."""
    return path.with_name(f".{path.name}.part")


def _write_atomically(path: Path, data: bytes) -> None:
    part = _part_path(path)
    try:
        part.write_bytes(data)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


def _record_checksum(folder: Path, name: str, digest: str) -> None:
    """Remember in DEST/SHA256SUMS what `name` was verified against, for later offline runs."""
    path = folder / SUMS_NAME
    sums = _read_sums(path) | {name: digest}
    _write_atomically(path, "".join(f"{sums[n]}  {n}\n" for n in sorted(sums)).encode())


# --- HTTP -------------------------------------------------------------------------


def _url(mirror: str, name: str) -> str:
    return f"{mirror.rstrip('/')}/{name}"


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and every exception it wraps: the useful OS error (refused,
    unknown host, ...) is buried in urllib3's wrappers."""
    found: dict[int, BaseException] = {}
    todo = [exc]
    while todo:
        err = todo.pop()
        if id(err) not in found:
            found[id(err)] = err
            linked = [*err.args, err.__cause__, err.__context__, getattr(err, "reason", None)]
            todo += [e for e in linked if isinstance(e, BaseException)]
    return list(found.values())


def _describe(exc: requests.RequestException, timeout: float) -> str:
    """A short human reason for a requests exception ("connection refused", ...)."""
    if isinstance(exc, requests.Timeout):
        return f"timed out after {timeout:g} s"
    reasons = [err.strerror.lower() for err in _causes(exc) if isinstance(err, OSError) and err.strerror]
    return reasons[0] if reasons else f"{type(exc).__name__}: {exc}"[:300]


def _is_transient(exc: requests.RequestException) -> bool:
    # A host name that does not resolve (offline, say) will not resolve a
    # second later: retrying it only makes an offline run wait.
    if any(isinstance(err, socket.gaierror) for err in _causes(exc)):
        return False
    return isinstance(exc, (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError))


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 1e6 else f"{size / 1e3:.1f} kB"


class _Progress:
    """A percentage updated in place on a terminal; nothing otherwise (the caller logs one line per file)."""

    def __init__(self, label: str, total: int | None, enabled: bool):
        self.label, self.total = label, total
        self.enabled = enabled and sys.stderr.isatty()
        self.shown = ""

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        text = f"{100 * done // self.total}%" if self.total else _size(done)
        if text != self.shown:
            self.shown = text
            sys.stderr.write(f"\r  {self.label}  {text} ")
            sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.shown:
            sys.stderr.write("\r" + " " * (len(self.label) + len(self.shown) + 5) + "\r")
            sys.stderr.flush()


class _Downloader:
    """Fetches missing files from the mirrors, in order, with retries and verification."""

    def __init__(self, folder: Path, mirrors: Sequence[str], *, retries: int, timeout: float,
                 backoff: float, say: Callable[[str], None], quiet: bool):
        self.folder, self.mirrors = folder, list(mirrors)
        self.retries, self.timeout, self.backoff = retries, timeout, backoff
        self.say, self.quiet = say, quiet
        self.session = requests.Session()
        # Ask for the bytes as stored: a transparently decoded body would not match the checksum.
        self.session.headers["Accept-Encoding"] = "identity"
        # Each mirror's SHA256SUMS is fetched once; a failure is kept so a dead mirror is skipped fast.
        self.mirror_sums: dict[str, dict[str, str] | _Failure] = {}

    def close(self) -> None:
        self.session.close()

    @contextlib.contextmanager
    def _get(self, url: str, *, stream: bool = False) -> Iterator[requests.Response]:
        """GET `url`, turning HTTP errors and requests exceptions into _Failure."""
        try:
            with self.session.get(url, stream=stream, timeout=self.timeout) as response:
                status = response.status_code
                if status >= 400:
                    # A 404 will not go away; a 5xx or 429 may.
                    raise _Failure(url, f"HTTP {status} {response.reason or ''}".rstrip(),
                                   retry=status >= 500 or status == 429, status=status)
                yield response
        except requests.RequestException as exc:
            raise _Failure(url, _describe(exc, self.timeout), retry=_is_transient(exc)) from None

    def _retrying(self, action: Callable[[], T]) -> T:
        """Run `action`, retrying transient failures with exponential backoff."""
        attempt = 0
        while True:
            try:
                return action()
            except _Failure as failure:
                if not failure.retry or attempt >= self.retries:
                    raise
                delay = self.backoff * 2**attempt
                attempt += 1
                self.say(f"  {failure}; retry {attempt} of {self.retries} in {delay:g} s")
                time.sleep(delay)

    def _sums_of(self, mirror: str) -> dict[str, str]:
        if mirror not in self.mirror_sums:
            url = _url(mirror, SUMS_NAME)

            def get() -> dict[str, str]:
                with self._get(url) as response:
                    return _parse_sums(response.text)

            try:
                self.mirror_sums[mirror] = self._retrying(get)
            except _Failure as failure:
                # Any definite 4xx (S3 answers 403 for a missing key) means "no SHA256SUMS here".
                no_file = failure.status is not None and not failure.retry
                self.mirror_sums[mirror] = {} if no_file else failure
        found = self.mirror_sums[mirror]
        if isinstance(found, _Failure):
            raise found
        return found

    def _expected_sha256(self, mirror: str, name: str) -> tuple[str, str]:
        """The checksum to verify `name` against, and where it came from."""
        try:
            sums = self._sums_of(mirror)
        except _Failure as failure:
            raise _Failure(_url(mirror, name), f"not tried, the mirror failed ({failure})") from None
        if name in sums:
            return sums[name], _url(mirror, SUMS_NAME)
        return CANONICAL_SHA256[name], "canonical checksum"

    def _download(self, url: str, part: Path, label: str) -> str:
        """Stream `url` into `part` and return the SHA-256 of the bytes received."""
        with self._get(url, stream=True) as response:
            length = response.headers.get("Content-Length", "")
            total = int(length) if length.isdigit() else None
            digest, received = hashlib.sha256(), 0
            progress = _Progress(label, total, not self.quiet)
            try:
                with part.open("wb") as out:
                    for chunk in response.iter_content(NET_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        received += len(chunk)
                        progress.update(received)
            except requests.exceptions.ChunkedEncodingError:
                # urllib3 2 raises when the body ends before Content-Length; urllib3 1 returns short.
                if total is None:
                    raise
            finally:
                progress.close()
        if total is not None and received != total:
            raise _Failure(url, f"truncated: got {received} of {total} bytes", retry=True)
        return digest.hexdigest()

    def fetch(self, name: str) -> None:
        """Download `name` from the first mirror that serves a verified copy, or raise FetchError."""
        target = self.folder / name
        part = _part_path(target)
        tried: list[str] = []
        for mirror in self.mirrors:
            url = _url(mirror, name)
            try:
                expected, source = self._expected_sha256(mirror, name)
                digest = self._retrying(functools.partial(self._download, url, part, name))
                if digest != expected:
                    raise _Failure(url, f"sha256 mismatch: expected {expected} ({source}), got {digest}")
                if problem := _idx_problem(part, name):
                    raise _Failure(url, problem)
                os.replace(part, target)
            except _Failure as failure:
                tried.append(str(failure))
                continue
            finally:
                # Whatever happened (even Ctrl-C), no half-written file stays behind.
                part.unlink(missing_ok=True)
            _record_checksum(self.folder, name, digest)
            self.say(f"  {name}: {_size(target.stat().st_size)} from {url}, sha256 ok ({source})")
            return
        raise FetchError(_failure_message(name, self.folder, tried))


def _failure_message(name: str, folder: Path, tried: list[str]) -> str:
    attempts = [f"  {line}" for line in tried] or ["  (no mirror to try)"]
    return "\n".join([
        f"could not download {name}; tried:",
        *attempts,
        "What to do: check your network connection and run again; or pass --mirror URL",
        "(a folder URL holding the four MNIST .gz files; may be given several times);",
        f"or copy the four .gz files into {folder} by hand (with a {SUMS_NAME} file",
        "listing their sha256 if they are not the original downloads).",
    ])


# --- entry points -----------------------------------------------------------------


def fetch(dest: str | os.PathLike[str] = DEFAULT_DEST, mirrors: Sequence[str] | None = None, *,
          retries: int = 3, timeout: float = 30.0, backoff: float = 1.0,
          quiet: bool = False) -> dict[str, Path]:
    """Make sure the four MNIST files are in `dest`, downloading what is missing or invalid.

    Returns {file name: path}. Raises FetchError if a file cannot be obtained.
    """
    folder = Path(dest)

    def say(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FetchError(f"cannot create {folder}: {exc}") from None

    recorded = _read_sums(folder / SUMS_NAME)
    todo = []
    for name in FILES:
        path = folder / name
        if not path.exists():
            todo.append(name)
        elif problem := _cache_problem(path, recorded.get(name)):
            say(f"{name} in {folder} is not valid ({problem}); downloading it again")
            todo.append(name)

    if todo:
        say(f"downloading {len(todo)} of {len(FILES)} MNIST files into {folder}")
        downloader = _Downloader(folder, DEFAULT_MIRRORS if mirrors is None else mirrors,
                                 retries=retries, timeout=timeout, backoff=backoff, say=say, quiet=quiet)
        try:
            for name in todo:
                downloader.fetch(name)
        finally:
            downloader.close()
    say(f"all {len(FILES)} files present and valid in {folder}")
    return {name: folder / name for name in FILES}


def _number(cast: Callable[[str], float], *, positive: bool = False) -> Callable[[str], float]:
    """An argparse type: a number >= 0 (or > 0 when `positive`)."""
    def parse(text: str) -> float:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"must be {'>' if positive else '>='} 0: {text!r}")
        return value
    return parse


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Download the four MNIST files and verify their SHA-256 and IDX headers.")
    parser.add_argument("--dest", default=DEFAULT_DEST, metavar="DIR",
                        help=f"folder for the files (default: {DEFAULT_DEST})")
    parser.add_argument("--mirror", action="append", dest="mirrors", metavar="URL",
                        help="base URL of a mirror; may be repeated; replaces the built-in list")
    parser.add_argument("--retries", type=_number(int), default=3, metavar="N",
                        help="retries after a connection error or HTTP 5xx (default: 3)")
    parser.add_argument("--timeout", type=_number(float, positive=True), default=30.0, metavar="SECONDS",
                        help="network timeout per request (default: 30)")
    parser.add_argument("--backoff", type=_number(float), default=1.0, metavar="SECONDS",
                        help="first retry delay, doubled each retry (default: 1)")
    parser.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    args = parser.parse_args(argv)
    try:
        fetch(args.dest, args.mirrors, retries=args.retries, timeout=args.timeout,
              backoff=args.backoff, quiet=args.quiet)
    except (FetchError, OSError) as exc:  # OSError: e.g. disk full or no write permission
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; no partial file was kept", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
