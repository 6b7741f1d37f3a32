"""The kit's proof that the reference's ``compute_gradient_of_variables``
(through ``Tensor.backward``) gives the gradients that the reverse_ad suites'
answer key holds: each graph of the public and hidden suites, on the same
inputs and out_grads as the suites draw (salt 0), against closed forms
written in NumPy (the engine's contract), float64 central differences
(composite graphs, and second-order gradients through every differentiable
op, with the op's forward written in NumPy), or closed second derivatives.
The case tables' output shapes are checked against the NumPy forwards too
(the suites give them, so that no forward runs before the engine).

The suites themselves hold no expected value: they hand over the ``.grad``
that backward() left and the grader compares it with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.drive import out_grad
from grader.box.inputs import POSITIVE_WIDE, integers, normal, random_tensor, rng
from tests.numpy_checks import TOL, assert_close, central_differences, check_gradient, op_node, owned
from tests.numpy_reference import (
    np_broadcast_to, np_logsoftmax, np_logsumexp_over, np_power_scalar, np_relu, np_reshape, np_summation, np_swap,
)
from tests_hidden import test_reverse_ad as hidden
from tests_public import test_reverse_ad as public


def const(array):
    return ndl.Tensor(array, requires_grad=False)


def public_tensor(shape, seed, dtype="float64", kind="normal"):
    return random_tensor(shape, seed, dtype, kind)


def hidden_tensor(shape, seed, dtype="float64", kind="normal"):
    return random_tensor(shape, seed, dtype, kind, positive=POSITIVE_WIDE)


# --------------------------------------------------------------------------
# The engine's contract: each suite's graph against closed forms.  A case
# builds the suite's graph on the suite's inputs and returns
# [(what, got, expected)].
# --------------------------------------------------------------------------

def p_sum_of_partial_adjoints():
    x, y = public_tensor((3,), 0), public_tensor((3,), 1)
    ((x * y + x) * x).backward()
    xv, yv = x.numpy(), y.numpy()
    return [("x.grad", x.grad, 2 * xv * yv + 2 * xv), ("y.grad", y.grad, xv * xv)]


def p_intermediate_nodes():
    x = public_tensor((2, 3), 0)
    u = x * 3.0
    v = u * u
    w = v + u
    w.backward()
    uv = 3.0 * x.numpy()
    return [("w.grad", w.grad, np.ones((2, 3))), ("v.grad", v.grad, np.ones((2, 3))),
            ("u.grad", u.grad, 2 * uv + 1), ("x.grad", x.grad, 3 * (2 * uv + 1))]


def p_default_out_grad(dtype):
    x = ndl.Tensor(integers(-5, 6, (2, 3), seed=0).astype(dtype))
    y = x * 2 + 1
    y.backward()
    return [("y.grad", y.grad, np.ones((2, 3), dtype=dtype)), ("x.grad", x.grad, np.full((2, 3), 2, dtype=dtype))]


def p_explicit_out_grad():
    x = public_tensor((2, 3), 0)
    w = rng(1).standard_normal((2, 3))
    y = x * x
    y.backward(const(w))
    return [("y.grad", y.grad, w), ("x.grad", x.grad, 2 * x.numpy() * w)]


def p_second_backward_same_graph():
    x = public_tensor((3,), 0)
    y = x * x + x
    y.backward()
    y.backward()
    return [("x.grad", x.grad, 2 * x.numpy() + 1)]


def p_backward_of_another_graph():
    x = public_tensor((3,), 0)
    (x * 3.0).backward()
    (x * 5.0 + x).backward()
    return [("x.grad", x.grad, np.full(3, 6.0))]


def p_constant_input():
    x = public_tensor((3,), 0)
    c = const(rng(1).standard_normal(3))
    (x * c + c).backward()
    return [("x.grad", x.grad, c.numpy())]


def p_float32_graph():
    x, y = public_tensor((2, 3), 0, dtype="float32"), public_tensor((2, 3), 1, dtype="float32")
    ((x * y + x * 0.5) * y + 2.0).backward()
    xv, yv = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    return [("x.grad", x.grad, (yv * yv + 0.5 * yv).astype(np.float32)),
            ("y.grad", y.grad, (2 * xv * yv + 0.5 * xv).astype(np.float32))]


def p_int64_course_case():
    x2, x3 = ndl.Tensor(integers(-9, 10, (1,), seed=0)), ndl.Tensor(integers(-9, 10, (1,), seed=1))
    v2, v3 = x2.numpy(), x3.numpy()
    y = x2 * x2 + x2 * x3
    y.backward()
    got = [("y", y, v2 * v2 + v2 * v3), ("dy/dx2", x2.grad, 2 * v2 + v3), ("dy/dx3", x3.grad, v2)]
    x2.grad.backward()
    return got + [("d(dy/dx2)/dx2", x2.grad, 2 * np.ones_like(v2)), ("d(dy/dx2)/dx3", x3.grad, np.ones_like(v3))]


def p_0d_second_order():
    x2, x3 = public_tensor((), 0), public_tensor((), 1)
    v2, v3 = x2.numpy(), x3.numpy()
    (x2 * x2 + (x2 * x3) * (-1)).backward()
    got = [("dy/dx2", x2.grad, 2 * v2 - v3), ("dy/dx3", x3.grad, -v2)]
    x2.grad.backward()
    return got + [("d(dy/dx2)/dx2", x2.grad, np.array(2.0)), ("d(dy/dx2)/dx3", x3.grad, np.array(-1.0))]


def p_long_chain():
    x = public_tensor((3,), 0)
    y = x
    for i in range(10_000):
        y = y + 1 if i % 2 else y * 1.0001
    y.backward()
    return [("x.grad", x.grad, np.full(3, 1.0001) ** 5000)]


def h_sum_of_adjoints():
    x, y = hidden_tensor((2, 3), 20), hidden_tensor((2, 3), 21)
    (x * x * y + (x + y) * x * 3.0).backward()
    xv, yv = x.numpy(), y.numpy()
    return [("x.grad", x.grad, 2 * xv * yv + 6 * xv + 3 * yv), ("y.grad", y.grad, xv * xv + 3 * xv)]


def h_intermediate_nodes():
    x, y = hidden_tensor((3, 2), 22), hidden_tensor((3, 2), 23)
    u = x * y
    v = u + x
    p = v * u
    w = p * 2.0
    w.backward()
    xv, yv = x.numpy(), y.numpy()
    uv = xv * yv
    vv = uv + xv
    return [("w.grad", w.grad, np.ones((3, 2))), ("p.grad", p.grad, np.full((3, 2), 2.0)),
            ("v.grad", v.grad, 2 * uv), ("u.grad", u.grad, 2 * (uv + vv)),
            ("x.grad", x.grad, 2 * uv + 2 * (uv + vv) * yv), ("y.grad", y.grad, 2 * (uv + vv) * xv)]


def h_default_out_grad(dtype):
    x = ndl.Tensor(rng(24).integers(-3, 3, (3, 1, 2)).astype(dtype))
    y = x * x + x * 3
    y.backward()
    xv = x.numpy()
    return [("y.grad", y.grad, np.ones((3, 1, 2), dtype=dtype)), ("x.grad", x.grad, (2 * xv + 3).astype(dtype))]


def h_explicit_out_grad_broadcasting():
    x, b = hidden_tensor((3, 1), 24), hidden_tensor((3, 4), 25)
    w = rng(26).standard_normal((3, 4))
    y = x * b + x
    y.backward(const(w))
    return [("y.grad", y.grad, w), ("x.grad", x.grad, np.sum(w * (b.numpy() + 1), axis=1, keepdims=True)),
            ("b.grad", b.grad, w * x.numpy())]


def h_repeated_backward():
    x = hidden_tensor((4,), 27)
    u = x * x
    y = u * 2.0 + x
    for _ in range(3):
        y.backward()
    return [("y.grad", y.grad, np.ones(4)), ("u.grad", u.grad, np.full(4, 2.0)), ("x.grad", x.grad, 4 * x.numpy() + 1)]


def h_new_out_grad():
    x = hidden_tensor((2, 3), 28)
    y = x * x
    y.backward(const(rng(29).standard_normal((2, 3))))
    w2 = rng(30).standard_normal((2, 3))
    y.backward(const(w2))
    return [("x.grad", x.grad, 2 * x.numpy() * w2)]


def h_another_graph_shared_nodes():
    x = hidden_tensor((3,), 31)
    u = x * 3.0
    a = u * u
    b = u + x
    a.backward()
    b.backward()
    return [("u.grad", u.grad, np.ones(3)), ("x.grad", x.grad, np.full(3, 4.0))]


def h_constant_inputs():
    x = hidden_tensor((2, 2), 32)
    c = const(rng(33).standard_normal((2, 2)))
    ((x * c + c * c) * x).backward()
    xv, cv = x.numpy(), c.numpy()
    return [("x.grad", x.grad, 2 * xv * cv + cv * cv)]


def h_float32_numpy_scalars():
    x, y = hidden_tensor((2, 3), 34, dtype="float32"), hidden_tensor((2, 3), 35, dtype="float32")
    z = (x * np.float64(0.3) + y) * y + np.float64(1.25)
    z.backward()
    xv, yv = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    return [("z", z, ((0.3 * xv + yv) * yv + 1.25).astype(np.float32)),
            ("x.grad", x.grad, (0.3 * yv).astype(np.float32)),
            ("y.grad", y.grad, (0.3 * xv + 2 * yv).astype(np.float32))]


def h_float32_out_grad():
    x, b = hidden_tensor((3, 2), 36, dtype="float32"), hidden_tensor((2,), 37, dtype="float32")
    y = x * b + b * 2.0
    w = out_grad((3, 2), 38, "float32")
    y.backward(w)
    w64 = w.numpy().astype(np.float64)
    return [("x.grad", x.grad, (w64 * b.numpy().astype(np.float64)).astype(np.float32)),
            ("b.grad", b.grad, np.sum(w64 * (x.numpy().astype(np.float64) + 2.0), axis=0).astype(np.float32))]


def h_int64_second_order():
    x = ndl.Tensor(rng(39).integers(-4, 5, (3,)))
    (x * x * x + x * 4).backward()
    xv = x.numpy()
    got = [("dy/dx", x.grad, 3 * xv * xv + 4)]
    x.grad.backward()
    return got + [("d(dy/dx)/dx", x.grad, 6 * xv)]


def h_0d_mixed_second_order():
    x2, x3 = hidden_tensor((), 40), hidden_tensor((), 41)
    v2, v3 = x2.numpy(), x3.numpy()
    (x2 * x2 * x3 + x3 * x3 * 2.0).backward()
    got = [("dy/dx2", x2.grad, 2 * v2 * v3), ("dy/dx3", x3.grad, v2 * v2 + 4 * v3)]
    x3.grad.backward()
    return got + [("d(dy/dx3)/dx2", x2.grad, 2 * v2), ("d(dy/dx3)/dx3", x3.grad, np.array(4.0))]


def h_deep_chain_shared_factor():
    x, c = hidden_tensor((3,), 39), hidden_tensor((3,), 40, kind="near-one")
    y, values = x, []
    for i in range(6000):
        values.append(y.numpy() if i % 2 == 0 else None)
        y = y * c if i % 2 == 0 else y + 0.5
    y.backward()
    cv = c.numpy()
    grad_y, grad_c = np.ones(3), np.zeros(3)
    for value in reversed(values):  # the reverse pass, in NumPy
        if value is not None:
            grad_c += grad_y * value
            grad_y = grad_y * cv
    return [("x.grad", x.grad, grad_y), ("c.grad", c.grad, grad_c)]


CONTRACT_CASES = [
    pytest.param(p_sum_of_partial_adjoints, id="public-sum-of-partial-adjoints"),
    pytest.param(p_intermediate_nodes, id="public-intermediate-nodes"),
    *[pytest.param(lambda d=d: p_default_out_grad(d), id=f"public-default-out-grad-{d}")
      for d in ("float64", "float32", "int64")],
    pytest.param(p_explicit_out_grad, id="public-explicit-out-grad"),
    pytest.param(p_second_backward_same_graph, id="public-second-backward"),
    pytest.param(p_backward_of_another_graph, id="public-another-graph"),
    pytest.param(p_constant_input, id="public-constant-input"),
    pytest.param(p_float32_graph, id="public-float32"),
    pytest.param(p_int64_course_case, id="public-int64-course-case"),
    pytest.param(p_0d_second_order, id="public-0d-second-order"),
    pytest.param(p_long_chain, id="public-long-chain"),
    pytest.param(h_sum_of_adjoints, id="hidden-sum-of-adjoints"),
    pytest.param(h_intermediate_nodes, id="hidden-intermediate-nodes"),
    *[pytest.param(lambda d=d: h_default_out_grad(d), id=f"hidden-default-out-grad-{d}")
      for d in ("float64", "float32", "int64")],
    pytest.param(h_explicit_out_grad_broadcasting, id="hidden-explicit-out-grad-broadcasting"),
    pytest.param(h_repeated_backward, id="hidden-repeated-backward"),
    pytest.param(h_new_out_grad, id="hidden-new-out-grad"),
    pytest.param(h_another_graph_shared_nodes, id="hidden-another-graph-shared-nodes"),
    pytest.param(h_constant_inputs, id="hidden-constant-inputs"),
    pytest.param(h_float32_numpy_scalars, id="hidden-float32-numpy-scalars"),
    pytest.param(h_float32_out_grad, id="hidden-float32-out-grad"),
    pytest.param(h_int64_second_order, id="hidden-int64-second-order"),
    pytest.param(h_0d_mixed_second_order, id="hidden-0d-mixed-second-order"),
    pytest.param(h_deep_chain_shared_factor, id="hidden-deep-chain-shared-factor"),
]


@pytest.mark.parametrize("case", CONTRACT_CASES)
def test_reference_engine_contract_matches_closed_forms(case):
    for what, got, want in case():
        assert_close(got, want, what=what)


# --------------------------------------------------------------------------
# Composite graphs of the given ops: central differences
# --------------------------------------------------------------------------

# suite -> (its case table, its out_grad's seeds (float64 run, float32 run))
COMPOSITE_SUITES = {
    "public": (public.COMPOSITE_CASES, (0, 9)),
    "hidden": (hidden.COMPOSITE_CASES, (5, 59)),
}


def composite_inputs(suite, shapes, dtype):
    """The suite's inputs for a composite case."""
    if suite == "public":
        return [public_tensor(shape, seed, dtype=dtype) for seed, shape in enumerate(shapes)]
    if dtype == "float64":
        return [hidden_tensor(shape, 41 + i) for i, shape in enumerate(shapes)]
    return [ndl.Tensor(normal(shape, 51 + i, dtype="float32"), dtype="float32") for i, shape in enumerate(shapes)]


COMPOSITE_CASES = [
    pytest.param(suite, *param.values, id=f"{suite}-{param.id}")
    for suite, (cases, *_) in COMPOSITE_SUITES.items() for param in cases
]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("suite, f, shapes", COMPOSITE_CASES)
def test_reference_composite_gradients_match_central_differences(suite, f, shapes, dtype):
    """backward(w) on the suite's graph, inputs and w, against float64
    central differences at the same (float32-rounded) inputs; float32
    graphs give float32 gradients."""
    seed = COMPOSITE_SUITES[suite][1][dtype == "float32"]
    inputs = composite_inputs(suite, shapes, dtype)
    out = f(*inputs)
    w = out_grad(out.shape, seed, dtype)
    out.backward(w)
    arrays = [x.numpy().astype(np.float64) for x in inputs]
    value_of = lambda: f(*[ndl.Tensor(a) for a in arrays]).numpy()  # noqa: E731
    expected = central_differences(value_of, arrays, w.numpy().astype(np.float64))
    for i, (x, want) in enumerate(zip(inputs, expected)):
        assert x.grad.dtype == dtype, (i, x.grad.dtype)
        assert_close(x.grad.numpy().astype(np.float64), want,
                     tol=TOL["gradient"] if dtype == "float64" else TOL["float32"],
                     what=f"{dtype} gradient of input {i}")


# --------------------------------------------------------------------------
# Second-order gradients through every differentiable op: central differences
# --------------------------------------------------------------------------

def numpy_forward(op):
    """The op's forward in NumPy, from its (normalised) parameters."""
    name = type(op).__name__
    forwards = {
        "EWiseAdd": lambda: np.add,
        "AddScalar": lambda: (lambda a: a + op.scalar),
        "EWiseMul": lambda: np.multiply,
        "MulScalar": lambda: (lambda a: a * op.scalar),
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


# suite -> (its case table, its tensor maker, its first input seed, its seeds of u and of w (plus the index))
SECOND_ORDER_SUITES = {
    "public": (public.SECOND_ORDER_CASES, public_tensor, 0, (100, 200)),
    "hidden": (hidden.SECOND_ORDER_CASES, hidden_tensor, 60, (70, 80)),
}
SECOND_ORDER_CASES = [
    pytest.param(suite, *param.values, id=f"{suite}-{param.id}")
    for suite, (cases, *_) in SECOND_ORDER_SUITES.items() for param in cases
]


def first_gradient(op, forward, index, seed):
    """xs -> input ``index``'s gradient of sum(u * y * y), y = op(*xs) with
    its data from the NumPy ``forward`` (as the suites' first_gradient, whose
    node's forward the reference computes)."""
    def fn(*xs):
        y = op_node(op, list(xs), forward)
        (y * y).backward(out_grad(y.shape, seed, y.dtype))
        return xs[index].grad
    return fn


@pytest.mark.parametrize("suite, op, out_shape, specs", SECOND_ORDER_CASES)
def test_reference_second_order_gradients_match_central_differences(suite, op, out_shape, specs):
    """The suite's first gradients (of sum(u * y * y)) and the gradients of
    each of them (backward(w)), on its inputs, u and w, against central
    differences; the case's output shape must be the forward's."""
    _, make, first_seed, (u_seed, w_seed) = SECOND_ORDER_SUITES[suite]
    inputs = [make(shape, first_seed + i, kind=kind) for i, (kind, shape) in enumerate(specs)]
    forward = numpy_forward(op)
    assert forward(*[x.numpy() for x in inputs]).shape == out_shape, "the case table's output shape is not the op's"
    for index in range(len(inputs)):
        check_gradient(lambda *xs: (lambda y: y * y)(op_node(op, list(xs), forward)), *inputs, seed=u_seed + index)
        check_gradient(first_gradient(op, forward, index, seed=u_seed + index), *inputs, seed=w_seed + index)


# --------------------------------------------------------------------------
# x.grad.backward(): closed first and second derivatives
# --------------------------------------------------------------------------

def derivatives(op):
    """(f', f'') of a unary op, in NumPy."""
    name = type(op).__name__
    if name == "Log":
        return (lambda x: 1 / x), (lambda x: -1 / x ** 2)
    if name == "Exp":
        return np.exp, np.exp
    s = op.scalar
    return (lambda x: s * x ** (s - 1)), (lambda x: s * (s - 1) * x ** (s - 2))


UNARY_CASES = [
    pytest.param(suite, param.values[0], id=f"{suite}-{param.id}")
    for suite, module in (("public", public), ("hidden", hidden)) for param in module.UNARY_SECOND_DERIVATIVES
]
# suite -> (shape, x's seed and maker, w's seed)
UNARY_SUITES = {"public": ((2, 3), 0, public_tensor, 1), "hidden": ((3, 2), 90, hidden_tensor, 91)}


@pytest.mark.parametrize("suite, op", UNARY_CASES)
def test_reference_backward_of_grad_gives_the_second_derivative(suite, op):
    shape, seed, make, w_seed = UNARY_SUITES[suite]
    x = make(shape, seed, kind="positive")
    w = rng(w_seed).uniform(1.0, 2.0, shape)
    first, second = derivatives(op)
    op_node(op, [x], numpy_forward(op)).backward()
    assert_close(x.grad, first(x.numpy()), what="x.grad after y.backward()")
    x.grad.backward(const(w))
    assert_close(x.grad, w * second(x.numpy()), what="x.grad after x.grad.backward(w)")
