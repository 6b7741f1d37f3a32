"""Hidden tests, question "topological sort": ``needle.autograd.find_topo_sort``
on new graphs.

The expected order is the post-order depth-first search that visits each
node's inputs left to right and each node once, by identity, starting from
each node of ``node_list`` in turn.  Graphs are built only from the given ops
(EWiseAdd, AddScalar, EWiseMul, MulScalar: ``+`` and ``*`` with Tensors and
numbers), so that no other TODO code runs.  Each test hands over the position,
in the expected order, of every node the student's sort returned.
"""
import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import assert_topo_order


def leaf(seed, shape=(2, 2)):
    return ndl.Tensor(np.random.default_rng(seed).standard_normal(shape))


def test_shared_product_feeding_both_operands():
    """A product reused on both sides of later ops, with a scalar branch."""
    a, b, c = leaf(0), leaf(1), leaf(2)
    p = a * b
    q = p + c
    r = q * p
    a2 = a * 2.0
    s = r + a2
    assert_topo_order([s], [
        (a, "a"), (b, "b"), (p, "p = a*b"), (c, "c"), (q, "q = p + c"), (r, "r = q*p"),
        (a2, "a*2"), (s, "s = r + a*2"),
    ])


def test_right_operand_is_visited_after_the_left_subtree():
    """The right input's subgraph shares nodes with the left one."""
    x, y = leaf(3), leaf(4)
    left = (x + y) * x
    xy = x + y
    right = xy * 3.0
    out = right * left  # right operand listed first in the product
    xy_left = left.inputs[0]
    assert_topo_order([out], [
        (x, "x"), (y, "y"), (xy, "x + y (second copy)"), (right, "(x + y)*3"),
        (xy_left, "x + y (first copy)"), (left, "(x + y)*x"), (out, "right*left"),
    ], hint="Equal-valued nodes built separately are different nodes.")


def test_self_product_and_square_chain():
    """A node multiplied by itself, then combined with its own inputs."""
    x = leaf(5)
    sq = x * x
    sq2 = sq * sq
    t = sq2 + x
    u = t * sq
    v = u + 1.5
    assert_topo_order([v], [
        (x, "x"), (sq, "x*x"), (sq2, "sq*sq"), (t, "sq2 + x"), (u, "t*sq"), (v, "u + 1.5"),
    ])


def _three_output_graph():
    a, b, c, d = leaf(6), leaf(7), leaf(8), leaf(9)
    m = a * b
    n = m + c
    o1 = n * 0.5
    o2 = d * m
    o3 = o2 + n
    return dict(a=a, b=b, c=c, d=d, m=m, n=n, o1=o1, o2=o2, o3=o3)


OUTPUT_LIST_CASES = [
    ("o1-o2-o3", ["o1", "o2", "o3"], ["a", "b", "m", "c", "n", "o1", "d", "o2", "o3"]),
    ("o3-o1", ["o3", "o1"], ["d", "a", "b", "m", "o2", "c", "n", "o3", "o1"]),
    ("o2-then-o1", ["o2", "o1"], ["d", "a", "b", "m", "o2", "c", "n", "o1"]),
    ("inner-node-then-output", ["n", "o2"], ["a", "b", "m", "c", "n", "d", "o2"]),
    ("output-then-its-input", ["o3", "m"], ["d", "a", "b", "m", "o2", "c", "n", "o3"]),
    ("leaf-then-output", ["c", "o1"], ["c", "a", "b", "m", "n", "o1"]),
    ("repeated-outputs", ["o1", "o3", "o1"], ["a", "b", "m", "c", "n", "o1", "d", "o2", "o3"]),
]


@pytest.mark.parametrize(
    "outputs, expected", [c[1:] for c in OUTPUT_LIST_CASES], ids=[c[0] for c in OUTPUT_LIST_CASES]
)
def test_several_outputs_share_subexpressions(outputs, expected):
    """Several outputs in node_list, sharing nodes, listed in various orders."""
    g = _three_output_graph()  # m = a*b; n = m + c; o1 = n*0.5; o2 = d*m; o3 = o2 + n
    assert_topo_order([g[name] for name in outputs], [(g[name], name) for name in expected],
                      hint="A node reached from an earlier output is not added again.")


def test_unrelated_outputs_keep_their_own_order():
    """Two disconnected graphs passed together."""
    a, b, c = leaf(10), leaf(11), leaf(12)
    y1 = a * b + 2.0
    y1_inner = y1.inputs[0]
    y2 = c * 3.0
    assert_topo_order([y2, y1], [
        (c, "c"), (y2, "c*3"), (a, "a"), (b, "b"), (y1_inner, "a*b"), (y1, "a*b + 2"),
    ])


def test_deep_chain_with_a_shared_leaf():
    """A 6,000-op chain that reuses one leaf at every other step."""
    x, c = leaf(13, (3,)), ndl.Tensor(np.random.default_rng(14).uniform(0.999, 1.001, 3))
    named = [(x, "x"), (c, "c")]
    y = x
    for i in range(6000):
        y = y * c if i % 2 == 0 else y + 0.5
        named.append((y, f"step {i}"))
    assert_topo_order([y], named,
                      hint="Keep an explicit stack: 6,000 nested calls exceed Python's recursion limit.")


def test_deep_chain_with_fresh_left_operands():
    """A 5,000-op chain whose left operand is a new leaf at every step."""
    x = leaf(15, (2,))
    y = x
    leaves, steps = [], []
    for i in range(5000):
        k = ndl.Tensor(np.ones(2))  # equal values: nodes are told apart by identity
        y = k * y
        leaves.append(k)
        steps.append(y)
    named = [(k, f"k{i}") for i, k in reversed(list(enumerate(leaves)))]
    named += [(x, "x")] + [(s, f"step {i}") for i, s in enumerate(steps)]
    assert_topo_order([y], named,
                      hint="Inputs are visited left to right, also with an explicit stack.")
