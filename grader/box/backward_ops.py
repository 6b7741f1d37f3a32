"""Inputs shared by the public and hidden tests of question "backward ops":
the op cases (an op, its inputs' specs and its output's shape) and their
input Tensors, and what to say about each op's gradient.  Inputs only:
nothing here computes what a gradient should be.

A case gives its output's shape so that the upstream gradient can be made
without running the op's forward (``drive.op_gradients`` builds a lazy
node): the op's own ``compute`` runs only if its gradient reads the node.
"""
import numpy as np

from .inputs import POSITIVE, make_arrays


def case(name, op, *specs, out=None):
    """A ``pytest.param(op, specs, out_shape)`` named ``name``: the op, its
    inputs' (kind, shape) specs, and the shape of its output, ``out`` (by
    default, for elementwise ops, the inputs' shapes broadcast together).
    The case belongs to its op's behaviour (named by the op's class): one
    test function covers every op, and a bug breaks one op's gradient."""
    import pytest

    out_shape = tuple(out) if out is not None else tuple(np.broadcast_shapes(*[shape for _, shape in specs]))
    return pytest.param(op, tuple(specs), out_shape, id=name, marks=pytest.mark.behaviour(type(op).__name__))


def make_inputs(specs, seed, dtype="float64", positive=POSITIVE):
    """One Tensor of ``dtype`` per (kind, shape) spec, drawn in turn under ``seed``."""
    import needle as ndl

    return [ndl.Tensor(a.astype(dtype), dtype=dtype) for a in make_arrays(specs, seed, positive)]


# What each op's gradient is, said to a student whose value is wrong.
HINTS = {
    "PowerScalar": "d(a**s)/da = s * a**(s-1), times out_grad (for every real s, 0 and 1 included)",
    "EWisePow": "d(a**b)/da = b * a**(b-1) and d(a**b)/db = a**b * log(a), each times out_grad; sum each "
                "over the axes that broadcasting added to that input, then reshape to its shape",
    "EWiseDiv": "d(a/b)/da = 1/b and d(a/b)/db = -a/b**2, each times out_grad; sum each over the axes that "
                "broadcasting added to that input, then reshape to its shape",
    "DivScalar": "out_grad / scalar",
    "Transpose": "swap the same two axes of out_grad back (the last two when axes is None)",
    "Reshape": "reshape out_grad to the input's shape",
    "BroadcastTo": "sum out_grad over the axes that broadcasting added (prepended axes and the input's "
                   "size-1 axes), then reshape to the input's shape",
    "Summation": "reshape out_grad to the input's shape with the summed axes as size 1 (an int axis and "
                 "negative axes too), then broadcast it to the input's shape",
    "MatMul": "out_grad @ b^T and a^T @ out_grad (transposing the last two axes), each summed over the "
              "batch axes that broadcasting added to that input",
    "Negate": "-out_grad",
    "Log": "out_grad / a",
    "Exp": "out_grad * exp(a)",
    "ReLU": "out_grad where a > 0, and 0 elsewhere (at exactly 0 too)",
    "LogSumExp": "out_grad * softmax(z) over the reduced axes, with out_grad reshaped to keep them as size 1; "
                 "compute softmax as exp(z - logsumexp(z)), never exp(z) / sum(exp(z))",
    "LogSoftmax": "out_grad - softmax(z) * sum(out_grad) over the last axis, with a stable softmax such as "
                  "exp(logsoftmax(z))",
}


def hint_for(op) -> str:
    return HINTS.get(type(op).__name__, "one partial adjoint per input, of that input's shape, built from needle ops")
