"""Hidden tests, question "topological sort": ``needle.autograd.find_topo_sort``
on new graphs.

The order asked for is the post-order depth-first search that visits each
node's inputs left to right and each node once, by identity, starting from
each node of ``node_list`` in turn.  Graphs are built only from the given ops
(EWiseAdd, AddScalar, EWiseMul, MulScalar: ``+`` and ``*`` with Tensors and
numbers), so that no other TODO code runs.  Each test hands over the order it
got, each node by a number that the test drew at random: the order itself is
compared with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.drive import numbering, order_of
from grader.box.inputs import normal, rng, sample
from grader.box.record import check
from needle.autograd import find_topo_sort

HINT = ("depth-first from each output in node_list, visit a node's inputs left to right, append a node "
        "after all its inputs, and visit each node (by identity) once")


def leaf(seed, shape=(2, 2)):
    return ndl.Tensor(normal(shape, seed))


def check_topo_sort(outputs, named, hint=HINT):
    """find_topo_sort(outputs), handed over as the names of ``named`` (name to node)."""
    nodes, labels = numbering(named)
    check(order_of(find_topo_sort(outputs), nodes), what="find_topo_sort's order", labels=labels, hint=hint)


@pytest.mark.behaviour("each node once, by identity")
def test_shared_product_feeding_both_operands():
    """A product reused on both sides of later ops, with a scalar branch."""
    a, b, c = leaf(0), leaf(1), leaf(2)
    p = a * b
    q = p + c
    r = q * p
    a2 = a * 2.0
    s = r + a2
    check_topo_sort([s], {"a": a, "b": b, "p = a*b": p, "c": c, "q = p + c": q, "r = q*p": r,
                          "a*2": a2, "s = r + a*2": s})


@pytest.mark.behaviour("post-order, inputs left to right")
def test_right_operand_is_visited_after_the_left_subtree():
    """The right input's subgraph shares nodes with the left one."""
    x, y = leaf(3), leaf(4)
    left = (x + y) * x
    xy = x + y
    right = xy * 3.0
    out = right * left  # right operand listed first in the product
    xy_left = left.inputs[0]
    check_topo_sort([out], {"x": x, "y": y, "x + y (second copy)": xy, "(x + y)*3": right,
                            "x + y (first copy)": xy_left, "(x + y)*x": left, "right*left": out},
                    hint=HINT + "; equal-valued nodes built separately are different nodes")


@pytest.mark.behaviour("post-order, inputs left to right")
def test_tree_lists_the_left_subtree_then_the_right_one():
    """A tree without shared nodes: each node after its inputs, left subtree first."""
    a, b, c, d = leaf(16), leaf(17), leaf(18), leaf(19)
    ab = a * b
    cd = c + d
    half = cd * 0.5
    out = ab * half
    check_topo_sort([out], {"a": a, "b": b, "a*b": ab, "c": c, "d": d, "c + d": cd, "(c + d)*0.5": half,
                            "out": out})


@pytest.mark.behaviour("each node once, by identity")
def test_self_product_and_square_chain():
    """A node multiplied by itself, then combined with its own inputs."""
    x = leaf(5)
    sq = x * x
    sq2 = sq * sq
    t = sq2 + x
    u = t * sq
    v = u + 1.5
    check_topo_sort([v], {"x": x, "x*x": sq, "sq*sq": sq2, "sq2 + x": t, "t*sq": u, "u + 1.5": v})


def _three_output_graph():
    a, b, c, d = leaf(6), leaf(7), leaf(8), leaf(9)
    m = a * b
    n = m + c
    o1 = n * 0.5
    o2 = d * m
    o3 = o2 + n
    return dict(a=a, b=b, c=c, d=d, m=m, n=n, o1=o1, o2=o2, o3=o3)


OUTPUT_LISTS = {
    "o1-o2-o3": ["o1", "o2", "o3"],
    "o3-o1": ["o3", "o1"],
    "o2-then-o1": ["o2", "o1"],
    "inner-node-then-output": ["n", "o2"],
    "output-then-its-input": ["o3", "m"],
    "leaf-then-output": ["c", "o1"],
    "repeated-outputs": ["o1", "o3", "o1"],
}


@pytest.mark.behaviour("several outputs in node_list")
@pytest.mark.parametrize("outputs", OUTPUT_LISTS.values(), ids=OUTPUT_LISTS.keys())
def test_several_outputs_share_subexpressions(outputs):
    """Several outputs in node_list, sharing nodes, listed in various orders."""
    g = _three_output_graph()  # m = a*b; n = m + c; o1 = n*0.5; o2 = d*m; o3 = o2 + n
    check_topo_sort([g[name] for name in outputs], g,
                    hint=HINT + "; a node reached from an earlier output is not added again")


@pytest.mark.behaviour("several outputs in node_list")
def test_unrelated_outputs_keep_their_own_order():
    """Two disconnected graphs passed together."""
    a, b, c = leaf(10), leaf(11), leaf(12)
    y1 = a * b + 2.0
    y1_inner = y1.inputs[0]
    y2 = c * 3.0
    check_topo_sort([y2, y1], {"c": c, "c*3": y2, "a": a, "b": b, "a*b": y1_inner, "a*b + 2": y1})


@pytest.mark.behaviour("deep graphs without recursion")
def test_deep_chain_with_a_shared_leaf():
    """A 6,000-op chain that reuses one leaf at every other step."""
    x, c = leaf(13, (3,)), ndl.Tensor(sample("near-one", (3,), rng(14)))
    named = {"x": x, "c": c}
    y = x
    for i in range(6000):
        y = y * c if i % 2 == 0 else y + 0.5
        named[f"step {i}"] = y
    check_topo_sort([y], named, hint=HINT + "; keep an explicit stack: 6,000 nested calls exceed Python's "
                                            "recursion limit")


@pytest.mark.behaviour("deep graphs without recursion")
def test_deep_chain_with_fresh_left_operands():
    """A 5,000-op chain whose left operand is a new leaf at every step."""
    x = leaf(15, (2,))
    named = {"x": x}
    y = x
    for i in range(5000):
        k = ndl.Tensor(np.ones(2))  # equal values: nodes are told apart by identity
        y = k * y
        named[f"k{i}"] = k
        named[f"step {i}"] = y
    check_topo_sort([y], named, hint=HINT + "; inputs are visited left to right, also with an explicit stack")
