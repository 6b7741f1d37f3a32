"""Question "backward ops": every TODO op's ``gradient``.

Each test asks the op itself, ``op.gradient_as_tuple(out_grad, node)``, for
a seeded upstream gradient ``out_grad`` of the op's output shape (given by
the case), on a lazy node (``grader.box.drive.op_gradients``): the op's own
``compute`` runs only if its gradient reads the node, and neither
``find_topo_sort`` nor ``compute_gradient_of_variables`` ever runs.  A case
is (the op, its input specs, its output's shape).  Each gradient is handed
over and compared with the reference's.  Second-order gradients need the
engine and live in test_reverse_ad.py.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.backward_ops import case, hint_for, make_inputs
from grader.box.drive import op_gradients
from grader.box.inputs import N, NZ, P, extreme
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


GRADIENT_CASES = [
    # PowerScalar: a wrong g*s*a survives s = 0 and s = 2 at a = 1 only.
    *[case(f"power_scalar-s={s}", ndl.ops.PowerScalar(s), P(3, 4)) for s in (2, 3, -1, 0.5, -1.5, 0, 1)],
    case("power_scalar-s=3-negative-base", ndl.ops.PowerScalar(3), N(3, 4)),
    case("power_scalar-s=1.5-vector", ndl.ops.PowerScalar(1.5), P(6)),
    case("power_scalar-s=1.5-3d", ndl.ops.PowerScalar(1.5), P(2, 3, 4)),
    case("power_scalar-s=3-0d", ndl.ops.PowerScalar(3), P()),
    # EWisePow (the exponent's gradient needs a > 0)
    case("power-same-shape", ndl.ops.EWisePow(), P(2, 3), N(2, 3)),
    case("power-broadcast-1x3-by-3", ndl.ops.EWisePow(), P(1, 3), N(3)),
    case("power-3d-base-by-vector-exponent", ndl.ops.EWisePow(), P(2, 3, 4), N(4)),
    case("power-0d-base-by-2x3", ndl.ops.EWisePow(), P(), N(2, 3)),
    case("power-vectors", ndl.ops.EWisePow(), P(5), N(5)),
    # EWiseDiv (each gradient summed over the axes that broadcasting added to its input), DivScalar
    case("divide", ndl.ops.EWiseDiv(), N(3, 4), NZ(3, 4)),
    case("divide-divisor-broadcast-3x4-by-4", ndl.ops.EWiseDiv(), N(3, 4), NZ(4)),
    case("divide-numerator-broadcast-3x1-by-3x4", ndl.ops.EWiseDiv(), N(3, 1), NZ(3, 4)),
    case("divide-vectors", ndl.ops.EWiseDiv(), N(5), NZ(5)),
    case("divide-3d-divisor-broadcast-2x3x4-by-3x1", ndl.ops.EWiseDiv(), N(2, 3, 4), NZ(3, 1)),
    case("divide-0d", ndl.ops.EWiseDiv(), N(), NZ()),
    case("divide-0d-divisor", ndl.ops.EWiseDiv(), N(2, 3), NZ()),
    case("divide_scalar-float", ndl.ops.DivScalar(3.7), N(3, 4)),
    case("divide_scalar-shape-1-ndarray", ndl.ops.DivScalar(np.array([-1.3])), N(3, 4)),
    case("divide_scalar-vector", ndl.ops.DivScalar(2.5), N(6)),
    case("divide_scalar-3d", ndl.ops.DivScalar(2.5), N(2, 3, 4)),
    case("divide_scalar-0d", ndl.ops.DivScalar(2.5), N()),
    # Transpose
    case("transpose-None-2d", ndl.ops.Transpose(), N(3, 4), out=(4, 3)),
    case("transpose-None-3d", ndl.ops.Transpose(), N(2, 3, 4), out=(2, 4, 3)),
    case("transpose-(1,2)", ndl.ops.Transpose((1, 2)), N(3, 5, 4), out=(3, 4, 5)),
    case("transpose-(0,1)", ndl.ops.Transpose((0, 1)), N(3, 5, 4), out=(5, 3, 4)),
    case("transpose-(0,2)", ndl.ops.Transpose((0, 2)), N(3, 5, 4), out=(4, 5, 3)),
    case("transpose-None-4d", ndl.ops.Transpose(), N(2, 3, 4, 5), out=(2, 3, 5, 4)),
    case("transpose-negative-(-3,-1)", ndl.ops.Transpose((-3, -1)), N(3, 5, 4), out=(4, 5, 3)),
    # Reshape
    case("reshape-5x4-to-4x5", ndl.ops.Reshape((4, 5)), N(5, 4), out=(4, 5)),
    case("reshape-3x2x4-to-2x3x4", ndl.ops.Reshape((2, 3, 4)), N(3, 2, 4), out=(2, 3, 4)),
    case("reshape-minus-1", ndl.ops.Reshape((2, -1)), N(5, 4), out=(2, 10)),
    case("reshape-1-to-0d", ndl.ops.Reshape(()), N(1), out=()),
    case("reshape-0d-to-1x1", ndl.ops.Reshape((1, 1)), N(), out=(1, 1)),
    # BroadcastTo
    *[case(f"broadcast_to-{name}", ndl.ops.BroadcastTo(shape), N(*in_shape), out=shape)
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
    # Summation
    *[case(f"summation-{name}", ndl.ops.Summation(axes), N(*shape), out=out)
      for name, shape, axes, out in [
          ("None-2d", (3, 4), None, ()),
          ("None-3d", (2, 3, 4), None, ()),
          ("int-0", (3, 4), 0, (4,)),
          ("int-1", (3, 4, 2), 1, (3, 2)),
          ("negative-int", (3, 4, 2), -1, (3, 4)),
          ("negative-tuple", (3, 4, 2), (-1, -3), (4,)),
          ("tuple-(1,)", (5, 4), (1,), (5,)),
          ("tuple-(0,1)", (5, 4), (0, 1), ()),
          ("5x4x1-(0,1)", (5, 4, 1), (0, 1), (1,)),
          ("tuple-(0,1,2)", (2, 3, 4), (0, 1, 2), ()),
          ("7-(0,)", (7,), (0,), ()),
          ("int-0-vector", (7,), 0, ()),
          ("None-0d", (), None, ()),
      ]],
    # MatMul
    *[case(f"matmul-{name}", ndl.ops.MatMul(), N(*sa), N(*sb), out=out)
      for name, sa, sb, out in [
          ("5x4@4x5", (5, 4), (4, 5), (5, 5)),
          ("batched-2x3x5x4@2x3x4x3", (2, 3, 5, 4), (2, 3, 4, 3), (2, 3, 5, 3)),
          ("2x3x5x4@4x3", (2, 3, 5, 4), (4, 3), (2, 3, 5, 3)),
          ("5x4@2x3x4x3", (5, 4), (2, 3, 4, 3), (2, 3, 5, 3)),
          ("1x5@5x1", (1, 5), (5, 1), (1, 1)),
          ("2x4@7x4x2", (2, 4), (7, 4, 2), (7, 2, 2)),
          ("3x2x1@3x3x1x2", (3, 2, 1), (3, 3, 1, 2), (3, 3, 2, 2)),
          ("size-1-batch-1x3x4@5x4x2", (1, 3, 4), (5, 4, 2), (5, 3, 2)),
          ("size-1-batch-2x1x3x4@1x5x4x2", (2, 1, 3, 4), (1, 5, 4, 2), (2, 5, 3, 2)),
      ]],
    # Negate, Log, Exp, ReLU (away from the kink)
    *[case(f"{name}-{label}", op, (kind, shape))
      for name, op, kind in [("negate", ndl.ops.Negate(), "normal"), ("log", ndl.ops.Log(), "positive"),
                             ("exp", ndl.ops.Exp(), "normal"), ("relu", ndl.ops.ReLU(), "nonzero")]
      for label, shape in [("2d", (3, 4)), ("vector", (5,)), ("3d", (2, 3, 4)), ("0d", ())]],
    # LogSumExp, LogSoftmax
    *[case(f"logsumexp-{name}", ndl.ops.LogSumExp(axes), N(*shape), out=out)
      for name, shape, axes, out in [
          ("(1,2)-on-3x3x3", (3, 3, 3), (1, 2), (3,)),
          ("None", (3, 4), None, ()),
          ("(0,2)-on-1x2x3x4", (1, 2, 3, 4), (0, 2), (2, 4)),
          ("(1,)-on-3x10", (3, 10), (1,), (3,)),
          ("int-0", (3, 4), 0, (4,)),
          ("negative-int", (2, 3, 4), -1, (2, 3)),
          ("(0,1,3)-on-1x2x2x2x2", (1, 2, 2, 2, 2), (0, 1, 3), (2, 2)),
          ("negative-tuple-(-1,-3)", (2, 3, 4), (-1, -3), (3,)),
          ("vector-int-0", (6,), 0, ()),
          ("vector-None", (6,), None, ()),
          ("0d-None", (), None, ()),
      ]],
    case("logsoftmax-3x5", ndl.ops.LogSoftmax(), N(3, 5)),
    case("logsoftmax-1x4", ndl.ops.LogSoftmax(), N(1, 4)),
    case("logsoftmax-vector", ndl.ops.LogSoftmax(), N(6)),
    case("logsoftmax-3d", ndl.ops.LogSoftmax(), N(2, 3, 4)),
]


@pytest.mark.parametrize("op, specs, out_shape", GRADIENT_CASES)
def test_gradient_matches_central_differences(op, specs, out_shape):
    """The op's gradient of float64 inputs."""
    check_gradients(op, make_inputs(specs, seed=0), out_shape, seed=0)


@pytest.mark.behaviour("LogSumExp")
def test_logsumexp_gradient_of_all_equal_inputs_is_uniform():
    z = ndl.Tensor(np.full((3, 4), 7.0))
    check_gradients(ndl.ops.LogSumExp((1,)), [z], (3,), seed=0, what=" where all inputs are equal")


@pytest.mark.parametrize("op, specs, out_shape", GRADIENT_CASES)
def test_float32_inputs_give_float32_gradients_of_the_input_shapes(op, specs, out_shape):
    """float32 inputs get float32 gradients of their own shapes."""
    check_gradients(op, make_inputs(specs, seed=0, dtype="float32"), out_shape, seed=1, tensors=True)


@pytest.mark.behaviour("ReLU")
def test_relu_gradient_at_exactly_zero_is_zero():
    a = np.array([[-1.5, 0.0, 2.0, 0.0], [0.0, -0.0, 3.0, -2.0]])
    check_gradients(ndl.ops.ReLU(), [ndl.Tensor(a)], a.shape, seed=0, what=" on an input containing zeros",
                    hint="ReLU's derivative at exactly 0 is 0: the mask is a > 0, not a >= 0")


@pytest.mark.behaviour("LogSumExp")
def test_logsumexp_gradient_of_course_1e10_example_is_finite_softmax():
    # The course's stability input (the course's published test: hw2's logsumexp tests; docs/API.md section 3.5).
    z = np.array([[1e10, 1e9, 1e8, -10], [1e-10, 1e9, 1e8, -10]])
    check_gradients(ndl.ops.LogSumExp((0,)), [ndl.Tensor(z)], (4,), seed=1, what=" at inputs of size 1e10",
                    hint="the gradient is out_grad times exp(z - logsumexp(z)); computing "
                    "exp(z) / sum(exp(z)) overflows")


@pytest.mark.behaviour("LogSoftmax")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsoftmax_gradient_at_inputs_scaled_1e5_is_finite(dtype):
    z = extreme("scale:1e5", (4, 5), seed=2, dtype=dtype)
    check_gradients(ndl.ops.LogSoftmax(), [ndl.Tensor(z, dtype=dtype)], (4, 5), seed=3,
                    what=" at inputs scaled by 1e5",
                    hint="the gradient is out_grad - softmax(z) * sum(out_grad) row-wise, with a "
                    "stable softmax such as exp(logsoftmax(z))")
