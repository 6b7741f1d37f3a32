"""Question "topological sort": ``needle.autograd.find_topo_sort``.

The order asked for is the post-order depth-first search that visits each
node's inputs left to right and each node once, by identity (docs/API.md
section 2.5).  Graphs are built only from the given ops
(EWiseAdd, AddScalar, EWiseMul, MulScalar), so that these tests need no other
TODO code: the course graphs use ``-`` (a Negate node) and ``@``; here the
Negate node becomes a ``(-1) * a`` MulScalar node and ``@`` becomes ``*``,
which gives the same graph shapes.  No gradient is ever taken.

Each test hands over the order it got, each node by a number that the test
drew at random: the order itself is compared with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.drive import numbering, order_of
from grader.box.inputs import normal
from grader.box.record import check
from needle.autograd import find_topo_sort

HINT = ("depth-first from each output in node_list, visit a node's inputs left to right, append a node "
        "after all its inputs, and visit each node (by identity) once")


def leaf(seed):
    return ndl.Tensor(normal((2, 2), seed))


def check_topo_sort(outputs, named, hint=HINT):
    """find_topo_sort(outputs), handed over as the names of ``named`` (name to node)."""
    nodes, labels = numbering(named)
    check(order_of(find_topo_sort(outputs), nodes), what="find_topo_sort's order", labels=labels, hint=hint)


@pytest.mark.behaviour("post-order, inputs left to right")
def test_course_graph_3aa_plus_4ba_minus_a():
    # 3*a*a + 4*b*a - a, with "- a" written as "+ (-1)*a"
    a, b = leaf(0), leaf(1)
    a3 = 3 * a
    a3a = a3 * a
    b4 = 4 * b
    b4a = b4 * a
    total = a3a + b4a
    minus_a = (-1) * a
    out = total + minus_a
    check_topo_sort([out], {"a": a, "3*a": a3, "3*a*a": a3a, "b": b, "4*b": b4, "4*b*a": b4a,
                            "3*a*a + 4*b*a": total, "(-1)*a": minus_a, "out": out})


@pytest.mark.behaviour("post-order, inputs left to right")
def test_course_graph_3_times_ba_plus_2_3412b_a_plus_1_5():
    # 3*((b@a) + (2.3412*b)@a) + 1.5, with @ written as *
    a, b = leaf(0), leaf(1)
    ba = b * a
    b2 = 2.3412 * b
    b2a = b2 * a
    total = ba + b2a
    times3 = 3 * total
    out = times3 + 1.5
    check_topo_sort([out], {"b": b, "a": a, "b*a": ba, "2.3412*b": b2, "(2.3412*b)*a": b2a,
                            "b*a + (2.3412*b)*a": total, "3*(...)": times3, "out": out})


@pytest.mark.behaviour("post-order, inputs left to right")
def test_course_graph_ab_plus_b_minus_a_times_a():
    # (a@b + b - a) @ a, with @ written as * and "- a" as "+ (-1)*a"
    a, b = leaf(0), leaf(1)
    ab = a * b
    ab_b = ab + b
    minus_a = (-1) * a
    total = ab_b + minus_a
    out = total * a
    check_topo_sort([out], {"a": a, "b": b, "a*b": ab, "a*b + b": ab_b, "(-1)*a": minus_a,
                            "a*b + b - a": total, "out": out})


def _two_output_graph():
    a, b, c = leaf(0), leaf(1), leaf(2)
    u = a * b
    y1 = u + 1.0
    y2 = c * u
    return dict(a=a, b=b, c=c, u=u, y1=y1, y2=y2)


OUTPUT_LISTS = {
    "y1-then-y2": ["y1", "y2"],
    "y2-then-y1": ["y2", "y1"],
    "ancestor-listed-first": ["u", "y1"],
    "ancestor-listed-after": ["y1", "u"],
    "same-output-twice": ["y2", "y2"],
    "a-leaf-alone": ["b"],
}


@pytest.mark.behaviour("several outputs in node_list")
@pytest.mark.parametrize("outputs", OUTPUT_LISTS.values(), ids=OUTPUT_LISTS.keys())
def test_several_outputs_in_node_list(outputs):
    g = _two_output_graph()  # u = a*b; y1 = u + 1; y2 = c*u
    check_topo_sort([g[name] for name in outputs], g,
                    hint=HINT + "; nodes shared by several outputs appear once, where the first DFS reaches them")


@pytest.mark.behaviour("each node once, by identity")
def test_node_reused_many_times_appears_once():
    x = leaf(0)
    named = {"x": x}
    s = x + x
    named["x + x"] = s
    for i in range(2, 21):
        s = s * x if i % 2 else s + x
        named[f"s{i}"] = s
    check_topo_sort([s], named)


@pytest.mark.behaviour("each node once, by identity")
def test_diamond_graph():
    x = leaf(0)
    d = x * 2
    e = d * d
    f = e + d
    g = f * d
    check_topo_sort([g], {"x": x, "d = 2x": d, "e = d*d": e, "f = e + d": f, "g = f*d": g})


@pytest.mark.behaviour("each node once, by identity")
def test_nodes_are_told_apart_by_identity_not_value():
    a = ndl.Tensor(np.ones((2, 2)))
    b = ndl.Tensor(np.ones((2, 2)))
    out = a * b
    check_topo_sort([out], {"a": a, "b (equal values to a)": b, "a*b": out})


@pytest.mark.behaviour("deep graphs without recursion")
def test_long_chain_sorts_without_recursion_error():
    x = leaf(0)
    chain = [x]
    for i in range(10_000):
        chain.append(chain[-1] + 1.0 if i % 2 else chain[-1] * 1.0001)
    try:
        got = find_topo_sort([chain[-1]])
    except RecursionError:
        pytest.fail(
            "find_topo_sort hit RecursionError on a chain of 10,000 ops; keep an explicit "
            "stack of (node, next input) pairs instead of recursing",
            pytrace=False,
        )
    nodes, labels = numbering({f"n{i}": node for i, node in enumerate(chain)})
    check(order_of(got, nodes), what="find_topo_sort's order of a chain x -> n1 -> ... -> n10000",
          labels=labels, hint=HINT)
