"""Inputs and drivers shared by the reverse-mode AD suites (public and
hidden): constants, the engine called on a node whose forward has not run,
op cases for the second-order tests, and the first gradient that those tests
differentiate again.  They call the code under test; what it returns is
handed over with ``check`` by the tests, never judged here."""
import pytest

from .drive import op_node, out_grad


def const(array):
    """A Tensor that needs no gradient."""
    import needle as ndl

    return ndl.Tensor(array, requires_grad=False)


def backward(node, grad):
    """``node.backward(grad)`` without reading ``node``'s shape first.

    ``Tensor.backward`` compares ``grad``'s shape with ``node.shape``, which
    would run a lazy node's forward (another question's TODO) before the
    engine; this calls the engine itself, ``compute_gradient_of_variables``,
    as ``backward`` does after that check.  ``grad`` must have the node's
    shape (the tests pass it explicitly)."""
    from needle.autograd import compute_gradient_of_variables

    compute_gradient_of_variables(node, grad)


def op_case(name, op, out_shape, *specs):
    """A ``pytest.param(op, out_shape, specs)`` named ``name``: the op, the
    shape of its output (given, so that no forward has to run to know it),
    and its inputs' (kind, shape) specs (see ``inputs.sample``)."""
    return pytest.param(op, tuple(out_shape), specs, id=name)


def first_gradient(op, xs, out_shape, index, seed):
    """Input ``index``'s gradient of sum(u * y * y), with y = op(*xs) a lazy
    node of shape ``out_shape`` and u an out_grad drawn from ``seed``, as the
    engine computes it: it goes through ``op.gradient``, so it is a graph of
    xs, and differentiating it again goes through every gradient op that the
    first pass built (squaring makes it depend on xs even for linear ops
    such as transpose).  Each call builds a fresh node.  Returns
    ``xs[index].grad``."""
    import needle as ndl

    y = op_node(op, xs)
    square = op_node(ndl.ops.EWiseMul(), [y, y])
    backward(square, out_grad(out_shape, seed, xs[0].dtype))
    return grad_of(xs[index])


def grad_of(node):
    """``node.grad``, or None when backward() gave the node none (``check``
    then says that no Tensor came)."""
    return getattr(node, "grad", None)
