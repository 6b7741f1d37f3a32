"""The kit's proof that the reference's initializers are right: the
documented formula (docs/API.md section 4.3) on the one draw, computed
with NumPy under the same seed (tests/numpy_reference.py), on the cases of
the public and hidden suites; the one-draw RNG contract; the bound and std
of large draws; gain; the keyword arguments; nonlinearity."""
import math

import numpy as np
import pytest

import needle as ndl
from tests.numpy_checks import assert_close
from tests.numpy_reference import INITIALIZERS, init_case_ids, init_draw, init_expected, rng_state_equal, seeded_init
from tests_hidden.test_initializers import VALUE_CASES as HIDDEN_CASES
from tests_public.test_initializers import VALUE_CASES as PUBLIC_CASES

NAMES = list(INITIALIZERS)
VALUE_CASES = PUBLIC_CASES + HIDDEN_CASES + [
    (name, seed, fan_in, fan_out, {}) for name in NAMES for seed, fan_in, fan_out in [(31, 5, 3), (47, 64, 40)]
]


@pytest.mark.parametrize("name, seed, fan_in, fan_out, kwargs", VALUE_CASES, ids=init_case_ids(VALUE_CASES))
def test_seeded_values_follow_the_formula_on_one_draw(name, seed, fan_in, fan_out, kwargs):
    got = seeded_init(name, seed, fan_in, fan_out, **kwargs)
    assert isinstance(got, ndl.Tensor)
    assert_close(got, init_expected(name, seed, fan_in, fan_out, kwargs),
                 what=f"{name}({fan_in}, {fan_out}, {kwargs}) under np.random.seed({seed})")


KWARGS_CASES = [(name, dtype, requires_grad, extra) for name in NAMES
                for dtype, requires_grad in [("float64", True), ("float32", True), ("float64", False)]
                for extra in [{}, {"device": ndl.cpu()}]]


@pytest.mark.parametrize("name, dtype, requires_grad, extra", KWARGS_CASES)
def test_keyword_arguments_pass_through(name, dtype, requires_grad, extra):
    got = seeded_init(name, 37, 3, 6, dtype=dtype, requires_grad=requires_grad, **extra)
    assert_close(got, init_expected(name, 37, 3, 6, {}, dtype=dtype), what=f"{name}(3, 6, dtype={dtype!r})")
    assert got.requires_grad is requires_grad


@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_explicit_relu(name):
    got = seeded_init(name, 41, 4, 9, nonlinearity="relu", dtype="float64")
    assert_close(got, init_expected(name, 41, 4, 9, {}, dtype="float64"), what=f"{name}(nonlinearity='relu')")


@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal"])
@pytest.mark.parametrize("gain", [0.5, 1.3, 3.0])
def test_gain_scales_the_values(name, gain):
    unit = seeded_init(name, 4, 3, 4).numpy()
    scaled = seeded_init(name, 4, 3, 4, gain=gain)
    assert_close(scaled, (unit.astype(np.float64) * gain).astype(np.float32), what=f"{name}(gain={gain})")


@pytest.mark.parametrize("shape", [(5, 3), (7, 2), (2, 7)], ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("name", NAMES)
def test_makes_exactly_one_draw(name, shape):
    kind = INITIALIZERS[name][1](*shape)[0]
    np.random.seed(23)
    init_draw(kind, shape)
    expected_state, expected_next = np.random.get_state(), np.random.rand(3)
    seeded_init(name, 23, *shape)
    assert rng_state_equal(np.random.get_state(), expected_state), f"{name}{shape} made other draws"
    assert_close(np.random.rand(3), expected_next, what=f"the next draw after {name}{shape}")


@pytest.mark.parametrize("name", NAMES)
def test_large_draw_has_the_documented_bound_or_std(name):
    fan_in, fan_out = 400, 600
    kind, _, scale = INITIALIZERS[name][1](fan_in, fan_out)
    w = seeded_init(name, 1, fan_in, fan_out).numpy().astype(np.float64)
    std = scale / math.sqrt(3) if kind == "rand" else scale
    if kind == "rand":
        assert np.abs(w).max() <= scale * (1 + 1e-6) and np.abs(w).max() >= 0.999 * scale
    assert abs(w.std() - std) <= 0.01 * std, f"{name}: std {w.std():.6g}, expected about {std:.6g}"
    assert abs(w.mean()) <= 0.01 * scale, f"{name}: mean {w.mean():.4g}"


@pytest.mark.parametrize("nonlinearity", ["tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("name", ["kaiming_uniform", "kaiming_normal"])
def test_kaiming_rejects_other_nonlinearities(name, nonlinearity):
    with pytest.raises(ValueError):
        INITIALIZERS[name][0](3, 5, nonlinearity=nonlinearity)
