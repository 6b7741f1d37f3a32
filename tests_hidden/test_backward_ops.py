"""Hidden tests, question "backward ops": every TODO op's ``gradient`` on new
inputs, shapes and seeds.

Each test asks the op itself, ``op.gradient_as_tuple(out_grad, node)``, on a
node whose data a NumPy function computed (``helpers.op_node``): neither the
op's ``compute`` nor the engine runs, so that the untouched handout fails
each test with this question's TODO.  Gradients of sum(w * op(inputs)) are
compared with float64 central differences of the NumPy forward, or with NumPy
closed forms where differences are undefined (ReLU at 0) or useless (inputs
of size 1e4 to 1e6).  Second-order gradients need the engine: they are in
test_reverse_ad.py.
"""
import numpy as np
import pytest

import needle as ndl
from tests_public import numpy_reference
from tests_public.helpers import (
    TOL, assert_close, central_differences, check_gradient, float32_op_gradients, op_case, op_node,
)
from tests_public.numpy_reference import (
    EXTREME_ROWS, N, NZ, P, POSITIVE_WIDE, extreme, extreme_ids, np_broadcast_to, np_logsoftmax, np_logsumexp,
    np_logsumexp_over, np_power_scalar, np_relu, np_reshape, np_softmax, np_summation, np_swap,
)


def make_arrays(specs, seed=7):
    """Other inputs than the public tests': positive data over a wider range."""
    return numpy_reference.make_arrays(specs, seed, positive=POSITIVE_WIDE)


GRADIENT_CASES = [
    # PowerScalar: g * s * a is right only for s = 2 (and s = 0)
    *[op_case(f"power_scalar-s={s:.4g}", ndl.ops.PowerScalar(s), np_power_scalar(s), P(4, 3))
      for s in (2.5, -2, 4, -0.5, 1 / 3, 1.5, -3, 0, 1)],
    op_case("power_scalar-s=4-negative-base", ndl.ops.PowerScalar(4), np_power_scalar(4), N(3, 4)),
    op_case("power_scalar-s=3-negative-base", ndl.ops.PowerScalar(3), np_power_scalar(3), N(2, 5)),
    op_case("power_scalar-np.float64-exponent", ndl.ops.PowerScalar(np.float64(2.5)), np_power_scalar(2.5), P(3, 2)),
    # EWisePow (the exponent's gradient needs a > 0)
    op_case("power-2x1x3-by-4x3", ndl.ops.EWisePow(), np.power, P(2, 1, 3), N(4, 3)),
    op_case("power-3x4-by-4", ndl.ops.EWisePow(), np.power, P(3, 4), N(4)),
    op_case("power-1x3-by-2x1", ndl.ops.EWisePow(), np.power, P(1, 3), N(2, 1)),
    op_case("power-0d-exponent", ndl.ops.EWisePow(), np.power, P(2, 3), N()),
    # EWiseDiv, DivScalar
    op_case("divide-same-shape", ndl.ops.EWiseDiv(), np.divide, N(2, 5), NZ(2, 5)),
    op_case("divide-divisor-broadcast", ndl.ops.EWiseDiv(), np.divide, N(3, 4), NZ(4)),
    op_case("divide-numerator-broadcast", ndl.ops.EWiseDiv(), np.divide, N(2, 1), NZ(2, 3)),
    op_case("divide_scalar-np.float64", ndl.ops.DivScalar(np.float64(-2.5)), lambda a: a / -2.5, N(3, 4)),
    op_case("divide_scalar-int", ndl.ops.DivScalar(7), lambda a: a / 7, N(2, 3)),
    op_case("divide_scalar-shape-1-ndarray", ndl.ops.DivScalar(np.array([1.6])), lambda a: a / 1.6, N(4, 2)),
    # Transpose (default axes on inputs of rank 3 and more, and explicit axes)
    op_case("transpose-None-2d", ndl.ops.Transpose(), np_swap(None), N(5, 2)),
    op_case("transpose-None-3d", ndl.ops.Transpose(), np_swap(None), N(2, 3, 4)),
    op_case("transpose-None-cube", ndl.ops.Transpose(), np_swap(None), N(3, 3, 3)),
    op_case("transpose-None-4d", ndl.ops.Transpose(), np_swap(None), N(2, 3, 2, 3)),
    op_case("transpose-(0,3)-4d", ndl.ops.Transpose((0, 3)), np_swap((0, 3)), N(2, 3, 4, 5)),
    op_case("transpose-(2,0)", ndl.ops.Transpose((2, 0)), np_swap((2, 0)), N(2, 3, 4)),
    op_case("transpose-(-1,-3)", ndl.ops.Transpose((-1, -3)), np_swap((-1, -3)), N(2, 3, 2, 4)),
    # Reshape
    *[op_case(f"reshape-{name}", ndl.ops.Reshape(shape), np_reshape(shape), N(*in_shape))
      for name, in_shape, shape in [
          ("2x3x4-to-4x6", (2, 3, 4), (4, 6)),
          ("6-to-1x2x3x1", (6,), (1, 2, 3, 1)),
          ("3x4-to-4x-1", (3, 4), (4, -1)),
          ("0d-to-1x1x1", (), (1, 1, 1)),
          ("1x1-to-0d", (1, 1), ()),
          ("2x1x3-to-3x2", (2, 1, 3), (3, 2)),
      ]],
    # BroadcastTo (from 0-d, prepended axes, size-1 axes, and both at once)
    *[op_case(f"broadcast_to-{name}", ndl.ops.BroadcastTo(shape), np_broadcast_to(shape), N(*in_shape))
      for name, in_shape, shape in [
          ("0d-to-4", (), (4,)),
          ("0d-to-2x3x1", (), (2, 3, 1)),
          ("1-to-2x3", (1,), (2, 3)),
          ("prepended-3-to-4x2x3", (3,), (4, 2, 3)),
          ("prepended-and-size-1-2x1x3-to-4x2x5x3", (2, 1, 3), (4, 2, 5, 3)),
          ("1x1-to-3x4", (1, 1), (3, 4)),
          ("4x1x1-to-4x2x3", (4, 1, 1), (4, 2, 3)),
          ("1x2x1-to-3x2x2", (1, 2, 1), (3, 2, 2)),
          ("same-shape-3x1", (3, 1), (3, 1)),
      ]],
    # Summation (Summation's constructor normalises axes; NumPy takes the raw ones)
    *[op_case(f"summation-{name}", ndl.ops.Summation(axes), np_summation(axes), N(*shape))
      for name, shape, axes in [
          ("None-3d", (4, 3, 2), None),
          ("None-0d", (), None),
          ("int-0", (4, 3, 2), 0),
          ("int-1", (4, 3, 2), 1),
          ("int-2", (4, 3, 2), 2),
          ("int-1-square", (3, 3), 1),
          ("int-0-square", (3, 3), 0),
          ("int-0-vector", (5,), 0),
          ("negative-int-1", (4, 3, 2), -1),
          ("negative-int-2", (4, 3, 2), -2),
          ("negative-int-3", (4, 3, 2), -3),
          ("negative-int-1-square", (3, 3), -1),
          ("tuple-(0,2)", (4, 3, 2), (0, 2)),
          ("unsorted-tuple-(2,0)", (4, 3, 2), (2, 0)),
          ("negative-tuple-(-1,-2)", (4, 3, 2), (-1, -2)),
          ("tuple-(1,)-over-size-1", (2, 1, 3), (1,)),
          ("tuple-(0,)-vector", (5,), (0,)),
      ]],
    # MatMul (mixed ranks and size-1 batch dimensions)
    *[op_case(f"matmul-{name}", ndl.ops.MatMul(), np.matmul, N(*sa), N(*sb))
      for name, sa, sb in [
          ("3x5@5x2", (3, 5), (5, 2)),
          ("size-1-batch-1x3x4@5x4x2", (1, 3, 4), (5, 4, 2)),
          ("size-1-batches-2x1x3x4@1x5x4x2", (2, 1, 3, 4), (1, 5, 4, 2)),
          ("mixed-ranks-4x3@2x5x3x6", (4, 3), (2, 5, 3, 6)),
          ("mixed-ranks-2x4@7x4x2", (2, 4), (7, 4, 2)),
          ("mixed-ranks-3x1x2x5@4x5x3", (3, 1, 2, 5), (4, 5, 3)),
          ("size-1-batches-1x1x2x3@3x4", (1, 1, 2, 3), (3, 4)),
          ("5x1x4x3@5x3x2", (5, 1, 4, 3), (5, 3, 2)),
          ("batched-3x2x4@3x4x2", (3, 2, 4), (3, 4, 2)),
      ]],
    # Negate, Log, Exp, ReLU (away from the kink)
    op_case("negate-3d", ndl.ops.Negate(), np.negative, N(2, 3, 4)),
    op_case("negate-0d", ndl.ops.Negate(), np.negative, N()),
    op_case("log-3d", ndl.ops.Log(), np.log, P(2, 3, 2)),
    op_case("log-0d", ndl.ops.Log(), np.log, P()),
    op_case("exp-3d", ndl.ops.Exp(), np.exp, N(2, 3, 2)),
    op_case("exp-vector", ndl.ops.Exp(), np.exp, N(5)),
    op_case("relu-3d", ndl.ops.ReLU(), np_relu, NZ(2, 3, 4)),
    # LogSumExp, LogSoftmax
    *[op_case(f"logsumexp-{name}", ndl.ops.LogSumExp(axes), np_logsumexp_over(axes), N(*shape))
      for name, shape, axes in [
          ("None-4x5", (4, 5), None),
          ("int-0", (4, 5), 0),
          ("int-1-3d", (2, 3, 4), 1),
          ("negative-int", (2, 3, 4), -2),
          ("tuple-(0,2)", (2, 3, 4), (0, 2)),
          ("negative-tuple-(-1,-3)", (2, 3, 4), (-1, -3)),
          ("(1,)-over-size-1", (3, 1, 4), (1,)),
          ("vector-int-0", (6,), 0),
          ("vector-None", (6,), None),
          ("all-axes", (2, 2, 3), (0, 1, 2)),
      ]],
    op_case("logsoftmax-4x6", ndl.ops.LogSoftmax(), np_logsoftmax, N(4, 6)),
    op_case("logsoftmax-2x9", ndl.ops.LogSoftmax(), np_logsoftmax, N(2, 9)),
    op_case("logsoftmax-1x3", ndl.ops.LogSoftmax(), np_logsoftmax, N(1, 3)),
    op_case("logsoftmax-5x1", ndl.ops.LogSoftmax(), np_logsoftmax, N(5, 1)),
]


@pytest.mark.parametrize("op, forward, specs", GRADIENT_CASES)
def test_gradient_matches_central_differences(op, forward, specs):
    """The op's gradient against central differences of its forward."""
    inputs = [ndl.Tensor(a) for a in make_arrays(specs)]
    check_gradient(
        forward, *inputs, op=op, seed=3,
        hint="one partial adjoint per input, of that input's shape, built from needle ops",
    )


def _numeric_gradients(forward, arrays, weights):
    """Central differences of sum(weights * forward(*arrays)), all in float64."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    return central_differences(lambda: forward(*arrays), arrays, weights)


@pytest.mark.parametrize("op, forward, specs", GRADIENT_CASES)
def test_float32_inputs_give_float32_gradients(op, forward, specs):
    """Float32 inputs get float32 gradients of their own shapes and the right values."""
    arrays = [a.astype(np.float32) for a in make_arrays(specs, seed=8)]
    grads, w = float32_op_gradients(op, forward, [ndl.Tensor(a, dtype="float32") for a in arrays], seed=4)
    name = type(op).__name__
    expected = _numeric_gradients(forward, arrays, w.astype(np.float64))
    for i, (grad, want) in enumerate(zip(grads, expected)):
        assert isinstance(grad, ndl.Tensor), f"{name}.gradient: gradient {i} is not a needle Tensor"
        assert_close(
            grad, want.astype(np.float32), tol=TOL["gradient"],
            what=f"{name}.gradient of float32 input {i} (shape {arrays[i].shape})",
            hint="keep float32 float32: Python numbers, not numpy.float64 scalars or float64 arrays",
        )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_gradient_at_exact_zeros_is_zero(dtype):
    """ReLU's gradient where the input is exactly 0 (or -0.0)."""
    a = np.random.default_rng(9).standard_normal((3, 2, 4))
    a[1, 0, :] = 0.0
    a[:, 1, 3] = -0.0
    a[2, :, 0] = 0.0
    a = a.astype(dtype)
    w = np.random.default_rng(10).uniform(1.0, 2.0, a.shape).astype(dtype)
    op = ndl.ops.ReLU()
    node = op_node(op, [ndl.Tensor(a)], np_relu)
    (grad,) = op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), node)
    assert_close(grad, w * (a > 0).astype(dtype), what=f"ReLU.gradient on {dtype} input with zeros",
                 hint="the derivative of max(a, 0) at exactly 0 is taken to be 0")


LSE_EXTREME_CASES = [
    ("float64", "scale:1e4", (1,)),
    ("float64", "scale:1e6", None),
    ("float64", "offset:1e6", None),
    ("float64", "offset:-1e6", (0,)),
    ("float64", "offset:1e4", (1,)),
    ("float64", "rows-pm:1e4", (1,)),
    ("float32", "scale:1e4", (1,)),
    ("float32", "scale:1e6", (0,)),
    ("float32", "scale:1e6", None),
]


@pytest.mark.parametrize("dtype, kind, axes", LSE_EXTREME_CASES, ids=extreme_ids(LSE_EXTREME_CASES))
def test_logsumexp_gradient_is_stable_at_extreme_values(dtype, kind, axes):
    """LogSumExp's gradient at inputs of size 1e4 to 1e6 is a finite softmax."""
    z = extreme(kind, (4, 5), seed=11, dtype=dtype)
    op = ndl.ops.LogSumExp(axes)
    node = op_node(op, [ndl.Tensor(z)], lambda a: np.array(np_logsumexp(a.astype(np.float64), axes)).astype(dtype))
    w = np.random.default_rng(12).uniform(0.5, 1.5, node.shape).astype(dtype)
    (grad,) = op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), node)
    w_kept = w.astype(np.float64) if axes is None else np.expand_dims(w.astype(np.float64), axes)
    expected = w_kept * np_softmax(z.astype(np.float64), axes)
    assert_close(grad, expected.astype(dtype), what=f"LogSumExp({axes}).gradient at {dtype} {kind} inputs",
                 hint="out_grad times exp(z - logsumexp(z)), never exp(z) / sum(exp(z))")


@pytest.mark.parametrize("dtype, kind", EXTREME_ROWS, ids=extreme_ids(EXTREME_ROWS))
def test_logsoftmax_gradient_is_stable_at_extreme_values(dtype, kind):
    """LogSoftmax's gradient at inputs of size 1e4 to 1e6 stays finite and right."""
    z = extreme(kind, (4, 5), seed=13, dtype=dtype)
    op = ndl.ops.LogSoftmax()
    node = op_node(op, [ndl.Tensor(z)], lambda a: np_logsoftmax(a.astype(np.float64)).astype(dtype))
    w = np.random.default_rng(14).standard_normal((4, 5)).astype(dtype)
    (grad,) = op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), node)
    z64, w64 = z.astype(np.float64), w.astype(np.float64)
    expected = w64 - np_softmax(z64, 1) * np.sum(w64, axis=1, keepdims=True)
    assert_close(grad, expected.astype(dtype), what=f"LogSoftmax.gradient at {dtype} {kind} inputs",
                 hint="use a stable softmax, such as exp(logsoftmax(z))")
