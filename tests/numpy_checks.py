"""The kit's own checks that the reference is right, against NumPy: an
assertion on the grader's comparison (grader/compare.py), gradients against
central differences, the topological-order check, op cases, optimizer
steps against closed forms.  Never shipped to students, never copied into a
grading box: the suites there hold no expected value (grader/box)."""
import numpy as np
import pytest

from grader.compare import TOL, Tol, compare  # noqa: F401  (the one table, for the kit's checks too)


def as_numpy(value):
    """The NumPy array behind a Tensor (or the value itself)."""
    return value.numpy() if hasattr(value, "numpy") and not isinstance(value, np.ndarray) else value


def assert_close(got, expected, *, tol: Tol = None, what="result", check_dtype=True, hint=""):
    """Assert that ``got`` (a Tensor or array) matches ``expected`` in type,
    shape, dtype and values, with the grader's comparison and message."""
    __tracebackhide__ = True
    got = as_numpy(got)
    mismatch = compare(np.asarray(expected), got if isinstance(got, np.ndarray) else None, what=what, tol=tol,
                       dtype=check_dtype, problem="" if isinstance(got, np.ndarray) else
                       f"expected a numpy.ndarray, got {type(got).__name__}")
    if mismatch:
        raise AssertionError(mismatch.message + (f"\nHint: {hint}" if hint else ""))


def op_node(op, inputs, forward):
    """The node ``op(*inputs)``, its data computed by the NumPy function
    ``forward`` instead of the op's own ``compute``: a gradient test built on
    it needs neither the op's forward nor the engine."""
    import needle as ndl

    node = ndl.Tensor.make_const(np.array(forward(*[x.numpy() for x in inputs])))
    node.op, node.inputs, node.requires_grad = op, list(inputs), True
    return node


def central_differences(value_of, arrays, weights, eps=1e-4):
    """d/da sum(weights * value_of()) for each array a of ``arrays``, which
    ``value_of`` reads: each entry is perturbed in place and restored."""
    grads = []
    for data in arrays:
        grad = np.zeros(data.shape, dtype=np.float64)
        for index in np.ndindex(data.shape):
            original = data[index]
            data[index] = original + eps
            upper = float(np.sum(weights * value_of()))
            data[index] = original - eps
            lower = float(np.sum(weights * value_of()))
            data[index] = original
            grad[index] = (upper - lower) / (2 * eps)
        grads.append(grad)
    return grads


def check_gradient(f, *inputs, op=None, tol: Tol = TOL["gradient"], hint="", seed=0):
    """Compare the analytic gradients of sum(w * f(*inputs)), for a fixed
    random w, with central differences; returns them as arrays.

    With ``op``, ``f`` is that op's forward written in NumPy and only
    ``op.gradient`` is asked (through ``gradient_as_tuple``), on a node that
    ``f`` computed: an op's test then needs neither its ``compute`` nor the
    engine.  Without ``op``, ``f`` builds a needle graph from the input
    Tensors and ``.backward(w)`` differentiates it.
    """
    __tracebackhide__ = True
    import needle as ndl

    if op is not None:
        out = op_node(op, inputs, f)
        value_of = lambda: f(*[x.numpy() for x in inputs])  # noqa: E731
    else:
        out = f(*inputs)
        value_of = lambda: f(*inputs).numpy()  # noqa: E731
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, out.shape).astype(out.dtype)
    w = ndl.Tensor(weights, requires_grad=False)
    if op is not None:
        name = f"{type(op).__name__}.gradient"
        computed = list(op.gradient_as_tuple(w, out))
    else:
        name = "backward()"
        out.backward(w)
        computed = [getattr(x, "grad", None) for x in inputs]
    if len(computed) != len(inputs):
        raise AssertionError(
            f"{name}: expected {len(inputs)} gradients (one per input), got {len(computed)}"
        )
    expected = central_differences(value_of, [x.realize_cached_data() for x in inputs], weights.astype(np.float64))
    results = []
    for i, (got, want) in enumerate(zip(computed, expected)):
        if got is None:
            raise AssertionError(f"{name}: no gradient for input {i}{f'; hint: {hint}' if hint else ''}")
        got = as_numpy(got)
        assert_close(
            got.astype(np.float64) if isinstance(got, np.ndarray) else got,
            want,
            tol=tol,
            what=f"{name}, gradient of input {i} (shape {inputs[i].shape})",
            check_dtype=False,
            hint=hint,
        )
        results.append(got)
    return results


# --------------------------------------------------------------------------
# Topological order
# --------------------------------------------------------------------------

def _describe(nodes, names):
    """Each node's name, or its op for a node that should not be there."""
    return [names.get(id(n), f"<unexpected {type(n.op).__name__ if n.op else 'leaf'} node>") for n in nodes]


def assert_topo_order(output_nodes, expected_named, hint=""):
    """find_topo_sort(output_nodes) must return exactly the nodes of
    ``expected_named`` (a list of (node, name) pairs), in that order.  The
    order is handed to the grader as the positions of the returned nodes in
    the expected order (-1: a node that should not be there)."""
    __tracebackhide__ = True
    from needle.autograd import find_topo_sort

    names = {id(node): name for node, name in expected_named}
    expected = [node for node, _ in expected_named]
    got = find_topo_sort(output_nodes)
    assert isinstance(got, list), f"find_topo_sort should return a list, got {type(got).__name__}"
    positions = {id(node): i for i, node in enumerate(expected)}
    same = len(got) == len(expected) and all(g is e for g, e in zip(got, expected))
    assert same, (
        f"find_topo_sort: expected the post-order\n  {_describe(expected, names)}\n"
        f"got\n  {_describe(got, names)}\n"
        "Hint: depth-first from each output in node_list, visit a node's inputs left to "
        "right, append a node after all its inputs, and visit each node (by identity) once. "
        + hint
    )


# --------------------------------------------------------------------------
# Op cases and second-order gradients
# --------------------------------------------------------------------------

def owned(forward):
    """``forward`` returning a new array (never a view of an input, never a
    NumPy scalar), as an op's data must be."""
    return lambda *arrays: np.array(forward(*arrays))


def op_case(name, op, forward, *specs):
    """A ``pytest.param(op, forward, specs)`` named ``name``: the op, its
    forward in NumPy, and its inputs' (kind, shape) specs."""
    return pytest.param(op, owned(forward), specs, id=name)


def float32_op_gradients(op, forward, inputs, seed):
    """``op.gradient`` on the float32 node ``op(*inputs)`` (its data
    ``forward``'s, cast to float32) for an out_grad w uniform in [0.5, 1.5)
    drawn with ``seed``; checks that it gives one gradient per input, and
    returns them and w."""
    __tracebackhide__ = True
    import needle as ndl

    node = op_node(op, inputs, lambda *arrays: forward(*arrays).astype(np.float32))
    w = np.random.default_rng(seed).uniform(0.5, 1.5, node.shape).astype(np.float32)
    grads = op.gradient_as_tuple(ndl.Tensor(w, requires_grad=False), node)
    assert len(grads) == len(inputs), (
        f"{type(op).__name__}.gradient returned {len(grads)} gradient(s) for {len(inputs)} input(s)"
    )
    return grads, w


def float32_forward(op, np_op, makers):
    """``op`` of float32 Tensors of the arrays that ``makers`` make (cast to
    float32), and ``np_op`` of the same values in float64, cast to float32."""
    import needle as ndl

    arrays = [make().astype(np.float32) for make in makers]
    got = op(*[ndl.Tensor(a, dtype="float32") for a in arrays])
    return got, np.asarray(np_op(*[a.astype(np.float64) for a in arrays])).astype(np.float32)


def first_gradient(op, forward, index, seed):
    """xs -> input ``index``'s gradient of sum(u * node * node), where node is
    op(*xs) with its data from the NumPy ``forward`` (no ``compute``) and u a
    fixed random weight.  That gradient, as backward() computes it, goes
    through op.gradient, so it is a graph of xs; differentiating it again goes
    through every gradient op that the first pass built (squaring makes it
    depend on xs even for linear ops such as transpose).  Each call builds a
    fresh node from the current data of xs."""
    import needle as ndl

    def fn(*xs):
        node = op_node(op, list(xs), forward)
        u = np.random.default_rng(seed).uniform(0.5, 1.5, node.shape).astype(node.dtype)
        (node * node).backward(ndl.Tensor(u, requires_grad=False))
        return xs[index].grad
    return fn


# --------------------------------------------------------------------------
# Optimizers, modules and training
# --------------------------------------------------------------------------

def state_values(opt, name, count):
    """The first ``count`` values of the optimizer's state dict ``name`` (one
    per parameter, in the order the parameters were first stepped)."""
    state = getattr(opt, name, None)
    assert isinstance(state, dict), f"{type(opt).__name__}.{name} should be a dict of per-parameter state"
    values = list(state.values())
    assert len(values) == count, (
        f"{type(opt).__name__}.{name} should hold one entry per parameter with a gradient ({count}), "
        f"got {len(values)}"
    )
    return values


def step_keeping_gradients(opt, params, grads, hint):
    """Step ``opt`` once per entry of ``grads``, each set by hand on
    ``params`` first; after each step every parameter must still hold the
    same ``.grad`` Tensor, with the same values."""
    __tracebackhide__ = True
    from tests.numpy_reference import set_grads

    name = type(opt).__name__
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        before = [p.grad for p in params]
        opt.step()
        for i, (p, g) in enumerate(zip(params, step_grads)):
            assert p.grad is before[i], f"{name}.step() replaced parameter {i}'s .grad"
            assert_close(p.grad, g, what=f"parameter {i}'s .grad after {name}.step() {step}", hint=hint)


def step_and_compare(opt_class, kwargs, thetas, grads, history, hint, states=(), state_tol=None):
    """Step an ``opt_class(params, **kwargs)`` optimizer over hand-made
    Parameters of initial values ``thetas``, with each step's gradients
    ``grads`` set by hand; after each step compare every parameter, then each
    named state (one value per parameter, within ``state_tol(expected)``),
    with ``history(thetas, grads, **kwargs)`` (numpy_reference's
    sgd_history / adam_history).  Returns the optimizer."""
    __tracebackhide__ = True
    from tests.numpy_reference import make_params, set_grads

    params = make_params(thetas)
    opt = opt_class(params, **kwargs)
    expected = history(thetas, grads, **kwargs)
    name = opt_class.__name__
    for step, step_grads in enumerate(grads, start=1):
        set_grads(params, step_grads)
        opt.step()
        want_thetas, *want_states = expected[step - 1]
        for i, p in enumerate(params):
            assert_close(p, want_thetas[i].astype(np.float32), tol=TOL["float32"],
                         what=f"{name}({kwargs}) parameter {i} (shape {p.shape}) after step {step}", hint=hint)
        for state_name, want in zip(states, want_states):
            for i, value in enumerate(state_values(opt, state_name, len(params))):
                assert_close(as_numpy(value), want[i].astype(np.float32), tol=state_tol(want[i]),
                             what=f"{name}.{state_name} of parameter {i} after step {step}", hint=hint)
    return opt


def all_modules(module):
    """The module and every sub-module reachable through attributes, lists, tuples and dicts."""
    import needle.nn as nn

    found, stack = [], [module]
    while stack:
        value = stack.pop()
        if isinstance(value, nn.Module):
            found.append(value)
            stack.extend(vars(value).values())
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
    return found


def train_on_batches(batches, loss_of, opt, epochs=1, step=None):
    """The course's learn_model_1d loop: ``epochs`` passes over ``batches``
    of (x, y) arrays; per batch ``opt.reset_grad()``, ``loss_of(x,
    y).backward()``, then ``step()`` (``opt.step`` unless given).  Returns the
    last batch's loss as an array."""
    for _ in range(epochs):
        for x_batch, y_batch in batches:
            opt.reset_grad()
            loss = loss_of(x_batch, y_batch)
            loss.backward()
            (step or opt.step)()
    return np.asarray(loss.numpy())
