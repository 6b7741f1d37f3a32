"""Driving needle from a test: nodes whose gradient is asked without their
forward, orders of nodes by the test's own numbering, optimizer steps,
module walks and the course's training loop.  They call the code under
test; what it returns is handed over with ``check``, never judged here."""
import numpy as np

from .inputs import rng


def op_node(op, inputs):
    """The node ``op(*inputs)``, created without computing it: its data is
    computed (by the op's own ``compute``) only if something asks for it,
    so a test of ``op.gradient`` needs the op's forward only when the
    gradient reads the node's value, and never the engine."""
    import needle.autograd as autograd

    lazy, autograd.LAZY_MODE = autograd.LAZY_MODE, True
    try:
        return autograd.Tensor.make_from_op(op, list(inputs))
    finally:
        autograd.LAZY_MODE = lazy


def out_grad(shape, seed, dtype="float32"):
    """An upstream gradient of ``shape``: uniform in [0.5, 1.5), so that a
    gradient that ignores it, or sums it wrongly, shows."""
    import needle as ndl

    return ndl.Tensor(rng(seed).uniform(0.5, 1.5, shape).astype(dtype), requires_grad=False)


def op_gradients(op, inputs, out_shape, seed=0):
    """``op.gradient_as_tuple(w, node)`` for the lazy node ``op(*inputs)``
    and an upstream gradient w of ``out_shape`` (the op's output shape, so
    that the forward need not run) in the inputs' dtype."""
    __tracebackhide__ = True
    node = op_node(op, inputs)
    grads = op.gradient_as_tuple(out_grad(out_shape, seed, inputs[0].dtype), node)
    if len(grads) != len(inputs):
        raise AssertionError(f"{type(op).__name__}.gradient returned {len(grads)} gradient(s) for "
                             f"{len(inputs)} input(s); return one per input, in order")
    return grads


def numbering(named, seed=0):
    """The nodes of ``named`` (name to node) and their names, in an order
    drawn from ``seed``: a numbering that says nothing about any graph
    order, for ``order_of``."""
    names = sorted(named)
    names = [names[i] for i in rng(seed).permutation(len(names))]
    return [named[name] for name in names], names


def order_of(got, nodes):
    """The numbers (positions in ``nodes``) of the nodes of ``got``, by
    identity; -1 for a node not among them."""
    if not isinstance(got, (list, tuple)):
        raise AssertionError(f"expected a list of nodes, got {type(got).__name__}")
    positions = {id(node): i for i, node in enumerate(nodes)}
    return np.array([positions.get(id(n), -1) for n in got], dtype=np.int64)


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
    last batch's loss."""
    for _ in range(epochs):
        for x_batch, y_batch in batches:
            opt.reset_grad()
            loss = loss_of(x_batch, y_batch)
            loss.backward()
            (step or opt.step)()
    return loss
