"""The kit's proof that the reference's forwards (question "forward ops")
are right: each op's ``compute`` against its NumPy formula, on the cases of
the public and the hidden suites (their case tables, imported), plus the
course's published logsumexp values and float32 in, float32 out.

The suites themselves hold no expected value: they hand over what the op
returned and the grader compares it with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
import tests_hidden.test_forward_ops as hidden
import tests_public.test_forward_ops as public
from grader.box.inputs import (
    EXTREME_ROWS, away_from_zero, extreme, integers, normal, positive,
)
from tests.numpy_checks import assert_close
from tests.numpy_reference import np_logsoftmax, np_logsumexp


def both(name):
    """The cases of table ``name`` of the public and the hidden suite, with ids."""
    cases = [("public", c) for c in getattr(public, name)] + [("hidden", c) for c in getattr(hidden, name)]
    return [pytest.param(*c, id=f"{suite}-{i}") for i, (suite, c) in enumerate(cases)]


def swap(axes):
    i, j = (-1, -2) if axes is None else axes
    return lambda a: np.swapaxes(a, i, j)


# --------------------------------------------------------------------------
# Shapes and reductions
# --------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axes", both("TRANSPOSE_CASES"))
def test_transpose(shape, axes):
    a = normal(shape, seed=1)
    assert_close(ndl.transpose(ndl.Tensor(a), axes), swap(axes)(a), what=f"transpose {shape} axes={axes}")


@pytest.mark.parametrize("shape, new_shape", both("RESHAPE_CASES"))
def test_reshape(shape, new_shape):
    a = normal(shape, seed=2)
    assert_close(ndl.reshape(ndl.Tensor(a), new_shape), np.reshape(a, new_shape), what=f"reshape {shape}")


@pytest.mark.parametrize("shape, new_shape", both("BROADCAST_CASES"))
def test_broadcast_to(shape, new_shape):
    a = normal(shape, seed=3)
    assert_close(ndl.broadcast_to(ndl.Tensor(a), new_shape), np.broadcast_to(a, new_shape),
                 what=f"broadcast_to {shape} -> {new_shape}")


@pytest.mark.parametrize("shape, axes", both("SUMMATION_CASES"))
def test_summation(shape, axes):
    a = normal(shape, seed=4)
    assert_close(ndl.summation(ndl.Tensor(a), axes), np.asarray(np.sum(a, axis=axes)),
                 what=f"summation {shape} axes={axes}")


@pytest.mark.parametrize("shape_a, shape_b", both("MATMUL_CASES"))
def test_matmul(shape_a, shape_b):
    a, b = normal(shape_a, seed=5), normal(shape_b, seed=6)
    assert_close(ndl.matmul(ndl.Tensor(a), ndl.Tensor(b)), a @ b, what=f"matmul {shape_a} @ {shape_b}")


# --------------------------------------------------------------------------
# Elementwise ops
# --------------------------------------------------------------------------

@pytest.mark.parametrize("exponent", public.POWER_EXPONENTS + hidden.POWER_EXPONENTS)
@pytest.mark.parametrize("low, high", [(0.5, 2.0), (0.4, 2.5)], ids=["positive", "positive-wide"])
def test_power_scalar_of_positive_inputs(exponent, low, high):
    a = positive((3, 4), seed=7, low=low, high=high)
    assert_close(ndl.power_scalar(ndl.Tensor(a), exponent), np.power(a, exponent),
                 what=f"power_scalar(a, {exponent})")


@pytest.mark.parametrize("exponent", [2, 3, 5])
def test_power_scalar_integer_powers_of_negatives(exponent):
    a = normal((3, 5), seed=8)
    assert_close(ndl.power_scalar(ndl.Tensor(a), exponent), np.power(a, exponent),
                 what=f"power_scalar(a, {exponent})")


@pytest.mark.parametrize("make", [pytest.param(c[1], id=c[0]) for c in public.EWISE_POW_CASES] + [
    pytest.param(lambda sa=sa, sb=sb: (positive(sa, seed=9), normal(sb, seed=10)), id=name)
    for name, sa, sb in hidden.EWISE_POW_CASES
])
def test_power(make):
    a, b = make()
    assert_close(ndl.power(ndl.Tensor(a), ndl.Tensor(b)), np.power(a, b), what=f"power {a.shape} by {b.shape}")


def test_power_of_integer_tensors_keeps_integers():
    a, b = integers(1, 5, (2, 3), seed=11), integers(0, 3, (2, 3), seed=12)
    assert_close(ndl.power(ndl.Tensor(a), ndl.Tensor(b)), np.power(a, b), what="power of int64 tensors")


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (3, 4))] + [c[1:] for c in hidden.DIVIDE_CASES])
def test_divide(shape_a, shape_b):
    a, b = normal(shape_a, seed=13), away_from_zero(shape_b, seed=14)
    assert_close(ndl.divide(ndl.Tensor(a), ndl.Tensor(b)), a / b, what=f"divide {shape_a} by {shape_b}")


@pytest.mark.parametrize("scalar", [pytest.param(c[1], id=f"public-{c[0]}") for c in public.DIVIDE_SCALARS]
                         + [pytest.param(c[1], id=f"hidden-{c[0]}") for c in hidden.DIVIDE_SCALARS])
def test_divide_scalar(scalar):
    a = normal((2, 3, 2), seed=15)
    assert_close(ndl.divide_scalar(ndl.Tensor(a), scalar), a / np.asarray(scalar).item(),
                 what=f"divide_scalar(a, {scalar!r})")


ELEMENTWISE = [
    ("negate", ndl.negate, np.negative, lambda shape: normal(shape, seed=16)),
    ("log", ndl.log, np.log, lambda shape: positive(shape, seed=17, low=0.05, high=20.0)),
    ("exp", ndl.exp, np.exp, lambda shape: normal(shape, seed=18) * 2),
    ("relu", ndl.relu, lambda a: np.maximum(a, 0.0), lambda shape: normal(shape, seed=19)),
]


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 3, 4)], ids=str)
@pytest.mark.parametrize("name, op, np_op, make", ELEMENTWISE, ids=[c[0] for c in ELEMENTWISE])
def test_elementwise(name, op, np_op, make, shape):
    a = make(shape)
    assert_close(op(ndl.Tensor(a)), np_op(a), what=f"{name} of {shape}")


def test_relu_keeps_zeros_and_negative_zeros_at_zero():
    a = normal((2, 3, 4), seed=20)
    a[0, 1, :] = 0.0
    a[1, :, 2] = -0.0
    got = ndl.relu(ndl.Tensor(a)).numpy()
    assert_close(got, np.maximum(a, 0.0), what="relu with zeros")
    assert not np.any(np.signbit(got)), "relu gave a negative zero"


# --------------------------------------------------------------------------
# LogSumExp and LogSoftmax
# --------------------------------------------------------------------------

@pytest.mark.parametrize("shape, axes", both("LOGSUMEXP_CASES"))
def test_logsumexp(shape, axes):
    z = normal(shape, seed=21) * 4
    assert_close(ndl.logsumexp(ndl.Tensor(z), axes), np_logsumexp(z, axes), what=f"logsumexp {shape} axes={axes}")


def test_logsumexp_course_published_values():
    # the course's published test (hw2's logsumexp tests): the course's input and result.
    z = np.array(public.COURSE_LOGSUMEXP_INPUT)
    assert_close(ndl.logsumexp(ndl.Tensor(z), axes=(0,)), np.array([1e10, 1e9, 1.00000001e8, -9.30685282]),
                 what="logsumexp of the course's example")


def test_logsumexp_of_the_scaled_course_input():
    # The public test's input: each column scaled by a factor in [0.5, 2).
    c = positive((1, 4), seed=9)
    z = np.array(public.COURSE_LOGSUMEXP_INPUT) * c
    assert_close(ndl.logsumexp(ndl.Tensor(z), axes=(0,)), np_logsumexp(z, 0), what="scaled course input")


STABLE = ([pytest.param(make, axes, id=f"public-{name}") for name, make, axes in public.LOGSUMEXP_STABILITY_CASES]
          + [pytest.param(lambda d=d, k=k: extreme(k, (4, 5), seed=22, dtype=d), axes, id=f"hidden-{d}-{k}-{axes}")
             for d, k, axes in hidden.LSE_STABILITY_CASES])


@pytest.mark.parametrize("make, axes", STABLE)
def test_logsumexp_is_stable(make, axes):
    z = make()
    got = ndl.logsumexp(ndl.Tensor(z), axes).numpy()
    assert np.all(np.isfinite(got))
    assert_close(got, np_logsumexp(z.astype(np.float64), axes).astype(z.dtype), what=f"logsumexp {z.dtype}")


@pytest.mark.parametrize("shape", [(3, 5), (1, 7), (4, 1), (4, 6), (2, 9), (1, 3), (5, 1)], ids=str)
def test_logsoftmax(shape):
    z = normal(shape, seed=23) * 3
    assert_close(ndl.logsoftmax(ndl.Tensor(z)), np_logsoftmax(z), what=f"logsoftmax {shape}")


@pytest.mark.parametrize("make", [
    pytest.param(lambda: normal((5, 3), seed=3).astype(np.float32) * np.float32(1e5), id="float32-scaled-1e5"),
] + [pytest.param(lambda d=d, k=k: extreme(k, (4, 5), seed=24, dtype=d), id=f"{d}-{k}") for d, k in EXTREME_ROWS])
def test_logsoftmax_is_stable(make):
    z = make()
    got = ndl.logsoftmax(ndl.Tensor(z)).numpy()
    assert np.all(np.isfinite(got))
    assert_close(got, np_logsoftmax(z.astype(np.float64)).astype(z.dtype), what=f"logsoftmax {z.dtype}")


# --------------------------------------------------------------------------
# float32 in, float32 out: every case of both suites, with its NumPy formula
# --------------------------------------------------------------------------

NP_FORWARD = {
    "power_scalar-int": lambda a: a ** 2,
    "power_scalar-half": lambda a: a ** 0.5,
    "power_scalar-np.float64": lambda a: a ** -1.5,
    "power_scalar-np.float64-2.5": lambda a: a ** 2.5,
    "power_scalar-np.int64-3": lambda a: a ** 3,
    "power_scalar-negative-float": lambda a: a ** -0.75,
    "power": np.power,
    "power-broadcast": np.power,
    "divide": np.divide,
    "divide-broadcast": np.divide,
    "divide_scalar-float": lambda a: a / 3.0,
    "divide_scalar-np.float64": {"public": lambda a: a / 3.0, "hidden": lambda a: a / -1.75},
    "divide_scalar-ndarray": lambda a: a / 3.0,
    "divide_scalar-shape-1-ndarray": lambda a: a / 0.8,
    "divide_scalar-int": lambda a: a / 3,
    "transpose": swap(None),
    "transpose-axes": swap((0, 2)),
    "reshape": {"public": lambda a: a.reshape(2, 6), "hidden": lambda a: a.reshape(3, 2, 2)},
    "broadcast_to": lambda a: np.broadcast_to(a, (2, 3, 4)),
    "broadcast_to-prepended": lambda a: np.broadcast_to(a, (2, 4, 3)),
    "summation-None": lambda a: np.asarray(np.sum(a)),
    "summation-axis": lambda a: np.sum(a, axis=1),
    "summation-negative-int": lambda a: np.sum(a, axis=-1),
    "summation-tuple": lambda a: np.sum(a, axis=(0, 2)),
    "matmul": np.matmul,
    "matmul-batched": np.matmul,
    "negate": np.negative,
    "log": np.log,
    "exp": np.exp,
    "relu": lambda a: np.maximum(a, 0),
    "logsoftmax": np_logsoftmax,
    "logsumexp-None": lambda a: np_logsumexp(a, None),
    "logsumexp-axis": lambda a: np_logsumexp(a, (1,)),
    "logsumexp-int-axis": lambda a: np_logsumexp(a, 0),
}

FLOAT32 = ([pytest.param("public", *c, id=f"public-{c[0]}") for c in public.DTYPE_CASES]
           + [pytest.param("hidden", *c, id=f"hidden-{c[0]}") for c in hidden.FLOAT32_CASES])


@pytest.mark.parametrize("suite, name, op, makers", FLOAT32)
def test_float32_inputs_give_float32_outputs(suite, name, op, makers):
    arrays = [make().astype(np.float32) for make in makers]
    np_op = NP_FORWARD[name]
    np_op = np_op[suite] if isinstance(np_op, dict) else np_op
    expected = np.asarray(np_op(*[a.astype(np.float64) for a in arrays])).astype(np.float32)
    assert_close(op(*[ndl.Tensor(a, dtype="float32") for a in arrays]), expected, what=f"{name} of float32")
