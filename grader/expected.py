"""A test file's expected values for local runs: ``expected/<test file>.npz``
beside it, the reference's values for every check of its tests (inputs
drawn with salt 0), written by ``python -m grader expected`` (and, for the
public suite, ``python -m grader handout``) and read by the suite when a
student runs it.
It never enters a grading box: there, tests only hand values over, and the
grader compares them with its answer key.

Large values keep a fixed sample of their elements (and their shape and
dtype), which is enough to say where a result goes wrong.
"""
import hashlib
import io
import json
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from .compare import compare, hint_for



def path_of(test_file: Path) -> Path:
    return test_file.parent / "expected" / f"{test_file.stem}.npz"
MANIFEST = "fingerprints.json"
MAX_KEPT = 4096  # elements of a value kept whole; larger ones keep this many


def message(meta: dict, mismatch) -> str:
    """A mismatch as a student reads it: what went wrong, then the hint."""
    hint = hint_for(meta.get("hint"), mismatch.kind)
    return mismatch.message + (f"\nHint: {hint}" if hint else "")


def _name(nodeid: str, index: int) -> str:
    return f"{hashlib.sha256(nodeid.encode()).hexdigest()[:32]}_{index}"


def write(path: Path, tests: Iterable, load_value, fingerprint: str) -> None:
    """Write the values file: ``tests`` are (nodeid, [value meta]) pairs and
    ``load_value(nodeid, index)`` gives each value's array.  The file is
    rewritten only when its values change; the code it was written for is
    recorded in ``fingerprints.json`` beside it."""
    arrays, index = {}, {}
    for nodeid, entries in tests:
        kept = []
        for i, meta in enumerate(entries):
            value = load_value(nodeid, i)
            entry = {k: meta[k] for k in ("what", "hint", "tol", "dtype", "labels") if k in meta}
            if value.size > MAX_KEPT and "labels" not in meta:  # a sequence is shown whole
                entry["shape"] = list(value.shape)
                entry["indices"] = _name(nodeid, i) + "_at"
                at = np.linspace(0, value.size - 1, MAX_KEPT).astype(np.int64)
                arrays[entry["indices"]] = at
                value = value.reshape(-1)[at]
            arrays[_name(nodeid, i)] = value
            kept.append(entry)
        index[nodeid] = kept
    meta = json.dumps({"tests": index}, sort_keys=True).encode()
    arrays["meta"] = np.frombuffer(meta, dtype=np.uint8)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **dict(sorted(arrays.items())))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.is_file() or path.read_bytes() != buffer.getvalue():
        path.write_bytes(buffer.getvalue())
    manifest = _manifest(path)
    manifest[path.name] = fingerprint
    (path.parent / MANIFEST).write_text(json.dumps(dict(sorted(manifest.items())), indent=1) + "\n")


def _manifest(path: Path) -> dict:
    try:
        return json.loads((path.parent / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def fingerprint_of(path: Path) -> Optional[str]:
    """The fingerprint of the code a values file was written for; None if
    the file or its record is missing."""
    return _manifest(path).get(path.name) if path.is_file() else None


class ExpectedValues:
    """A values file, read for a local run."""

    def __init__(self, path: Path):
        self.path = path
        self.data = np.load(path, allow_pickle=False)
        self.tests = json.loads(self.data["meta"].tobytes())["tests"]

    def check(self, nodeid: str, index: int, got: Optional[np.ndarray], problem: str) -> Optional[str]:
        """Why value ``index`` of test ``nodeid`` is wrong, as a message; None if right."""
        entries = self.tests.get(nodeid)
        if entries is None or index >= len(entries):
            return (f"{self.path.name} holds no expected value for check {index} of {nodeid}: it is out of date "
                    f"with this test file")
        meta = entries[index]
        indices = self.data[meta["indices"]] if "indices" in meta else None
        mismatch = compare(self.data[_name(nodeid, index)], got, what=meta["what"], tol=meta["tol"],
                           dtype=meta["dtype"], problem=problem, indices=indices,
                           shape=tuple(meta["shape"]) if "shape" in meta else None, labels=meta.get("labels"))
        return message(meta, mismatch) if mismatch else None
