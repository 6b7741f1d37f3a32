"""Question "backward ops": every TODO op's ``gradient``.

Each test asks the op itself, through ``out.op.gradient_as_tuple`` (that is
``check_gradient(..., backward=False)``), so nothing here needs
``find_topo_sort`` or ``compute_gradient_of_variables``.  Gradients are
compared with float64 central differences, or with NumPy closed forms where
differences are undefined (ReLU at 0) or unreliable (inputs of size 1e10).
Second-order gradients need the engine and live in test_reverse_ad.py.
"""
import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import assert_close, check_gradient


def _array(kind, shape, rng):
    if kind == "normal":
        data = rng.standard_normal(shape)
    elif kind == "positive":  # safe for log, division and fractional powers
        data = rng.uniform(0.5, 2.0, shape)
    elif kind == "nonzero":  # |x| in [0.5, 2), random signs: a safe divisor, away from ReLU's kink
        data = rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)
    else:
        raise ValueError(kind)
    return np.asarray(data, dtype=np.float64)


def N(*shape):
    return ("normal", shape)


def P(*shape):
    return ("positive", shape)


def NZ(*shape):
    return ("nonzero", shape)


def make_inputs(specs, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    return [ndl.Tensor(_array(kind, shape, rng).astype(dtype)) for kind, shape in specs]


def shape_id(shape):
    return "x".join(map(str, shape)) if shape else "0d"


def case(name, f, *specs):
    return pytest.param(f, specs, id=name)


# Every case ends with the op under test, so that out.op is that op.
GRADIENT_CASES = [
    # PowerScalar: a wrong g*s*a survives s = 0 and s = 2 at a = 1 only.
    *[case(f"power_scalar-s={s}", (lambda s: lambda a: ndl.power_scalar(a, s))(s), P(3, 4))
      for s in (2, 3, -1, 0.5, -1.5, 0, 1)],
    case("power_scalar-s=3-negative-base", lambda a: ndl.power_scalar(a, 3), N(3, 4)),
    # EWisePow (the exponent's gradient needs a > 0)
    case("power-same-shape", ndl.power, P(2, 3), N(2, 3)),
    case("power-broadcast-1x3-by-3", ndl.power, P(1, 3), N(3)),
    # EWiseDiv, DivScalar
    case("divide", ndl.divide, N(3, 4), NZ(3, 4)),
    case("divide_scalar-float", lambda a: ndl.divide_scalar(a, 3.7), N(3, 4)),
    case("divide_scalar-shape-1-ndarray", lambda a: ndl.divide_scalar(a, np.array([-1.3])), N(3, 4)),
    # Transpose
    case("transpose-None-2d", lambda a: ndl.transpose(a), N(3, 4)),
    case("transpose-None-3d", lambda a: ndl.transpose(a), N(2, 3, 4)),
    case("transpose-(1,2)", lambda a: ndl.transpose(a, (1, 2)), N(3, 5, 4)),
    case("transpose-(0,1)", lambda a: ndl.transpose(a, (0, 1)), N(3, 5, 4)),
    case("transpose-(0,2)", lambda a: ndl.transpose(a, (0, 2)), N(3, 5, 4)),
    # Reshape
    case("reshape-5x4-to-4x5", lambda a: ndl.reshape(a, (4, 5)), N(5, 4)),
    case("reshape-3x2x4-to-2x3x4", lambda a: ndl.reshape(a, (2, 3, 4)), N(3, 2, 4)),
    case("reshape-minus-1", lambda a: ndl.reshape(a, (2, -1)), N(5, 4)),
    case("reshape-1-to-0d", lambda a: ndl.reshape(a, ()), N(1)),
    case("reshape-0d-to-1x1", lambda a: ndl.reshape(a, (1, 1)), N()),
    # BroadcastTo
    case("broadcast_to-3x1-to-3x3", lambda a: ndl.broadcast_to(a, (3, 3)), N(3, 1)),
    case("broadcast_to-1x3-to-3x3", lambda a: ndl.broadcast_to(a, (3, 3)), N(1, 3)),
    case("broadcast_to-1-to-3x3x3", lambda a: ndl.broadcast_to(a, (3, 3, 3)), N(1)),
    case("broadcast_to-0d-to-3x3x3", lambda a: ndl.broadcast_to(a, (3, 3, 3)), N()),
    case("broadcast_to-0d-to-1x3x6", lambda a: ndl.broadcast_to(a, (1, 3, 6)), N()),
    case("broadcast_to-5x4x1-to-5x4x3", lambda a: ndl.broadcast_to(a, (5, 4, 3)), N(5, 4, 1)),
    case("broadcast_to-prepended-3-to-2x4x3", lambda a: ndl.broadcast_to(a, (2, 4, 3)), N(3)),
    case("broadcast_to-prepended-and-size-1-2x1-to-3x2x4", lambda a: ndl.broadcast_to(a, (3, 2, 4)), N(2, 1)),
    case("broadcast_to-same-shape", lambda a: ndl.broadcast_to(a, (2, 3)), N(2, 3)),
    # Summation
    case("summation-None-2d", lambda a: ndl.summation(a), N(3, 4)),
    case("summation-None-3d", lambda a: ndl.summation(a), N(2, 3, 4)),
    case("summation-int-0", lambda a: ndl.summation(a, 0), N(3, 4)),
    case("summation-int-1", lambda a: ndl.summation(a, 1), N(3, 4, 2)),
    case("summation-negative-int", lambda a: ndl.summation(a, -1), N(3, 4, 2)),
    case("summation-negative-tuple", lambda a: ndl.summation(a, (-1, -3)), N(3, 4, 2)),
    case("summation-tuple-(1,)", lambda a: ndl.summation(a, (1,)), N(5, 4)),
    case("summation-tuple-(0,1)", lambda a: ndl.summation(a, (0, 1)), N(5, 4)),
    case("summation-5x4x1-(0,1)", lambda a: ndl.summation(a, (0, 1)), N(5, 4, 1)),
    case("summation-tuple-(0,1,2)", lambda a: ndl.summation(a, (0, 1, 2)), N(2, 3, 4)),
    case("summation-7-(0,)", lambda a: ndl.summation(a, (0,)), N(7)),
    # MatMul
    case("matmul-5x4@4x5", ndl.matmul, N(5, 4), N(4, 5)),
    case("matmul-batched-2x3x5x4@2x3x4x3", ndl.matmul, N(2, 3, 5, 4), N(2, 3, 4, 3)),
    case("matmul-2x3x5x4@4x3", ndl.matmul, N(2, 3, 5, 4), N(4, 3)),
    case("matmul-5x4@2x3x4x3", ndl.matmul, N(5, 4), N(2, 3, 4, 3)),
    case("matmul-1x5@5x1", ndl.matmul, N(1, 5), N(5, 1)),
    case("matmul-2x4@7x4x2", ndl.matmul, N(2, 4), N(7, 4, 2)),
    case("matmul-3x2x1@3x3x1x2", ndl.matmul, N(3, 2, 1), N(3, 3, 1, 2)),
    case("matmul-size-1-batch-1x3x4@5x4x2", ndl.matmul, N(1, 3, 4), N(5, 4, 2)),
    case("matmul-size-1-batch-2x1x3x4@1x5x4x2", ndl.matmul, N(2, 1, 3, 4), N(1, 5, 4, 2)),
    # Negate, Log, Exp, ReLU (away from the kink)
    case("negate", ndl.negate, N(3, 4)),
    case("log", ndl.log, P(3, 4)),
    case("exp", ndl.exp, N(3, 4)),
    case("relu", ndl.relu, NZ(3, 4)),
    # LogSumExp, LogSoftmax
    case("logsumexp-(1,2)-on-3x3x3", lambda a: ndl.logsumexp(a, (1, 2)), N(3, 3, 3)),
    case("logsumexp-None", lambda a: ndl.logsumexp(a), N(3, 4)),
    case("logsumexp-(0,2)-on-1x2x3x4", lambda a: ndl.logsumexp(a, (0, 2)), N(1, 2, 3, 4)),
    case("logsumexp-(1,)-on-3x10", lambda a: ndl.logsumexp(a, (1,)), N(3, 10)),
    case("logsumexp-int-0", lambda a: ndl.logsumexp(a, 0), N(3, 4)),
    case("logsumexp-negative-int", lambda a: ndl.logsumexp(a, -1), N(2, 3, 4)),
    case("logsumexp-(0,1,3)-on-1x2x2x2x2", lambda a: ndl.logsumexp(a, (0, 1, 3)), N(1, 2, 2, 2, 2)),
    case("logsoftmax-3x5", ndl.logsoftmax, N(3, 5)),
    case("logsoftmax-1x4", ndl.logsoftmax, N(1, 4)),
]


@pytest.mark.parametrize("f, specs", GRADIENT_CASES)
def test_gradient_matches_central_differences(f, specs):
    inputs = make_inputs(specs)
    check_gradient(
        f, *inputs,
        hint="gradient(out_grad, node) returns one partial adjoint per input, "
        "built from needle ops; sum over axes that broadcasting added",
    )


def test_logsumexp_gradient_of_all_equal_inputs_is_uniform():
    z = ndl.Tensor(np.full((3, 4), 7.0))
    check_gradient(lambda a: ndl.logsumexp(a, (1,)), z)


@pytest.mark.parametrize("f, specs", GRADIENT_CASES)
def test_float32_inputs_give_float32_gradients_of_the_input_shapes(f, specs):
    inputs = make_inputs(specs, dtype="float32")
    out = f(*inputs)
    seed = ndl.Tensor(np.ones(out.shape, dtype=np.float32), requires_grad=False)
    grads = out.op.gradient_as_tuple(seed, out)
    name = type(out.op).__name__
    assert len(grads) == len(inputs), (
        f"{name}.gradient returned {len(grads)} gradient(s) for {len(inputs)} input(s)"
    )
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


def test_relu_gradient_at_exactly_zero_is_zero():
    a = np.array([[-1.5, 0.0, 2.0, 0.0], [0.0, -0.0, 3.0, -2.0]])
    w = np.random.default_rng(0).uniform(1.0, 2.0, a.shape)
    x = ndl.Tensor(a)
    out = ndl.relu(x)
    (grad,) = out.op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), out)
    assert_close(
        grad, w * (a > 0), what="ReLU.gradient on an input containing zeros",
        hint="ReLU's derivative at exactly 0 is 0: the mask is a > 0, not a >= 0",
    )


def _softmax(z, axis):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def test_logsumexp_gradient_of_course_1e10_example_is_finite_softmax():
    # The course's stability input (needle_api.md section 2).
    z = np.array([[1e10, 1e9, 1e8, -10], [1e-10, 1e9, 1e8, -10]])
    w = np.random.default_rng(1).standard_normal(4)
    x = ndl.Tensor(z)
    out = ndl.logsumexp(x, axes=(0,))
    (grad,) = out.op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), out)
    assert_close(
        grad, w * _softmax(z, 0), what="LogSumExp.gradient at inputs of size 1e10",
        hint="the gradient is out_grad times exp(z - logsumexp(z)); computing "
        "exp(z) / sum(exp(z)) overflows",
    )


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_logsoftmax_gradient_at_inputs_scaled_1e5_is_finite(dtype):
    z = (np.random.default_rng(2).standard_normal((4, 5)) * 1e5).astype(dtype)
    w = np.random.default_rng(3).standard_normal((4, 5)).astype(dtype)
    x = ndl.Tensor(z)
    out = ndl.logsoftmax(x)
    (grad,) = out.op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), out)
    z64, w64 = z.astype(np.float64), w.astype(np.float64)
    expected = w64 - _softmax(z64, 1) * np.sum(w64, axis=1, keepdims=True)
    assert_close(
        grad, expected.astype(dtype), what=f"LogSoftmax.gradient at {dtype} inputs scaled by 1e5",
        hint="the gradient is out_grad - softmax(z) * sum(out_grad) row-wise, with a "
        "stable softmax such as exp(logsoftmax(z))",
    )
