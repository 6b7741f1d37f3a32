"""Question "backward ops": every TODO op's ``gradient``.

Each test asks the op itself, through ``op.gradient_as_tuple(out_grad, node)``,
on a node whose data a NumPy function computed (``helpers.op_node``): nothing
here needs any op's ``compute``, ``find_topo_sort`` or
``compute_gradient_of_variables``.  A case is (the op, its forward written in
NumPy, the input specs).  Gradients of sum(w * op(inputs)), for a random w,
are compared with float64 central differences of the NumPy forward, or with
NumPy closed forms where differences are undefined (ReLU at 0) or unreliable
(inputs of size 1e10).  Second-order gradients need the engine and live in
test_reverse_ad.py.
"""
import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import TOL, assert_close, check_gradient, float32_op_gradients, op_case, op_node, owned
from tests_public.numpy_reference import (
    N, NZ, P, make_arrays, np_broadcast_to, np_logsoftmax, np_logsumexp, np_logsumexp_over, np_power_scalar, np_relu,
    np_softmax, np_summation, np_swap,
)
from tests_public.recording import Recorder


def make_inputs(specs, dtype="float64", seed=0):
    return [ndl.Tensor(a.astype(dtype)) for a in make_arrays(specs, seed)]


GRADIENT_CASES = [
    # PowerScalar: a wrong g*s*a survives s = 0 and s = 2 at a = 1 only.
    *[op_case(f"power_scalar-s={s}", ndl.ops.PowerScalar(s), np_power_scalar(s), P(3, 4))
      for s in (2, 3, -1, 0.5, -1.5, 0, 1)],
    op_case("power_scalar-s=3-negative-base", ndl.ops.PowerScalar(3), lambda a: a ** 3, N(3, 4)),
    # EWisePow (the exponent's gradient needs a > 0)
    op_case("power-same-shape", ndl.ops.EWisePow(), np.power, P(2, 3), N(2, 3)),
    op_case("power-broadcast-1x3-by-3", ndl.ops.EWisePow(), np.power, P(1, 3), N(3)),
    # EWiseDiv, DivScalar
    op_case("divide", ndl.ops.EWiseDiv(), np.divide, N(3, 4), NZ(3, 4)),
    op_case("divide_scalar-float", ndl.ops.DivScalar(3.7), lambda a: a / 3.7, N(3, 4)),
    op_case("divide_scalar-shape-1-ndarray", ndl.ops.DivScalar(np.array([-1.3])), lambda a: a / -1.3, N(3, 4)),
    # Transpose
    op_case("transpose-None-2d", ndl.ops.Transpose(), np_swap(None), N(3, 4)),
    op_case("transpose-None-3d", ndl.ops.Transpose(), np_swap(None), N(2, 3, 4)),
    op_case("transpose-(1,2)", ndl.ops.Transpose((1, 2)), np_swap((1, 2)), N(3, 5, 4)),
    op_case("transpose-(0,1)", ndl.ops.Transpose((0, 1)), np_swap((0, 1)), N(3, 5, 4)),
    op_case("transpose-(0,2)", ndl.ops.Transpose((0, 2)), np_swap((0, 2)), N(3, 5, 4)),
    # Reshape
    op_case("reshape-5x4-to-4x5", ndl.ops.Reshape((4, 5)), lambda a: a.reshape(4, 5), N(5, 4)),
    op_case("reshape-3x2x4-to-2x3x4", ndl.ops.Reshape((2, 3, 4)), lambda a: a.reshape(2, 3, 4), N(3, 2, 4)),
    op_case("reshape-minus-1", ndl.ops.Reshape((2, -1)), lambda a: a.reshape(2, -1), N(5, 4)),
    op_case("reshape-1-to-0d", ndl.ops.Reshape(()), lambda a: a.reshape(()), N(1)),
    op_case("reshape-0d-to-1x1", ndl.ops.Reshape((1, 1)), lambda a: a.reshape(1, 1), N()),
    # BroadcastTo
    *[op_case(f"broadcast_to-{name}", ndl.ops.BroadcastTo(shape),
           np_broadcast_to(shape), N(*in_shape))
      for name, in_shape, shape in [
          ("3x1-to-3x3", (3, 1), (3, 3)),
          ("1x3-to-3x3", (1, 3), (3, 3)),
          ("1-to-3x3x3", (1,), (3, 3, 3)),
          ("0d-to-3x3x3", (), (3, 3, 3)),
          ("0d-to-1x3x6", (), (1, 3, 6)),
          ("5x4x1-to-5x4x3", (5, 4, 1), (5, 4, 3)),
          ("prepended-3-to-2x4x3", (3,), (2, 4, 3)),
          ("prepended-and-size-1-2x1-to-3x2x4", (2, 1), (3, 2, 4)),
          ("same-shape", (2, 3), (2, 3)),
      ]],
    # Summation (Summation's constructor normalises axes; NumPy takes the raw ones)
    *[op_case(f"summation-{name}", ndl.ops.Summation(axes),
           np_summation(axes), N(*shape))
      for name, shape, axes in [
          ("None-2d", (3, 4), None),
          ("None-3d", (2, 3, 4), None),
          ("int-0", (3, 4), 0),
          ("int-1", (3, 4, 2), 1),
          ("negative-int", (3, 4, 2), -1),
          ("negative-tuple", (3, 4, 2), (-1, -3)),
          ("tuple-(1,)", (5, 4), (1,)),
          ("tuple-(0,1)", (5, 4), (0, 1)),
          ("5x4x1-(0,1)", (5, 4, 1), (0, 1)),
          ("tuple-(0,1,2)", (2, 3, 4), (0, 1, 2)),
          ("7-(0,)", (7,), (0,)),
      ]],
    # MatMul
    *[op_case(f"matmul-{name}", ndl.ops.MatMul(), np.matmul, N(*sa), N(*sb))
      for name, sa, sb in [
          ("5x4@4x5", (5, 4), (4, 5)),
          ("batched-2x3x5x4@2x3x4x3", (2, 3, 5, 4), (2, 3, 4, 3)),
          ("2x3x5x4@4x3", (2, 3, 5, 4), (4, 3)),
          ("5x4@2x3x4x3", (5, 4), (2, 3, 4, 3)),
          ("1x5@5x1", (1, 5), (5, 1)),
          ("2x4@7x4x2", (2, 4), (7, 4, 2)),
          ("3x2x1@3x3x1x2", (3, 2, 1), (3, 3, 1, 2)),
          ("size-1-batch-1x3x4@5x4x2", (1, 3, 4), (5, 4, 2)),
          ("size-1-batch-2x1x3x4@1x5x4x2", (2, 1, 3, 4), (1, 5, 4, 2)),
      ]],
    # Negate, Log, Exp, ReLU (away from the kink)
    op_case("negate", ndl.ops.Negate(), np.negative, N(3, 4)),
    op_case("log", ndl.ops.Log(), np.log, P(3, 4)),
    op_case("exp", ndl.ops.Exp(), np.exp, N(3, 4)),
    op_case("relu", ndl.ops.ReLU(), np_relu, NZ(3, 4)),
    # LogSumExp, LogSoftmax
    *[op_case(f"logsumexp-{name}", ndl.ops.LogSumExp(axes),
           np_logsumexp_over(axes), N(*shape))
      for name, shape, axes in [
          ("(1,2)-on-3x3x3", (3, 3, 3), (1, 2)),
          ("None", (3, 4), None),
          ("(0,2)-on-1x2x3x4", (1, 2, 3, 4), (0, 2)),
          ("(1,)-on-3x10", (3, 10), (1,)),
          ("int-0", (3, 4), 0),
          ("negative-int", (2, 3, 4), -1),
          ("(0,1,3)-on-1x2x2x2x2", (1, 2, 2, 2, 2), (0, 1, 3)),
      ]],
    op_case("logsoftmax-3x5", ndl.ops.LogSoftmax(), np_logsoftmax, N(3, 5)),
    op_case("logsoftmax-1x4", ndl.ops.LogSoftmax(), np_logsoftmax, N(1, 4)),
]


@pytest.mark.parametrize("op, forward, specs", GRADIENT_CASES)
def test_gradient_matches_central_differences(op, forward, specs):
    inputs = make_inputs(specs)
    check_gradient(
        forward, *inputs, op=op,
        hint="gradient(out_grad, node) returns one partial adjoint per input, "
        "built from needle ops; sum over axes that broadcasting added",
    )


def test_logsumexp_gradient_of_all_equal_inputs_is_uniform():
    z = ndl.Tensor(np.full((3, 4), 7.0))
    check_gradient(owned(lambda a: np_logsumexp(a, (1,))), z, op=ndl.ops.LogSumExp((1,)))


@pytest.mark.parametrize("op, forward, specs", GRADIENT_CASES)
def test_float32_inputs_give_float32_gradients_of_the_input_shapes(op, forward, specs):
    inputs = make_inputs(specs, dtype="float32")
    grads, _ = float32_op_gradients(op, forward, inputs, seed=1)
    name = type(op).__name__
    for i, (grad, x) in enumerate(zip(grads, inputs)):
        assert isinstance(grad, ndl.Tensor), (
            f"{name}.gradient: gradient {i} is a {type(grad).__name__}, not a needle Tensor; "
            f"build gradients from needle ops"
        )
        assert grad.shape == x.shape, (
            f"{name}.gradient: gradient {i} has shape {grad.shape}, but input {i} has shape "
            f"{x.shape}; sum over the axes that broadcasting added, then reshape"
        )
        assert grad.dtype == np.float32, (
            f"{name}.gradient: gradient {i} of float32 inputs has dtype {grad.dtype}; keep "
            f"float32 float32 (use Python numbers, not numpy.float64 scalars or float64 arrays)"
        )
        Recorder.current(f"grad{i}", grad, rtol=TOL["float32"].rtol, atol=TOL["float32"].atol)


def test_relu_gradient_at_exactly_zero_is_zero():
    a = np.array([[-1.5, 0.0, 2.0, 0.0], [0.0, -0.0, 3.0, -2.0]])
    w = np.random.default_rng(0).uniform(1.0, 2.0, a.shape)
    op = ndl.ops.ReLU()
    node = op_node(op, [ndl.Tensor(a)], np_relu)
    (grad,) = op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), node)
    assert_close(
        grad, w * (a > 0), what="ReLU.gradient on an input containing zeros",
        hint="ReLU's derivative at exactly 0 is 0: the mask is a > 0, not a >= 0",
    )


def test_logsumexp_gradient_of_course_1e10_example_is_finite_softmax():
    # The course's stability input (needle_api.md section 2).
    z = np.array([[1e10, 1e9, 1e8, -10], [1e-10, 1e9, 1e8, -10]])
    w = np.random.default_rng(1).standard_normal(4)
    op = ndl.ops.LogSumExp((0,))
    node = op_node(op, [ndl.Tensor(z)], lambda a: np_logsumexp(a, (0,)))
    (grad,) = op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), node)
    assert_close(
        grad, w * np_softmax(z, 0), what="LogSumExp.gradient at inputs of size 1e10",
        hint="the gradient is out_grad times exp(z - logsumexp(z)); computing "
        "exp(z) / sum(exp(z)) overflows",
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsoftmax_gradient_at_inputs_scaled_1e5_is_finite(dtype):
    z = (np.random.default_rng(2).standard_normal((4, 5)) * 1e5).astype(dtype)
    w = np.random.default_rng(3).standard_normal((4, 5)).astype(dtype)
    op = ndl.ops.LogSoftmax()
    node = op_node(op, [ndl.Tensor(z)], np_logsoftmax)
    (grad,) = op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), node)
    z64, w64 = z.astype(np.float64), w.astype(np.float64)
    expected = w64 - np_softmax(z64, 1) * np.sum(w64, axis=1, keepdims=True)
    assert_close(
        grad, expected.astype(dtype), what=f"LogSoftmax.gradient at {dtype} inputs scaled by 1e5",
        hint="the gradient is out_grad - softmax(z) * sum(out_grad) row-wise, with a "
        "stable softmax such as exp(logsoftmax(z))",
    )
