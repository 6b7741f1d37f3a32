"""Hidden tests, question "initializers": ``needle.init.xavier_uniform``,
``xavier_normal``, ``kaiming_uniform`` and ``kaiming_normal`` under new seeds,
shapes (fan_in != fan_out) and gains.

The RNG contract: each initializer makes exactly one draw from NumPy's legacy
global stream, ``np.random.rand(fan_in, fan_out)`` or
``np.random.randn(fan_in, fan_out)`` (through ``init.rand`` / ``init.randn``),
then scales it.  Each test seeds the global stream, calls the initializer and
hands over what it returned (and where the stream stands after it).
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.initializers import KAIMING, NAMES, XAVIER, by_initializer, case_ids, rng_position, seeded_init
from grader.box.record import check, observe

VALUE_CASES = [
    *[(name, 13, 3, 8, {}) for name in NAMES],
    *[(name, 2024, 9, 2, {}) for name in NAMES],
    *[(name, 99, 1, 6, {}) for name in NAMES],
    ("kaiming_uniform", 5, 12, 20, {}),
    ("kaiming_normal", 5, 20, 12, {}),
    ("xavier_uniform", 17, 5, 11, {"gain": 0.7}),
    ("xavier_uniform", 18, 8, 3, {"gain": 2.5}),
    ("xavier_normal", 19, 6, 10, {"gain": 1.8}),
    ("xavier_normal", 20, 10, 4, {"gain": 0.25}),
]


@pytest.mark.parametrize("name, seed, fan_in, fan_out, kwargs", by_initializer(VALUE_CASES, case_ids(VALUE_CASES)))
def test_seeded_values_under_new_seeds_and_shapes(name, seed, fan_in, fan_out, kwargs):
    """Seeded values for non-square shapes and gains other than 1."""
    got = seeded_init(name, seed, fan_in, fan_out, **kwargs)
    check(got, what=f"{name}({fan_in}, {fan_out}, {kwargs}) under a global seed ({seed})",
          hint="one draw of shape (fan_in, fan_out), scaled by the documented bound or std")


ONE_DRAW_CASES = [(name, fan_in, fan_out) for name in NAMES for fan_in, fan_out in [(7, 2), (2, 7)]]


@pytest.mark.parametrize("name, fan_in, fan_out",
                         by_initializer(ONE_DRAW_CASES, [f"{n}-{i}x{o}" for n, i, o in ONE_DRAW_CASES]))
def test_makes_exactly_one_draw(name, fan_in, fan_out):
    """The global RNG moves by exactly one draw of shape (fan_in, fan_out)."""
    got = seeded_init(name, 23, fan_in, fan_out)
    observe(rng_position(), what=f"NumPy's global RNG position after {name}({fan_in}, {fan_out})",
            hint="make exactly one draw, through init.rand or init.randn")
    # A draw after the initializer continues the stream where one draw left it.
    observe(np.random.rand(3), what=f"the next np.random.rand(3) after {name}({fan_in}, {fan_out})",
            hint="make exactly one draw, through init.rand or init.randn")
    check(got, what=f"{name}({fan_in}, {fan_out}) under a global seed (23)",
          hint="one draw of shape (fan_in, fan_out), scaled by the documented bound or std")


@pytest.mark.parametrize("name", by_initializer([(n,) for n in NAMES], NAMES))
def test_default_result_is_float32(name):
    """The default result is a float32 Tensor of shape (fan_in, fan_out)."""
    got = seeded_init(name, 31, 5, 3)
    observe(isinstance(got, ndl.Tensor), what=f"{name}(5, 3) returns a needle Tensor")
    check(got, what=f"{name}(5, 3) with default keyword arguments", hint="one draw of shape (fan_in, fan_out), scaled by the documented bound or std; pass no dtype of your own")


KWARGS_CASES = [
    (name, dtype, requires_grad)
    for name in NAMES
    for dtype, requires_grad in [("float64", True), ("float32", True), ("float64", False)]
]


@pytest.mark.parametrize(
    "name, dtype, requires_grad",
    by_initializer(KWARGS_CASES, [f"{n}-{d}-requires_grad={r}" for n, d, r in KWARGS_CASES]),
)
def test_keyword_arguments_pass_through(name, dtype, requires_grad):
    """dtype, device and requires_grad reach the created Tensor."""
    got = seeded_init(name, 37, 3, 6, dtype=dtype, device=ndl.cpu(), requires_grad=requires_grad)
    check(got, what=f"{name}(3, 6, dtype={dtype!r}, requires_grad={requires_grad})",
          hint="pass extra keyword arguments on to rand/randn")
    observe(bool(got.requires_grad), what=f"{name}(3, 6, requires_grad={requires_grad}).requires_grad",
            hint="pass requires_grad on to rand/randn")


@pytest.mark.parametrize("name", by_initializer([(n,) for n in KAIMING], KAIMING))
def test_kaiming_with_explicit_relu_and_dtype(name):
    """Kaiming with nonlinearity='relu' given explicitly, next to other keywords."""
    got = seeded_init(name, 41, 4, 9, nonlinearity="relu", dtype="float64")
    check(got, what=f"{name}(4, 9, nonlinearity='relu', dtype='float64')",
          hint="nonlinearity='relu' is the default; pass dtype on to rand/randn")


@pytest.mark.parametrize("name", by_initializer([(n,) for n in XAVIER], XAVIER))
def test_xavier_gain_and_keywords_together(name):
    """Xavier with a gain and a dtype at once."""
    got = seeded_init(name, 43, 7, 3, gain=1.3, dtype="float64", requires_grad=True)
    check(got, what=f"{name}(7, 3, gain=1.3, dtype='float64')",
          hint="multiply the bound or std by gain; pass dtype on to rand/randn")


@pytest.mark.parametrize("name", by_initializer([(n,) for n in NAMES], NAMES))
def test_larger_draw_values(name):
    """Seeded values of a larger, non-square draw."""
    fan_in, fan_out = 64, 40
    got = seeded_init(name, 47, fan_in, fan_out)
    check(got, what=f"{name}({fan_in}, {fan_out}) under a global seed (47)",
          hint="one draw of shape (fan_in, fan_out), scaled by the documented bound or std")


SHAPE_CASES = [(name, fan_in, shape) for name in KAIMING for fan_in, shape in [(10, (5, 2, 6)), (3, (3, 1))]]


@pytest.mark.parametrize("name, fan_in, shape",
                         by_initializer(SHAPE_CASES, [f"{n}-fan_in={i}-shape={'x'.join(map(str, s))}"
                                                      for n, i, s in SHAPE_CASES]))
def test_kaiming_draws_the_given_shape_with_the_fan_in_bound(name, fan_in, shape):
    """With ``shape=``, Kaiming draws once of that shape, scaled by the bound or std of ``fan_in``."""
    got = seeded_init(name, 53, fan_in, 4, shape=shape)
    observe(rng_position(), what=f"NumPy's global RNG position after {name}({fan_in}, 4, shape={shape})",
            hint="make exactly one draw, of the given shape")
    check(got, what=f"{name}({fan_in}, 4, shape={shape}) under a global seed (53)",
          hint="draw shape (not (fan_in, fan_out)) when it is given; the bound or std still comes from fan_in")
