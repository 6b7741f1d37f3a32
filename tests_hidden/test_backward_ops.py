"""Hidden tests, question "backward ops": every TODO op's ``gradient`` on new
inputs, shapes and seeds.

Each test asks the op itself, ``op.gradient_as_tuple(out_grad, node)``, for
a seeded upstream gradient of the op's output shape (given by the case), on
a lazy node (``grader.box.drive.op_gradients``): the op's own ``compute``
runs only if its gradient reads the node, and the engine never runs, so
that the untouched handout fails each test with this question's TODO.  Each
gradient is handed over and compared with the reference's.  Second-order
gradients need the engine: they are in test_reverse_ad.py.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.backward_ops import case, hint_for, make_inputs
from grader.box.drive import op_gradients
from grader.box.inputs import EXTREME_ROWS, N, NZ, P, POSITIVE_WIDE, extreme, extreme_ids, normal
from grader.box.record import check, observe


def check_gradients(op, inputs, out_shape, seed, *, what="", hint="", tensors=False):
    """Hand over op.gradient's gradient of each input, for an upstream
    gradient of ``out_shape`` drawn with ``seed``; with ``tensors``, first
    the fact that each is a needle Tensor."""
    __tracebackhide__ = True
    name = type(op).__name__
    grads = op_gradients(op, inputs, out_shape, seed)
    for i, (grad, x) in enumerate(zip(grads, inputs)):
        label = f"{name}.gradient of {x.dtype} input {i} (shape {x.shape}){what}"
        if tensors:
            observe(isinstance(grad, ndl.Tensor), what=f"{label} is a needle Tensor",
                    hint="build gradients from needle ops on out_grad and node.inputs, not NumPy arrays")
        check(grad, what=label, hint=hint or hint_for(op))


def hidden_inputs(specs, seed, dtype="float64"):
    """Other inputs than the public tests': positive data over a wider range."""
    return make_inputs(specs, seed, dtype=dtype, positive=POSITIVE_WIDE)


GRADIENT_CASES = [
    # PowerScalar: g * s * a is right only for s = 2 (and s = 0)
    *[case(f"power_scalar-s={s:.4g}", ndl.ops.PowerScalar(s), P(4, 3))
      for s in (2.5, -2, 4, -0.5, 1 / 3, 1.5, -3, 0, 1)],
    case("power_scalar-s=4-negative-base", ndl.ops.PowerScalar(4), N(3, 4)),
    case("power_scalar-s=3-negative-base", ndl.ops.PowerScalar(3), N(2, 5)),
    case("power_scalar-np.float64-exponent", ndl.ops.PowerScalar(np.float64(2.5)), P(3, 2)),
    case("power_scalar-s=2.5-vector", ndl.ops.PowerScalar(2.5), P(5)),
    case("power_scalar-s=-0.5-3d", ndl.ops.PowerScalar(-0.5), P(2, 2, 3)),
    case("power_scalar-s=2.5-0d", ndl.ops.PowerScalar(2.5), P()),
    # EWisePow (the exponent's gradient needs a > 0)
    case("power-2x1x3-by-4x3", ndl.ops.EWisePow(), P(2, 1, 3), N(4, 3)),
    case("power-3x4-by-4", ndl.ops.EWisePow(), P(3, 4), N(4)),
    case("power-1x3-by-2x1", ndl.ops.EWisePow(), P(1, 3), N(2, 1)),
    case("power-0d-exponent", ndl.ops.EWisePow(), P(2, 3), N()),
    case("power-vectors", ndl.ops.EWisePow(), P(4), N(4)),
    case("power-0d-base", ndl.ops.EWisePow(), P(), N(3, 2)),
    case("power-3d-same-shape", ndl.ops.EWisePow(), P(2, 2, 3), N(2, 2, 3)),
    # EWiseDiv, DivScalar
    case("divide-same-shape", ndl.ops.EWiseDiv(), N(2, 5), NZ(2, 5)),
    case("divide-divisor-broadcast", ndl.ops.EWiseDiv(), N(3, 4), NZ(4)),
    case("divide-numerator-broadcast", ndl.ops.EWiseDiv(), N(2, 1), NZ(2, 3)),
    case("divide-vectors", ndl.ops.EWiseDiv(), N(6), NZ(6)),
    case("divide-0d", ndl.ops.EWiseDiv(), N(), NZ()),
    case("divide-3d-numerator-broadcast-3x1-by-2x3x4", ndl.ops.EWiseDiv(), N(3, 1), NZ(2, 3, 4)),
    case("divide-0d-divisor", ndl.ops.EWiseDiv(), N(3, 2), NZ()),
    case("divide_scalar-np.float64", ndl.ops.DivScalar(np.float64(-2.5)), N(3, 4)),
    case("divide_scalar-int", ndl.ops.DivScalar(7), N(2, 3)),
    case("divide_scalar-shape-1-ndarray", ndl.ops.DivScalar(np.array([1.6])), N(4, 2)),
    case("divide_scalar-vector", ndl.ops.DivScalar(-1.25), N(7)),
    case("divide_scalar-3d", ndl.ops.DivScalar(-1.25), N(3, 2, 2)),
    case("divide_scalar-0d", ndl.ops.DivScalar(-1.25), N()),
    # Transpose (default axes on inputs of rank 3 and more, and explicit axes)
    case("transpose-None-2d", ndl.ops.Transpose(), N(5, 2), out=(2, 5)),
    case("transpose-None-3d", ndl.ops.Transpose(), N(2, 3, 4), out=(2, 4, 3)),
    case("transpose-None-cube", ndl.ops.Transpose(), N(3, 3, 3), out=(3, 3, 3)),
    case("transpose-None-4d", ndl.ops.Transpose(), N(2, 3, 2, 3), out=(2, 3, 3, 2)),
    case("transpose-(0,3)-4d", ndl.ops.Transpose((0, 3)), N(2, 3, 4, 5), out=(5, 3, 4, 2)),
    case("transpose-(2,0)", ndl.ops.Transpose((2, 0)), N(2, 3, 4), out=(4, 3, 2)),
    case("transpose-(-1,-3)", ndl.ops.Transpose((-1, -3)), N(2, 3, 2, 4), out=(2, 4, 2, 3)),
    # Reshape
    *[case(f"reshape-{name}", ndl.ops.Reshape(shape), N(*in_shape), out=out)
      for name, in_shape, shape, out in [
          ("2x3x4-to-4x6", (2, 3, 4), (4, 6), (4, 6)),
          ("6-to-1x2x3x1", (6,), (1, 2, 3, 1), (1, 2, 3, 1)),
          ("3x4-to-4x-1", (3, 4), (4, -1), (4, 3)),
          ("0d-to-1x1x1", (), (1, 1, 1), (1, 1, 1)),
          ("1x1-to-0d", (1, 1), (), ()),
          ("2x1x3-to-3x2", (2, 1, 3), (3, 2), (3, 2)),
      ]],
    # BroadcastTo (from 0-d, prepended axes, size-1 axes, and both at once)
    *[case(f"broadcast_to-{name}", ndl.ops.BroadcastTo(shape), N(*in_shape), out=shape)
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
    # Summation (int, negative, tuple and unsorted axes)
    *[case(f"summation-{name}", ndl.ops.Summation(axes), N(*shape), out=out)
      for name, shape, axes, out in [
          ("None-3d", (4, 3, 2), None, ()),
          ("None-0d", (), None, ()),
          ("int-0", (4, 3, 2), 0, (3, 2)),
          ("int-1", (4, 3, 2), 1, (4, 2)),
          ("int-2", (4, 3, 2), 2, (4, 3)),
          ("int-1-square", (3, 3), 1, (3,)),
          ("int-0-square", (3, 3), 0, (3,)),
          ("int-0-vector", (5,), 0, ()),
          ("negative-int-1", (4, 3, 2), -1, (4, 3)),
          ("negative-int-2", (4, 3, 2), -2, (4, 2)),
          ("negative-int-3", (4, 3, 2), -3, (3, 2)),
          ("negative-int-1-square", (3, 3), -1, (3,)),
          ("tuple-(0,2)", (4, 3, 2), (0, 2), (3,)),
          ("unsorted-tuple-(2,0)", (4, 3, 2), (2, 0), (3,)),
          ("negative-tuple-(-1,-2)", (4, 3, 2), (-1, -2), (4,)),
          ("tuple-(1,)-over-size-1", (2, 1, 3), (1,), (2, 3)),
          ("tuple-(0,)-vector", (5,), (0,), ()),
      ]],
    # MatMul (mixed ranks and size-1 batch dimensions)
    *[case(f"matmul-{name}", ndl.ops.MatMul(), N(*sa), N(*sb), out=out)
      for name, sa, sb, out in [
          ("3x5@5x2", (3, 5), (5, 2), (3, 2)),
          ("size-1-batch-1x3x4@5x4x2", (1, 3, 4), (5, 4, 2), (5, 3, 2)),
          ("size-1-batches-2x1x3x4@1x5x4x2", (2, 1, 3, 4), (1, 5, 4, 2), (2, 5, 3, 2)),
          ("mixed-ranks-4x3@2x5x3x6", (4, 3), (2, 5, 3, 6), (2, 5, 4, 6)),
          ("mixed-ranks-2x4@7x4x2", (2, 4), (7, 4, 2), (7, 2, 2)),
          ("mixed-ranks-3x1x2x5@4x5x3", (3, 1, 2, 5), (4, 5, 3), (3, 4, 2, 3)),
          ("size-1-batches-1x1x2x3@3x4", (1, 1, 2, 3), (3, 4), (1, 1, 2, 4)),
          ("5x1x4x3@5x3x2", (5, 1, 4, 3), (5, 3, 2), (5, 5, 4, 2)),
          ("batched-3x2x4@3x4x2", (3, 2, 4), (3, 4, 2), (3, 2, 2)),
      ]],
    # Negate, Log, Exp, ReLU (away from the kink)
    case("negate-3d", ndl.ops.Negate(), N(2, 3, 4)),
    case("negate-0d", ndl.ops.Negate(), N()),
    case("negate-vector", ndl.ops.Negate(), N(6)),
    case("log-3d", ndl.ops.Log(), P(2, 3, 2)),
    case("log-0d", ndl.ops.Log(), P()),
    case("log-vector", ndl.ops.Log(), P(6)),
    case("exp-3d", ndl.ops.Exp(), N(2, 3, 2)),
    case("exp-vector", ndl.ops.Exp(), N(5)),
    case("exp-0d", ndl.ops.Exp(), N()),
    case("relu-3d", ndl.ops.ReLU(), NZ(2, 3, 4)),
    case("relu-vector", ndl.ops.ReLU(), NZ(7)),
    case("relu-0d", ndl.ops.ReLU(), NZ()),
    # LogSumExp, LogSoftmax
    *[case(f"logsumexp-{name}", ndl.ops.LogSumExp(axes), N(*shape), out=out)
      for name, shape, axes, out in [
          ("None-4x5", (4, 5), None, ()),
          ("int-0", (4, 5), 0, (5,)),
          ("int-1-3d", (2, 3, 4), 1, (2, 4)),
          ("negative-int", (2, 3, 4), -2, (2, 4)),
          ("tuple-(0,2)", (2, 3, 4), (0, 2), (3,)),
          ("negative-tuple-(-1,-3)", (2, 3, 4), (-1, -3), (3,)),
          ("(1,)-over-size-1", (3, 1, 4), (1,), (3, 4)),
          ("vector-int-0", (6,), 0, ()),
          ("vector-None", (6,), None, ()),
          ("all-axes", (2, 2, 3), (0, 1, 2), ()),
          ("0d-None", (), None, ()),
      ]],
    case("logsoftmax-4x6", ndl.ops.LogSoftmax(), N(4, 6)),
    case("logsoftmax-2x9", ndl.ops.LogSoftmax(), N(2, 9)),
    case("logsoftmax-1x3", ndl.ops.LogSoftmax(), N(1, 3)),
    case("logsoftmax-5x1", ndl.ops.LogSoftmax(), N(5, 1)),
    case("logsoftmax-vector", ndl.ops.LogSoftmax(), N(7)),
    case("logsoftmax-3d", ndl.ops.LogSoftmax(), N(3, 2, 5)),
]


@pytest.mark.parametrize("op, specs, out_shape", GRADIENT_CASES)
def test_gradient_matches_central_differences(op, specs, out_shape):
    """The op's gradient of float64 inputs, one partial adjoint per input."""
    check_gradients(op, hidden_inputs(specs, seed=7), out_shape, seed=3)


@pytest.mark.parametrize("op, specs, out_shape", GRADIENT_CASES)
def test_float32_inputs_give_float32_gradients(op, specs, out_shape):
    """Float32 inputs get float32 gradients of their own shapes and the right values."""
    check_gradients(op, hidden_inputs(specs, seed=8, dtype="float32"), out_shape, seed=4, tensors=True)


@pytest.mark.behaviour("ReLU")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_relu_gradient_at_exact_zeros_is_zero(dtype):
    """ReLU's gradient where the input is exactly 0 (or -0.0)."""
    a = normal((3, 2, 4), seed=9)
    a[1, 0, :] = 0.0
    a[:, 1, 3] = -0.0
    a[2, :, 0] = 0.0
    check_gradients(ndl.ops.ReLU(), [ndl.Tensor(a.astype(dtype), dtype=dtype)], a.shape, seed=10,
                    what=" on an input with zeros", hint="the derivative of max(a, 0) at exactly 0 is taken to be 0")


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
LSE_OUT_SHAPES = {None: (), (0,): (5,), (1,): (4,)}  # LogSumExp(axes)'s output shape on (4, 5) inputs


@pytest.mark.behaviour("LogSumExp")
@pytest.mark.parametrize("dtype, kind, axes", LSE_EXTREME_CASES, ids=extreme_ids(LSE_EXTREME_CASES))
def test_logsumexp_gradient_is_stable_at_extreme_values(dtype, kind, axes):
    """LogSumExp's gradient at inputs of size 1e4 to 1e6 is a finite softmax."""
    z = extreme(kind, (4, 5), seed=11, dtype=dtype)
    check_gradients(ndl.ops.LogSumExp(axes), [ndl.Tensor(z, dtype=dtype)], LSE_OUT_SHAPES[axes], seed=12,
                    what=f" at {kind} inputs",
                    hint="out_grad times exp(z - logsumexp(z)), never exp(z) / sum(exp(z))")


@pytest.mark.behaviour("LogSoftmax")
@pytest.mark.parametrize("dtype, kind", EXTREME_ROWS, ids=extreme_ids(EXTREME_ROWS))
def test_logsoftmax_gradient_is_stable_at_extreme_values(dtype, kind):
    """LogSoftmax's gradient at inputs of size 1e4 to 1e6 stays finite and right."""
    z = extreme(kind, (4, 5), seed=13, dtype=dtype)
    check_gradients(ndl.ops.LogSoftmax(), [ndl.Tensor(z, dtype=dtype)], (4, 5), seed=14, what=f" at {kind} inputs",
                    hint="use a stable softmax, such as exp(logsoftmax(z))")
