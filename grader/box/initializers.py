"""Inputs of the "initializers" question: which initializers there are,
test ids, and an initializer called under a seeded global RNG.  Inputs
only: nothing here says what an initializer should return."""
import numpy as np

from .inputs import seed_global

NAMES = ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal")
UNIFORM = ("xavier_uniform", "kaiming_uniform")
NORMAL = ("xavier_normal", "kaiming_normal")
XAVIER = ("xavier_uniform", "xavier_normal")
KAIMING = ("kaiming_uniform", "kaiming_normal")

# The basic initializer each one draws through (for the hints).
DRAW = {"xavier_uniform": "rand", "kaiming_uniform": "rand", "xavier_normal": "randn", "kaiming_normal": "randn"}


def case_ids(cases):
    """Test ids of (name, seed, fan_in, fan_out, kwargs) cases."""
    return [f"{n}-seed{s}-{i}x{o}" + "".join(f"-{k}={v}" for k, v in kw.items()) for n, s, i, o, kw in cases]


def seeded_init(name, seed, *args, **kwargs):
    """needle.init.<name>(*args, **kwargs) right after seed_global(seed)."""
    import needle as ndl

    seed_global(seed)
    return getattr(ndl.init, name)(*args, **kwargs)


def rng_position():
    """Where NumPy's global stream stands: [position in the key, whether a
    Gaussian is cached] (a fact, for ``observe``)."""
    state = np.random.get_state()
    return np.array([state[2], state[3]], dtype=np.int64)


def by_initializer(cases, ids):
    """``cases`` (tuples whose first field is an initializer's name) as
    pytest params, each in the behaviour of its initializer."""
    import pytest

    return [pytest.param(*case, id=i, marks=pytest.mark.behaviour(case[0])) for case, i in zip(cases, ids)]
