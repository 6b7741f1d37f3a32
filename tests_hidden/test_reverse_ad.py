"""Hidden tests, question "reverse-mode AD": ``compute_gradient_of_variables``
through ``Tensor.backward``, on new graphs, shapes and seeds.

Graphs are built from the given ops only (EWiseAdd, AddScalar, EWiseMul,
MulScalar: ``+`` and ``*`` with Tensors and numbers), or start from lazy
nodes of the other ops (``drive.op_node``, forward run only once the engine
asks for the node's value; the engine called as ``backward`` calls it), so
that on the untouched handout the engine's TODO is the first one reached.
Each test hands over the ``.grad`` of leaves and intermediate nodes after
``backward()``, and for the second-order tests the gradient of a gradient.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.drive import op_node, out_grad
from grader.box.inputs import POSITIVE_WIDE, normal, random_tensor, rng
from grader.box.record import check, observe
from grader.box.reverse_ad import backward, const, first_gradient, grad_of, op_case

SUM_HINT = "add up every partial adjoint a node receives"
OVERWRITE_HINT = "each backward() overwrites .grad; it never adds to the previous one"
SEED_HINT = "the output gets .grad too: the out_grad that backward() starts from"


def tensor(shape, seed, dtype="float64", kind="normal"):
    """Other inputs than the public tests': positive data over a wider range."""
    return random_tensor(shape, seed, dtype, kind, positive=POSITIVE_WIDE)


# --------------------------------------------------------------------------
# The engine's contract, on graphs of the given ops
# --------------------------------------------------------------------------

@pytest.mark.behaviour("partial adjoints are summed")
def test_node_used_on_several_paths_sums_its_adjoints():
    """Leaves reused on several paths of one graph get the sum of their adjoints."""
    x, y = tensor((2, 3), 20), tensor((2, 3), 21)
    z = x * x * y + (x + y) * x * 3.0
    z.backward()
    check(grad_of(x), what="x.grad of x*x*y + (x + y)*x*3", hint=SUM_HINT)
    check(grad_of(y), what="y.grad of x*x*y + (x + y)*x*3", hint=SUM_HINT)


@pytest.mark.behaviour("every node gets .grad")
def test_intermediate_nodes_get_their_own_grads():
    """Every intermediate node of the graph gets its .grad, not only the leaves."""
    x, y = tensor((3, 2), 22), tensor((3, 2), 23)
    u = x * y
    v = u + x
    p = v * u
    w = p * 2.0
    w.backward()
    hint = {"type": "every node of the graph, not only the leaves, gets .grad", "value": SUM_HINT}
    seed = SEED_HINT + " (ones by default)"
    observe(grad_of(w), what="w.grad (the output)", hint={"value": seed, "type": seed})
    check(grad_of(p), what="p.grad (p = v*u, w = 2p)", hint=hint)
    check(grad_of(v), what="v.grad (v = u + x)", hint=hint)
    check(grad_of(u), what="u.grad (u = x*y, used by v and p)", hint=hint)
    check(grad_of(x), what="x.grad", hint=SUM_HINT)
    check(grad_of(y), what="y.grad", hint=SUM_HINT)


@pytest.mark.behaviour("out_grad: ones by default, else the given one")
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_default_out_grad_is_ones_of_the_output_dtype(dtype):
    """backward() with no argument on float64, float32 and int64 outputs."""
    x = ndl.Tensor(rng(24).integers(-3, 3, (3, 1, 2)).astype(dtype))
    y = x * x + x * 3
    y.backward()
    seed = "backward() with no argument seeds ones of the output's shape and dtype"
    observe(grad_of(y), what=f"y.grad after y.backward() ({dtype})", hint={"value": SEED_HINT + "; " + seed,
                                                                         "dtype": seed, "type": SEED_HINT})
    check(grad_of(x), what=f"x.grad of x*x + x*3 ({dtype})", hint={"dtype": seed, "value": SUM_HINT})


@pytest.mark.behaviour("out_grad: ones by default, else the given one")
def test_explicit_out_grad_flows_through_broadcasting():
    """backward(out_grad) with an explicit out_grad through broadcasting adds."""
    x, b = tensor((3, 1), 24), tensor((3, 4), 25)
    w = rng(26).standard_normal((3, 4))
    y = x * b + x
    y.backward(const(w))
    seed = SEED_HINT + " (here w)"
    observe(grad_of(y), what="y.grad after y.backward(w)", hint={"value": seed, "type": seed})
    check(grad_of(x), what="x.grad (x of shape (3, 1))", hint=SUM_HINT)
    check(grad_of(b), what="b.grad", hint=SUM_HINT)


@pytest.mark.behaviour("grads are overwritten, never accumulated")
def test_repeated_backward_overwrites_every_grad():
    """Calling backward() again on the same graph replaces all grads."""
    x = tensor((4,), 27)
    u = x * x
    y = u * 2.0 + x
    y.backward()
    y.backward()
    y.backward()
    observe(grad_of(y), what="y.grad after three y.backward() calls", hint=OVERWRITE_HINT)
    check(grad_of(u), what="u.grad after three y.backward() calls", hint=OVERWRITE_HINT)
    check(grad_of(x), what="x.grad after three y.backward() calls", hint=OVERWRITE_HINT)


@pytest.mark.behaviour("grads are overwritten, never accumulated")
def test_backward_with_a_new_out_grad_overwrites_grad():
    """A second backward(out_grad) with another out_grad replaces the first result."""
    x = tensor((2, 3), 28)
    y = x * x
    y.backward(const(rng(29).standard_normal((2, 3))))
    y.backward(const(rng(30).standard_normal((2, 3))))
    check(grad_of(x), what="x.grad after y.backward(w1) then y.backward(w2)", hint=OVERWRITE_HINT)


@pytest.mark.behaviour("grads are overwritten, never accumulated")
def test_backward_of_another_graph_overwrites_shared_nodes():
    """Two graphs sharing a leaf and an intermediate node, differentiated in turn."""
    x = tensor((3,), 31)
    u = x * 3.0
    a = u * u
    b = u + x
    a.backward()
    b.backward()
    check(grad_of(u), what="u.grad after a.backward() then b.backward() (b = u + x)", hint=OVERWRITE_HINT)
    check(grad_of(x), what="x.grad after a.backward() then b.backward()", hint=OVERWRITE_HINT)


@pytest.mark.behaviour("constant inputs")
def test_constant_inputs_do_not_block_gradients():
    """Inputs with requires_grad=False next to ones that need a gradient."""
    x = tensor((2, 2), 32)
    c = const(rng(33).standard_normal((2, 2)))
    y = (x * c + c * c) * x
    y.backward()
    check(grad_of(x), what="x.grad of (x*c + c*c)*x with c a constant",
          hint="inputs with requires_grad=False get no gradient, but the others still do")


@pytest.mark.behaviour("gradients keep the graph's dtype")
def test_float32_graph_with_numpy_scalars_stays_float32():
    """A float32 graph with numpy.float64 scalars keeps float32 data and grads."""
    x, y = tensor((2, 3), 34, dtype="float32"), tensor((2, 3), 35, dtype="float32")
    z = (x * np.float64(0.3) + y) * y + np.float64(1.25)
    z.backward()
    observe(z, what="z in a float32 graph (the given ops' forward)")
    check(grad_of(x), what="x.grad in a float32 graph",
          hint={"dtype": "seed backward() with ones of the output's dtype, and keep every adjoint in it",
                "value": SUM_HINT})
    check(grad_of(y), what="y.grad in a float32 graph", hint=SUM_HINT)


@pytest.mark.behaviour("gradients keep the graph's dtype")
def test_float32_graph_with_float32_out_grad():
    """A float32 graph seeded with an explicit float32 out_grad."""
    x = tensor((3, 2), 36, dtype="float32")
    b = tensor((2,), 37, dtype="float32")
    y = x * b + b * 2.0
    y.backward(out_grad((3, 2), 38, "float32"))
    check(grad_of(x), what="x.grad (float32)")
    check(grad_of(b), what="b.grad (float32, broadcast over rows)", hint=SUM_HINT)


@pytest.mark.behaviour("gradients are graphs (second order)")
def test_int64_second_order_gradient():
    """Differentiating an int64 gradient again with backward()."""
    x = ndl.Tensor(rng(39).integers(-4, 5, (3,)))
    y = x * x * x + x * 4
    y.backward()
    grad = grad_of(x)
    check(grad, what="dy/dx of x*x*x + 4x (int64)", hint=SUM_HINT)
    assert grad is not None, "backward() left x without a .grad"
    grad.backward()
    check(grad_of(x), what="d(dy/dx)/dx after x.grad.backward() (int64)",
          hint="build gradients from needle ops, so that they are graphs of the inputs")


@pytest.mark.behaviour("gradients are graphs (second order)")
def test_0d_mixed_second_order_gradient():
    """Second-order gradients of 0-d tensors with a mixed partial."""
    x2, x3 = tensor((), 40), tensor((), 41)
    y = x2 * x2 * x3 + x3 * x3 * 2.0
    y.backward()
    check(grad_of(x2), what="dy/dx2 (0-d)", hint=SUM_HINT)
    check(grad_of(x3), what="dy/dx3 (0-d)", hint=SUM_HINT)
    assert grad_of(x3) is not None, "backward() left x3 without a .grad"
    x3.grad.backward()
    hint = "build gradients from needle ops, so that they are graphs of the inputs"
    check(grad_of(x2), what="d(dy/dx3)/dx2 after x3.grad.backward() (0-d)", hint=hint)
    check(grad_of(x3), what="d(dy/dx3)/dx3 after x3.grad.backward() (0-d)", hint=hint)


@pytest.mark.behaviour("deep graphs without recursion")
def test_deep_chain_with_a_shared_factor_backpropagates():
    """backward() through a 6,000-op chain that reuses one factor 3,000 times."""
    x, c = tensor((3,), 39), tensor((3,), 40, kind="near-one")
    y = x
    for i in range(6000):
        y = y * c if i % 2 == 0 else y + 0.5
    y.backward()
    check(grad_of(x), what="x.grad through 3,000 (*c) and 3,000 (+0.5) ops",
          hint="the topological sort and the reverse pass must not recurse once per node")
    check(grad_of(c), what="c.grad, summed over its 3,000 uses", hint=SUM_HINT)


# --------------------------------------------------------------------------
# Composite graphs of the given ops
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


def _composite_gradients(f, inputs, seed, hint):
    """backward(w) on f(*inputs) for a random w; hands over each input's .grad."""
    out = f(*inputs)
    out.backward(out_grad(out.shape, seed, out.dtype))
    for i, x in enumerate(inputs):
        check(grad_of(x), what=f"backward(), gradient of input {i} (shape {x.shape})", hint=hint)


@pytest.mark.behaviour("partial adjoints are summed")
@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_graph_gradients_match_central_differences(f, shapes):
    """Gradients of graphs of +, * and scalars, with broadcasting and reuse."""
    inputs = [tensor(shape, 41 + i) for i, shape in enumerate(shapes)]
    _composite_gradients(f, inputs, seed=5, hint="add up every partial adjoint a node receives")


@pytest.mark.behaviour("gradients keep the graph's dtype")
@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_float32_graph_gives_float32_grads(f, shapes):
    """The same graphs on float32 inputs give float32 gradients of the right values."""
    inputs = [ndl.Tensor(normal(shape, 51 + i, dtype="float32"), dtype="float32") for i, shape in enumerate(shapes)]
    _composite_gradients(f, inputs, seed=59, hint="add up every partial adjoint a node receives; float32 "
                         "graphs give float32 gradients")


# --------------------------------------------------------------------------
# Second-order gradients through every differentiable op
# --------------------------------------------------------------------------

# Half a behaviour: an op whose gradient() is wrong or not made of needle
# ops fails here too, and that bug is backward_ops' to charge, not the engine's.
EVERY_OP = pytest.mark.behaviour("second order through every op", weight=0.5)

SECOND_ORDER_CASES = [
    # The given ops
    op_case("add", ndl.ops.EWiseAdd(), (2, 3), ("normal", (2, 3)), ("normal", (3,))),
    op_case("add_scalar", ndl.ops.AddScalar(0.7), (2, 3), ("normal", (2, 3))),
    op_case("multiply", ndl.ops.EWiseMul(), (2, 3), ("normal", (2, 1)), ("normal", (2, 3))),
    op_case("mul_scalar", ndl.ops.MulScalar(-1.3), (3, 2), ("normal", (3, 2))),
    # The TODO ops
    *[op_case(f"power_scalar-s={s:.4g}", ndl.ops.PowerScalar(s), (3, 2), ("positive", (3, 2)))
      for s in (2.5, -2, 3, 0.5, -0.5, 1 / 3)],
    op_case("power-same-shape", ndl.ops.EWisePow(), (2, 3), ("positive", (2, 3)), ("normal", (2, 3))),
    op_case("power-broadcast-exponent", ndl.ops.EWisePow(), (2, 3), ("positive", (2, 3)), ("normal", (3,))),
    op_case("divide-same-shape", ndl.ops.EWiseDiv(), (3, 2), ("normal", (3, 2)), ("nonzero", (3, 2))),
    op_case("divide-broadcast-divisor", ndl.ops.EWiseDiv(), (2, 3), ("normal", (2, 3)), ("nonzero", (3,))),
    op_case("divide_scalar-np.float64", ndl.ops.DivScalar(np.float64(-2.5)), (2, 3), ("normal", (2, 3))),
    op_case("divide_scalar-shape-1-ndarray", ndl.ops.DivScalar(np.array([1.6])), (3,), ("normal", (3,))),
    op_case("transpose-None-3d", ndl.ops.Transpose(), (2, 3, 2), ("normal", (2, 2, 3))),
    op_case("transpose-(1,2)", ndl.ops.Transpose((1, 2)), (2, 2, 3), ("normal", (2, 3, 2))),
    op_case("reshape-2x3-to-3x2", ndl.ops.Reshape((3, 2)), (3, 2), ("normal", (2, 3))),
    op_case("reshape-6-to-2x3", ndl.ops.Reshape((2, 3)), (2, 3), ("normal", (6,))),
    op_case("broadcast_to-0d", ndl.ops.BroadcastTo((3, 2)), (3, 2), ("normal", ())),
    op_case("broadcast_to-size-1-and-prepended", ndl.ops.BroadcastTo((2, 3, 2)), (2, 3, 2), ("normal", (3, 1))),
    op_case("summation-None", ndl.ops.Summation(), (), ("normal", (3, 2))),
    op_case("summation-int-0", ndl.ops.Summation(0), (2,), ("normal", (3, 2))),
    op_case("summation-negative-int", ndl.ops.Summation(-1), (2, 2), ("normal", (2, 2, 3))),
    op_case("summation-tuple", ndl.ops.Summation((0, 2)), (2,), ("normal", (2, 2, 3))),
    op_case("matmul", ndl.ops.MatMul(), (2, 2), ("normal", (2, 3)), ("normal", (3, 2))),
    op_case("matmul-size-1-batch", ndl.ops.MatMul(), (2, 2, 2), ("normal", (1, 2, 3)), ("normal", (2, 3, 2))),
    op_case("matmul-mixed-ranks", ndl.ops.MatMul(), (2, 2, 2), ("normal", (2, 3)), ("normal", (2, 3, 2))),
    op_case("negate", ndl.ops.Negate(), (2, 3), ("normal", (2, 3))),
    op_case("log", ndl.ops.Log(), (3, 2), ("positive", (3, 2))),
    op_case("exp", ndl.ops.Exp(), (3, 2), ("normal", (3, 2))),
    op_case("relu", ndl.ops.ReLU(), (3, 2), ("nonzero", (3, 2))),
    op_case("logsumexp-None", ndl.ops.LogSumExp(), (), ("normal", (3, 2))),
    op_case("logsumexp-int-axis", ndl.ops.LogSumExp(0), (2,), ("normal", (3, 2))),
    op_case("logsumexp-tuple", ndl.ops.LogSumExp((0, 2)), (2,), ("normal", (2, 2, 2))),
    op_case("logsoftmax", ndl.ops.LogSoftmax(), (3, 4), ("normal", (3, 4))),
]


@EVERY_OP
@pytest.mark.parametrize("op, out_shape, specs", SECOND_ORDER_CASES)
def test_second_order_gradient_matches_central_differences(op, out_shape, specs):
    """The gradient of an op's gradient, through backward() twice."""
    inputs = [tensor(shape, 60 + i, kind=kind) for i, (kind, shape) in enumerate(specs)]
    name = type(op).__name__
    for index in range(len(inputs)):
        grad = first_gradient(op, inputs, out_shape, index, seed=70 + index)
        check(grad, what=f"input {index}'s gradient of sum(u * y * y), y = {name}(inputs)", hint=SUM_HINT)
        assert grad is not None, f"backward() left input {index} without a .grad"
        grad.backward(out_grad(grad.shape, 80 + index, grad.dtype))
        for j, x in enumerate(inputs):
            check(grad_of(x), what=f"input {j}'s .grad after input {index}'s gradient.backward(w), y = {name}(inputs)",
                  hint="build gradient() only from needle ops applied to out_grad and node, so that "
                  "backward() can differentiate it again")


UNARY_SECOND_DERIVATIVES = [
    pytest.param(ndl.ops.Log(), id="log"),
    pytest.param(ndl.ops.Exp(), id="exp"),
    *[pytest.param(ndl.ops.PowerScalar(s), id=f"power_scalar-s={s:.4g}") for s in (2.5, -2, 3, 0.5, -0.5)],
]


@EVERY_OP
@pytest.mark.parametrize("op", UNARY_SECOND_DERIVATIVES)
def test_backward_of_grad_gives_the_second_derivative(op):
    """x.grad.backward() after y = op(x); y.backward() gives the second derivative."""
    x = tensor((3, 2), 90, kind="positive")
    w = const(rng(91).uniform(1.0, 2.0, (3, 2)))
    name = type(op).__name__
    backward(op_node(op, [x]), const(np.ones(x.shape)))  # y.backward(), y = op(x) of x's shape
    check(grad_of(x), what=f"x.grad after y = {name}(x); y.backward()")
    assert grad_of(x) is not None, "backward() left x without a .grad"
    x.grad.backward(w)
    check(grad_of(x), what=f"x.grad after y = {name}(x); y.backward(); x.grad.backward(w)",
          hint="x.grad must be a needle graph of x so that it can be differentiated")
