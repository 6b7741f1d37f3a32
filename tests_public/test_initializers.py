"""Question "initializers": ``needle.init.xavier_uniform``, ``xavier_normal``,
``kaiming_uniform``, ``kaiming_normal``.

The RNG contract (needle_api.md section 3): each initializer makes exactly one
draw from NumPy's legacy global stream, ``np.random.rand(fan_in, fan_out)`` or
``np.random.randn(fan_in, fan_out)`` (through ``init.rand`` / ``init.randn``),
then scales it.  Expected values apply the documented formula to that one draw,
computed with NumPy under the same seed (numpy_reference.py).
"""
import math

import numpy as np
import pytest

import needle as ndl
from tests_public.helpers import assert_close
from tests_public.numpy_reference import INITIALIZERS, init_case_ids, init_draw, init_expected, seeded_init

NAMES = list(INITIALIZERS)

VALUE_CASES = [
    # The course's seed-42 3x5 cases, the hidden seed-0 2x5 shape, and non-square shapes.
    ("kaiming_uniform", 42, 3, 5, {}),
    ("kaiming_normal", 42, 3, 5, {}),
    ("xavier_uniform", 42, 3, 5, {"gain": 1.5}),
    ("xavier_normal", 42, 3, 5, {"gain": 0.33}),
    *[(name, 0, 2, 5, {}) for name in NAMES],
    *[(name, 7, 7, 4, {}) for name in NAMES],
    ("xavier_uniform", 3, 4, 9, {"gain": 2.0}),
    ("xavier_normal", 3, 9, 4, {"gain": 0.5}),
]


@pytest.mark.parametrize(
    "name, seed, fan_in, fan_out, kwargs", VALUE_CASES,
    ids=init_case_ids(VALUE_CASES),
)
def test_seeded_values_follow_the_formula_on_one_draw(name, seed, fan_in, fan_out, kwargs):
    expected = init_expected(name, seed, fan_in, fan_out, kwargs)
    got = seeded_init(name, seed, fan_in, fan_out, **kwargs)
    kind = INITIALIZERS[name][1](fan_in, fan_out, **kwargs)[0]
    assert_close(
        got, expected, what=f"{name}({fan_in}, {fan_out}, {kwargs}) under np.random.seed({seed})",
        hint=f"draw once with init.{kind}({fan_in}, {fan_out}, ...) (np.random.{kind}), "
        f"with the bound or std of needle_api.md section 3.3",
    )


@pytest.mark.parametrize("name", NAMES)
def test_default_result_is_a_float32_tensor_of_shape_fan_in_fan_out(name):
    got = seeded_init(name, 0, 6, 4)
    assert isinstance(got, ndl.Tensor), f"{name} should return a needle Tensor, got {type(got).__name__}"
    assert got.shape == (6, 4), f"{name}(6, 4) should have shape (fan_in, fan_out) = (6, 4), got {got.shape}"
    assert got.dtype == np.float32, (
        f"{name}(6, 4) should be float32 by default, got {got.dtype}; rand/randn default to float32"
    )


@pytest.mark.parametrize("requires_grad", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_dtype_and_requires_grad_pass_through(name, requires_grad):
    expected = init_expected(name, 5, 4, 3, {}, dtype="float64")
    got = seeded_init(name, 5, 4, 3, dtype="float64", requires_grad=requires_grad)
    assert_close(got, expected, what=f"{name}(4, 3, dtype='float64')",
                 hint="pass extra keyword arguments (dtype, device, requires_grad) on to rand/randn")
    assert got.requires_grad is requires_grad, (
        f"{name}(4, 3, requires_grad={requires_grad}) gave requires_grad={got.requires_grad}; "
        f"pass it on to rand/randn"
    )


@pytest.mark.parametrize("name", NAMES)
def test_makes_exactly_one_draw_of_shape_fan_in_fan_out(name):
    kind = INITIALIZERS[name][1](5, 3)[0]
    np.random.seed(11)
    init_draw(kind, (5, 3))
    expected_state = np.random.get_state()
    seeded_init(name, 11, 5, 3)
    state = np.random.get_state()
    assert_close(
        state[1], expected_state[1], what=f"NumPy's global RNG key after {name}(5, 3)",
        hint=f"make exactly one np.random.{kind}(5, 3) draw (through init.{kind}), no other",
    )
    assert state[2:] == expected_state[2:], (
        f"NumPy's global RNG position after {name}(5, 3) is {state[2:]}, but one "
        f"np.random.{kind}(5, 3) leaves {expected_state[2:]}: make exactly one draw of that shape"
    )


LARGE_FANS = (400, 600)


def large_draw(name, seed):
    """``name(400, 600)`` under ``np.random.seed(seed)``, as float64, and its
    documented bound or std."""
    scale = INITIALIZERS[name][1](*LARGE_FANS)[2]
    return seeded_init(name, seed, *LARGE_FANS).numpy().astype(np.float64), scale


@pytest.mark.parametrize("name", ["xavier_uniform", "kaiming_uniform"])
def test_uniform_large_draw_fills_the_bound(name):
    fan_in, fan_out = LARGE_FANS
    w, bound = large_draw(name, 1)
    largest = np.abs(w).max()
    assert largest <= bound * (1 + 1e-6), (
        f"{name}({fan_in}, {fan_out}) has a value of magnitude {largest:.6g}, beyond the bound {bound:.6g}"
    )
    assert largest >= 0.999 * bound, (
        f"{name}({fan_in}, {fan_out}): the largest magnitude over 240,000 draws is {largest:.6g}, "
        f"but values should reach the bound {bound:.6g}"
    )
    std = w.std()
    assert abs(std - bound / math.sqrt(3)) <= 0.01 * bound / math.sqrt(3), (
        f"{name}({fan_in}, {fan_out}): std {std:.6g}, expected about bound/sqrt(3) = {bound / math.sqrt(3):.6g}"
    )
    assert abs(w.mean()) <= 0.01 * bound, f"{name}: mean {w.mean():.4g} should be about 0 (the draw is symmetric)"


@pytest.mark.parametrize("name", ["xavier_normal", "kaiming_normal"])
def test_normal_large_draw_has_the_documented_std(name):
    fan_in, fan_out = LARGE_FANS
    w, std = large_draw(name, 2)
    assert abs(w.std() - std) <= 0.01 * std, (
        f"{name}({fan_in}, {fan_out}): empirical std {w.std():.6g}, expected {std:.6g} "
        f"(needle_api.md section 3.3)"
    )
    assert abs(w.mean()) <= 0.01 * std, f"{name}: mean {w.mean():.4g} should be about 0"


@pytest.mark.parametrize("gain", [0.5, 3.0])
@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal"])
def test_gain_scales_the_values(name, gain):
    unit = seeded_init(name, 4, 3, 4).numpy()
    scaled = seeded_init(name, 4, 3, 4, gain=gain)
    assert_close(scaled, (unit.astype(np.float64) * gain).astype(np.float32),
                 what=f"{name}(3, 4, gain={gain}) against gain * {name}(3, 4) under the same seed",
                 hint="multiply the bound or std by gain")


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_rejects_other_nonlinearities(name, nonlinearity):
    try:
        INITIALIZERS[name][0](3, 5, nonlinearity=nonlinearity)
    except ValueError:
        return
    pytest.fail(
        f"{name}(3, 5, nonlinearity={nonlinearity!r}) should raise ValueError: only 'relu' "
        f"is supported, and a silently wrong gain would go unnoticed",
        pytrace=False,
    )


@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_accepts_relu_explicitly(name):
    got = seeded_init(name, 0, 2, 5, nonlinearity="relu")
    assert_close(got, init_expected(name, 0, 2, 5, {}), what=f"{name}(2, 5, nonlinearity='relu')")
