"""The data-only channel from a test to the grader.

A test hands over the values it computed; the grader compares them with the
reference's in its own process, so a pass that a test's process reports
alone never scores, and a test that hands over nothing cannot score.

    record("grad", x.grad)                          # explicitly, in a test
    assert_close(got, expected)                     # records ``got`` itself
    record.error_rate("test", predictions, labels, max_error=0.085)

Values are saved under ``--record-dir`` as .npy files written without pickle,
one folder per test (``folder_of``), with a ``meta.json`` naming each value's
kind and tolerance; with no directory (a student's own run) nothing is saved.
"""
import contextlib
import hashlib
import json
import re
from pathlib import Path

import numpy as np

NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def folder_of(record_dir, nodeid: str) -> Path:
    """Where the values of test ``nodeid`` are saved."""
    return Path(record_dir) / hashlib.sha256(nodeid.encode()).hexdigest()[:32]


class Recorder:
    current = None  # the running test's recorder

    def __init__(self, folder, nodeid):
        self.folder, self.nodeid, self.meta = folder, nodeid, {}

    @classmethod
    @contextlib.contextmanager
    def active(cls, record_dir, nodeid):
        recorder = cls(folder_of(record_dir, nodeid) if record_dir else None, nodeid)
        cls.current = recorder
        try:
            yield recorder
        finally:
            cls.current = None

    def __call__(self, name, value, *, rtol=1e-5, atol=1e-5):
        """Record ``value``, to be compared within rtol and atol."""
        self._save(name, value, {"kind": "value", "rtol": rtol, "atol": atol})

    def checked(self, value, *, rtol, atol):
        """Record a value that ``assert_close`` checked, under the next free
        automatic name."""
        self(f"checked.{sum(k.startswith('checked.') for k in self.meta)}", value, rtol=rtol, atol=atol)

    def error_rate(self, name, predictions, labels, *, max_error):
        """Record predictions scored by their error rate on ``labels``: the
        grader computes the rate itself, with the reference's labels."""
        self._save(name, predictions, {"kind": "error_rate", "max_error": float(max_error)})
        self._save(f"{name}.labels", labels, {"kind": "labels"})

    def _save(self, name, value, meta):
        if not NAME.fullmatch(name) or name in self.meta:
            raise ValueError(f"record: bad or repeated name {name!r}")
        self.meta[name] = meta
        if self.folder is None:
            return
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        self.folder.mkdir(parents=True, exist_ok=True)
        np.save(self.folder / f"{name}.npy", array, allow_pickle=False)
        (self.folder / "meta.json").write_text(json.dumps({"nodeid": self.nodeid, "values": self.meta}))
