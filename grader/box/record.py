"""The one channel from a test to the grader.  A test builds its inputs,
calls the code under test, and hands over what came out:

    check(got, what="W1 after one step", hint="...", tol="training")
    check(grad, what="x.grad", hint={"value": "...", "dtype": "seed with the output's dtype"})
    observe(op_is_none, what="the returned W1 is a leaf (op is None)")

``check`` hands over a value the code computed: it earns the test its
points.  ``observe`` hands over a fact a forger could type in (a flag, a
shape, an input left unchanged): a test fails on it, but it earns nothing
alone.  ``check_trained`` hands over a model's trained weights, which the
grader also evaluates on its own copy of the MNIST test set.

A question's points go to its behaviours, not to its tests: a test belongs
to the behaviour its function names, or to the one a ``behaviour`` mark
gives it or its parametrized case (``pytest.mark.behaviour("Summation",
weight=2)``); a behaviour earns its points when every one of its tests
passes (README: How points are given).

In grading (``--record-dir``) each value is saved as a .npy file, never
pickled; the grader compares it with the reference's in its own process.
In a student's local run, the suite's ``expected.npz`` (the reference's
values, written by ``python -m grader handout``) is compared at once, and a
mismatch fails the test with the grader's message.
"""
import contextlib
import json
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from grader.channel import META, folder_of

Hint = Union[str, Dict[str, str]]  # text for a wrong value, or text per kind of failure


def check(got, *, what: str, hint: Hint = "", tol: Optional[str] = None, dtype: bool = True,
          labels: Optional[list] = None) -> None:
    """Hand over ``got`` (a Tensor, an array or a number), a value the code
    under test computed.  ``hint`` (text) is shown when the value is wrong;
    as {kind: text} (kinds of grader.compare.KINDS: "value", "dtype",
    "shape", ...) each text only for a failure of that kind, so that a hint
    never speaks to a bug it does not explain.  ``tol`` names a row of the tolerance table
    (default: the expected dtype's); ``dtype=False`` accepts any dtype;
    ``labels`` name the integers of a sequence, for the message."""
    __tracebackhide__ = True
    meta = {"what": what, "hint": hint, "tol": tol, "dtype": dtype, "scored": True}
    _current().add(got, {**meta, "labels": [str(label) for label in labels]} if labels is not None else meta)


def observe(got, *, what: str, hint: Hint = "") -> None:
    """Hand over a fact about the code's behaviour (a flag, a count, a shape,
    an input left as it was): checked like a value, worth no points alone."""
    __tracebackhide__ = True
    _current().add(got, {"what": what, "hint": hint, "tol": None, "dtype": False, "scored": False})


def check_trained(weights, *, model: str, max_error: float, what: str, hint: Hint = "") -> None:
    """Hand over the weights a training run produced.  Each must match the
    reference's run (same seeded start, same data), and the grader computes
    the test error of ``model`` ("softmax": X @ theta; "two_layer":
    relu(X @ W1) @ W2) with them on its own MNIST test set."""
    __tracebackhide__ = True
    recorder = _current()
    first = len(recorder.entries)
    for i, w in enumerate(weights):
        recorder.add(w, {"what": f"{what}, weight {i}", "hint": hint, "tol": "trained", "dtype": True,
                         "scored": True})
    recorder.threshold = {"model": model, "max_error": float(max_error), "values": list(range(first, first + len(weights)))}
    recorder.save_meta()


def in_behaviour(behaviour: str, *values, id: str):
    """One parametrized case in ``behaviour``: for a test function whose
    cases test several units (layers, optimizers, initializers, ops)."""
    import pytest

    return pytest.param(*values, id=id, marks=pytest.mark.behaviour(behaviour))


def to_array(got) -> Tuple[Optional[np.ndarray], str]:
    """``got`` as a plain ndarray (a copy, never a subclass), or None and
    what came instead."""
    if hasattr(got, "numpy") and not isinstance(got, np.ndarray):
        try:
            got = got.numpy()
        except Exception as error:  # the code under test raised: say so, do not crash the record
            return None, f"{type(got).__name__}.numpy() raised {type(error).__name__}"
        if not isinstance(got, np.ndarray):
            return None, f"Tensor.numpy() returned {type(got).__name__}, not a numpy.ndarray"
    if isinstance(got, (bool, int, float, np.generic)):
        got = np.asarray(got)
    if not isinstance(got, np.ndarray):
        return None, f"expected a Tensor or a numpy.ndarray, got {type(got).__name__}"
    if got.dtype.kind not in "biufc":
        return None, f"expected numbers, got an array of dtype {got.dtype}"
    return np.array(got, copy=True, subok=False), ""


class Recorder:
    current = None  # the running test's recorder

    def __init__(self, folder: Optional[Path], nodeid: str, expected=None, behaviour: Optional[dict] = None):
        self.folder, self.nodeid, self.expected, self.behaviour = folder, nodeid, expected, behaviour
        self.entries, self.threshold = [], None

    @classmethod
    @contextlib.contextmanager
    def active(cls, record_dir, nodeid: str, expected=None, behaviour: Optional[dict] = None):
        cls.current = cls(folder_of(record_dir, nodeid) if record_dir else None, nodeid, expected, behaviour)
        try:
            yield cls.current
        finally:
            cls.current = None

    def add(self, got, meta: dict) -> None:
        __tracebackhide__ = True
        index = len(self.entries)
        array, problem = to_array(got)
        self.entries.append({**meta, "problem": problem} if problem else meta)
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            if array is not None:
                np.save(self.folder / f"{index}.npy", array, allow_pickle=False)
            self.save_meta()
        if self.expected is not None:
            mismatch = self.expected.check(self.nodeid, index, array, problem)
            if mismatch is not None:
                raise AssertionError(mismatch)

    def save_meta(self) -> None:
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            (self.folder / META).write_text(json.dumps(
                {"nodeid": self.nodeid, "values": self.entries, "threshold": self.threshold,
                 "behaviour": self.behaviour}))


def _current() -> Recorder:
    if Recorder.current is None:
        raise RuntimeError("check() and observe() hand values over from inside a test only")
    return Recorder.current
