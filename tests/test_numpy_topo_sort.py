"""The kit's proof that the reference's ``find_topo_sort`` gives the orders
the topo_sort suites ask for: each graph of the public and hidden suites
with its post-order written out by hand (depth-first from each output in
turn, inputs left to right, each node once by identity).

The suites themselves hold no expected order: they hand over what
find_topo_sort returned and the grader compares it with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
from tests.numpy_checks import assert_topo_order


def leaf(seed, shape=(2, 2)):
    return ndl.Tensor(np.random.default_rng(seed).standard_normal(shape))


# Each case builds a graph and returns (output nodes, [(node, name)] in the expected order).

def course_3aa_plus_4ba_minus_a():
    a, b = leaf(0), leaf(1)
    a3 = 3 * a
    a3a = a3 * a
    b4 = 4 * b
    b4a = b4 * a
    total = a3a + b4a
    minus_a = (-1) * a
    out = total + minus_a
    return [out], [(a, "a"), (a3, "3*a"), (a3a, "3*a*a"), (b, "b"), (b4, "4*b"), (b4a, "4*b*a"),
                   (total, "3*a*a + 4*b*a"), (minus_a, "(-1)*a"), (out, "out")]


def course_3_times_ba_plus_2_3412b_a_plus_1_5():
    a, b = leaf(0), leaf(1)
    ba = b * a
    b2 = 2.3412 * b
    b2a = b2 * a
    total = ba + b2a
    times3 = 3 * total
    out = times3 + 1.5
    return [out], [(b, "b"), (a, "a"), (ba, "b*a"), (b2, "2.3412*b"), (b2a, "(2.3412*b)*a"),
                   (total, "b*a + (2.3412*b)*a"), (times3, "3*(...)"), (out, "out")]


def course_ab_plus_b_minus_a_times_a():
    a, b = leaf(0), leaf(1)
    ab = a * b
    ab_b = ab + b
    minus_a = (-1) * a
    total = ab_b + minus_a
    out = total * a
    return [out], [(a, "a"), (b, "b"), (ab, "a*b"), (ab_b, "a*b + b"), (minus_a, "(-1)*a"),
                   (total, "a*b + b - a"), (out, "out")]


def node_reused_many_times():
    x = leaf(0)
    named = [(x, "x")]
    s = x + x
    named.append((s, "x + x"))
    for i in range(2, 21):
        s = s * x if i % 2 else s + x
        named.append((s, f"s{i}"))
    return [s], named


def diamond():
    x = leaf(0)
    d = x * 2
    e = d * d
    f = e + d
    g = f * d
    return [g], [(x, "x"), (d, "d = 2x"), (e, "e = d*d"), (f, "f = e + d"), (g, "g = f*d")]


def identity_not_value():
    a = ndl.Tensor(np.ones((2, 2)))
    b = ndl.Tensor(np.ones((2, 2)))
    out = a * b
    return [out], [(a, "a"), (b, "b (equal values to a)"), (out, "a*b")]


def long_chain():
    chain = [leaf(0)]
    for i in range(10_000):
        chain.append(chain[-1] + 1.0 if i % 2 else chain[-1] * 1.0001)
    return [chain[-1]], [(node, f"n{i}") for i, node in enumerate(chain)]


def shared_product_feeding_both_operands():
    a, b, c = leaf(0), leaf(1), leaf(2)
    p = a * b
    q = p + c
    r = q * p
    a2 = a * 2.0
    s = r + a2
    return [s], [(a, "a"), (b, "b"), (p, "p = a*b"), (c, "c"), (q, "q = p + c"), (r, "r = q*p"),
                 (a2, "a*2"), (s, "s = r + a*2")]


def right_operand_after_left_subtree():
    x, y = leaf(3), leaf(4)
    left = (x + y) * x
    xy = x + y
    right = xy * 3.0
    out = right * left
    return [out], [(x, "x"), (y, "y"), (xy, "x + y (second copy)"), (right, "(x + y)*3"),
                   (left.inputs[0], "x + y (first copy)"), (left, "(x + y)*x"), (out, "right*left")]


def self_product_and_square_chain():
    x = leaf(5)
    sq = x * x
    sq2 = sq * sq
    t = sq2 + x
    u = t * sq
    v = u + 1.5
    return [v], [(x, "x"), (sq, "x*x"), (sq2, "sq*sq"), (t, "sq2 + x"), (u, "t*sq"), (v, "u + 1.5")]


def unrelated_outputs():
    a, b, c = leaf(10), leaf(11), leaf(12)
    y1 = a * b + 2.0
    y2 = c * 3.0
    return [y2, y1], [(c, "c"), (y2, "c*3"), (a, "a"), (b, "b"), (y1.inputs[0], "a*b"), (y1, "a*b + 2")]


def deep_chain_with_a_shared_leaf():
    x, c = leaf(13, (3,)), ndl.Tensor(np.random.default_rng(14).uniform(0.999, 1.001, 3))
    named = [(x, "x"), (c, "c")]
    y = x
    for i in range(6000):
        y = y * c if i % 2 == 0 else y + 0.5
        named.append((y, f"step {i}"))
    return [y], named


def deep_chain_with_fresh_left_operands():
    y = x = leaf(15, (2,))
    leaves, steps = [], []
    for _ in range(5000):
        k = ndl.Tensor(np.ones(2))
        y = k * y
        leaves.append(k)
        steps.append(y)
    named = [(k, f"k{i}") for i, k in reversed(list(enumerate(leaves)))]
    return [y], named + [(x, "x")] + [(s, f"step {i}") for i, s in enumerate(steps)]


GRAPHS = [course_3aa_plus_4ba_minus_a, course_3_times_ba_plus_2_3412b_a_plus_1_5, course_ab_plus_b_minus_a_times_a,
          node_reused_many_times, diamond, identity_not_value, long_chain, shared_product_feeding_both_operands,
          right_operand_after_left_subtree, self_product_and_square_chain, unrelated_outputs,
          deep_chain_with_a_shared_leaf, deep_chain_with_fresh_left_operands]


@pytest.mark.parametrize("graph", GRAPHS, ids=[g.__name__ for g in GRAPHS])
def test_single_graph_orders(graph):
    outputs, expected = graph()
    assert_topo_order(outputs, expected)


def two_output_graph():
    """u = a*b; y1 = u + 1; y2 = c*u (the public suite's)."""
    a, b, c = leaf(0), leaf(1), leaf(2)
    u = a * b
    return dict(a=a, b=b, c=c, u=u, y1=u + 1.0, y2=c * u)


def three_output_graph():
    """m = a*b; n = m + c; o1 = n*0.5; o2 = d*m; o3 = o2 + n (the hidden suite's)."""
    a, b, c, d = leaf(6), leaf(7), leaf(8), leaf(9)
    m = a * b
    n = m + c
    o2 = d * m
    return dict(a=a, b=b, c=c, d=d, m=m, n=n, o1=n * 0.5, o2=o2, o3=o2 + n)


OUTPUT_LIST_CASES = [
    # (id, graph, node_list, expected order)
    ("y1-then-y2", two_output_graph, ["y1", "y2"], ["a", "b", "u", "y1", "c", "y2"]),
    ("y2-then-y1", two_output_graph, ["y2", "y1"], ["c", "a", "b", "u", "y2", "y1"]),
    ("ancestor-listed-first", two_output_graph, ["u", "y1"], ["a", "b", "u", "y1"]),
    ("ancestor-listed-after", two_output_graph, ["y1", "u"], ["a", "b", "u", "y1"]),
    ("same-output-twice", two_output_graph, ["y2", "y2"], ["c", "a", "b", "u", "y2"]),
    ("a-leaf-alone", two_output_graph, ["b"], ["b"]),
    ("o1-o2-o3", three_output_graph, ["o1", "o2", "o3"], ["a", "b", "m", "c", "n", "o1", "d", "o2", "o3"]),
    ("o3-o1", three_output_graph, ["o3", "o1"], ["d", "a", "b", "m", "o2", "c", "n", "o3", "o1"]),
    ("o2-then-o1", three_output_graph, ["o2", "o1"], ["d", "a", "b", "m", "o2", "c", "n", "o1"]),
    ("inner-node-then-output", three_output_graph, ["n", "o2"], ["a", "b", "m", "c", "n", "d", "o2"]),
    ("output-then-its-input", three_output_graph, ["o3", "m"], ["d", "a", "b", "m", "o2", "c", "n", "o3"]),
    ("leaf-then-output", three_output_graph, ["c", "o1"], ["c", "a", "b", "m", "n", "o1"]),
    ("repeated-outputs", three_output_graph, ["o1", "o3", "o1"], ["a", "b", "m", "c", "n", "o1", "d", "o2", "o3"]),
]


@pytest.mark.parametrize("graph, outputs, expected", [c[1:] for c in OUTPUT_LIST_CASES],
                         ids=[c[0] for c in OUTPUT_LIST_CASES])
def test_several_outputs_in_node_list(graph, outputs, expected):
    g = graph()
    assert_topo_order([g[name] for name in outputs], [(g[name], name) for name in expected])
