"""Question "reverse-mode AD": ``compute_gradient_of_variables`` through
``Tensor.backward``.

Every graph here is built from the given ops (EWiseAdd, AddScalar, EWiseMul,
MulScalar: ``+`` and ``*`` with Tensors and numbers; ``a - b`` is written
``a + (-1.0) * b``), or starts from a lazy node of another op
(``drive.op_node``) whose forward runs only once the engine asks for the
node's value, so that on the untouched handout the engine's TODO is the
first one reached.  Such a node's output shape is given, and the engine is
then called as ``backward`` calls it (``reverse_ad.backward``).

Each test hands over the ``.grad`` of the leaves (and of the intermediate
nodes where the contract says so) after ``backward()``, and for the
second-order tests the gradient of a gradient: the engine's contract
(overwrite, do not accumulate; intermediate nodes get ``.grad``; the default
and explicit ``out_grad``; dtype; deep graphs; the course's int64
second-order case), composite graphs, and second-order gradients through
every differentiable op.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.drive import op_node, out_grad
from grader.box.inputs import integers, rng
from grader.box.inputs import random_tensor as tensor
from grader.box.record import check, observe
from grader.box.reverse_ad import backward, const, first_gradient, grad_of, op_case

SUM_HINT = "add up every partial adjoint a node receives (sum_node_list)"
OVERWRITE_HINT = "gradients are overwritten by each backward(), never accumulated"
SEED_HINT = ("the output gets .grad too: the out_grad that backward() starts from (with no argument, "
             "ones of the output's shape and dtype)")
# Hints by the kind of failure they explain (grader.compare.hint_for): a
# wrong value after a right seed is the adjoints' sum, not the seed.
SEED_HINTS = {"value": SEED_HINT, "type": SEED_HINT}
EVERY_NODE_HINTS = {"type": "every node of the graph, not only the leaves, gets .grad", "value": SUM_HINT}
DTYPE_HINTS = {"dtype": "seed backward() with ones of the output's dtype, and keep every adjoint in it",
               "value": SUM_HINT}


# --------------------------------------------------------------------------
# The engine's contract, on graphs of the given ops
# --------------------------------------------------------------------------

@pytest.mark.behaviour("partial adjoints are summed")
def test_node_used_several_times_gets_the_sum_of_its_partial_adjoints():
    x, y = tensor((3,), 0), tensor((3,), 1)
    z = (x * y + x) * x  # z = x^2 y + x^2
    z.backward()
    check(grad_of(x), what="x.grad of (x*y + x)*x", hint=SUM_HINT)
    check(grad_of(y), what="y.grad of (x*y + x)*x", hint=SUM_HINT)


@pytest.mark.behaviour("every node gets .grad")
def test_intermediate_nodes_get_grad():
    x = tensor((2, 3), 0)
    u = x * 3.0
    v = u * u
    w = v + u
    w.backward()
    observe(grad_of(w), what="w.grad of the output itself", hint=SEED_HINTS)
    check(grad_of(v), what="v.grad (v = u*u, w = v + u)", hint=EVERY_NODE_HINTS)
    check(grad_of(u), what="u.grad (u = 3x, w = u*u + u)", hint=EVERY_NODE_HINTS)
    check(grad_of(x), what="x.grad", hint=SUM_HINT)


@pytest.mark.behaviour("out_grad: ones by default, else the given one")
@pytest.mark.parametrize("dtype", ["float64", "float32", "int64"])
def test_default_out_grad_is_ones_of_the_output_shape_and_dtype(dtype):
    x = ndl.Tensor(integers(-5, 6, (2, 3), seed=0).astype(dtype))
    y = x * 2 + 1
    y.backward()
    observe(grad_of(y), what=f"y.grad after y.backward() on {dtype} y", hint=SEED_HINTS)
    check(grad_of(x), what=f"x.grad of x*2 + 1 ({dtype})", hint=DTYPE_HINTS)


@pytest.mark.behaviour("out_grad: ones by default, else the given one")
def test_explicit_out_grad_is_honoured():
    x = tensor((2, 3), 0)
    w = rng(1).standard_normal((2, 3))
    y = x * x
    y.backward(const(w))
    seed = "the output gets .grad too: start the reverse pass from the given out_grad, not from ones"
    observe(grad_of(y), what="y.grad after y.backward(out_grad)", hint={"value": seed, "type": seed})
    check(grad_of(x), what="x.grad after (x*x).backward(out_grad)", hint=SUM_HINT)


@pytest.mark.behaviour("grads are overwritten, never accumulated")
def test_second_backward_on_the_same_graph_overwrites_grad():
    x = tensor((3,), 0)
    y = x * x + x
    y.backward()
    y.backward()
    check(grad_of(x), what="x.grad after calling y.backward() twice", hint=OVERWRITE_HINT)


@pytest.mark.behaviour("grads are overwritten, never accumulated")
def test_backward_of_another_graph_overwrites_grad():
    x = tensor((3,), 0)
    (x * 3.0).backward()
    (x * 5.0 + x).backward()
    check(grad_of(x), what="x.grad after (x*3).backward() then (x*5 + x).backward()", hint=OVERWRITE_HINT)


@pytest.mark.behaviour("constant inputs")
def test_input_without_requires_grad_does_not_block_the_others():
    x = tensor((3,), 0)
    c = const(rng(1).standard_normal(3))
    y = x * c + c
    y.backward()
    check(grad_of(x), what="x.grad of x*c + c with c a constant",
          hint="inputs with requires_grad=False get no gradient, but the others still do")


@pytest.mark.behaviour("gradients keep the graph's dtype")
def test_float32_graph_gives_float32_grads():
    x = tensor((2, 3), 0, dtype="float32")
    y = tensor((2, 3), 1, dtype="float32")
    z = (x * y + x * 0.5) * y + 2.0
    z.backward()
    check(grad_of(x), what="x.grad in a float32 graph", hint=DTYPE_HINTS)
    check(grad_of(y), what="y.grad in a float32 graph", hint=SUM_HINT)


@pytest.mark.behaviour("gradients are graphs (second order)")
def test_int64_second_order_course_case():
    # The course's published test (hw1's test_compute_gradient): y = x2*x2 + x2*x3 on int64 tensors (of drawn values).
    x2, x3 = ndl.Tensor(integers(-9, 10, (1,), seed=0)), ndl.Tensor(integers(-9, 10, (1,), seed=1))
    y = x2 * x2 + x2 * x3
    y.backward()
    grad_x2, grad_x3 = grad_of(x2), grad_of(x3)
    observe(y, what="y = x2*x2 + x2*x3 (the given ops' forward)")
    check(grad_x2, what="dy/dx2", hint=SUM_HINT)
    check(grad_x3, what="dy/dx3")
    assert grad_x2 is not None, "backward() left x2 without a .grad"
    grad_x2.backward()
    hint = "build x2.grad from needle ops so that it is itself a graph of x2 and x3"
    check(grad_of(x2), what="d(dy/dx2)/dx2 after x2.grad.backward()", hint=hint)
    check(grad_of(x3), what="d(dy/dx2)/dx3 after x2.grad.backward()", hint=hint)


@pytest.mark.behaviour("gradients are graphs (second order)")
def test_0d_second_order_case():
    # The hidden course case's shape: 0-d tensors, y = x2*x2 - x2*x3 (written with given ops).
    x2, x3 = tensor((), 0), tensor((), 1)
    y = x2 * x2 + (x2 * x3) * (-1)
    y.backward()
    check(grad_of(x2), what="dy/dx2 (0-d)", hint=SUM_HINT)
    check(grad_of(x3), what="dy/dx3 (0-d)")
    assert grad_of(x2) is not None, "backward() left x2 without a .grad"
    x2.grad.backward()
    hint = "build x2.grad from needle ops so that it is itself a graph of x2 and x3"
    check(grad_of(x2), what="d(dy/dx2)/dx2 (0-d)", hint=hint)
    check(grad_of(x3), what="d(dy/dx2)/dx3 (0-d)", hint=hint)


@pytest.mark.behaviour("deep graphs without recursion")
def test_long_chain_backpropagates_without_recursion_error():
    x = tensor((3,), 0)
    y = x
    for i in range(10_000):
        y = y + 1 if i % 2 else y * 1.0001
    y = y * y  # squared, so that x.grad depends on x: a constant would be guessable
    try:
        y.backward()
    except RecursionError:
        pytest.fail(
            "backward() hit RecursionError on a chain of 10,000 ops; the topological sort "
            "must not recurse once per node",
            pytrace=False,
        )
    check(grad_of(x), what="x.grad of y*y, y through 5,000 (*1.0001) and 5,000 (+1) ops",
          hint="every node of the chain passes its adjoint on to its input")


# --------------------------------------------------------------------------
# Composite graphs of the given ops
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


def _composite_gradients(f, inputs, seed, hint):
    """backward(w) on f(*inputs) for a random w; hands over each input's .grad."""
    out = f(*inputs)
    out.backward(out_grad(out.shape, seed, out.dtype))
    for i, x in enumerate(inputs):
        check(grad_of(x), what=f"backward(), gradient of input {i} (shape {x.shape})", hint=hint)


@pytest.mark.behaviour("partial adjoints are summed")
@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_graph_gradients_match_central_differences(f, shapes):
    inputs = [tensor(shape, seed) for seed, shape in enumerate(shapes)]
    _composite_gradients(f, inputs, seed=0, hint="add up every partial adjoint a node receives, in reverse "
                         "topological order")


@pytest.mark.behaviour("gradients keep the graph's dtype")
@pytest.mark.parametrize("f, shapes", COMPOSITE_CASES)
def test_composite_graph_float32_gives_float32_grads(f, shapes):
    inputs = [tensor(shape, seed, dtype="float32") for seed, shape in enumerate(shapes)]
    _composite_gradients(f, inputs, seed=9, hint="add up every partial adjoint a node receives, in reverse "
                         "topological order; seed and sum in the graph's dtype")


# --------------------------------------------------------------------------
# Second-order gradients through every differentiable op
# --------------------------------------------------------------------------

# Half a behaviour: an op whose gradient() is wrong or not made of needle
# ops fails here too, and that bug is backward_ops' to charge, not the engine's.
EVERY_OP = pytest.mark.behaviour("second order through every op", weight=0.5)

SECOND_ORDER_CASES = [
    *[op_case(f"power_scalar-s={s}", ndl.ops.PowerScalar(s), (2, 3), ("positive", (2, 3)))
      for s in (2, 3, -1, 0.5, -1.5)],
    op_case("power", ndl.ops.EWisePow(), (2, 3), ("positive", (2, 3)), ("normal", (2, 3))),
    op_case("power-broadcast-1x3-by-3", ndl.ops.EWisePow(), (1, 3), ("positive", (1, 3)), ("normal", (3,))),
    op_case("divide", ndl.ops.EWiseDiv(), (2, 3), ("normal", (2, 3)), ("nonzero", (2, 3))),
    op_case("divide_scalar", ndl.ops.DivScalar(3.7), (2, 3), ("normal", (2, 3))),
    op_case("transpose-None", ndl.ops.Transpose(), (2, 2, 3), ("normal", (2, 3, 2))),
    op_case("transpose-(0,2)", ndl.ops.Transpose((0, 2)), (2, 3, 2), ("normal", (2, 3, 2))),
    op_case("reshape", ndl.ops.Reshape((3, 2)), (3, 2), ("normal", (2, 3))),
    op_case("broadcast_to-0d", ndl.ops.BroadcastTo((2, 3)), (2, 3), ("normal", ())),
    op_case("broadcast_to-prepended-and-size-1", ndl.ops.BroadcastTo((2, 3, 2)), (2, 3, 2), ("normal", (3, 1))),
    op_case("summation-None", ndl.ops.Summation(), (), ("normal", (2, 3))),
    op_case("summation-int", ndl.ops.Summation(1), (2,), ("normal", (2, 3))),
    op_case("summation-negative-tuple", ndl.ops.Summation((-1, 0)), (3,), ("normal", (2, 3, 2))),
    op_case("matmul", ndl.ops.MatMul(), (2, 2), ("normal", (2, 3)), ("normal", (3, 2))),
    op_case("matmul-batched-mixed-ranks", ndl.ops.MatMul(), (2, 3, 3), ("normal", (3, 2)), ("normal", (2, 2, 3))),
    op_case("matmul-size-1-batch", ndl.ops.MatMul(), (2, 2, 2), ("normal", (1, 2, 3)), ("normal", (2, 3, 2))),
    op_case("negate", ndl.ops.Negate(), (2, 3), ("normal", (2, 3))),
    op_case("log", ndl.ops.Log(), (2, 3), ("positive", (2, 3))),
    op_case("exp", ndl.ops.Exp(), (2, 3), ("normal", (2, 3))),
    op_case("relu", ndl.ops.ReLU(), (2, 3), ("nonzero", (2, 3))),
    op_case("logsumexp-None", ndl.ops.LogSumExp(), (), ("normal", (2, 3))),
    op_case("logsumexp-axes", ndl.ops.LogSumExp((1,)), (2,), ("normal", (2, 3))),
    op_case("logsoftmax", ndl.ops.LogSoftmax(), (2, 3), ("normal", (2, 3))),
]


@EVERY_OP
@pytest.mark.parametrize("op, out_shape, specs", SECOND_ORDER_CASES)
def test_second_order_gradient_matches_central_differences(op, out_shape, specs):
    inputs = [tensor(shape, seed, kind=kind) for seed, (kind, shape) in enumerate(specs)]
    name = type(op).__name__
    for index in range(len(inputs)):
        grad = first_gradient(op, inputs, out_shape, index, seed=100 + index)
        check(grad, what=f"input {index}'s gradient of sum(u * y * y), y = {name}(inputs)", hint=SUM_HINT)
        assert grad is not None, f"backward() left input {index} without a .grad"
        grad.backward(out_grad(grad.shape, 200 + index, grad.dtype))
        for j, x in enumerate(inputs):
            check(grad_of(x), what=f"input {j}'s .grad after input {index}'s gradient.backward(w), y = {name}(inputs)",
                  hint=f"the gradient of input {index}'s gradient: build gradient() only from needle ops "
                  "applied to out_grad and node (never NumPy results wrapped in a new Tensor), so that "
                  "backward() can differentiate it again")


UNARY_SECOND_DERIVATIVES = [
    pytest.param(ndl.ops.Log(), id="log"),
    pytest.param(ndl.ops.Exp(), id="exp"),
    *[pytest.param(ndl.ops.PowerScalar(s), id=f"power_scalar-s={s}") for s in (2, 3, -1, 0.5, -1.5)],
]


@EVERY_OP
@pytest.mark.parametrize("op", UNARY_SECOND_DERIVATIVES)
def test_backward_of_grad_gives_the_second_derivative(op):
    x = tensor((2, 3), 0, kind="positive")
    w = const(rng(1).uniform(1.0, 2.0, (2, 3)))
    name = type(op).__name__
    backward(op_node(op, [x]), const(np.ones(x.shape)))  # y.backward(), y = op(x) of x's shape
    check(grad_of(x), what=f"x.grad after y = {name}(x); y.backward()")
    assert grad_of(x) is not None, "backward() left x without a .grad"
    x.grad.backward(w)  # a random out_grad, so that a stale x.grad cannot pass
    check(grad_of(x), what=f"x.grad after y = {name}(x); y.backward(); x.grad.backward(w)",
          hint="x.grad must be a needle graph of x so that it can be differentiated")
