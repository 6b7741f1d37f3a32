"""The data-only channel between a test's process and the grader: where a
test's values land.  Shared by both sides of the trust boundary (the box
writes, the grader reads), it holds layout and nothing else.

    <record dir>/<folder_of(nodeid)>/<i>.npy     the i-th value handed over, saved without pickle
    <record dir>/<folder_of(nodeid)>/meta.json   what each value is (read by the grader only from the reference's runs)
    <record dir>/progress.jsonl                  each test's outcome as it ends, in pytest-json-report's form
                                                 (the report of a run stopped before its end)
"""
import hashlib
from pathlib import Path

META = "meta.json"
PROGRESS = "progress.jsonl"
# How a test stopped by its time limits fails: by its CPU time (the box's
# plugin), or by the wall clock (pytest-timeout's words).
CPU_LIMIT_FAILURE = "Failed: CPU time limit"
WALL_CLOCK_FAILURE = "Failed: Timeout (>"


def folder_of(record_dir, nodeid: str) -> Path:
    """Where the values of test ``nodeid`` are saved."""
    return Path(record_dir) / hashlib.sha256(nodeid.encode()).hexdigest()[:32]


def value_file(record_dir, nodeid: str, index: int) -> Path:
    return folder_of(record_dir, nodeid) / f"{index}.npy"
