"""What every suite compares with: one tolerance table, one comparison
helper, one gradient check.  Failure messages say what was expected, what
came, and where."""
from typing import Callable, NamedTuple

import numpy as np


class Tol(NamedTuple):
    rtol: float
    atol: float


# The one tolerance table.  Values are compared elementwise by
# |got - expected| <= atol + rtol * |expected|.
TOL = {
    # Results computed in float32, against NumPy in float32.
    "float32": Tol(rtol=1e-5, atol=1e-5),
    # Results computed in float64, against NumPy in float64.
    "float64": Tol(rtol=1e-7, atol=1e-10),
    # Analytic gradients against float64 central differences (step 1e-4).
    "gradient": Tol(rtol=1e-5, atol=1e-6),
    # Quantities accumulated over many float32 steps (a training epoch).
    "training": Tol(rtol=1e-4, atol=1e-4),
}


def as_numpy(value):
    """The NumPy array behind a Tensor (or the value itself)."""
    return value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) else value


def assert_close(got, expected, *, tol: Tol = None, what="result", check_dtype=True, hint=""):
    """Assert that ``got`` (a Tensor or array) matches ``expected`` in type,
    shape, dtype and values; the message names the worst element."""
    __tracebackhide__ = True
    got = as_numpy(got)
    expected = np.asarray(expected)
    suffix = f"\nHint: {hint}" if hint else ""
    if not isinstance(got, np.ndarray):
        raise AssertionError(
            f"{what}: expected a numpy.ndarray (from Tensor.numpy()), got "
            f"{type(got).__name__}{suffix}"
        )
    if got.shape != expected.shape:
        raise AssertionError(
            f"{what}: expected shape {expected.shape}, got {got.shape}{suffix}"
        )
    if check_dtype and got.dtype != expected.dtype:
        raise AssertionError(
            f"{what}: expected dtype {expected.dtype}, got {got.dtype} "
            f"(keep float32 data float32: use Python numbers or float32 arrays){suffix}"
        )
    tol = tol or TOL.get(str(expected.dtype), TOL["float64"])
    got64 = got.astype(np.float64)
    expected64 = expected.astype(np.float64)
    with np.errstate(invalid="ignore"):
        excess = np.abs(got64 - expected64) - (tol.atol + tol.rtol * np.abs(expected64))
    bad = (excess > 0) | (np.isnan(got64) != np.isnan(expected64))
    bad |= np.isinf(got64) & (got64 != expected64)
    if bad.any():
        worst = np.unravel_index(np.argmax(np.where(bad, np.nan_to_num(excess, nan=np.inf), -np.inf)), got.shape)
        raise AssertionError(
            f"{what}: {int(bad.sum())} of {got.size} values differ beyond "
            f"rtol={tol.rtol:g}, atol={tol.atol:g}; worst at index "
            f"{tuple(int(i) for i in worst)}: got {got[worst]!r}, expected "
            f"{expected[worst]!r}{suffix}"
        )


def numerical_gradients(f: Callable, *inputs, eps=1e-4):
    """Central differences of sum(f(*inputs)) with respect to each input,
    perturbing the inputs' float64 data in place."""
    grads = []
    for tensor in inputs:
        data = tensor.realize_cached_data()
        grad = np.zeros(data.shape, dtype=np.float64)
        for index in np.ndindex(data.shape):
            original = data[index]
            data[index] = original + eps
            upper = float(np.sum(f(*inputs).numpy()))
            data[index] = original - eps
            lower = float(np.sum(f(*inputs).numpy()))
            data[index] = original
            grad[index] = (upper - lower) / (2 * eps)
        grads.append(grad)
    return grads


def check_gradient(f: Callable, *inputs, backward=False, tol: Tol = TOL["gradient"], hint=""):
    """Compare the analytic gradients of sum(f(*inputs)) with central
    differences.

    With ``backward=False`` only the op that produced f's output is asked,
    through ``gradient_as_tuple``, so an op's test needs no engine.  With
    ``backward=True`` the whole graph is differentiated by ``.backward()``.
    Returns the analytic gradients as arrays.
    """
    __tracebackhide__ = True
    import needle as ndl

    out = f(*inputs)
    if backward:
        out.sum().backward()
        computed = [x.grad for x in inputs]
    else:
        seed = ndl.Tensor(np.ones(out.shape, dtype=out.dtype), requires_grad=False)
        computed = list(out.op.gradient_as_tuple(seed, out))
    name = "backward()" if backward else f"{type(out.op).__name__}.gradient"
    if len(computed) != len(inputs):
        raise AssertionError(
            f"{name}: expected {len(inputs)} gradients (one per input), got {len(computed)}"
        )
    expected = numerical_gradients(f, *inputs)
    results = []
    for i, (got, want) in enumerate(zip(computed, expected)):
        if got is None:
            raise AssertionError(f"{name}: no gradient for input {i}")
        got = as_numpy(got)
        assert_close(
            got.astype(np.float64) if isinstance(got, np.ndarray) else got,
            want,
            tol=tol,
            what=f"{name}, gradient of input {i} (shape {inputs[i].shape})",
            check_dtype=False,
            hint=hint,
        )
        results.append(got)
    return results
