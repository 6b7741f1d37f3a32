"""The kit's proof that the reference's ``softmax_loss`` is right (question
"softmax_loss"): its value against NumPy's (float64, shifted by the row
maximum: tests/numpy_reference.py ``softmax_loss_value``), its gradient
against central differences and the closed form (softmax(Z) - y_one_hot) /
batch, on the cases of the public and hidden suites, with their inputs made
by the box's makers under the students' salt 0 and others; and the course's
published value 2.7291998 on the real MNIST training labels.
"""
import math

import numpy as np
import pytest

import needle as ndl
from grader.box import inputs
from grader.box.inputs import mnist_paths
from grader.box.softmax_loss import mnist_shaped_labels, one_hot, single_value
from simple_ml import softmax_loss
from tests.numpy_checks import TOL, assert_close, check_gradient
from tests.numpy_reference import np_softmax, read_idx, softmax_loss_value

SALTS = [0, 12345]


@pytest.fixture
def salt(request):
    """Runs the test's input makers under ``request.param`` as the salt."""
    inputs.SALT, before = request.param, inputs.SALT
    yield request.param
    inputs.SALT = before


def loss_of(Z, y, k):
    loss = softmax_loss(ndl.Tensor(Z), ndl.Tensor(one_hot(y, k, Z.dtype)))
    assert isinstance(loss, ndl.Tensor) and loss.numpy().size == 1
    return single_value(loss)


# (id, batch, classes, seed, scale, shift, dtype): the suites' value cases.
VALUE_CASES = [
    ("public-5x10", 5, 10, 0, 1.0, 0.0, "float32"),
    ("public-3x11", 3, 11, 1, 1.0, 0.0, "float32"),
    ("public-1x2", 1, 2, 2, 1.0, 0.0, "float32"),
    ("public-50x7-scale3", 50, 7, 3, 3.0, 0.0, "float32"),
    ("public-float64-6x4", 6, 4, 7, 1.0, 0.0, "float64"),
    ("public-logits-1e4", 6, 10, 21, 1e4, 0.0, "float32"),
    ("public-logits-minus-1e4", 6, 10, 21, -1e4, 0.0, "float32"),
    ("hidden-7x13", 7, 13, 31, 1.0, 0.0, "float32"),
    ("hidden-2x3", 2, 3, 32, 1.0, 0.0, "float32"),
    ("hidden-64x10-scale5", 64, 10, 33, 5.0, 0.0, "float32"),
    ("hidden-9x2-shifted-by-40", 9, 2, 34, 2.0, 40.0, "float32"),
    ("hidden-25x6-scale0.1", 25, 6, 35, 0.1, 0.0, "float32"),
    ("hidden-logits-3e4", 5, 8, 45, 3e4, 0.0, "float32"),
    ("hidden-logits-minus-5e3", 5, 8, 45, -5e3, 0.0, "float32"),
]


@pytest.mark.parametrize("salt", SALTS, indirect=True)
@pytest.mark.parametrize("m, k, seed, scale, shift, dtype", [c[1:] for c in VALUE_CASES],
                         ids=[c[0] for c in VALUE_CASES])
def test_value_is_the_batch_mean_of_logsumexp_minus_true_logit(salt, m, k, seed, scale, shift, dtype):
    Z, y = inputs.logits_and_labels(m, k, seed, scale, shift, dtype=dtype)
    got = loss_of(Z, y, k)
    assert np.isfinite(got)
    assert_close(got, np.asarray(softmax_loss_value(Z, y), dtype=dtype), tol=TOL[dtype],
                 what=f"softmax_loss of a {m}x{k} {dtype} batch")


@pytest.mark.parametrize("salt", SALTS, indirect=True)
@pytest.mark.parametrize("m, k, fill", [(12, 10, 0.0), (7, 7, 2.5), (10000, 10, 0.0)],
                         ids=["public-zeros-12x10", "hidden-2.5-7x7", "hidden-zeros-10000x10"])
def test_equal_logits_give_log_of_the_class_count(salt, m, k, fill):
    y = inputs.rng(4).integers(0, k, size=m)
    got = loss_of(np.full((m, k), fill, dtype=np.float32), y, k)
    assert_close(got, np.float32(math.log(k)), tol=TOL["float32"], what=f"equal logits over {k} classes")


# (id, batch, classes, seed, scale, dtype): the suites' gradient cases.
GRADIENT_CASES = [
    ("public-16x10", 16, 10, 26, 1.0, "float64"),
    ("public-4x3", 4, 3, 7, 1.0, "float64"),
    ("public-float32-8x5", 8, 5, 11, 1.0, "float32"),
    ("hidden-9x6", 9, 6, 41, 1.5, "float64"),
    ("hidden-3x12", 3, 12, 42, 1.5, "float64"),
    ("hidden-1x5", 1, 5, 43, 1.5, "float64"),
    ("hidden-float32-11x4", 11, 4, 44, 2.0, "float32"),
]


@pytest.mark.parametrize("salt", SALTS, indirect=True)
@pytest.mark.parametrize("m, k, seed, scale, dtype", [c[1:] for c in GRADIENT_CASES],
                         ids=[c[0] for c in GRADIENT_CASES])
def test_gradient_is_softmax_minus_one_hot_over_batch(salt, m, k, seed, scale, dtype):
    Z, y = inputs.logits_and_labels(m, k, seed, scale, dtype=dtype)
    Y = ndl.Tensor(one_hot(y, k, dtype), requires_grad=False)
    if dtype == "float64":
        check_gradient(lambda Z: softmax_loss(Z, Y), ndl.Tensor(Z), seed=seed)
    Zt = ndl.Tensor(Z)
    softmax_loss(Zt, Y).backward()
    assert Zt.grad.dtype == dtype
    assert_close(Zt.grad, ((np_softmax(Z) - one_hot(y, k, np.float64)) / m).astype(dtype), tol=TOL[dtype],
                 what="d softmax_loss / dZ")


@pytest.mark.parametrize("salt", SALTS, indirect=True)
def test_the_suites_large_batches(salt):
    """The public course-style batch (60,000 labels, seed-0 randn logits) and
    the hidden 10,000-label batch."""
    y = mnist_shaped_labels(60000, seed=0)
    inputs.seed_global(0)
    Z = np.random.randn(60000, 10).astype(np.float32)
    assert_close(loss_of(Z, y, 10), np.float32(softmax_loss_value(Z, y)), tol=TOL["float32"], what="60,000 rows")
    y = mnist_shaped_labels(10000, seed=30)
    Z = (inputs.rng(3).standard_normal((10000, 10)) * 1.7).astype(np.float32)
    assert_close(loss_of(Z, y, 10), np.float32(softmax_loss_value(Z, y)), tol=TOL["float32"], what="10,000 rows")


def test_course_value_on_the_mnist_training_labels(mnist_dir):
    """hw1's published check: seed 0, Z = randn(60000, 10) in float32
    against the (byte-exact) training labels gives 2.7291998."""
    y = read_idx(mnist_paths(mnist_dir, "train")[1], 8)
    np.random.seed(0)
    Z = np.random.randn(y.shape[0], 10).astype(np.float32)
    assert_close(loss_of(Z, y, 10), np.float32(2.7291998), tol=TOL["float32"], what="the course's value")
