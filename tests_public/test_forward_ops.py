"""Question "forward ops": every TODO op's ``compute``.

Only forward passes are exercised: no test here asks for a gradient, a
topological sort or ``backward()``.  Each test builds seeded inputs, calls
the op and hands its result over with ``check``: it is compared with the
reference's result for the same inputs (shape, dtype and values; a float32
input must give a float32 result).  Shapes follow the course's cases
(the course's published tests; contracts in docs/API.md section 3) plus cases
the course leaves out (negative and
tuple axes, 0-d tensors, size-1 batch dims, stability, dtype discipline).
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.forward_ops import float32_tensors, op_cases
from grader.box.inputs import away_from_zero, axes_id, integers, normal, positive, shape_id
from grader.box.record import check

ELEMENTWISE_SHAPE = {"shape": "an elementwise op: the result has the input's shape, 0-d and 1-D included"}


# --------------------------------------------------------------------------
# Transpose, Reshape, BroadcastTo, Summation
# --------------------------------------------------------------------------

TRANSPOSE_CASES = [
    ((2, 3, 4, 5), None),
    ((3, 4), None),
    ((3, 4, 5), (1, 2)),
    ((2, 3, 4, 5), (2, 3)),
    ((3, 4, 5), (0, 1)),
    ((3, 4, 5), (0, 2)),
    ((3, 4, 5), (-3, -1)),
    ((2, 3, 4, 5), (1, -1)),
]


@pytest.mark.behaviour("Transpose")
@pytest.mark.parametrize(
    "shape, axes", TRANSPOSE_CASES,
    ids=[f"{shape_id(s)}-{axes_id(a)}" for s, a in TRANSPOSE_CASES],
)
def test_transpose_forward_swaps_two_axes(shape, axes):
    a = normal(shape)
    check(
        ndl.transpose(ndl.Tensor(a), axes), what=f"transpose of {shape} with axes={axes}",
        hint="Transpose swaps exactly two axes (the last two when axes is None); "
        "it is not numpy.transpose's full permutation",
    )


RESHAPE_CASES = [
    ((5, 4), (4, 5)),
    ((5, 4), (5, 4, 1)),
    ((5, 4), (2, 2, 5)),
    ((5, 4), (20,)),
    ((3, 2, 4), (2, 3, 4)),
    ((5, 4), (-1,)),
    ((5, 4), (2, -1, 5)),
    ((1,), ()),
    ((), (1, 1)),
    ((1, 1, 1), ()),
]


def new_shape_ids(cases):
    return [f"{shape_id(s)}-to-{shape_id(n)}" for s, n in cases]


def check_new_shape(name, op, shape, new_shape, hint):
    """``op(a, new_shape)`` for normal data ``a`` of ``shape``, handed over."""
    a = normal(shape)
    check(op(ndl.Tensor(a), new_shape), what=f"{name} {shape} -> {new_shape}", hint=hint)


@pytest.mark.behaviour("Reshape")
@pytest.mark.parametrize("shape, new_shape", RESHAPE_CASES, ids=new_shape_ids(RESHAPE_CASES))
def test_reshape_forward(shape, new_shape):
    check_new_shape("reshape", ndl.reshape, shape, new_shape,
                    hint="-1 infers one dimension; () is the shape of a 0-d tensor")


BROADCAST_CASES = [
    ((3, 1), (3, 3)),
    ((1, 3), (3, 3)),
    ((1,), (3, 3, 3)),
    ((), (3, 3, 3)),
    ((5, 4, 1), (5, 4, 3)),
    ((), (1, 3, 6)),
    ((4, 4, 1), (4, 4, 6)),
    ((3,), (2, 4, 3)),
    ((2, 3), (2, 3)),
]


@pytest.mark.behaviour("BroadcastTo")
@pytest.mark.parametrize("shape, new_shape", BROADCAST_CASES, ids=new_shape_ids(BROADCAST_CASES))
def test_broadcast_to_forward(shape, new_shape):
    check_new_shape("broadcast_to", ndl.broadcast_to, shape, new_shape,
                    hint="a 0-d input broadcasts to any shape; new axes are prepended")


SUMMATION_CASES = [
    ((3, 4, 2), None),
    ((3, 4), 1),
    ((3, 4), 0),
    ((3, 4, 2), -1),
    ((3, 4, 2), (1,)),
    ((3, 4, 2), (0, 2)),
    ((3, 4, 2), (-1, -3)),
    ((5, 4, 1), (0, 1)),
    ((3, 4, 2), (0, 1, 2)),
    ((7,), (0,)),
    ((7,), -1),
    ((), None),
]


@pytest.mark.behaviour("Summation")
@pytest.mark.parametrize(
    "shape, axes", SUMMATION_CASES,
    ids=[f"{shape_id(s)}-{axes_id(a)}" for s, a in SUMMATION_CASES],
)
def test_summation_forward(shape, axes):
    a = normal(shape)
    check(
        ndl.summation(ndl.Tensor(a), axes), what=f"summation of {shape} over axes={axes}",
        hint="axes is None (sum everything, giving a 0-d tensor), an int, or a "
        "tuple; negative axes count from the end; summed axes are removed",
    )


# --------------------------------------------------------------------------
# MatMul
# --------------------------------------------------------------------------

MATMUL_CASES = [
    ((3, 3), (3, 3)),
    ((3, 2), (2, 3)),
    ((6, 3, 2), (6, 2, 3)),
    ((3, 2), (3, 2, 3)),
    ((3, 3, 2), (2, 3)),
    ((5, 4), (6, 6, 4, 3)),
    ((2, 4), (7, 4, 2)),
    ((3, 2, 1), (3, 3, 1, 2)),
    ((1, 3, 4), (5, 4, 2)),
    ((2, 1, 3, 4), (1, 5, 4, 2)),
    ((1, 5), (5, 1)),
]


@pytest.mark.behaviour("MatMul")
@pytest.mark.parametrize(
    "shape_a, shape_b", MATMUL_CASES,
    ids=[f"{shape_id(a)}@{shape_id(b)}" for a, b in MATMUL_CASES],
)
def test_matmul_forward(shape_a, shape_b):
    a, b = normal(shape_a, seed=1), normal(shape_b, seed=2)
    check(
        ndl.matmul(ndl.Tensor(a), ndl.Tensor(b)), what=f"matmul {shape_a} @ {shape_b}",
        hint="batch dimensions broadcast as in NumPy, including size-1 batch dims",
    )


# --------------------------------------------------------------------------
# Elementwise ops
# --------------------------------------------------------------------------

POWER_EXPONENTS = [2, 3, -1, 0.5, -1.5, 0, 1]


@pytest.mark.behaviour("PowerScalar")
@pytest.mark.parametrize("exponent", POWER_EXPONENTS, ids=[f"s={s}" for s in POWER_EXPONENTS])
def test_power_scalar_forward_positive_inputs(exponent):
    a = positive((3, 4))
    check(
        ndl.power_scalar(ndl.Tensor(a), exponent), what=f"power_scalar(a, {exponent})",
        hint="the exponent is any real number, not only an integer",
    )


@pytest.mark.behaviour("PowerScalar")
def test_power_scalar_forward_odd_integer_power_of_negatives():
    a = normal((3, 4))
    check(ndl.power_scalar(ndl.Tensor(a), 3), what="power_scalar(a, 3) with negative a")


@pytest.mark.behaviour("PowerScalar")
@pytest.mark.parametrize("shape", [(6,), (2, 3, 4), ()], ids=shape_id)
def test_power_scalar_forward_on_any_rank(shape):
    a = positive(shape, seed=3)
    check(ndl.power_scalar(ndl.Tensor(a), 1.5), what=f"power_scalar(a, 1.5) of {shape}",
          hint=ELEMENTWISE_SHAPE)


# (id, a function of no argument making the base and the exponent)
EWISE_POW_CASES = [
    ("same-shape", lambda: (positive((2, 3), seed=1), normal((2, 3), seed=2))),
    ("broadcast-1x3-by-3", lambda: (positive((1, 3), seed=3), normal((3,), seed=4))),
    ("int-tensors", lambda: (integers(1, 5, (1, 3), seed=5), integers(0, 3, (1, 3), seed=6))),
    ("3d-base-by-1d-exponent", lambda: (positive((2, 3, 4), seed=7), normal((4,), seed=8))),
    ("0d-base-by-2x3", lambda: (positive((), seed=9), normal((2, 3), seed=10))),
    ("1d-base-by-0d", lambda: (positive((5,), seed=11), normal((), seed=12))),
]


@pytest.mark.behaviour("EWisePow")
@pytest.mark.parametrize("make", [c[1] for c in EWISE_POW_CASES], ids=[c[0] for c in EWISE_POW_CASES])
def test_power_forward(make):
    a, b = make()
    check(
        ndl.power(ndl.Tensor(a), ndl.Tensor(b)), what=f"power of {a.shape} ({a.dtype}) by {b.shape} ({b.dtype})",
        hint={"value": "compute with NumPy broadcasting", "shape": "compute with NumPy broadcasting",
              "dtype": "keep the dtype NumPy's broadcasting gives"},
    )


# (id, the numerator's shape, the divisor's shape)
DIVIDE_CASES = [
    ("same-shape", (3, 4), (3, 4)),
    ("1d", (5,), (5,)),
    ("3d", (2, 3, 4), (2, 3, 4)),
    ("0d", (), ()),
    ("divisor-broadcast-3x4-by-4", (3, 4), (4,)),
    ("numerator-broadcast-3x1-by-3x4", (3, 1), (3, 4)),
    ("0d-divisor", (2, 3), ()),
]


@pytest.mark.behaviour("EWiseDiv")
@pytest.mark.parametrize("shape_a, shape_b", [c[1:] for c in DIVIDE_CASES], ids=[c[0] for c in DIVIDE_CASES])
def test_divide_forward(shape_a, shape_b):
    a, b = normal(shape_a, seed=1), away_from_zero(shape_b, seed=2)
    check(ndl.divide(ndl.Tensor(a), ndl.Tensor(b)), what=f"divide {shape_a} by {shape_b}",
          hint="elementwise a / b with NumPy broadcasting")


DIVIDE_SCALARS = [
    ("python-float", 3.7),
    ("negative", -0.5),
    ("python-int", 4),
    ("shape-1-ndarray", np.array([2.5])),
]


@pytest.mark.behaviour("DivScalar")
@pytest.mark.parametrize("scalar", [c[1] for c in DIVIDE_SCALARS], ids=[c[0] for c in DIVIDE_SCALARS])
def test_divide_scalar_forward(scalar):
    a = normal((3, 4))
    check(
        ndl.divide_scalar(ndl.Tensor(a), scalar), what=f"divide_scalar(a, {scalar!r})",
        hint="the course passes np.random.randn(1) as the scalar: a shape-(1,) "
        "array stands for one number and must not change the result's shape",
    )


@pytest.mark.behaviour("DivScalar")
@pytest.mark.parametrize("shape", [(6,), (2, 3, 4), ()], ids=shape_id)
def test_divide_scalar_forward_on_any_rank(shape):
    a = normal(shape, seed=4)
    check(ndl.divide_scalar(ndl.Tensor(a), 2.5), what=f"divide_scalar(a, 2.5) of {shape}",
          hint=ELEMENTWISE_SHAPE)


@pytest.mark.behaviour("Negate")
@pytest.mark.parametrize("shape", [(3, 4), (5,), (2, 3, 4), ()], ids=shape_id)
def test_negate_forward(shape):
    a = normal(shape)
    check(ndl.negate(ndl.Tensor(a)), what=f"negate of {shape}")


@pytest.mark.behaviour("Log")
@pytest.mark.parametrize("shape", [(3, 4), (5,), (2, 3, 4), ()], ids=shape_id)
def test_log_forward(shape):
    a = positive(shape, low=0.1, high=10.0)
    check(ndl.log(ndl.Tensor(a)), what=f"log of {shape}")


@pytest.mark.behaviour("Exp")
@pytest.mark.parametrize("shape", [(3, 4), (5,), (2, 3, 4), ()], ids=shape_id)
def test_exp_forward(shape):
    a = normal(shape)
    check(ndl.exp(ndl.Tensor(a)), what=f"exp of {shape}")


@pytest.mark.behaviour("ReLU")
def test_relu_forward_with_exact_zeros():
    a = normal((4, 5))
    a[0, :] = 0.0
    a[:, 1] = -0.0
    check(ndl.relu(ndl.Tensor(a)), what="relu(a) with zeros in a",
          hint="relu(a) = max(a, 0): negatives become 0, zeros stay 0")


@pytest.mark.behaviour("ReLU")
@pytest.mark.parametrize("shape", [(7,), (2, 3, 4), ()], ids=shape_id)
def test_relu_forward_on_any_rank(shape):
    a = normal(shape, seed=5)
    check(ndl.relu(ndl.Tensor(a)), what=f"relu of {shape}",
          hint=ELEMENTWISE_SHAPE)


# --------------------------------------------------------------------------
# LogSumExp and LogSoftmax
# --------------------------------------------------------------------------

LOGSUMEXP_CASES = [
    ((3, 3, 3), (1, 2)),
    ((3, 3, 3), None),
    ((1, 2, 3, 4), (0, 2)),
    ((3, 10), (1,)),
    ((3, 10), 1),
    ((3, 10), -1),
    ((3, 4), 0),
    ((2, 3, 4), (0, -1)),
    ((1, 2, 2, 2, 2), (0, 1, 3)),
    ((6,), 0),
    ((6,), None),
    ((), None),
]


@pytest.mark.behaviour("LogSumExp")
@pytest.mark.parametrize(
    "shape, axes", LOGSUMEXP_CASES,
    ids=[f"{shape_id(s)}-{axes_id(a)}" for s, a in LOGSUMEXP_CASES],
)
def test_logsumexp_forward(shape, axes):
    z = normal(shape) * 3
    check(
        ndl.logsumexp(ndl.Tensor(z), axes), what=f"logsumexp of {shape} over axes={axes}",
        hint="axes follow Summation's conventions (None, int, tuple, negative); "
        "the reduced axes are removed and axes=None gives a 0-d tensor",
    )


# The course-published input (the course's published test: hw2's logsumexp tests).
COURSE_LOGSUMEXP_INPUT = ((1e10, 1e9, 1e8, -10.0), (1e-10, 1e9, 1e8, -10.0))


@pytest.mark.behaviour("LogSumExp")
def test_logsumexp_forward_course_stability_values():
    # The course's input, each column scaled by a seeded factor in [0.5, 2):
    # the same magnitudes (1e10 next to 1e-10, equal pairs of 1e9, 1e8 and -10).
    z = np.array(COURSE_LOGSUMEXP_INPUT) * positive((1, 4), seed=9)
    check(
        ndl.logsumexp(ndl.Tensor(z), axes=(0,)), what="logsumexp of the course's 1e10 example over axes (0,)",
        hint="subtract the max before exp (and add it back after log), or exp overflows",
    )


# (id, a function of no argument making the input, axes)
LOGSUMEXP_STABILITY_CASES = [
    ("all-equal-large", lambda: np.full((3, 4), 1000.0) * positive((), seed=5), 1),
    ("all-equal-very-negative", lambda: np.full((3, 4), -1000.0) * positive((), seed=6), (0, 1)),
    ("float32-scaled-1e5", lambda: (normal((4, 6), seed=7) * 1e5).astype(np.float32), 1),
    ("float32-scaled-1e5-axes-None", lambda: (normal((4, 6), seed=8) * 1e5).astype(np.float32), None),
]


@pytest.mark.behaviour("LogSumExp")
@pytest.mark.parametrize(
    "make, axes", [c[1:] for c in LOGSUMEXP_STABILITY_CASES], ids=[c[0] for c in LOGSUMEXP_STABILITY_CASES]
)
def test_logsumexp_forward_is_stable(make, axes):
    z = make()
    check(
        ndl.logsumexp(ndl.Tensor(z), axes),
        what=f"logsumexp of large-magnitude {z.dtype} inputs over axes={axes}",
        hint="subtract the max before exp (and add it back after log), or exp overflows to inf",
    )


@pytest.mark.behaviour("LogSumExp")
def test_logsumexp_forward_of_an_all_minus_inf_slice_is_minus_inf():
    z = normal((3, 4), seed=10)
    z[1, :] = float("-inf")  # an input, not a formula
    check(ndl.logsumexp(ndl.Tensor(z), 1), what="logsumexp over axis 1 with a row of all -inf",
          hint="a slice that is all -inf gives -inf, not nan: where the max is not finite, shift by 0")


@pytest.mark.behaviour("LogSoftmax")
@pytest.mark.parametrize("shape", [(3, 5), (1, 7), (4, 1), (6,), (2, 3, 4)], ids=shape_id)
def test_logsoftmax_forward(shape):
    z = normal(shape) * 3
    check(ndl.logsoftmax(ndl.Tensor(z)), what=f"logsoftmax of {shape}",
          hint="logsoftmax(z) = z - logsumexp(z) over the last axis (axis 1 of 2-D inputs), "
          "keeping the input's shape")


@pytest.mark.behaviour("LogSoftmax")
def test_logsoftmax_forward_float32_scaled_1e5_is_finite_and_stable():
    z = normal((5, 3), seed=3).astype(np.float32) * np.float32(1e5)
    check(ndl.logsoftmax(ndl.Tensor(z)), what="logsoftmax of float32 inputs scaled by 1e5",
          hint="subtract each row's max before exp, or exp overflows to inf")


# --------------------------------------------------------------------------
# dtype discipline: float32 in, float32 out, for every TODO op
# --------------------------------------------------------------------------

# (id, needle function, input makers)
X = lambda: normal((3, 4), seed=11)  # noqa: E731
P = lambda: positive((3, 4), seed=12)  # noqa: E731
D = lambda: away_from_zero((3, 4), seed=13)  # noqa: E731
Q = lambda: normal((4, 2), seed=14)  # noqa: E731

DTYPE_CASES = [
    ("power_scalar-int", lambda a: ndl.power_scalar(a, 2), [P]),
    ("power_scalar-half", lambda a: ndl.power_scalar(a, 0.5), [P]),
    ("power_scalar-np.float64", lambda a: ndl.power_scalar(a, np.float64(-1.5)), [P]),
    ("power", ndl.power, [P, X]),
    ("divide", ndl.divide, [X, D]),
    ("divide_scalar-float", lambda a: ndl.divide_scalar(a, 3.0), [X]),
    ("divide_scalar-np.float64", lambda a: ndl.divide_scalar(a, np.float64(3.0)), [X]),
    ("divide_scalar-ndarray", lambda a: ndl.divide_scalar(a, np.array([3.0])), [X]),
    ("transpose", ndl.transpose, [X]),
    ("reshape", lambda a: ndl.reshape(a, (2, 6)), [X]),
    ("broadcast_to", lambda a: ndl.broadcast_to(a, (2, 3, 4)), [X]),
    ("summation-None", ndl.summation, [X]),
    ("summation-axis", lambda a: ndl.summation(a, 1), [X]),
    ("matmul", ndl.matmul, [X, Q]),
    ("negate", ndl.negate, [X]),
    ("log", ndl.log, [P]),
    ("exp", ndl.exp, [X]),
    ("relu", ndl.relu, [X]),
    ("logsoftmax", ndl.logsoftmax, [X]),
    ("logsumexp-None", ndl.logsumexp, [X]),
    ("logsumexp-axis", lambda a: ndl.logsumexp(a, (1,)), [X]),
]


@pytest.mark.parametrize("name, op, makers", op_cases(DTYPE_CASES))
def test_float32_inputs_give_float32_outputs(name, op, makers):
    check(op(*float32_tensors(makers)), what=f"{name} of float32 inputs")
