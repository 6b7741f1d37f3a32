"""Hidden tests, question "forward ops": every TODO op's ``compute`` on new
inputs, shapes and seeds.

Only forward passes run here (no gradient, no topological sort, no
``backward()``), so that the untouched handout fails each test with this
question's TODO.  Each test hands the op's result over with ``check``; the
grader compares it with the reference's result for the same inputs.
"""
from functools import partial

import numpy as np
import pytest

import needle as ndl
from grader.box import inputs
from grader.box.forward_ops import float32_tensors, op_cases
from grader.box.inputs import (
    EXTREME_ROWS, POSITIVE_WIDE, away_from_zero, axes_id, extreme, extreme_ids, normal, shape_id,
)
from grader.box.record import check


# Other inputs than the public tests': positive data over a wider range.
positive = partial(inputs.positive, low=POSITIVE_WIDE[0], high=POSITIVE_WIDE[1])


def new_shape_ids(cases):
    return [f"{shape_id(s)}-to-{shape_id(n)}" for s, n in cases]


def check_new_shape(name, op, shape, new_shape, seed):
    """``op(a, new_shape)`` for normal data ``a`` of ``shape``, handed over."""
    a = normal(shape, seed=seed)
    check(op(ndl.Tensor(a), new_shape), what=f"{name} {shape} -> {new_shape}")


# --------------------------------------------------------------------------
# Transpose, Reshape, BroadcastTo, Summation
# --------------------------------------------------------------------------

TRANSPOSE_CASES = [
    ((2, 3, 4), None),
    ((4, 4, 4), None),
    ((2, 3, 4, 5), None),
    ((5, 2), None),
    ((2, 3, 4, 5), (0, 3)),
    ((2, 3, 4), (2, 0)),
    ((2, 3, 4, 5), (-1, -3)),
    ((3, 2, 5), (1, 2)),
]


@pytest.mark.behaviour("Transpose")
@pytest.mark.parametrize(
    "shape, axes", TRANSPOSE_CASES, ids=[f"{shape_id(s)}-{axes_id(a)}" for s, a in TRANSPOSE_CASES]
)
def test_transpose_forward_on_new_shapes_and_axes(shape, axes):
    """Transpose with default, reversed-order and negative axes on 2-D to 4-D inputs."""
    a = normal(shape, seed=21)
    check(ndl.transpose(ndl.Tensor(a), axes), what=f"transpose of {shape} with axes={axes}",
          hint="Transpose swaps exactly two axes (the last two when axes is None)")


RESHAPE_CASES = [
    ((2, 3, 4), (4, 6)),
    ((24,), (2, 3, 4)),
    ((2, 3, 4), (-1, 4)),
    ((3, 4), (4, -1)),
    ((6,), (1, 2, 3, 1)),
    ((), (1, 1, 1)),
    ((1, 1), ()),
    ((2, 1, 3), (3, 2)),
]


@pytest.mark.behaviour("Reshape")
@pytest.mark.parametrize("shape, new_shape", RESHAPE_CASES, ids=new_shape_ids(RESHAPE_CASES))
def test_reshape_forward_on_new_shapes(shape, new_shape):
    """Reshape, including -1 and 0-d shapes."""
    check_new_shape("reshape", ndl.reshape, shape, new_shape, seed=22)


BROADCAST_CASES = [
    ((), (4,)),
    ((), (2, 3, 1)),
    ((1,), (2, 3)),
    ((3,), (4, 2, 3)),
    ((2, 1, 3), (4, 2, 5, 3)),
    ((1, 1), (3, 4)),
    ((4, 1, 1), (4, 2, 3)),
    ((2, 1), (2, 1)),
]


@pytest.mark.behaviour("BroadcastTo")
@pytest.mark.parametrize("shape, new_shape", BROADCAST_CASES, ids=new_shape_ids(BROADCAST_CASES))
def test_broadcast_to_forward_on_new_shapes(shape, new_shape):
    """BroadcastTo from 0-d inputs, with prepended axes and with size-1 axes."""
    check_new_shape("broadcast_to", ndl.broadcast_to, shape, new_shape, seed=23)


SUMMATION_CASES = [
    ((4, 3, 2), None),
    ((), None),
    ((4, 3, 2), 0),
    ((4, 3, 2), 2),
    ((4, 3, 2), -2),
    ((4, 3, 2), (0, 2)),
    ((4, 3, 2), (2, 0)),
    ((4, 3, 2), (-1, -2)),
    ((2, 1, 3), (1,)),
    ((5,), 0),
    ((5,), -1),
]


@pytest.mark.behaviour("Summation")
@pytest.mark.parametrize(
    "shape, axes", SUMMATION_CASES, ids=[f"{shape_id(s)}-{axes_id(a)}" for s, a in SUMMATION_CASES]
)
def test_summation_forward_on_new_shapes_and_axes(shape, axes):
    """Summation over None, int, negative int and (unsorted, negative) tuple axes."""
    a = normal(shape, seed=24)
    check(ndl.summation(ndl.Tensor(a), axes), what=f"summation of {shape} over axes={axes}")


# --------------------------------------------------------------------------
# MatMul
# --------------------------------------------------------------------------

MATMUL_CASES = [
    ((3, 5), (5, 2)),
    ((1, 3, 4), (5, 4, 2)),
    ((2, 1, 3, 4), (1, 5, 4, 2)),
    ((4, 3), (2, 5, 3, 6)),
    ((2, 4), (7, 4, 2)),
    ((3, 1, 2, 5), (4, 5, 3)),
    ((1, 1, 2, 3), (3, 4)),
    ((5, 1, 4, 3), (5, 3, 2)),
    ((2, 3, 1), (1, 4)),
]


@pytest.mark.behaviour("MatMul")
@pytest.mark.parametrize(
    "shape_a, shape_b", MATMUL_CASES, ids=[f"{shape_id(a)}@{shape_id(b)}" for a, b in MATMUL_CASES]
)
def test_matmul_forward_with_broadcast_batches(shape_a, shape_b):
    """MatMul with mixed ranks and size-1 batch dimensions."""
    a, b = normal(shape_a, seed=25), normal(shape_b, seed=26)
    check(ndl.matmul(ndl.Tensor(a), ndl.Tensor(b)), what=f"matmul {shape_a} @ {shape_b}")


# --------------------------------------------------------------------------
# Elementwise ops
# --------------------------------------------------------------------------

POWER_EXPONENTS = [2.5, -2, 4, -0.5, 1 / 3, 0, 1, 1.5, -3]


@pytest.mark.behaviour("PowerScalar")
@pytest.mark.parametrize("exponent", POWER_EXPONENTS, ids=[f"s={s:.4g}" for s in POWER_EXPONENTS])
def test_power_scalar_forward_with_various_exponents(exponent):
    """PowerScalar with integer, fractional and negative exponents."""
    a = positive((4, 3), seed=27)
    check(ndl.power_scalar(ndl.Tensor(a), exponent), what=f"power_scalar(a, {exponent})")


@pytest.mark.behaviour("PowerScalar")
@pytest.mark.parametrize("exponent", [2, 5], ids=["s=2", "s=5"])
def test_power_scalar_forward_integer_power_of_negative_inputs(exponent):
    """PowerScalar with an integer exponent on negative inputs."""
    a = normal((3, 5), seed=28)
    check(ndl.power_scalar(ndl.Tensor(a), exponent), what=f"power_scalar(a, {exponent}) with negative a")


@pytest.mark.behaviour("PowerScalar")
@pytest.mark.parametrize("shape", [(5,), (3, 2, 2), ()], ids=shape_id)
def test_power_scalar_forward_on_any_rank(shape):
    """PowerScalar on 1-D, 3-D and 0-d inputs."""
    a = positive(shape, seed=50)
    check(ndl.power_scalar(ndl.Tensor(a), -0.5), what=f"power_scalar(a, -0.5) of {shape}")


EWISE_POW_CASES = [
    ("2x1x3-by-4x3", (2, 1, 3), (4, 3)),
    ("3x4-by-4", (3, 4), (4,)),
    ("1x3-by-2x1", (1, 3), (2, 1)),
    ("2x3-by-0d", (2, 3), ()),
    ("5-by-5", (5,), (5,)),
    ("0d-by-3x2", (), (3, 2)),
    ("2x2x3-by-2x2x3", (2, 2, 3), (2, 2, 3)),
]


@pytest.mark.behaviour("EWisePow")
@pytest.mark.parametrize("shape_a, shape_b", [c[1:] for c in EWISE_POW_CASES], ids=[c[0] for c in EWISE_POW_CASES])
def test_power_forward_broadcasts(shape_a, shape_b):
    """EWisePow with NumPy broadcasting between base and exponent."""
    a, b = positive(shape_a, seed=29), normal(shape_b, seed=30)
    check(ndl.power(ndl.Tensor(a), ndl.Tensor(b)), what=f"power of {shape_a} by {shape_b}")


DIVIDE_CASES = [
    ("same-shape", (2, 5), (2, 5)),
    ("divisor-broadcast", (3, 4), (4,)),
    ("numerator-broadcast", (2, 1), (2, 3)),
    ("1d", (6,), (6,)),
    ("0d", (), ()),
    ("3d-numerator-broadcast-3x1-by-2x3x4", (3, 1), (2, 3, 4)),
    ("0d-divisor", (3, 2), ()),
]


@pytest.mark.behaviour("EWiseDiv")
@pytest.mark.parametrize("shape_a, shape_b", [c[1:] for c in DIVIDE_CASES], ids=[c[0] for c in DIVIDE_CASES])
def test_divide_forward(shape_a, shape_b):
    """EWiseDiv, with and without broadcasting."""
    a, b = normal(shape_a, seed=31), away_from_zero(shape_b, seed=32)
    check(ndl.divide(ndl.Tensor(a), ndl.Tensor(b)), what=f"divide {shape_a} by {shape_b}")


DIVIDE_SCALARS = [
    ("numpy-float64", np.float64(-2.5)),
    ("python-int", 7),
    ("python-float", 0.3),
    ("shape-1-ndarray", np.array([1.6])),
    ("numpy-float32", np.float32(4.0)),
]


@pytest.mark.behaviour("DivScalar")
@pytest.mark.parametrize("scalar", [c[1] for c in DIVIDE_SCALARS], ids=[c[0] for c in DIVIDE_SCALARS])
def test_divide_scalar_forward_with_scalar_kinds(scalar):
    """DivScalar with Python, NumPy and shape-(1,) array scalars."""
    a = normal((2, 3, 2), seed=33)
    check(ndl.divide_scalar(ndl.Tensor(a), scalar), what=f"divide_scalar(a, {scalar!r})",
          hint="a shape-(1,) array stands for one number and must not change the result's shape")


@pytest.mark.behaviour("DivScalar")
@pytest.mark.parametrize("shape", [(7,), (4, 3), ()], ids=shape_id)
def test_divide_scalar_forward_on_any_rank(shape):
    """DivScalar on 1-D, 2-D and 0-d inputs."""
    a = normal(shape, seed=51)
    check(ndl.divide_scalar(ndl.Tensor(a), -1.25), what=f"divide_scalar(a, -1.25) of {shape}")


@pytest.mark.behaviour("Negate")
@pytest.mark.parametrize("shape", [(), (6,), (2, 3, 4)], ids=shape_id)
def test_negate_forward(shape):
    """Negate, including a 0-d input."""
    a = normal(shape, seed=34)
    check(ndl.negate(ndl.Tensor(a)), what=f"negate of {shape}")


@pytest.mark.behaviour("Log")
@pytest.mark.parametrize("shape", [(), (2, 3, 4), (5,)], ids=shape_id)
def test_log_forward(shape):
    """Log on positive inputs of several ranks."""
    a = positive(shape, seed=35, low=0.05, high=20.0)
    check(ndl.log(ndl.Tensor(a)), what=f"log of {shape}")


@pytest.mark.behaviour("Exp")
@pytest.mark.parametrize("shape", [(), (2, 3, 4), (5,)], ids=shape_id)
def test_exp_forward(shape):
    """Exp on inputs of several ranks."""
    a = normal(shape, seed=36) * 2
    check(ndl.exp(ndl.Tensor(a)), what=f"exp of {shape}")


@pytest.mark.behaviour("ReLU")
def test_relu_forward_with_zeros_and_negative_zeros():
    """ReLU on a 3-D input holding exact zeros and negative zeros."""
    a = normal((2, 3, 4), seed=37)
    a[0, 1, :] = 0.0
    a[1, :, 2] = -0.0
    check(ndl.relu(ndl.Tensor(a)), what="relu(a) with zeros in a")


@pytest.mark.behaviour("ReLU")
@pytest.mark.parametrize("shape", [(8,), (5, 2), ()], ids=shape_id)
def test_relu_forward_on_any_rank(shape):
    """ReLU on 1-D, 2-D and 0-d inputs."""
    a = normal(shape, seed=52)
    check(ndl.relu(ndl.Tensor(a)), what=f"relu of {shape}")


# --------------------------------------------------------------------------
# LogSumExp and LogSoftmax
# --------------------------------------------------------------------------

LOGSUMEXP_CASES = [
    ((4, 5), None),
    ((4, 5), 0),
    ((2, 3, 4), 1),
    ((2, 3, 4), -2),
    ((2, 3, 4), (0, 2)),
    ((2, 3, 4), (-1, -3)),
    ((3, 1, 4), (1,)),
    ((6,), 0),
    ((6,), None),
    ((2, 2, 3), (0, 1, 2)),
    ((), None),
]


@pytest.mark.behaviour("LogSumExp")
@pytest.mark.parametrize(
    "shape, axes", LOGSUMEXP_CASES, ids=[f"{shape_id(s)}-{axes_id(a)}" for s, a in LOGSUMEXP_CASES]
)
def test_logsumexp_forward_on_new_shapes_and_axes(shape, axes):
    """LogSumExp over None, int, negative and tuple axes."""
    z = normal(shape, seed=38) * 4
    check(ndl.logsumexp(ndl.Tensor(z), axes), what=f"logsumexp of {shape} over axes={axes}")


LSE_STABILITY_CASES = [
    ("float64", "scale:1e4", 1),
    ("float64", "scale:1e6", None),
    ("float64", "offset:1e4", 1),
    ("float64", "offset:1e6", (0, 1)),
    ("float64", "offset:-1e6", 0),
    ("float64", "rows-pm:1e4", 1),
    ("float32", "scale:1e4", 1),
    ("float32", "scale:1e6", -1),
    ("float32", "scale:1e6", None),
    ("float32", "rows-pm:1e4", 1),
]


@pytest.mark.behaviour("LogSumExp")
@pytest.mark.parametrize("dtype, kind, axes", LSE_STABILITY_CASES, ids=extreme_ids(LSE_STABILITY_CASES))
def test_logsumexp_forward_is_stable_at_extreme_values(dtype, kind, axes):
    """LogSumExp of huge positive and negative inputs stays finite and exact."""
    z = extreme(kind, (4, 5), seed=39, dtype=dtype)
    check(ndl.logsumexp(ndl.Tensor(z), axes), what=f"logsumexp of {dtype} {kind} inputs over axes={axes}",
          hint="subtract the max before exp and add it back after log")


@pytest.mark.behaviour("LogSumExp")
def test_logsumexp_forward_of_an_all_minus_inf_slice_is_minus_inf():
    """LogSumExp over a column of all -inf gives -inf there, not nan."""
    z = normal((4, 5), seed=53)
    z[:, 2] = float("-inf")  # an input, not a formula
    check(ndl.logsumexp(ndl.Tensor(z), 0), what="logsumexp over axis 0 with a column of all -inf",
          hint="a slice that is all -inf gives -inf, not nan")


@pytest.mark.behaviour("LogSoftmax")
@pytest.mark.parametrize("shape", [(4, 6), (2, 9), (1, 3), (5, 1), (7,), (3, 2, 5)], ids=shape_id)
def test_logsoftmax_forward_on_new_shapes(shape):
    """LogSoftmax over the last axis of 1-D, 2-D and 3-D inputs."""
    z = normal(shape, seed=40) * 3
    check(ndl.logsoftmax(ndl.Tensor(z)), what=f"logsoftmax of {shape}")


@pytest.mark.behaviour("LogSoftmax")
@pytest.mark.parametrize("dtype, kind", EXTREME_ROWS, ids=extreme_ids(EXTREME_ROWS))
def test_logsoftmax_forward_is_stable_at_extreme_values(dtype, kind):
    """LogSoftmax of huge positive and negative inputs stays finite and exact."""
    z = extreme(kind, (4, 5), seed=41, dtype=dtype)
    check(ndl.logsoftmax(ndl.Tensor(z)), what=f"logsoftmax of {dtype} {kind} inputs",
          hint="subtract each row's max before exp")


# --------------------------------------------------------------------------
# dtype discipline: float32 in, float32 out
# --------------------------------------------------------------------------

X = lambda: normal((4, 3), seed=42)  # noqa: E731
P = lambda: positive((4, 3), seed=43)  # noqa: E731
D = lambda: away_from_zero((4, 3), seed=44)  # noqa: E731
Q = lambda: normal((2, 3, 5), seed=45)  # noqa: E731
R = lambda: normal((3,), seed=46)  # noqa: E731

FLOAT32_CASES = [
    ("power_scalar-np.float64-2.5", lambda a: ndl.power_scalar(a, np.float64(2.5)), [P]),
    ("power_scalar-np.int64-3", lambda a: ndl.power_scalar(a, np.int64(3)), [X]),
    ("power_scalar-negative-float", lambda a: ndl.power_scalar(a, -0.75), [P]),
    ("power-broadcast", ndl.power, [P, R]),
    ("divide-broadcast", ndl.divide, [X, lambda: away_from_zero((3,), seed=47)]),
    ("divide_scalar-np.float64", lambda a: ndl.divide_scalar(a, np.float64(-1.75)), [X]),
    ("divide_scalar-shape-1-ndarray", lambda a: ndl.divide_scalar(a, np.array([0.8])), [X]),
    ("divide_scalar-int", lambda a: ndl.divide_scalar(a, 3), [X]),
    ("transpose-axes", lambda a: ndl.transpose(a, (0, 2)), [Q]),
    ("reshape", lambda a: ndl.reshape(a, (3, 2, 2)), [X]),
    ("broadcast_to-prepended", lambda a: ndl.broadcast_to(a, (2, 4, 3)), [X]),
    ("summation-negative-int", lambda a: ndl.summation(a, -1), [Q]),
    ("summation-tuple", lambda a: ndl.summation(a, (0, 2)), [Q]),
    ("matmul-batched", ndl.matmul, [X, lambda: normal((2, 3, 2), seed=48)]),
    ("negate", ndl.negate, [X]),
    ("log", ndl.log, [P]),
    ("exp", ndl.exp, [X]),
    ("relu", ndl.relu, [X]),
    ("logsoftmax", ndl.logsoftmax, [X]),
    ("logsumexp-int-axis", lambda a: ndl.logsumexp(a, 0), [X]),
    ("logsumexp-None", ndl.logsumexp, [Q]),
]


@pytest.mark.parametrize("name, op, makers", op_cases(FLOAT32_CASES))
def test_float32_inputs_give_float32_outputs(name, op, makers):
    """A float32 input gives a float32 output, also with NumPy scalars."""
    check(op(*float32_tensors(makers)), what=f"{name} of float32 inputs")
