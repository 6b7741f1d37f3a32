"""The reference's given (non-TODO) behaviour: what the handout hands out
ready-made, so that the public suite cannot test it (a public test must fail
on the untouched handout with its own question's TODO).

Tensor's API, the engine's gradient contract (``check_gradients``), the given
ops (EWiseAdd, AddScalar, EWiseMul, MulScalar), the scalar and axes
normalisation of the ops' constructors, MatMul's shape check, ``init_basic``,
``LAZY_MODE`` and ``TENSOR_COUNTER``.  Some of these go through TODO code of
the reference (the engine, Negate, ...), so this suite runs on the reference
only (``--needle-root reference``, the default).
"""
import gc

import numpy as np
import pytest

import needle as ndl
from needle import autograd
from tests.numpy_checks import TOL, assert_close, check_gradient, op_node


def normal(shape, seed=0, dtype="float64"):
    return np.asarray(np.random.default_rng(seed).standard_normal(shape), dtype=dtype)


def const(array):
    return ndl.Tensor(array, requires_grad=False)


# --------------------------------------------------------------------------
# Tensor's API
# --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "data, dtype",
    [
        ([1.0], np.float64),
        ([6], np.int64),
        (np.ones(3, dtype=np.float32), np.float32),
        (np.ones(3, dtype=np.int32), np.int32),
        (np.ones(3, dtype=np.float16), np.float16),
        (np.array(True), np.bool_),
    ],
    ids=["list-of-floats", "list-of-ints", "float32-array", "int32-array", "float16-array", "bool-0d"],
)
def test_tensor_without_dtype_keeps_numpys_dtype(data, dtype):
    x = ndl.Tensor(data)
    assert x.dtype == dtype, f"Tensor({data!r}).dtype is {x.dtype}, expected {np.dtype(dtype)}"
    assert isinstance(x.numpy(), np.ndarray)
    assert_close(x, np.asarray(data), what=f"Tensor({data!r})")


def test_tensor_with_dtype_converts():
    x = ndl.Tensor([1, 2, 3], dtype="float32")
    assert_close(x, np.array([1, 2, 3], dtype=np.float32), what="Tensor([1, 2, 3], dtype='float32')")
    y = ndl.Tensor(x, dtype="float64")
    assert_close(y, np.array([1, 2, 3], dtype=np.float64), what="Tensor(float32 tensor, dtype='float64')")


def test_tensor_copies_its_numpy_input():
    a = np.ones(3)
    x = ndl.Tensor(a)
    a[0] = 5.0
    assert_close(x, np.ones(3), what="Tensor(a) after a changed in place")


@pytest.mark.parametrize("data", ["abc", ["a", "b"], {"a": 1}, None], ids=repr)
def test_tensor_of_non_numbers_raises_type_error(data):
    with pytest.raises(TypeError):
        ndl.Tensor(data)


def test_tensor_rejects_a_device_that_is_not_a_device():
    with pytest.raises(TypeError, match="device"):
        ndl.Tensor([1.0], device="cuda")


def test_data_setter_assigns_values_of_the_same_dtype():
    x = ndl.Tensor(np.zeros(3, dtype=np.float32))
    x.data = ndl.Tensor(np.arange(3, dtype=np.float32))
    assert_close(x, np.arange(3, dtype=np.float32), what="x after x.data = Tensor(arange(3))")


def test_data_setter_rejects_a_dtype_change_naming_both_dtypes():
    x = ndl.Tensor(np.zeros(3, dtype=np.float32))
    with pytest.raises(TypeError) as error:
        x.data = ndl.Tensor(np.zeros(3, dtype=np.float64))
    message = str(error.value)
    assert "float32" in message and "float64" in message, message
    assert x.dtype == np.float32


def test_data_setter_rejects_a_non_tensor():
    x = ndl.Tensor(np.zeros(3))
    with pytest.raises(TypeError):
        x.data = np.ones(3)


@pytest.mark.parametrize("how", ["detach", "data"])
def test_detach_is_a_leaf_sharing_values(how):
    x = ndl.Tensor(normal((2, 3)))
    y = x * 2.0 + 1.0
    d = y.detach() if how == "detach" else y.data
    assert d.is_leaf() and d.op is None and d.inputs == []
    assert d.requires_grad is False
    assert np.shares_memory(d.realize_cached_data(), y.realize_cached_data()), (
        f"{how}: values are copied, not shared"
    )
    assert_close(d, y.numpy(), what=f"y.{how}")


def test_numpy_returns_a_copy():
    a = normal((2, 3))
    x = ndl.Tensor(a)
    got = x.numpy()
    assert isinstance(got, np.ndarray)
    got[0, 0] = 1e6
    assert_close(x, a, what="x after writing into x.numpy()")


@pytest.mark.parametrize(
    "make",
    [lambda x: x * 3.0, lambda x: x + x, lambda x: x * x + 1.0, lambda x: 2.0 * x],
    ids=["x*3", "x+x", "x*x+1", "2*x"],
)
def test_numpy_of_a_0d_result_is_an_ndarray(make):
    x = ndl.Tensor(np.array(2.0))
    y = make(x)
    got = y.numpy()
    assert isinstance(got, np.ndarray), f"numpy() of a 0-d result is a {type(got).__name__}"
    assert got.shape == ()
    cached = y.realize_cached_data()
    assert isinstance(cached, np.ndarray), (
        f"the cached data of a 0-d result is a {type(cached).__name__}: NumPy's scalar "
        f"results are kept as 0-d arrays"
    )


def test_rsub_is_the_number_minus_the_tensor():
    a = normal((2, 3))
    assert_close(2 - ndl.Tensor(a), 2 - a, what="2 - x")
    assert_close(2.5 - ndl.Tensor(a), 2.5 - a, what="2.5 - x")


def test_sub_of_a_number_and_of_a_tensor():
    a, b = normal((2, 3), 1), normal((2, 3), 2)
    assert_close(ndl.Tensor(a) - 2.5, a - 2.5, what="x - 2.5")
    assert_close(ndl.Tensor(a) - ndl.Tensor(b), a - b, what="x - y")


def test_rtruediv_is_the_number_over_the_tensor():
    a = np.random.default_rng(0).uniform(0.5, 2.0, (2, 3))
    assert_close(2 / ndl.Tensor(a), 2 / a, what="2 / x")


def test_unary_minus():
    a = normal((2, 3))
    assert_close(-ndl.Tensor(a), -a, what="-x")


def test_radd_and_rmul():
    a = normal((2, 3))
    assert_close(1.5 + ndl.Tensor(a), 1.5 + a, what="1.5 + x")
    assert_close(1.5 * ndl.Tensor(a), 1.5 * a, what="1.5 * x")


def test_tensor_method_forms():
    a, b = normal((2, 3), 1), normal((3, 4), 2)
    x = ndl.Tensor(a)
    assert_close(x.sum(), np.asarray(a.sum()), what="x.sum()")
    assert_close(x.sum((1,)), a.sum(axis=1), what="x.sum((1,))")
    assert_close(x.reshape((3, 2)), a.reshape(3, 2), what="x.reshape((3, 2))")
    assert_close(x.transpose(), a.T, what="x.transpose()")
    assert_close(x.broadcast_to((4, 2, 3)), np.broadcast_to(a, (4, 2, 3)), what="x.broadcast_to")
    assert_close(x @ ndl.Tensor(b), a @ b, what="x @ y")
    assert_close(x.matmul(ndl.Tensor(b)), a @ b, what="x.matmul(y)")
    assert_close(x ** 2, a ** 2, what="x ** 2")


def test_requires_grad_propagates_and_constants_keep_no_graph():
    x = ndl.Tensor(normal(3))
    c = const(normal(3, 1))
    assert (x * c).requires_grad is True
    folded = c * 2.0 + c
    assert folded.requires_grad is False
    assert folded.is_leaf(), "an op of constants only should keep no graph"


def test_backward_rejects_an_out_grad_of_another_shape():
    x = ndl.Tensor(normal((2, 3)))
    y = x * 2.0
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        y.backward(const(np.ones((3, 2))))


# --------------------------------------------------------------------------
# The engine's gradient contract (check_gradients)
# --------------------------------------------------------------------------

class _TooFewGradients(autograd.TensorOp):
    def compute(self, a, b):
        return a + b

    def gradient(self, out_grad, node):
        return (out_grad,)


class _WrongShapeGradient(autograd.TensorOp):
    def compute(self, a):
        return a.sum(axis=0)

    def gradient(self, out_grad, node):
        return out_grad


class _NumpyGradient(autograd.TensorOp):
    def compute(self, a):
        return a * 2

    def gradient(self, out_grad, node):
        return out_grad.numpy() * 2


def test_gradient_contract_error_is_a_value_error():
    assert issubclass(autograd.GradientContractError, ValueError)


def test_backward_raises_when_an_op_returns_too_few_gradients():
    x, y = ndl.Tensor(normal((2, 3), 1)), ndl.Tensor(normal((2, 3), 2))
    out = _TooFewGradients()(x, y)
    with pytest.raises(autograd.GradientContractError) as error:
        out.backward()
    message = str(error.value)
    assert "_TooFewGradients" in message, message
    assert "1" in message and "2" in message, message


def test_backward_raises_when_a_gradient_has_the_wrong_shape():
    x = ndl.Tensor(normal((2, 3)))
    out = _WrongShapeGradient()(x) * 2.0
    with pytest.raises(autograd.GradientContractError) as error:
        out.backward()
    message = str(error.value)
    assert "_WrongShapeGradient" in message, message
    assert "input 0" in message, message
    assert "(3,)" in message and "(2, 3)" in message, message


def test_backward_raises_when_a_gradient_is_not_a_tensor():
    x = ndl.Tensor(normal((2, 3)))
    out = _NumpyGradient()(x)
    with pytest.raises(autograd.GradientContractError, match="_NumpyGradient"):
        out.backward()


class _WrongShapeForSecond(autograd.TensorOp):
    """a + sum(b): the gradient it gives b has a's shape, not b's."""

    def compute(self, a, b):
        return a + b.sum()

    def gradient(self, out_grad, node):
        return out_grad, out_grad


def test_backward_names_the_input_whose_gradient_has_the_wrong_shape():
    a, b = ndl.Tensor(normal(3, 1)), ndl.Tensor(normal(4, 2))
    out = _WrongShapeForSecond()(a, b)
    with pytest.raises(autograd.GradientContractError) as error:
        out.backward()
    message = str(error.value)
    assert "_WrongShapeForSecond" in message and "input 1" in message, message
    assert "(3,)" in message and "(4,)" in message, message


def test_contract_skips_inputs_that_need_no_gradient():
    # The wrong-shape gradient goes to a constant: never used, so not checked.
    a, b = ndl.Tensor(normal(3, 1)), const(normal(4, 2))
    out = _WrongShapeForSecond()(a, b) * 2.0
    out.backward()
    assert_close(a.grad, np.full(3, 2.0), what="a.grad of (a + sum(c)) * 2 with c a constant")


# --------------------------------------------------------------------------
# The given ops: EWiseAdd, AddScalar, EWiseMul, MulScalar
# --------------------------------------------------------------------------

GIVEN_OP_CASES = [
    ("add", ndl.ops.EWiseAdd(), np.add, [(3, 4), (3, 4)]),
    ("add-broadcast", ndl.ops.EWiseAdd(), np.add, [(3, 1), (2, 1, 4)]),
    ("add_scalar", ndl.ops.AddScalar(2.5), lambda a: a + 2.5, [(3, 4)]),
    ("add_scalar-np.float64", ndl.ops.AddScalar(np.float64(2.5)), lambda a: a + 2.5, [(3, 4)]),
    ("add_scalar-shape-1-ndarray", ndl.ops.AddScalar(np.array([2.5])), lambda a: a + 2.5, [(3, 4)]),
    ("multiply", ndl.ops.EWiseMul(), np.multiply, [(3, 4), (3, 4)]),
    ("multiply-broadcast", ndl.ops.EWiseMul(), np.multiply, [(4,), (3, 1)]),
    ("multiply-0d", ndl.ops.EWiseMul(), np.multiply, [(), (3, 4)]),
    ("mul_scalar", ndl.ops.MulScalar(-1.5), lambda a: a * -1.5, [(3, 4)]),
    ("mul_scalar-np.float64", ndl.ops.MulScalar(np.float64(2.5)), lambda a: a * 2.5, [(3, 4)]),
]


@pytest.mark.parametrize(
    "op, forward, shapes", [c[1:] for c in GIVEN_OP_CASES], ids=[c[0] for c in GIVEN_OP_CASES]
)
def test_given_op_forward(op, forward, shapes):
    arrays = [normal(s, seed) for seed, s in enumerate(shapes)]
    got = op(*[ndl.Tensor(a) for a in arrays])
    assert_close(got, np.asarray(forward(*arrays)), what=f"{type(op).__name__} forward")


@pytest.mark.parametrize(
    "op, forward, shapes", [c[1:] for c in GIVEN_OP_CASES], ids=[c[0] for c in GIVEN_OP_CASES]
)
def test_given_op_float32_in_float32_out(op, forward, shapes):
    arrays = [normal(s, seed, dtype="float32") for seed, s in enumerate(shapes)]
    got = op(*[ndl.Tensor(a) for a in arrays])
    expected = np.asarray(forward(*[a.astype(np.float64) for a in arrays])).astype(np.float32)
    assert_close(got, expected, what=f"{type(op).__name__} of float32 inputs")


@pytest.mark.parametrize(
    "op, forward, shapes", [c[1:] for c in GIVEN_OP_CASES], ids=[c[0] for c in GIVEN_OP_CASES]
)
def test_given_op_gradient(op, forward, shapes):
    inputs = [ndl.Tensor(normal(s, seed)) for seed, s in enumerate(shapes)]
    check_gradient(lambda *a: np.array(forward(*a)), *inputs, op=op)


@pytest.mark.parametrize(
    "op, forward, shapes", [c[1:] for c in GIVEN_OP_CASES], ids=[c[0] for c in GIVEN_OP_CASES]
)
def test_given_op_float32_gradients_are_float32_of_the_input_shapes(op, forward, shapes):
    inputs = [ndl.Tensor(normal(s, seed, dtype="float32")) for seed, s in enumerate(shapes)]
    node = op_node(op, inputs, lambda *a: np.array(forward(*a)))
    assert node.dtype == np.float32
    grads = op.gradient_as_tuple(const(np.ones(node.shape, dtype=np.float32)), node)
    assert len(grads) == len(inputs)
    for grad, x in zip(grads, inputs):
        assert isinstance(grad, ndl.Tensor)
        assert grad.shape == x.shape and grad.dtype == np.float32, (grad.shape, grad.dtype)


# --------------------------------------------------------------------------
# The ops' given constructors and MatMul's shape check
# --------------------------------------------------------------------------

@pytest.mark.parametrize("op_class", [ndl.ops.Summation, ndl.ops.LogSumExp])
@pytest.mark.parametrize(
    "axes, normalised",
    [(None, None), (1, (1,)), (np.int64(-1), (-1,)), ((0, 2), (0, 2)), ([1, 0], (1, 0)), ((), ())],
    ids=["None", "int", "np.int64", "tuple", "list", "empty"],
)
def test_axes_are_normalised_to_a_tuple_of_ints(op_class, axes, normalised):
    got = op_class(axes).axes
    assert got == normalised and (got is None or all(type(i) is int for i in got)), got


@pytest.mark.parametrize("op_class", [ndl.ops.AddScalar, ndl.ops.MulScalar, ndl.ops.DivScalar, ndl.ops.PowerScalar])
def test_scalar_ops_take_one_number(op_class):
    assert op_class(np.array([2.5])).scalar == 2.5 and type(op_class(np.array([2.5])).scalar) is float
    assert type(op_class(np.float64(2.5)).scalar) is float
    assert op_class(3).scalar == 3
    with pytest.raises(ValueError):
        op_class(np.array([1.0, 2.0]))
    with pytest.raises(TypeError):
        op_class(ndl.Tensor([1.0]))
    with pytest.raises(TypeError):
        op_class("2")


def test_transpose_takes_two_axes_or_none():
    assert ndl.ops.Transpose().axes is None
    assert ndl.ops.Transpose([0, 2]).axes == (0, 2)
    with pytest.raises(ValueError):
        ndl.ops.Transpose((0, 1, 2))


@pytest.mark.parametrize("shape_a, shape_b", [((3, 4), (5, 6)), ((4,), (4, 2)), ((2, 3, 4), (2, 5, 3))])
def test_matmul_shape_mismatch_raises_value_error_naming_both_shapes(shape_a, shape_b):
    a, b = ndl.Tensor(normal(shape_a)), ndl.Tensor(normal(shape_b))
    with pytest.raises(ValueError) as error:
        ndl.matmul(a, b)
    message = str(error.value)
    assert str(shape_a) in message and str(shape_b) in message, (
        f"matmul of {shape_a} and {shape_b} should raise a ValueError naming both shapes; "
        f"the message was {message!r}"
    )


# --------------------------------------------------------------------------
# init_basic
# --------------------------------------------------------------------------

def _state_after(draw):
    state = np.random.get_state()
    draw()
    return state, np.random.get_state()


def _assert_same_rng_state(got, expected, what):
    assert np.array_equal(got[1], expected[1]) and got[2:] == expected[2:], (
        f"{what}: NumPy's global RNG is not where one draw of that shape leaves it"
    )


@pytest.mark.parametrize(
    "name, make, draw",
    [
        ("rand", lambda: ndl.init.rand(3, 4), lambda: np.random.rand(3, 4)),
        ("rand-low-high", lambda: ndl.init.rand(3, 4, low=-2.0, high=3.0), lambda: np.random.rand(3, 4) * 5.0 - 2.0),
        ("randn", lambda: ndl.init.randn(3, 4), lambda: np.random.randn(3, 4)),
        ("randn-mean-std", lambda: ndl.init.randn(3, 4, mean=1.0, std=2.0), lambda: np.random.randn(3, 4) * 2.0 + 1.0),
        ("randb", lambda: ndl.init.randb(3, 4, p=0.3), lambda: np.random.rand(3, 4) <= 0.3),
    ],
    ids=["rand", "rand-low-high", "randn", "randn-mean-std", "randb"],
)
def test_random_initializers_make_exactly_one_draw(name, make, draw):
    np.random.seed(3)
    expected = draw()
    expected_state = np.random.get_state()
    np.random.seed(3)
    got = make()
    _assert_same_rng_state(np.random.get_state(), expected_state, name)
    dtype = np.bool_ if name == "randb" else np.float32
    assert got.dtype == dtype, f"{name}: default dtype {got.dtype}, expected {np.dtype(dtype)}"
    assert_close(got, np.asarray(expected).astype(dtype), what=name)
    assert got.requires_grad is False


@pytest.mark.parametrize("name", ["rand", "randn"])
def test_random_initializers_pass_dtype_and_requires_grad(name):
    np.random.seed(0)
    x = getattr(ndl.init, name)(2, 3, dtype="float64", requires_grad=True)
    assert x.dtype == np.float64 and x.requires_grad is True and x.shape == (2, 3)


@pytest.mark.parametrize("name", ["zeros", "ones"])
def test_zeros_and_ones_default_to_float32(name):
    x = getattr(ndl.init, name)(2, 3)
    assert_close(x, np.full((2, 3), 0.0 if name == "zeros" else 1.0, dtype=np.float32), what=f"init.{name}(2, 3)")
    assert x.requires_grad is False


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
@pytest.mark.parametrize("name", ["zeros_like", "ones_like"])
def test_zeros_like_and_ones_like_keep_shape_and_dtype(name, dtype):
    x = ndl.Tensor(np.arange(6).reshape(2, 3).astype(dtype))
    state = np.random.get_state()
    got = getattr(ndl.init, name)(x)
    _assert_same_rng_state(np.random.get_state(), state, name)
    fill = 0 if name == "zeros_like" else 1
    assert_close(got, np.full((2, 3), fill, dtype=dtype), what=f"init.{name} of a {dtype} (2, 3) tensor")
    assert got.requires_grad is False


@pytest.mark.parametrize(
    "labels", [[0, 3, 4, 3], np.array([2, 0]), ndl.Tensor(np.array([1, 4])), np.array([], dtype=np.int64)],
    ids=["list", "ndarray", "tensor", "empty"],
)
def test_one_hot_picks_identity_rows_in_float32(labels):
    values = labels.numpy() if isinstance(labels, ndl.Tensor) else np.asarray(labels)
    state = np.random.get_state()
    got = ndl.init.one_hot(5, labels)
    _assert_same_rng_state(np.random.get_state(), state, "one_hot")
    assert_close(got, np.eye(5, dtype=np.float32)[values.astype(int)], what=f"one_hot(5, {values.tolist()})")


@pytest.mark.parametrize(
    "labels", [[0, 5], [-1, 2], np.array([0.0, 1.0]), [7]],
    ids=["equal-to-n", "negative", "float", "far-above"],
)
def test_one_hot_rejects_labels_out_of_range(labels):
    with pytest.raises(ValueError, match="one_hot"):
        ndl.init.one_hot(5, labels)


# --------------------------------------------------------------------------
# LAZY_MODE and TENSOR_COUNTER
# --------------------------------------------------------------------------

class _CountingAdd(autograd.TensorOp):
    calls = 0

    def compute(self, a, b):
        type(self).calls += 1
        return a + b

    def gradient(self, out_grad, node):
        return out_grad, out_grad


@pytest.fixture
def lazy_mode():
    saved = autograd.LAZY_MODE
    autograd.LAZY_MODE = True
    try:
        yield
    finally:
        autograd.LAZY_MODE = saved


@pytest.mark.parametrize("requires_grad", [True, False])
def test_lazy_mode_computes_only_on_numpy(lazy_mode, requires_grad):
    a, b = normal((2, 3), 1), normal((2, 3), 2)
    x, y = ndl.Tensor(a, requires_grad=requires_grad), ndl.Tensor(b, requires_grad=requires_grad)
    _CountingAdd.calls = 0
    s = _CountingAdd()(x, y)
    t = _CountingAdd()(s, x) * 2.0
    assert _CountingAdd.calls == 0, "an op's compute ran before its result was asked for"
    assert s.cached_data is None and t.cached_data is None
    assert_close(t.numpy(), (a + b + a) * 2.0, what="((x + y) + x) * 2 in lazy mode")
    assert _CountingAdd.calls == 2
    assert s.cached_data is not None, "the intermediate node was not cached"
    t.numpy()
    s.numpy()
    assert _CountingAdd.calls == 2, "a cached result was computed again"


def _ids_in_visited(node, visited, topo_order):
    """A correct post-order search that keeps ids, not nodes, in ``visited``."""
    if id(node) in visited:
        return
    visited.add(id(node))
    for child in node.inputs:
        _ids_in_visited(child, visited, topo_order)
    topo_order.append(node)


def _inputs_only(node, visited, topo_order):
    """A search that leaves the node itself out of the order."""
    _ids_in_visited(node, visited, topo_order)
    topo_order.pop()


@pytest.mark.parametrize("search", [_ids_in_visited, _inputs_only], ids=["ids-in-visited", "node-left-out"])
def test_lazy_mode_computes_whatever_the_students_search_keeps(lazy_mode, monkeypatch, search):
    """Realizing a lazy graph walks topo_sort_dfs (the student's): a search
    that keeps ids in ``visited``, or leaves the node out, still gives its data."""
    monkeypatch.setattr(autograd, "topo_sort_dfs", search)
    a, b = normal((2, 3), 1), normal((2, 3), 2)
    x, y = ndl.Tensor(a), ndl.Tensor(b)
    t = _CountingAdd()(_CountingAdd()(x, y), x) * 2.0
    assert_close(t.numpy(), (a + b + a) * 2.0, what="((x + y) + x) * 2 in lazy mode")


def test_eager_mode_computes_at_once():
    assert autograd.LAZY_MODE is False
    _CountingAdd.calls = 0
    s = _CountingAdd()(ndl.Tensor([1.0]), ndl.Tensor([2.0]))
    assert _CountingAdd.calls == 1 and s.cached_data is not None


def test_lazy_mode_graph_backpropagates(lazy_mode):
    a = normal((2, 3))
    x = ndl.Tensor(a)
    y = x * x + x * 3.0
    y.backward()
    assert_close(x.grad, 2 * a + 3.0, what="x.grad of x*x + 3x built in lazy mode", tol=TOL["float64"])


def test_tensor_counter_counts_live_values():
    gc.collect()
    start = autograd.TENSOR_COUNTER
    x = ndl.Tensor([1.0])
    assert autograd.TENSOR_COUNTER == start + 1
    y = x * 2.0
    assert autograd.TENSOR_COUNTER == start + 2
    d = y.detach()
    assert autograd.TENSOR_COUNTER == start + 3
    del x, y, d
    gc.collect()
    assert autograd.TENSOR_COUNTER == start


def test_tensor_counter_is_back_after_a_backward_pass():
    gc.collect()
    start = autograd.TENSOR_COUNTER
    x = ndl.Tensor(normal(3))
    (x * x + x).backward()
    assert autograd.TENSOR_COUNTER > start + 1
    del x
    gc.collect()
    assert autograd.TENSOR_COUNTER == start
