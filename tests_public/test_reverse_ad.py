"""Question "reverse-mode AD": ``compute_gradient_of_variables`` through
``Tensor.backward``.

Every graph here is built from the given ops (EWiseAdd, AddScalar, EWiseMul,
MulScalar: ``+`` and ``*`` with Tensors and numbers; ``a - b`` is written
``a + (-1.0) * b``), or from nodes of the other ops whose data NumPy computed
(``helpers.op_node``), so that nothing here needs a TODO op's ``compute``.
The engine's own contract (overwrite, do not accumulate; intermediate nodes
get ``.grad``; the default and explicit ``out_grad``; dtype; deep graphs;
the course's int64 second-order case) is checked with closed forms computed
in NumPy; composite graphs, and second-order gradients through every
differentiable op, against central differences (``check_gradient``, which
seeds ``backward`` with a random out_grad).
"""
import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import TOL, assert_close, check_gradient, first_gradient, op_case, op_node
from tests_public.numpy_reference import np_logsoftmax, np_logsumexp, np_power_scalar, np_relu
from tests_public.numpy_reference import random_tensor as tensor
from tests_public.recording import Recorder


def const(array):
    return ndl.Tensor(array, requires_grad=False)


# --------------------------------------------------------------------------
# The engine's contract, on graphs of the given ops
# --------------------------------------------------------------------------

def test_node_used_several_times_gets_the_sum_of_its_partial_adjoints():
    x, y = tensor((3,), 0), tensor((3,), 1)
    z = (x * y + x) * x  # z = x^2 y + x^2
    z.backward()
    xv, yv = x.numpy(), y.numpy()
    assert_close(x.grad, 2 * xv * yv + 2 * xv, what="x.grad of (x*y + x)*x",
                 hint="add up every partial adjoint a node receives (sum_node_list)")
    assert_close(y.grad, xv * xv, what="y.grad of (x*y + x)*x")


def test_intermediate_nodes_get_grad():
    x = tensor((2, 3), 0)
    u = x * 3.0
    v = u * u
    w = v + u
    w.backward()
    uv = 3.0 * x.numpy()
    assert_close(w.grad, np.ones((2, 3)), what="w.grad of the output itself")
    assert_close(v.grad, np.ones((2, 3)), what="v.grad (v = u*u, w = v + u)")
    assert_close(u.grad, 2 * uv + 1, what="u.grad (u = 3x, w = u*u + u)",
                 hint="every node of the graph, not only the leaves, gets .grad")
    assert_close(x.grad, 3 * (2 * uv + 1), what="x.grad")


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_default_out_grad_is_ones_of_the_output_shape_and_dtype(dtype):
    x = ndl.Tensor(np.arange(6).reshape(2, 3).astype(dtype))
    y = x * 2 + 1
    y.backward()
    assert_close(y.grad, np.ones((2, 3), dtype=dtype), what=f"y.grad after y.backward() on {dtype} y",
                 hint="backward() with no argument seeds ones of the output's shape and dtype")
    assert_close(x.grad, np.full((2, 3), 2, dtype=dtype), what=f"x.grad of x*2 + 1 ({dtype})")


def test_explicit_out_grad_is_honoured():
    x = tensor((2, 3), 0)
    w = np.random.default_rng(1).standard_normal((2, 3))
    y = x * x
    y.backward(const(w))
    assert_close(y.grad, w, what="y.grad after y.backward(out_grad)")
    assert_close(x.grad, 2 * x.numpy() * w, what="x.grad after (x*x).backward(out_grad)",
                 hint="start the reverse pass from the given out_grad, not from ones")


def test_second_backward_on_the_same_graph_overwrites_grad():
    x = tensor((3,), 0)
    y = x * x + x
    y.backward()
    y.backward()
    assert_close(x.grad, 2 * x.numpy() + 1, what="x.grad after calling y.backward() twice",
                 hint="gradients are overwritten by each backward(), never accumulated")


def test_backward_of_another_graph_overwrites_grad():
    x = tensor((3,), 0)
    (x * 3.0).backward()
    (x * 5.0 + x).backward()
    assert_close(x.grad, np.full(3, 6.0), what="x.grad after (x*3).backward() then (x*5 + x).backward()",
                 hint="gradients are overwritten by each backward(), never accumulated")


def test_input_without_requires_grad_does_not_block_the_others():
    x = tensor((3,), 0)
    c = const(np.random.default_rng(1).standard_normal(3))
    y = x * c + c
    y.backward()
    assert_close(x.grad, c.numpy(), what="x.grad of x*c + c with c a constant")


def test_float32_graph_gives_float32_grads():
    x = tensor((2, 3), 0, dtype="float32")
    y = tensor((2, 3), 1, dtype="float32")
    z = (x * y + x * 0.5) * y + 2.0
    z.backward()
    xv, yv = x.numpy().astype(np.float64), y.numpy().astype(np.float64)
    assert_close(x.grad, (yv * yv + 0.5 * yv).astype(np.float32), what="x.grad in a float32 graph",
                 hint="keep gradients float32: seed with ones of the output's dtype")
    assert_close(y.grad, (2 * xv * yv + 0.5 * xv).astype(np.float32), what="y.grad in a float32 graph")


def test_int64_second_order_course_case():
    # needle_api.md section 9.3: y = x2*x2 + x2*x3 on int64 tensors.
    x2, x3 = ndl.Tensor([6]), ndl.Tensor([0])
    v2, v3 = x2.numpy(), x3.numpy()
    y = x2 * x2 + x2 * x3
    y.backward()
    grad_x2, grad_x3 = x2.grad, x3.grad
    assert_close(y, v2 * v2 + v2 * v3, what="y = x2*x2 + x2*x3")
    assert_close(grad_x2, 2 * v2 + v3, what="dy/dx2")
    assert_close(grad_x3, v2, what="dy/dx3")
    grad_x2.backward()
    assert_close(x2.grad, 2 * np.ones_like(v2), what="d(dy/dx2)/dx2 after x2.grad.backward()",
                 hint="build x2.grad from needle ops so that it is itself a graph of x2 and x3")
    assert_close(x3.grad, np.ones_like(v3), what="d(dy/dx2)/dx3 after x2.grad.backward()")


def test_0d_second_order_case():
    # The hidden course case's shape: 0-d tensors, y = x2*x2 - x2*x3 (written with given ops).
    x2, x3 = ndl.Tensor(np.array(3.0)), ndl.Tensor(np.array(2.0))
    v2, v3 = x2.numpy(), x3.numpy()
    y = x2 * x2 + (x2 * x3) * (-1)
    y.backward()
    assert_close(x2.grad, 2 * v2 - v3, what="dy/dx2 (0-d)")
    assert_close(x3.grad, -v2, what="dy/dx3 (0-d)")
    x2.grad.backward()
    assert_close(x2.grad, np.array(2.0), what="d(dy/dx2)/dx2 (0-d)")
    assert_close(x3.grad, np.array(-1.0), what="d(dy/dx2)/dx3 (0-d)")


def test_long_chain_backpropagates_without_recursion_error():
    x = tensor((3,), 0)
    y = x
    for i in range(10_000):
        y = y + 1 if i % 2 else y * 1.0001
    try:
        y.backward()
    except RecursionError:
        pytest.fail(
            "backward() hit RecursionError on a chain of 10,000 ops; the topological sort "
            "must not recurse once per node",
            pytrace=False,
        )
    assert_close(x.grad, np.full(3, 1.0001) ** 5000, what="x.grad through 5,000 (*1.0001) and 5,000 (+1) ops")


# --------------------------------------------------------------------------
# Composite graphs of the given ops against central differences
# --------------------------------------------------------------------------

def _minus(a, b):
    return a + (-1.0) * b  # a - b without Negate


def _diamond(x):
    u = x * 2.0
    return (u * u + u) * u


COMPOSITE_CASES = [
    pytest.param(lambda A, B, C: (A * B + C) * (A * B), [(10, 9), (10, 9), (10, 9)], id="(A*B+C)*(A*B)"),
    pytest.param(lambda A, B: A * B, [(10, 1), (10, 9)], id="broadcast-10x1*B"),
    pytest.param(lambda a, b: (a + b) * a + b * 0.5, [(3,), (4, 3)], id="broadcast-prepended-(a+b)*a"),
    pytest.param(lambda s, x: s * x + x * x * s, [(), (3, 4)], id="0d-times-matrix"),
    pytest.param(lambda A, B, C: A * B * 0.2 + C, [(10, 5), (10, 5), (10, 5)], id="A*B*0.2+C"),
    pytest.param(lambda a, b, c: (a + b) * c * (a + c), [(4, 4), (4, 4), (4, 4)], id="(a+b)*c*(a+c)"),
    pytest.param(lambda a, b, c: (a * b) * c * a, [(4, 5), (4, 5), (4, 5)], id="(a*b)*c*a"),
    pytest.param(lambda a, b: _minus(a, b) * (a + b) + 2.0, [(3, 4), (3, 4)], id="(a-b)*(a+b)+2"),
    pytest.param(_diamond, [(2, 3)], id="diamond-u=2x,(u*u+u)*u"),
    pytest.param(lambda x, y: _minus(x * y, (x + 1.5) * 3.0) * _minus(y, x), [(2, 1, 3), (4, 3)],
                 id="broadcast-both-ways"),
]


@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_graph_gradients_match_central_differences(f, shapes):
    inputs = [tensor(shape, seed) for seed, shape in enumerate(shapes)]
    check_gradient(f, *inputs, hint="add up every partial adjoint a node receives, in reverse "
                   "topological order")


@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_graph_float32_gives_float32_grads(f, shapes):
    inputs = [tensor(shape, seed, dtype="float32") for seed, shape in enumerate(shapes)]
    out = f(*inputs)
    out.backward(const(np.random.default_rng(9).uniform(0.5, 1.5, out.shape).astype(np.float32)))
    for i, x in enumerate(inputs):
        assert x.grad is not None, f"input {i}: no .grad after backward()"
        assert x.grad.dtype == np.float32 and x.grad.shape == x.shape, (
            f"input {i}: expected a float32 gradient of shape {x.shape}, got {x.grad.dtype} "
            f"of shape {x.grad.shape}; float32 graphs must give float32 gradients"
        )
        Recorder.current(f"grad{i}", x.grad, rtol=TOL["float32"].rtol, atol=TOL["float32"].atol)


# --------------------------------------------------------------------------
# Second-order gradients through every differentiable op
# --------------------------------------------------------------------------

SECOND_ORDER_CASES = [
    *[op_case(f"power_scalar-s={s}", ndl.ops.PowerScalar(s), np_power_scalar(s), ("positive", (2, 3)))
      for s in (2, 3, -1, 0.5, -1.5)],
    op_case("power", ndl.ops.EWisePow(), np.power, ("positive", (2, 3)), ("normal", (2, 3))),
    op_case("power-broadcast-1x3-by-3", ndl.ops.EWisePow(), np.power, ("positive", (1, 3)), ("normal", (3,))),
    op_case("divide", ndl.ops.EWiseDiv(), np.divide, ("normal", (2, 3)), ("nonzero", (2, 3))),
    op_case("divide_scalar", ndl.ops.DivScalar(3.7), lambda a: a / 3.7, ("normal", (2, 3))),
    op_case("transpose-None", ndl.ops.Transpose(), lambda a: np.swapaxes(a, -1, -2), ("normal", (2, 3, 2))),
    op_case("transpose-(0,2)", ndl.ops.Transpose((0, 2)), lambda a: np.swapaxes(a, 0, 2), ("normal", (2, 3, 2))),
    op_case("reshape", ndl.ops.Reshape((3, 2)), lambda a: a.reshape(3, 2), ("normal", (2, 3))),
    op_case("broadcast_to-0d", ndl.ops.BroadcastTo((2, 3)), lambda a: np.broadcast_to(a, (2, 3)), ("normal", ())),
    op_case("broadcast_to-prepended-and-size-1", ndl.ops.BroadcastTo((2, 3, 2)),
            lambda a: np.broadcast_to(a, (2, 3, 2)), ("normal", (3, 1))),
    op_case("summation-None", ndl.ops.Summation(), np.sum, ("normal", (2, 3))),
    op_case("summation-int", ndl.ops.Summation(1), lambda a: np.sum(a, axis=1), ("normal", (2, 3))),
    op_case("summation-negative-tuple", ndl.ops.Summation((-1, 0)), lambda a: np.sum(a, axis=(-1, 0)),
            ("normal", (2, 3, 2))),
    op_case("matmul", ndl.ops.MatMul(), np.matmul, ("normal", (2, 3)), ("normal", (3, 2))),
    op_case("matmul-batched-mixed-ranks", ndl.ops.MatMul(), np.matmul, ("normal", (3, 2)), ("normal", (2, 2, 3))),
    op_case("matmul-size-1-batch", ndl.ops.MatMul(), np.matmul, ("normal", (1, 2, 3)), ("normal", (2, 3, 2))),
    op_case("negate", ndl.ops.Negate(), np.negative, ("normal", (2, 3))),
    op_case("log", ndl.ops.Log(), np.log, ("positive", (2, 3))),
    op_case("exp", ndl.ops.Exp(), np.exp, ("normal", (2, 3))),
    op_case("relu", ndl.ops.ReLU(), np_relu, ("nonzero", (2, 3))),
    op_case("logsumexp-None", ndl.ops.LogSumExp(), np_logsumexp, ("normal", (2, 3))),
    op_case("logsumexp-axes", ndl.ops.LogSumExp((1,)), lambda a: np_logsumexp(a, (1,)), ("normal", (2, 3))),
    op_case("logsoftmax", ndl.ops.LogSoftmax(), np_logsoftmax, ("normal", (2, 3))),
]


@pytest.mark.parametrize("op, forward, specs", SECOND_ORDER_CASES)
def test_second_order_gradient_matches_central_differences(op, forward, specs):
    inputs = [tensor(shape, seed, kind=kind) for seed, (kind, shape) in enumerate(specs)]
    for index in range(len(inputs)):
        check_gradient(
            first_gradient(op, forward, index, seed=100 + index), *inputs, seed=200 + index,
            hint=f"the gradient of input {index}'s gradient: build gradient() only from needle "
            "ops applied to out_grad and node (never NumPy results wrapped in a new Tensor), "
            "so that backward() can differentiate it again",
        )


UNARY_SECOND_DERIVATIVES = [
    pytest.param(ndl.ops.Log(), np.log, lambda x: -1 / x ** 2, id="log"),
    pytest.param(ndl.ops.Exp(), np.exp, np.exp, id="exp"),
    *[pytest.param(ndl.ops.PowerScalar(s), np_power_scalar(s),
                   (lambda s: lambda x: s * (s - 1) * x ** (s - 2))(s), id=f"power_scalar-s={s}")
      for s in (2, 3, -1, 0.5, -1.5)],
]


@pytest.mark.parametrize("op, forward, second_derivative", UNARY_SECOND_DERIVATIVES)
def test_backward_of_grad_gives_the_second_derivative(op, forward, second_derivative):
    x = tensor((2, 3), 0, kind="positive")
    w = np.random.default_rng(1).uniform(1.0, 2.0, (2, 3))
    op_node(op, [x], forward).backward()
    x.grad.backward(const(w))  # a random out_grad, so that a stale x.grad cannot pass
    assert_close(x.grad, w * second_derivative(x.numpy()),
                 what=f"x.grad after y = {type(op).__name__}(x); y.backward(); x.grad.backward(w)",
                 hint="x.grad must be a needle graph of x so that it can be differentiated")
