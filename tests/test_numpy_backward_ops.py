"""The kit's proof that the reference's op gradients, which the backward_ops
suites' answer key holds, are right: each case of the public and hidden
suites, on the same inputs and upstream gradients as the suites draw (salt
0), against float64 central differences of the op's forward written in
NumPy, or against NumPy closed forms where differences are undefined (ReLU
at 0) or useless (inputs of size 1e4 to 1e10).  The case tables' output
shapes are checked against the NumPy forwards too (the suites give them, so
that no forward runs before the gradient).

The suites themselves hold no expected value: they hand over what
op.gradient returned and the grader compares it with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.backward_ops import make_inputs
from grader.box.drive import op_gradients, out_grad
from grader.box.inputs import EXTREME_ROWS, POSITIVE, POSITIVE_WIDE, extreme, extreme_ids, normal
from tests.numpy_checks import TOL, assert_close, central_differences, check_gradient, owned
from tests.numpy_reference import (
    np_broadcast_to, np_logsoftmax, np_logsumexp, np_logsumexp_over, np_power_scalar, np_relu, np_reshape,
    np_softmax, np_summation, np_swap,
)
from tests_hidden import test_backward_ops as hidden
from tests_public import test_backward_ops as public


def numpy_forward(op):
    """The op's forward in NumPy, from its (normalised) parameters."""
    name = type(op).__name__
    forwards = {
        "PowerScalar": lambda: np_power_scalar(op.scalar),
        "EWisePow": lambda: np.power,
        "EWiseDiv": lambda: np.divide,
        "DivScalar": lambda: (lambda a: a / op.scalar),
        "Transpose": lambda: np_swap(op.axes),
        "Reshape": lambda: np_reshape(op.shape),
        "BroadcastTo": lambda: np_broadcast_to(op.shape),
        "Summation": lambda: np_summation(op.axes),
        "MatMul": lambda: np.matmul,
        "Negate": lambda: np.negative,
        "Log": lambda: np.log,
        "Exp": lambda: np.exp,
        "ReLU": lambda: np_relu,
        "LogSumExp": lambda: np_logsumexp_over(op.axes),
        "LogSoftmax": lambda: np_logsoftmax,
    }
    return owned(forwards[name]())


# suite -> (its case table, the seeds of its float64 run, those of its float32 run, its positive range);
# the seeds are (inputs, upstream gradient), as the suite draws them.
SUITES = {
    "public": (public.GRADIENT_CASES, (0, 0), (0, 1), POSITIVE),
    "hidden": (hidden.GRADIENT_CASES, (7, 3), (8, 4), POSITIVE_WIDE),
}
CASES = [
    pytest.param(suite, *param.values, id=f"{suite}-{param.id}")
    for suite, (cases, *_) in SUITES.items() for param in cases
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("suite, op, specs, out_shape", CASES)
def test_reference_gradients_match_central_differences(suite, op, specs, out_shape, dtype):
    """The gradients the suite asks for (its inputs, its upstream gradient)
    against float64 central differences of the NumPy forward at the same
    (float32-rounded) inputs; float32 inputs get float32 Tensors.  The
    case's output shape must be the forward's."""
    _, seeds64, seeds32, positive = SUITES[suite]
    seed, grad_seed = seeds64 if dtype == "float64" else seeds32
    inputs = make_inputs(specs, seed, dtype=dtype, positive=positive)
    arrays = [x.numpy().astype(np.float64) for x in inputs]
    forward = numpy_forward(op)
    assert forward(*arrays).shape == out_shape, "the case table's output shape is not the op's"
    grads = op_gradients(op, inputs, out_shape, grad_seed)
    w = out_grad(out_shape, grad_seed, dtype).numpy().astype(np.float64)
    expected = central_differences(lambda: forward(*arrays), arrays, w)
    for i, (grad, want) in enumerate(zip(grads, expected)):
        assert isinstance(grad, ndl.Tensor) and grad.dtype == dtype, (i, type(grad), getattr(grad, "dtype", None))
        assert_close(grad.numpy().astype(np.float64), want, tol=TOL["gradient"],
                     what=f"{type(op).__name__}.gradient of {dtype} input {i}")


def test_logsumexp_gradient_of_all_equal_inputs_is_uniform():
    z = ndl.Tensor(np.full((3, 4), 7.0))
    check_gradient(owned(lambda a: np_logsumexp(a, (1,))), z, op=ndl.ops.LogSumExp((1,)))


RELU_ZEROS = {
    "public": lambda: np.array([[-1.5, 0.0, 2.0, 0.0], [0.0, -0.0, 3.0, -2.0]]),
    "hidden": lambda: _hidden_relu_input(),
}


def _hidden_relu_input():
    a = normal((3, 2, 4), seed=9)
    a[1, 0, :] = 0.0
    a[:, 1, 3] = -0.0
    a[2, :, 0] = 0.0
    return a


@pytest.mark.parametrize("suite, dtype, grad_seed", [("public", "float64", 0), ("hidden", "float64", 10),
                                                      ("hidden", "float32", 10)])
def test_relu_gradient_at_exact_zeros_is_zero(suite, dtype, grad_seed):
    a = RELU_ZEROS[suite]().astype(dtype)
    (grad,) = op_gradients(ndl.ops.ReLU(), [ndl.Tensor(a, dtype=dtype)], a.shape, grad_seed)
    w = out_grad(a.shape, grad_seed, dtype).numpy()
    assert_close(grad, w * (a > 0).astype(dtype), what="ReLU.gradient at zeros")


# (dtype, z, axes, upstream gradient's seed): the public course example and the hidden extreme cases.
LSE_CASES = [
    pytest.param("float64", np.array([[1e10, 1e9, 1e8, -10], [1e-10, 1e9, 1e8, -10]]), (0,), 1, id="public-1e10"),
    *[pytest.param(dtype, (kind, 11), axes, 12, id=f"hidden-{name}")
      for (dtype, kind, axes), name in zip(hidden.LSE_EXTREME_CASES, extreme_ids(hidden.LSE_EXTREME_CASES))],
]


@pytest.mark.parametrize("dtype, z, axes, grad_seed", LSE_CASES)
def test_logsumexp_gradient_at_extreme_values_is_the_softmax(dtype, z, axes, grad_seed):
    z = extreme(z[0], (4, 5), seed=z[1], dtype=dtype) if isinstance(z, tuple) else z.astype(dtype)
    out_shape = np_logsumexp(z.astype(np.float64), axes).shape
    (grad,) = op_gradients(ndl.ops.LogSumExp(axes), [ndl.Tensor(z, dtype=dtype)], out_shape, grad_seed)
    w = out_grad(out_shape, grad_seed, dtype).numpy().astype(np.float64)
    w_kept = w if axes is None else np.expand_dims(w, axes)
    assert_close(grad, (w_kept * np_softmax(z.astype(np.float64), axes)).astype(dtype),
                 what=f"LogSumExp({axes}).gradient at {dtype} inputs")


# (dtype, kind, inputs' seed, upstream gradient's seed)
LOGSOFTMAX_CASES = [
    *[pytest.param(dtype, "scale:1e5", 2, 3, id=f"public-{dtype}-scale1e5") for dtype in ("float64", "float32")],
    *[pytest.param(dtype, kind, 13, 14, id=f"hidden-{name}")
      for (dtype, kind), name in zip(EXTREME_ROWS, extreme_ids(EXTREME_ROWS))],
]


@pytest.mark.parametrize("dtype, kind, seed, grad_seed", LOGSOFTMAX_CASES)
def test_logsoftmax_gradient_at_extreme_values(dtype, kind, seed, grad_seed):
    z = extreme(kind, (4, 5), seed=seed, dtype=dtype)
    (grad,) = op_gradients(ndl.ops.LogSoftmax(), [ndl.Tensor(z, dtype=dtype)], (4, 5), grad_seed)
    w = out_grad((4, 5), grad_seed, dtype).numpy().astype(np.float64)
    expected = w - np_softmax(z.astype(np.float64), 1) * np.sum(w, axis=1, keepdims=True)
    assert_close(grad, expected.astype(dtype), what=f"LogSoftmax.gradient at {dtype} {kind} inputs")
