"""Inputs and drivers shared by the modules suites (public and hidden):
layers given known parameters, parameters redrawn in their own dtype, and a
count of the draws that code makes from NumPy's global RNG.  Inputs only:
nothing here computes what a layer should return.
"""
import math

import numpy as np

from .inputs import affine, rng, seed_global


def linear(fan_in, fan_out, seed, bias=True, dtype="float32"):
    """``nn.Linear(fan_in, fan_out)`` built under ``seed_global(seed)``, then
    given a weight (fan_in, fan_out) and a bias (1, fan_out) drawn here (normal
    / sqrt(fan_in)), so that a test of its forward, its gradients or a model
    built from it does not hinge on Linear's initialization (tested on its own)."""
    import needle as ndl
    import needle.nn as nn

    seed_global(seed)
    layer = nn.Linear(fan_in, fan_out, bias=bias, dtype=dtype)
    generator = rng([seed, 1])
    scale = 1 / math.sqrt(fan_in)
    layer.weight.data = ndl.Tensor((generator.standard_normal((fan_in, fan_out)) * scale).astype(dtype), dtype=dtype)
    if bias:
        layer.bias.data = ndl.Tensor((generator.standard_normal((1, fan_out)) * scale).astype(dtype), dtype=dtype)
    return layer


def with_affine(layer, dim, seed, dtype="float32"):
    """A norm layer given ``inputs.affine(dim, seed)`` as its weight and bias."""
    import needle as ndl

    w, b = affine(dim, seed)
    layer.weight.data = ndl.Tensor(w.astype(dtype), dtype=dtype)
    layer.bias.data = ndl.Tensor(b.astype(dtype), dtype=dtype)
    return layer


def redraw(params, seed):
    """Give each Parameter of ``params`` new normal values of its own shape
    and dtype, drawn from ``seed`` (the i-th from ``rng([seed, i])``)."""
    import needle as ndl

    for i, p in enumerate(params):
        p.data = ndl.Tensor(rng([seed, i]).standard_normal(p.shape).astype(p.dtype), dtype=p.dtype)


def is_float32(t) -> bool:
    """Whether the Tensor (or array) ``t`` is float32: a fact to observe."""
    return str(t.dtype) == "float32"


def shape_of(t):
    """The shape of ``t`` as an int64 array, for ``observe``."""
    return np.array(getattr(t, "shape", ()), dtype=np.int64)


def training_flags(modules):
    """Each module's ``training`` flag, as a bool array, for ``observe``."""
    return np.array([bool(m.training) for m in modules], dtype=bool)


def _same_state(a, b):
    return a[0] == b[0] and np.array_equal(a[1], b[1]) and tuple(a[2:]) == tuple(b[2:])


def global_draws(action, limit=10_000):
    """Run ``action()``; return what it returned and how many uniform values
    (np.random.rand / random_sample draws, one each) it took from NumPy's
    global RNG: 0 for none, -1 for something else (other kinds of draws, or
    more than ``limit``).  A count of what the code did, found by stepping
    a copy of the RNG from where it was until it reaches where it is."""
    before = np.random.get_state()
    result = action()
    after = np.random.get_state()
    replay = np.random.RandomState()
    replay.set_state(before)
    for count in range(limit + 1):
        if _same_state(replay.get_state(), after):
            return result, count
        replay.random_sample()
    return result, -1
