"""What every suite compares with: one tolerance table, one comparison
helper, one gradient check.  Failure messages say what was expected, what
came, and where."""
from typing import Callable, NamedTuple

import numpy as np

from tests_public.recording import Recorder


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
    if Recorder.current is not None:
        Recorder.current.checked(got, rtol=tol.rtol, atol=tol.atol)
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


def op_node(op, inputs, forward):
    """The node ``op(*inputs)``, its data computed by the NumPy function
    ``forward`` instead of the op's own ``compute``: a gradient test built on
    it needs neither the op's forward nor the engine."""
    import needle as ndl

    node = ndl.Tensor.make_const(np.array(forward(*[x.numpy() for x in inputs])))
    node.op, node.inputs, node.requires_grad = op, list(inputs), True
    return node


def _central_differences(value_of, inputs, weights, eps=1e-4):
    """d/dx sum(weights * value_of()) for each input x, perturbing the
    inputs' float64 data in place."""
    grads = []
    for tensor in inputs:
        data = tensor.realize_cached_data()
        grad = np.zeros(data.shape, dtype=np.float64)
        for index in np.ndindex(data.shape):
            original = data[index]
            data[index] = original + eps
            upper = float(np.sum(weights * value_of()))
            data[index] = original - eps
            lower = float(np.sum(weights * value_of()))
            data[index] = original
            grad[index] = (upper - lower) / (2 * eps)
        grads.append(grad)
    return grads


def check_gradient(f, *inputs, op=None, tol: Tol = TOL["gradient"], hint="", seed=0):
    """Compare the analytic gradients of sum(w * f(*inputs)), for a fixed
    random w, with central differences; returns them as arrays.

    With ``op``, ``f`` is that op's forward written in NumPy and only
    ``op.gradient`` is asked (through ``gradient_as_tuple``), on a node that
    ``f`` computed: an op's test then needs neither its ``compute`` nor the
    engine.  Without ``op``, ``f`` builds a needle graph from the input
    Tensors and ``.backward(w)`` differentiates it.
    """
    __tracebackhide__ = True
    import needle as ndl

    if op is not None:
        out = op_node(op, inputs, f)
        value_of = lambda: f(*[x.numpy() for x in inputs])  # noqa: E731
    else:
        out = f(*inputs)
        value_of = lambda: f(*inputs).numpy()  # noqa: E731
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, out.shape).astype(out.dtype)
    w = ndl.Tensor(weights, requires_grad=False)
    if op is not None:
        name = f"{type(op).__name__}.gradient"
        computed = list(op.gradient_as_tuple(w, out))
    else:
        name = "backward()"
        out.backward(w)
        computed = [getattr(x, "grad", None) for x in inputs]
    if len(computed) != len(inputs):
        raise AssertionError(
            f"{name}: expected {len(inputs)} gradients (one per input), got {len(computed)}"
        )
    expected = _central_differences(value_of, inputs, weights.astype(np.float64))
    results = []
    for i, (got, want) in enumerate(zip(computed, expected)):
        if got is None:
            raise AssertionError(f"{name}: no gradient for input {i}{f'; hint: {hint}' if hint else ''}")
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
