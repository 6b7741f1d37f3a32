"""Question "initializers": ``needle.init.xavier_uniform``, ``xavier_normal``,
``kaiming_uniform``, ``kaiming_normal``.

The RNG contract (docs/API.md section 4.1): each initializer makes exactly one
draw from NumPy's legacy global stream, ``np.random.rand(fan_in, fan_out)`` or
``np.random.randn(fan_in, fan_out)`` (through ``init.rand`` / ``init.randn``),
then scales it by the documented bound or std (docs/API.md section 4.3).

Each test seeds the global stream, calls the initializer and hands over what
it returned (and, for the one-draw contract, where the stream stands after
it): the grader compares them with the reference's.
"""
import numpy as np
import pytest

import needle as ndl
from grader.box.initializers import (DRAW, KAIMING, NAMES, NORMAL, UNIFORM, XAVIER, by_initializer, case_ids,
                                     rng_position, seeded_init)
from grader.box.record import check, observe

FORMULA_HINT = ("draw once with init.{draw}(fan_in, fan_out, ...) (np.random.{draw}), with the bound or std of "
                "docs/API.md section 4.3")

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


@pytest.mark.parametrize("name, seed, fan_in, fan_out, kwargs", by_initializer(VALUE_CASES, case_ids(VALUE_CASES)))
def test_seeded_values_follow_the_formula_on_one_draw(name, seed, fan_in, fan_out, kwargs):
    got = seeded_init(name, seed, fan_in, fan_out, **kwargs)
    check(got, what=f"{name}({fan_in}, {fan_out}, {kwargs}) under a global seed ({seed})",
          hint=FORMULA_HINT.format(draw=DRAW[name]))


@pytest.mark.parametrize("name", by_initializer([(n,) for n in NAMES], NAMES))
def test_default_result_is_a_float32_tensor_of_shape_fan_in_fan_out(name):
    got = seeded_init(name, 0, 6, 4)
    observe(isinstance(got, ndl.Tensor), what=f"{name}(6, 4) returns a needle Tensor",
            hint=f"return the Tensor that init.{DRAW[name]} makes")
    check(got, what=f"{name}(6, 4) with default keyword arguments",
          hint=f"one init.{DRAW[name]} draw of shape (fan_in, fan_out) = (6, 4), scaled by the documented bound or "
          "std; pass no dtype of your own")


@pytest.mark.parametrize("requires_grad", [True, False])
@pytest.mark.parametrize("name", by_initializer([(n,) for n in NAMES], NAMES))
def test_dtype_and_requires_grad_pass_through(name, requires_grad):
    got = seeded_init(name, 5, 4, 3, dtype="float64", requires_grad=requires_grad)
    check(got, what=f"{name}(4, 3, dtype='float64')",
          hint="pass extra keyword arguments (dtype, device, requires_grad) on to rand/randn")
    observe(bool(got.requires_grad), what=f"{name}(4, 3, requires_grad={requires_grad}).requires_grad",
            hint="pass requires_grad on to rand/randn")


@pytest.mark.parametrize("name", by_initializer([(n,) for n in NAMES], NAMES))
def test_makes_exactly_one_draw_of_shape_fan_in_fan_out(name):
    got = seeded_init(name, 11, 5, 3)
    observe(rng_position(), what=f"NumPy's global RNG position (and cached-Gaussian flag) after {name}(5, 3)",
            hint=f"make exactly one np.random.{DRAW[name]}(5, 3) draw (through init.{DRAW[name]}), no other")
    observe(np.random.rand(3), what=f"the next np.random.rand(3) after {name}(5, 3)",
            hint=f"make exactly one np.random.{DRAW[name]}(5, 3) draw (through init.{DRAW[name]}), no other")
    check(got, what=f"{name}(5, 3) under a global seed (11)", hint=FORMULA_HINT.format(draw=DRAW[name]))


LARGE_FANS = (400, 600)


@pytest.mark.parametrize("name", by_initializer([(n,) for n in UNIFORM], UNIFORM))
def test_uniform_large_draw_fills_the_bound(name):
    fan_in, fan_out = LARGE_FANS
    check(seeded_init(name, 1, fan_in, fan_out), what=f"{name}({fan_in}, {fan_out}) under a global seed (1)",
          hint="uniform over [-bound, bound): rand's low and high (or draw * 2 * bound - bound), with the bound "
          "of docs/API.md section 4.3")


@pytest.mark.parametrize("name", by_initializer([(n,) for n in NORMAL], NORMAL))
def test_normal_large_draw_has_the_documented_std(name):
    fan_in, fan_out = LARGE_FANS
    check(seeded_init(name, 2, fan_in, fan_out), what=f"{name}({fan_in}, {fan_out}) under a global seed (2)",
          hint="mean 0 and the std of docs/API.md section 4.3 (randn's std, not its variance)")


@pytest.mark.parametrize("gain", [0.5, 3.0])
@pytest.mark.parametrize("name", by_initializer([(n,) for n in XAVIER], XAVIER))
def test_gain_scales_the_values(name, gain):
    check(seeded_init(name, 4, 3, 4), what=f"{name}(3, 4) under a global seed (4)",
          hint=FORMULA_HINT.format(draw=DRAW[name]))
    check(seeded_init(name, 4, 3, 4, gain=gain), what=f"{name}(3, 4, gain={gain}) under the same seed",
          hint="multiply the bound or std by gain")


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("name", by_initializer([(n,) for n in KAIMING], KAIMING))
def test_kaiming_rejects_other_nonlinearities(name, nonlinearity):
    try:
        getattr(ndl.init, name)(3, 5, nonlinearity=nonlinearity)
    except ValueError:
        return
    pytest.fail(
        f"{name}(3, 5, nonlinearity={nonlinearity!r}) should raise ValueError: only 'relu' "
        f"is supported, and a silently wrong gain would go unnoticed",
        pytrace=False,
    )


@pytest.mark.parametrize("name", by_initializer([(n,) for n in KAIMING], KAIMING))
def test_kaiming_accepts_relu_explicitly(name):
    got = seeded_init(name, 0, 2, 5, nonlinearity="relu")
    check(got, what=f"{name}(2, 5, nonlinearity='relu') under a global seed (0)",
          hint="nonlinearity='relu' is the default: the same values as without it")


SHAPE_CASES = [(name, 36, (3, 3, 4, 8)) for name in KAIMING] + [(name, 6, (6,)) for name in KAIMING]


@pytest.mark.parametrize("name, fan_in, shape",
                         by_initializer(SHAPE_CASES, [f"{n}-fan_in={i}-shape={'x'.join(map(str, s))}"
                                                      for n, i, s in SHAPE_CASES]))
def test_kaiming_with_shape_draws_that_shape_with_the_fan_in_bound(name, fan_in, shape):
    # A convolution's kernel: fan_in = 3 * 3 * 4 input values per output, drawn as one (3, 3, 4, 8) array.
    got = seeded_init(name, 12, fan_in, 8, shape=shape)
    observe(rng_position(), what=f"NumPy's global RNG position after {name}({fan_in}, 8, shape={shape})",
            hint=f"make exactly one np.random.{DRAW[name]}(*shape) draw when shape is given")
    check(got, what=f"{name}({fan_in}, 8, shape={shape}) under a global seed (12)",
          hint=f"init.{DRAW[name]}(*shape, ...) when shape is given, instead of (fan_in, fan_out); the bound or std "
          "still comes from fan_in")
