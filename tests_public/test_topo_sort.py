"""Question "topological sort": ``needle.autograd.find_topo_sort``.

The expected order is the post-order depth-first search that visits each
node's inputs left to right and each node once, by identity
(needle_api.md section 1.4).  Graphs are built only from the given ops
(EWiseAdd, AddScalar, EWiseMul, MulScalar), so that these tests need no other
TODO code: the course graphs use ``-`` (a Negate node) and ``@``; here the
Negate node becomes a ``(-1) * a`` MulScalar node and ``@`` becomes ``*``,
which gives the same graph shapes.  No gradient is ever taken.
"""
import numpy as np
import pytest

import needle as ndl
from needle.autograd import find_topo_sort
from tests_public.helpers import assert_topo_order
from tests_public.recording import Recorder


def leaf(seed):
    return ndl.Tensor(np.random.default_rng(seed).standard_normal((2, 2)))


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
    assert_topo_order([out], [
        (a, "a"), (a3, "3*a"), (a3a, "3*a*a"), (b, "b"), (b4, "4*b"), (b4a, "4*b*a"),
        (total, "3*a*a + 4*b*a"), (minus_a, "(-1)*a"), (out, "out"),
    ])


def test_course_graph_3_times_ba_plus_2_3412b_a_plus_1_5():
    # 3*((b@a) + (2.3412*b)@a) + 1.5, with @ written as *
    a, b = leaf(0), leaf(1)
    ba = b * a
    b2 = 2.3412 * b
    b2a = b2 * a
    total = ba + b2a
    times3 = 3 * total
    out = times3 + 1.5
    assert_topo_order([out], [
        (b, "b"), (a, "a"), (ba, "b*a"), (b2, "2.3412*b"), (b2a, "(2.3412*b)*a"),
        (total, "b*a + (2.3412*b)*a"), (times3, "3*(...)"), (out, "out"),
    ])


def test_course_graph_ab_plus_b_minus_a_times_a():
    # (a@b + b - a) @ a, with @ written as * and "- a" as "+ (-1)*a"
    a, b = leaf(0), leaf(1)
    ab = a * b
    ab_b = ab + b
    minus_a = (-1) * a
    total = ab_b + minus_a
    out = total * a
    assert_topo_order([out], [
        (a, "a"), (b, "b"), (ab, "a*b"), (ab_b, "a*b + b"), (minus_a, "(-1)*a"),
        (total, "a*b + b - a"), (out, "out"),
    ])


def _two_output_graph():
    a, b, c = leaf(0), leaf(1), leaf(2)
    u = a * b
    y1 = u + 1.0
    y2 = c * u
    return dict(a=a, b=b, c=c, u=u, y1=y1, y2=y2)


OUTPUT_LIST_CASES = [
    ("y1-then-y2", ["y1", "y2"], ["a", "b", "u", "y1", "c", "y2"]),
    ("y2-then-y1", ["y2", "y1"], ["c", "a", "b", "u", "y2", "y1"]),
    ("ancestor-listed-first", ["u", "y1"], ["a", "b", "u", "y1"]),
    ("ancestor-listed-after", ["y1", "u"], ["a", "b", "u", "y1"]),
    ("same-output-twice", ["y2", "y2"], ["c", "a", "b", "u", "y2"]),
    ("a-leaf-alone", ["b"], ["b"]),
]


@pytest.mark.parametrize(
    "outputs, expected", [c[1:] for c in OUTPUT_LIST_CASES], ids=[c[0] for c in OUTPUT_LIST_CASES]
)
def test_several_outputs_in_node_list(outputs, expected):
    g = _two_output_graph()  # u = a*b; y1 = u + 1; y2 = c*u
    assert_topo_order(
        [g[name] for name in outputs], [(g[name], name) for name in expected],
        hint="Nodes shared by several outputs appear once, where the first DFS reaches them.",
    )


def test_node_reused_many_times_appears_once():
    x = leaf(0)
    named = [(x, "x")]
    s = x + x
    named.append((s, "x + x"))
    for i in range(2, 21):
        s = s * x if i % 2 else s + x
        named.append((s, f"s{i}"))
    assert_topo_order([s], named)


def test_diamond_graph():
    x = leaf(0)
    d = x * 2
    e = d * d
    f = e + d
    g = f * d
    assert_topo_order([g], [(x, "x"), (d, "d = 2x"), (e, "e = d*d"), (f, "f = e + d"), (g, "g = f*d")])


def test_nodes_are_told_apart_by_identity_not_value():
    a = ndl.Tensor(np.ones((2, 2)))
    b = ndl.Tensor(np.ones((2, 2)))
    out = a * b
    assert_topo_order([out], [(a, "a"), (b, "b (equal values to a)"), (out, "a*b")])


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
    positions = {id(node): i for i, node in enumerate(chain)}
    Recorder.current("order", np.array([positions.get(id(n), -1) for n in got], dtype=np.int64))
    assert len(got) == len(chain) and all(g is c for g, c in zip(got, chain)), (
        f"find_topo_sort on a chain x -> n1 -> ... -> n10000 should return the chain in order "
        f"({len(chain)} nodes); got {len(got)} nodes"
        + ("" if len(got) != len(chain) else
           f", first out of place at position {next(i for i, (g, c) in enumerate(zip(got, chain)) if g is not c)}")
    )
