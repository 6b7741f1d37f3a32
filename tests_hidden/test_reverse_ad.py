"""Hidden tests, question "reverse-mode AD": ``compute_gradient_of_variables``
through ``Tensor.backward``, on new graphs, shapes and seeds.

Graphs are built from the given ops only (EWiseAdd, AddScalar, EWiseMul,
MulScalar: ``+`` and ``*`` with Tensors and numbers), or start from nodes of
the other ops whose data NumPy computed (``helpers.op_node``) and then call
``backward()``, so that on the untouched handout the engine's TODO is the
first one reached.  The engine's contract is checked against closed forms and
recurrences computed with NumPy; composite graphs and second-order gradients
through every differentiable op against central differences.
"""
import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import (
    TOL, assert_close, central_differences, check_gradient, first_gradient, op_case, op_node,
)
from tests_public.numpy_reference import (
    POSITIVE_WIDE, np_logsoftmax, np_logsumexp, np_power_scalar, np_relu, random_tensor,
)


def tensor(shape, seed, dtype="float64", kind="normal"):
    """Other inputs than the public tests': positive data over a wider range."""
    return random_tensor(shape, seed, dtype, kind, positive=POSITIVE_WIDE)


def const(array):
    return ndl.Tensor(array, requires_grad=False)


# --------------------------------------------------------------------------
# The engine's contract, on graphs of the given ops
# --------------------------------------------------------------------------

def test_node_used_on_several_paths_sums_its_adjoints():
    """Leaves reused on several paths of one graph get the sum of their adjoints."""
    x, y = tensor((2, 3), 20), tensor((2, 3), 21)
    z = x * x * y + (x + y) * x * 3.0
    z.backward()
    xv, yv = x.numpy(), y.numpy()
    assert_close(x.grad, 2 * xv * yv + 6 * xv + 3 * yv, what="x.grad of x*x*y + (x + y)*x*3")
    assert_close(y.grad, xv * xv + 3 * xv, what="y.grad of x*x*y + (x + y)*x*3")


def test_intermediate_nodes_get_their_own_grads():
    """Every intermediate node of the graph gets its .grad, not only the leaves."""
    x, y = tensor((3, 2), 22), tensor((3, 2), 23)
    u = x * y
    v = u + x
    p = v * u
    w = p * 2.0
    w.backward()
    xv, yv = x.numpy(), y.numpy()
    uv = xv * yv
    vv = uv + xv
    assert_close(w.grad, np.ones((3, 2)), what="w.grad (the output)")
    assert_close(p.grad, np.full((3, 2), 2.0), what="p.grad (p = v*u, w = 2p)")
    assert_close(v.grad, 2 * uv, what="v.grad (v = u + x)")
    assert_close(u.grad, 2 * (uv + vv), what="u.grad (u = x*y, used by v and p)")
    assert_close(x.grad, 2 * uv + 2 * (uv + vv) * yv, what="x.grad")
    assert_close(y.grad, 2 * (uv + vv) * xv, what="y.grad")


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_default_out_grad_is_ones_of_the_output_dtype(dtype):
    """backward() with no argument on float64, float32 and int64 outputs."""
    x = ndl.Tensor(np.arange(-3, 3).reshape(3, 1, 2).astype(dtype))
    y = x * x + x * 3
    y.backward()
    xv = x.numpy()
    assert_close(y.grad, np.ones((3, 1, 2), dtype=dtype), what=f"y.grad after y.backward() ({dtype})")
    assert_close(x.grad, (2 * xv + 3).astype(dtype), what=f"x.grad of x*x + x*3 ({dtype})")


def test_explicit_out_grad_flows_through_broadcasting():
    """backward(out_grad) with an explicit out_grad through broadcasting adds."""
    x, b = tensor((3, 1), 24), tensor((3, 4), 25)
    w = np.random.default_rng(26).standard_normal((3, 4))
    y = x * b + x
    y.backward(const(w))
    bv = b.numpy()
    assert_close(y.grad, w, what="y.grad after y.backward(w)")
    assert_close(x.grad, np.sum(w * (bv + 1), axis=1, keepdims=True), what="x.grad (x of shape (3, 1))")
    assert_close(b.grad, w * x.numpy(), what="b.grad")


def test_repeated_backward_overwrites_every_grad():
    """Calling backward() again on the same graph replaces all grads."""
    x = tensor((4,), 27)
    u = x * x
    y = u * 2.0 + x
    y.backward()
    y.backward()
    y.backward()
    xv = x.numpy()
    assert_close(y.grad, np.ones(4), what="y.grad after three y.backward() calls")
    assert_close(u.grad, np.full(4, 2.0), what="u.grad after three y.backward() calls")
    assert_close(x.grad, 4 * xv + 1, what="x.grad after three y.backward() calls",
                 hint="each backward() overwrites .grad; it never adds to the previous one")


def test_backward_with_a_new_out_grad_overwrites_grad():
    """A second backward(out_grad) with another out_grad replaces the first result."""
    x = tensor((2, 3), 28)
    y = x * x
    y.backward(const(np.random.default_rng(29).standard_normal((2, 3))))
    w2 = np.random.default_rng(30).standard_normal((2, 3))
    y.backward(const(w2))
    assert_close(x.grad, 2 * x.numpy() * w2, what="x.grad after y.backward(w1) then y.backward(w2)")


def test_backward_of_another_graph_overwrites_shared_nodes():
    """Two graphs sharing a leaf and an intermediate node, differentiated in turn."""
    x = tensor((3,), 31)
    u = x * 3.0
    a = u * u
    b = u + x
    a.backward()
    b.backward()
    assert_close(u.grad, np.ones(3), what="u.grad after a.backward() then b.backward() (b = u + x)")
    assert_close(x.grad, np.full(3, 4.0), what="x.grad after a.backward() then b.backward()",
                 hint="each backward() overwrites .grad; it never adds to the previous one")


def test_constant_inputs_do_not_block_gradients():
    """Inputs with requires_grad=False next to ones that need a gradient."""
    x = tensor((2, 2), 32)
    c = const(np.random.default_rng(33).standard_normal((2, 2)))
    y = (x * c + c * c) * x
    y.backward()
    xv, cv = x.numpy(), c.numpy()
    assert_close(x.grad, 2 * xv * cv + cv * cv, what="x.grad of (x*c + c*c)*x with c a constant")


def test_float32_graph_with_numpy_scalars_stays_float32():
    """A float32 graph with numpy.float64 scalars keeps float32 data and grads."""
    x, y = tensor((2, 3), 34, dtype="float32"), tensor((2, 3), 35, dtype="float32")
    z = (x * np.float64(0.3) + y) * y + np.float64(1.25)
    z.backward()
    xv, yv = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    assert_close(z, ((0.3 * xv + yv) * yv + 1.25).astype(np.float32), what="z in a float32 graph")
    assert_close(x.grad, (0.3 * yv).astype(np.float32), what="x.grad in a float32 graph",
                 hint="keep float32 float32: seed with ones of the output's dtype")
    assert_close(y.grad, (0.3 * xv + 2 * yv).astype(np.float32), what="y.grad in a float32 graph")


def test_float32_graph_with_float32_out_grad():
    """A float32 graph seeded with an explicit float32 out_grad."""
    x = tensor((3, 2), 36, dtype="float32")
    b = tensor((2,), 37, dtype="float32")
    y = x * b + b * 2.0
    w = np.random.default_rng(38).uniform(0.5, 1.5, (3, 2)).astype(np.float32)
    y.backward(const(w))
    w64 = w.astype(np.float64)
    assert_close(x.grad, (w64 * b.numpy().astype(np.float64)).astype(np.float32), what="x.grad (float32)")
    assert_close(b.grad, np.sum(w64 * (x.numpy().astype(np.float64) + 2.0), axis=0).astype(np.float32),
                 what="b.grad (float32, broadcast over rows)")


def test_int64_second_order_gradient():
    """Differentiating an int64 gradient again with backward()."""
    x = ndl.Tensor(np.array([2, -1, 3]))
    y = x * x * x + x * 4
    y.backward()
    xv = x.numpy()
    grad = x.grad
    assert_close(grad, 3 * xv * xv + 4, what="dy/dx of x*x*x + 4x (int64)")
    grad.backward()
    assert_close(x.grad, 6 * xv, what="d(dy/dx)/dx after x.grad.backward() (int64)",
                 hint="build gradients from needle ops, so that they are graphs of the inputs")


def test_0d_mixed_second_order_gradient():
    """Second-order gradients of 0-d tensors with a mixed partial."""
    x2, x3 = ndl.Tensor(np.array(1.5)), ndl.Tensor(np.array(-2.0))
    v2, v3 = x2.numpy(), x3.numpy()
    y = x2 * x2 * x3 + x3 * x3 * 2.0
    y.backward()
    assert_close(x2.grad, 2 * v2 * v3, what="dy/dx2 (0-d)")
    assert_close(x3.grad, v2 * v2 + 4 * v3, what="dy/dx3 (0-d)")
    x3.grad.backward()
    assert_close(x2.grad, 2 * v2, what="d(dy/dx3)/dx2 after x3.grad.backward() (0-d)")
    assert_close(x3.grad, np.array(4.0), what="d(dy/dx3)/dx3 after x3.grad.backward() (0-d)")


def test_deep_chain_with_a_shared_factor_backpropagates():
    """backward() through a 6,000-op chain that reuses one factor 3,000 times."""
    x, c = tensor((3,), 39), tensor((3,), 40, kind="near-one")
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
    assert_close(x.grad, grad_y, what="x.grad through 3,000 (*c) and 3,000 (+0.5) ops",
                 hint="the topological sort and the reverse pass must not recurse once per node")
    assert_close(c.grad, grad_c, what="c.grad, summed over its 3,000 uses")


# --------------------------------------------------------------------------
# Composite graphs of the given ops against central differences
# --------------------------------------------------------------------------

def _minus(a, b):
    return a + b * (-1.0)  # a - b without Negate


def _nested(x, y):
    u = x * y + 1.0
    v = u * u * x
    return _minus(v, u * y * 0.5) * v


COMPOSITE_CASES = [
    pytest.param(lambda a, b, c: (a * b + c) * (a + c) * b, [(3, 4), (3, 4), (3, 4)], id="(a*b+c)*(a+c)*b"),
    pytest.param(lambda a, b: a * b * a + b, [(4, 1), (4, 3)], id="broadcast-4x1-and-4x3"),
    pytest.param(lambda a, b: (a + b) * b * 2.0 + a * a, [(2, 1, 3), (4, 1)], id="broadcast-both-ways-2x1x3-4x1"),
    pytest.param(lambda s, x: (x * s + s) * x + s * s, [(), (2, 3)], id="0d-scalar-tensor"),
    pytest.param(lambda v, m: (m * v + v) * (m + 0.25), [(3,), (2, 4, 3)], id="prepended-axes-3-and-2x4x3"),
    pytest.param(_nested, [(2, 3), (2, 3)], id="nested-shared-u-v"),
    pytest.param(lambda a, b: _minus(a * a, b * b) * _minus(a, b) + 3.0, [(3, 3), (3, 3)], id="(a*a-b*b)*(a-b)+3"),
    pytest.param(lambda x: ((x * 1.5 + 0.5) * x + x) * (x * x), [(5,)], id="polynomial-of-one-input"),
]


@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_graph_gradients_match_central_differences(f, shapes):
    """Gradients of graphs of +, * and scalars, with broadcasting and reuse."""
    inputs = [tensor(shape, 41 + i) for i, shape in enumerate(shapes)]
    check_gradient(f, *inputs, seed=5, hint="add up every partial adjoint a node receives")


@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_float32_graph_gives_float32_grads(f, shapes):
    """The same graphs on float32 inputs give float32 gradients of the right values."""
    arrays = [np.random.default_rng(51 + i).standard_normal(shape).astype(np.float32)
              for i, shape in enumerate(shapes)]
    inputs = [ndl.Tensor(a, dtype="float32") for a in arrays]
    out = f(*inputs)
    w = np.random.default_rng(59).uniform(0.5, 1.5, out.shape).astype(np.float32)
    out.backward(const(w))
    for i, x in enumerate(inputs):
        want = _float64_gradient(f, arrays, w, i)
        assert_close(x.grad, want.astype(np.float32), tol=TOL["float32"],
                     what=f"gradient of float32 input {i} (shape {x.shape})",
                     hint="float32 graphs must give float32 gradients")


def _float64_gradient(f, arrays, w, index):
    """Central differences of sum(w * f(...)) for input ``index``, on float64
    copies of ``arrays``."""
    data = [a.astype(np.float64) for a in arrays]
    value_of = lambda: f(*[ndl.Tensor(d) for d in data]).numpy()  # noqa: E731
    return central_differences(value_of, [data[index]], w.astype(np.float64))[0]


# --------------------------------------------------------------------------
# Second-order gradients through every differentiable op
# --------------------------------------------------------------------------

SECOND_ORDER_CASES = [
    # The given ops
    op_case("add", ndl.ops.EWiseAdd(), np.add, ("normal", (2, 3)), ("normal", (3,))),
    op_case("add_scalar", ndl.ops.AddScalar(0.7), lambda a: a + 0.7, ("normal", (2, 3))),
    op_case("multiply", ndl.ops.EWiseMul(), np.multiply, ("normal", (2, 1)), ("normal", (2, 3))),
    op_case("mul_scalar", ndl.ops.MulScalar(-1.3), lambda a: a * -1.3, ("normal", (3, 2))),
    # The TODO ops
    *[op_case(f"power_scalar-s={s:.4g}", ndl.ops.PowerScalar(s), np_power_scalar(s), ("positive", (3, 2)))
      for s in (2.5, -2, 3, 0.5, -0.5, 1 / 3)],
    op_case("power-same-shape", ndl.ops.EWisePow(), np.power, ("positive", (2, 3)), ("normal", (2, 3))),
    op_case("power-broadcast-exponent", ndl.ops.EWisePow(), np.power, ("positive", (2, 3)), ("normal", (3,))),
    op_case("divide-same-shape", ndl.ops.EWiseDiv(), np.divide, ("normal", (3, 2)), ("nonzero", (3, 2))),
    op_case("divide-broadcast-divisor", ndl.ops.EWiseDiv(), np.divide, ("normal", (2, 3)), ("nonzero", (3,))),
    op_case("divide_scalar-np.float64", ndl.ops.DivScalar(np.float64(-2.5)), lambda a: a / -2.5, ("normal", (2, 3))),
    op_case("divide_scalar-shape-1-ndarray", ndl.ops.DivScalar(np.array([1.6])), lambda a: a / 1.6, ("normal", (3,))),
    op_case("transpose-None-3d", ndl.ops.Transpose(), lambda a: np.swapaxes(a, -1, -2), ("normal", (2, 2, 3))),
    op_case("transpose-(1,2)", ndl.ops.Transpose((1, 2)), lambda a: np.swapaxes(a, 1, 2), ("normal", (2, 3, 2))),
    op_case("reshape-2x3-to-3x2", ndl.ops.Reshape((3, 2)), lambda a: a.reshape(3, 2), ("normal", (2, 3))),
    op_case("reshape-6-to-2x3", ndl.ops.Reshape((2, 3)), lambda a: a.reshape(2, 3), ("normal", (6,))),
    op_case("broadcast_to-0d", ndl.ops.BroadcastTo((3, 2)), lambda a: np.broadcast_to(a, (3, 2)), ("normal", ())),
    op_case("broadcast_to-size-1-and-prepended", ndl.ops.BroadcastTo((2, 3, 2)),
            lambda a: np.broadcast_to(a, (2, 3, 2)), ("normal", (3, 1))),
    op_case("summation-None", ndl.ops.Summation(), np.sum, ("normal", (3, 2))),
    op_case("summation-int-0", ndl.ops.Summation(0), lambda a: np.sum(a, axis=0), ("normal", (3, 2))),
    op_case("summation-negative-int", ndl.ops.Summation(-1), lambda a: np.sum(a, axis=-1), ("normal", (2, 2, 3))),
    op_case("summation-tuple", ndl.ops.Summation((0, 2)), lambda a: np.sum(a, axis=(0, 2)), ("normal", (2, 2, 3))),
    op_case("matmul", ndl.ops.MatMul(), np.matmul, ("normal", (2, 3)), ("normal", (3, 2))),
    op_case("matmul-size-1-batch", ndl.ops.MatMul(), np.matmul, ("normal", (1, 2, 3)), ("normal", (2, 3, 2))),
    op_case("matmul-mixed-ranks", ndl.ops.MatMul(), np.matmul, ("normal", (2, 3)), ("normal", (2, 3, 2))),
    op_case("negate", ndl.ops.Negate(), np.negative, ("normal", (2, 3))),
    op_case("log", ndl.ops.Log(), np.log, ("positive", (3, 2))),
    op_case("exp", ndl.ops.Exp(), np.exp, ("normal", (3, 2))),
    op_case("relu", ndl.ops.ReLU(), np_relu, ("nonzero", (3, 2))),
    op_case("logsumexp-None", ndl.ops.LogSumExp(), np_logsumexp, ("normal", (3, 2))),
    op_case("logsumexp-int-axis", ndl.ops.LogSumExp(0), lambda a: np_logsumexp(a, 0), ("normal", (3, 2))),
    op_case("logsumexp-tuple", ndl.ops.LogSumExp((0, 2)), lambda a: np_logsumexp(a, (0, 2)), ("normal", (2, 2, 2))),
    op_case("logsoftmax", ndl.ops.LogSoftmax(), np_logsoftmax, ("normal", (3, 4))),
]


@pytest.mark.parametrize("op, forward, specs", SECOND_ORDER_CASES)
def test_second_order_gradient_matches_central_differences(op, forward, specs):
    """The gradient of an op's gradient, through backward() twice."""
    inputs = [tensor(shape, 60 + i, kind=kind) for i, (kind, shape) in enumerate(specs)]
    for index in range(len(inputs)):
        check_gradient(
            first_gradient(op, forward, index, seed=70 + index), *inputs, seed=80 + index,
            hint="build gradient() only from needle ops applied to out_grad and node, so that "
            "backward() can differentiate it again",
        )


UNARY_SECOND_DERIVATIVES = [
    pytest.param(ndl.ops.Log(), np.log, lambda x: -1 / x ** 2, id="log"),
    pytest.param(ndl.ops.Exp(), np.exp, np.exp, id="exp"),
    *[pytest.param(ndl.ops.PowerScalar(s), np_power_scalar(s), (lambda s: lambda x: s * (s - 1) * x ** (s - 2))(s),
                   id=f"power_scalar-s={s:.4g}")
      for s in (2.5, -2, 3, 0.5, -0.5)],
]


@pytest.mark.parametrize("op, forward, second_derivative", UNARY_SECOND_DERIVATIVES)
def test_backward_of_grad_gives_the_second_derivative(op, forward, second_derivative):
    """x.grad.backward() after y = op(x); y.backward() gives the second derivative."""
    x = tensor((3, 2), 90, kind="positive")
    w = np.random.default_rng(91).uniform(1.0, 2.0, (3, 2))
    op_node(op, [x], forward).backward()
    x.grad.backward(const(w))
    assert_close(x.grad, w * second_derivative(x.numpy()),
                 what=f"x.grad after y = {type(op).__name__}(x); y.backward(); x.grad.backward(w)",
                 hint="x.grad must be a needle graph of x so that it can be differentiated")
