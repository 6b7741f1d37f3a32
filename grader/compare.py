"""The one comparison: a value that the code under test handed over against
the reference's, under the one tolerance table.  The grader scores with it
in its own process; a student's local run of the public tests gives the
same messages through it (``grader/expected.py``).  Pure data in, a
``Mismatch`` out: nothing here runs code under test."""
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np


class Tol(NamedTuple):
    rtol: float
    atol: float


class NormTol(NamedTuple):
    """A bound on the whole array's distance, relative to its size:
    ||got - expected|| <= relative * ||expected||."""

    relative: float


# The one tolerance table: |got - expected| <= atol + rtol * |expected|,
# elementwise.  A check names its row; by default the expected dtype's row.
TOL = {
    # Results computed in float32.
    "float32": Tol(rtol=1e-5, atol=1e-5),
    # Results computed in float64.
    "float64": Tol(rtol=1e-7, atol=1e-10),
    # Analytic gradients against float64 central differences (step 1e-4),
    # in the kit's own checks of the reference.
    "gradient": Tol(rtol=1e-5, atol=1e-6),
    # Quantities accumulated over many float32 steps (a training epoch).
    "training": Tol(rtol=1e-4, atol=1e-4),
    # Weights after a whole training run (MNIST, many epochs): the same
    # seeded run in another summation order drifts by a few percent of the
    # weights' norm (5% for the two-layer net), weights trained from another
    # start or on other data are as far away as the weights are large.
    "trained": NormTol(relative=0.15),
}

# The kinds of failure, the only words a hidden test's feedback may use.
KINDS = {
    "type": "wrong type",
    "dtype": "wrong dtype",
    "shape": "wrong shape",
    "value": "wrong value",
    "missing": "no value",
    "threshold": "above the target",
}


@dataclass(frozen=True)
class Mismatch:
    kind: str  # a key of KINDS
    message: str  # what was expected, what came, and where (public tests only)


def tolerance(tol, dtype):
    """A row of the table by name (or a row itself); by default the dtype's row."""
    if isinstance(tol, (Tol, NormTol)):
        return tol
    return TOL[tol] if tol else TOL.get(str(np.dtype(dtype)), TOL["float64"])


def compare(expected: np.ndarray, got: Optional[np.ndarray], *, what: str, tol: Optional[str] = None,
            dtype: bool = True, problem: str = "", indices: Optional[np.ndarray] = None,
            shape: Optional[tuple] = None, labels: Optional[list] = None) -> Optional[Mismatch]:
    """Why ``got`` does not match ``expected``; None if it does.

    ``problem`` says why there is no ``got`` (a test's own words about what
    came instead of an array).  ``indices``: ``expected`` holds only the
    elements at these flat indices of an array of ``shape`` (a sample kept
    for a large value), and ``got`` is compared there.  ``labels`` name the
    integers of a sequence (a topological order's nodes): a wrong sequence
    is shown whole, by name.  ``dtype=False`` accepts any real number dtype:
    a count of 3.0 is the count 3.
    """
    shape = tuple(expected.shape if shape is None else shape)
    if got is None:
        return Mismatch("type" if problem else "missing", f"{what}: {problem or 'no value was handed over'}")
    if type(got) is not np.ndarray:
        return Mismatch("type", f"{what}: expected a numpy.ndarray, got {type(got).__name__}")
    if dtype and got.dtype != expected.dtype:
        advice = (" (keep float32 data float32: use Python numbers or float32 arrays)"
                  if expected.dtype == np.float32 and got.dtype == np.float64 else "")
        return Mismatch("dtype", f"{what}: expected dtype {expected.dtype}, got {got.dtype}{advice}")
    if got.dtype.kind == "c" and expected.dtype.kind != "c":  # astype(float64) below would drop the imaginary part
        return Mismatch("dtype", f"{what}: expected real numbers ({expected.dtype}), got {got.dtype}")
    if labels is not None and got.ndim == 1 and got.dtype.kind in "iu" and (
            got.shape != shape or np.any(got != expected)):
        return Mismatch("shape" if got.shape != shape else "value", _sequences(what, expected, got, labels))
    if got.shape != shape:
        return Mismatch("shape", f"{what}: expected shape {shape}, got {got.shape}{_shape_advice(shape, got.shape)}")
    if indices is not None:
        got = got.reshape(-1)[indices]
    if isinstance(tolerance(tol, expected.dtype), NormTol) and got.dtype.kind in "biufc":
        return _relative_distance(expected, got, what, tolerance(tol, expected.dtype))
    if expected.dtype.kind in "fc" and got.dtype.kind in "biufc":
        tol_ = tolerance(tol, expected.dtype)
        got64, expected64 = got.astype(np.float64), expected.astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            excess = np.abs(got64 - expected64) - (tol_.atol + tol_.rtol * np.abs(expected64))
        bad = (excess > 0) | (np.isnan(got64) != np.isnan(expected64))
        bad |= np.isinf(got64) & (got64 != expected64)
        excess = np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)
        limits = f" beyond rtol={tol_.rtol:g}, atol={tol_.atol:g}"
    else:  # flags, counts, indices: exactly (by value across number kinds when the dtype is free)
        numbers = not dtype and got.dtype.kind in "biuf" and expected.dtype.kind in "biu"
        comparable = got.dtype.kind == expected.dtype.kind or numbers
        same = np.asarray(got == expected) if comparable else np.zeros(expected.shape, dtype=bool)
        bad = ~same if same.shape == expected.shape else np.ones(expected.shape, dtype=bool)
        excess, limits = bad.astype(np.float64), ""
    count = int(np.count_nonzero(bad))
    if not count:
        return None
    worst = int(np.argmax(excess.reshape(-1)))
    where = int(indices[worst]) if indices is not None else worst
    index = tuple(int(i) for i in np.unravel_index(where, shape)) if shape else ()
    of = f"{count} of {bad.size} checked values" if indices is not None else f"{count} of {bad.size} values"
    return Mismatch("value", f"{what}: {of} differ{limits}; worst at index {index}: "
                             f"got {_show(got.reshape(-1)[worst])}, expected {_show(expected.reshape(-1)[worst])}")


def _shape_advice(expected: tuple, got: tuple) -> str:
    """What a wrong shape says about its cause, when the shapes tell."""
    if [d for d in got if d != 1] == [d for d in expected if d != 1]:
        return " (only axes of size 1 differ: reshape to the expected shape, or keep or drop the reduced axes)"
    # By hand rather than np.broadcast_shapes, which raises beyond 32 axes.
    broadcast = len(got) >= len(expected) and all(e in (g, 1) for e, g in zip(reversed(expected), reversed(got)))
    if broadcast:
        return (" (the shape broadcasting makes from the expected one: sum over the axes that broadcasting "
                "added, then reshape)")
    return ""


def hint_for(hint, kind: str) -> str:
    """A check's hint for a failure of ``kind``: a hint given as text is
    about a wrong value; one given as {kind: text} speaks to those kinds
    only.  A hint never speaks to a failure it does not explain."""
    if isinstance(hint, dict):
        return str(hint.get(kind, ""))
    return str(hint or "") if kind == "value" else ""


def _relative_distance(expected: np.ndarray, got: np.ndarray, what: str, tol: NormTol) -> Optional[Mismatch]:
    with np.errstate(all="ignore"):
        size = float(np.linalg.norm(expected.astype(np.float64)))
        distance = float(np.linalg.norm(got.astype(np.float64) - expected.astype(np.float64))) / max(size, 1e-30)
    if distance <= tol.relative:  # NaN fails
        return None
    return Mismatch("value", f"{what}: {distance:.3g} of its expected size away from the expected value "
                             f"(|got - expected| <= {tol.relative:g} |expected| allowed)")


def _sequences(what: str, expected: np.ndarray, got: np.ndarray, labels: list) -> str:
    """Two sequences of labelled integers: whole when short, else where they part."""
    def names(values):
        return [labels[i] if 0 <= i < len(labels) else "<a node that should not be there>" for i in values.tolist()]

    if max(len(expected), len(got)) <= 24:
        return f"{what}: expected\n  {names(expected)}\ngot\n  {names(got)}"
    at = next((i for i, (e, g) in enumerate(zip(expected, got)) if e != g), min(len(expected), len(got)))
    return (f"{what}: expected {len(expected)} nodes, got {len(got)}; from position {at} on, expected "
            f"{names(expected[at:at + 5])}, got {names(got[at:at + 5])}")


def _show(value) -> str:
    return repr(value.item()) if hasattr(value, "item") else repr(value)
